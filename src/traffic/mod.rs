//! The traffic generator: sends a scenario's requests into the mesh and
//! records, per request, its id, status, latency and trace id.
//!
//! Closed model (`closed`): `concurrency` workers, each with its own
//! keep-alive connection (`http_client::Connection`), sending its next
//! request when the last one answered (slow answers slow the load), on
//! generator threads of their own. Open model: requests
//! leave on a fixed schedule, `rate` per second, however slow the answers
//! (what real users do; latency then includes queueing).
//!
//! A run can be stopped ([`run_until`]): no request starts after that, the
//! ones in flight get [`STOP_GRACE`] to finish (as k6's graceful stop),
//! then are cut off and recorded as interrupted, and the records say what
//! was sent.
//!
//! Every finished request is counted into the run's summary
//! (`stats::SummaryBuilder`, fixed memory); its record is kept as well
//! unless the caller asks for the summary only ([`Retain`]), as a run of
//! millions of requests must.
//!
//! Each request carries a fresh `x-request-id`; every span of its trace is
//! tagged with it (`guid:x-request-id`), which is how the assertions find
//! the traces of a traffic block in Jaeger, even when propagation broke.
//! A request to an external target also starts its trace
//! (`trace_context`): the trace id it sent finds it in a system that does
//! not pass `x-request-id` on.

mod closed;
pub mod stats;
pub mod trace_context;

use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use http_body_util::Full;
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use self::stats::{Schedule, SummaryBuilder, TrafficSummary};

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

/// What a run keeps of its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retain {
    /// A [`RequestRecord`] per request, and the summary.
    #[default]
    Records,
    /// The summary only (counts, the first failures, a latency
    /// histogram): memory stays flat however many requests are sent.
    Summary,
}

/// How a run goes beyond its block: what it keeps, what bounds it, who
/// hears of each request leaving.
#[derive(Clone, Default)]
pub struct RunOptions {
    pub retain: Retain,
    /// Places each request takes before it leaves ([`Admission`]).
    pub admission: Option<Admission>,
    /// Told as each request leaves (for progress: sent against answered).
    pub on_sent: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// A finished run: what was sent, and its summary.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its records are empty unless the run kept them ([`Retain::Records`]).
    pub run: TrafficRun,
    /// Filled as requests finished, whatever the run kept.
    pub summary: TrafficSummary,
    /// The first [`stats::FIRST_ERRORS`] failed requests, in full.
    pub first_errors: Vec<RequestRecord>,
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
    run_until(
        block,
        authority,
        on_done,
        &CancellationToken::new(),
        RunOptions::default(),
    )
    .await
    .run
}

/// [`run`], sending no new request once `stop` is cancelled (those in
/// flight get [`STOP_GRACE`], then are cut off); the run then holds what
/// was sent, its records kept as `options.retain` says.
pub async fn run_until(
    block: &Traffic,
    authority: &str,
    on_done: Arc<dyn Fn(&RequestRecord) + Send + Sync>,
    stop: &CancellationToken,
    options: RunOptions,
) -> Finished {
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
    // Set per request, and by the clients when missing: in the map from
    // the start, each request's copy is filled in place (scripts may not
    // set `host`).
    if let Ok(host) = HeaderValue::from_str(authority) {
        base_headers.insert(http::header::HOST, host);
    }
    base_headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static(""));

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
        uri: block.path.parse().ok(),
        headers: base_headers,
        body,
        timeout: block.timeout,
        on_done,
        keep: options.retain == Retain::Records,
        summary: Mutex::new(SummaryBuilder::default()),
        admission: options.admission,
        on_sent: options.on_sent,
    });
    let records = match block.rate {
        Some(rate) => open_model(Arc::clone(&shared), block.requests, rate, stop).await,
        None => closed::run(Arc::clone(&shared), block.requests, block.concurrency, stop).await,
    };
    cutter.abort();
    let elapsed = clock.elapsed();
    let summary = shared.summary.lock().expect("no panic while counting");
    Finished {
        summary: summary.finish(elapsed),
        first_errors: summary.first_errors(),
        run: TrafficRun {
            name: block.name.clone(),
            target: block.target.clone(),
            records,
            started,
            elapsed,
        },
    }
}

/// Open-model requests in flight at most: each holds sockets, and a slow
/// target must not exhaust the process's file descriptors.
pub const OPEN_MODEL_IN_FLIGHT: usize = 512;

/// Places for requests sent and not yet done with: each request takes one
/// before it leaves, and whoever consumes its record gives it back
/// ([`Admission::release`]). A consumer that falls behind (a judge waiting
/// for traces) holds the traffic back, so its backlog, and the memory it
/// takes, stays bounded; an open model's schedule then slips, and says so.
#[derive(Debug, Clone)]
pub struct Admission(Arc<tokio::sync::Semaphore>);

impl Admission {
    pub fn new(places: usize) -> Self {
        Admission(Arc::new(tokio::sync::Semaphore::new(places)))
    }

    /// Give back the place of one request that is done with.
    pub fn release(&self) {
        self.0.add_permits(1);
    }

    /// Take a place if one is free.
    fn try_enter(&self) -> bool {
        self.0.try_acquire().map(|permit| permit.forget()).is_ok()
    }

    /// Take a place, waiting for one.
    async fn enter(&self) {
        let permit = self
            .0
            .acquire()
            .await
            .expect("the semaphore is never closed");
        permit.forget();
    }
}

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
    /// `path`, parsed once.
    uri: Option<Uri>,
    headers: HeaderMap,
    body: Bytes,
    timeout: Duration,
    on_done: Arc<dyn Fn(&RequestRecord) + Send + Sync>,
    /// Keep each request's record ([`Retain::Records`]).
    keep: bool,
    /// Every finished request is counted here: at once by the open
    /// model's tasks, at the end by the closed model's generator threads
    /// (each counts its own, no lock shared per request).
    summary: Mutex<SummaryBuilder>,
    /// Places each request takes before it leaves, if the caller bounds them.
    admission: Option<Admission>,
    on_sent: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl Shared {
    /// One request, on `connection` (closed model) or the pooled client
    /// (open model).
    /// `cut` waits for the run's cut, or a worker's child of it (no lock
    /// shared by every worker on each poll); a worker waits on one for
    /// all its requests, not registering anew for each.
    async fn send_one(
        &self,
        connection: Option<&mut Connection>,
        cut: Pin<&mut WaitForCancellationFuture<'_>>,
    ) -> RequestRecord {
        let request_id = new_request_id();
        // Holds every header the request sends: the id replaces the
        // placeholder in place, nothing grows.
        let mut headers = self.headers.clone();
        headers.insert(
            REQUEST_ID_HEADER,
            HeaderValue::from_str(&request_id).expect("a uuid is a valid header value"),
        );
        let sent = self
            .trace_context
            .as_deref()
            .map(|formats| trace_context::start(formats, &mut headers));
        if let Some(on_sent) = &self.on_sent {
            on_sent();
        }
        let started = Instant::now();
        let body = self.body.clone();
        let exchange = async {
            match (connection, &self.uri) {
                (Some(connection), Some(uri)) => {
                    let mut request = http::Request::new(Full::new(body));
                    *request.method_mut() = self.method.clone();
                    *request.uri_mut() = uri.clone();
                    *request.headers_mut() = headers;
                    connection.send_request(request, self.timeout).await
                }
                (Some(connection), None) => {
                    // Not a path: the connection says why.
                    connection
                        .send(&self.method, &self.path, headers, body, self.timeout)
                        .await
                }
                (None, _) => {
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
            () = cut => None,
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

/// `requests` sent `rate` per second on a fixed schedule, each on its own
/// task, whatever the answers take (up to [`OPEN_MODEL_IN_FLIGHT`] at once:
/// past that the schedule waits, and the report's rate shows it). Finished
/// tasks are reaped as the schedule goes, so only those in flight are held;
/// kept records come back in the order they were sent.
async fn open_model(
    shared: Arc<Shared>,
    requests: u64,
    rate: f64,
    stop: &CancellationToken,
) -> Vec<RequestRecord> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(OPEN_MODEL_IN_FLIGHT));
    let start = tokio::time::Instant::now();
    let mut tasks = JoinSet::new();
    let mut sent = Vec::new();
    let mut keep = |done: Result<(u64, Option<RequestRecord>), _>| {
        if let Ok((i, Some(record))) = done {
            sent.push((i, record));
        }
    };
    let mut schedule = Schedule::default();
    let mut behind = Duration::ZERO;
    for i in 0..requests {
        // On schedule from the start, so a late wake-up does not slow the rate.
        let due = start + interval.mul_f64(i as f64);
        let permit = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            permit = async {
                tokio::time::sleep_until(due).await;
                let permit = match Arc::clone(&in_flight).try_acquire_owned() {
                    Ok(permit) => Ok(permit),
                    Err(_) => {
                        schedule.waited_in_flight += 1;
                        Arc::clone(&in_flight).acquire_owned().await
                    }
                };
                if let Some(admission) = &shared.admission
                    && !admission.try_enter()
                {
                    schedule.waited_for_judge += 1;
                    admission.enter().await;
                }
                permit
            } => permit,
        };
        let Ok(permit) = permit else {
            break;
        };
        behind = behind.max(tokio::time::Instant::now().saturating_duration_since(due));
        let shared = Arc::clone(&shared);
        tasks.spawn(async move {
            let cut = pin!(shared.cut.cancelled());
            let record = shared.send_one(None, cut).await;
            drop(permit);
            shared
                .summary
                .lock()
                .expect("no panic while counting")
                .add(&record);
            (i, shared.keep.then_some(record))
        });
        while let Some(done) = tasks.try_join_next() {
            keep(done);
        }
    }
    schedule.behind_ms = behind.as_secs_f64() * 1000.0;
    shared
        .summary
        .lock()
        .expect("no panic while counting")
        .set_schedule(schedule);
    while let Some(done) = tasks.join_next().await {
        keep(done);
    }
    sent.sort_unstable_by_key(|(i, _)| *i);
    sent.into_iter().map(|(_, record)| record).collect()
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
    use std::sync::atomic::{AtomicU64, Ordering};

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

    /// Answers 200, and 503 to every third request, on 127.0.0.1:0.
    async fn flaky_server() -> (String, CancellationToken) {
        struct Flaky(AtomicU64);
        impl crate::server::Handler for Flaky {
            async fn handle(
                &self,
                _: http::Request<hyper::body::Incoming>,
                _: std::net::SocketAddr,
            ) -> http::Response<crate::server::Body> {
                let n = self.0.fetch_add(1, Ordering::Relaxed);
                crate::server::text(if n % 3 == 2 { 503 } else { 200 }, "hi\n")
            }
        }
        let (addr, stop) =
            crate::server::serve_on_loopback(Arc::new(Flaky(AtomicU64::new(0)))).await;
        (addr.to_string(), stop)
    }

    fn block(rate: Option<f64>) -> Traffic {
        Traffic {
            name: "t".into(),
            target: "flaky".into(),
            requests: 30,
            concurrency: 4,
            rate,
            method: "GET".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: String::new(),
            timeout: Duration::from_secs(10),
            trace_context: None,
            integrity: crate::scenario::model::IntegrityChecks::default(),
            origin: crate::scenario::model::Origin::default(),
        }
    }

    #[tokio::test]
    async fn a_run_keeping_the_summary_only_counts_every_request_and_keeps_no_record() {
        let (authority, server) = flaky_server().await;
        for rate in [None, Some(2000.0)] {
            let done = Arc::new(AtomicU64::new(0));
            let on_done = Arc::new({
                let done = Arc::clone(&done);
                move |_: &RequestRecord| {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
            let finished = run_until(
                &block(rate),
                &authority,
                on_done,
                &CancellationToken::new(),
                RunOptions {
                    retain: Retain::Summary,
                    ..RunOptions::default()
                },
            )
            .await;
            assert!(finished.run.records.is_empty(), "{rate:?}");
            assert_eq!(done.load(Ordering::Relaxed), 30);
            let summary = &finished.summary;
            assert_eq!(summary.requests, 30, "{rate:?}");
            assert_eq!(summary.statuses.values().sum::<u64>(), 30);
            assert_eq!(summary.errors, summary.statuses["503"]);
            assert_eq!(finished.first_errors.len() as u64, summary.errors.min(10));
            assert!(summary.latency_ms.max > 0.0);
        }
        server.cancel();
    }

    #[tokio::test]
    async fn a_run_keeping_records_summarizes_them_as_the_records_do() {
        let (authority, server) = flaky_server().await;
        for rate in [None, Some(2000.0)] {
            let finished = run_until(
                &block(rate),
                &authority,
                Arc::new(|_: &RequestRecord| {}),
                &CancellationToken::new(),
                RunOptions::default(),
            )
            .await;
            assert_eq!(finished.run.records.len(), 30, "{rate:?}");
            // The schedule is the open model's alone: the records do not say it.
            let of_records = stats::TrafficSummary {
                schedule: finished.summary.schedule,
                ..stats::TrafficSummary::of(&finished.run)
            };
            assert_eq!(finished.summary, of_records);
            assert_eq!(finished.summary.schedule.is_some(), rate.is_some());
            let ids: std::collections::HashSet<&str> = finished
                .run
                .records
                .iter()
                .map(|r| r.request_id.as_str())
                .collect();
            assert_eq!(ids.len(), 30, "every request its own id");
        }
        server.cancel();
    }

    /// With an admission of 3 places that nobody gives back, exactly 3
    /// requests leave, whichever the model; the open model counts the
    /// fourth as waiting for the judge. (At a million a second the fourth
    /// is due before any answer can come, so it always finds no place.)
    #[tokio::test]
    async fn no_more_requests_leave_than_the_admission_has_places() {
        let (authority, server) = flaky_server().await;
        for rate in [None, Some(1_000_000.0)] {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let on_done = Arc::new(move |_: &RequestRecord| {
                let _ = tx.send(());
            });
            let stop = CancellationToken::new();
            let run = tokio::spawn({
                let (authority, stop) = (authority.clone(), stop.clone());
                async move {
                    run_until(
                        &block(rate),
                        &authority,
                        on_done,
                        &stop,
                        RunOptions {
                            retain: Retain::Summary,
                            admission: Some(Admission::new(3)),
                            on_sent: None,
                        },
                    )
                    .await
                }
            });
            for _ in 0..3 {
                rx.recv().await.expect("three requests finish");
            }
            stop.cancel();
            let finished = run.await.unwrap();
            assert_eq!(finished.summary.requests, 3, "{rate:?}");
            if rate.is_some() {
                let schedule = finished.summary.schedule.expect("an open model's schedule");
                assert_eq!(schedule.waited_for_judge, 1);
                assert_eq!(schedule.waited_in_flight, 0);
            }
        }
        server.cancel();
    }
}
