//! How many spans of each trace the mesh started, and how many of them
//! reached the collector: a trace whose every started span was delivered,
//! for a request already answered, is complete in the collector, so a run
//! can read and judge it at once instead of waiting for the whole run.
//!
//! Only traces in flight are held: an entry leaves when the run takes it
//! ([`SpanLedger::take`]), so memory follows the request rate, not the
//! run's length. Nothing is counted until a run asks for it
//! ([`SpanLedger::track`]): where nothing takes the entries (`tracelab up`,
//! `serve`, a run judging at the end) they would pile up, one per trace, for
//! as long as the mesh runs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shards, so components on several threads rarely wait on one lock.
const SHARDS: usize = 16;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Entry {
    started: u32,
    delivered: u32,
    failed: u32,
}

/// What the ledger knows of one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceState {
    /// Spans of it are open or queued for export.
    InFlight,
    /// Every span started was delivered: the collector holds this many.
    Delivered(u32),
    /// Every span is done with, and some never reached the collector.
    Lost { delivered: u32 },
    /// No span of it was started here (or it was taken already).
    Unknown,
}

/// A fast (still randomly seeded) hasher rather than SipHash: every span
/// started and every span exported looks its trace up.
type Traces = HashMap<u128, Entry, foldhash::fast::RandomState>;

#[derive(Debug)]
pub struct SpanLedger {
    shards: Vec<Mutex<Traces>>,
    tracking: AtomicBool,
}

impl Default for SpanLedger {
    fn default() -> Self {
        SpanLedger {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            tracking: AtomicBool::new(false),
        }
    }
}

impl SpanLedger {
    fn shard(&self, trace: u128) -> std::sync::MutexGuard<'_, Traces> {
        self.shards[(trace as usize) % SHARDS]
            .lock()
            .expect("ledger lock")
    }

    /// Count spans by trace from now on: a run will take each settled trace.
    pub fn track(&self) {
        self.tracking.store(true, Ordering::Release);
    }

    pub fn tracking(&self) -> bool {
        self.tracking.load(Ordering::Acquire)
    }

    /// A sampled span of `trace` started.
    pub fn started(&self, trace: u128) {
        if self.tracking() {
            self.shard(trace).entry(trace).or_default().started += 1;
        }
    }

    /// Spans of these traces reached the collector (`ok`) or were refused.
    pub fn exported(&self, traces: impl IntoIterator<Item = u128>, ok: bool) {
        if !self.tracking() {
            return;
        }
        for trace in traces {
            // A span the mesh did not start (none today) has no entry to settle.
            if let Some(entry) = self.shard(trace).get_mut(&trace) {
                if ok {
                    entry.delivered += 1;
                } else {
                    entry.failed += 1;
                }
            }
        }
    }

    /// The trace's state; a settled trace (delivered or lost) leaves.
    pub fn take(&self, trace: u128) -> TraceState {
        let mut shard = self.shard(trace);
        let Some(entry) = shard.get(&trace).copied() else {
            return TraceState::Unknown;
        };
        let state = if entry.delivered + entry.failed < entry.started {
            return TraceState::InFlight;
        } else if entry.failed == 0 {
            TraceState::Delivered(entry.delivered)
        } else {
            TraceState::Lost {
                delivered: entry.delivered,
            }
        };
        shard.remove(&trace);
        state
    }

    /// The run judged the trace without waiting for the rest of it: spans
    /// of it still to come are no one's, and must not count as a trace no
    /// request claimed.
    pub fn forget(&self, trace: u128) {
        self.shard(trace).remove(&trace);
    }

    /// Traces not taken: begun where the run expected none (propagation
    /// that started new traces), or whose request never said its trace.
    pub fn untaken(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().expect("ledger lock").len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracking() -> SpanLedger {
        let ledger = SpanLedger::default();
        ledger.track();
        ledger
    }

    #[test]
    fn a_ledger_no_run_asked_for_holds_nothing_however_many_spans_pass() {
        let ledger = SpanLedger::default();
        for trace in 0..1000 {
            ledger.started(trace);
            ledger.exported([trace], true);
        }
        assert_eq!(ledger.untaken(), 0);
        assert_eq!(ledger.take(1), TraceState::Unknown);
    }

    #[test]
    fn a_trace_is_delivered_once_every_started_span_reached_the_collector_and_then_leaves() {
        let ledger = tracking();
        ledger.started(7);
        ledger.started(7);
        ledger.exported([7], true);
        assert_eq!(ledger.take(7), TraceState::InFlight);
        ledger.exported([7], true);
        assert_eq!(ledger.take(7), TraceState::Delivered(2));
        assert_eq!(ledger.take(7), TraceState::Unknown);
        assert_eq!(ledger.untaken(), 0);
    }

    #[test]
    fn a_refused_span_makes_the_trace_lost_not_in_flight_forever() {
        let ledger = tracking();
        ledger.started(1);
        ledger.started(1);
        ledger.exported([1], true);
        ledger.exported([1], false);
        assert_eq!(ledger.take(1), TraceState::Lost { delivered: 1 });
    }

    #[test]
    fn a_forgotten_trace_is_neither_in_flight_nor_untaken_when_its_late_spans_arrive() {
        let ledger = tracking();
        ledger.started(3);
        ledger.started(3);
        ledger.exported([3], true);
        ledger.forget(3);
        ledger.exported([3], true);
        assert_eq!(ledger.take(3), TraceState::Unknown);
        assert_eq!(ledger.untaken(), 0);
    }

    #[test]
    fn traces_never_taken_are_counted() {
        let ledger = tracking();
        ledger.started(1);
        ledger.started(2);
        ledger.exported([1, 2], true);
        assert_eq!(ledger.take(1), TraceState::Delivered(1));
        assert_eq!(ledger.untaken(), 1);
    }
}
