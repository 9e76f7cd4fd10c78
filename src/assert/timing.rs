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
    pub span_id: Option<String>,
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
                span_id: None,
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
                            span_id: Some(node.span.span_id.clone()),
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
            ..Failure::default()
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
                            ..Failure::default()
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
        pattern_path: None,
        span_ids: sample.span_id.iter().cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::trace_duration;
    use crate::assert::tests::{expecting, gathered, judge, run};
    use crate::assert::tree::tests::{pat, sandbox_trace};
    use crate::jaeger::model::Trace;
    use crate::scenario::model::{
        Check, CompareOp, DurationBound, DurationTest, Measured, Statistic,
    };

    /// The sandbox trace lasting `ms` milliseconds (its root's duration).
    fn lasting(ms: u64) -> Trace {
        let mut t = sandbox_trace();
        t.spans[0].duration = ms * 1000;
        t
    }

    fn bound(statistic: Statistic, op: CompareOp, ms: u64) -> DurationBound {
        DurationBound {
            statistic,
            test: DurationTest {
                op,
                bound: Duration::from_millis(ms),
            },
        }
    }

    fn durations(bounds: Vec<DurationBound>, traces: Vec<Trace>) -> crate::assert::Outcome {
        let ids: Vec<String> = (0..traces.len()).map(|i| format!("r{i}")).collect();
        let pairs: Vec<(&str, Trace)> = ids.iter().map(String::as_str).zip(traces).collect();
        let g = gathered(pairs);
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        judge(
            expecting(Check::Duration {
                measured: Measured::Traces,
                bounds,
            }),
            &g,
            &run(&id_refs),
        )
    }

    #[test]
    fn a_trace_lasts_from_its_first_start_to_its_last_end() {
        let mut t = sandbox_trace();
        t.spans[0].start_time = 1_000;
        t.spans[0].duration = 10;
        t.spans[3].start_time = 1_500;
        t.spans[3].duration = 500;
        assert_eq!(trace_duration(&t), Duration::from_micros(1_000));
    }

    #[test]
    fn percentiles_pass_and_fail_naming_the_trace_at_that_rank() {
        let traces: Vec<Trace> = (1..=10).map(lasting).collect();
        let ok = durations(
            vec![bound(Statistic::Percentile(90.0), CompareOp::Lt, 10)],
            traces.clone(),
        );
        assert!(ok.passed, "{ok:?}");
        let o = durations(
            vec![bound(Statistic::Percentile(90.0), CompareOp::Lt, 9)],
            traces,
        );
        assert!(!o.passed);
        assert_eq!(o.failures[0].expected, "p90 < 9ms");
        assert_eq!(o.failures[0].observed, "p90 = 9ms over 10 traces");
        // 1..=10 ms in trace-0..trace-9: the 9th fastest is trace-8.
        assert_eq!(o.failures[0].trace_id.as_deref(), Some("trace-8"));
    }

    #[test]
    fn each_fails_for_every_trace_outside_the_bound() {
        let o = durations(
            vec![bound(Statistic::Each, CompareOp::Le, 5)],
            (1..=8).map(lasting).collect(),
        );
        assert!(!o.passed);
        assert_eq!(o.failure_count, 3);
        assert_eq!(o.failures[0].expected, "duration <= 5ms");
        assert_eq!(o.failures[0].observed, "duration 6ms");
        assert_eq!(o.observed, "5 of 8 traces <= 5ms (8 traces)");
    }

    #[test]
    fn min_max_and_mean_are_judged() {
        let traces = vec![lasting(2), lasting(4), lasting(9)];
        let cases = [
            (bound(Statistic::Min, CompareOp::Ge, 2), true),
            (bound(Statistic::Min, CompareOp::Gt, 2), false),
            (bound(Statistic::Max, CompareOp::Lt, 10), true),
            (bound(Statistic::Max, CompareOp::Lt, 9), false),
            (bound(Statistic::Mean, CompareOp::Le, 5), true),
            (bound(Statistic::Mean, CompareOp::Lt, 5), false),
        ];
        for (b, passes) in cases {
            let o = durations(vec![b.clone()], traces.clone());
            assert_eq!(o.passed, passes, "{b:?}: {o:?}");
        }
        let mean = durations(vec![bound(Statistic::Mean, CompareOp::Lt, 5)], traces);
        assert_eq!(mean.failures[0].trace_id, None, "a mean is no one trace");
    }

    #[test]
    fn a_span_selector_measures_only_its_spans() {
        let mut t = lasting(50);
        t.spans[3].duration = 7_000; // service2's server span: 7 ms
        let g = gathered(vec![("r1", t)]);
        let o = judge(
            expecting(Check::Duration {
                measured: Measured::Spans(pat("service2", "checkStock", "server", vec![]).into()),
                bounds: vec![bound(Statistic::Max, CompareOp::Lt, 5)],
            }),
            &g,
            &run(&["r1"]),
        );
        assert!(!o.passed);
        assert_eq!(
            o.failures[0].observed,
            "max = 7ms over 1 spans service2 checkStock (server)"
        );
        assert_eq!(
            o.failures[0].span.as_deref(),
            Some("service2 checkStock (server) [d]")
        );
    }

    #[test]
    fn nothing_to_measure_fails() {
        let o = durations(vec![bound(Statistic::Max, CompareOp::Lt, 5)], vec![]);
        assert!(!o.passed);
        assert!(o.failures[0].observed.contains("no traces"));
    }
}
