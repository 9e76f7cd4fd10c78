//! Jaeger thrift over HTTP (`POST /api/traces`, port 14268; what Jaeger's
//! clients send with an HTTP sender, e.g. jaeger-client-go's
//! `transport.NewHTTPTransport`): one binary-protocol `Batch` per request,
//! any `Content-Encoding` of [`super::encoding`], answered as Jaeger v2's
//! jaeger receiver answers: 202 and no body, or a plain-text reason (400
//! for a content type other than `application/x-thrift` or
//! `application/vnd.apache.thrift.binary`, as Jaeger says it, and for a
//! body that is not a batch).

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::{BoxFuture, IntakeContext, Refusal, jaeger_thrift, otlp};
use crate::server::{Body, text};

/// The content types Jaeger's receiver takes (both mean binary thrift).
const THRIFT_TYPES: [&str; 2] = [
    "application/x-thrift",
    "application/vnd.apache.thrift.binary",
];

pub fn handle(request: Request<Incoming>, cx: &IntakeContext) -> BoxFuture<'_, Response<Body>> {
    Box::pin(ingest(request, cx))
}

async fn ingest(request: Request<Incoming>, cx: &IntakeContext) -> Response<Body> {
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    // Jaeger reads the body first, then looks at its type.
    let body = match cx.read_body(request).await {
        Ok(body) => body,
        Err(refusal) => return refused(refusal),
    };
    let stored = media_type(&content_type)
        .and_then(|media_type| {
            if THRIFT_TYPES.contains(&media_type.as_str()) {
                Ok(())
            } else {
                Err(Refusal::malformed(format!(
                    "Unsupported content type: {media_type} (send jaeger.thrift's Batch in the binary \
                     protocol as {} or {})",
                    THRIFT_TYPES[0], THRIFT_TYPES[1]
                )))
            }
        })
        .and_then(|()| {
            jaeger_thrift::decode_http_body(&body).map_err(|e| {
                Refusal::malformed(format!("Unable to process request body: {e}"))
            })
        })
        .and_then(|request| otlp::translate(request).map_err(|e| Refusal::malformed(e.to_string())))
        .and_then(|spans| cx.store(spans));
    match stored {
        Ok(_) => Response::builder()
            .status(202)
            .body(Full::new(Bytes::new()))
            .expect("static response parts are valid"),
        Err(refusal) => refused(refusal),
    }
}

fn refused(refusal: Refusal) -> Response<Body> {
    text(refusal.http_status(), format!("{}\n", refusal.message))
}

/// Go's `mime.ParseMediaType`, as far as Jaeger's check needs it: the
/// type before any parameters, lower case; none at all is an error.
fn media_type(header: &str) -> Result<String, Refusal> {
    let media_type = header.split(';').next().unwrap_or("").trim();
    if media_type.is_empty() {
        return Err(Refusal::malformed(
            "Cannot parse content type: mime: no media type (send application/x-thrift)",
        ));
    }
    Ok(media_type.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_media_type_is_read_as_go_reads_it() {
        assert_eq!(
            media_type("Application/X-Thrift; charset=binary").unwrap(),
            "application/x-thrift"
        );
        assert!(
            media_type("")
                .unwrap_err()
                .message
                .contains("no media type")
        );
    }
}
