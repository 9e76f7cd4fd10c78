//! Collector ingest: sandbox-shaped traces (4 spans over 3 services, with
//! Envoy's tags) encoded once as OTLP/HTTP protobuf batches, then posted by
//! `concurrency` connections as fast as the collector answers. Timed twice:
//! until every batch is accepted, and until a sample of the traces (every
//! 100th, and all of the last batch) reads back complete through the Jaeger
//! query API. Afterwards, untimed, every trace is read back and counted.
//!
//! With `--pid`, the collector's resident memory is read before and after.
//! With `--grpc`, the same batches go as OTLP/gRPC `TraceService/Export`
//! calls (pre-framed, over HTTP/2 connections) to the `--otlp` server URL.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::json;

const SPANS_PER_TRACE: usize = 4;
const SERVICES: [&str; 3] = ["front-proxy", "service1", "service2"];

#[derive(Args)]
pub struct IngestArgs {
    /// The OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces
    #[arg(long)]
    otlp: String,
    /// The Jaeger query API root, e.g. http://127.0.0.1:16686
    #[arg(long)]
    query: String,
    /// The collector's pid, to read its resident memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Spans in all (rounded down to whole batches).
    #[arg(long, default_value_t = 200_000)]
    spans: usize,
    /// Traces per export request (4 spans each).
    #[arg(long, default_value_t = 128)]
    batch_traces: usize,
    /// Export requests in flight.
    #[arg(short = 'c', long, default_value_t = 8)]
    concurrency: usize,
    /// Export over OTLP/gRPC: `--otlp` is the server, e.g. http://127.0.0.1:4317
    #[arg(long)]
    grpc: bool,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let batches = args.spans / (args.batch_traces * SPANS_PER_TRACE);
    anyhow::ensure!(batches > 0, "--spans is less than one batch");
    let nonce = now_ns();
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        (0..batches)
            .map(|b| encode_batch(nonce, b, args.batch_traces))
            .collect(),
    );
    let traces = batches * args.batch_traces;
    let spans = traces * SPANS_PER_TRACE;
    // gRPC is HTTP/2 only. A pooled HTTP/2 client multiplexes every call
    // on one connection, so each worker gets a client of its own: eight
    // connections, as eight exporting services would open (and as the
    // HTTP/1.1 pool opens for eight requests in flight).
    let client_for_worker = || -> HttpClient {
        let mut builder = Client::builder(TokioExecutor::new());
        if args.grpc {
            builder.http2_only(true);
        }
        builder.build_http()
    };
    let shared_client = client_for_worker();
    let url = if args.grpc {
        format!(
            "{}/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            args.otlp.trim_end_matches('/')
        )
    } else {
        args.otlp.clone()
    };
    let grpc = args.grpc;
    let rss_before = args.pid.and_then(rss_kib);

    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (client, bodies, next, url) = (
            if grpc {
                client_for_worker()
            } else {
                shared_client.clone()
            },
            Arc::clone(&bodies),
            Arc::clone(&next),
            url.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut refused = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return refused;
                };
                let sent = if grpc {
                    export_grpc(&client, &url, body.clone()).await
                } else {
                    post(&client, &url, body.clone()).await
                };
                if !sent {
                    refused += 1;
                }
            }
        }));
    }
    let mut refused = 0;
    for worker in workers {
        refused += worker.await?;
    }
    let accepted_s = started.elapsed().as_secs_f64();

    // Every 100th trace and the whole last batch: queryable means these
    // read back with all their spans.
    let mut sample: Vec<usize> = (0..traces).step_by(100).collect();
    sample.extend((batches - 1) * args.batch_traces..traces);
    sample.dedup();
    let reader = Reader::new(&args.query);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut missing = sample.clone();
    while !missing.is_empty() && Instant::now() < deadline {
        missing = reader.incomplete(nonce, &missing).await?;
        if !missing.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let queryable_s = started.elapsed().as_secs_f64();
    let rss_after = args.pid.and_then(rss_kib);
    let rss_peak = args.pid.and_then(|p| status_kib(p, "VmHWM:"));

    // Untimed: every trace, counted.
    let all: Vec<usize> = (0..traces).collect();
    let mut incomplete = 0;
    for chunk in all.chunks(2_000) {
        incomplete += reader.incomplete(nonce, chunk).await?.len();
    }

    println!(
        "{}",
        json!({
            "spans": spans,
            "traces": traces,
            "batches": batches,
            "refused_batches": refused,
            "accepted_s": accepted_s,
            "queryable_s": queryable_s,
            "accepted_spans_per_s": spans as f64 / accepted_s,
            "queryable_spans_per_s": spans as f64 / queryable_s,
            "sample_missing": missing.len(),
            "complete_traces": traces - incomplete,
            "rss_before_kib": rss_before,
            "rss_after_kib": rss_after,
            "rss_peak_kib": rss_peak,
        })
    );
    Ok(())
}

async fn post(client: &HttpClient, url: &str, body: Bytes) -> bool {
    let request = hyper::Request::post(url)
        .header("content-type", "application/x-protobuf")
        .body(Full::new(body))
        .expect("a valid request");
    match client.request(request).await {
        Ok(response) => {
            let ok = response.status().is_success();
            let _ = response.into_body().collect().await;
            ok
        }
        Err(_) => false,
    }
}

/// One unary `Export` call: the pre-encoded message in a gRPC frame; OK
/// only with `grpc-status: 0`.
async fn export_grpc(client: &HttpClient, url: &str, message: Bytes) -> bool {
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    let request = hyper::Request::post(url)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from(frame)))
        .expect("a valid request");
    let Ok(response) = client.request(request).await else {
        return false;
    };
    let status_in =
        |headers: &http::HeaderMap| headers.get("grpc-status").map(|v| v.as_bytes() == b"0");
    if let Some(ok) = status_in(response.headers()) {
        return ok && response.status().is_success();
    }
    match response.into_body().collect().await {
        Ok(collected) => collected.trailers().and_then(status_in).unwrap_or(false),
        Err(_) => false,
    }
}

/// Reads traces back by id through `GET /api/traces?traceID=...`.
struct Reader {
    base: String,
    client: Client<HttpConnector, http_body_util::Empty<Bytes>>,
}

impl Reader {
    fn new(base: &str) -> Self {
        Reader {
            base: base.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Of the traces numbered `wanted`, those not stored with all 4 spans.
    async fn incomplete(&self, nonce: u64, wanted: &[usize]) -> anyhow::Result<Vec<usize>> {
        let mut missing = Vec::new();
        for chunk in wanted.chunks(100) {
            let query: Vec<String> = chunk
                .iter()
                .map(|&t| format!("traceID={}", trace_hex(nonce, t)))
                .collect();
            let url = format!("{}/api/traces?{}", self.base, query.join("&"));
            let response = self.client.get(url.parse()?).await?;
            let body = response.into_body().collect().await?.to_bytes();
            let envelope: serde_json::Value = serde_json::from_slice(&body)?;
            let complete: std::collections::HashSet<String> = envelope["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["spans"].as_array().map(Vec::len) == Some(SPANS_PER_TRACE))
                .filter_map(|t| t["traceID"].as_str().map(str::to_string))
                .collect();
            missing.extend(
                chunk
                    .iter()
                    .filter(|&&t| !complete.contains(&trace_hex(nonce, t))),
            );
        }
        Ok(missing)
    }
}

/// Trace `t` of this run: the nonce in the high half, so runs never mix.
fn trace_id(nonce: u64, t: usize) -> u128 {
    (u128::from(nonce) << 64) | (t as u128 + 1)
}

fn trace_hex(nonce: u64, t: usize) -> String {
    format!("{:032x}", trace_id(nonce, t))
}

/// One export request: `traces` sandbox traces, one resource per service.
fn encode_batch(nonce: u64, batch: usize, traces: usize) -> Bytes {
    let now = now_ns();
    let mut by_service: [Vec<Span>; 3] = Default::default();
    for i in 0..traces {
        let t = batch * traces + i;
        let trace = trace_id(nonce, t).to_be_bytes().to_vec();
        let start = now - 10_000_000 + (i as u64) * 1_000;
        let id = |k: u64| ((t as u64) * 4 + k).to_be_bytes().to_vec();
        let request_id = format!("{nonce:016x}-{t:012x}");
        // (service, kind, name, span, parent, offset µs, duration µs)
        let chain = [
            (0, SpanKind::Client, "checkAvailability", 1, 0, 0, 9_000),
            (1, SpanKind::Server, "checkAvailability", 2, 1, 500, 8_000),
            (1, SpanKind::Client, "checkStock", 3, 2, 1_000, 6_000),
            (2, SpanKind::Server, "checkStock", 4, 3, 1_500, 5_000),
        ];
        for (service, kind, name, span, parent, offset, duration) in chain {
            let begin = start + offset * 1_000;
            by_service[service].push(Span {
                trace_id: trace.clone(),
                span_id: id(span),
                parent_span_id: if parent == 0 { vec![] } else { id(parent) },
                name: name.to_string(),
                kind: kind as i32,
                start_time_unix_nano: begin,
                end_time_unix_nano: begin + duration * 1_000,
                attributes: envoy_tags(SERVICES[service], &request_id),
                ..Default::default()
            });
        }
    }
    let resource_spans = SERVICES
        .iter()
        .zip(by_service)
        .map(|(service, spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    Bytes::from(ExportTraceServiceRequest { resource_spans }.encode_to_vec())
}

fn envoy_tags(node: &str, request_id: &str) -> Vec<KeyValue> {
    [
        ("component", "proxy"),
        ("node_id", node),
        ("guid:x-request-id", request_id),
        ("http.url", "http://127.0.0.1:8000/trace/1"),
        ("http.method", "GET"),
        ("http.protocol", "HTTP/1.1"),
        ("downstream_cluster", "-"),
        ("user_agent", "tracelab-bench"),
        ("peer.address", "127.0.0.1"),
        ("request_size", "0"),
        ("upstream_cluster", "service1"),
        ("upstream_cluster.name", "service1"),
        ("http.status_code", "200"),
        ("response_size", "89"),
        ("response_flags", "-"),
    ]
    .into_iter()
    .map(|(k, v)| string(k, v))
    .collect()
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64
}

/// Resident memory of `pid`, KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
