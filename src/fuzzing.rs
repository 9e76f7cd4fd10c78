//! Entry points for the fuzz targets in `fuzz/` and for the regression
//! tests that replay what they found (`tests/fuzz_regressions.rs`).
//!
//! Each function feeds arbitrary bytes to one input boundary and checks an
//! invariant that must hold for every input; a violation panics, which is
//! what a fuzzer reports.

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use crate::collector::otlp::{self, Encoding};
use crate::collector::query;
use crate::collector::store::{SpanFilter, Store};
use crate::collector::zipkin;
use crate::scenario::load::{Limits, LoadError, load_source};

/// An OTLP/HTTP body in either encoding: decoding never panics, and what
/// decodes can be stored, searched and rendered as Jaeger JSON.
pub fn otlp_body(data: &[u8]) {
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(spans) = otlp::decode(data, encoding) {
            store_and_render(spans);
        }
    }
    read_in_place_as_prost_reads(data);
}

/// Protobuf read in place (`otlp_wire`) reads what prost reads into its
/// structs, and refuses what prost refuses.
fn read_in_place_as_prost_reads(data: &[u8]) {
    use crate::collector::intake::otlp_wire;
    use prost::Message;
    let in_place = otlp_wire::decode(data);
    let through_prost =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(data);
    match (in_place, through_prost) {
        (Ok(views), Ok(request)) => assert_eq!(
            // Debug, not ==: a NaN value equals itself only as text.
            format!("{views:?}"),
            format!("{:?}", otlp_wire::view_of(&request)),
            "read in place and through prost differ"
        ),
        (Err(_), Err(_)) => {}
        (a, b) => panic!(
            "read in place: {:?}; through prost: {:?}",
            a.map(drop),
            b.map(drop)
        ),
    }
}

/// Store decoded spans, search them by every service, render every trace
/// found as Jaeger JSON (raw and adjusted); the store, for more questions.
fn store_and_render(spans: Vec<crate::collector::span::StoredSpan>) -> Store {
    let store = Store::new(16);
    store.insert(spans);
    for service in store.services() {
        let filter = SpanFilter {
            service: Some(service),
            limit: 16,
            ..Default::default()
        };
        let traces = store.find(&filter).expect("a limit within max_traces");
        for trace in traces {
            for raw in [false, true] {
                // Jaeger answers 500 for what JSON cannot hold (NaN); any
                // other outcome must serialise.
                if let Ok(rendered) = query::render_trace(&trace, raw) {
                    let json = serde_json::to_vec(&rendered);
                    assert!(json.is_ok(), "a stored trace must render as JSON");
                }
            }
        }
    }
    store
}

/// A Zipkin v2 JSON body (`POST /api/v2/spans`): decoding never panics;
/// what decodes translates to spans or to an error, and the spans can be
/// stored, searched and rendered as Jaeger JSON.
pub fn zipkin_body(data: &[u8]) {
    let Ok(request) = zipkin::decode(data) else {
        return;
    };
    let Ok(spans) = otlp::translate(request) else {
        return;
    };
    store_and_render(spans);
}

/// A query API request, `path?query`: every answer is Jaeger's JSON with a
/// status the API uses.
pub fn query_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (path, query) = text.split_once('?').unwrap_or((&text, ""));
    let path = format!("/api/{}", path.trim_start_matches('/'));
    let Some(answer) = query::handle(sample_store(), &path, query) else {
        return;
    };
    // A path with a bad %-escape never reaches Jaeger's handler: Go's HTTP
    // server refuses it with a plain-text 400 of its own.
    if answer.status == 400 && answer.body == b"400 Bad Request" {
        assert!(
            path.contains('%'),
            "Go's own 400 is for bad escapes only: {path}"
        );
        return;
    }
    assert!(
        matches!(answer.status, 200 | 400 | 404 | 500),
        "unexpected status {} for {path}?{query}",
        answer.status
    );
    let json: serde_json::Value =
        serde_json::from_slice(&answer.body).expect("every answer is JSON");
    assert!(
        json.get("data").is_some() && json.get("errors").is_some(),
        "an envelope"
    );
}

/// An OTLP/gRPC message (what tonic hands the TraceService): decoding
/// never panics; a request that decodes is translated whole or refused,
/// every span either stored or counted as refused (partial success), and
/// what is stored renders as Jaeger JSON and as `/api/v3` OTLP JSON.
pub fn otlp_grpc_message(data: &[u8]) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let Ok(request) = ExportTraceServiceRequest::decode(data) else {
        return;
    };
    let total: usize = request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let Ok(translated) = otlp::translate_partial(request) else {
        return;
    };
    assert_eq!(
        translated.spans.len() + translated.rejected,
        total,
        "every span is stored or counted as refused"
    );
    assert_eq!(translated.rejected > 0, translated.first_refusal.is_some());
    let ids: Vec<String> = translated
        .spans
        .iter()
        .map(|s| s.trace_id.to_jaeger_string())
        .collect();
    let store = store_and_render(translated.spans);
    for id in ids {
        for query in ["", "raw_traces=true"] {
            let answer =
                query::handle(&store, &format!("/api/v3/traces/{id}"), query).expect("a v3 route");
            if answer.status == 200 {
                let json: serde_json::Value =
                    serde_json::from_slice(&answer.body).expect("v3 answers are JSON");
                assert!(json["result"].is_object(), "a v3 result");
            }
        }
    }
}

/// A compressed HTTP body: the first byte picks the `Content-Encoding`,
/// the rest is the body. Decoding never panics, never yields more than the
/// limit, and refuses with 400 (not that encoding) or 413 (too large).
pub fn compressed_body(data: &[u8]) {
    use crate::collector::intake::encoding::ContentEncoding;
    const LIMIT: usize = 64 * 1024;
    let Some((&choice, body)) = data.split_first() else {
        return;
    };
    let names = [
        "gzip",
        "zstd",
        "deflate",
        "snappy",
        "x-snappy-framed",
        "lz4",
        "identity",
    ];
    let encoding =
        ContentEncoding::parse(names[choice as usize % names.len()]).expect("a known encoding");
    match encoding.decode(bytes::Bytes::copy_from_slice(body), LIMIT) {
        Ok(decoded) => assert!(decoded.len() <= LIMIT, "past the limit"),
        Err(refusal) => assert!(
            matches!(refusal.http_status(), 400 | 413),
            "{}: {}",
            refusal.http_status(),
            refusal.message
        ),
    }
}

/// An `/api/v3` request, `path?query`: every answer is JSON with a status
/// the gateway uses, a result or a list on success and an error otherwise.
pub fn api_v3_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (path, query) = text.split_once('?').unwrap_or((&text, ""));
    let path = format!("/api/v3/{}", path.trim_start_matches('/'));
    let Some(answer) = query::handle(sample_store(), &path, query) else {
        return;
    };
    if answer.status == 400 && answer.body == b"400 Bad Request" {
        assert!(path.contains('%'), "Go's own 400 is for bad escapes only");
        return;
    }
    assert!(
        matches!(answer.status, 200 | 400 | 404 | 500),
        "unexpected status {} for {path}?{query}",
        answer.status
    );
    let json: serde_json::Value =
        serde_json::from_slice(&answer.body).expect("every answer is JSON");
    if answer.status == 200 {
        assert!(
            json.get("result").is_some() || json.get("operations").is_some() || json.is_object(),
            "a v3 answer: {json}"
        );
    } else {
        assert_eq!(
            json["error"]["httpCode"].as_u64(),
            Some(u64::from(answer.status)),
            "the gateway's error: {json}"
        );
    }
}

/// A scenario script: loading ends in a scenario or an error that names the
/// file, within the sandbox's limits.
pub fn scenario_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits {
        max_operations: 200_000,
        wall_time: Duration::from_secs(2),
        ..Limits::default()
    };
    if let Err(e) = load_source(Path::new("fuzz.rhai"), text, &limits) {
        let message = e.to_string();
        // An error inside an imported module names the module's file.
        let in_module = matches!(&e, LoadError::Script(s) if s.origin.module.is_some());
        assert!(
            message.starts_with("fuzz.rhai") || in_module,
            "error without its file: {message}"
        );
    }
}

/// A store holding one decoded sandbox-like trace, built once.
fn sample_store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = Store::new(16);
        let body = include_bytes!("../fuzz/corpus/otlp_decode/sandbox.json");
        if let Ok(spans) = otlp::decode(body, Encoding::Json) {
            store.insert(spans);
        }
        store
    })
}

/// Jaeger thrift over HTTP (`POST /api/traces`, a binary-protocol
/// `Batch`): decoding never panics nor allocates past the input's size;
/// what decodes can be stored, searched and rendered.
pub fn jaeger_thrift_body(data: &[u8]) {
    use crate::collector::intake::jaeger_thrift;
    if let Ok(request) = jaeger_thrift::decode_http_body(data)
        && let Ok(spans) = otlp::translate(request)
    {
        store_and_render(spans);
    }
}

/// A datagram on Jaeger's UDP agent ports, read as compact (6831) and as
/// binary (6832) thrift: dropped or stored, never a panic.
pub fn jaeger_udp_datagram(data: &[u8]) {
    use crate::collector::intake::jaeger_thrift::Encoding;
    use crate::collector::intake::jaeger_udp;
    for encoding in [Encoding::Compact, Encoding::Binary] {
        if let Ok(request) = jaeger_udp::decode_datagram(data, encoding)
            && let Ok(spans) = otlp::translate(request)
        {
            store_and_render(spans);
        }
    }
}

/// A `jaeger.api_v2.PostSpansRequest` (gRPC on 14250): decoding and
/// translating never panic; what translates can be stored and rendered.
pub fn jaeger_grpc_request(data: &[u8]) {
    use crate::collector::intake::jaeger_grpc::{PostSpansRequest, translate};
    use prost::Message;
    if let Ok(request) = PostSpansRequest::decode(data)
        && let Ok(request) = translate(request)
        && let Ok(spans) = otlp::translate(request)
    {
        store_and_render(spans);
    }
}

/// A Zipkin v2 protobuf body (`application/x-protobuf` on 9411).
pub fn zipkin_proto_body(data: &[u8]) {
    use crate::collector::intake::zipkin_proto;
    if let Ok(request) = zipkin_proto::decode(data)
        && let Ok(spans) = otlp::translate(request)
    {
        store_and_render(spans);
    }
}

/// A Zipkin v1 JSON body (`POST /api/v1/spans`).
pub fn zipkin_v1_body(data: &[u8]) {
    use crate::collector::intake::zipkin_v1;
    if let Ok(request) = zipkin_v1::decode(data)
        && let Ok(spans) = otlp::translate(request)
    {
        store_and_render(spans);
    }
}
