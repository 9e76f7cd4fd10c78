//! The collector failing under a run, through the real binary: a proxy in
//! front of a `tracelab collector` process answers 503 for a while, or
//! vanishes for good after the first export. Retries must carry the spans
//! through the first; the report must count, truthfully, what the second
//! cost. A collector that never accepts the connection is given up on at
//! the connect timeout. (Refused at start, ports taken, programs that crash
//! or never listen, and Jaeger dying are in tests/sandbox.rs,
//! tests/processes.rs and tests/real_jaeger.rs; SIGINT/SIGTERM in
//! tests/interrupt.rs.)

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// What the proxy does to the exports that pass through it.
#[derive(Default)]
struct Faults {
    /// Answer this many exports 503 (then forward again).
    unavailable: AtomicU32,
    /// Forward this many exports, then vanish: every later export (and
    /// every connection) is dropped unanswered. `u32::MAX`: never vanish.
    forward_then_vanish: AtomicU32,
    answered_503: AtomicU32,
    /// Exports and connections dropped after vanishing: tries, retries included.
    dropped: AtomicU32,
}

/// An OTLP/HTTP proxy in front of the collector, with [`Faults`].
struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Faults>,
}

impl FaultProxy {
    async fn start(target_otlp: &str, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(faults);
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let target = format!("{target_otlp}/v1/traces");
        let shared = Arc::clone(&faults);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let faults = Arc::clone(&shared);
                if faults.forward_then_vanish.load(Ordering::SeqCst) == 0 {
                    faults.dropped.fetch_add(1, Ordering::SeqCst);
                    drop(stream);
                    continue;
                }
                let (client, target) = (client.clone(), target.clone());
                let service = service_fn(move |request: Request<Incoming>| {
                    let (faults, client, target) =
                        (Arc::clone(&faults), client.clone(), target.clone());
                    async move { answer(&faults, &client, &target, request).await }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        FaultProxy { addr, faults }
    }

    /// Forwards the first export, then vanishes for good.
    async fn vanishing_after_one_export(target_otlp: &str) -> FaultProxy {
        let faults = Faults {
            forward_then_vanish: AtomicU32::new(1),
            ..Faults::default()
        };
        FaultProxy::start(target_otlp, faults).await
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn answer(
    faults: &Faults,
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    target: &str,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let take = |budget: &AtomicU32| {
        budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                0 => None,
                u32::MAX => Some(u32::MAX),
                n => Some(n - 1),
            })
            .is_ok()
    };
    let (parts, body) = request.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    // tracelab's preflight (an empty export) always gets through: the
    // faults start once spans flow.
    let spans = !body.is_empty();
    if spans && take(&faults.unavailable) {
        faults.answered_503.fetch_add(1, Ordering::SeqCst);
        let mut response = Response::new(Full::new(Bytes::from_static(b"try again later")));
        *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
        return Ok(response);
    }
    if spans && !take(&faults.forward_then_vanish) {
        faults.dropped.fetch_add(1, Ordering::SeqCst);
        // Gone: hyper drops the connection unanswered.
        return Err(std::io::Error::other("the collector is gone"));
    }
    let mut forward = Request::post(target).body(Full::new(body)).unwrap();
    *forward.headers_mut() = parts.headers;
    forward.headers_mut().remove("host");
    let response = client.request(forward).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// Run the sandbox scenario (10 requests) exporting through the proxy and
/// reading from the collector; the output and the JSON report.
async fn run_through(
    collector: &CollectorProcess,
    proxy: &FaultProxy,
    scenario: &str,
) -> (std::process::Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let args = [
        "run".to_string(),
        "--jaeger-url".into(),
        collector.query.clone(),
        "--otlp-endpoint".into(),
        proxy.url(),
        "--report".into(),
        format!("json={}", json.display()),
        scenario.into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tracelab(&args)
    })
    .await
    .unwrap();
    let report = std::fs::read_to_string(&json)
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap_or_else(|_| panic!("no report: {}{}", stdout(&out), stderr(&out)));
    (out, report)
}

/// Spans the collector holds, over every trace of the sandbox's services.
fn spans_held(collector: &CollectorProcess) -> usize {
    let mut traces: BTreeMap<String, usize> = BTreeMap::new();
    for service in ["front-proxy", "service1", "service2"] {
        let found = collector.get(&format!("/api/traces?service={service}&limit=1000"));
        for trace in found["data"].as_array().into_iter().flatten() {
            traces.insert(
                trace["traceID"].as_str().unwrap().to_string(),
                trace["spans"].as_array().unwrap().len(),
            );
        }
    }
    traces.values().sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_answering_503_for_a_while_loses_nothing_the_exports_retry() {
    let collector = CollectorProcess::start();
    let proxy = FaultProxy::start(
        &collector.otlp,
        Faults {
            unavailable: AtomicU32::new(3),
            forward_then_vanish: AtomicU32::new(u32::MAX),
            ..Faults::default()
        },
    )
    .await;
    let (out, report) = run_through(&collector, &proxy, "scenarios/jaeger.rhai").await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert_eq!(proxy.faults.answered_503.load(Ordering::SeqCst), 3);
    assert!(text.contains("10 traces, 40 spans"), "{text}");
    assert!(!text.contains("did not reach"), "{text}");
    let delivery = &report["scenarios"][0]["delivery"];
    assert_eq!(delivery["ended"], 40, "{delivery}");
    assert_eq!(delivery["delivered"], 40, "{delivery}");
    assert_eq!(spans_held(&collector), 40);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_gone_mid_run_is_retried_then_the_report_counts_the_spans_it_lost() {
    let collector = CollectorProcess::start();
    // Each component exports its own batches: the first export gets
    // through, the collector is gone for every one after it.
    let proxy = FaultProxy::vanishing_after_one_export(&collector.otlp).await;
    let (out, report) = run_through(&collector, &proxy, "scenarios/jaeger.rhai").await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));

    let delivery = &report["scenarios"][0]["delivery"];
    let ended = delivery["ended"].as_u64().unwrap();
    let delivered = delivery["delivered"].as_u64().unwrap();
    assert_eq!(ended, 40, "{delivery}");
    assert!(delivered > 0 && delivered < ended, "{delivery}");
    assert_eq!(delivery["failed"].as_u64().unwrap(), ended - delivered);
    assert!(
        text.contains(&format!(
            "{} of 40 spans did not reach the collector, retries included",
            ended - delivered
        )),
        "{text}"
    );
    let lost = report["scenarios"][0]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["source"]["check"] == "collector.delivery")
        .expect("a collector.delivery check");
    assert_eq!(lost["passed"], false);
    assert_eq!(
        lost["observed"],
        format!("{} of 40 spans not delivered", ended - delivered)
    );
    // The report's count is the truth: the collector holds the rest.
    assert_eq!(spans_held(&collector) as u64, delivered);
    // A failed batch is tried once and retried five times before the
    // exporter takes the collector for gone.
    let tries = proxy.faults.dropped.load(Ordering::SeqCst);
    assert!(
        tries >= 6,
        "only {tries} tries after the collector vanished"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_collector_that_never_accepts_the_connection_is_given_up_on_at_the_connect_timeout_exit_3()
 {
    // A listener with a full accept queue: the kernel drops every further
    // SYN, so a connection neither opens nor is refused (like a firewalled
    // host). Only a connect timeout ends the wait.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let _fills_the_queue = std::net::TcpStream::connect(addr).unwrap();
    let url = format!("http://{addr}");
    let out = tokio::task::spawn_blocking(move || {
        tracelab(&[
            "run",
            "--jaeger-url",
            &url,
            "--otlp-endpoint",
            &url,
            "scenarios/jaeger.rhai",
        ])
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the Jaeger query API at http://{addr}/api/services did not answer"
        )),
        "{err}"
    );
    // The connect timeout ended it, not the answer's (10 s) timeout.
    assert!(
        err.contains("the connection was neither accepted nor refused within 3 s"),
        "{err}"
    );
    assert!(!err.contains("no answer within"), "{err}");
    assert!(err.contains("is Jaeger running"), "{err}");
    assert!(stdout(&out).is_empty(), "nothing ran: {}", stdout(&out));
    drop(listener);
}

#[test]
fn a_query_api_that_answers_beside_an_otlp_endpoint_that_does_not_exits_3_naming_the_endpoint() {
    let collector = CollectorProcess::start();
    let otlp = format!("http://127.0.0.1:{}", closed_port());
    let out = tracelab(&[
        "run",
        "--jaeger-url",
        &collector.query,
        "--otlp-endpoint",
        &otlp,
        "scenarios/jaeger.rhai",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the OTLP endpoint {otlp}/v1/traces did not answer"
        )),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "nothing ran: {}", stdout(&out));
}

#[test]
fn a_collector_port_already_taken_exits_3_naming_the_port_and_the_flag() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let out = tracelab(&["collector", "--free-ports", "--otlp-port", &port]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cannot listen on 127.0.0.1:{port}: port {port} is already in use"
        )),
        "{err}"
    );
    assert!(err.contains("--otlp-port PORT"), "{err}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_lost_with_the_collector_fail_the_run_even_when_its_own_checks_pass_on_the_rest() {
    let collector = CollectorProcess::start();
    let proxy = FaultProxy::vanishing_after_one_export(&collector.otlp).await;
    let (_dir, path) = scratch_scenario("lenient.rhai", &sandbox_that_passes_on_fragments());
    let (out, report) = run_through(&collector, &proxy, path_str(&path)).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains("✔ at most 4 spans a trace"), "{text}");
    assert!(
        text.contains("✘ every span reached the collector (sandbox) — "),
        "{text}"
    );
    let failed = failed_outcomes(&report["scenarios"][0]);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["source"]["check"], "collector.delivery");
}
