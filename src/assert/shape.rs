//! `expect_traces`: the traces of a block counted by how many match a tree
//! pattern, judged by a quantifier. Failures show where a trace first
//! differs (or, when too many match, which ones did).

use super::tree::{TraceTree, explain_loose, explain_strict, loose_matches, strict_matches};
use super::{BlockView, Failure, Outcome, SHOWN};
use crate::jaeger::model::Trace;
use crate::scenario::model::{MatchMode, Quantifier, SpanPattern};

/// Does `quantifier` hold when `matching` of `total` items qualify?
/// `all` needs at least one item: an empty block proves nothing.
pub fn quantifier_holds(quantifier: Quantifier, matching: u64, total: u64) -> bool {
    match quantifier {
        Quantifier::All => total > 0 && matching == total,
        Quantifier::Any => matching >= 1,
        Quantifier::None => matching == 0,
        Quantifier::Exactly(n) => matching == n,
        Quantifier::AtLeast(n) => matching >= n,
    }
}

/// Failing because too many qualify (`none`, `exactly` exceeded), rather
/// than too few.
pub fn too_many(quantifier: Quantifier, matching: u64) -> bool {
    matches!(quantifier, Quantifier::None)
        || matches!(quantifier, Quantifier::Exactly(n) if matching > n)
}

pub fn judge(
    outcome: &mut Outcome,
    block: &BlockView<'_>,
    quantifier: Quantifier,
    mode: MatchMode,
    pattern: &SpanPattern,
) {
    // One tree at a time, so a block of 100k traces never holds 100k trees;
    // the few failures shown are rebuilt.
    let matches = |trace: &Trace| {
        let tree = TraceTree::new(trace);
        match mode {
            MatchMode::Strict => strict_matches(pattern, &tree),
            MatchMode::Loose => loose_matches(pattern, &tree),
        }
    };
    let (matching, differing): (Vec<&Trace>, Vec<&Trace>) =
        block.traces.iter().partition(|t| matches(t));
    let (m, total) = (matching.len() as u64, block.traces.len() as u64);
    outcome.passed = quantifier_holds(quantifier, m, total);
    outcome.observed = format!("{m} of {total} traces match");
    if outcome.passed {
        return;
    }
    let expected = format!("{quantifier} matching {}", pattern.label());
    if total == 0 {
        outcome.failure_count = 1;
        outcome.failures.push(Failure::no_traces(expected));
        return;
    }
    if too_many(quantifier, m) {
        outcome.failure_count = matching.len();
        for trace in matching.iter().take(SHOWN) {
            outcome.failures.push(Failure {
                trace_id: Some(trace.trace_id.clone()),
                request_id: None,
                span: None,
                expected: expected.clone(),
                observed: "this trace matches".into(),
                ..Failure::default()
            });
        }
        return;
    }
    outcome.failure_count = differing.len();
    for trace in differing.iter().take(SHOWN) {
        let tree = TraceTree::new(trace);
        let diff = match mode {
            MatchMode::Strict => explain_strict(pattern, &tree),
            MatchMode::Loose => explain_loose(pattern, &tree),
        };
        if let Some(diff) = diff {
            outcome.failures.push(Failure {
                trace_id: Some(trace.trace_id.clone()),
                request_id: None,
                span: diff.span,
                expected: diff.expected,
                observed: diff.observed,
                pattern_path: Some(diff.pattern_path),
                span_ids: diff.span_ids,
            });
        }
    }
}
