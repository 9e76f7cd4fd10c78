//! Bad input over HTTP to `tracelab collector`: every refused export is
//! answered with the right status and leaves the store untouched (a valid
//! export afterwards still lands), the query API answers bad parameters
//! with Jaeger's error envelope, and the collector listens on loopback
//! unless told otherwise. (tests/conformance holds the same answers to the
//! real Jaeger's where the two can be compared.)

mod common;

use common::otlp::request;
use common::*;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// A span of `service`; `trace_id` must be 16 bytes to be valid.
fn span(trace_id: Vec<u8>, span_id: u8) -> Span {
    Span {
        trace_id,
        span_id: vec![0, 0, 0, 0, 0, 0, 0, span_id],
        name: "checkout".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_001_000_000,
        ..Default::default()
    }
}

fn trace_id(n: u8) -> Vec<u8> {
    let mut id = vec![0; 16];
    id[15] = n;
    id
}

/// The services the collector has stored spans of.
fn services(collector: &CollectorProcess) -> Vec<String> {
    let body = collector.get("/api/services");
    body["data"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing stored after a refusal, and the collector still takes a valid
/// export.
fn assert_nothing_stored_and_still_accepting(collector: &CollectorProcess, after: &str) {
    assert_eq!(services(collector), Vec::<String>::new(), "after {after}");
    let valid = request("after", vec![span(trace_id(99), 1)]).encode_to_vec();
    let answer = http(
        &collector.otlp,
        "POST",
        "/v1/traces",
        Some(PROTOBUF),
        &valid,
    );
    assert_eq!(answer.status, 200, "after {after}: {}", answer.text());
    assert_eq!(services(collector), ["after"], "after {after}");
}

/// The `google.rpc.Status` an OTLP/HTTP failure carries: (code, message).
fn rpc_status(answer: &HttpAnswer) -> (i64, String) {
    if answer.content_type == PROTOBUF {
        #[derive(Clone, PartialEq, prost::Message)]
        struct Status {
            #[prost(int32, tag = "1")]
            code: i32,
            #[prost(string, tag = "2")]
            message: String,
        }
        let status = Status::decode(answer.body.as_slice()).expect("a protobuf google.rpc.Status");
        (status.code.into(), status.message)
    } else {
        assert_eq!(answer.content_type, JSON, "{}", answer.text());
        let json = answer.json();
        (
            json["code"].as_i64().expect("a code"),
            json["message"].as_str().expect("a message").to_string(),
        )
    }
}

#[test]
fn an_otlp_body_over_the_size_limit_is_413_and_stores_nothing() {
    let collector = CollectorProcess::start_with(&["--max-body-size", "2KiB"]);
    let spans = (1..=60).map(|n| span(trace_id(n), n)).collect();
    let body = request("too-big", spans).encode_to_vec();
    assert!(body.len() > 2048, "the test body must exceed the limit");
    let answer = http(&collector.otlp, "POST", "/v1/traces", Some(PROTOBUF), &body);
    assert_eq!(answer.status, 413, "{}", answer.text());
    let (code, message) = rpc_status(&answer);
    assert_eq!(code, 2, "UNKNOWN, as the OpenTelemetry collector maps 413");
    assert_eq!(
        message,
        "body larger than the limit of 2048 bytes (--max-body-size)"
    );
    assert_nothing_stored_and_still_accepting(&collector, "a body over the limit");
}

#[test]
fn a_body_just_under_the_limit_is_accepted() {
    let body = request("fits", vec![span(trace_id(1), 1)]).encode_to_vec();
    let limit = body.len().to_string();
    let collector = CollectorProcess::start_with(&["--max-body-size", &limit]);
    let answer = http(&collector.otlp, "POST", "/v1/traces", Some(PROTOBUF), &body);
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(services(&collector), ["fits"]);
}

#[test]
fn malformed_protobuf_is_400_with_a_status_and_stores_nothing() {
    let collector = CollectorProcess::start();
    let answer = http(
        &collector.otlp,
        "POST",
        "/v1/traces",
        Some(PROTOBUF),
        b"garbage!!",
    );
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(answer.content_type, PROTOBUF);
    let (code, message) = rpc_status(&answer);
    assert_eq!(code, 3, "INVALID_ARGUMENT");
    assert!(
        message.starts_with("the body is not a valid OTLP protobuf ExportTraceServiceRequest: "),
        "{message}"
    );
    assert_nothing_stored_and_still_accepting(&collector, "malformed protobuf");
}

#[test]
fn malformed_otlp_json_is_400_with_a_status_and_stores_nothing() {
    let collector = CollectorProcess::start();
    for body in [
        &br#"{"resourceSpans": ["#[..],
        b"[]",
        br#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "abc", "spanId": "0000000000000001", "name": "x"}]}]}]}"#,
    ] {
        let answer = http(&collector.otlp, "POST", "/v1/traces", Some(JSON), body);
        let shown = String::from_utf8_lossy(body);
        assert_eq!(answer.status, 400, "{shown}: {}", answer.text());
        let (code, message) = rpc_status(&answer);
        assert_eq!(code, 3, "{shown}: INVALID_ARGUMENT");
        assert!(message.contains("not a valid OTLP JSON"), "{shown}: {message}");
        assert_eq!(services(&collector), Vec::<String>::new(), "{shown}");
    }
    assert_nothing_stored_and_still_accepting(&collector, "malformed JSON");
}

#[test]
fn one_bad_span_refuses_the_whole_export() {
    let collector = CollectorProcess::start();
    let spans = vec![span(trace_id(1), 1), span(vec![1, 2, 3], 2)];
    let body = request("half-good", spans).encode_to_vec();
    let answer = http(&collector.otlp, "POST", "/v1/traces", Some(PROTOBUF), &body);
    assert_eq!(answer.status, 400, "{}", answer.text());
    let (code, message) = rpc_status(&answer);
    assert_eq!(code, 3);
    assert_eq!(
        message,
        "span 1 has an invalid traceId (want 16 bytes, not all zero)"
    );
    assert_nothing_stored_and_still_accepting(&collector, "one bad span");
}

#[test]
fn a_wrong_content_type_is_415_and_a_wrong_method_405() {
    let collector = CollectorProcess::start();
    let body = request("typed", vec![span(trace_id(1), 1)]).encode_to_vec();
    for content_type in [Some("text/plain"), Some("application/grpc"), None] {
        let answer = http(&collector.otlp, "POST", "/v1/traces", content_type, &body);
        assert_eq!(answer.status, 415, "{content_type:?}: {}", answer.text());
        assert!(
            answer
                .text()
                .contains("send application/x-protobuf or application/json"),
            "{}",
            answer.text()
        );
    }
    let answer = http(&collector.otlp, "GET", "/v1/traces", None, b"");
    assert_eq!(answer.status, 405, "{}", answer.text());
    assert_eq!(answer.text(), "405 method not allowed, supported: [POST]\n");
    assert_nothing_stored_and_still_accepting(&collector, "a wrong content type");
}

#[test]
fn malformed_zipkin_json_is_400_and_stores_nothing() {
    let collector = CollectorProcess::start();
    for body in [
        "{",
        "{}",
        r#"[{"traceId": "0000000000000001", "id": "xyz"}]"#,
        // The first span is good; the second spoils the whole batch.
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "name": "ok", "localEndpoint": {"serviceName": "zipkin"}},
            {"traceId": "0000000000000001", "id": "0000000000000002", "timestamp": -1}]"#,
    ] {
        let answer = http(
            &collector.otlp,
            "POST",
            "/api/v2/spans",
            Some(JSON),
            body.as_bytes(),
        );
        assert_eq!(answer.status, 400, "{body}: {}", answer.text());
        assert!(!answer.text().trim().is_empty(), "{body}: a reason");
        assert_eq!(services(&collector), Vec::<String>::new(), "{body}");
    }
    assert_nothing_stored_and_still_accepting(&collector, "malformed Zipkin JSON");
}

#[test]
fn bad_query_parameters_get_jaegers_error_envelope() {
    let collector = CollectorProcess::start();
    let cases = [
        (
            "/api/traces?service=a&limit=abc",
            "strconv.ParseInt: parsing \"abc\": invalid syntax",
        ),
        (
            "/api/traces?service=a&minDuration=5x",
            "unable to parse param 'minDuration': time: unknown unit \"x\" in duration \"5x\"",
        ),
        (
            "/api/traces?service=a&start=yesterday",
            "unable to parse param 'start': strconv.ParseInt: parsing \"yesterday\": invalid syntax",
        ),
        ("/api/traces", "parameter 'service' is required"),
        (
            "/api/traces/xyz",
            "strconv.ParseUint: parsing \"xyz\": invalid syntax",
        ),
    ];
    for (path, msg) in cases {
        let answer = http(&collector.query, "GET", path, None, b"");
        assert_eq!(answer.status, 400, "{path}: {}", answer.text());
        assert_eq!(
            answer.content_type, "text/plain; charset=utf-8",
            "{path}: Go's http.Error"
        );
        assert_eq!(
            answer.json(),
            serde_json::json!({
                "data": null, "total": 0, "limit": 0, "offset": 0,
                "errors": [{"code": 400, "msg": msg}],
            }),
            "{path}"
        );
    }
}

#[test]
fn the_collector_listens_on_loopback_unless_told_otherwise() {
    let collector = CollectorProcess::start();
    for url in [&collector.query, &collector.otlp] {
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    }
}
