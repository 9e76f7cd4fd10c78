//! A system tracelab did not start, tested from outside through a real
//! Jaeger: the test starts Jaeger v2 (`TRACELAB_JAEGER_BIN`), the Flask
//! example app (the OpenTelemetry Python SDK) and its service2, both
//! exporting to that Jaeger, then runs `scenarios/external-flask.rhai`
//! with the `tracelab` binary, `--jaeger-url` and `--target`. It passes;
//! with the app's propagation switched off it fails, naming the span where
//! the trace breaks; and it never passes on nothing (an app that reports
//! no spans, a target nobody listens on).
//!
//! Needs the Jaeger binary and the app's Python packages (see
//! `common::jaeger_bin`, `common::flask_example_ready`).

#![cfg(unix)]

mod common;

use common::shop::{AppConfig, Shop};
use common::{closed_port, flask_example_ready, jaeger_bin, scenario_path, stderr, stdout};
use tracelab::backend::jaeger_process::{JaegerProcess, JaegerSettings};

/// A Jaeger for the test, and the URLs a run needs.
struct Jaeger {
    process: JaegerProcess,
    query: String,
    otlp: String,
}

async fn start_jaeger() -> Option<Jaeger> {
    let bin = jaeger_bin()?;
    if !flask_example_ready("the external target tests") {
        return None;
    }
    let process = JaegerProcess::start(&JaegerSettings::new(bin))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let query = process.query_url();
    let otlp = process
        .otlp_traces_url()
        .trim_end_matches("/v1/traces")
        .to_string();
    Some(Jaeger {
        process,
        query,
        otlp,
    })
}

/// `tracelab run` of the external scenario against `jaeger`, traffic to
/// `url`: (exit code, report).
fn run_against(jaeger: &Jaeger, url: &str) -> (i32, String) {
    let scenario = scenario_path("external-flask.rhai");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args([
            "run",
            "--jaeger-url",
            &jaeger.query,
            "--otlp-endpoint",
            &jaeger.otlp,
        ])
        .args(["--target", &format!("shop={url}")])
        .arg(&scenario)
        .current_dir(common::root())
        .env("NO_COLOR", "1")
        .env_remove("TRACELAB_JAEGER_BIN")
        .env_remove("TRACELAB_CONFIG")
        .output()
        .expect("tracelab runs");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_started_outside_tracelab_passes_through_a_real_jaeger_and_fails_once_its_propagation_breaks()
 {
    let Some(jaeger) = start_jaeger().await else {
        return;
    };

    let shop = Shop::start(&jaeger.otlp, AppConfig::default());
    let (code, report) = run_against(&jaeger, &shop.url);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("shop  target   http://127.0.0.1:"),
        "{report}"
    );
    assert!(
        report.contains("collector  jaeger query"),
        "read through Jaeger's API: {report}"
    );
    assert!(report.contains("5 of 5 traces match"), "{report}");
    drop(shop);

    // No trace-context propagator (the SDK's `none` crashes this
    // instrumentation: see the next test): the app starts a trace of its
    // own for each request, and so does service2 behind it.
    let broken = Shop::start(
        &jaeger.otlp,
        AppConfig {
            propagators: Some("baggage"),
            ..AppConfig::default()
        },
    );
    let (code, report) = run_against(&jaeger, &broken.url);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("✘ each request is one trace (checkout) — 0 of 5 requests are one trace"),
        "{report}"
    );
    assert!(
        report.contains("observed: 3 traces: propagation broke"),
        "{report}"
    );
    assert!(
        report.contains("✘ every checkout is one trace: tracelab → the app's server span"),
        "{report}"
    );
    // The difference names the span where the trace stops: tracelab's own
    // client span, with the app's server span missing below it.
    assert!(
        report.contains("at tracelab GET /trace/1 (client) ["),
        "{report}"
    );
    assert!(
        report.contains("observed: no child shop GET /trace/1 (server); children: none"),
        "{report}"
    );
    drop(broken);
    jaeger.process.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_target_never_passes_on_nothing() {
    let Some(jaeger) = start_jaeger().await else {
        return;
    };

    // A system that answers but reports its spans to another collector:
    // nothing to judge.
    let silent = Shop::start(
        &jaeger.otlp,
        AppConfig {
            reports: false,
            ..AppConfig::default()
        },
    );
    let (code, report) = run_against(&jaeger, &silent.url);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("✘ the traffic left something to judge (checkout)"),
        "{report}"
    );
    assert!(
        report.contains("none of the 5 answered requests to target shop left a span in the collector (5 traces started and sent as b3, w3c)"),
        "{report}"
    );
    drop(silent);

    // OTEL_PROPAGATORS=none: this SDK's Flask instrumentation then fails
    // every request (its empty composite propagator returns no context).
    let crashing = Shop::start(
        &jaeger.otlp,
        AppConfig {
            propagators: Some("none"),
            ..AppConfig::default()
        },
    );
    let (code, report) = run_against(&jaeger, &crashing.url);
    assert_eq!(code, 1, "{report}");
    assert!(report.contains("5×500"), "{report}");
    drop(crashing);

    // Nobody listens: nothing answered.
    let (code, report) = run_against(&jaeger, &format!("http://127.0.0.1:{}", closed_port()));
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("none of the 5 requests was answered"),
        "{report}"
    );
    jaeger.process.stop().await;
}
