//! Zipkin over HTTP (`POST /api/v2/spans`, port 9411, and the OTLP port):
//! picks the decoder by content type, answered as Jaeger's zipkin receiver
//! answers: 202 and no body, or 400 with the reason.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::otlp_http::media_type;
use super::{BoxFuture, IntakeContext, Refusal, otlp, zipkin};
use crate::server::{Body, text};

pub fn handle(request: Request<Incoming>, cx: &IntakeContext) -> BoxFuture<'_, Response<Body>> {
    Box::pin(ingest(request, cx))
}

async fn ingest(request: Request<Incoming>, cx: &IntakeContext) -> Response<Body> {
    if media_type(request.headers()) == "application/x-protobuf" {
        return text(
            415,
            "Zipkin protobuf is not supported by the embedded collector: send Zipkin v2 JSON\n",
        );
    }
    let stored = match cx.read_body(request).await {
        Ok(body) => zipkin::decode(&body)
            .map_err(Refusal::malformed)
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
