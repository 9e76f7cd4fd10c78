//! Reading each request's trace back as soon as it is complete, while the
//! traffic still runs, so that a run judges as it goes and holds only the
//! traces in flight.
//!
//! Whoever produced the spans says when a trace is complete ([`Ready`]:
//! the mesh's span ledger); the trace is then read by id through the
//! Jaeger API, in batches, and handed on once it holds every span, or
//! once `timeout` has passed since its request was answered (then the run
//! is told the traces may be incomplete). Requests without a sampled trace
//! are handed on at once, with none.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};

use crate::jaeger::client::{ClientError, JaegerClient};
use crate::jaeger::model::Trace;
use crate::traffic::RequestRecord;

/// Trace ids per `GET /api/traces?traceID=...`.
const IDS_PER_FETCH: usize = 100;
/// Fetches in flight at once.
const FETCHES_IN_FLIGHT: usize = 4;

/// Whoever produced the spans: says when a trace is complete, and hears
/// when one was judged without the rest of it.
pub trait Producer: Send + Sync {
    fn ready(&self, trace_id: &str) -> Ready;
    /// The trace's wait ran out and it was judged as it was.
    fn gave_up(&self, _trace_id: &str) {}
}

/// What the producer of the spans knows of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// Spans of it may still come.
    NotYet,
    /// The collector was sent exactly this many spans of it.
    Spans(u32),
    /// Nothing more will come, how many is not known (some were lost).
    Settled,
}

struct Pending {
    block: usize,
    record: RequestRecord,
    answered: Instant,
    /// Spans the collector must show, once the producer said.
    spans: Option<u32>,
    settled: bool,
}

/// What streaming saw, for the report.
#[derive(Debug, Clone, Default)]
pub struct StreamStats {
    /// Traces handed on before they held every span (timed out).
    pub incomplete: u64,
    /// Fetch rounds.
    pub polls: u64,
}

pub struct Streamer<'a> {
    client: &'a JaegerClient,
    producer: &'a dyn Producer,
    /// How long after its request was answered a trace is judged as it is.
    pub timeout: Duration,
    pending: VecDeque<Pending>,
    pub stats: StreamStats,
}

impl<'a> Streamer<'a> {
    pub fn new(client: &'a JaegerClient, producer: &'a dyn Producer, timeout: Duration) -> Self {
        Streamer {
            client,
            producer,
            timeout,
            pending: VecDeque::new(),
            stats: StreamStats::default(),
        }
    }

    /// Requests waiting for their trace.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// A request of block `block` finished; `deliver` gets it at once when
    /// it has no trace to wait for.
    pub fn push(
        &mut self,
        block: usize,
        record: RequestRecord,
        deliver: &mut impl FnMut(usize, &RequestRecord, Option<Trace>),
    ) {
        if record.interrupted || !record.sampled || record.trace_id.is_none() {
            deliver(block, &record, None);
            return;
        }
        self.pending.push_back(Pending {
            block,
            record,
            answered: Instant::now(),
            spans: None,
            settled: false,
        });
    }

    /// Read the traces that are complete (or overdue) and hand them on.
    pub async fn poll(
        &mut self,
        deliver: &mut impl FnMut(usize, &RequestRecord, Option<Trace>),
    ) -> Result<(), ClientError> {
        let now = Instant::now();
        let mut due = Vec::new();
        let mut waiting = VecDeque::with_capacity(self.pending.len());
        while let Some(mut p) = self.pending.pop_front() {
            if due.len() >= IDS_PER_FETCH * FETCHES_IN_FLIGHT {
                waiting.push_back(p);
                continue;
            }
            if p.spans.is_none() && !p.settled {
                match self
                    .producer
                    .ready(p.record.trace_id.as_deref().unwrap_or_default())
                {
                    Ready::NotYet => {}
                    Ready::Spans(n) => p.spans = Some(n),
                    Ready::Settled => p.settled = true,
                }
            }
            let overdue = now.duration_since(p.answered) >= self.timeout;
            if p.spans.is_some() || p.settled || overdue {
                due.push(p);
            } else {
                waiting.push_back(p);
            }
        }
        self.pending = waiting;
        if due.is_empty() {
            return Ok(());
        }
        self.stats.polls += 1;
        let ids: Vec<String> = due
            .iter()
            .filter_map(|p| p.record.trace_id.clone())
            .collect();
        let client = self.client;
        let fetched: Vec<Vec<Trace>> = futures_util::stream::iter(ids.chunks(IDS_PER_FETCH))
            .map(|chunk| client.traces_by_id(chunk))
            .buffer_unordered(FETCHES_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut found: std::collections::HashMap<String, Trace> = fetched
            .into_iter()
            .flatten()
            .map(|t| (t.trace_id.trim_start_matches('0').to_string(), t))
            .collect();
        for p in due {
            let id = p.record.trace_id.as_deref().unwrap_or_default();
            // Jaeger writes ids without leading zeros; the edge with them.
            let trace = found.remove(id.trim_start_matches('0'));
            let held = trace.as_ref().map_or(0, |t| t.spans.len() as u32);
            let complete = match p.spans {
                Some(n) => held >= n,
                None => p.settled && trace.is_some(),
            };
            let overdue = now.duration_since(p.answered) >= self.timeout;
            if complete || overdue {
                if !complete {
                    self.stats.incomplete += 1;
                    self.producer.gave_up(id);
                }
                deliver(p.block, &p.record, trace);
            } else {
                // The collector has not stored all of it yet (a Jaeger
                // batches its writes): look again next time.
                self.pending.push_back(p);
            }
        }
        Ok(())
    }
}
