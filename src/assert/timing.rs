//! `expect_duration`: bounds on the durations of a block's traces (or of
//! the spans a selector picks): every one of them, min, max, mean and
//! nearest-rank percentiles. A failing percentile names a trace at that
//! rank, so the report points at a slow example.

use std::collections::HashMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::counts::matching_spans;
use super::responses::BlockCounts;
use super::tree::TraceTree;
use super::{Accumulate, Failure, Kept, Outcome, Unit};
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

/// The samples one trace gives: its duration, or each picked span's.
fn samples_of(trace: &Trace, measured: &Measured) -> Vec<Sample> {
    match measured {
        Measured::Traces => vec![Sample {
            duration: trace_duration(trace),
            trace_id: trace.trace_id.clone(),
            span: None,
            span_id: None,
        }],
        Measured::Spans(selector) => {
            let tree = TraceTree::new(trace);
            matching_spans(selector, &tree)
                .into_iter()
                .map(|n| {
                    let node = &tree.nodes[n];
                    Sample {
                        duration: Duration::from_micros(node.span.duration),
                        trace_id: trace.trace_id.clone(),
                        span: Some(format!("{} [{}]", node.label(), node.span.span_id)),
                        span_id: Some(node.span.span_id.clone()),
                    }
                })
                .collect()
        }
    }
}

/// `expect_duration`, one trace at a time. Min, max, mean and `each` are
/// exact; percentiles come from an HDR histogram of microseconds at 3
/// significant digits: the value judged is a real sample's, from the
/// histogram bucket holding the nearest-rank sample, so it is within 0.1%
/// of the exact nearest-rank value (exact below 2.048 ms). Memory is
/// bounded by the buckets, never by the number of samples.
pub struct DurationJudge<'a> {
    outcome: Outcome,
    measured: &'a Measured,
    bounds: &'a [DurationBound],
    shown: usize,
    count: u64,
    sum_us: u128,
    min: Option<Sample>,
    max: Option<Sample>,
    histogram: Histogram<u64>,
    /// The first sample seen in each histogram bucket (by its lowest value).
    examples: HashMap<u64, Sample>,
    /// Per `each` bound (by index): samples outside it, and the first few.
    each_failing: Vec<(u64, Vec<Failure>)>,
}

impl<'a> DurationJudge<'a> {
    pub fn new(
        outcome: Outcome,
        measured: &'a Measured,
        bounds: &'a [DurationBound],
        shown: usize,
    ) -> Self {
        // Up to an hour; longer samples count as an hour in percentiles
        // (min, max and mean stay exact).
        let histogram =
            Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds");
        DurationJudge {
            outcome,
            measured,
            bounds,
            shown,
            count: 0,
            sum_us: 0,
            min: None,
            max: None,
            histogram,
            examples: HashMap::new(),
            each_failing: bounds.iter().map(|_| (0, Vec::new())).collect(),
        }
    }

    /// The nearest-rank sample's bucket, and the example kept for it.
    fn percentile(&self, pct: f64) -> Option<&Sample> {
        let rank = nearest_rank_index(self.count as usize, pct) as u64 + 1;
        let mut seen = 0;
        for v in self.histogram.iter_recorded() {
            seen += v.count_since_last_iteration();
            if seen >= rank {
                let bucket = self.histogram.lowest_equivalent(v.value_iterated_to());
                return self.examples.get(&bucket);
            }
        }
        None
    }
}

impl Accumulate for DurationJudge<'_> {
    fn add(&mut self, unit: &Unit<'_>, kept: &mut Kept) {
        for trace in unit.new {
            for sample in samples_of(trace, self.measured) {
                let us = sample.duration.as_micros() as u64;
                self.count += 1;
                self.sum_us += us as u128;
                self.histogram.saturating_record(us);
                for (bound, (failing, shown)) in self.bounds.iter().zip(&mut self.each_failing) {
                    if bound.statistic == Statistic::Each && !bound.test.holds(sample.duration) {
                        *failing += 1;
                        if shown.len() < self.shown {
                            kept.keep(trace);
                            shown.push(failure(
                                &sample,
                                format!("duration {}", bound.test),
                                format!("duration {}", format_duration(sample.duration)),
                            ));
                        }
                    }
                }
                if self
                    .min
                    .as_ref()
                    .is_none_or(|m| sample.duration < m.duration)
                {
                    self.min = Some(sample.clone());
                }
                if self
                    .max
                    .as_ref()
                    .is_none_or(|m| sample.duration > m.duration)
                {
                    self.max = Some(sample.clone());
                }
                let bucket = self.histogram.lowest_equivalent(us);
                self.examples.entry(bucket).or_insert(sample);
            }
        }
    }

    fn failed_for_sure(&self) -> bool {
        self.each_failing.iter().any(|(n, _)| *n > 0)
    }

    fn finish(self: Box<Self>, _: &BlockCounts) -> Vec<Outcome> {
        let this = *self;
        let mut outcome = this.outcome.clone();
        let what = match this.measured {
            Measured::Traces => "traces".to_string(),
            Measured::Spans(selector) => format!("spans {}", selector.describe()),
        };
        let n = this.count;
        if n == 0 {
            outcome.passed = false;
            outcome.observed = format!("no {what} to measure");
            outcome.failure_count = 1;
            outcome.failures.push(Failure {
                expected: this
                    .bounds
                    .iter()
                    .map(|b| format!("{} {}", b.statistic, b.test))
                    .collect::<Vec<_>>()
                    .join(", "),
                observed: format!("no {what} of this traffic reached the collector"),
                ..Failure::default()
            });
            return vec![outcome];
        }
        let mut seen = Vec::new();
        outcome.passed = true;
        for (bound, (failing, shown)) in this.bounds.iter().zip(&this.each_failing) {
            if bound.statistic == Statistic::Each {
                seen.push(format!("{} of {n} {what} {}", n - failing, bound.test));
                if *failing > 0 {
                    outcome.passed = false;
                    outcome.failure_count += *failing as usize;
                    outcome.failures.extend(shown.iter().cloned());
                }
                continue;
            }
            let (value, example) = match bound.statistic {
                Statistic::Min => (this.min.as_ref().map(|s| s.duration), this.min.as_ref()),
                Statistic::Max => (this.max.as_ref().map(|s| s.duration), this.max.as_ref()),
                Statistic::Percentile(pct) => {
                    let example = this.percentile(pct);
                    (example.map(|s| s.duration), example)
                }
                Statistic::Mean | Statistic::Each => (
                    Some(Duration::from_micros((this.sum_us / n as u128) as u64)),
                    None,
                ),
            };
            let value = value.unwrap_or_default();
            let statistic = bound.statistic;
            seen.push(format!("{statistic} {}", format_duration(value)));
            if !bound.test.holds(value) {
                outcome.passed = false;
                outcome.failure_count += 1;
                let expected = format!("{statistic} {}", bound.test);
                let observed = format!("{statistic} = {} over {n} {what}", format_duration(value));
                outcome.failures.push(match example {
                    Some(s) => failure(s, expected, observed),
                    None => Failure {
                        expected,
                        observed,
                        ..Failure::default()
                    },
                });
            }
        }
        seen.dedup();
        outcome.observed = format!("{} ({n} {what})", seen.join(" · "));
        vec![outcome]
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
