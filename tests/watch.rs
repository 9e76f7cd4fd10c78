//! `tracelab run --watch` through the binary: it runs, says what it
//! watches, runs again when a module the scenario imports changes, and
//! Ctrl-C ends it with the last run's exit code. Each step waits for the
//! line that announces it (generous deadline), never for a fixed time.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use rustix::process::{Pid, Signal, kill_process};

const MAIN: &str = r#"
import "lib/shape" as shape;
proxy("front-proxy", #{ routes: [route("/*", #{ to: "service1", operation: "checkAvailability" })] });
service("service1", #{ routes: [route("/trace/1", #{
    calls: [request("service2", "/trace/2", #{ operation: "checkStock" })] })] });
service("service2", #{ routes: [route("/trace/2")] });
traffic("sandbox", #{ requests: 2, path: "/trace/1" });
expect_traces("sandbox", shape::chain("service2"), #{ mode: "loose" });
"#;

/// The chain, with service2's span of `kind` (the sandbox's is a server).
fn shape(kind: &str) -> String {
    format!(
        r#"fn chain(s) {{
    span("front-proxy", "checkAvailability", [span("service2", "checkStock", #{{ kind: "{kind}" }})])
}}
"#
    )
}

/// The next stderr line containing `wanted` (panics after a minute).
fn wait_for(lines: &mpsc::Receiver<String>, wanted: &str, seen: &mut Vec<String>) -> String {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no {wanted:?} in:\n{}", seen.join("\n")));
        seen.push(line.clone());
        if line.contains(wanted) {
            return line;
        }
    }
}

#[test]
fn watch_reruns_when_an_imported_module_changes_and_ctrl_c_exits_with_the_last_runs_code() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.rhai");
    std::fs::write(&main, MAIN).unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    let module = dir.path().join("lib/shape.rhai");
    // The module's function ignores its argument: the file itself decides.
    std::fs::write(&module, shape("server")).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args(["run", "--watch", "-q", path_str(&main)])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("TRACELAB_JAEGER_BIN")
        .env_remove("TRACELAB_JAEGER_URL")
        .env_remove("TRACELAB_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (send, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();

    let first = wait_for(&lines, "tracelab: watching", &mut seen);
    assert_eq!(
        first,
        "tracelab: watching 2 files for changes (exit 0 so far; Ctrl-C ends)"
    );
    // A kind no span has: the run fails (a misspelt service would be
    // refused at load, exit 2, before any judging).
    std::fs::write(&module, shape("client")).unwrap();
    let changed = wait_for(&lines, "changed: running again", &mut seen);
    assert!(changed.contains("shape.rhai"), "{changed}");
    let second = wait_for(&lines, "tracelab: watching", &mut seen);
    assert_eq!(
        second, "tracelab: watching 2 files for changes (exit 1 so far; Ctrl-C ends)",
        "the wrong kind fails the second run"
    );

    kill_process(Pid::from_child(&child), Signal::INT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "the last run's code");
    let text = stdout(&out);
    assert_eq!(text.matches("PASS").count(), 1, "{text}");
    assert_eq!(text.matches("FAIL").count(), 1, "{text}");
}
