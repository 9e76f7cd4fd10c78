//! Limits that hold from a script's first byte, through the binary: only
//! regular files are read (never `/dev/zero` or a FIFO that blocks), at
//! most `--max-script-size` (4 MiB by default, also in tracelab.toml), and
//! a byte-order mark is no error.

mod common;

use std::time::Duration;

use common::*;

const LAB: &str = r#"proxy("front", #{ routes: [route("/*", #{ to: "api" })] });
service("api", #{ routes: [route("/*")] });
traffic("t", #{ requests: 2, path: "/x" });
"#;

#[cfg(unix)]
#[test]
fn dev_zero_and_a_fifo_are_refused_at_once_with_exit_2() {
    let out = tracelab(&["check", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(
            "/dev/zero: the file is a character device, not a regular file: a scenario is a .rhai file"
        ),
        "{}",
        stderr(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.rhai");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // Reading a FIFO would wait for a writer forever: run it on a thread
    // and give up waiting long before that.
    let path = fifo.clone();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(tracelab(&["run", path_str(&path)]));
    });
    let out = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("tracelab run on a FIFO returns instead of waiting for a writer");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("pipe.rhai: the file is a FIFO (named pipe), not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_script_past_the_size_limit_is_refused_and_the_flag_or_the_config_raises_it() {
    // 5 MiB of comment after a valid scenario.
    let big = format!("{LAB}//{}\n", "x".repeat(5 << 20));
    let (dir, path) = scratch_scenario("big.rhai", &big);
    let out = tracelab(&["check", path_str(&path)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "big.rhai: the file goes past the script size limit of 4.0 MiB: the scenario and its \
             modules together may hold that much (raise it with --max-script-size or \
             [scenario] max_script_size in tracelab.toml)"
        ),
        "{}",
        stderr(&out)
    );
    let out = tracelab(&["check", "--max-script-size", "6MiB", path_str(&path)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let config = dir.path().join("tracelab.toml");
    std::fs::write(&config, "[scenario]\nmax_script_size = \"6MiB\"\n").unwrap();
    let out = tracelab(&["check", "--config", path_str(&config), path_str(&path)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A small limit holds for run too, before anything starts.
    let out = tracelab(&["run", "--max-script-size", "100B", path_str(&path)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the script size limit of 100 B"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_module_counts_against_the_same_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lib.rhai"),
        format!("fn x() {{ 1 }}\n//{}\n", "y".repeat(300)),
    )
    .unwrap();
    let main = dir.path().join("main.rhai");
    std::fs::write(&main, format!("import \"lib\" as lib;\n{LAB}")).unwrap();
    let out = tracelab(&["check", "--max-script-size", "400B", path_str(&main)]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("main.rhai:1:8: the module "), "{err}");
    assert!(
        err.contains("lib.rhai goes past the script size limit of 400 B"),
        "{err}"
    );
}

#[test]
fn a_script_that_starts_with_a_byte_order_mark_runs() {
    let (_dir, path) = scratch_scenario("bom.rhai", &format!("\u{feff}{LAB}"));
    let out = tracelab(&["run", path_str(&path)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
