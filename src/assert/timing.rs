//! `expect_duration`: bounds on the durations of a block's traces (or of
//! the spans a selector picks): every one of them, min, max, mean and
//! nearest-rank percentiles. A failing percentile names the trace at that
//! rank, so the report points at a slow example.

use std::time::Duration;

use super::counts::matching_spans;
use super::tree::TraceTree;
use super::{BlockView, Failure, Outcome, SHOWN};
use crate::jaeger::model::Trace;
use crate::scenario::model::{DurationBound, Measured, Statistic, format_duration};
use crate::traffic::stats::nearest_rank_index;

/// One measured duration and where it comes from.
#[derive(Debug, Clone)]
pub struct Sample {
    pub duration: Duration,
    pub trace_id: String,
    /// The span's label and id, when spans are measured.
    pub span: Option<String>,
}

/// A trace's duration: from its earliest span start to its latest span end.
pub fn trace_duration(trace: &Trace) -> Duration {
    let start = trace.spans.iter().map(|s| s.start_time).min().unwrap_or(0);
    let end = trace
        .spans
        .iter()
        .map(|s| s.start_time + s.duration)
        .max()
        .unwrap_or(0);
    Duration::from_micros(end.saturating_sub(start))
}

pub fn samples(block: &BlockView<'_>, measured: &Measured) -> Vec<Sample> {
    match measured {
        Measured::Traces => block
            .traces
            .iter()
            .map(|t| Sample {
                duration: trace_duration(t),
                trace_id: t.trace_id.clone(),
                span: None,
            })
            .collect(),
        Measured::Spans(selector) => block
            .traces
            .iter()
            .flat_map(|t| {
                let tree = TraceTree::new(t);
                matching_spans(selector, &tree)
                    .into_iter()
                    .map(|n| {
                        let node = &tree.nodes[n];
                        Sample {
                            duration: Duration::from_micros(node.span.duration),
                            trace_id: t.trace_id.clone(),
                            span: Some(format!("{} [{}]", node.label(), node.span.span_id)),
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
    }
}

pub fn durations(
    outcome: &mut Outcome,
    block: &BlockView<'_>,
    measured: &Measured,
    bounds: &[DurationBound],
) {
    let mut samples = samples(block, measured);
    samples.sort_by_key(|s| s.duration);
    let what = match measured {
        Measured::Traces => "traces".to_string(),
        Measured::Spans(selector) => format!("spans {}", selector.describe()),
    };
    if samples.is_empty() {
        outcome.passed = false;
        outcome.observed = format!("no {what} to measure");
        outcome.failure_count = 1;
        outcome.failures.push(Failure {
            trace_id: None,
            request_id: None,
            span: None,
            expected: bounds
                .iter()
                .map(|b| format!("{} {}", b.statistic, b.test))
                .collect::<Vec<_>>()
                .join(", "),
            observed: format!("no {what} of this traffic reached the collector"),
        });
        return;
    }
    let mut seen = Vec::new();
    outcome.passed = true;
    for bound in bounds {
        match bound.statistic {
            Statistic::Each => {
                let failing: Vec<&Sample> = samples
                    .iter()
                    .filter(|s| !bound.test.holds(s.duration))
                    .collect();
                seen.push(format!(
                    "{} of {} {what} {}",
                    samples.len() - failing.len(),
                    samples.len(),
                    bound.test
                ));
                if !failing.is_empty() {
                    outcome.passed = false;
                    outcome.failure_count += failing.len();
                    for s in failing.iter().take(SHOWN) {
                        outcome.failures.push(failure(
                            s,
                            format!("duration {}", bound.test),
                            format!("duration {}", format_duration(s.duration)),
                        ));
                    }
                }
            }
            statistic => {
                let (value, example) = statistic_of(&samples, statistic);
                seen.push(format!("{statistic} {}", format_duration(value)));
                if !bound.test.holds(value) {
                    outcome.passed = false;
                    outcome.failure_count += 1;
                    let expected = format!("{statistic} {}", bound.test);
                    let observed = format!(
                        "{statistic} = {} over {} {what}",
                        format_duration(value),
                        samples.len()
                    );
                    outcome.failures.push(match example {
                        Some(s) => failure(s, expected, observed),
                        None => Failure {
                            trace_id: None,
                            request_id: None,
                            span: None,
                            expected,
                            observed,
                        },
                    });
                }
            }
        }
    }
    seen.dedup();
    outcome.observed = format!("{} ({} {what})", seen.join(" · "), samples.len());
}

/// The statistic's value over `sorted` (not empty) and the sample it is,
/// when it is one sample's value.
fn statistic_of(sorted: &[Sample], statistic: Statistic) -> (Duration, Option<&Sample>) {
    let at = |i: usize| (sorted[i].duration, Some(&sorted[i]));
    match statistic {
        Statistic::Min => at(0),
        Statistic::Max => at(sorted.len() - 1),
        Statistic::Percentile(pct) => at(nearest_rank_index(sorted.len(), pct)),
        Statistic::Mean | Statistic::Each => {
            let total: Duration = sorted.iter().map(|s| s.duration).sum();
            (total / sorted.len() as u32, None)
        }
    }
}

fn failure(sample: &Sample, expected: String, observed: String) -> Failure {
    Failure {
        trace_id: Some(sample.trace_id.clone()),
        request_id: None,
        span: sample.span.clone(),
        expected,
        observed,
    }
}
