//! Counting expectations: `expect_spans` (spans matching a selector, per
//! trace or over the block) and `expect_broken` (requests that split into
//! several traces).

use super::responses::BlockCounts;
use super::shape::{quantifier_holds, too_many};
use super::tree::TraceTree;
use super::{Accumulate, Failure, Kept, Outcome, Unit};
use crate::scenario::model::{Count, CountScope, Quantifier, Selector, counted};

/// Spans of `tree` that `selector` picks.
pub fn matching_spans(selector: &Selector, tree: &TraceTree<'_>) -> Vec<usize> {
    super::select::select(selector, tree)
}

/// `expect_spans`: spans a selector picks, per trace or over the block.
pub struct SpanCountJudge<'a> {
    outcome: Outcome,
    selector: &'a Selector,
    count: Count,
    scope: CountScope,
    shown: usize,
    traces: u64,
    /// Over the block: the spans picked in all its traces.
    total: u64,
    /// Per trace: the traces whose count is out of bounds.
    failing: u64,
    failures: Vec<Failure>,
}

impl<'a> SpanCountJudge<'a> {
    pub fn new(
        outcome: Outcome,
        selector: &'a Selector,
        count: Count,
        scope: CountScope,
        shown: usize,
    ) -> Self {
        SpanCountJudge {
            outcome,
            selector,
            count,
            scope,
            shown,
            traces: 0,
            total: 0,
            failing: 0,
            failures: Vec::new(),
        }
    }

    fn expected(&self) -> String {
        format!("{} {}", self.count.of("span"), self.selector.describe())
    }
}

impl Accumulate for SpanCountJudge<'_> {
    fn add(&mut self, unit: &Unit<'_>, kept: &mut Kept) {
        for trace in unit.new {
            self.traces += 1;
            let n = matching_spans(self.selector, &TraceTree::new(trace)).len() as u64;
            self.total += n;
            if self.scope == CountScope::EachTrace && !self.count.holds(n) {
                self.failing += 1;
                if self.failures.len() < self.shown {
                    kept.keep(trace);
                    self.failures.push(Failure {
                        trace_id: Some(trace.trace_id.clone()),
                        expected: self.expected(),
                        observed: counted(n, "such span"),
                        ..Failure::default()
                    });
                }
            }
        }
    }

    fn failed_for_sure(&self) -> bool {
        self.failing > 0
    }

    fn finish(self: Box<Self>, _: &BlockCounts) -> Vec<Outcome> {
        let this = *self;
        let expected = this.expected();
        let mut outcome = this.outcome;
        let traces = this.traces;
        if traces == 0 {
            outcome.passed = false;
            outcome.observed = "no traces".into();
            outcome.failure_count = 1;
            outcome.failures.push(Failure::no_traces(expected));
            return vec![outcome];
        }
        match this.scope {
            CountScope::EachTrace => {
                outcome.passed = this.failing == 0;
                outcome.observed = format!(
                    "{} of {} traces have {}",
                    traces - this.failing,
                    traces,
                    this.count.of("such span")
                );
                outcome.failure_count = this.failing as usize;
                outcome.failures = this.failures;
            }
            CountScope::Traffic => {
                let total = this.total;
                outcome.passed = this.count.holds(total);
                outcome.observed = format!(
                    "{} in {}",
                    counted(total, "such span"),
                    counted(traces, "trace")
                );
                if !outcome.passed {
                    outcome.failure_count = 1;
                    outcome.failures.push(Failure {
                        expected: format!("{expected} in all"),
                        observed: format!("{total} in {}", counted(traces, "trace")),
                        ..Failure::default()
                    });
                }
            }
        }
        vec![outcome]
    }
}

/// `expect_broken`: requests that split into several traces.
pub struct BrokenJudge {
    outcome: Outcome,
    quantifier: Quantifier,
    shown: usize,
    /// Requests with at least one trace (the others say nothing).
    total: u64,
    broken: u64,
    /// The first broken requests and the first whole ones: which are shown
    /// depends on how the quantifier fails.
    broken_shown: Vec<Failure>,
    whole_shown: Vec<Failure>,
}

impl BrokenJudge {
    pub fn new(outcome: Outcome, quantifier: Quantifier, shown: usize) -> Self {
        BrokenJudge {
            outcome,
            quantifier,
            shown,
            total: 0,
            broken: 0,
            broken_shown: Vec::new(),
            whole_shown: Vec::new(),
        }
    }
}

impl Accumulate for BrokenJudge {
    fn add(&mut self, unit: &Unit<'_>, kept: &mut Kept) {
        let traces = unit.traces;
        if traces.is_empty() {
            return;
        }
        self.total += 1;
        let broken = traces.len() > 1;
        self.broken += broken as u64;
        let list = if broken {
            &mut self.broken_shown
        } else {
            &mut self.whole_shown
        };
        if list.len() < self.shown {
            for t in traces {
                kept.keep(t);
            }
            list.push(Failure {
                trace_id: Some(
                    traces
                        .iter()
                        .map(|t| t.trace_id.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                request_id: Some(unit.record.request_id.clone()),
                expected: if broken {
                    "one trace".into()
                } else {
                    "several traces (propagation broken)".into()
                },
                observed: format!("{} trace(s)", traces.len()),
                ..Failure::default()
            });
        }
    }

    fn failed_for_sure(&self) -> bool {
        match self.quantifier {
            Quantifier::All => self.total > self.broken,
            Quantifier::None => self.broken > 0,
            Quantifier::Exactly(n) => self.broken > n,
            Quantifier::Any | Quantifier::AtLeast(_) => false,
        }
    }

    fn finish(self: Box<Self>, _: &BlockCounts) -> Vec<Outcome> {
        let this = *self;
        let (broken, total) = (this.broken, this.total);
        let mut outcome = this.outcome;
        outcome.passed = quantifier_holds(this.quantifier, broken, total);
        outcome.observed = format!("{broken} of {total} requests split into several traces");
        if outcome.passed {
            return vec![outcome];
        }
        let want_broken = !too_many(this.quantifier, broken);
        // Shown: the requests on the wrong side of what the quantifier wants.
        let (count, shown) = if want_broken {
            (total - broken, this.whole_shown)
        } else {
            (broken, this.broken_shown)
        };
        outcome.failure_count = (count as usize).max(1);
        if shown.is_empty() {
            outcome.failures.push(Failure {
                expected: format!("{} broken into several", this.quantifier),
                observed: "no request of this traffic has a trace".into(),
                ..Failure::default()
            });
        }
        outcome.failures.extend(shown);
        vec![outcome]
    }
}

#[cfg(test)]
mod tests {
    use crate::assert::tests::{expecting, gathered, judge, run};
    use crate::assert::tree::tests::{pat, sandbox_trace, trace};
    use crate::scenario::model::{Check, Count, CountScope, Quantifier};

    fn servers() -> crate::scenario::model::SpanPattern {
        let mut p = pat("*", "*", "server", vec![]);
        p.service = None;
        p.operation = None;
        p
    }

    fn count(count: Count, scope: CountScope) -> crate::scenario::model::Expectation {
        expecting(Check::SpanCount {
            selector: servers().into(),
            count,
            scope,
        })
    }

    fn short_trace() -> crate::jaeger::model::Trace {
        trace(&[
            ("a", None, "front-proxy", "checkAvailability", "client"),
            ("b", Some("a"), "service1", "checkAvailability", "server"),
        ])
    }

    #[test]
    fn a_per_trace_count_passes_when_every_trace_has_it() {
        let g = gathered(vec![("r1", sandbox_trace()), ("r2", sandbox_trace())]);
        let o = judge(
            count(Count::Exactly(2), CountScope::EachTrace),
            &g,
            &run(&["r1", "r2"]),
        );
        assert!(o.passed, "{o:?}");
        assert_eq!(o.observed, "2 of 2 traces have exactly 2 such spans");
    }

    #[test]
    fn a_per_trace_count_fails_naming_the_trace_and_its_count() {
        let g = gathered(vec![("r1", sandbox_trace()), ("r2", short_trace())]);
        let o = judge(
            count(Count::Exactly(2), CountScope::EachTrace),
            &g,
            &run(&["r1", "r2"]),
        );
        assert!(!o.passed);
        assert_eq!(o.failure_count, 1);
        assert_eq!(o.failures[0].trace_id.as_deref(), Some("trace-1"));
        assert_eq!(o.failures[0].expected, "exactly 2 spans * * (server)");
        assert_eq!(o.failures[0].observed, "1 such span");
    }

    #[test]
    fn at_least_and_at_most_bound_the_count() {
        let g = gathered(vec![("r1", sandbox_trace())]);
        let r = run(&["r1"]);
        for (c, passes) in [
            (Count::AtLeast(2), true),
            (Count::AtLeast(3), false),
            (Count::AtMost(2), true),
            (Count::AtMost(1), false),
        ] {
            let o = judge(count(c, CountScope::EachTrace), &g, &r);
            assert_eq!(o.passed, passes, "{c:?}: {o:?}");
        }
    }

    #[test]
    fn a_traffic_count_sums_over_the_block() {
        let g = gathered(vec![("r1", sandbox_trace()), ("r2", short_trace())]);
        let r = run(&["r1", "r2"]);
        let o = judge(count(Count::Exactly(3), CountScope::Traffic), &g, &r);
        assert!(o.passed, "{o:?}");
        assert_eq!(o.observed, "3 such spans in 2 traces");
        let o = judge(count(Count::Exactly(4), CountScope::Traffic), &g, &r);
        assert!(!o.passed);
        assert_eq!(o.failures[0].observed, "3 in 2 traces");
    }

    #[test]
    fn a_count_without_traces_fails() {
        let o = judge(
            count(Count::AtMost(5), CountScope::EachTrace),
            &gathered(vec![]),
            &run(&["r1"]),
        );
        assert!(!o.passed);
        assert!(o.failures[0].observed.contains("no traces"));
    }

    fn broken(quantifier: Quantifier) -> crate::scenario::model::Expectation {
        expecting(Check::BrokenPropagation { quantifier })
    }

    fn halves() -> (crate::jaeger::model::Trace, crate::jaeger::model::Trace) {
        let second = trace(&[
            ("c", None, "service1", "checkStock", "client"),
            ("d", Some("c"), "service2", "checkStock", "server"),
        ]);
        (short_trace(), second)
    }

    #[test]
    fn expect_broken_passes_when_every_request_split() {
        let (a, b) = halves();
        let (c, d) = halves();
        let g = gathered(vec![("r1", a), ("r1", b), ("r2", c), ("r2", d)]);
        let o = judge(broken(Quantifier::All), &g, &run(&["r1", "r2"]));
        assert!(o.passed, "{o:?}");
        assert_eq!(o.observed, "2 of 2 requests split into several traces");
    }

    #[test]
    fn expect_broken_fails_on_an_intact_request_and_names_it() {
        let (a, b) = halves();
        let g = gathered(vec![("r1", a), ("r1", b), ("r2", sandbox_trace())]);
        let o = judge(broken(Quantifier::All), &g, &run(&["r1", "r2"]));
        assert!(!o.passed);
        assert_eq!(o.failure_count, 1);
        assert_eq!(o.failures[0].request_id.as_deref(), Some("r2"));
        assert_eq!(o.failures[0].trace_id.as_deref(), Some("trace-2"));
        assert_eq!(o.failures[0].observed, "1 trace(s)");
        assert!(judge(broken(Quantifier::Any), &g, &run(&["r1", "r2"])).passed);
        assert!(judge(broken(Quantifier::Exactly(1)), &g, &run(&["r1", "r2"])).passed);
    }

    #[test]
    fn expect_broken_with_none_lists_the_split_requests() {
        let (a, b) = halves();
        let g = gathered(vec![("r1", a), ("r1", b), ("r2", sandbox_trace())]);
        let o = judge(broken(Quantifier::None), &g, &run(&["r1", "r2"]));
        assert!(!o.passed);
        assert_eq!(o.failures[0].request_id.as_deref(), Some("r1"));
        assert_eq!(o.failures[0].trace_id.as_deref(), Some("trace-0, trace-1"));
        assert_eq!(o.failures[0].expected, "one trace");
    }

    #[test]
    fn requests_without_traces_do_not_count_for_or_against_broken() {
        let (a, b) = halves();
        let g = gathered(vec![("r1", a), ("r1", b)]);
        let o = judge(broken(Quantifier::All), &g, &run(&["r1", "unsampled"]));
        assert!(o.passed, "{o:?}");
        let o = judge(broken(Quantifier::All), &gathered(vec![]), &run(&["r1"]));
        assert!(!o.passed, "no trace at all proves nothing");
    }
}
