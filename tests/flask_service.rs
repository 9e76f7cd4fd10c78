//! The Flask example (examples/flask-service) as service1 of the sandbox
//! (scenarios/jaeger-flask.rhai): its own spans, made by the OpenTelemetry
//! Python SDK, join the front proxy's and service2's trace in W3C and in B3;
//! an app told another format than its neighbours breaks the trace and the
//! scenario fails; a Python without the packages is a clear exit 3; the
//! launcher finds the interpreter as documented.
//!
//! The tests that start the app need its packages (scripts/install-flask-venv.sh,
//! which scripts/test.sh runs) or TRACELAB_SKIP_PYTHON=1; the others need
//! only `sh` and `python3`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::{path_str, root, scenario_path, stderr, stdout};
use tracelab::jaeger::model::{Span, Trace};
use tracelab::report::model::ScenarioReport;
use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};

const FORMATS: [&str; 2] = ["w3c", "b3"];

/// Run a scenario file in-process on a fresh embedded collector and read
/// back every trace of each traffic block (by the ids the edge reported).
async fn run_and_read(path: &Path) -> (ScenarioReport, Vec<(String, Vec<Trace>)>) {
    let scenario = tracelab::scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
    let settings = RunSettings::embedded();
    let backend = start_backend(&settings).await.unwrap();
    let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let client = backend.client().unwrap();
    let mut blocks = Vec::new();
    for traffic in &report.traffic {
        let mut traces = Vec::new();
        for id in &traffic.trace_ids {
            let trace = client.trace(id).await.unwrap();
            traces.push(trace.unwrap_or_else(|| panic!("trace {id} is not in the collector")));
        }
        blocks.push((traffic.name.clone(), traces));
    }
    backend.stop().await;
    (report, blocks)
}

fn service_of<'a>(trace: &'a Trace, span: &Span) -> &'a str {
    &trace.processes[&span.process_id].service_name
}

fn process_tag<'a>(trace: &'a Trace, span: &Span, key: &str) -> Option<&'a str> {
    trace.processes[&span.process_id]
        .tags
        .iter()
        .find(|t| t.key == key)
        .and_then(|t| t.value.as_str())
}

fn span_tag<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.tag(key).and_then(|t| t.value.as_str())
}

/// The one span of `service` with `kind` in `trace`.
fn the_span<'a>(trace: &'a Trace, service: &str, kind: &str) -> &'a Span {
    let found: Vec<&Span> = trace
        .spans
        .iter()
        .filter(|s| service_of(trace, s) == service && s.kind() == Some(kind))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "trace {}: {} {kind} spans of {service}",
        trace.trace_id,
        found.len()
    );
    found[0]
}

fn parent_of(span: &Span) -> Option<&str> {
    span.parent_span_id()
}

#[tokio::test]
async fn the_flask_apps_own_spans_join_the_proxys_and_service2s_trace_in_w3c_and_b3() {
    if !common::flask_example_ready("the Flask example's trace test") {
        return;
    }
    let (report, blocks) = run_and_read(&scenario_path("jaeger-flask.rhai")).await;
    assert!(report.passed, "{}", common::render(&report));
    let names: Vec<&str> = blocks.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, FORMATS);
    for (format, traces) in &blocks {
        let (front, service1, service2) = (
            format!("front-proxy-{format}"),
            format!("service1-{format}"),
            format!("service2-{format}"),
        );
        assert_eq!(traces.len(), 5, "{format}: one trace per request");
        for trace in traces {
            // Exactly the four spans of three services, in one chain.
            assert_eq!(trace.spans.len(), 4, "{format}: {trace:?}");
            let services: BTreeSet<&str> =
                trace.spans.iter().map(|s| service_of(trace, s)).collect();
            assert_eq!(
                services,
                BTreeSet::from([front.as_str(), service1.as_str(), service2.as_str()])
            );
            let edge = the_span(trace, &front, "client");
            let server = the_span(trace, &service1, "server");
            let client = the_span(trace, &service1, "client");
            let callee = the_span(trace, &service2, "server");
            assert_eq!(
                parent_of(edge),
                None,
                "{format}: the proxy's span is the root"
            );
            assert_eq!(parent_of(server), Some(edge.span_id.as_str()), "{format}");
            assert_eq!(parent_of(client), Some(server.span_id.as_str()), "{format}");
            assert_eq!(parent_of(callee), Some(client.span_id.as_str()), "{format}");
            assert_eq!(server.operation_name, "GET /trace/1");
            assert_eq!(client.operation_name, "GET");
            assert_eq!(callee.operation_name, "checkStock");

            // service1's spans come from OpenTelemetry's Python SDK and its
            // instrumentations; tracelab's own spans carry no such resource.
            for span in [server, client] {
                assert_eq!(
                    process_tag(trace, span, "telemetry.sdk.language"),
                    Some("python")
                );
                assert_eq!(
                    process_tag(trace, span, "telemetry.sdk.name"),
                    Some("opentelemetry")
                );
                assert!(process_tag(trace, span, "telemetry.sdk.version").is_some());
            }
            assert_eq!(process_tag(trace, edge, "telemetry.sdk.language"), None);
            assert_eq!(
                span_tag(server, "otel.scope.name"),
                Some("opentelemetry.instrumentation.flask")
            );
            assert_eq!(
                span_tag(client, "otel.scope.name"),
                Some("opentelemetry.instrumentation.requests")
            );
            assert_eq!(span_tag(edge, "otel.scope.name"), Some("tracelab"));

            // The app tags its spans with the request id it was sent and
            // forwards it: all four carry the same one.
            let ids: BTreeSet<Option<&str>> = trace
                .spans
                .iter()
                .map(|s| span_tag(s, "guid:x-request-id"))
                .collect();
            assert_eq!(ids.len(), 1, "{format}: {ids:?}");
            assert!(ids.iter().all(Option::is_some), "{format}: {ids:?}");
        }
    }
}

/// jaeger-flask.rhai with `from` replaced by `to` (which must occur), run
/// from a scratch folder: the launcher is named by its absolute path.
fn flask_scenario_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(scenario_path("jaeger-flask.rhai")).unwrap();
    for needle in [from, "\"../examples/flask-service/run.sh\""] {
        assert!(
            text.contains(needle),
            "jaeger-flask.rhai no longer contains {needle:?}"
        );
    }
    let launcher = root().join("examples/flask-service/run.sh");
    text.replacen(from, to, 1).replacen(
        "\"../examples/flask-service/run.sh\"",
        &format!("{:?}", path_str(&launcher)),
        1,
    )
}

#[tokio::test]
async fn an_app_told_another_format_than_its_neighbours_starts_new_traces_and_the_scenario_fails() {
    if !common::flask_example_ready("the Flask example's broken-propagation test") {
        return;
    }
    // Each copy's app speaks the other copy's format: it finds no context
    // in what the proxy sends, and service2 finds none in what it sends.
    let text = flask_scenario_with(
        "env: #{ SERVICE2: service2 },\n        propagation: format,",
        "env: #{ SERVICE2: service2 },\n        propagation: if format == \"w3c\" { \"b3\" } else { \"w3c\" },",
    );
    let (_dir, path) = common::scratch_scenario("mismatch.rhai", &text);
    let (report, _) = run_and_read(&path).await;
    assert!(!report.passed, "{}", common::render(&report));
    for format in FORMATS {
        let outcome = |name: &str| {
            report
                .outcomes
                .iter()
                .find(|o| o.name == name && o.traffic == format)
                .unwrap_or_else(|| panic!("no check {name:?} in {}", common::render(&report)))
        };
        let tree = outcome(&format!(
            "{format}: proxy → Flask server span → requests client span → service2, one trace"
        ));
        // The app's spans carry the request id, so each request shows up in
        // three traces (the proxy's, the app's and service2's), none whole.
        assert!(!tree.passed, "{format}: {}", tree.observed);
        assert_eq!(tree.observed, "0 of 15 traces match", "{format}");
        let one_trace = outcome("each request is one trace");
        assert!(!one_trace.passed, "{format}: {}", one_trace.observed);
    }
}

/// An executable script `name` in `dir`.
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_python_without_the_packages_ends_the_run_with_exit_3_saying_how_to_install_them() {
    // python3 with neither site-packages nor the environment's paths: the
    // standard library only.
    let dir = tempfile::tempdir().unwrap();
    let bare = script(
        dir.path(),
        "bare-python",
        "#!/bin/sh\nexec python3 -I -S \"$@\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args(["run", "-q", "scenarios/jaeger-flask.rhai"])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env("TRACELAB_FLASK_PYTHON", &bare)
        .env_remove("TRACELAB_JAEGER_URL")
        .env_remove("TRACELAB_OTLP_ENDPOINT")
        .env_remove("TRACELAB_JAEGER_BIN")
        .env_remove("TRACELAB_CONFIG")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{}{err}", stdout(&out));
    assert!(
        err.contains("process service1-w3c exited (exit code 1) before listening"),
        "{err}"
    );
    assert!(err.contains("lacks the example's packages"), "{err}");
    assert!(err.contains("scripts/install-flask-venv.sh"), "{err}");
    assert!(err.contains("TRACELAB_FLASK_PYTHON"), "{err}");
}

/// What `run.sh --check` runs, with fake interpreters that say who they
/// are (`python3` on PATH among them).
fn launcher_picks(fakes: &Path, env: &[(&str, &Path)]) -> String {
    let path = format!("{}:{}", fakes.display(), std::env::var("PATH").unwrap());
    let mut command = Command::new("sh");
    command
        .arg(root().join("examples/flask-service/run.sh"))
        .arg("--check")
        .env("PATH", path)
        .env_remove("TRACELAB_FLASK_PYTHON")
        .env_remove("TRACELAB_CACHE");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[test]
fn the_launcher_takes_tracelab_flask_python_then_the_venv_for_these_requirements_then_python3() {
    let dir = tempfile::tempdir().unwrap();
    let fake = |name: &str| format!("#!/bin/sh\necho {name} \"$@\"\n");
    let fakes = dir.path().join("path");
    std::fs::create_dir(&fakes).unwrap();
    script(&fakes, "python3", &fake("python3"));
    let chosen = script(dir.path(), "chosen-python", &fake("chosen"));

    // The venv scripts/install-flask-venv.sh makes: named after the
    // requirements file's SHA-256, complete once `.installed` exists.
    let cache = dir.path().join("cache");
    let sum = Command::new("sha256sum")
        .arg(root().join("examples/flask-service/requirements.txt"))
        .output()
        .unwrap();
    let key = &stdout(&sum)[..16];
    let venv = cache.join(format!("flask-venv-{key}"));
    std::fs::create_dir_all(venv.join("bin")).unwrap();
    script(&venv.join("bin"), "python", &fake("venv"));
    let app = root().join("examples/flask-service/app.py");
    let ran = |who: &str| format!("{who} {} --check", app.display());

    // Half-installed (no `.installed`): not taken.
    assert_eq!(
        launcher_picks(&fakes, &[("TRACELAB_CACHE", &cache)]),
        ran("python3")
    );
    std::fs::write(venv.join(".installed"), "").unwrap();
    assert_eq!(
        launcher_picks(&fakes, &[("TRACELAB_CACHE", &cache)]),
        ran("venv")
    );
    assert_eq!(
        launcher_picks(
            &fakes,
            &[
                ("TRACELAB_CACHE", &cache),
                ("TRACELAB_FLASK_PYTHON", &chosen)
            ]
        ),
        ran("chosen")
    );
}

/// The services a query API lists.
fn services_of(collector: &common::CollectorProcess) -> Vec<String> {
    collector.get("/api/services")["data"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn the_flask_app_exports_over_grpc_with_the_python_sdks_grpc_exporter_and_the_sandbox_passes() {
    if !common::flask_example_ready("the Flask example over gRPC") {
        return;
    }
    // `tracelab collector` with OTLP/gRPC and OTLP/HTTP on separate ports:
    // the run is given only the gRPC one, so an app that still exported
    // over HTTP would lose its spans and fail the scenario.
    let collector = common::CollectorProcess::start();
    let out = common::tracelab(&[
        "run",
        "--otlp-protocol",
        "grpc",
        "--jaeger-url",
        &collector.query,
        "--otlp-endpoint",
        &collector.grpc,
        path_str(&scenario_path("jaeger-flask.rhai")),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&format!("otlp grpc {}", collector.grpc)),
        "{}",
        stdout(&out)
    );
    let services = services_of(&collector);
    for format in FORMATS {
        assert!(
            services.contains(&format!("service1-{format}")),
            "the app's spans came over gRPC: {services:?}"
        );
    }
}

#[test]
fn the_flask_sandbox_over_grpc_passes_on_a_real_jaeger_too() {
    if !common::flask_example_ready("the Flask example over gRPC on Jaeger") {
        return;
    }
    let Some(jaeger) = common::jaeger_bin() else {
        return;
    };
    let out = common::tracelab(&[
        "run",
        "--otlp-protocol",
        "grpc",
        "--jaeger-bin",
        path_str(&jaeger),
        path_str(&scenario_path("jaeger-flask.rhai")),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}
