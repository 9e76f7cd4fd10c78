//! Checks every trace of a traffic block must pass whatever the scenario
//! expects: one trace per request (else propagation broke), a trace for
//! every sampled request, one root, no orphans, unique span ids, children
//! inside their parent's time window. A scenario switches any of them off
//! with `integrity(...)`; switched-off checks leave no outcome.

use std::collections::HashSet;
use std::time::Duration;

use super::tree::TraceTree;
use super::{BlockView, Failure, Outcome, OutcomeSource};
use crate::scenario::model::{IntegrityChecks, format_duration};

/// Clocks round to microseconds, and Jaeger adds its own adjustments: a
/// child may overhang its parent by this much before it counts.
pub const TIME_WINDOW_SLACK_US: u64 = 1_000;

/// Failures listed per outcome; the count says how many there were.
const SHOWN: usize = 5;

pub fn check(block: &BlockView<'_>, on: &IntegrityChecks) -> Vec<Outcome> {
    let mut out = Vec::new();
    if on.propagation {
        out.push(one_trace_per_request(block));
    }
    if on.complete {
        out.push(every_sampled_request_has_a_trace(block));
    }
    if on.single_root {
        out.push(single_root(block));
    }
    if on.orphans {
        out.push(no_orphans(block));
    }
    if on.unique_span_ids {
        out.push(unique_span_ids(block));
    }
    if on.time_window {
        out.push(time_window(block));
    }
    out
}

fn single_root(block: &BlockView<'_>) -> Outcome {
    per_trace(
        block,
        "one root span per trace",
        "integrity.single_root",
        |tree| {
            (tree.roots.len() != 1).then(|| {
                let roots = tree
                    .roots
                    .iter()
                    .map(|&r| tree.nodes[r].label())
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    None,
                    "1 root".to_string(),
                    format!("{} roots: {roots}", tree.roots.len()),
                )
            })
        },
    )
}

fn no_orphans(block: &BlockView<'_>) -> Outcome {
    per_trace(block, "no orphan spans", "integrity.no_orphans", |tree| {
        tree.orphans.first().map(|&o| {
            let span = tree.nodes[o].span;
            (
                Some(format!("{} [{}]", tree.nodes[o].label(), span.span_id)),
                format!(
                    "parent {} in the trace",
                    span.parent_span_id().unwrap_or("?")
                ),
                "parent missing".to_string(),
            )
        })
    })
}

fn unique_span_ids(block: &BlockView<'_>) -> Outcome {
    per_trace(
        block,
        "unique span ids",
        "integrity.unique_span_ids",
        |tree| {
            let mut seen = HashSet::new();
            tree.nodes
                .iter()
                .find(|n| !seen.insert(n.span.span_id.as_str()))
                .map(|n| {
                    (
                        Some(n.span.span_id.clone()),
                        "each span id once".to_string(),
                        format!("span id {} more than once", n.span.span_id),
                    )
                })
        },
    )
}

fn time_window(block: &BlockView<'_>) -> Outcome {
    per_trace(
        block,
        "children inside their parent's time window",
        "integrity.time_window",
        |tree| {
            // Times as offsets from the trace's start, as a waterfall shows them.
            let began = tree.nodes.iter().map(|n| n.span.start_time).min()?;
            let at = |us: u64| format_duration(Duration::from_micros(us.saturating_sub(began)));
            tree.nodes.iter().find_map(|n| {
                let parent_node = &tree.nodes[n.parent?];
                let parent = parent_node.span;
                let (child, pstart) = (n.span, parent.start_time);
                let pend = pstart + parent.duration;
                let cend = child.start_time + child.duration;
                let early = child.start_time + TIME_WINDOW_SLACK_US < pstart;
                let late = cend > pend + TIME_WINDOW_SLACK_US;
                (early || late).then(|| {
                    let how = if early {
                        format!(
                            "starts {} before",
                            format_duration(Duration::from_micros(pstart - child.start_time))
                        )
                    } else {
                        format!(
                            "ends {} after",
                            format_duration(Duration::from_micros(cend - pend))
                        )
                    };
                    (
                        Some(format!("{} [{}]", n.label(), child.span_id)),
                        format!(
                            "within its parent {}, from {} to {} into the trace (1 ms of slack)",
                            parent_node.label(),
                            at(pstart),
                            at(pend)
                        ),
                        format!(
                            "{} to {} into the trace: it {how} its parent",
                            at(child.start_time),
                            at(cend)
                        ),
                    )
                })
            })
        },
    )
}

fn outcome(block: &BlockView<'_>, name: &str, check: &'static str) -> Outcome {
    Outcome {
        name: name.to_string(),
        source: OutcomeSource::Integrity { check },
        traffic: block.name.to_string(),
        passed: true,
        observed: String::new(),
        failures: Vec::new(),
        failure_count: 0,
    }
}

fn one_trace_per_request(block: &BlockView<'_>) -> Outcome {
    let mut out = outcome(block, "each request is one trace", "integrity.propagation");
    let mut with_traces = 0;
    for record in &block.records {
        let Some(traces) = block.traces_of.get(record.request_id.as_str()) else {
            continue;
        };
        with_traces += 1;
        if traces.len() > 1 {
            out.failure_count += 1;
            if out.failures.len() < SHOWN {
                out.failures.push(Failure {
                    trace_id: Some(
                        traces
                            .iter()
                            .map(|t| t.trace_id.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                    request_id: Some(record.request_id.clone()),
                    span: None,
                    expected: "1 trace".into(),
                    observed: format!("{} traces: propagation broke", traces.len()),
                    ..Failure::default()
                });
            }
        }
    }
    out.passed = out.failure_count == 0;
    out.observed = format!(
        "{} of {with_traces} requests are one trace",
        with_traces - out.failure_count
    );
    out
}

fn every_sampled_request_has_a_trace(block: &BlockView<'_>) -> Outcome {
    let mut out = outcome(
        block,
        "every sampled request has a trace",
        "integrity.complete",
    );
    let sampled: Vec<_> = block.records.iter().filter(|r| r.sampled).collect();
    for record in &sampled {
        if !block.traces_of.contains_key(record.request_id.as_str()) {
            out.failure_count += 1;
            if out.failures.len() < SHOWN {
                out.failures.push(Failure {
                    trace_id: record.trace_id.clone(),
                    request_id: Some(record.request_id.clone()),
                    span: None,
                    expected: "a trace in the collector".into(),
                    observed: match record.status {
                        Some(s) => format!("none (the request answered {s})"),
                        None => "none (the request got no response)".into(),
                    },
                    ..Failure::default()
                });
            }
        }
    }
    out.passed = out.failure_count == 0;
    out.observed = format!(
        "{} of {} sampled requests have a trace",
        sampled.len() - out.failure_count,
        sampled.len()
    );
    out
}

/// A check applied to each trace: `find` returns (span, expected, observed)
/// for the first problem in a trace.
fn per_trace(
    block: &BlockView<'_>,
    name: &str,
    check: &'static str,
    find: impl Fn(&TraceTree<'_>) -> Option<(Option<String>, String, String)>,
) -> Outcome {
    let mut out = outcome(block, name, check);
    for trace in &block.traces {
        let tree = TraceTree::new(trace);
        if let Some((span, expected, observed)) = find(&tree) {
            out.failure_count += 1;
            if out.failures.len() < SHOWN {
                out.failures.push(Failure {
                    trace_id: Some(trace.trace_id.clone()),
                    request_id: None,
                    span,
                    expected,
                    observed,
                    ..Failure::default()
                });
            }
        }
    }
    out.passed = out.failure_count == 0;
    out.observed = format!(
        "{} of {} traces pass",
        block.traces.len() - out.failure_count,
        block.traces.len()
    );
    out
}

/// The failed check a block gets when the embedded collector evicted
/// traces during the run and the traces read back do not hold every span
/// delivered: its checks judged what eviction left, so they cannot pass.
pub fn kept_by_the_collector(block: &str, evicted: u64, max_traces: usize) -> Outcome {
    run_lost_spans(
        block,
        "the collector kept every trace",
        "collector.max_traces",
        format!("traces evicted {evicted} times at max traces {max_traces}"),
        Failure {
            expected: "every trace of the run kept until judged".into(),
            observed: format!(
                "the embedded collector evicted the oldest traces {evicted} times; \
                 this run's traces may be missing or partial: raise --max-traces"
            ),
            ..Failure::default()
        },
    )
}

/// The failed check a block gets when spans of the run never reached the
/// collector (retries included): its checks judged partial traces.
pub fn delivered_to_the_collector(block: &str, undelivered: u64, ended: u64) -> Outcome {
    run_lost_spans(
        block,
        "every span reached the collector",
        "collector.delivery",
        format!("{undelivered} of {ended} spans not delivered"),
        Failure {
            expected: "every span the components ended, delivered".into(),
            observed: format!(
                "{undelivered} spans were refused or never answered, retries included; \
                 this run's traces may be missing or partial"
            ),
            ..Failure::default()
        },
    )
}

/// A check about the whole run (not about each trace) that failed.
fn run_lost_spans(
    block: &str,
    name: &str,
    check: &'static str,
    observed: String,
    failure: Failure,
) -> Outcome {
    Outcome {
        name: name.into(),
        source: OutcomeSource::Integrity { check },
        traffic: block.to_string(),
        passed: false,
        observed,
        failures: vec![failure],
        failure_count: 1,
    }
}
