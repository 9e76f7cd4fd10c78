//! Exports the receivers refuse: malformed OTLP protobuf and JSON, a wrong
//! content type, a wrong method. Both must answer with the same status and
//! content type; an OTLP 400 carries a `google.rpc.Status` whose code must
//! agree (the messages are each decoder's own words). Neither may store
//! anything: the services list stays empty on both.

use bytes::Bytes;
use http::Method;
use prost::Message;

use crate::harness::{Answer, Pair};
use crate::otlp::{now_ns, request, resource_spans, service, span, trace_id};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

/// `google.rpc.Status` (google/rpc/status.proto), without `details`.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The gRPC code of an OTLP failure body, in either encoding.
fn rpc_code(answer: &Answer) -> Option<i64> {
    match answer.content_type.as_str() {
        "application/x-protobuf" => RpcStatus::decode(answer.body.clone())
            .ok()
            .map(|s| s.code.into()),
        "application/json" => answer.json()?["code"].as_i64(),
        _ => None,
    }
}

/// The media type without parameters (`text/plain; charset=utf-8`).
fn media_type(answer: &Answer) -> &str {
    answer.content_type.split(';').next().unwrap_or("").trim()
}

#[tokio::test]
async fn refused_otlp_exports_get_the_answers_jaegers_receiver_gives() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    // One span with a 3-byte trace id among good ones.
    let start = now_ns();
    let bad_id = request(vec![resource_spans(
        service("shop", vec![]),
        None,
        vec![
            span(
                &trace_id(0, 1),
                1,
                None,
                "good",
                SpanKind::Server,
                start,
                10,
            ),
            span(&[1, 2, 3], 2, None, "bad", SpanKind::Server, start, 10),
        ],
    )]);
    let bad_json_id = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc","spanId":"0000000000000001","name":"x"}]}]}]}"#;
    let cases: Vec<(&str, Option<&'static str>, Bytes)> = vec![
        (
            "garbage protobuf",
            Some("application/x-protobuf"),
            Bytes::from_static(b"garbage!!"),
        ),
        (
            "a 3-byte trace id",
            Some("application/x-protobuf"),
            Bytes::from(bad_id.encode_to_vec()),
        ),
        (
            "truncated JSON",
            Some("application/json"),
            Bytes::from_static(br#"{"resourceSpans": ["#),
        ),
        (
            "a JSON array",
            Some("application/json"),
            Bytes::from_static(b"[]"),
        ),
        (
            "a JSON trace id of 3 hex digits",
            Some("application/json"),
            Bytes::from_static(bad_json_id),
        ),
        ("text/plain", Some("text/plain"), Bytes::from_static(b"{}")),
        ("no content type", None, Bytes::from_static(b"{}")),
    ];
    for (what, content_type, body) in cases {
        let (jaeger, embedded) = pair.send_otlp(Method::POST, content_type, body).await;
        let difference =
            if (jaeger.status, media_type(&jaeger)) != (embedded.status, media_type(&embedded)) {
                Some("status or content type differ".to_string())
            } else if jaeger.status == 400 && rpc_code(&jaeger) != rpc_code(&embedded) {
                Some(format!(
                    "google.rpc.Status code {:?} (jaeger) vs {:?} (embedded)",
                    rpc_code(&jaeger),
                    rpc_code(&embedded)
                ))
            } else {
                None
            };
        pair.record(
            &format!("POST /v1/traces with {what}"),
            difference.map(|d| {
                format!(
                    "{d}: {} [{}] {} / {} [{}] {}",
                    jaeger.status,
                    jaeger.content_type,
                    String::from_utf8_lossy(&jaeger.body),
                    embedded.status,
                    embedded.content_type,
                    String::from_utf8_lossy(&embedded.body)
                )
            }),
        );
    }
    pair.check("/api/services", crate::Compare::Bytes).await;
    let (jaeger, embedded) = pair.send_otlp(Method::GET, None, Bytes::new()).await;
    pair.record(
        "GET /v1/traces",
        (jaeger.status != embedded.status).then(|| {
            format!(
                "status {} (jaeger) vs {} (embedded)",
                jaeger.status, embedded.status
            )
        }),
    );
    pair.stop_and_assert().await;
}
