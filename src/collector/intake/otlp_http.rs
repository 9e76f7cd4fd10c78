//! OTLP/HTTP (`POST /v1/traces`, port 4318): protobuf or JSON, any
//! `Content-Encoding` of [`super::encoding`], answered as the OpenTelemetry
//! Collector's receiver (Jaeger v2's) answers: an `ExportTraceServiceResponse`
//! on success, a `google.rpc.Status` in the request's encoding on failure.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use super::otlp::{self, Encoding};
use super::{BoxFuture, IntakeContext, Refusal};
use crate::server::{Body, text};

pub fn handle(request: Request<Incoming>, cx: &IntakeContext) -> BoxFuture<'_, Response<Body>> {
    Box::pin(ingest(request, cx))
}

async fn ingest(request: Request<Incoming>, cx: &IntakeContext) -> Response<Body> {
    if request.method() != Method::POST {
        // As the OpenTelemetry collector's receiver answers.
        return text(405, "405 method not allowed, supported: [POST]\n");
    }
    let encoding = match media_type(request.headers()).as_str() {
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
    let body = match cx.read_body(request).await {
        Ok(body) => body,
        Err(refusal) => return failure(encoding, refusal),
    };
    let stored = otlp::decode(&body, encoding)
        .map_err(|e| Refusal::malformed(e.to_string()))
        .and_then(|spans| cx.store(spans));
    match stored {
        Ok(_) => success(encoding),
        Err(refusal) => failure(encoding, refusal),
    }
}

/// The request's media type, lower case, without parameters.
pub fn media_type(headers: &http::HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
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
/// mapped from the HTTP status (400 is INVALID_ARGUMENT, 503 UNAVAILABLE).
fn failure(encoding: Encoding, refusal: Refusal) -> Response<Body> {
    let http_status = refusal.http_status();
    let code = match http_status {
        400 => tonic::Code::InvalidArgument,
        503 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    };
    let status = RpcStatus {
        code: code as i32,
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
    let mut response = Response::builder()
        .status(http_status)
        .header("content-type", content_type);
    if http_status == 503 {
        // OTLP/HTTP clients wait this long before they retry.
        response = response.header("retry-after", "1");
    }
    response
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

/// An empty ExportTraceServiceResponse in the request's encoding.
fn success(encoding: Encoding) -> Response<Body> {
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
