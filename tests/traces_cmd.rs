//! `tracelab traces` against an embedded collector holding a sandbox run:
//! it lists and draws traces by service, prints one by id, and says what to
//! check when nothing answers.

mod common;

use std::sync::Arc;

use common::*;
use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};

/// Run the sandbox into a collector that stays up; returns it and the run's trace ids.
async fn sandbox_collector() -> (tracelab::backend::Backend, Vec<String>) {
    let settings = RunSettings::embedded();
    let backend = start_backend(&settings).await.unwrap();
    let scenario = tracelab::scenario::load(&scenario_path("jaeger.rhai")).unwrap();
    let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
        .await
        .unwrap();
    assert!(report.passed);
    (backend, report.traffic[0].trace_ids.clone())
}

async fn traces(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let mut all = vec!["traces".to_string()];
        all.extend(args);
        tracelab(&all.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn traces_of_a_service_print_as_waterfalls_and_as_a_list() {
    let (backend, ids) = sandbox_collector().await;
    let url = backend.query_url();

    let out = traces(vec![
        "--jaeger-url".into(),
        url.clone(),
        "--service".into(),
        "front-proxy".into(),
        "--limit".into(),
        "3".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "3 traces (service front-proxy, limit 3) from {url}\n"
        )),
        "{text}"
    );
    assert_eq!(
        text.matches(" · 4 spans · 3 services · depth 4 · ").count(),
        3,
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains('│')).count(),
        12,
        "4 rows a trace: {text}"
    );
    assert!(
        text.contains("\n        service2 checkStock     │"),
        "the deepest span, indented: {text}"
    );

    let out = traces(vec![
        "--jaeger-url".into(),
        url.clone(),
        "-s".into(),
        "service2".into(),
        "--operation".into(),
        "checkStock".into(),
        "--list".into(),
    ])
    .await;
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 10, "{text}");
    for line in &lines {
        let id = line.split_whitespace().next().unwrap();
        assert!(ids.iter().any(|i| i == id), "{id} is one of the run's");
        assert!(
            line.contains("4 spans  front-proxy checkAvailability"),
            "{line}"
        );
    }
    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_trace_prints_by_id_with_tags_on_request_and_an_unknown_id_exits_2() {
    let (backend, ids) = sandbox_collector().await;
    let url = backend.query_url();
    let out = traces(vec![
        "--jaeger-url".into(),
        url.clone(),
        "-v".into(),
        ids[0].clone(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("trace {} · 4 spans", ids[0])),
        "{text}"
    );
    assert!(text.contains("http.status_code=200"), "{text}");

    let out = traces(vec!["--jaeger-url".into(), url, "abc123".into()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("trace abc123 not found"),
        "{}",
        stderr(&out)
    );
    backend.stop().await;
}

#[test]
fn nothing_listening_exits_3_and_suggests_tracelab_up() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let out = tracelab(&["traces", "--jaeger-url", &url, "--service", "front-proxy"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("did not answer"), "{err}");
    assert!(err.contains("is `tracelab up` running"), "{err}");
}

#[test]
fn a_search_needs_a_service() {
    let out = tracelab(&["traces"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--service"), "{}", stderr(&out));
}
