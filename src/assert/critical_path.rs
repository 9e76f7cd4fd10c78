//! `expect_critical_path`: bounds on a service's (or some spans') part of
//! each trace's critical path, as [`crate::analysis::critical_path`]
//! computes it (Jaeger UI's algorithm), and on their self time.
//!
//! Judged trace by trace ([`PathJudge::add`]) keeping only counts, the
//! range of shares seen and the first failures, so it streams. A trace
//! without any of the spans the expectation is about fails it (the part it
//! bounds is not there to judge), as does a block without traces.

use std::time::Duration;

use super::counts::matching_spans;
use super::responses::BlockCounts;
use super::tree::TraceTree;
use super::{Accumulate, Failure, Kept, Outcome, Unit};
use crate::analysis::critical_path::{TraceTimes, service_of};
use crate::jaeger::model::Trace;
use crate::scenario::model::{CriticalPathCheck, PathPart, counted, format_duration, percent};

/// The verdict so far, one trace at a time.
pub struct PathJudge<'a> {
    outcome: Outcome,
    check: &'a CriticalPathCheck,
    shown: usize,
    traces: usize,
    passed: usize,
    /// The smallest and largest share seen in traces with the part.
    shares: Option<(f64, f64)>,
    failures: Vec<Failure>,
    failure_count: usize,
}

impl<'a> PathJudge<'a> {
    pub fn new(outcome: Outcome, check: &'a CriticalPathCheck, shown: usize) -> PathJudge<'a> {
        PathJudge {
            outcome,
            check,
            shown,
            traces: 0,
            passed: 0,
            shares: None,
            failures: Vec::new(),
            failure_count: 0,
        }
    }

    fn add_trace(&mut self, trace: &Trace) {
        self.traces += 1;
        let check = self.check;
        let members: Vec<usize> = match &check.part {
            PathPart::Service(name) => (0..trace.spans.len())
                .filter(|&i| service_of(trace, i) == name)
                .collect(),
            PathPart::Spans(selector) => matching_spans(selector, &TraceTree::new(trace)),
        };
        if members.is_empty() {
            self.fail(Failure {
                trace_id: Some(trace.trace_id.clone()),
                expected: expected(check),
                observed: format!("no span of {} in this trace", check.part),
                ..Failure::default()
            });
            return;
        }
        let times = TraceTimes::of(trace);
        let total = times.total_critical_us();
        let on: u64 = members.iter().map(|&i| times.critical_us[i]).sum();
        let share = if total == 0 {
            0.0
        } else {
            on as f64 / total as f64
        };
        self.shares = Some(match self.shares {
            None => (share, share),
            Some((low, high)) => (low.min(share), high.max(share)),
        });
        let mut wrong = Vec::new();
        let held = format!(
            "{} holds {} of the critical path ({} of {})",
            check.part,
            percent(share),
            format_duration(Duration::from_micros(on)),
            format_duration(Duration::from_micros(total))
        );
        if check.share.iter().any(|t| !t.holds(share))
            || check
                .time
                .iter()
                .any(|t| !t.holds(Duration::from_micros(on)))
        {
            wrong.push(held);
        }
        // The first span whose self time is out of bounds, with its place.
        let mut span = None;
        let mut span_ids = Vec::new();
        for test in &check.self_time {
            if let Some(&i) = members
                .iter()
                .find(|&&i| !test.holds(Duration::from_micros(times.self_us[i])))
            {
                let node = &TraceTree::new(trace).nodes[i];
                span = Some(format!("{} [{}]", node.label(), node.span.span_id));
                span_ids.push(node.span.span_id.clone());
                wrong.push(format!(
                    "self time {}",
                    format_duration(Duration::from_micros(times.self_us[i]))
                ));
                break;
            }
        }
        if wrong.is_empty() {
            self.passed += 1;
        } else {
            self.fail(Failure {
                trace_id: Some(trace.trace_id.clone()),
                span,
                expected: expected(check),
                observed: wrong.join("; "),
                span_ids,
                ..Failure::default()
            });
        }
    }

    fn fail(&mut self, failure: Failure) {
        self.failure_count += 1;
        if self.failures.len() < self.shown {
            self.failures.push(failure);
        }
    }

    fn finish_outcome(self) -> Outcome {
        let mut outcome = self.outcome;
        if self.traces == 0 {
            outcome.passed = false;
            outcome.observed = "no traces".into();
            outcome.failure_count = 1;
            outcome
                .failures
                .push(Failure::no_traces(expected(self.check)));
            return outcome;
        }
        outcome.passed = self.passed == self.traces;
        let range = match self.shares {
            Some((low, high)) if low == high => format!("; its share {}", percent(low)),
            Some((low, high)) => format!("; its share {} to {}", percent(low), percent(high)),
            None => String::new(),
        };
        outcome.observed = format!(
            "{} of {} hold{range}",
            self.passed,
            counted(self.traces as u64, "trace")
        );
        outcome.failure_count = self.failure_count;
        outcome.failures = self.failures;
        outcome
    }
}

impl Accumulate for PathJudge<'_> {
    fn add(&mut self, unit: &Unit<'_>, kept: &mut Kept) {
        for trace in unit.new {
            let before = self.failures.len();
            self.add_trace(trace);
            if self.failures.len() > before {
                kept.keep(trace);
            }
        }
    }

    fn failed_for_sure(&self) -> bool {
        self.failure_count > 0
    }

    fn finish(self: Box<Self>, _: &BlockCounts) -> Vec<Outcome> {
        vec![self.finish_outcome()]
    }
}

/// "share of the critical path <= 50%, self time >= 20ms".
pub fn expected(check: &CriticalPathCheck) -> String {
    let mut parts: Vec<String> = Vec::new();
    parts.extend(
        check
            .share
            .iter()
            .map(|t| format!("share of the critical path {t}")),
    );
    parts.extend(
        check
            .time
            .iter()
            .map(|t| format!("time on the critical path {t}")),
    );
    parts.extend(check.self_time.iter().map(|t| format!("self time {t}")));
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::critical_path::tests::fan_out;
    use crate::assert::tests::{expecting, gathered, judge as evaluate, run};
    use crate::assert::tree::tests::pat;
    use crate::scenario::model::{Check, CompareOp, DurationTest, ShareTest};

    fn share(op: CompareOp, bound: f64) -> ShareTest {
        ShareTest { op, bound }
    }

    fn micros(op: CompareOp, us: u64) -> DurationTest {
        DurationTest {
            op,
            bound: Duration::from_micros(us),
        }
    }

    fn check(part: PathPart) -> CriticalPathCheck {
        CriticalPathCheck {
            part,
            share: vec![],
            time: vec![],
            self_time: vec![],
        }
    }

    fn outcome(c: CriticalPathCheck, traces: usize) -> Outcome {
        let ids: Vec<String> = (0..traces).map(|i| format!("r{i}")).collect();
        let g = gathered(ids.iter().map(|id| (id.as_str(), fan_out())).collect());
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        evaluate(expecting(Check::CriticalPath(c)), &g, &run(&refs))
    }

    #[test]
    fn a_services_share_is_bounded_in_every_trace() {
        // The hand-computed fan-out path: pricing holds 36 of 100 µs.
        let mut c = check(PathPart::Service("pricing".into()));
        c.share = vec![share(CompareOp::Ge, 0.3), share(CompareOp::Le, 0.4)];
        let o = outcome(c.clone(), 2);
        assert!(o.passed, "{o:?}");
        assert_eq!(o.observed, "2 of 2 traces hold; its share 36%");

        c.share = vec![share(CompareOp::Lt, 0.25)];
        let o = outcome(c, 2);
        assert!(!o.passed);
        assert_eq!(o.failure_count, 2);
        assert_eq!(o.failures[0].expected, "share of the critical path < 25%");
        assert_eq!(
            o.failures[0].observed,
            "pricing holds 36% of the critical path (36µs of 100µs)"
        );
    }

    #[test]
    fn spans_off_the_path_hold_none_of_it_and_time_is_bounded_too() {
        let mut c = check(PathPart::Spans(
            pat("catalog", "getItem", "server", vec![]).into(),
        ));
        c.share = vec![share(CompareOp::Le, 0.0)];
        c.time = vec![micros(CompareOp::Lt, 1)];
        assert!(outcome(c, 1).passed, "catalog finished early: off the path");
    }

    #[test]
    fn self_time_is_bounded_per_span_and_the_first_offender_is_named() {
        let mut c = check(PathPart::Service("api".into()));
        c.self_time = vec![micros(CompareOp::Le, 10)];
        let o = outcome(c, 1);
        assert!(!o.passed);
        assert_eq!(
            o.failures[0].span.as_deref(),
            Some("api productPage (server) [api]")
        );
        assert_eq!(o.failures[0].observed, "self time 22µs");
        assert_eq!(o.failures[0].expected, "self time <= 10µs");
    }

    #[test]
    fn a_trace_without_the_part_or_a_block_without_traces_fails() {
        let mut c = check(PathPart::Service("nowhere".into()));
        c.share = vec![share(CompareOp::Le, 1.0)];
        let o = outcome(c.clone(), 1);
        assert!(
            !o.passed,
            "a bound that always holds still needs the service"
        );
        assert_eq!(o.failures[0].observed, "no span of nowhere in this trace");
        let o = outcome(c, 0);
        assert!(!o.passed);
        assert_eq!(o.observed, "no traces");
    }
}
