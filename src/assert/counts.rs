//! Counting expectations: `expect_spans` (spans matching a selector, per
//! trace or over the block) and `expect_broken` (requests that split into
//! several traces).

use super::predicates::field_mismatch;
use super::shape::{quantifier_holds, too_many};
use super::tree::TraceTree;
use super::{BlockView, Failure, Outcome, SHOWN};
use crate::scenario::model::{Count, CountScope, Quantifier, SpanPattern};

/// Spans of `tree` that `selector` accepts.
pub fn matching_spans(selector: &SpanPattern, tree: &TraceTree<'_>) -> Vec<usize> {
    (0..tree.nodes.len())
        .filter(|&n| field_mismatch(selector, &tree.nodes[n]).is_none())
        .collect()
}

pub fn span_count(
    outcome: &mut Outcome,
    block: &BlockView<'_>,
    selector: &SpanPattern,
    count: Count,
    scope: CountScope,
) {
    let trees: Vec<TraceTree<'_>> = block.traces.iter().map(|t| TraceTree::new(t)).collect();
    let expected = format!("{count} spans {}", selector.describe());
    if trees.is_empty() {
        outcome.passed = false;
        outcome.observed = "no traces".into();
        outcome.failure_count = 1;
        outcome.failures.push(Failure {
            trace_id: None,
            request_id: None,
            span: None,
            expected,
            observed: "no traces of this traffic reached the collector".into(),
        });
        return;
    }
    let counts: Vec<u64> = trees
        .iter()
        .map(|t| matching_spans(selector, t).len() as u64)
        .collect();
    match scope {
        CountScope::EachTrace => {
            let failing: Vec<usize> = (0..trees.len())
                .filter(|&i| !count.holds(counts[i]))
                .collect();
            outcome.passed = failing.is_empty();
            outcome.observed = format!(
                "{} of {} traces have {count} such spans",
                trees.len() - failing.len(),
                trees.len()
            );
            outcome.failure_count = failing.len();
            for &i in failing.iter().take(SHOWN) {
                outcome.failures.push(Failure {
                    trace_id: Some(trees[i].trace.trace_id.clone()),
                    request_id: None,
                    span: None,
                    expected: expected.clone(),
                    observed: format!("{} such spans", counts[i]),
                });
            }
        }
        CountScope::Traffic => {
            let total: u64 = counts.iter().sum();
            outcome.passed = count.holds(total);
            outcome.observed = format!("{total} such spans in {} traces", trees.len());
            if !outcome.passed {
                outcome.failure_count = 1;
                outcome.failures.push(Failure {
                    trace_id: None,
                    request_id: None,
                    span: None,
                    expected: format!("{expected} in all"),
                    observed: format!("{total} in {} traces", trees.len()),
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
        });
    }
}
