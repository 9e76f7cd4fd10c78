//! `tracelab up` as a process, on free ports: it prints where the front
//! proxy and the viewer listen, a request through the front proxy becomes a
//! 4-span trace in the query API and the viewer, SIGTERM or Ctrl-C stops it
//! cleanly with every span flushed, and a taken port is exit 3.

mod common;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tracelab::jaeger::JaegerClient;
use tracelab::jaeger::client::TraceQuery;

struct Up {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// Everything printed so far.
    printed: String,
    try_url: String,
    viewer_url: String,
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracelab"));
    cmd.arg("up")
        .args(args)
        .current_dir(common::root())
        .env("NO_COLOR", "1")
        .env_remove("TRACELAB_CONFIG")
        .kill_on_drop(true);
    cmd
}

/// Start `tracelab up` on free ports and read its banner. `--free-ports`
/// alone moves the front proxy off the 8000 the script fixes.
async fn start() -> Up {
    let mut child = command(&["scenarios/jaeger.rhai", "--free-ports"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tracelab starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    let banner = async {
        loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).await.unwrap() == 0 {
                break;
            }
            printed.push_str(&line);
            if line.starts_with("Ctrl-C stops everything") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), banner)
        .await
        .expect("the banner within 30 s");
    let url_after = |label: &str| {
        printed
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .map(|rest| rest.trim().to_string())
            .unwrap_or_else(|| panic!("no {label:?} line in:\n{printed}"))
    };
    let try_url = url_after("try").trim_start_matches("curl ").to_string();
    assert!(
        !try_url.contains(":8000/"),
        "--free-ports moves the front proxy too: {try_url}"
    );
    let viewer_url = url_after("trace viewer");
    Up {
        child,
        stdout,
        printed,
        try_url,
        viewer_url,
    }
}

impl Up {
    /// Send `signal`, wait for the exit, return (code, rest of stdout).
    async fn stop_with(mut self, signal: &str) -> (Option<i32>, String) {
        let pid = self.child.id().expect("still running").to_string();
        let status = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("tracelab up stops within 30 s")
            .unwrap();
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).await.unwrap();
        (status.code(), rest)
    }
}

/// `http://127.0.0.1:PORT/some/path` → (`http://127.0.0.1:PORT`, `/some/path`).
fn split(url: &str) -> (String, String) {
    let after_scheme = &url["http://".len()..];
    let slash = after_scheme.find('/').unwrap_or(after_scheme.len());
    (
        url[..7 + slash].to_string(),
        after_scheme[slash..].to_string(),
    )
}

async fn get(url: &str) -> (u16, String) {
    let (base, path) = split(url);
    let (status, body) = JaegerClient::new(&base)
        .unwrap()
        .get_raw(&path)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_to_the_front_proxy_shows_up_as_a_trace_and_sigterm_stops_cleanly() {
    let up = start().await;
    assert!(
        up.printed.contains("jaeger-tracing sandbox"),
        "{}",
        up.printed
    );
    assert!(up.try_url.ends_with("/trace/1"), "{}", up.printed);

    let (status, body) = get(&up.try_url).await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with("Hello from behind Envoy (service 1)!"),
        "{body}"
    );

    // Spans leave in batches: poll the query API until the trace is whole.
    let (base, _) = split(&up.viewer_url);
    let client = JaegerClient::new(&base).unwrap();
    let trace = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let traces = client
                .find_traces(&TraceQuery::for_service("front-proxy"))
                .await
                .unwrap();
            if let Some(t) = traces.into_iter().find(|t| t.spans.len() == 4) {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the request's 4-span trace reaches the query API");
    let services: std::collections::BTreeSet<&str> = trace
        .processes
        .values()
        .map(|p| p.service_name.as_str())
        .collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        ["front-proxy", "service1", "service2"]
    );

    let (status, page) = get(&up.viewer_url).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!(r#"<a href="/trace/{}">"#, trace.trace_id)),
        "{page}"
    );
    assert!(page.contains("4 spans"));

    let (code, rest) = up.stop_with("-TERM").await;
    assert_eq!(code, Some(0), "{rest}");
    assert!(
        rest.contains("stopped: 4 spans ended, 4 delivered; the collector held 1 trace, 4 spans"),
        "{rest}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_right_after_a_request_flushes_its_spans_before_stopping() {
    let up = start().await;
    let (status, _) = get(&up.try_url).await;
    assert_eq!(status, 200);
    // No wait for the export: the spans may still sit in the components'
    // batches when the signal lands, and stopping must flush them.
    let (code, rest) = up.stop_with("-INT").await;
    assert_eq!(code, Some(0), "{rest}");
    assert!(
        rest.contains("stopped: 4 spans ended, 4 delivered; the collector held 1 trace, 4 spans"),
        "{rest}"
    );
}

async fn output(args: &[&str]) -> (Option<i32>, String) {
    let out = tokio::time::timeout(Duration::from_secs(30), command(args).output())
        .await
        .expect("it ends")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_port_exits_3_naming_it_and_the_flag_that_moves_it() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();

    let (code, err) = output(&["scenarios/jaeger.rhai", "--free-ports", "--ui-port", &port]).await;
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains(&format!(
            "the trace viewer cannot listen on 127.0.0.1:{port}: port {port} is already in use"
        )),
        "{err}"
    );
    assert!(err.contains("--ui-port PORT"), "{err}");

    let (code, err) = output(&[
        "scenarios/jaeger.rhai",
        "--free-ports",
        "--port",
        &format!("front-proxy={port}"),
    ])
    .await;
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains(&format!("front-proxy cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(
        err.contains("or move it: --port front-proxy=PORT (0 picks a free one)"),
        "{err}"
    );
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn moving_a_component_the_scenario_lacks_is_a_usage_error() {
    let (code, err) = output(&["scenarios/jaeger.rhai", "--port", "frontproxy=0"]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("the scenario has no component \"frontproxy\" (components: front-proxy, service1, service2)"),
        "{err}"
    );
}
