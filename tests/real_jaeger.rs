//! tracelab against a real Jaeger v2 it starts itself (`--jaeger-bin`):
//! every shipped scenario passes there too, and the started Jaeger never
//! outlives the run, whether it ends, fails or is interrupted.
//!
//! These tests need the binary scripts/install-jaeger.sh builds; without it
//! they fail unless TRACELAB_SKIP_JAEGER=1 (see `common::jaeger_bin`).
//! Scenarios that start the Flask example app also need its Python packages
//! (`common::flask_example_ready`), or TRACELAB_SKIP_PYTHON=1 to skip them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{jaeger_bin, path_str, root, stderr, stdout, tracelab};
use tracelab::backend::BackendChoice;
use tracelab::backend::jaeger_process::JaegerSettings;
use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};

#[tokio::test]
async fn every_scenario_in_the_scenarios_folder_passes_on_a_real_jaeger_v2() {
    let Some(bin) = jaeger_bin() else { return };
    let mut settings = RunSettings::embedded();
    settings.backend = BackendChoice::JaegerBinary(JaegerSettings::new(bin));
    settings.wait.timeout = Duration::from_secs(30);
    let backend = start_backend(&settings)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(backend.kind(), "jaeger");
    let mut failed = Vec::new();
    for file in common::scenario_files() {
        let scenario = tracelab::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        if (common::uses_flask_example(&scenario) || !scenario.targets.is_empty())
            && !common::flask_example_ready(&format!("{} on Jaeger", file.display()))
        {
            continue;
        }
        // A system tested from outside exports to the same Jaeger.
        let (_systems, moved) = common::shop::start_targets(&scenario, &backend.otlp_traces_url());
        let mut settings = settings.clone();
        settings.targets = moved;
        let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(report.collector.kind, "jaeger");
        if !report.passed {
            failed.push(tracelab::report::human::render(
                &tracelab::report::RunReport::new(vec![report]),
                tracelab::report::human::Verbosity::Quiet,
            ));
        }
    }
    backend.stop().await;
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// `query http://127.0.0.1:PORT` from the report's collector line.
fn query_port(report: &str) -> u16 {
    let after = report
        .split("query http://127.0.0.1:")
        .nth(1)
        .unwrap_or_else(|| panic!("no query URL in {report}"));
    after[..after.find(' ').unwrap()].parse().unwrap()
}

#[test]
fn jaeger_bin_runs_the_sandbox_on_jaeger_and_stops_it_afterwards() {
    let Some(bin) = jaeger_bin() else { return };
    let out = tracelab(&[
        "run",
        "--jaeger-bin",
        path_str(&bin),
        "scenarios/jaeger.rhai",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(
        text.contains("collector  jaeger query http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("PASS"), "{text}");
    let port = query_port(&text);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "Jaeger still answers on {port} after the run"
    );
}

#[test]
fn the_jaeger_bin_environment_variable_works_like_the_flag() {
    let Some(bin) = jaeger_bin() else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args(["run", "-q", "scenarios/jaeger.rhai"])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env("TRACELAB_JAEGER_BIN", &bin)
        .env_remove("TRACELAB_JAEGER_URL")
        .env_remove("TRACELAB_OTLP_ENDPOINT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_missing_jaeger_binary_exits_3_saying_how_to_build_one() {
    let out = tracelab(&[
        "run",
        "--jaeger-bin",
        "/nonexistent/jaeger",
        "scenarios/jaeger.rhai",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("/nonexistent/jaeger does not exist"), "{err}");
    assert!(err.contains("scripts/install-jaeger.sh"), "{err}");
}

fn executable_script(dir: &Path, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("jaeger");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_jaeger_that_crashes_at_start_exits_3_with_the_end_of_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let fake = executable_script(
        dir.path(),
        "#!/bin/sh\necho 'Error: failed to build pipelines: storage not found'\nexit 1\n",
    );
    let out = tracelab(&[
        "run",
        "--jaeger-bin",
        path_str(&fake),
        "scenarios/jaeger.rhai",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("Jaeger exited during start-up"), "{err}");
    assert!(
        err.contains("Error: failed to build pipelines: storage not found"),
        "{err}"
    );
}

/// Pids of the direct children of `pid` (Linux /proc).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return vec![];
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.contains(") Z "))
        .unwrap_or(false)
}

/// Every `endpoint: 127.0.0.1:PORT` in the config a started Jaeger runs with.
fn jaeger_ports(jaeger: u32) -> Vec<u16> {
    let cmdline = std::fs::read_to_string(format!("/proc/{jaeger}/cmdline")).unwrap_or_default();
    let Some(config) = cmdline.split('\0').skip_while(|a| *a != "--config").nth(1) else {
        return vec![];
    };
    // Its TCP listeners: the agent's thrift_compact and thrift_binary are UDP.
    let text = std::fs::read_to_string(config).unwrap_or_default();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            !matches!(
                i.checked_sub(1).map(|p| lines[p]),
                Some("thrift_compact:" | "thrift_binary:")
            )
        })
        .filter_map(|(_, l)| l.strip_prefix("endpoint: 127.0.0.1:"))
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A very long run on a started Jaeger, and that Jaeger's pid.
fn start_a_long_run(
    bin: &Path,
    after_jaeger_listens: bool,
) -> (std::process::Child, u32, tempfile::TempDir) {
    let long = common::sandbox_with("requests: 10,", "requests: 1000000,");
    let (dir, scenario) = common::scratch_scenario("long.rhai", &long);
    let child = Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args([
            "run",
            "-q",
            "--jaeger-bin",
            path_str(bin),
            path_str(&scenario),
        ])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until tracelab has started Jaeger (its only child process).
    let deadline = Instant::now() + Duration::from_secs(30);
    let jaeger = loop {
        if let Some(&pid) = children(child.id()).first() {
            break pid;
        }
        assert!(Instant::now() < deadline, "tracelab never started Jaeger");
        std::thread::sleep(Duration::from_millis(20));
    };
    if after_jaeger_listens {
        loop {
            let ports = jaeger_ports(jaeger);
            let listening = ports.len() == 8
                && ports
                    .iter()
                    .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok());
            if listening {
                break;
            }
            assert!(Instant::now() < deadline, "Jaeger never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    (child, jaeger, dir)
}

/// Interrupt a long run (at once, or once Jaeger listens on every port),
/// and check both tracelab and Jaeger exit.
fn interrupt_a_long_run(after_jaeger_listens: bool) {
    let Some(bin) = jaeger_bin() else { return };
    let (child, jaeger, _dir) = start_a_long_run(&bin, after_jaeger_listens);
    let signalled = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"));
    assert!(
        !is_running(jaeger),
        "Jaeger (pid {jaeger}) outlived tracelab"
    );
}

#[test]
fn an_interrupt_while_jaeger_starts_kills_it_and_exits_130() {
    interrupt_a_long_run(false);
}

#[test]
fn an_interrupt_during_the_run_stops_the_started_jaeger_and_exits_130() {
    interrupt_a_long_run(true);
}

/// Wait until some port of the started Jaeger lists the sandbox's front
/// proxy among its services: traffic is flowing.
fn wait_for_spans(jaeger: u32) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for port in jaeger_ports(jaeger) {
            let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.write_all(b"GET /api/services HTTP/1.0\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.contains("\"front-proxy\"") {
                return;
            }
        }
        assert!(Instant::now() < deadline, "no spans reached Jaeger");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_jaeger_that_dies_during_the_run_exits_3_with_the_end_of_its_log() {
    let Some(bin) = jaeger_bin() else { return };
    let (child, jaeger, _dir) = start_a_long_run(&bin, true);
    wait_for_spans(jaeger);
    let killed = Command::new("kill")
        .args(["-KILL", &jaeger.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("Jaeger exited (signal: 9"), "{err}");
    assert!(err.contains("Everything is ready"), "the log tail: {err}");
}
