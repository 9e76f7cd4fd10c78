//! Counting expectations: `expect_spans` (spans matching a selector, per
//! trace or over the block) and `expect_broken` (requests that split into
//! several traces).

use super::shape::{quantifier_holds, too_many};
use super::tree::TraceTree;
use super::{BlockView, Failure, Outcome, SHOWN};
use crate::scenario::model::{Count, CountScope, Quantifier, Selector, counted};

/// Spans of `tree` that `selector` picks.
pub fn matching_spans(selector: &Selector, tree: &TraceTree<'_>) -> Vec<usize> {
    super::select::select(selector, tree)
}

pub fn span_count(
    outcome: &mut Outcome,
    block: &BlockView<'_>,
    selector: &Selector,
    count: Count,
    scope: CountScope,
) {
    let traces = &block.traces;
    let expected = format!("{} {}", count.of("span"), selector.describe());
    if traces.is_empty() {
        outcome.passed = false;
        outcome.observed = "no traces".into();
        outcome.failure_count = 1;
        outcome.failures.push(Failure::no_traces(expected));
        return;
    }
    // One tree at a time: a large block never holds all its trees.
    let counts: Vec<u64> = traces
        .iter()
        .map(|t| matching_spans(selector, &TraceTree::new(t)).len() as u64)
        .collect();
    match scope {
        CountScope::EachTrace => {
            let failing: Vec<usize> = (0..traces.len())
                .filter(|&i| !count.holds(counts[i]))
                .collect();
            outcome.passed = failing.is_empty();
            outcome.observed = format!(
                "{} of {} traces have {}",
                traces.len() - failing.len(),
                traces.len(),
                count.of("such span")
            );
            outcome.failure_count = failing.len();
            for &i in failing.iter().take(SHOWN) {
                outcome.failures.push(Failure {
                    trace_id: Some(traces[i].trace_id.clone()),
                    request_id: None,
                    span: None,
                    expected: expected.clone(),
                    observed: counted(counts[i], "such span"),
                    ..Failure::default()
                });
            }
        }
        CountScope::Traffic => {
            let total: u64 = counts.iter().sum();
            outcome.passed = count.holds(total);
            outcome.observed = format!(
                "{} in {}",
                counted(total, "such span"),
                counted(traces.len() as u64, "trace")
            );
            if !outcome.passed {
                outcome.failure_count = 1;
                outcome.failures.push(Failure {
                    trace_id: None,
                    request_id: None,
                    span: None,
                    expected: format!("{expected} in all"),
                    observed: format!("{total} in {}", counted(traces.len() as u64, "trace")),
                    ..Failure::default()
                });
            }
        }
    }
}

pub fn broken_propagation(outcome: &mut Outcome, block: &BlockView<'_>, quantifier: Quantifier) {
    // Requests without any trace (unsampled, lost) say nothing either way.
    let judged: Vec<_> = block
        .records
        .iter()
        .filter_map(|r| {
            let traces = block.traces_of.get(r.request_id.as_str())?;
            Some((r, traces))
        })
        .collect();
    let broken = judged.iter().filter(|(_, t)| t.len() > 1).count() as u64;
    let total = judged.len() as u64;
    outcome.passed = quantifier_holds(quantifier, broken, total);
    outcome.observed = format!("{broken} of {total} requests split into several traces");
    if outcome.passed {
        return;
    }
    let want_broken = !too_many(quantifier, broken);
    let shown: Vec<_> = judged
        .iter()
        .filter(|(_, traces)| (traces.len() > 1) != want_broken)
        .collect();
    outcome.failure_count = shown.len().max(1);
    if shown.is_empty() {
        outcome.failures.push(Failure {
            trace_id: None,
            request_id: None,
            span: None,
            expected: format!("{quantifier} broken into several"),
            observed: "no request of this traffic has a trace".into(),
            ..Failure::default()
        });
    }
    for (record, traces) in shown.into_iter().take(SHOWN) {
        let ids = traces
            .iter()
            .map(|t| t.trace_id.clone())
            .collect::<Vec<_>>()
            .join(", ");
        outcome.failures.push(Failure {
            trace_id: Some(ids),
            request_id: Some(record.request_id.clone()),
            span: None,
            expected: if want_broken {
                "several traces (propagation broken)".into()
            } else {
                "one trace".into()
            },
            observed: format!("{} trace(s)", traces.len()),
            ..Failure::default()
        });
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
