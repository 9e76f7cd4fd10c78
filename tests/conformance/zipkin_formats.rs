//! Zipkin's other formats on port 9411: v2 protobuf (`application/
//! x-protobuf`, plain and gzip) and v1 JSON (`/api/v1/spans`) read back from
//! the embedded collector exactly as from Jaeger v2's zipkin receiver, and
//! bad bodies of both are refused alike.

use std::collections::BTreeMap;

use prost::Message;
use tracelab::collector::intake::zipkin_proto::{
    ListOfSpans, ProtoAnnotation, ProtoEndpoint, ProtoSpan,
};
use tracelab::collector::ports::Listener;

use crate::otlp::now_ns;
use crate::{Compare, Pair};

fn trace_bytes(high: u64, low: u64) -> Vec<u8> {
    [high.to_be_bytes(), low.to_be_bytes()].concat()
}

fn endpoint(service: &str, ipv4: &[u8], port: i32) -> Option<ProtoEndpoint> {
    Some(ProtoEndpoint {
        service_name: service.into(),
        ipv4: ipv4.to_vec(),
        port,
        ..Default::default()
    })
}

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The sandbox's three Envoys reporting one request in protobuf, as
/// Envoy's zipkin tracer can (`collector_endpoint_version: HTTP_PROTO`).
fn sandbox_posts(trace: &[u8], base_us: u64) -> Vec<ListOfSpans> {
    let envoy_tags = |node: &str, upstream: &str| {
        tags(&[
            ("component", "proxy"),
            ("node_id", node),
            ("http.method", "GET"),
            ("http.url", "http://localhost:8000/trace/1"),
            ("upstream_cluster", upstream),
            ("http.status_code", "200"),
            ("response_flags", "-"),
        ])
    };
    let span = |id: u64,
                parent: Option<u64>,
                kind: i32,
                name: &str,
                offset: u64,
                service: &str,
                ip: u8| {
        ProtoSpan {
            trace_id: trace.to_vec(),
            id: id.to_be_bytes().to_vec(),
            parent_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
            kind,
            name: name.into(),
            timestamp: base_us + offset,
            duration: 9_000 - offset * 2,
            local_endpoint: endpoint(service, &[172, 18, 0, ip], 8000),
            shared: kind == 2,
            tags: envoy_tags(service, "next"),
            ..Default::default()
        }
    };
    vec![
        ListOfSpans {
            spans: vec![span(
                0xa1,
                None,
                1,
                "checkAvailability",
                0,
                "front-proxy",
                2,
            )],
        },
        ListOfSpans {
            spans: vec![
                span(0xa1, None, 2, "checkAvailability", 500, "service1", 3),
                span(0xb2, Some(0xa1), 1, "checkStock", 1_000, "service1", 3),
            ],
        },
        ListOfSpans {
            spans: vec![span(
                0xb2,
                Some(0xa1),
                2,
                "checkStock",
                1_500,
                "service2",
                4,
            )],
        },
    ]
}

/// Every field the protobuf reader or the translator treats specially.
fn feature_post(trace: &[u8], base_us: u64) -> ListOfSpans {
    let mut v4_mapped = [0u8; 16];
    v4_mapped[10] = 0xff;
    v4_mapped[11] = 0xff;
    v4_mapped[12..].copy_from_slice(&[10, 1, 2, 3]);
    let base = ProtoSpan {
        trace_id: trace.to_vec(),
        name: "op".into(),
        timestamp: base_us,
        duration: 100,
        local_endpoint: endpoint("proto-app", &[], 0),
        ..Default::default()
    };
    let with = |id: u64, f: &dyn Fn(&mut ProtoSpan)| {
        let mut span = base.clone();
        span.id = id.to_be_bytes().to_vec();
        span.name = format!("op{id}");
        span.timestamp += id * 10;
        f(&mut span);
        span
    };
    ListOfSpans {
        spans: vec![
            with(1, &|s| {
                s.local_endpoint = Some(ProtoEndpoint {
                    service_name: "proto-app".into(),
                    ipv4: vec![192, 168, 1, 2],
                    ipv6: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1].to_vec(),
                    port: 9000,
                });
                s.remote_endpoint = Some(ProtoEndpoint {
                    service_name: "db".into(),
                    ipv6: v4_mapped.to_vec(),
                    port: 70_000,
                    ..Default::default()
                });
                s.annotations = vec![
                    ProtoAnnotation {
                        timestamp: base_us + 15,
                        value: "ws".into(),
                    },
                    ProtoAnnotation {
                        timestamp: base_us + 12,
                        value: "cs|{\"a\":1,\"b\":\"x\"}|0".into(),
                    },
                ];
                s.tags = tags(&[
                    ("otel.status_code", "STATUS_CODE_ERROR"),
                    ("otel.status_description", "it failed"),
                    ("host.name", "phost"),
                    ("otel.library.name", "plib"),
                    ("otel.library.version", "0.1"),
                    ("w3c.tracestate", "k=v"),
                    ("plain", "tag"),
                ]);
            }),
            with(2, &|s| {
                s.parent_id = 1u64.to_be_bytes().to_vec();
                s.kind = 3;
                s.debug = true;
                s.tags = tags(&[("error", "false"), ("messaging.system", "kafka")]);
            }),
            with(3, &|s| {
                s.parent_id = 3u64.to_be_bytes().to_vec();
                s.kind = 7;
                s.tags = tags(&[("span.kind", "internal")]);
            }),
            with(4, &|s| {
                s.parent_id = 1u64.to_be_bytes().to_vec();
                s.timestamp = 0;
                s.local_endpoint = Some(ProtoEndpoint {
                    service_name: "proto-app".into(),
                    ipv4: vec![1, 2, 3],
                    port: -1,
                    ..Default::default()
                });
            }),
            with(5, &|s| {
                s.parent_id = 0u64.to_be_bytes().to_vec();
                s.local_endpoint = None;
                s.kind = 4;
            }),
            with(6, &|s| {
                s.parent_id = 1u64.to_be_bytes().to_vec();
                s.local_endpoint = endpoint("renamed", &[], 0);
                s.tags = tags(&[("otlp.service.name.source", "peer.service")]);
            }),
        ],
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

async fn check_api(pair: &mut Pair, traces: &[(String, usize)], services: &[&str]) {
    for (id, spans) in traces {
        pair.wait_for_both(id, *spans).await;
    }
    let mut paths = vec!["/api/services".to_string()];
    for (id, _) in traces {
        paths.push(format!("/api/traces/{id}"));
    }
    for service in services {
        paths.push(format!("/api/services/{service}/operations"));
        paths.push(format!("/api/operations?service={service}"));
        paths.push(format!("/api/traces?service={service}"));
    }
    for path in paths {
        pair.check(&path, Compare::AnyTraceOrder).await;
    }
}

#[tokio::test]
async fn zipkin_protobuf_reads_back_as_from_jaegers_zipkin_receiver() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let base_us = now_ns() / 1_000 - 60_000_000;
    let mut posts = sandbox_posts(&trace_bytes(0, 0x9a0_0001), base_us);
    posts.extend(sandbox_posts(
        &trace_bytes(0x77, 0x9a0_0002),
        base_us + 100_000,
    ));
    posts.push(feature_post(&trace_bytes(0, 0x9a0_0003), base_us + 200_000));
    for (n, post) in posts.iter().enumerate() {
        let body = post.encode_to_vec();
        // The second sandbox trace goes gzip-compressed.
        let (headers, body) = if (3..6).contains(&n) {
            (
                vec![
                    ("content-type", "application/x-protobuf"),
                    ("content-encoding", "gzip"),
                ],
                gzip(&body),
            )
        } else {
            (vec![("content-type", "application/x-protobuf")], body)
        };
        let (jaeger, embedded) = pair
            .post_to(Listener::Zipkin, "/api/v2/spans", &headers, &body)
            .await;
        pair.compare(
            &format!("POST protobuf {n}"),
            &jaeger,
            &embedded,
            Compare::Bytes,
        );
    }
    let traces = [
        (format!("{:016x}", 0x9a0_0001), 4),
        (format!("{:016x}{:016x}", 0x77, 0x9a0_0002), 4),
        (format!("{:016x}", 0x9a0_0003), 6),
    ];
    let services = [
        "front-proxy",
        "service1",
        "service2",
        "proto-app",
        "renamed",
        "missing-service-name",
    ];
    check_api(&mut pair, &traces, &services).await;
    pair.stop_and_assert().await;
}

/// Zipkin v1 spans: kinds, times and endpoints from annotations, status
/// from binary annotations; every span has a time (one without is stamped
/// with its arrival time, which two receivers cannot share).
fn v1_posts(base_us: u64) -> Vec<String> {
    let t = |n: u64| base_us + n;
    let frontend = r#"{"serviceName": "v1-frontend", "ipv4": "10.0.0.1", "port": 8080}"#;
    let backend = r#"{"serviceName": "v1-backend", "ipv6": "2001:db8::2", "port": 9090}"#;
    vec![
        format!(
            r#"[{{"traceId": "0000000000000abc", "id": "0000000000000001", "name": "get /",
                 "timestamp": {}, "duration": 5000,
                 "annotations": [
                   {{"timestamp": {}, "value": "sr", "endpoint": {frontend}}},
                   {{"timestamp": {}, "value": "ss", "endpoint": {frontend}}},
                   {{"timestamp": {}, "value": "cache miss", "endpoint": {frontend}}},
                   {{"timestamp": {}, "value": ""}}],
                 "binaryAnnotations": [
                   {{"key": "http.path", "value": "/", "endpoint": {frontend}}},
                   {{"key": "http.status_code", "value": "503"}},
                   {{"key": "http.status_message", "value": "unavailable"}}]}},
                {{"traceId": "0000000000000abc", "id": "0000000000000002", "parentId": "0000000000000001",
                 "name": "call backend",
                 "annotations": [
                   {{"timestamp": {}, "value": "cs", "endpoint": {frontend}}},
                   {{"timestamp": {}, "value": "cr", "endpoint": {frontend}}}],
                 "binaryAnnotations": [
                   {{"key": "lc", "value": "http-client"}},
                   {{"key": "error", "value": "connection reset"}},
                   {{"key": "otel.status_description", "value": "reset"}},
                   {{"key": "dup", "value": "a"}}, {{"key": "dup", "value": "b"}}]}}]"#,
            t(0),
            t(0),
            t(5000),
            t(100),
            t(200),
            t(1000),
            t(4000)
        ),
        format!(
            r#"[{{"traceId": "00000000000000010000000000000abc", "id": "0000000000000003",
                 "parentId": "0000000000000002", "name": "serve",
                 "annotations": [
                   {{"timestamp": {}, "value": "sr", "endpoint": {backend}}},
                   {{"timestamp": {}, "value": "ss", "endpoint": {backend}}}],
                 "binaryAnnotations": [
                   {{"key": "census.status_code", "value": "0"}},
                   {{"key": "census.status_description", "value": "fine"}},
                   {{"key": "otel.status_code", "value": "2"}}]}},
                {{"traceId": "0000000000000abc", "id": "0000000000000004",
                 "parentId": "0000000000000001", "name": "publish",
                 "timestamp": {}, "duration": 300,
                 "annotations": [
                   {{"timestamp": {}, "value": "ms", "endpoint": {{"serviceName": "v1-queue", "ipv4": "not-an-ip"}}}}]}},
                {{"traceId": "0000000000000abc", "id": "0000000000000005",
                 "parentId": "0000000000000001", "name": "local work",
                 "timestamp": {}, "duration": 50,
                 "binaryAnnotations": [{{"key": "lc", "value": "v1-worker"}},
                   {{"key": "otel.status_code", "value": "1"}}]}},
                {{"traceId": "0000000000000abc", "id": "0000000000000006",
                 "parentId": "0000000000000001", "name": "no service at all",
                 "timestamp": {}, "duration": 10}}]"#,
            t(1500),
            t(3500),
            t(2000),
            t(2000),
            t(2500),
            t(2600)
        ),
    ]
}

#[tokio::test]
async fn zipkin_v1_json_reads_back_as_from_jaegers_zipkin_receiver() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let base_us = now_ns() / 1_000 - 60_000_000;
    for (n, body) in v1_posts(base_us).iter().enumerate() {
        let headers = [("content-type", "application/json")];
        let (jaeger, embedded) = pair
            .post_to(Listener::Zipkin, "/api/v1/spans", &headers, body.as_bytes())
            .await;
        pair.compare(&format!("POST v1 {n}"), &jaeger, &embedded, Compare::Bytes);
    }
    let traces = [
        (format!("{:016x}", 0xabc), 5),
        (format!("{:016x}{:016x}", 1, 0xabc), 1),
    ];
    let services = [
        "v1-frontend",
        "v1-backend",
        "v1-queue",
        "v1-worker",
        "unknown-service",
    ];
    check_api(&mut pair, &traces, &services).await;
    pair.stop_and_assert().await;
}

#[tokio::test]
async fn bad_zipkin_protobuf_and_v1_bodies_are_refused_as_jaegers_receiver_refuses_them() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let good = sandbox_posts(&trace_bytes(0, 0xbad), 1_700_000_000_000_000).remove(1);
    let mutated = |f: &dyn Fn(&mut ProtoSpan)| {
        let mut post = good.clone();
        f(&mut post.spans[0]);
        post.encode_to_vec()
    };
    let encoded = good.encode_to_vec();
    let protobuf: Vec<(&str, Vec<u8>)> = vec![
        ("junk", b"\xff\xff\xff\xff".to_vec()),
        ("truncated", encoded[..encoded.len() / 2].to_vec()),
        ("8-byte trace id", mutated(&|s| s.trace_id = vec![1; 8])),
        ("no span id", mutated(&|s| s.id.clear())),
        ("4-byte span id", mutated(&|s| s.id = vec![1; 4])),
        ("3-byte parent id", mutated(&|s| s.parent_id = vec![1; 3])),
        (
            "bad annotation json",
            mutated(&|s| {
                s.annotations = vec![ProtoAnnotation {
                    timestamp: 1,
                    value: "a|{nope|0".into(),
                }]
            }),
        ),
        ("empty", Vec::new()),
    ];
    for (name, body) in protobuf {
        let headers = [("content-type", "application/x-protobuf")];
        let (jaeger, embedded) = pair
            .post_to(Listener::Zipkin, "/api/v2/spans", &headers, &body)
            .await;
        record_status(&mut pair, &format!("protobuf {name}"), &jaeger, &embedded);
    }
    // Protobuf sent with another content type is read as JSON.
    let (jaeger, embedded) = pair
        .post_to(
            Listener::Zipkin,
            "/api/v2/spans",
            &[("content-type", "application/protobuf")],
            &encoded,
        )
        .await;
    record_status(
        &mut pair,
        "protobuf as application/protobuf",
        &jaeger,
        &embedded,
    );
    let v1 = [
        "{",
        "{}",
        r#"[{"traceId": "01", "id": "0000000000000001"}]"#,
        r#"[{"traceId": "0000000000000000", "id": "0000000000000001"}]"#,
        r#"[{"traceId": "0000000000000001", "id": "00000000000000zz"}]"#,
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "parentId": "0000000000000000"}]"#,
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "timestamp": 1.5}]"#,
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "binaryAnnotations": [{"key": "a", "value": true}]}]"#,
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "annotations": [{"value": "cs", "endpoint": {"port": 70000}}]}]"#,
        "null",
        "[]",
    ];
    for body in v1 {
        let headers = [("content-type", "application/json")];
        let (jaeger, embedded) = pair
            .post_to(Listener::Zipkin, "/api/v1/spans", &headers, body.as_bytes())
            .await;
        record_status(&mut pair, &format!("v1 {body}"), &jaeger, &embedded);
    }
    pair.check("/api/services", Compare::Normalised).await;
    pair.stop_and_assert().await;
}

/// The reasons are Go's decoders'; a client acts on the status.
fn record_status(
    pair: &mut Pair,
    what: &str,
    jaeger: &crate::harness::Answer,
    embedded: &crate::harness::Answer,
) {
    pair.record(
        what,
        (jaeger.status != embedded.status).then(|| {
            format!(
                "status {} (jaeger) vs {} (embedded): {} / {}",
                jaeger.status,
                embedded.status,
                String::from_utf8_lossy(&jaeger.body),
                String::from_utf8_lossy(&embedded.body)
            )
        }),
    );
}
