//! `expect_traces`: the traces of a block counted by how many match a tree
//! pattern, judged by a quantifier. Failures show where a trace first
//! differs (or, when too many match, which ones did).

use super::responses::BlockCounts;
use super::tree::{TraceTree, explain_loose, explain_strict, loose_matches, strict_matches};
use super::{Accumulate, Failure, Kept, Outcome, Unit};
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

/// `expect_traces`, one trace at a time: a block of 100k traces never
/// holds 100k trees.
pub struct ShapeJudge<'a> {
    outcome: Outcome,
    quantifier: Quantifier,
    mode: MatchMode,
    pattern: &'a SpanPattern,
    shown: usize,
    total: u64,
    matching: u64,
    /// The first matching traces (shown when too many match).
    matching_shown: Vec<Failure>,
    /// Where the first differing traces differ.
    differing_shown: Vec<Failure>,
}

impl<'a> ShapeJudge<'a> {
    pub fn new(
        outcome: Outcome,
        quantifier: Quantifier,
        mode: MatchMode,
        pattern: &'a SpanPattern,
        shown: usize,
    ) -> Self {
        ShapeJudge {
            outcome,
            quantifier,
            mode,
            pattern,
            shown,
            total: 0,
            matching: 0,
            matching_shown: Vec::new(),
            differing_shown: Vec::new(),
        }
    }

    fn expected(&self) -> String {
        format!("{} matching {}", self.quantifier, self.pattern.label())
    }
}

impl Accumulate for ShapeJudge<'_> {
    fn add(&mut self, unit: &Unit<'_>, kept: &mut Kept) {
        for trace in unit.new {
            self.total += 1;
            let tree = TraceTree::new(trace);
            let matches = match self.mode {
                MatchMode::Strict => strict_matches(self.pattern, &tree),
                MatchMode::Loose => loose_matches(self.pattern, &tree),
            };
            if matches {
                self.matching += 1;
                if self.matching_shown.len() < self.shown {
                    kept.keep(trace);
                    self.matching_shown.push(Failure {
                        trace_id: Some(trace.trace_id.clone()),
                        expected: self.expected(),
                        observed: "this trace matches".into(),
                        ..Failure::default()
                    });
                }
                continue;
            }
            if self.differing_shown.len() >= self.shown {
                continue;
            }
            let diff = match self.mode {
                MatchMode::Strict => explain_strict(self.pattern, &tree),
                MatchMode::Loose => explain_loose(self.pattern, &tree),
            };
            if let Some(diff) = diff {
                kept.keep(trace);
                self.differing_shown.push(Failure {
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

    fn failed_for_sure(&self) -> bool {
        let differing = self.total - self.matching;
        match self.quantifier {
            Quantifier::All => differing > 0,
            Quantifier::None => self.matching > 0,
            Quantifier::Exactly(n) => self.matching > n,
            Quantifier::Any | Quantifier::AtLeast(_) => false,
        }
    }

    fn finish(self: Box<Self>, _: &BlockCounts) -> Vec<Outcome> {
        let this = *self;
        let expected = this.expected();
        let (m, total) = (this.matching, this.total);
        let mut outcome = this.outcome;
        outcome.passed = quantifier_holds(this.quantifier, m, total);
        outcome.observed = format!("{m} of {total} traces match");
        if outcome.passed {
            return vec![outcome];
        }
        if total == 0 {
            outcome.failure_count = 1;
            outcome.failures.push(Failure::no_traces(expected));
        } else if too_many(this.quantifier, m) {
            outcome.failure_count = m as usize;
            outcome.failures = this.matching_shown;
        } else {
            outcome.failure_count = (total - m) as usize;
            outcome.failures = this.differing_shown;
        }
        vec![outcome]
    }
}
