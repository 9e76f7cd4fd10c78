//! Reading a run's traces back through the Jaeger API, waiting until they
//! are complete.
//!
//! A trace is the run's when one of its spans carries the `x-request-id` of
//! one of the run's requests. Asserting on a half-arrived trace is the most
//! common bug of trace-testing tools, so this polls until the traces are
//! complete, or a timeout passes (then the report says they may not be).
//!
//! Complete is known exactly when the mesh can say how many spans it
//! delivered ([`Wanted::settled`]): the traces the edge named (by id, in
//! bounded batches) holding exactly that many spans, one poll. Otherwise
//! (programs, peers, a failed export, propagation that starts new traces)
//! every service is searched, and complete means every sampled request has
//! a trace and the span count held still between two polls.
//!
//! Traces the traffic started itself (requests to an external target,
//! [`Wanted::started`]) are read by id on every poll, and are the request's
//! whether or not the system tagged its spans with the request id.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};

use crate::jaeger::client::{ClientError, JaegerClient, TraceQuery};
use crate::jaeger::model::Trace;

pub const REQUEST_ID_TAG: &str = "guid:x-request-id";
/// Trace ids per `GET /api/traces?traceID=...`: bounds each answer's size.
const IDS_PER_FETCH: usize = 100;
/// Fetches in flight at once.
const FETCHES_IN_FLIGHT: usize = 4;

#[derive(Debug, Clone)]
pub struct WaitSettings {
    pub poll_interval: Duration,
    /// How long to wait for the span count to grow before judging what
    /// arrived. Measured from the last growth, so a run whose every poll
    /// is slow (tens of thousands of traces) still gets its second look.
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
    /// The trace ids the edge reported for sampled requests.
    pub trace_ids: &'a [String],
    /// The exact number of spans the run's traces hold, when the mesh
    /// knows it at this moment (see `RunningMesh::settled_spans`).
    pub settled: &'a (dyn Fn() -> Option<u64> + Send + Sync),
    /// Trace id → request id of the traces the traffic started itself.
    pub started: &'a HashMap<String, String>,
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
    /// The traces held exactly the spans the mesh delivered: proof that
    /// nothing of the run is missing.
    pub exact: bool,
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
    // The most spans a poll found, and when that grew last.
    let mut most = 0;
    let mut grew = started;
    loop {
        let (mut gathered, exact) = poll(client, wanted).await?;
        polls += 1;
        if polls == 1 || gathered.spans > most {
            most = most.max(gathered.spans);
            grew = Instant::now();
        }
        let covered = covers(&gathered, wanted);
        if exact && covered {
            gathered.complete = true;
            gathered.exact = true;
            gathered.waited = started.elapsed();
            gathered.polls = polls;
            return Ok(gathered);
        }
        let stable = previous == Some(gathered.spans);
        if stable {
            stable_since.get_or_insert_with(Instant::now);
        } else {
            stable_since = None;
        }
        let settled = stable_since.is_some_and(|t| t.elapsed() >= settings.settle);
        let done = stable && (settled || (covered && !wanted.settle_always));
        if done || grew.elapsed() >= settings.timeout {
            gathered.complete = done && covered;
            gathered.waited = started.elapsed();
            gathered.polls = polls;
            return Ok(gathered);
        }
        previous = Some(gathered.spans);
        tokio::time::sleep(settings.poll_interval).await;
    }
}

fn covers(gathered: &Gathered, wanted: &Wanted<'_>) -> bool {
    wanted
        .sampled_ids
        .iter()
        .all(|id| gathered.by_request.contains_key(id))
}

/// One look at the backend; `true` with it when the traces found hold
/// exactly the spans the mesh delivered (nothing more can come).
async fn poll(client: &JaegerClient, wanted: &Wanted<'_>) -> Result<(Gathered, bool), ClientError> {
    let mut traces: BTreeMap<String, Trace> = BTreeMap::new();
    let settled = (wanted.settled)();
    if settled.is_some() && !wanted.trace_ids.is_empty() {
        for trace in fetch_by_id(client, wanted.trace_ids).await? {
            if carries_any(&trace, wanted.request_ids) {
                traces.insert(trace.trace_id.clone(), trace);
            }
        }
        let gathered = summarize(traces, wanted);
        if settled == Some(gathered.spans as u64) && covers(&gathered, wanted) {
            return Ok((gathered, true));
        }
        traces = gathered.traces;
    }
    if !wanted.started.is_empty() {
        let ids: Vec<String> = wanted.started.keys().cloned().collect();
        for trace in fetch_by_id(client, &ids).await? {
            traces.insert(trace.trace_id.clone(), trace);
        }
    }
    search_services(client, wanted, &mut traces).await?;
    let gathered = summarize(traces, wanted);
    let exact = settled.is_some()
        && settled == (wanted.settled)()
        && settled == Some(gathered.spans as u64);
    Ok((gathered, exact))
}

/// The traces with these ids, a bounded batch per request.
async fn fetch_by_id(client: &JaegerClient, ids: &[String]) -> Result<Vec<Trace>, ClientError> {
    let batches: Vec<Vec<Trace>> = futures_util::stream::iter(ids.chunks(IDS_PER_FETCH))
        .map(|chunk| client.traces_by_id(chunk))
        .buffer_unordered(FETCHES_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(batches.into_iter().flatten().collect())
}

/// Every trace with a span of one of the scenario's services in the run's
/// time window, added to `traces`.
async fn search_services(
    client: &JaegerClient,
    wanted: &Wanted<'_>,
    traces: &mut BTreeMap<String, Trace>,
) -> Result<(), ClientError> {
    let end_us = now_us() + 60_000_000;
    // Jaeger rejects a search deeper than its max_traces (100000 by default).
    let limit = (wanted.request_ids.len() * 3 + 100).min(wanted.max_limit.max(1));
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
    Ok(())
}

/// The traces with their spans counted and their request ids indexed.
fn summarize(traces: BTreeMap<String, Trace>, wanted: &Wanted<'_>) -> Gathered {
    let mut by_request: HashMap<String, Vec<String>> = HashMap::new();
    let mut spans = 0;
    for trace in traces.values() {
        spans += trace.spans.len();
        let ids: HashSet<String> = trace
            .spans
            .iter()
            .filter_map(|s| s.tag(REQUEST_ID_TAG).map(|t| t.value_text()))
            .chain(wanted.started.get(&trace.trace_id).cloned())
            .filter(|id| wanted.request_ids.contains(id))
            .collect();
        for id in ids {
            by_request
                .entry(id)
                .or_default()
                .push(trace.trace_id.clone());
        }
    }
    Gathered {
        traces,
        by_request,
        spans,
        ..Default::default()
    }
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
