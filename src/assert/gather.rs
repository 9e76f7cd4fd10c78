//! Reading a run's traces back through the Jaeger API, waiting until they
//! are complete.
//!
//! A trace is the run's when one of its spans carries the `x-request-id` of
//! one of the run's requests. Asserting on a half-arrived trace is the most
//! common bug of trace-testing tools, so this polls until every sampled
//! request has a trace and the span count holds still between two polls,
//! or a timeout passes (then the report says the traces may be incomplete).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::jaeger::client::{ClientError, JaegerClient, TraceQuery};
use crate::jaeger::model::Trace;

pub const REQUEST_ID_TAG: &str = "guid:x-request-id";

#[derive(Debug, Clone)]
pub struct WaitSettings {
    pub poll_interval: Duration,
    pub timeout: Duration,
    /// How long the count must hold still when some requests still have no
    /// trace (they may be unsampled, or lost).
    pub settle: Duration,
}

impl Default for WaitSettings {
    fn default() -> Self {
        WaitSettings {
            poll_interval: Duration::from_millis(100),
            timeout: Duration::from_secs(10),
            settle: Duration::from_secs(1),
        }
    }
}

/// What to look for.
pub struct Wanted<'a> {
    /// Services to search (every component of the scenario).
    pub services: &'a [String],
    /// Request ids of the run.
    pub request_ids: &'a HashSet<String>,
    /// Request ids whose edge span was sampled: each must show up.
    pub sampled_ids: &'a HashSet<String>,
    /// Microseconds since the epoch; spans start after this.
    pub start_us: u64,
    /// The deepest search the backend answers (Jaeger's `max_traces`).
    pub max_limit: usize,
    /// Wait for the count to hold still for `settle` even when every
    /// sampled request has a trace: other programs' spans (external
    /// processes) arrive on their own schedule.
    pub settle_always: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// The run's traces by trace id.
    pub traces: BTreeMap<String, Trace>,
    /// Request id → ids of the traces carrying it.
    pub by_request: HashMap<String, Vec<String>>,
    pub spans: usize,
    /// Every sampled request had a trace and the count held still.
    pub complete: bool,
    pub waited: Duration,
    pub polls: u32,
}

pub async fn gather(
    client: &JaegerClient,
    wanted: &Wanted<'_>,
    settings: &WaitSettings,
) -> Result<Gathered, ClientError> {
    let started = Instant::now();
    let mut previous: Option<usize> = None;
    let mut stable_since: Option<Instant> = None;
    let mut polls = 0;
    loop {
        let mut gathered = poll(client, wanted).await?;
        polls += 1;
        let covered = wanted
            .sampled_ids
            .iter()
            .all(|id| gathered.by_request.contains_key(id));
        let stable = previous == Some(gathered.spans);
        if stable {
            stable_since.get_or_insert_with(Instant::now);
        } else {
            stable_since = None;
        }
        let settled = stable_since.is_some_and(|t| t.elapsed() >= settings.settle);
        let done = stable && (settled || (covered && !wanted.settle_always));
        if done || started.elapsed() >= settings.timeout {
            gathered.complete = done && covered;
            gathered.waited = started.elapsed();
            gathered.polls = polls;
            return Ok(gathered);
        }
        previous = Some(gathered.spans);
        tokio::time::sleep(settings.poll_interval).await;
    }
}

async fn poll(client: &JaegerClient, wanted: &Wanted<'_>) -> Result<Gathered, ClientError> {
    let end_us = now_us() + 60_000_000;
    // Jaeger rejects a search deeper than its max_traces (100000 by default).
    let limit = (wanted.request_ids.len() * 3 + 100).min(wanted.max_limit.max(1));
    let mut traces: BTreeMap<String, Trace> = BTreeMap::new();
    for service in wanted.services {
        let query = TraceQuery {
            start_us: Some(wanted.start_us),
            end_us: Some(end_us),
            limit: Some(limit),
            ..TraceQuery::for_service(service.clone())
        };
        for trace in client.find_traces(&query).await? {
            if !traces.contains_key(&trace.trace_id) && carries_any(&trace, wanted.request_ids) {
                traces.insert(trace.trace_id.clone(), trace);
            }
        }
    }
    let mut by_request: HashMap<String, Vec<String>> = HashMap::new();
    let mut spans = 0;
    for trace in traces.values() {
        spans += trace.spans.len();
        let ids: HashSet<String> = trace
            .spans
            .iter()
            .filter_map(|s| s.tag(REQUEST_ID_TAG).map(|t| t.value_text()))
            .filter(|id| wanted.request_ids.contains(id))
            .collect();
        for id in ids {
            by_request
                .entry(id)
                .or_default()
                .push(trace.trace_id.clone());
        }
    }
    Ok(Gathered {
        traces,
        by_request,
        spans,
        ..Default::default()
    })
}

fn carries_any(trace: &Trace, ids: &HashSet<String>) -> bool {
    trace.spans.iter().any(|s| {
        s.tag(REQUEST_ID_TAG)
            .is_some_and(|t| t.value.as_str().is_some_and(|v| ids.contains(v)))
    })
}

pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}
