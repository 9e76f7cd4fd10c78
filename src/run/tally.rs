//! What a run keeps of its traces while it judges them, whichever way they
//! are read (all at the end, or each as it completes): the judge's
//! accumulators, per-span-name statistics, the slowest trace for the
//! waterfall and a bounded list of trace ids. Each trace passes through
//! once and is dropped.

use std::collections::HashMap;
use std::sync::Arc;

use super::Observer;
use crate::analysis::span_stats::SpanStatsBuilder;
use crate::assert::Unit;
use crate::assert::judge::Judge;
use crate::jaeger::model::Trace;
use crate::report::waterfall;

/// Trace ids a block's report lists (the first ones, in request order):
/// a soak of a million requests must not carry a million ids.
pub const TRACE_IDS_LISTED: usize = 10_000;

pub struct Tally<'s> {
    pub judge: Judge<'s>,
    pub spans: SpanStatsBuilder,
    pub slowest: Option<Trace>,
    pub trace_ids: HashMap<String, Vec<String>>,
    pub traces: usize,
    pub span_count: u64,
    failed: usize,
    observer: Arc<dyn Observer>,
}

impl<'s> Tally<'s> {
    pub fn new(judge: Judge<'s>, observer: Arc<dyn Observer>) -> Self {
        Tally {
            judge,
            spans: SpanStatsBuilder::default(),
            slowest: None,
            trace_ids: HashMap::new(),
            traces: 0,
            span_count: 0,
            failed: 0,
            observer,
        }
    }

    pub fn begin(&mut self, block: &str) {
        self.judge.begin(block);
        self.trace_ids.entry(block.to_string()).or_default();
    }

    /// Judge one request of `block` and its traces, and keep what the
    /// report needs of them.
    pub fn add(&mut self, block: &str, unit: &Unit<'_>) {
        let record = unit.record;
        if record.sampled
            && let Some(id) = &record.trace_id
        {
            let ids = self.trace_ids.entry(block.to_string()).or_default();
            if ids.len() < TRACE_IDS_LISTED {
                ids.push(id.clone());
            }
        }
        self.judge.add(block, unit);
        if record.interrupted {
            return;
        }
        for &trace in unit.new {
            self.traces += 1;
            self.span_count += trace.spans.len() as u64;
            self.spans.add(trace);
            self.observer.trace_judged(block, trace);
            let slower = match &self.slowest {
                None => true,
                Some(kept) => {
                    waterfall::slowest([kept, trace]).map(|t| &t.trace_id) == Some(&trace.trace_id)
                        && kept.trace_id != trace.trace_id
                }
            };
            if slower {
                self.slowest = Some(trace.clone());
            }
        }
        // The progress line needs no more than a few updates a second.
        let failed = self.judge.failed_so_far();
        if failed != self.failed || self.traces.is_multiple_of(256) {
            self.failed = failed;
            self.observer.judged(self.traces as u64, failed);
        }
    }

    /// Checks failed already, whatever is still to come.
    pub fn failed(&self) -> usize {
        self.failed
    }
}
