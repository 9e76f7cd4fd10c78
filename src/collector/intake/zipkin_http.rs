//! Zipkin over HTTP (port 9411, and `/api/v2/spans` and `/api/v1/spans` on
//! the OTLP port), answered as Jaeger v2's zipkin receiver answers: 202 and
//! no body, or 400 with the reason.
//!
//! The decoder is chosen as Jaeger's receiver chooses it, by any path that
//! says `api/v1/spans` (Zipkin v1) and by the `Content-Type` header as
//! sent: v2 `application/x-protobuf` is protobuf ([`super::zipkin_proto`]),
//! anything else JSON ([`super::zipkin`]); v1 is JSON ([`super::zipkin_v1`])
//! unless it says `application/x-thrift`, which is not taken here (415).

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::{BoxFuture, IntakeContext, Refusal, otlp, zipkin, zipkin_proto, zipkin_v1};
use crate::server::{Body, text};

const V1_THRIFT_REFUSED: &str = "Zipkin v1 thrift is not taken by the embedded collector: \
     send Zipkin v1 JSON, or Zipkin v2 JSON or protobuf to /api/v2/spans";

/// How a Zipkin request's body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    V2Json,
    V2Proto,
    V1Json,
    V1Thrift,
}

impl Format {
    fn of(request: &Request<Incoming>) -> Format {
        // Jaeger compares the header as sent, parameters and case included.
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let v1 = request.uri().path().contains("api/v1/spans");
        match (v1, content_type) {
            (true, b"application/x-thrift") => Format::V1Thrift,
            (true, _) => Format::V1Json,
            (false, b"application/x-protobuf") => Format::V2Proto,
            (false, _) => Format::V2Json,
        }
    }

    fn decode(self, body: &[u8]) -> Result<ExportTraceServiceRequest, Refusal> {
        match self {
            Format::V2Json => zipkin::decode(body).map_err(Refusal::malformed),
            Format::V2Proto => zipkin_proto::decode(body).map_err(Refusal::malformed),
            Format::V1Json => zipkin_v1::decode(body).map_err(Refusal::malformed),
            Format::V1Thrift => Err(Refusal::unsupported(V1_THRIFT_REFUSED)),
        }
    }
}

pub fn handle(request: Request<Incoming>, cx: &IntakeContext) -> BoxFuture<'_, Response<Body>> {
    Box::pin(ingest(request, cx))
}

async fn ingest(request: Request<Incoming>, cx: &IntakeContext) -> Response<Body> {
    let format = Format::of(&request);
    let declared = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let stored = match cx.read_body(request).await {
        Ok(body) => format
            .decode(&body)
            .map_err(|mut refusal| {
                refusal.message = explain(refusal.message, format, declared.as_deref());
                refusal
            })
            .and_then(|request| {
                otlp::translate(request).map_err(|e| Refusal::malformed(e.to_string()))
            })
            .and_then(|spans| cx.store(spans)),
        Err(refusal) => Err(refusal),
    };
    match stored {
        Ok(_) => Response::builder()
            .status(202)
            .body(Full::new(Bytes::new()))
            .expect("static response parts are valid"),
        Err(refusal) => text(refusal.http_status(), format!("{}\n", refusal.message)),
    }
}

/// A body read as JSON because of its content type says so, when that
/// type is not JSON (a protobuf body sent as `application/protobuf`...).
fn explain(error: String, format: Format, declared: Option<&str>) -> String {
    let json = matches!(format, Format::V1Json | Format::V2Json);
    match declared {
        Some(declared) if json && !declared.to_ascii_lowercase().contains("json") => format!(
            "{error} (read as Zipkin JSON: the content type {declared:?} is not exactly \
             application/x-protobuf)"
        ),
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_json_content_type_read_as_json_says_so() {
        let message = explain(
            "expected value".into(),
            Format::V2Json,
            Some("application/protobuf"),
        );
        assert!(
            message.contains("not exactly application/x-protobuf"),
            "{message}"
        );
        assert_eq!(
            explain(
                "expected value".into(),
                Format::V2Json,
                Some("application/json")
            ),
            "expected value"
        );
        assert_eq!(
            explain(
                "bad".into(),
                Format::V2Proto,
                Some("application/x-protobuf")
            ),
            "bad"
        );
    }
}
