//! Jaeger's legacy intake: the same batches sent as thrift over HTTP
//! (14268, plain and gzip), as agent datagrams (6831 compact, 6832 binary)
//! and over gRPC (14250, plain and gzip) to the real Jaeger's jaeger
//! receiver and to the embedded collector read back identically through
//! the query API; bad payloads are refused (or dropped) alike.

use std::collections::BTreeMap;

use tracelab::collector::intake::jaeger_grpc as pb;
use tracelab::collector::ports::Listener;

use crate::jaeger_wire::*;
use crate::otlp::now_ns;
use crate::{Compare, Pair};

/// One trace's batches: every span feature Jaeger's translator treats
/// specially, on a 64-bit (`high` = 0) or 128-bit trace id.
fn feature_batches(high: i64, low: i64, base_us: i64) -> Vec<Batch> {
    let at = |ms: i64| base_us + ms * 1_000;
    let on = |id: i64, parent: i64, operation: &str, ms: i64, tags: Vec<Tag>| {
        let mut s = span(low, id, parent, operation, at(ms));
        s.trace_high = high;
        s.tags = Some(tags);
        s
    };
    let mut root = on(
        1,
        0,
        "HTTP GET /checkout",
        0,
        vec![
            s("span.kind", "server"),
            s("sampler.type", "const"),
            boolean("sampler.param", true),
            long("http.status_code", 200),
            s("http.method", "GET"),
            s("http.url", "http://shop/checkout?a=<b>&c"),
        ],
    );
    root.duration_us = 50_000;
    root.logs = Some(vec![
        Log {
            timestamp_us: at(1),
            fields: vec![
                s("level", "info"),
                s("event", "cache miss"),
                long("size", 7),
            ],
        },
        Log {
            timestamp_us: at(2),
            fields: vec![s("message", "no event field")],
        },
        Log {
            timestamp_us: at(3),
            fields: vec![],
        },
    ]);
    let mut spans = vec![
        root,
        on(
            2,
            1,
            "GET /stock",
            1,
            vec![
                s("span.kind", "client"),
                s("http.status_code", "404"),
                s("http.status_message", "Not Found"),
                s("peer.service", "stock"),
                long("peer.ipv4", 0x0a00_0005),
                long("peer.port", 8080),
            ],
        ),
        on(
            3,
            1,
            "handle 404",
            2,
            vec![s("span.kind", "server"), long("http.status_code", 404)],
        ),
        on(
            4,
            1,
            "failing",
            3,
            vec![
                boolean("error", true),
                s("otel.status_description", "boom"),
                s("http.status_message", "ignored"),
            ],
        ),
        on(
            5,
            1,
            "error as text",
            4,
            vec![
                s("error", "true"),
                s("otel.status_code", "ok"),
                s("otel.status_description", "fine"),
            ],
        ),
        on(
            6,
            1,
            "otel status",
            5,
            vec![
                s("otel.status_code", "Error"),
                long("http.status_code", 200),
            ],
        ),
        on(
            7,
            1,
            "http 399 and 503",
            6,
            vec![long("http.status_code", 399), s("span.kind", "producer")],
        ),
        on(
            8,
            1,
            "typed tags",
            7,
            vec![
                double("double", 2.5),
                double("double.whole", 3.0),
                binary("bytes", &[0, 1, 2, 0xff]),
                unknown_type("odd", 9),
                s("dup", "first"),
                long("dup", 2),
                boolean("flag", false),
                s("w3c.tracestate", "k=v"),
                s("otel.scope.name", "my-lib"),
                s("otel.scope.version", "1.2.3"),
                s("span.kind", "consumer"),
                long("error", 1),
            ],
        ),
        on(9, 1, "no duration", 8, vec![s("span.kind", "internal")]),
        on(10, 0, "references only", 9, vec![]),
        on(11, 0, "follows from", 10, vec![]),
        on(
            12,
            1,
            "parent and references",
            11,
            vec![s("span.kind", "bogus")],
        ),
        on(13, 1, "", 12, vec![]),
    ];
    spans[8].duration_us = 0;
    let same = |ref_type, span_id| Ref {
        ref_type,
        trace_high: high,
        trace_low: low,
        span_id,
    };
    spans[9].refs = Some(vec![
        same(0, 1),
        Ref {
            ref_type: 1,
            trace_high: 0,
            trace_low: 0x0bad,
            span_id: 77,
        },
    ]);
    spans[10].refs = Some(vec![same(1, 2)]);
    spans[11].refs = Some(vec![same(0, 1), same(0, 1), same(7, 2), same(1, 3)]);
    let mut second = span(low, 20, 1, "downstream", at(20));
    second.trace_high = high;
    second.tags = Some(vec![s("span.kind", "server")]);
    vec![
        Batch {
            process: process(
                "jaeger-go-app",
                vec![
                    s("hostname", "box-1"),
                    s("jaeger.version", "Go-2.30.0"),
                    s("ip", "10.0.0.5"),
                    s("client-uuid", "6c2b"),
                ],
            ),
            spans,
        },
        Batch {
            process: process(
                "jaeger-java-app",
                vec![
                    long("ip", 0x0a00_0006),
                    s("hostname", "box-2"),
                    s("host.name", "kept"),
                    s("jaeger.version", "Java-1.8.1"),
                    s("opencensus.exporterversion", "kept too"),
                ],
            ),
            spans: vec![second],
        },
    ]
}

/// A batch whose process names no service, and one with a blank span.
fn odd_batches(low: i64, base_us: i64) -> Vec<Batch> {
    vec![
        Batch {
            process: process("", vec![s("k", "v")]),
            spans: vec![span(low, 1, 0, "nameless", base_us)],
        },
        Batch {
            process: process("blank-and-one", vec![]),
            spans: vec![Span::default(), span(low, 2, 1, "kept", base_us + 10)],
        },
    ]
}

/// The spans of each trace the batches make, by Jaeger's trace id text.
fn traces_of(batches: &[Batch]) -> BTreeMap<String, usize> {
    let mut traces = BTreeMap::new();
    for span in batches.iter().flat_map(|b| &b.spans) {
        if span.span_id == 0 {
            continue; // the blank span
        }
        let id = if span.trace_high == 0 {
            format!("{:016x}", span.trace_low)
        } else {
            format!("{:016x}{:016x}", span.trace_high, span.trace_low)
        };
        *traces.entry(id).or_insert(0) += 1;
    }
    traces
}

/// The questions asked of both after the spans are in.
fn api_paths(traces: &BTreeMap<String, usize>, services: &[&str]) -> Vec<String> {
    let mut paths = vec![
        "/api/services".to_string(),
        "/api/traces?service=jaeger-go-app&tag=http.method:GET".into(),
        "/api/traces?service=jaeger-go-app&tag=dup:2".into(),
        "/api/traces?service=jaeger-go-app&tag=double:2.5".into(),
        "/api/traces?service=jaeger-go-app&tag=http.status_code:404".into(),
        "/api/traces?service=jaeger-go-app&tag=hostname:box-1".into(),
        "/api/traces?service=jaeger-go-app&tag=host.name:box-1".into(),
        "/api/traces?service=jaeger-go-app&tag=level:info".into(),
        "/api/traces?service=jaeger-java-app&tag=ip:167772166".into(),
        "/api/traces?service=jaeger-go-app&operation=failing".into(),
    ];
    for id in traces.keys() {
        paths.push(format!("/api/traces/{id}"));
        // Unadjusted: tags in the order the translator left them.
        paths.push(format!("/api/traces/{id}?raw=true"));
    }
    for service in services {
        paths.push(format!("/api/services/{service}/operations"));
        paths.push(format!("/api/operations?service={service}"));
    }
    paths
}

async fn check_api(pair: &mut Pair, traces: &BTreeMap<String, usize>, services: &[&str]) {
    for (id, spans) in traces {
        pair.wait_for_both(id, *spans).await;
    }
    for path in api_paths(traces, services) {
        pair.check(&path, Compare::AnyTraceOrder).await;
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// Request headers, name and value.
type Headers = Vec<(&'static str, &'static str)>;

const SERVICES: [&str; 5] = [
    "jaeger-go-app",
    "jaeger-java-app",
    "missing-service-name",
    "blank-and-one",
    "nobody",
];

fn base_us() -> i64 {
    (now_ns() / 1_000) as i64 - 60_000_000
}

#[tokio::test]
async fn jaeger_thrift_over_http_reads_back_as_from_jaegers_receiver() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let base = base_us();
    let mut batches = feature_batches(0, 0x7e57_0001, base);
    batches.extend(feature_batches(0x0000_0abc, 0x7e57_0002, base + 100_000));
    batches.extend(feature_batches(0, 0x7e57_0003, base + 200_000));
    batches.extend(odd_batches(0x7e57_0004, base + 300_000));
    let content_types = [
        "application/x-thrift",
        "application/vnd.apache.thrift.binary",
    ];
    for (n, batch) in batches.iter().enumerate() {
        let body = thrift_body(batch);
        let content_type = content_types[n % 2];
        // The third trace's batches go gzip-compressed.
        let (headers, body) = if n / 2 == 2 {
            (
                vec![("content-type", content_type), ("content-encoding", "gzip")],
                gzip(&body),
            )
        } else {
            (vec![("content-type", content_type)], body)
        };
        let (jaeger, embedded) = pair
            .post_to(Listener::JaegerThriftHttp, "/api/traces", &headers, &body)
            .await;
        pair.compare(
            &format!("POST /api/traces batch {n} ({content_type})"),
            &jaeger,
            &embedded,
            Compare::Bytes,
        );
    }
    check_api(&mut pair, &traces_of(&batches), &SERVICES).await;
    pair.stop_and_assert().await;
}

#[tokio::test]
async fn jaeger_agent_datagrams_compact_and_binary_read_back_as_from_jaegers_agent_ports() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let base = base_us();
    let compact = feature_batches(0, 0x0da7_0001, base);
    let binary = feature_batches(0x0000_0def, 0x0da7_0002, base + 100_000);
    for batch in &compact {
        pair.send_datagram(
            Listener::JaegerCompact,
            &emit_batch(batch, Protocol::Compact),
        );
    }
    for batch in &binary {
        pair.send_datagram(Listener::JaegerBinary, &emit_batch(batch, Protocol::Binary));
    }
    let odd = odd_batches(0x0da7_0003, base + 200_000);
    for batch in &odd {
        pair.send_datagram(
            Listener::JaegerCompact,
            &emit_batch(batch, Protocol::Compact),
        );
    }
    let all: Vec<Batch> = compact.into_iter().chain(binary).chain(odd).collect();
    check_api(&mut pair, &traces_of(&all), &SERVICES).await;
    pair.stop_and_assert().await;
}

/// Protobuf-only features: a span's own process, and an 8-byte trace id.
fn proto_extras(low: i64, base_us: i64) -> pb::PostSpansRequest {
    let mut batch = Batch {
        process: process("grpc-app", vec![s("hostname", "box-3")]),
        spans: vec![
            span(low, 1, 0, "grpc root", base_us),
            span(low, 2, 1, "own process", base_us + 10),
            span(low, 3, 1, "no name process", base_us + 20),
        ],
    };
    batch.spans[1].process = Some(process("other-app", vec![long("ip", 0x0a00_0007)]));
    batch.spans[2].process = Some(process("OTLPResourceNoServiceName", vec![s("lost", "yes")]));
    let mut request = post_spans(&batch);
    let spans = &mut request.batch.as_mut().unwrap().spans;
    // A span Jaeger skips (every field at its zero value).
    spans.push(pb::ProtoSpan::default());
    // An 8-byte trace id is the low half.
    let mut short = spans[0].clone();
    short.trace_id = Some(low.to_be_bytes().to_vec());
    short.span_id = Some(4i64.to_be_bytes().to_vec());
    short.operation_name = "short trace id".into();
    spans.push(short);
    request
}

#[tokio::test]
async fn jaeger_grpc_post_spans_reads_back_as_from_jaegers_collector_api() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let base = base_us();
    let mut batches = feature_batches(0, 0x6290_0001, base);
    batches.extend(feature_batches(0x0000_0123, 0x6290_0002, base + 100_000));
    for (n, batch) in batches.iter().enumerate() {
        let request = post_spans(batch);
        let gzip = n % 2 == 1;
        let (jaeger, embedded) = pair.post_spans(&request, gzip).await;
        pair.record(
            &format!("PostSpans batch {n} (gzip: {gzip})"),
            (jaeger.is_err() || embedded.is_err())
                .then(|| format!("{jaeger:?} (jaeger) vs {embedded:?} (embedded)")),
        );
    }
    let (jaeger, embedded) = pair
        .post_spans(&proto_extras(0x6290_0003, base + 200_000), false)
        .await;
    pair.record(
        "PostSpans with span processes",
        (jaeger.is_err() || embedded.is_err())
            .then(|| format!("{jaeger:?} (jaeger) vs {embedded:?} (embedded)")),
    );
    let mut traces = traces_of(&batches);
    traces.insert(format!("{:016x}", 0x6290_0003), 4);
    let mut services = SERVICES.to_vec();
    services.extend(["grpc-app", "other-app"]);
    check_api(&mut pair, &traces, &services).await;
    pair.stop_and_assert().await;
}

#[tokio::test]
async fn bad_jaeger_payloads_are_refused_as_jaegers_receiver_refuses_them() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let good = thrift_body(&feature_batches(0, 0x0bad_0001, base_us())[1]);
    // Without the batch's final stop byte.
    let cut_at_the_end = good[..good.len() - 1].to_vec();
    let cases: Vec<(&str, Headers, Vec<u8>)> = vec![
        (
            "truncated",
            vec![("content-type", "application/x-thrift")],
            good[..good.len() / 2].to_vec(),
        ),
        (
            "cut at the end",
            vec![("content-type", "application/x-thrift")],
            cut_at_the_end,
        ),
        (
            "junk",
            vec![("content-type", "application/x-thrift")],
            b"\xff\xff\xff\xffjunk".to_vec(),
        ),
        (
            "empty",
            vec![("content-type", "application/x-thrift")],
            Vec::new(),
        ),
        (
            "wrong content type",
            vec![("content-type", "application/json")],
            good.clone(),
        ),
        (
            "compact thrift",
            vec![("content-type", "application/x-thrift")],
            emit_batch(&feature_batches(0, 1, 0)[1], Protocol::Compact),
        ),
        ("no content type", vec![], good.clone()),
    ];
    for (name, headers, body) in cases {
        let (jaeger, embedded) = pair
            .post_to(Listener::JaegerThriftHttp, "/api/traces", &headers, &body)
            .await;
        // The reasons are Go's thrift library's; a client acts on the status.
        pair.record(
            &format!("POST /api/traces {name}"),
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
    // Junk on the agent ports is dropped; a good datagram after it lands.
    for listener in [Listener::JaegerCompact, Listener::JaegerBinary] {
        pair.send_datagram(listener, b"not thrift at all");
        pair.send_datagram(listener, &[0x82, 0x21, 0x01]);
    }
    let later = feature_batches(0, 0x0bad_0002, base_us());
    pair.send_datagram(
        Listener::JaegerCompact,
        &emit_batch(&later[1], Protocol::Compact),
    );
    pair.wait_for_both(&format!("{:016x}", 0x0bad_0002), 1)
        .await;
    pair.check("/api/services", Compare::Normalised).await;
    let dropped: u64 = pair
        .embedded
        .datagrams()
        .values()
        .map(|counts| counts.dropped)
        .sum();
    pair.record(
        "junk datagrams dropped and counted",
        (dropped != 4).then(|| format!("{dropped} datagrams counted as dropped, not 4")),
    );
    // A message that is not a PostSpansRequest: both refuse it (Jaeger's
    // gRPC server says INTERNAL, the embedded collector INVALID_ARGUMENT,
    // which tells a client not to retry).
    let mut bad = post_spans(&later[1]);
    bad.batch.as_mut().unwrap().spans[0].trace_id = Some(vec![1; 5]);
    let (jaeger, embedded) = pair.post_spans(&bad, false).await;
    pair.record(
        "PostSpans with a 5-byte trace id",
        match (&jaeger, &embedded) {
            (Err(_), Err((tonic::Code::InvalidArgument, _))) => None,
            _ => Some(format!("{jaeger:?} (jaeger) vs {embedded:?} (embedded)")),
        },
    );
    pair.stop_and_assert().await;
}
