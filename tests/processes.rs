//! External programs as components, through the real binary: what a
//! program is told, that it is stopped with SIGTERM (then SIGKILL), and the
//! infrastructure errors (exit 3, with its last output) when it will not
//! start, never listens, or dies during the run.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// A Python program (standard library only) that writes what tracelab told
/// it to `$OUT/env.json`, notes SIGTERM in `$OUT/stopped`, and answers 200.
const RECORDER: &str = r#"
import json, signal, sys
out = os.environ["OUT"]
keep = {k: v for k, v in os.environ.items() if k == "PORT" or k.startswith(("OTEL_", "TRACELAB_"))}
keep["cwd"] = os.getcwd()
json.dump(keep, open(os.path.join(out, "env.json"), "w"))
open(os.path.join(out, "pid"), "w").write(str(os.getpid()))
def stop(*_):
    open(os.path.join(out, "stopped"), "w").write("SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
"#;

fn scenario_with(process_options: &str, out: &Path) -> String {
    format!(
        r#"
proxy("edge", #{{ routes: [route("/*", #{{ to: "recorder" }})] }});
process("recorder", #{{ cmd: ["python3", "recorder.py"], env: #{{ OUT: {out:?} }}, {process_options} }});
service("peer-2", #{{ routes: [route("/")] }});
traffic("t", #{{ requests: 2, path: "/" }});
// The recorder writes what it was told and traces nothing.
integrity(#{{ reported: false }});
"#,
        out = out.display().to_string()
    )
}

/// Run the binary on `text` (with `recorder.py` beside it) and an inherited
/// OTEL_ variable that must not reach the program.
fn run_recorder(
    process_options: &str,
) -> (tempfile::TempDir, std::process::Output, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let (dir, path) =
        scratch_scenario("recorder.rhai", &scenario_with(process_options, out.path()));
    std::fs::write(
        dir.path().join("recorder.py"),
        python_answering_200(RECORDER),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args(["run", "-v", path_str(&path)])
        .env("NO_COLOR", "1")
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://wrong.example:1",
        )
        .output()
        .unwrap();
    (dir, output, out)
}

#[test]
fn a_program_is_told_its_port_the_collector_and_every_component() {
    let (dir, out, files) = run_recorder("propagation: [\"w3c\", \"b3\"], sampling: 0.25");
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}{}", stderr(&out));
    let env: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(files.path().join("env.json")).unwrap())
            .unwrap();
    let get = |k: &str| env[k].as_str().unwrap_or_else(|| panic!("no {k} in {env}"));

    let port = get("PORT");
    assert!(
        report.contains(&format!("recorder  process  http://127.0.0.1:{port}")),
        "{report}"
    );
    assert_eq!(get("OTEL_SERVICE_NAME"), "recorder");
    let base = get("OTEL_EXPORTER_OTLP_ENDPOINT");
    assert!(
        report.contains(&format!("otlp {base}/v1/traces")),
        "{base} in {report}"
    );
    assert_eq!(
        get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        format!("{base}/v1/traces"),
        "the inherited value is replaced"
    );
    assert_eq!(get("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf");
    assert_eq!(get("OTEL_PROPAGATORS"), "tracecontext,b3multi");
    assert_eq!(get("OTEL_TRACES_SAMPLER_ARG"), "0.25");
    let peer = get("TRACELAB_URL_PEER_2");
    let peer_port = peer.rsplit(':').next().unwrap();
    assert!(
        report.contains(&format!("peer-2    service  http://127.0.0.1:{peer_port}")),
        "{peer} in {report}"
    );
    assert!(get("TRACELAB_URL_EDGE").starts_with("http://127.0.0.1:"));
    let cwd = std::fs::canonicalize(get("cwd")).unwrap();
    assert_eq!(cwd, std::fs::canonicalize(dir.path()).unwrap());
    assert!(report.contains("2 requests, 2×200"), "{report}");
}

#[cfg(unix)]
#[test]
fn a_program_is_stopped_with_sigterm_when_the_run_ends() {
    let (_dir, out, files) = run_recorder("stop_timeout: \"5s\"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(files.path().join("stopped")).unwrap(),
        "SIGTERM"
    );
    let pid: i32 = std::fs::read_to_string(files.path().join("pid"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(!alive(pid), "process {pid} still runs");
}

#[cfg(unix)]
fn alive(pid: i32) -> bool {
    // A zombie would still answer kill(0); tracelab reaps its children.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[cfg(unix)]
#[test]
fn a_program_that_ignores_sigterm_is_killed_after_its_stop_timeout() {
    let (dir, path) = scratch_scenario(
        "stubborn.rhai",
        r#"
process("stubborn", #{ cmd: ["python3", "stubborn.py"], stop_timeout: "300ms" });
traffic("t", #{ path: "/" });
// It answers 501 and sends no spans: say so, or the run has nothing to judge.
expect_responses("t", #{ status: 501 });
integrity("t", #{ judged: false });"#,
    );
    std::fs::write(
        dir.path().join("stubborn.py"),
        r#"
import http.server, os, signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open("pid", "w").write(str(os.getpid()))
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), http.server.BaseHTTPRequestHandler).serve_forever()
"#,
    )
    .unwrap();
    let out = tracelab(&["-q", path_str(&path)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let pid: i32 = std::fs::read_to_string(dir.path().join("pid"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(!alive(pid), "process {pid} still runs");
}

fn infra_error(script: &str) -> String {
    let (_dir, path) = scratch_scenario("p.rhai", script);
    let out = tracelab(&["-q", path_str(&path)]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

#[test]
fn a_program_that_exits_before_listening_is_exit_3_with_its_output() {
    let err = infra_error(
        r#"process("api", #{ cmd: ["python3", "-c", "import sys; print('loading config'); sys.exit('DATABASE_URL is not set')"] });
traffic("t", #{ path: "/" });"#,
    );
    assert!(
        err.contains("process api exited (exit code 1) before listening on port"),
        "{err}"
    );
    assert!(err.contains("| loading config"), "{err}");
    assert!(err.contains("| DATABASE_URL is not set"), "{err}");
}

#[test]
fn a_program_that_never_listens_is_exit_3_after_its_ready_timeout() {
    let err = infra_error(
        r#"process("api", #{ cmd: ["python3", "-c", "import time; print('warming up', flush=True); time.sleep(60)"], ready_timeout: "1s" });
traffic("t", #{ path: "/" });"#,
    );
    assert!(err.contains("process api did not listen on port"), "{err}");
    assert!(err.contains("within 1 s"), "{err}");
    assert!(err.contains("| warming up"), "{err}");
}

#[test]
fn a_program_that_is_not_installed_is_exit_3() {
    let err = infra_error(
        r#"process("api", #{ cmd: ["tracelab-no-such-program"] });
traffic("t", #{ path: "/" });"#,
    );
    assert!(
        err.contains("process api: cannot start \"tracelab-no-such-program\": not found"),
        "{err}"
    );
}

#[test]
fn a_program_that_dies_during_the_run_is_exit_3_with_its_output() {
    let err = infra_error(
        r#"process("api", #{ cmd: ["python3", "-c", `
import http.server, os, sys
class Die(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print('panic: nil map', file=sys.stderr, flush=True)
        os._exit(2)
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), Die).serve_forever()
`] });
traffic("t", #{ path: "/" });"#,
    );
    assert!(
        err.contains("process api exited during the run (exit code 2)"),
        "{err}"
    );
    assert!(err.contains("| panic: nil map"), "{err}");
}
