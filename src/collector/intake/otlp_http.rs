//! OTLP/HTTP (`POST /v1/traces`, port 4318): protobuf or JSON, any
//! `Content-Encoding` of [`super::encoding`], answered as the OpenTelemetry
//! Collector's receiver (Jaeger v2's) answers: an `ExportTraceServiceResponse`
//! on success (with `partial_success` when spans with an all-zero id were
//! left out), a `google.rpc.Status` in the request's encoding on failure.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
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
    let translated = match otlp::decode_partial(&body, encoding) {
        Ok(translated) => translated,
        Err(e) => return failure(encoding, Refusal::malformed(e.to_string())),
    };
    let refused = translated.first_refusal.map(|e| e.to_string());
    match cx.store(translated.spans) {
        Ok(_) => success(encoding, translated.rejected, refused),
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

/// An ExportTraceServiceResponse in the request's encoding: empty, or
/// saying how many spans were refused and why (OTLP's partial success).
fn success(encoding: Encoding, rejected: usize, reason: Option<String>) -> Response<Body> {
    let partial = (rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: rejected as i64,
        error_message: reason.unwrap_or_default(),
    });
    let (content_type, body) = match (encoding, partial) {
        (Encoding::Protobuf, partial_success) => (
            "application/x-protobuf",
            ExportTraceServiceResponse { partial_success }.encode_to_vec(),
        ),
        // What the collector's protojson writes for an empty response.
        (Encoding::Json, None) => ("application/json", b"{\"partialSuccess\":{}}".to_vec()),
        // protojson: int64 as a string.
        (Encoding::Json, Some(partial)) => (
            "application/json",
            serde_json::to_vec(&serde_json::json!({
                "partialSuccess": {
                    "rejectedSpans": partial.rejected_spans.to_string(),
                    "errorMessage": partial.error_message,
                }
            }))
            .expect("a JSON object serialises"),
        ),
    };
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::intake::RefusalKind;

    #[test]
    fn each_refusal_gets_its_status_and_a_google_rpc_status_a_client_reads() {
        let cases = [
            (RefusalKind::Malformed, 400, tonic::Code::InvalidArgument),
            (RefusalKind::TooLarge, 413, tonic::Code::Unknown),
            (RefusalKind::Unsupported, 415, tonic::Code::Unknown),
            // What an exporter retries: 503 with Retry-After, UNAVAILABLE.
            (RefusalKind::Unavailable, 503, tonic::Code::Unavailable),
        ];
        for (kind, status, code) in cases {
            let refusal = Refusal {
                kind,
                message: "why".into(),
            };
            let response = failure(Encoding::Protobuf, refusal.clone());
            assert_eq!(response.status().as_u16(), status, "{kind:?}");
            assert_eq!(
                response.headers().contains_key("retry-after"),
                kind == RefusalKind::Unavailable
            );
            let body = futures_util::FutureExt::now_or_never(http_body_util::BodyExt::collect(
                response.into_body(),
            ))
            .unwrap()
            .unwrap()
            .to_bytes();
            let rpc = RpcStatus::decode(body).unwrap();
            assert_eq!(rpc.code, code as i32, "{kind:?}");
            assert_eq!(rpc.message, "why");
        }
    }

    #[test]
    fn over_grpc_only_unavailable_is_retryable() {
        let code = |kind| {
            Refusal {
                kind,
                message: String::new(),
            }
            .grpc_code()
        };
        assert_eq!(code(RefusalKind::Malformed), tonic::Code::InvalidArgument);
        assert_eq!(code(RefusalKind::TooLarge), tonic::Code::ResourceExhausted);
        assert_eq!(code(RefusalKind::Unavailable), tonic::Code::Unavailable);
    }
}
