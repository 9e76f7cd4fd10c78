//! The differential harness: one real Jaeger v2 and one embedded collector,
//! the same input sent to both, the same API requests asked of both.
//!
//! Answers are compared byte for byte where Jaeger's output is fully
//! defined, and otherwise after normalising only what Jaeger leaves
//! undefined: the order of spans in a trace (its span-hash deduplication
//! walks a Go map), the process ids that order implies, and the order of
//! service and operation lists (Go maps too). Every difference is recorded
//! with the request that showed it, and a test fails listing them all.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use serde_json::Value;
use tonic::codec::CompressionEncoding;
use tracelab::backend::jaeger_process::{JaegerProcess, JaegerSettings};
use tracelab::collector::{CollectorConfig, RunningCollector};
use tracelab::http_client::Client;

/// One HTTP answer, reduced to what a client can observe.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

impl Answer {
    pub fn of(response: tracelab::http_client::Response) -> Answer {
        Answer {
            status: response.status,
            content_type: response
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            body: response.body,
        }
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    fn describe(&self) -> String {
        format!(
            "{} [{}] {}",
            self.status,
            self.content_type,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// How two answers must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Status, content type and body bytes identical.
    Bytes,
    /// Status and content type identical; JSON bodies equal once span
    /// order, process ids and list order are normalised.
    Normalised,
    /// As `Normalised`, and the traces of a search in any order (Jaeger
    /// stores the traces of one export in Go map order).
    AnyTraceOrder,
}

pub struct Pair {
    pub jaeger: JaegerProcess,
    pub embedded: RunningCollector,
    http: Client,
    differences: Vec<String>,
    checks: usize,
}

impl Pair {
    /// A fresh Jaeger and embedded collector; `None` when the real Jaeger
    /// tests are skipped (TRACELAB_SKIP_JAEGER=1).
    pub async fn start() -> Option<Pair> {
        let bin = crate::common::jaeger_bin()?;
        let jaeger = JaegerProcess::start(&JaegerSettings::new(bin))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let embedded = RunningCollector::start_ephemeral(&CollectorConfig::default())
            .await
            .unwrap();
        Some(Pair {
            jaeger,
            embedded,
            http: Client::default(),
            differences: Vec::new(),
            checks: 0,
        })
    }

    pub async fn stop(self) {
        self.jaeger.stop().await;
        self.embedded.stop().await;
    }

    async fn request(
        &self,
        base: &str,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Answer {
        let authority = base.strip_prefix("http://").unwrap();
        let authority = authority.split('/').next().unwrap();
        let response = self
            .http
            .send(
                authority,
                &method,
                path,
                headers,
                body,
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|e| panic!("{base}{path}: {}", e.body()));
        Answer::of(response)
    }

    /// GET from both: (Jaeger's answer, the embedded collector's answer).
    pub async fn get(&self, path: &str) -> (Answer, Answer) {
        let jaeger = self
            .request(
                &self.jaeger.query_url(),
                Method::GET,
                path,
                HeaderMap::new(),
                Bytes::new(),
            )
            .await;
        let embedded = self
            .request(
                &self.embedded.base_url(),
                Method::GET,
                path,
                HeaderMap::new(),
                Bytes::new(),
            )
            .await;
        (jaeger, embedded)
    }

    /// Export the same OTLP request to both as protobuf; both must accept it.
    pub async fn export(&self, request: &ExportTraceServiceRequest) {
        let body = Bytes::from(request.encode_to_vec());
        self.export_encoded("application/x-protobuf", body).await;
    }

    /// Export the same OTLP request to both as OTLP JSON.
    pub async fn export_json(&self, request: &ExportTraceServiceRequest) {
        let body = Bytes::from(serde_json::to_vec(request).unwrap());
        self.export_encoded("application/json", body).await;
    }

    /// Export the same OTLP request to both as gzip-compressed protobuf
    /// (`Content-Encoding: gzip`, as the Collector's otlphttp exporter sends).
    pub async fn export_gzip(&self, request: &ExportTraceServiceRequest) {
        use std::io::Write as _;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&request.encode_to_vec()).unwrap();
        let body = Bytes::from(gzip.finish().unwrap());
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert("content-encoding", HeaderValue::from_static("gzip"));
        let jaeger_url = self.jaeger.otlp_traces_url();
        let jaeger = self
            .request(
                &jaeger_url,
                Method::POST,
                "/v1/traces",
                headers.clone(),
                body.clone(),
            )
            .await;
        let embedded = self
            .request(
                &self.embedded.base_url(),
                Method::POST,
                "/v1/traces",
                headers,
                body,
            )
            .await;
        Self::assert_accepted(&jaeger, &embedded);
    }

    /// Export the same OTLP request to both over gRPC, gzip-compressed or not.
    pub async fn export_grpc(&self, request: &ExportTraceServiceRequest, gzip: bool) {
        for url in [self.jaeger.otlp_grpc_url(), self.embedded.otlp_grpc_url()] {
            let mut client = TraceServiceClient::connect(url.clone())
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            if gzip {
                // grpc-go answers a gzip request gzipped.
                client = client
                    .send_compressed(CompressionEncoding::Gzip)
                    .accept_compressed(CompressionEncoding::Gzip);
            }
            let answer = client
                .export(request.clone())
                .await
                .unwrap_or_else(|status| panic!("{url} refused: {status:?}"));
            let partial = answer.into_inner().partial_success.unwrap_or_default();
            assert_eq!(partial.rejected_spans, 0, "{url}: {partial:?}");
        }
    }

    fn assert_accepted(jaeger: &Answer, embedded: &Answer) {
        assert_eq!(jaeger.status, 200, "Jaeger refused: {}", jaeger.describe());
        assert_eq!(
            embedded.status,
            200,
            "the embedded collector refused: {}",
            embedded.describe()
        );
    }

    async fn export_encoded(&self, content_type: &'static str, body: Bytes) {
        let (jaeger, embedded) = self
            .send_both(
                Method::POST,
                "/v1/traces",
                content_type,
                body,
                &self.jaeger.otlp_traces_url(),
            )
            .await;
        assert_eq!(jaeger.status, 200, "Jaeger refused: {}", jaeger.describe());
        assert_eq!(
            embedded.status,
            200,
            "the embedded collector refused: {}",
            embedded.describe()
        );
    }

    /// POST Zipkin v2 JSON to Jaeger's zipkin receiver and the embedded
    /// collector's `/api/v2/spans`.
    pub async fn post_zipkin(&self, json: &str) -> (Answer, Answer) {
        self.send_both(
            Method::POST,
            "/api/v2/spans",
            "application/json",
            Bytes::from(json.to_string()),
            &self.jaeger.zipkin_spans_url(),
        )
        .await
    }

    async fn send_both(
        &self,
        method: Method,
        embedded_path: &str,
        content_type: impl Into<Option<&'static str>>,
        body: Bytes,
        jaeger_url: &str,
    ) -> (Answer, Answer) {
        let mut headers = HeaderMap::new();
        if let Some(content_type) = content_type.into() {
            headers.insert("content-type", HeaderValue::from_static(content_type));
        }
        let jaeger_path = &jaeger_url[jaeger_url[7..].find('/').unwrap() + 7..];
        let jaeger = self
            .request(
                jaeger_url,
                method.clone(),
                jaeger_path,
                headers.clone(),
                body.clone(),
            )
            .await;
        let embedded = self
            .request(
                &self.embedded.base_url(),
                method,
                embedded_path,
                headers,
                body,
            )
            .await;
        (jaeger, embedded)
    }

    /// Send `body` to both OTLP/HTTP receivers' `/v1/traces` with
    /// `content_type` (`None`: no header); nothing is asserted.
    pub async fn send_otlp(
        &self,
        method: Method,
        content_type: Option<&'static str>,
        body: Bytes,
    ) -> (Answer, Answer) {
        self.send_both(
            method,
            "/v1/traces",
            content_type,
            body,
            &self.jaeger.otlp_traces_url(),
        )
        .await
    }

    /// Wait until Jaeger shows `spans` spans for the trace (its pipeline may
    /// store asynchronously in other configurations).
    pub async fn wait_for_trace(&self, trace_id: &str, spans: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (jaeger, _) = self.get(&format!("/api/traces/{trace_id}")).await;
            let count = jaeger
                .json()
                .and_then(|v| v["data"][0]["spans"].as_array().map(Vec::len))
                .unwrap_or(0);
            // Found, or found and unrenderable (Jaeger answers 500 then).
            if count >= spans || ![200, 404].contains(&jaeger.status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Jaeger never showed {spans} spans for {trace_id}: {}",
                jaeger.describe()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// GET `path` from both and record any difference.
    pub async fn check(&mut self, path: &str, compare: Compare) -> (Answer, Answer) {
        let (jaeger, embedded) = self.get(path).await;
        self.compare(&format!("GET {path}"), &jaeger, &embedded, compare);
        (jaeger, embedded)
    }

    pub fn compare(&mut self, what: &str, jaeger: &Answer, embedded: &Answer, compare: Compare) {
        self.checks += 1;
        if let Some(difference) = difference(jaeger, embedded, compare) {
            self.differences.push(format!(
                "{what}: {difference}\n    jaeger:   {}\n    embedded: {}",
                shorten(&jaeger.describe()),
                shorten(&embedded.describe())
            ));
        }
    }

    /// Record a difference found by the caller.
    pub fn record(&mut self, what: &str, difference: Option<String>) {
        self.checks += 1;
        if let Some(d) = difference {
            self.differences.push(format!("{what}: {d}"));
        }
    }

    /// Stop both, then fail listing every difference recorded.
    pub async fn stop_and_assert(self) {
        let differences = self.differences.clone();
        let checks = self.checks;
        self.stop().await;
        assert!(checks > 0, "nothing was compared");
        eprintln!(
            "{checks} comparisons with Jaeger, {} differences",
            differences.len()
        );
        assert!(
            differences.is_empty(),
            "{} of {} comparisons differ from Jaeger:\n\n{}",
            differences.len(),
            checks,
            differences.join("\n\n")
        );
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 3000;
    if text.len() <= MAX {
        text.to_string()
    } else {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}… ({} bytes)", &text[..end], text.len())
    }
}

pub fn difference(jaeger: &Answer, embedded: &Answer, compare: Compare) -> Option<String> {
    if jaeger.status != embedded.status {
        return Some(format!(
            "status {} (jaeger) vs {} (embedded)",
            jaeger.status, embedded.status
        ));
    }
    if jaeger.content_type != embedded.content_type {
        return Some(format!(
            "content type {:?} (jaeger) vs {:?} (embedded)",
            jaeger.content_type, embedded.content_type
        ));
    }
    match compare {
        Compare::Bytes => (jaeger.body != embedded.body).then(|| {
            let at = jaeger
                .body
                .iter()
                .zip(embedded.body.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(jaeger.body.len().min(embedded.body.len()));
            let from = at.saturating_sub(60);
            format!(
                "bodies differ at byte {at}: …{}… (jaeger) vs …{}… (embedded)",
                String::from_utf8_lossy(&jaeger.body[from..(at + 60).min(jaeger.body.len())]),
                String::from_utf8_lossy(&embedded.body[from..(at + 60).min(embedded.body.len())])
            )
        }),
        Compare::Normalised | Compare::AnyTraceOrder => match (jaeger.json(), embedded.json()) {
            (Some(a), Some(b)) => {
                let any_order = compare == Compare::AnyTraceOrder;
                json_difference(&normalise(a, any_order), &normalise(b, any_order), "$")
            }
            _ => (jaeger.body != embedded.body).then(|| "non-JSON bodies differ".to_string()),
        },
    }
}

/// The first place two JSON values differ, as a path.
pub fn json_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys_x: Vec<_> = x.keys().collect();
            let keys_y: Vec<_> = y.keys().collect();
            if keys_x != keys_y {
                return Some(format!("{path}: keys {keys_x:?} vs {keys_y:?}"));
            }
            x.iter()
                .find_map(|(k, v)| json_difference(v, &y[k], &format!("{path}.{k}")))
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!(
                    "{path}: {} vs {} elements: {} vs {}",
                    x.len(),
                    y.len(),
                    shorten(&Value::Array(x.clone()).to_string()),
                    shorten(&Value::Array(y.clone()).to_string())
                ));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| json_difference(v, w, &format!("{path}[{i}]")))
        }
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

/// Undo only what Jaeger leaves unordered: spans in a trace, the process
/// ids they imply, and lists of names, operations or dependency links.
pub fn normalise(mut envelope: Value, any_trace_order: bool) -> Value {
    let Some(data) = envelope.get_mut("data") else {
        return envelope;
    };
    if let Value::Array(items) = data {
        if items.iter().all(Value::is_string) {
            items.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        } else if items
            .iter()
            .all(|i| i.get("spanKind").is_some() || i.get("callCount").is_some())
        {
            // Operations, or dependency links: Go map order.
            items.sort_by_key(|i| i.to_string());
        } else {
            for trace in items.iter_mut() {
                normalise_trace(trace);
            }
            if any_trace_order {
                items.sort_by_key(|t| t["traceID"].as_str().unwrap_or("").to_string());
            }
        }
    }
    envelope
}

fn normalise_trace(trace: &mut Value) {
    let Some(spans) = trace.get_mut("spans").and_then(Value::as_array_mut) else {
        return;
    };
    spans.sort_by_key(|s| {
        (
            s["spanID"].as_str().unwrap_or("").to_string(),
            s["operationName"].as_str().unwrap_or("").to_string(),
            s["startTime"].as_u64(),
            s.to_string(),
        )
    });
    let processes = trace["processes"].clone();
    let mut new_processes = serde_json::Map::new();
    let mut seen: Vec<(Value, String)> = Vec::new();
    for span in trace["spans"].as_array_mut().unwrap() {
        let old = span["processID"].as_str().unwrap_or("").to_string();
        let process = processes.get(&old).cloned().unwrap_or(Value::Null);
        let id = match seen.iter().find(|(p, _)| *p == process) {
            Some((_, id)) => id.clone(),
            None => {
                let id = format!("p{}", seen.len() + 1);
                seen.push((process.clone(), id.clone()));
                new_processes.insert(id.clone(), process);
                id
            }
        };
        span["processID"] = Value::String(id);
    }
    trace["processes"] = Value::Object(new_processes);
}
