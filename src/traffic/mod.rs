//! The traffic generator: sends a scenario's requests into the mesh and
//! records, per request, its id, status, latency and trace id.
//!
//! Closed model: `concurrency` workers, each with its own keep-alive
//! connection (`http_client::Connection`), sending its next request when the last one
//! answered (slow answers slow the load). Open model: requests
//! leave on a fixed schedule, `rate` per second, however slow the answers
//! (what real users do; latency then includes queueing).
//!
//! A run can be stopped ([`run_until`]): no request starts after that, the
//! ones in flight get [`STOP_GRACE`] to finish (as k6's graceful stop),
//! then are cut off and recorded as interrupted, and the records say what
//! was sent.
//!
//! Each request carries a fresh `x-request-id`; every span of its trace is
//! tagged with it (`guid:x-request-id`), which is how the assertions find
//! the traces of a traffic block in Jaeger, even when propagation broke.
//! A request to an external target also starts its trace
//! (`trace_context`): the trace id it sent finds it in a system that does
//! not pass `x-request-id` on.

pub mod stats;
pub mod trace_context;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio_util::sync::CancellationToken;

use crate::http_client::{
    Client, Connection, Failure, REQUEST_ID_HEADER, Response, new_request_id,
};
use crate::scenario::model::Traffic;

#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub request_id: String,
    /// `None` when no response came.
    pub status: Option<u16>,
    pub latency: Duration,
    /// From the edge's `traceresponse` header, as Jaeger prints trace ids.
    pub trace_id: Option<String>,
    /// The edge sampled the trace (`traceresponse` flags), so it must arrive.
    pub sampled: bool,
    pub error: Option<String>,
    /// Cut off in flight by an interrupt (Ctrl-C): neither an answer nor a
    /// failure, and its trace is cut short by design.
    pub interrupted: bool,
    /// The trace context the traffic started and sent (requests to an
    /// external target).
    pub sent: Option<trace_context::SentContext>,
}

#[derive(Debug, Clone)]
pub struct TrafficRun {
    pub name: String,
    pub target: String,
    pub records: Vec<RequestRecord>,
    pub started: SystemTime,
    pub elapsed: Duration,
}

/// How long requests in flight get to finish once a run is told to stop,
/// before they are cut off (recorded as interrupted, not as failures).
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// Send `block`'s requests to `authority` (`host:port`); `on_done` is told
/// of every finished request (for progress bars).
pub async fn run(
    block: &Traffic,
    authority: &str,
    on_done: Arc<dyn Fn(&RequestRecord) + Send + Sync>,
) -> TrafficRun {
    run_until(block, authority, on_done, &CancellationToken::new()).await
}

/// [`run`], sending no new request once `stop` is cancelled (those in
/// flight get [`STOP_GRACE`], then are cut off); the run then holds what
/// was sent.
pub async fn run_until(
    block: &Traffic,
    authority: &str,
    on_done: Arc<dyn Fn(&RequestRecord) + Send + Sync>,
    stop: &CancellationToken,
) -> TrafficRun {
    let started = SystemTime::now();
    let clock = Instant::now();
    let client = Client::default();
    let method = Method::from_bytes(block.method.as_bytes()).unwrap_or(Method::GET);
    let body = Bytes::from(block.body.clone());
    let mut base_headers = HeaderMap::new();
    for (name, value) in &block.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            base_headers.insert(name, value);
        }
    }
    // The script's own user-agent wins (scenario::api checked the headers).
    base_headers
        .entry(http::header::USER_AGENT)
        .or_insert(HeaderValue::from_static(concat!(
            "tracelab/",
            env!("CARGO_PKG_VERSION")
        )));

    // Requests in flight are cut off STOP_GRACE after the stop.
    let cut = CancellationToken::new();
    let cutter = tokio::spawn({
        let (stop, cut) = (stop.clone(), cut.clone());
        async move {
            stop.cancelled().await;
            tokio::time::sleep(STOP_GRACE).await;
            cut.cancel();
        }
    });
    let shared = Arc::new(Shared {
        trace_context: block.trace_context.clone().filter(|f| !f.is_empty()),
        cut,
        client,
        authority: authority.to_string(),
        method,
        path: block.path.clone(),
        headers: base_headers,
        body,
        timeout: block.timeout,
        on_done,
    });
    let records = match block.rate {
        Some(rate) => open_model(shared, block.requests, rate, stop).await,
        None => closed_model(shared, block.requests, block.concurrency, stop).await,
    };
    cutter.abort();
    TrafficRun {
        name: block.name.clone(),
        target: block.target.clone(),
        records,
        started,
        elapsed: clock.elapsed(),
    }
}

/// Open-model requests in flight at most: each holds sockets, and a slow
/// target must not exhaust the process's file descriptors.
pub const OPEN_MODEL_IN_FLIGHT: usize = 512;

/// What every request of a block shares.
struct Shared {
    /// Start each request's trace, sending it in these formats.
    trace_context: Option<Vec<crate::scenario::model::HeaderFormat>>,
    /// Cancelled when requests in flight must stop waiting.
    cut: CancellationToken,
    client: Client,
    authority: String,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    timeout: Duration,
    on_done: Arc<dyn Fn(&RequestRecord) + Send + Sync>,
}

impl Shared {
    /// One request, on `connection` (closed model) or the pooled client
    /// (open model).
    async fn send_one(&self, connection: Option<&mut Connection>) -> RequestRecord {
        let request_id = new_request_id();
        let mut headers = self.headers.clone();
        headers.insert(
            REQUEST_ID_HEADER,
            HeaderValue::from_str(&request_id).expect("a uuid is a valid header value"),
        );
        let sent = self
            .trace_context
            .as_deref()
            .map(|formats| trace_context::start(formats, &mut headers));
        let started = Instant::now();
        let body = self.body.clone();
        let exchange = async {
            match connection {
                Some(connection) => {
                    connection
                        .send(&self.method, &self.path, headers, body, self.timeout)
                        .await
                }
                None => {
                    self.client
                        .send(
                            &self.authority,
                            &self.method,
                            &self.path,
                            headers,
                            body,
                            self.timeout,
                        )
                        .await
                }
            }
        };
        let result = tokio::select! {
            biased;
            () = self.cut.cancelled() => None,
            result = exchange => Some(result),
        };
        let record = match result {
            Some(result) => {
                let mut record = record(request_id, started.elapsed(), result);
                if let Some(sent) = sent {
                    // The trace is the one sent; an answer says it reached
                    // the target, which must then have reported it.
                    record.trace_id = Some(sent.trace_id.clone());
                    record.sampled = record.status.is_some();
                    record.sent = Some(sent);
                }
                record
            }
            None => RequestRecord {
                request_id,
                status: None,
                latency: started.elapsed(),
                trace_id: None,
                sampled: false,
                error: Some("cut off in flight by the interrupt".into()),
                interrupted: true,
                sent: None,
            },
        };
        (self.on_done)(&record);
        record
    }
}

/// `concurrency` workers, each sending its next request when its last one
/// answered, until `requests` are sent.
async fn closed_model(
    shared: Arc<Shared>,
    requests: u64,
    concurrency: usize,
    stop: &CancellationToken,
) -> Vec<RequestRecord> {
    let next = Arc::new(AtomicU64::new(0));
    let workers = concurrency.min(requests as usize).max(1);
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let next = Arc::clone(&next);
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::new(&shared.authority);
            let mut records = Vec::new();
            while !stop.is_cancelled() && next.fetch_add(1, Ordering::Relaxed) < requests {
                records.push(shared.send_one(Some(&mut connection)).await);
            }
            records
        }));
    }
    let mut records = Vec::with_capacity(requests as usize);
    for task in tasks {
        if let Ok(mut part) = task.await {
            records.append(&mut part);
        }
    }
    records
}

/// `requests` sent `rate` per second on a fixed schedule, each on its own
/// task, whatever the answers take (up to [`OPEN_MODEL_IN_FLIGHT`] at once:
/// past that the schedule waits, and the report's rate shows it).
async fn open_model(
    shared: Arc<Shared>,
    requests: u64,
    rate: f64,
    stop: &CancellationToken,
) -> Vec<RequestRecord> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(OPEN_MODEL_IN_FLIGHT));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(requests as usize);
    for i in 0..requests {
        // On schedule from the start, so a late wake-up does not slow the rate.
        let permit = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            permit = async {
                tokio::time::sleep_until(start + interval.mul_f64(i as f64)).await;
                Arc::clone(&in_flight).acquire_owned().await
            } => permit,
        };
        let Ok(permit) = permit else {
            break;
        };
        let shared = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            let record = shared.send_one(None).await;
            drop(permit);
            record
        }));
    }
    let mut records = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(record) = task.await {
            records.push(record);
        }
    }
    records
}

fn record(
    request_id: String,
    latency: Duration,
    result: Result<Response, Failure>,
) -> RequestRecord {
    match result {
        Ok(response) => {
            let traceresponse = response
                .headers
                .get("traceresponse")
                .and_then(|v| v.to_str().ok());
            RequestRecord {
                request_id,
                status: Some(response.status),
                latency,
                trace_id: traceresponse.and_then(trace_id_from_traceresponse),
                sampled: traceresponse.is_some_and(|v| v.ends_with("-01")),
                error: None,
                interrupted: false,
                sent: None,
            }
        }
        Err(failure) => RequestRecord {
            request_id,
            status: None,
            latency,
            trace_id: None,
            sampled: false,
            error: Some(failure.body()),
            interrupted: false,
            sent: None,
        },
    }
}

/// `00-<trace>-<span>-<flags>` → the trace id as Jaeger prints it (16 hex
/// digits when the high half is zero).
pub fn trace_id_from_traceresponse(value: &str) -> Option<String> {
    let trace = value.split('-').nth(1)?;
    if trace.len() != 32 || !trace.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(normalize_trace_id(trace))
}

/// Jaeger's spelling of a trace id.
pub fn normalize_trace_id(hex: &str) -> String {
    let lower = hex.to_ascii_lowercase();
    let padded = format!("{lower:0>32}");
    match padded.strip_prefix("0000000000000000") {
        Some(low) => low.to_string(),
        None => padded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceresponse_gives_the_trace_id_in_jaegers_spelling() {
        assert_eq!(
            trace_id_from_traceresponse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id_from_traceresponse("00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .as_deref(),
            Some("a3ce929d0e0e4736")
        );
        assert_eq!(trace_id_from_traceresponse("garbage"), None);
    }
}
