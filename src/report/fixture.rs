//! A fixed report model for the renderers' tests: one passing scenario, one
//! failing one (a misspelt span, a request split over two traces), and a
//! trace asked for with `--show-trace`; every optional field filled once.
//! Beside them, runs an error or an interrupt cut short.

use std::collections::BTreeMap;

use super::compare::{TreeComparison, TreeLine};
use super::model::{
    AbortKind, Aborted, CollectorInfo, ComponentInfo, RunReport, ScenarioReport, ShownReason,
    ShownTrace, TraceStats, TrafficReport,
};
use super::waterfall::Waterfall;
use super::waterfall::tests::timed_sandbox_trace;
use crate::analysis::span_stats::SpanStatsBuilder;
use crate::assert::{Failure, Outcome, OutcomeSource};
use crate::mesh::telemetry::DeliveryStats;
use crate::traffic::stats::{Percentiles, TrafficSummary};

fn scenario(name: &str, file: &str) -> ScenarioReport {
    ScenarioReport {
        name: name.into(),
        file: file.into(),
        collector: CollectorInfo {
            kind: "embedded".into(),
            query_url: "http://127.0.0.1:16686".into(),
            otlp_traces_url: "http://127.0.0.1:16686/v1/traces".into(),
            otlp_protocol: Default::default(),
        },
        components: vec![
            component("front-proxy", "proxy", 8000),
            component("service1", "service", 8001),
            component("service2", "service", 8002),
        ],
        traffic: vec![TrafficReport {
            name: "sandbox".into(),
            target: "front-proxy".into(),
            summary: TrafficSummary {
                requests: 2,
                statuses: BTreeMap::from([("200".to_string(), 2)]),
                errors: 0,
                requests_per_second: 400.0,
                elapsed_ms: 5.0,
                latency_ms: Percentiles {
                    p50: 1.5,
                    p90: 2.25,
                    p99: 2.25,
                    max: 2.25,
                },
                schedule: None,
            },
            trace_ids: vec!["4bf92f3577b34da6".into(), "00f067aa0ba902b7".into()],
        }],
        traces: TraceStats {
            traces: 2,
            spans: 8,
            complete: true,
            evicted: 0,
            waited_ms: 120.0,
            polls: 2,
            incomplete: 0,
        },
        spans: {
            let mut stats = SpanStatsBuilder::default();
            stats.add(&timed_sandbox_trace());
            stats.finish()
        },
        delivery: DeliveryStats {
            ended: 8,
            delivered: 8,
            failed: 0,
            rejected: 0,
            last_error: None,
        },
        outcomes: vec![
            Outcome {
                name: "the 4-span chain".into(),
                source: OutcomeSource::Expectation {
                    line: 41,
                    column: 1,
                    module: None,
                },
                traffic: "sandbox".into(),
                passed: true,
                observed: "2 of 2 traces match".into(),
                failures: vec![],
                failure_count: 0,
            },
            Outcome {
                name: "each request is one trace".into(),
                source: OutcomeSource::Integrity {
                    check: "integrity.propagation",
                },
                traffic: "sandbox".into(),
                passed: true,
                observed: "2 of 2 requests are one trace".into(),
                failures: vec![],
                failure_count: 0,
            },
        ],
        shown_trace: Some(ShownTrace {
            reason: ShownReason::Slowest,
            waterfall: Waterfall::of(&timed_sandbox_trace()),
        }),
        comparisons: vec![],
        warnings: vec![],
        passed: true,
        interrupted: false,
        duration_ms: 250.0,
    }
}

fn component(name: &str, role: &str, port: u16) -> ComponentInfo {
    ComponentInfo {
        name: name.into(),
        role: role.into(),
        address: format!("127.0.0.1:{port}"),
    }
}

fn line(depth: usize, label: &str, marked: bool) -> TreeLine {
    TreeLine {
        depth,
        label: label.into(),
        marked,
    }
}

pub fn passing() -> ScenarioReport {
    scenario("jaeger-tracing sandbox", "scenarios/jaeger.rhai")
}

pub fn failing() -> ScenarioReport {
    let mut s = scenario("misspelt", "wrong.rhai");
    s.passed = false;
    s.shown_trace = None;
    s.delivery.last_error = Some("connection refused".into());
    s.warnings = vec!["1 of 8 spans did not reach the collector".into()];
    s.outcomes[0].passed = false;
    s.outcomes[0].observed = "0 of 2 traces match".into();
    s.outcomes[0].failure_count = 2;
    s.outcomes[0].failures = vec![Failure {
        trace_id: Some("4bf92f3577b34da6".into()),
        request_id: None,
        span: Some("service1 checkStock (client) [c]".into()),
        expected: "children: service2 checkStok (server)".into(),
        observed: "no child service2 checkStok (server); instead: service2 checkStock (server)"
            .into(),
        pattern_path: Some(vec![0, 0, 0]),
        span_ids: vec!["d".into()],
    }];
    s.outcomes[1].passed = false;
    s.outcomes[1].observed = "1 of 2 requests are one trace".into();
    s.outcomes[1].failure_count = 1;
    s.outcomes[1].failures = vec![Failure {
        trace_id: Some("aa, bb".into()),
        request_id: Some("r-2".into()),
        expected: "1 trace".into(),
        observed: "2 traces: propagation broke".into(),
        ..Failure::default()
    }];
    s.comparisons = vec![TreeComparison {
        outcome: 0,
        trace_id: "4bf92f3577b34da6".into(),
        expected: vec![
            line(0, "front-proxy checkAvailability (client)", false),
            line(1, "service1 checkAvailability (server)", false),
            line(2, "service1 checkStock (client)", false),
            line(3, "service2 checkStok (server)", true),
        ],
        actual: vec![
            line(0, "front-proxy checkAvailability (client)", false),
            line(1, "service1 checkAvailability (server)", false),
            line(2, "service1 checkStock (client)", false),
            line(3, "service2 checkStock (server)", true),
        ],
    }];
    s
}

/// Both scenarios, and a trace asked for with `--show-trace`.
pub fn run() -> RunReport {
    let mut report = RunReport::new(vec![passing(), failing()]);
    report.shown_trace = Some(ShownTrace {
        reason: ShownReason::Requested,
        waterfall: Waterfall::of(&timed_sandbox_trace()),
    });
    report.warnings.push("a run-level warning".into());
    report
}

/// The passing scenario, then a closure that failed while the next one's
/// traces were judged, with one more scenario left unrun.
pub fn aborted() -> RunReport {
    let mut report = RunReport::new(vec![passing()]);
    report.passed = false;
    report.warnings.push(
        "an error in closures (closures.rhai) stopped the run: 1 of 3 scenarios did not run".into(),
    );
    report.aborted = Some(Aborted {
        scenario: Some("closures".into()),
        file: Some("closures.rhai".into()),
        kind: AbortKind::Script,
        message: "closures.rhai:11:19: span(\"*\", \"*\"): where: the closure failed".into(),
        not_run: 1,
    });
    report
}

/// The passing scenario, then the failing one cut short by Ctrl-C, with
/// one more scenario left unrun.
pub fn interrupted() -> RunReport {
    let mut cut = failing();
    cut.interrupted = true;
    cut.warnings.insert(
        0,
        "interrupted: 2 of 10 requests sent; the checks judged what arrived from them".into(),
    );
    let mut report = RunReport::new(vec![passing(), cut]);
    report.interrupted = true;
    report.passed = false;
    report
        .warnings
        .push("interrupted: 1 of 3 scenarios did not run".into());
    report
}
