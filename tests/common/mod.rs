//! Helpers shared by the integration tests: the binary, scratch scenarios,
//! free ports.

#![allow(dead_code)] // each test file uses a different subset

pub mod otlp;
pub mod shop;

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// The repository root, where `scenarios/` lives.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every scenario shipped in `scenarios/`, sorted.
pub fn scenario_files() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenarios in scenarios/");
    files
}

pub fn scenario_path(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

/// Run the built `tracelab` binary with `args`, without a terminal (so no
/// colour, no progress bars).
pub fn tracelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("TRACELAB_JAEGER_URL")
        .env_remove("TRACELAB_OTLP_ENDPOINT")
        .env_remove("TRACELAB_CONFIG")
        .env_remove("TRACELAB_JAEGER_BIN")
        .output()
        .expect("the tracelab binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Write `text` as `name` in a fresh temporary folder; keep the folder alive.
pub fn scratch_scenario(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write scenario");
    (dir, path)
}

/// The sandbox scenario's text with `from` replaced by `to` (which must occur).
pub fn sandbox_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(scenario_path("jaeger.rhai")).expect("jaeger.rhai");
    assert!(
        text.contains(from),
        "jaeger.rhai no longer contains {from:?}"
    );
    text.replacen(from, to, 1)
}

/// The sandbox with every built-in check off and one check that passes on
/// whatever part of a trace is left: only lost spans can fail it.
pub fn sandbox_that_passes_on_fragments() -> String {
    let text = std::fs::read_to_string(scenario_path("jaeger.rhai")).unwrap();
    let (topology, _) = text
        .split_once("// Every request:")
        .expect("jaeger.rhai changed");
    format!(
        "{topology}\
         integrity(#{{ propagation: false, complete: false, single_root: false, \
         orphans: false, unique_span_ids: false, time_window: false, reported: false }});\n\
         expect_spans(\"sandbox\", span(\"*\", \"*\"), #{{ at_most: 4, name: \"at most 4 spans a trace\" }});\n"
    )
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The real Jaeger v2 binary for tests that need one: `$TRACELAB_JAEGER_BIN`,
/// else where scripts/install-jaeger.sh caches it. `None` only when
/// `TRACELAB_SKIP_JAEGER=1`; a missing binary otherwise fails the test, so
/// CI can never skip these tests quietly.
pub fn jaeger_bin() -> Option<PathBuf> {
    if std::env::var("TRACELAB_SKIP_JAEGER").as_deref() == Ok("1") {
        notice("TRACELAB_SKIP_JAEGER=1: skipping a test against the real Jaeger");
        return None;
    }
    let path = match std::env::var_os("TRACELAB_JAEGER_BIN") {
        Some(path) => PathBuf::from(path),
        None => cached_jaeger_path(),
    };
    assert!(
        path.is_file(),
        "no Jaeger binary at {}: run scripts/install-jaeger.sh (scripts/test.sh does) \
         or set TRACELAB_JAEGER_BIN; set TRACELAB_SKIP_JAEGER=1 to skip these tests",
        path.display()
    );
    Some(path)
}

/// Where scripts/install-jaeger.sh puts the binary, with the version it pins.
fn cached_jaeger_path() -> PathBuf {
    let script = std::fs::read_to_string(root().join("scripts/install-jaeger.sh"))
        .expect("scripts/install-jaeger.sh");
    let version = script
        .lines()
        .find_map(|l| l.strip_prefix("JAEGER_MODULE_VERSION=\"${JAEGER_MODULE_VERSION:-"))
        .and_then(|rest| rest.split('}').next())
        .expect("install-jaeger.sh pins JAEGER_MODULE_VERSION");
    let cache = std::env::var_os("TRACELAB_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("tracelab")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/tracelab")))
        .expect("HOME is set");
    cache.join(format!("jaeger-{version}")).join("jaeger")
}

/// Run a scenario's text in-process on a fresh embedded collector; the
/// report, and the backend (still running, for reading traces back).
pub async fn run_text(
    name: &str,
    text: &str,
) -> (
    tracelab::report::model::ScenarioReport,
    tracelab::backend::Backend,
) {
    let (_dir, path) = scratch_scenario(name, text);
    let scenario = tracelab::scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let settings = tracelab::run::RunSettings::embedded();
    let backend = tracelab::run::start_backend(&settings).await.unwrap();
    let report = tracelab::run::run_scenario(
        &scenario,
        &backend,
        &settings,
        std::sync::Arc::new(tracelab::run::Silent),
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    (report, backend)
}

/// The report as text, for assertion messages.
pub fn render(report: &tracelab::report::model::ScenarioReport) -> String {
    tracelab::report::human::render(
        &tracelab::report::RunReport::new(vec![report.clone()]),
        tracelab::report::human::Verbosity::Verbose,
    )
}

/// `tracelab collector` on free ports, stopped when dropped.
pub struct CollectorProcess {
    child: Child,
    /// The query API root, e.g. `http://127.0.0.1:PORT`.
    pub query: String,
    /// The OTLP/HTTP root (`/v1/traces` below it).
    pub otlp: String,
    /// The OTLP/gRPC server, `http://127.0.0.1:PORT`.
    pub grpc: String,
    /// The Zipkin receiver's root (`/api/v2/spans` below it).
    pub zipkin: String,
}

impl CollectorProcess {
    pub fn start() -> CollectorProcess {
        Self::start_with(&[])
    }

    /// With more `tracelab collector` flags, e.g. `--max-body-size`.
    pub fn start_with(extra: &[&str]) -> CollectorProcess {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
            .args(["collector", "--free-ports"])
            .args(extra)
            .env_remove("TRACELAB_CONFIG")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut query, mut otlp, mut grpc, mut zipkin) = (None, None, None, None);
        while query.is_none() || otlp.is_none() || grpc.is_none() || zipkin.is_none() {
            let line = lines
                .next()
                .expect("the collector says where it listens")
                .unwrap();
            let url = || line.split_whitespace().last().unwrap().to_string();
            if line.contains("OTLP/HTTP") {
                otlp = Some(url().trim_end_matches("/v1/traces").to_string());
            } else if line.contains("OTLP/gRPC") {
                grpc = Some(url());
            } else if line.contains("Zipkin") {
                zipkin = Some(url().trim_end_matches("/api/v2/spans").to_string());
            } else if line.contains("query API") {
                query = Some(url().trim_end_matches("/api/services").to_string());
            }
        }
        CollectorProcess {
            child,
            query: query.unwrap(),
            otlp: otlp.unwrap(),
            grpc: grpc.unwrap(),
            zipkin: zipkin.unwrap(),
        }
    }

    /// GET a query API path; the parsed JSON body.
    pub fn get(&self, path: &str) -> serde_json::Value {
        let authority = self.query.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(authority).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let body = answer.split_once("\r\n\r\n").expect("a response").1;
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

/// One answer to [`http`]: status, content type and body.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.text()))
    }
}

/// One HTTP/1.1 request on a fresh connection to `base` (`http://host:port`),
/// the connection closed after the answer. `content_type: None` sends none.
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> HttpAnswer {
    let headers: Vec<(&str, &str)> = content_type
        .map(|t| ("Content-Type", t))
        .into_iter()
        .collect();
    http_with(base, method, path, &headers, body)
}

/// [`http`] with any request headers.
pub fn http_with(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpAnswer {
    let authority = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response");
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    HttpAnswer {
        status,
        content_type,
        body: answer[split + 4..].to_vec(),
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Tell the person running the tests, past the test harness's output
/// capture (a skip must show in `cargo test`'s output, not only on failure).
pub fn notice(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Whether `scenario` starts the Flask example app (examples/flask-service).
pub fn uses_flask_example(scenario: &tracelab::scenario::model::Scenario) -> bool {
    scenario.components.iter().any(|c| {
        c.program
            .as_ref()
            .is_some_and(|p| p.command.iter().any(|arg| arg.contains("flask-service")))
    })
}

/// Whether tests may start the Flask example app. `false` only when
/// `TRACELAB_SKIP_PYTHON=1` (the skip of `what` is announced); otherwise the
/// Python that examples/flask-service/run.sh picks must have the packages,
/// or the test fails saying how to install them, so CI never skips quietly.
pub fn flask_example_ready(what: &str) -> bool {
    if std::env::var("TRACELAB_SKIP_PYTHON").as_deref() == Ok("1") {
        notice(&format!(
            "TRACELAB_SKIP_PYTHON=1: skipping {what} (it starts the Flask example app)"
        ));
        return false;
    }
    static CHECKED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let checked = CHECKED.get_or_init(|| {
        let out = Command::new("sh")
            .arg(root().join("examples/flask-service/run.sh"))
            .arg("--check")
            .output()
            .map_err(|e| format!("cannot run sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{}{}", stdout(&out), stderr(&out)))
        }
    });
    if let Err(output) = checked {
        panic!(
            "the Flask example's Python lacks its packages:\n{output}\n\
             run scripts/install-flask-venv.sh (scripts/test.sh does) or set \
             TRACELAB_FLASK_PYTHON to a Python that has them; set \
             TRACELAB_SKIP_PYTHON=1 to skip the tests that start the app"
        );
    }
    true
}

/// The checks that failed in one scenario of a JSON report.
pub fn failed_outcomes(scenario: &serde_json::Value) -> Vec<&serde_json::Value> {
    scenario["outcomes"]
        .as_array()
        .expect("a scenario has outcomes")
        .iter()
        .filter(|o| o["passed"] == false)
        .collect()
}

/// tests/clients/span-sender (real OpenTelemetry, Zipkin and Jaeger client
/// libraries in a Go program): `$TRACELAB_SPAN_SENDER`, else what
/// scripts/install-span-sender.sh prints (it builds it once, with Go).
/// `None` only when `TRACELAB_SKIP_SPAN_SENDER=1`.
pub fn span_sender() -> Option<PathBuf> {
    if std::env::var("TRACELAB_SKIP_SPAN_SENDER").as_deref() == Ok("1") {
        notice("TRACELAB_SKIP_SPAN_SENDER=1: skipping a test with real client libraries");
        return None;
    }
    if let Some(path) = std::env::var_os("TRACELAB_SPAN_SENDER") {
        return Some(PathBuf::from(path));
    }
    let output = Command::new(root().join("scripts/install-span-sender.sh"))
        .output()
        .expect("scripts/install-span-sender.sh runs");
    assert!(
        output.status.success(),
        "no span-sender: scripts/install-span-sender.sh failed (it needs Go; scripts/test.sh \
         runs it); set TRACELAB_SPAN_SENDER to a built one or TRACELAB_SKIP_SPAN_SENDER=1 to \
         skip these tests:\n{}",
        stderr(&output)
    );
    Some(PathBuf::from(stdout(&output).trim()))
}

/// A Python program (standard library only) that runs `prelude`, then
/// answers every GET on `$PORT` with an empty 200 and traces nothing.
pub fn python_answering_200(prelude: &str) -> String {
    format!(
        r#"import http.server, os
{prelude}
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Answer).serve_forever()
"#
    )
}
