//! The scenario language's features end to end: real HTTP between
//! components, real OTLP to the embedded collector, traces read back
//! through the Jaeger API and judged.

mod common;

use std::time::Duration;

use common::*;
use tracelab::jaeger::client::TraceQuery;
use tracelab::mesh::telemetry::ExportSettings;
use tracelab::mesh::{MeshOptions, RunningMesh};
use tracelab::report::model::ScenarioReport;

/// The sandbox's chain, each component speaking `formats` (a Rhai value).
fn chain(formats: [&str; 3]) -> String {
    format!(
        r#"
proxy("front-proxy", #{{ propagation: {}, routes: [route("/*", #{{ to: "service1", operation: "checkAvailability" }})] }});
service("service1", #{{ propagation: {}, routes: [route("/trace/1", #{{ calls: [request("service2", "/trace/2", #{{ operation: "checkStock" }})] }})] }});
service("service2", #{{ propagation: {}, routes: [route("/trace/2")] }});
traffic("t", #{{ requests: 3, path: "/trace/1" }});
expect_traces("t",
    span("front-proxy", "checkAvailability", #{{ kind: "client" }}, [
        span("service1", "checkAvailability", #{{ kind: "server" }}, [
            span("service1", "checkStock", #{{ kind: "client" }}, [
                span("service2", "checkStock", #{{ kind: "server" }}),
            ]),
        ]),
    ]),
    #{{ name: "the chain" }});
"#,
        formats[0], formats[1], formats[2]
    )
}

fn outcome<'a>(report: &'a ScenarioReport, name: &str) -> &'a tracelab::assert::Outcome {
    report
        .outcomes
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no outcome {name:?} in\n{}", render(report)))
}

#[tokio::test]
async fn each_propagation_format_carries_the_trace_across_every_hop() {
    for format in ["\"w3c\"", "\"b3\"", "\"b3-single\"", "\"jaeger\""] {
        let (report, backend) = run_text("formats.rhai", &chain([format; 3])).await;
        backend.stop().await;
        assert!(report.passed, "{format}:\n{}", render(&report));
        assert_eq!(report.traces.traces, 3, "{format}");
        assert_eq!(report.traces.spans, 12, "{format}");
    }
}

#[tokio::test]
async fn components_without_a_common_format_break_the_trace() {
    let (report, backend) =
        run_text("mismatch.rhai", &chain(["\"w3c\"", "\"b3\"", "\"b3\""])).await;
    backend.stop().await;
    assert!(!report.passed);
    let propagation = outcome(&report, "each request is one trace");
    assert!(!propagation.passed, "{}", render(&report));
    assert_eq!(propagation.failure_count, 3);
    assert_eq!(report.traces.traces, 6, "each request: two traces");
}

#[tokio::test]
async fn a_component_speaking_two_formats_bridges_its_neighbours() {
    let text = chain(["\"b3\"", "[\"b3\", \"jaeger\"]", "\"jaeger\""]);
    let (report, backend) = run_text("bridge.rhai", &text).await;
    backend.stop().await;
    assert!(report.passed, "{}", render(&report));
}

#[tokio::test]
async fn expect_broken_fails_on_an_intact_trace_and_names_the_request() {
    let text = format!("{}\nexpect_broken(\"t\");", chain(["\"b3\""; 3]));
    let (report, backend) = run_text("intact.rhai", &text).await;
    backend.stop().await;
    let broken = report
        .outcomes
        .iter()
        .find(|o| o.name.contains("breaks into several traces"))
        .unwrap();
    assert!(!broken.passed);
    assert_eq!(broken.observed, "0 of 3 requests split into several traces");
    assert!(broken.failures[0].request_id.is_some());
    assert!(broken.failures[0].trace_id.is_some());
    assert!(!report.passed);
}

/// Statuses of `requests` sent one at a time to a route that fails half of
/// its answers, under `seed`.
async fn coin_tosses(seed: u64) -> Vec<Option<u16>> {
    let text = format!(
        r#"scenario("coins", #{{ seed: {seed} }});
service("coin", #{{ routes: [route("/", #{{ fail: #{{ status: 503, probability: 0.5 }} }})] }});
traffic("t", #{{ requests: 40, path: "/" }});"#
    );
    let (_dir, path) = scratch_scenario("coins.rhai", &text);
    let scenario = tracelab::scenario::load(&path).unwrap();
    let unreachable = format!("http://127.0.0.1:{}/v1/traces", closed_port());
    let mut options = MeshOptions::new(ExportSettings::new(unreachable));
    options.export.timeout = Duration::from_millis(200);
    let mesh = RunningMesh::start(&scenario, &options).await.unwrap();
    let authority = mesh.authority_of("coin").unwrap().to_string();
    let run = tracelab::traffic::run(
        &scenario.traffic[0],
        &authority,
        std::sync::Arc::new(|_| {}),
    )
    .await;
    mesh.stop().await;
    run.records.iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn the_same_seed_fails_the_same_requests_and_another_seed_others() {
    let first = coin_tosses(5).await;
    assert_eq!(first.len(), 40);
    assert!(
        first.contains(&Some(503)) && first.contains(&Some(200)),
        "{first:?}"
    );
    assert_eq!(coin_tosses(5).await, first);
    assert_ne!(coin_tosses(6).await, first);
}

#[tokio::test]
async fn sampling_keeps_the_same_share_of_traces_for_the_same_seed() {
    let text = |seed: u64| {
        format!(
            r#"scenario("sampled", #{{ seed: {seed} }});
proxy("edge", #{{ sampling: 0.5, routes: [route("/*", #{{ to: "app" }})] }});
service("app", #{{ routes: [route("/")] }});
traffic("t", #{{ requests: 30, concurrency: 3, path: "/" }});"#
        )
    };
    let mut counts = Vec::new();
    for seed in [9, 9, 10] {
        let (report, backend) = run_text("sampled.rhai", &text(seed)).await;
        backend.stop().await;
        assert!(report.passed, "{}", render(&report));
        let sampled = report.traffic[0].trace_ids.len();
        assert_eq!(
            report.traces.traces, sampled,
            "every sampled request has its trace"
        );
        assert!(0 < sampled && sampled < 30, "about half: {sampled}");
        counts.push(sampled);
    }
    assert_eq!(counts[0], counts[1], "same seed, same count: {counts:?}");
    assert_ne!(counts[0], counts[2], "seed 10 draws otherwise: {counts:?}");
}

#[tokio::test]
async fn the_open_model_sends_rate_times_duration_requests() {
    let text = r#"
service("app", #{ routes: [route("/")] });
traffic("steady", #{ rate: 40, duration: "500ms", path: "/" });
expect_traces("steady", span("app", "*"), #{ exactly: 20 });"#;
    let (report, backend) = run_text("open.rhai", text).await;
    backend.stop().await;
    assert!(report.passed, "{}", render(&report));
    assert_eq!(report.traffic[0].summary.requests, 20);
    assert_eq!(report.traffic[0].summary.statuses["200"], 20);
}

#[tokio::test]
async fn retries_show_as_attempts_under_one_client_span() {
    let text = r#"
proxy("edge", #{ routes: [route("/*", #{ to: "down", operation: "get", retries: 2 })] });
service("down", #{ routes: [route("/", #{ fail: #{ status: 503 } })] });
traffic("t", #{ requests: 2, path: "/" });
expect_traces("t",
    span("edge", "get", #{ kind: "client", error: true, tags: #{ response_flags: "URX", "http.status_code": "503" } }, [
        span("down", "get", #{ kind: "server", error: true }),
        span("down", "get", #{ kind: "server", error: true }),
        span("down", "get", #{ kind: "server", error: true }),
    ]),
    #{ name: "three attempts" });"#;
    let (report, backend) = run_text("retries.rhai", text).await;
    backend.stop().await;
    assert!(report.passed, "{}", render(&report));
    assert_eq!(report.traffic[0].summary.statuses["503"], 2);
}

#[tokio::test]
async fn a_per_try_timeout_retries_a_slow_answer_then_gives_up_with_504() {
    let text = r#"
proxy("edge", #{ routes: [route("/*", #{ to: "slow", operation: "get", retries: 1, per_try_timeout: "50ms" })] });
service("slow", #{ routes: [route("/", #{ latency: "2s" })] });
traffic("t", #{ requests: 1, path: "/" });
integrity("t", #{ time_window: false });
expect_traces("t",
    span("edge", "get", #{ error: true, tags: #{ response_flags: "UT", "http.status_code": "504" } }, [
        span("slow", "get", #{ tags: #{ response_flags: "DC" } }),
        span("slow", "get", #{ tags: #{ response_flags: "DC" } }),
    ]),
    #{ name: "two cut-off attempts" });"#;
    let (report, backend) = run_text("per-try.rhai", text).await;
    backend.stop().await;
    assert!(report.passed, "{}", render(&report));
    assert_eq!(report.traffic[0].summary.statuses["504"], 1);
}

#[tokio::test]
async fn a_fault_on_a_proxy_route_answers_without_forwarding() {
    let text = r#"
proxy("edge", #{ routes: [route("/*", #{ to: "app", operation: "get", latency: "5ms", fail: #{ status: 429 } })] });
service("app", #{ routes: [route("/")] });
traffic("t", #{ requests: 2, path: "/" });
expect_traces("t",
    span("edge", "get", #{ error: false, duration: ge("5ms"), tags: #{ response_flags: "DI,FI", "http.status_code": "429" } }),
    #{ name: "the fault filter answers" });"#;
    let (report, backend) = run_text("fault-filter.rhai", text).await;
    backend.stop().await;
    assert!(report.passed, "{}", render(&report));
    assert_eq!(report.traffic[0].summary.statuses["429"], 2);
}

#[tokio::test]
async fn parallel_calls_overlap_in_time() {
    let text = r#"
service("api", #{ routes: [route("/", #{ calls: [parallel([
    request("a", "/", #{ operation: "callA" }),
    request("b", "/", #{ operation: "callB" }),
])] })] });
service("a", #{ routes: [route("/", #{ latency: "100ms" })] });
service("b", #{ routes: [route("/", #{ latency: "100ms" })] });
traffic("t", #{ requests: 1, path: "/" });"#;
    let (report, backend) = run_text("parallel.rhai", text).await;
    assert!(report.passed, "{}", render(&report));
    let client = backend.client().unwrap();
    let traces = client
        .find_traces(&TraceQuery::for_service("api".to_string()))
        .await
        .unwrap();
    backend.stop().await;
    assert_eq!(traces.len(), 1);
    let span = |op: &str| {
        traces[0]
            .spans
            .iter()
            .find(|s| s.operation_name == op && s.kind() == Some("client"))
            .unwrap_or_else(|| panic!("no client span {op}"))
    };
    let (a, b) = (span("callA"), span("callB"));
    assert!(
        a.start_time < b.start_time + b.duration && b.start_time < a.start_time + a.duration,
        "callA {}+{} and callB {}+{} do not overlap",
        a.start_time,
        a.duration,
        b.start_time,
        b.duration
    );
}

#[test]
fn failing_duration_and_count_expectations_name_the_trace_and_the_values() {
    let text = r#"
service("app", #{ routes: [route("/", #{ latency: "2ms" })] });
traffic("t", #{ requests: 3, path: "/" });
expect_duration("t", #{ p50: gt("10s") });
expect_spans("t", span("app", "*", #{ kind: "server" }), #{ count: 2 });"#;
    let (_dir, path) = scratch_scenario("fails.rhai", text);
    let out = tracelab(&[path_str(&path)]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("✘ trace duration of \"t\": p50 > 10s"),
        "{text}"
    );
    assert!(text.contains("expected: p50 > 10s"), "{text}");
    assert!(text.contains("observed: p50 = "), "{text}");
    assert!(text.contains("fails.rhai:4:1"), "{text}");
    assert!(
        text.contains("✘ every trace of \"t\" has exactly 2 spans app * (server)"),
        "{text}"
    );
    assert!(text.contains("observed: 1 such span"), "{text}");
    assert_eq!(text.matches("        trace ").count(), 4, "{text}");
}
