//! Judging each trace as it completes gives the verdict judging everything
//! at the end gives: every scenario in `scenarios/` both ways, check by
//! check, and a failing variant of the sandbox both ways. And
//! `--fail-fast` stops the traffic at the first failed check.

mod common;

use std::process::Command;
use std::sync::Arc;

use tracelab::report::model::ScenarioReport;
use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};

/// Each check's name, block, verdict and failure count.
fn verdicts(report: &ScenarioReport) -> Vec<(String, String, bool, usize)> {
    report
        .outcomes
        .iter()
        .map(|o| (o.name.clone(), o.traffic.clone(), o.passed, o.failure_count))
        .collect()
}

async fn both_ways(scenario: &tracelab::scenario::Scenario) -> (ScenarioReport, ScenarioReport) {
    let streaming = RunSettings::embedded();
    let at_end = RunSettings {
        judge_at_end: true,
        ..RunSettings::embedded()
    };
    let backend = start_backend(&streaming).await.unwrap();
    let a = run_scenario(scenario, &backend, &streaming, Arc::new(Silent))
        .await
        .unwrap();
    let b = run_scenario(scenario, &backend, &at_end, Arc::new(Silent))
        .await
        .unwrap();
    backend.stop().await;
    (a, b)
}

#[tokio::test]
async fn every_scenario_gets_the_same_verdict_streamed_as_judged_at_the_end() {
    let files = common::scenario_files();
    let mut compared = 0;
    for file in &files {
        let scenario = tracelab::scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
        // Programs and external targets are always judged at the end.
        if common::uses_flask_example(&scenario)
            || !scenario.targets.is_empty()
            || scenario.components.iter().any(|c| c.program.is_some())
        {
            continue;
        }
        let (streamed, at_end) = both_ways(&scenario).await;
        assert!(streamed.passed, "{}", file.display());
        assert_eq!(verdicts(&streamed), verdicts(&at_end), "{}", file.display());
        assert_eq!(streamed.traces.traces, at_end.traces.traces);
        compared += 1;
    }
    assert!(compared >= 8, "only {compared} scenarios compared");
}

#[tokio::test]
async fn a_failing_scenario_fails_the_same_checks_on_the_same_traces_either_way() {
    // The sandbox, expecting a response flag its spans never have.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::root().join("scenarios/jaeger.rhai"))
        .unwrap()
        .replace("\"response_flags\": \"-\"", "\"response_flags\": \"UH\"");
    let file = dir.path().join("failing.rhai");
    std::fs::write(&file, text).unwrap();
    let scenario = tracelab::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let (streamed, at_end) = both_ways(&scenario).await;
    assert!(!streamed.passed && !at_end.passed);
    assert_eq!(verdicts(&streamed), verdicts(&at_end));
    let failing = |r: &ScenarioReport| -> Vec<String> {
        let mut ids: Vec<String> = r
            .outcomes
            .iter()
            .filter(|o| !o.passed)
            .flat_map(|o| o.failures.iter().filter_map(|f| f.span.clone()))
            .collect();
        ids.sort();
        ids
    };
    assert!(!failing(&streamed).is_empty());
    assert_eq!(
        failing(&streamed).len(),
        failing(&at_end).len(),
        "as many failures listed"
    );
}

#[test]
fn fail_fast_stops_the_traffic_at_the_first_failed_check() {
    let dir = tempfile::tempdir().unwrap();
    // 2000 requests at 100 a second: 20 s of traffic, against a first
    // failing trace judged a moment after the first answer.
    let text = std::fs::read_to_string(common::root().join("scenarios/jaeger.rhai"))
        .unwrap()
        .replace("\"response_flags\": \"-\"", "\"response_flags\": \"UH\"")
        .replace("requests: 10,", "rate: 100, duration: \"20s\",");
    let file = dir.path().join("failing.rhai");
    std::fs::write(&file, text).unwrap();
    let report = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args(["run", "--fail-fast", "--report"])
        .arg(format!("json={}", report.display()))
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("stopped at the first failed check (--fail-fast)"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let sent = json["scenarios"][0]["traffic"][0]["requests"]
        .as_u64()
        .unwrap();
    assert!(sent < 2000, "{sent} requests sent");
}

/// An open model whose target answers too slowly for the rate waits for
/// places in flight and falls behind its schedule: the run fails saying
/// how late and why, whichever way it judges, and its other checks stand.
#[tokio::test]
async fn an_open_model_that_falls_behind_its_schedule_fails_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.rhai");
    // 600 requests in a second, each answered after 3 s: past the 512 in
    // flight, the rest wait until the first answers, 2 s behind schedule.
    std::fs::write(
        &file,
        r#"scenario("an open model the target cannot keep up with");
service("slow", #{ routes: [route("/slow", #{ latency: "3s" })] });
traffic("burst", #{ rate: 600, duration: "1s", path: "/slow" });
expect_traces("burst", span("slow", "*"), #{ name: "every request traced" });
"#,
    )
    .unwrap();
    let scenario = tracelab::scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let (streamed, at_end) = both_ways(&scenario).await;
    assert_eq!(verdicts(&streamed), verdicts(&at_end));
    for report in [&streamed, &at_end] {
        assert!(!report.passed);
        let failed: Vec<_> = report.outcomes.iter().filter(|o| !o.passed).collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].name, "the traffic kept its schedule");
        let observed = &failed[0].failures[0].observed;
        assert!(observed.contains("places in flight"), "{observed}");
        let schedule = report.traffic[0].summary.schedule.unwrap();
        assert!(schedule.behind_ms > 1000.0, "{schedule:?}");
        assert!(schedule.waited_in_flight > 0, "{schedule:?}");
    }
}

/// A block `--fail-fast` kept from starting is named, since its checks are
/// not in the report at all.
#[test]
fn fail_fast_names_the_traffic_that_never_began() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two-blocks.rhai");
    std::fs::write(
        &file,
        r#"scenario("two blocks, the first fails");
proxy("front-proxy", #{ routes: [route("/*", #{ to: "service1", operation: "checkAvailability" })] });
service("service1", #{ routes: [route("/trace/1", #{})] });
traffic("first", #{ rate: 50, duration: "20s", path: "/trace/1" });
traffic("second", #{ requests: 20, path: "/trace/1" });
expect_traces("first", span("front-proxy", "nope"), #{ name: "first fails" });
expect_traces("second", span("front-proxy", "checkAvailability"), #{ name: "second would pass" });
"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args(["run", "--fail-fast"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("traffic second never began and its checks were not judged"),
        "{text}"
    );
    assert!(!text.contains("second would pass"), "{text}");
}

/// A trace whose wait runs out is judged as it was, counted as
/// incomplete, and its producer is told, so that its late spans are not
/// taken for a trace of their own (which would blame propagation).
#[tokio::test]
async fn a_trace_whose_wait_runs_out_is_judged_incomplete_and_its_producer_is_told() {
    use std::sync::Mutex;
    use std::time::Duration;
    use tracelab::assert::stream::{Producer, Ready, Streamer};
    use tracelab::traffic::RequestRecord;

    /// Spans of every trace are always still to come.
    #[derive(Default)]
    struct NeverWhole(Mutex<Vec<String>>);
    impl Producer for NeverWhole {
        fn ready(&self, _: &str) -> Ready {
            Ready::NotYet
        }
        fn gave_up(&self, trace_id: &str) {
            self.0.lock().unwrap().push(trace_id.to_string());
        }
    }

    let backend = start_backend(&RunSettings::embedded()).await.unwrap();
    let client = backend.client().unwrap();
    let producer = NeverWhole::default();
    let mut streamer = Streamer::new(&client, &producer, Duration::ZERO);
    let trace_id = "0af7651916cd43dd8448eb211c80319c";
    let record = RequestRecord {
        request_id: "r1".into(),
        status: Some(200),
        latency: Duration::ZERO,
        trace_id: Some(trace_id.into()),
        sampled: true,
        error: None,
        interrupted: false,
        sent: None,
    };
    let mut judged = Vec::new();
    streamer.push(0, record, &mut |_, r, _| judged.push(r.request_id.clone()));
    assert!(judged.is_empty(), "a sampled request waits for its trace");
    let mut read = Vec::new();
    streamer
        .poll(&mut |block, r, trace| read.push((block, r.request_id.clone(), trace.is_some())))
        .await
        .unwrap();
    assert_eq!(read, vec![(0, "r1".to_string(), false)]);
    assert_eq!(streamer.stats.incomplete, 1);
    assert_eq!(streamer.pending(), 0);
    assert_eq!(*producer.0.lock().unwrap(), vec![trace_id.to_string()]);
    backend.stop().await;
}
