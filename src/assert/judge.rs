//! The verdict, one request at a time. Every check of the scenario is an
//! accumulator ([`Accumulate`]): it is fed each request with the traces
//! read back for it, keeps counts, histograms and its first few failures,
//! and says its outcome at the end. A run that judges traces as they
//! complete and one that gathers everything first feed the same judge, so
//! their verdicts cannot differ.

use super::responses::BlockCounts;
use super::{
    Accumulate, Kept, Outcome, Shown, Unit, block_checks, expectation, integrity, integrity_checks,
};
use crate::jaeger::model::Trace;
use crate::scenario::model::Scenario;

/// What a finished judge says.
pub struct Verdict {
    /// Expectations in the script's order, then each block's built-in checks.
    pub outcomes: Vec<Outcome>,
    /// The traces failures point at, in full.
    pub kept: std::collections::HashMap<String, Trace>,
}

pub struct Judge<'s> {
    scenario: &'s Scenario,
    shown: Shown,
    blocks: Vec<BlockJudge<'s>>,
    kept: Kept,
    traces: u64,
}

struct BlockJudge<'s> {
    name: String,
    counts: BlockCounts,
    /// Index in `scenario.expectations` → its accumulator.
    expectations: Vec<(usize, Box<dyn Accumulate + 's>)>,
    integrity: integrity::IntegrityJudge,
}

impl<'s> Judge<'s> {
    pub fn new(scenario: &'s Scenario, shown: Shown) -> Judge<'s> {
        Judge {
            scenario,
            shown,
            blocks: Vec::new(),
            kept: Kept::default(),
            traces: 0,
        }
    }

    /// A traffic block starts: its checks will be judged even if it sends
    /// nothing (and then fail, having nothing to judge).
    pub fn begin(&mut self, block: &str) {
        if self.blocks.iter().any(|b| b.name == block) {
            return;
        }
        let expectations = self
            .scenario
            .expectations
            .iter()
            .enumerate()
            .filter(|(_, e)| e.traffic == block)
            .map(|(i, e)| (i, expectation(e, self.shown.expectations)))
            .collect();
        let on = integrity_checks(self.scenario, block);
        self.blocks.push(BlockJudge {
            name: block.to_string(),
            counts: BlockCounts::default(),
            expectations,
            integrity: integrity::IntegrityJudge::new(
                block,
                on,
                self.shown.integrity,
                answered_in_trace(self.scenario),
            ),
        });
    }

    /// Judge one request of `block` and its traces.
    pub fn add(&mut self, block: &str, unit: &Unit<'_>) {
        if !self.blocks.iter().any(|b| b.name == block) {
            self.begin(block);
        }
        let b = self
            .blocks
            .iter_mut()
            .find(|b| b.name == block)
            .expect("begun above");
        b.counts.add(unit.record, !unit.traces.is_empty());
        if unit.record.interrupted {
            return;
        }
        self.traces += unit.new.len() as u64;
        for (_, check) in &mut b.expectations {
            check.add(unit, &mut self.kept);
        }
        b.integrity.add(unit, &mut self.kept);
    }

    /// Traces judged so far.
    pub fn traces(&self) -> u64 {
        self.traces
    }

    /// Checks that have failed already, whatever is still to come (an
    /// `all` that met a differing trace): `--fail-fast` stops on them.
    pub fn failed_so_far(&self) -> usize {
        self.blocks
            .iter()
            .map(|b| {
                b.expectations
                    .iter()
                    .filter(|(_, c)| c.failed_for_sure())
                    .count()
                    + b.integrity.failed_for_sure()
            })
            .sum()
    }

    /// The built-in checks a run adds once it has judged everything
    /// (what lost spans cost it) go in with [`Verdict::outcomes`].
    pub fn finish(self) -> Verdict {
        let mut by_index: Vec<(usize, Outcome)> = Vec::new();
        let mut tail = Vec::new();
        for b in self.blocks {
            for (i, check) in b.expectations {
                by_index.extend(check.finish(&b.counts).into_iter().map(|o| (i, o)));
            }
            let on = integrity_checks(self.scenario, &b.name);
            tail.extend(block_checks(self.scenario, &b.name, &b.counts, &on));
            tail.extend(Box::new(b.integrity).finish(&b.counts));
        }
        by_index.sort_by_key(|(i, _)| *i);
        let mut outcomes: Vec<Outcome> = by_index.into_iter().map(|(_, o)| o).collect();
        outcomes.extend(tail);
        Verdict {
            outcomes,
            kept: self.kept.traces,
        }
    }
}

/// The calls (caller → callees) whose callee's span joins the caller's
/// trace: the callee reads a format the caller writes.
fn answered_in_trace(scenario: &Scenario) -> integrity::Calls {
    let components = &scenario.components;
    components
        .iter()
        .map(|caller| {
            let callees = components
                .iter()
                .filter(|callee| callee.continues(caller))
                .map(|callee| callee.name.clone())
                .collect();
            (caller.name.clone(), callees)
        })
        .collect()
}
