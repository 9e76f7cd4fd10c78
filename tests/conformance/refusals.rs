//! Exports the receivers refuse: malformed OTLP protobuf and JSON, a wrong
//! content type, a wrong method; over gRPC, a message that is not one, a
//! bad id, a gzip bomb, an unknown encoding or service, an oversized
//! message (status codes compared, one mapping different on purpose). Both must answer with the same status and
//! content type; an OTLP 400 carries a `google.rpc.Status` whose code must
//! agree (the messages are each decoder's own words). Neither may store
//! anything: the services list stays empty on both.

use bytes::Bytes;
use http::Method;
use prost::Message;

use crate::common::otlp::raw_grpc;
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

/// A protobuf field 1 (`resource_spans`) of `n` zero bytes: an oversized,
/// undecodable message.
fn oversized(n: usize) -> Vec<u8> {
    let mut out = vec![0x0a];
    let mut v = n;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out.resize(out.len() + n, 0);
    out
}

#[tokio::test]
async fn refused_otlp_grpc_exports_get_the_status_codes_jaegers_receiver_gives() {
    use std::io::Write as _;
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let start = now_ns();
    let three_byte_id = request(vec![resource_spans(
        service("shop", vec![]),
        None,
        vec![span(
            &[1, 2, 3],
            2,
            None,
            "bad",
            SpanKind::Server,
            start,
            10,
        )],
    )])
    .encode_to_vec();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&vec![0u8; 64 << 20]).unwrap();
    let bomb = gzip.finish().unwrap();
    let cases: Vec<(&str, &str, Option<&str>, Vec<u8>)> = vec![
        ("garbage", EXPORT, None, b"\xff\xff\xffjunk".to_vec()),
        ("a 3-byte trace id", EXPORT, None, three_byte_id),
        ("a gzip bomb", EXPORT, Some("gzip"), bomb),
        (
            "an unknown grpc-encoding",
            EXPORT,
            Some("br"),
            b"x".to_vec(),
        ),
        ("an unknown service", "/foo.Bar/Baz", None, Vec::new()),
        // Over both limits (Jaeger's 4 MiB, the embedded 16 MiB).
        ("a 17 MiB message", EXPORT, None, oversized(17 << 20)),
    ];
    for (what, path, encoding, body) in cases {
        let (jaeger, jaeger_message) = raw_grpc(
            &pair.jaeger.otlp_grpc_url(),
            path,
            encoding,
            encoding.is_some(),
            &body,
        )
        .await;
        let (embedded, embedded_message) = raw_grpc(
            &pair.embedded.otlp_grpc_url(),
            path,
            encoding,
            encoding.is_some(),
            &body,
        )
        .await;
        // On purpose: grpc-go answers a message it cannot unmarshal with
        // INTERNAL, which reads as the server's fault; the embedded collector
        // says INVALID_ARGUMENT, the client's (neither is retried).
        let expected = match jaeger {
            tonic::Code::Internal => tonic::Code::InvalidArgument,
            same => same,
        };
        pair.record(
            &format!("gRPC Export with {what}"),
            (embedded != expected).then(|| {
                format!(
                    "{jaeger:?} {jaeger_message:?} (jaeger) vs {embedded:?} {embedded_message:?} (embedded)"
                )
            }),
        );
    }
    pair.check("/api/services", crate::Compare::Bytes).await;
    pair.stop_and_assert().await;
}
