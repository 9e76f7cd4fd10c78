//! The embedded collector's HTTP front: OTLP/HTTP ingest on `POST
//! /v1/traces`, Zipkin v2 JSON on `POST /api/v2/spans` (Jaeger's zipkin
//! receiver path), Jaeger's query API on `GET /api/...` and the trace
//! viewer's pages (`viewer`) on the other GETs, one handler for all so one
//! port is enough in a run.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use super::otlp::{self, Encoding};
use super::store::Store;
use super::{query, viewer, zipkin};
use crate::server::{Body, Handler, text};

pub struct CollectorHandler {
    pub store: Arc<Store>,
    pub max_body_bytes: usize,
}

impl Handler for CollectorHandler {
    async fn handle(&self, request: Request<Incoming>, _peer: SocketAddr) -> Response<Body> {
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or("").to_string();
        match (request.method(), path.as_str()) {
            (&Method::POST, "/v1/traces") => self.ingest_otlp(request).await,
            // As the OpenTelemetry collector's receiver answers.
            (_, "/v1/traces") => text(405, "405 method not allowed, supported: [POST]\n"),
            (&Method::POST, "/api/v2/spans") => self.ingest_zipkin(request).await,
            (&Method::GET, p) if p.starts_with("/api/") => {
                match query::handle(&self.store, p, &query) {
                    Some(answer) => api_response(answer),
                    None => text(404, "404 page not found\n"),
                }
            }
            (&Method::GET, p) => viewer::handle(&self.store, p, &query)
                .unwrap_or_else(|| text(404, "404 page not found\n")),
            _ => text(404, "404 page not found\n"),
        }
    }
}

impl CollectorHandler {
    async fn ingest_otlp(&self, request: Request<Incoming>) -> Response<Body> {
        let encoding = match media_type(&request).as_str() {
            "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
            "application/json" => Encoding::Json,
            other => {
                return text(
                    415,
                    format!(
                        "unsupported content type {other:?}: send application/x-protobuf or application/json\n"
                    ),
                );
            }
        };
        let body = match self.read_body(request).await {
            Ok(body) => body,
            Err(refusal) => return otlp_failure(encoding, refusal),
        };
        match otlp::decode(&body, encoding) {
            Ok(spans) => {
                self.store.insert(spans);
                otlp_success(encoding)
            }
            Err(e) => otlp_failure(encoding, Refusal::bad_request(e.to_string())),
        }
    }

    /// Zipkin v2 JSON, answered as Jaeger's zipkin receiver answers: 202
    /// and no body, or 400 with the reason.
    async fn ingest_zipkin(&self, request: Request<Incoming>) -> Response<Body> {
        if media_type(&request) == "application/x-protobuf" {
            return text(
                415,
                "Zipkin protobuf is not supported by the embedded collector: send Zipkin v2 JSON\n",
            );
        }
        if let Some(encoding) = request
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .filter(|e| !e.is_empty() && *e != "identity")
        {
            return text(
                415,
                format!("content encoding {encoding:?} is not supported: send uncompressed JSON\n"),
            );
        }
        let body = match self.read_body(request).await {
            Ok(body) => body,
            Err(refusal) => return text(refusal.status, format!("{}\n", refusal.message)),
        };
        let spans = zipkin::decode(&body)
            .and_then(|otlp_request| otlp::translate(otlp_request).map_err(|e| e.to_string()));
        match spans {
            Ok(spans) => {
                self.store.insert(spans);
                Response::builder()
                    .status(202)
                    .body(Full::new(Bytes::new()))
                    .expect("static response parts are valid")
            }
            Err(e) => text(400, format!("{e}\n")),
        }
    }

    /// The whole body, or why it is refused.
    async fn read_body(&self, request: Request<Incoming>) -> Result<Bytes, Refusal> {
        match Limited::new(request.into_body(), self.max_body_bytes)
            .collect()
            .await
        {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Refusal {
                status: 413,
                message: format!(
                    "body larger than the limit of {} bytes (--max-body-size)",
                    self.max_body_bytes
                ),
            }),
            Err(e) => Err(Refusal::bad_request(format!(
                "could not read the body: {e}"
            ))),
        }
    }
}

/// An ingest request turned away: the HTTP status and the reason.
struct Refusal {
    status: u16,
    message: String,
}

impl Refusal {
    fn bad_request(message: String) -> Refusal {
        Refusal {
            status: 400,
            message,
        }
    }
}

/// The request's media type, lower case, without parameters.
fn media_type(request: &Request<Incoming>) -> String {
    request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A query API answer; errors carry the header Go's `http.Error` adds.
fn api_response(answer: query::ApiResponse) -> Response<Body> {
    let mut builder = Response::builder()
        .status(answer.status)
        .header("content-type", answer.content_type);
    if answer.nosniff {
        builder = builder.header("x-content-type-options", "nosniff");
    }
    builder
        .body(Full::new(Bytes::from(answer.body)))
        .expect("static response parts are valid")
}

/// `google.rpc.Status`, the body OTLP/HTTP failures carry (field numbers
/// from google/rpc/status.proto; `details` is never sent).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// A refused export answered as the OpenTelemetry collector's receiver
/// answers: a `google.rpc.Status` in the request's encoding, its gRPC code
/// mapped from the HTTP status (400 is INVALID_ARGUMENT).
fn otlp_failure(encoding: Encoding, refusal: Refusal) -> Response<Body> {
    const INVALID_ARGUMENT: i32 = 3;
    const UNKNOWN: i32 = 2;
    let status = RpcStatus {
        code: if refusal.status == 400 {
            INVALID_ARGUMENT
        } else {
            UNKNOWN
        },
        message: refusal.message,
    };
    let (content_type, body) = match encoding {
        Encoding::Protobuf => ("application/x-protobuf", status.encode_to_vec()),
        Encoding::Json => (
            "application/json",
            serde_json::to_vec(&serde_json::json!({
                "code": status.code,
                "message": status.message,
            }))
            .expect("a JSON object serialises"),
        ),
    };
    Response::builder()
        .status(refusal.status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

/// An empty ExportTraceServiceResponse in the request's encoding.
fn otlp_success(encoding: Encoding) -> Response<Body> {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => (
            "application/x-protobuf",
            ExportTraceServiceResponse::default().encode_to_vec(),
        ),
        // What the collector's protojson writes for an empty response.
        Encoding::Json => ("application/json", b"{\"partialSuccess\":{}}".to_vec()),
    };
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
