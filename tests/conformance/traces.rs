//! `/api/traces/{id}`: every OTLP feature a span can carry reads back from
//! the embedded collector exactly as from Jaeger.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use crate::otlp::*;
use crate::{Compare, Pair};

/// A trace sent in one export, with what to expect of it.
pub struct Case {
    pub name: &'static str,
    pub trace: String,
    pub spans: usize,
    pub request: ExportTraceServiceRequest,
}

impl Case {
    fn new(
        name: &'static str,
        high: u64,
        low: u64,
        spans: usize,
        request: ExportTraceServiceRequest,
    ) -> Self {
        Case {
            name,
            trace: trace_hex(high, low),
            spans,
            request,
        }
    }
}

/// Send every case (one export each) and compare each trace by id:
/// byte for byte when it has one span (Jaeger's output is then fully
/// defined), normalised otherwise.
pub async fn check_cases(pair: &mut Pair, cases: &[Case]) {
    for case in cases {
        pair.export(&case.request).await;
        pair.wait_for_trace(&case.trace, case.spans).await;
    }
    for case in cases {
        let compare = if case.spans == 1 {
            Compare::Bytes
        } else {
            Compare::Normalised
        };
        let (jaeger, embedded) = pair.get(&format!("/api/traces/{}", case.trace)).await;
        pair.compare(case.name, &jaeger, &embedded, compare);
    }
}

fn every_tag_type(base: u64) -> Case {
    let trace = trace_id(0, 0x1001);
    let mut span = span(
        &trace,
        1,
        None,
        "tags",
        SpanKind::Internal,
        at(base, 0),
        1500,
    );
    span.attributes = vec![
        s("string", "plain"),
        s("html", "<a href=\"x\">&amp;</a>"),
        s("unicode", "héllo \u{2028} wörld \u{7f} \u{1}"),
        s("empty.string", ""),
        i("int.small", 42),
        i("int.negative", -7),
        i("int.max.safe", (1 << 53) - 1),
        i("int.beyond.safe", (1 << 53) + 1),
        i("int.min", i64::MIN),
        i("int.max", i64::MAX),
        f("double", 1.5),
        f("double.whole", 3.0),
        f("double.big", 1e21),
        f("double.bigger", 1.5e300),
        f("double.tiny", 1e-7),
        f("double.small", 0.000001),
        f("double.negative.zero", -0.0),
        f("double.third", 1.0 / 3.0),
        b("bool.true", true),
        b("bool.false", false),
        bytes("bytes", &[0, 1, 2, 254, 255]),
        array(
            "array",
            vec![
                V::StringValue("a<b".into()),
                V::IntValue(1 << 60),
                V::BoolValue(true),
                V::DoubleValue(2.5),
                V::DoubleValue(4.0),
                V::BytesValue(vec![9, 9]),
            ],
        ),
        map(
            "map",
            vec![
                s("zeta", "z"),
                i("alpha", 1),
                map("nested", vec![b("yes", true)]),
                empty("nothing"),
            ],
        ),
        array("array.empty", vec![]),
        empty("no.value"),
        s("dup", "first"),
        i("dup", 2),
        s("a.first.key", "sorts first"),
        s("Z.upper", "sorts before lower case"),
    ];
    span.trace_state = "vendor=a,other=b".into();
    span.flags = 0x301;
    span.status = status(StatusCode::Ok, "");
    Case::new(
        "every attribute type",
        0,
        0x1001,
        1,
        request(vec![resource_spans(
            service(
                "tag-types",
                vec![
                    s("host.name", "lab-1"),
                    i("process.pid", 4242),
                    f("resource.double", 0.25),
                    b("resource.bool", false),
                    array("resource.array", vec![V::StringValue("x".into())]),
                ],
            ),
            scope("tracelab.test", "1.2.3", vec![s("scope.attr", "kept?")]),
            vec![span],
        )]),
    )
}

fn errors_and_events(base: u64) -> Case {
    let trace = trace_id(0, 0x1002);
    let mut span = span(
        &trace,
        2,
        None,
        "fails",
        SpanKind::Server,
        at(base, 0),
        9000,
    );
    span.status = status(StatusCode::Error, "boom: <it broke> & stayed broken");
    span.attributes = vec![s("http.method", "GET"), i("http.status_code", 503)];
    span.events = vec![
        event(
            "exception",
            base + 5_000_000,
            vec![
                s("exception.type", "TimeoutError"),
                s("exception.message", "upstream timed out"),
                s("exception.stacktrace", "at a\nat b"),
            ],
        ),
        // Earlier than the first: Jaeger keeps the events' order.
        event("retry", base + 1_000_000, vec![i("attempt", 2)]),
        event(
            "custom",
            base + 2_000_000,
            vec![s("zz", "z"), s("event", "named by attribute")],
        ),
        event("", base + 3_000_000, vec![s("only", "attributes")]),
        event(
            "numeric event",
            base + 4_000_000,
            vec![i("event", 7), s("a", "b")],
        ),
        event("no attributes", base + 4_500_000, vec![]),
    ];
    Case::new(
        "an error with events",
        0,
        0x1002,
        1,
        request(vec![resource_spans(
            service("errors", vec![]),
            scope("", "", vec![]),
            vec![span],
        )]),
    )
}

fn kinds_and_statuses(base: u64) -> Vec<Case> {
    let kinds = [
        SpanKind::Unspecified,
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ];
    let statuses = [
        (StatusCode::Unset, ""),
        (StatusCode::Unset, "a message without a code"),
        (StatusCode::Ok, "fine"),
        (StatusCode::Error, ""),
    ];
    let mut cases = Vec::new();
    for (k, kind) in kinds.iter().enumerate() {
        for (n, (code, message)) in statuses.iter().enumerate() {
            let low = 0x2000 + (k as u64) * 16 + n as u64;
            let trace = trace_id(0, low);
            let mut span = span(&trace, low, None, "kinds", *kind, at(base, 0), 10);
            span.status = status(*code, message);
            cases.push(Case::new(
                "a span kind and status",
                0,
                low,
                1,
                request(vec![resource_spans(
                    service("kinds", vec![]),
                    None,
                    vec![span],
                )]),
            ));
        }
    }
    cases
}

fn links(base: u64) -> Case {
    let trace = trace_id(0, 0x1003);
    let other = trace_id(0xabc, 0xdef);
    let parent = span(
        &trace,
        0x30,
        None,
        "parent",
        SpanKind::Server,
        at(base, 0),
        5000,
    );
    let mut child = span(
        &trace,
        0x31,
        Some(0x30),
        "linked",
        SpanKind::Internal,
        at(base, 1),
        100,
    );
    child.links = vec![
        link(&other, 0x99, vec![s("link.attr", "v")]),
        link(&other, 0x98, vec![s("opentracing.ref_type", "child_of")]),
        link(
            &trace,
            0x30,
            vec![s("opentracing.ref_type", "follows_from")],
        ),
        link(&[], 0x97, vec![]),
        link(&other, 0, vec![]),
    ];
    let mut no_parent = span(
        &trace,
        0x32,
        None,
        "links only",
        SpanKind::Consumer,
        at(base, 2),
        100,
    );
    no_parent.links = vec![
        link(&other, 0x96, vec![]),
        link(&trace, 0x30, vec![]),
        link(&trace, 0x31, vec![s("opentracing.ref_type", "child_of")]),
    ];
    Case::new(
        "links and references",
        0,
        0x1003,
        3,
        request(vec![resource_spans(
            service("links", vec![]),
            None,
            vec![parent, child, no_parent],
        )]),
    )
}

fn many_services(base: u64) -> Case {
    let trace = trace_id(0x1234_5678_9abc_def0, 0x1004);
    let mut groups = Vec::new();
    let services = ["gateway", "auth", "catalog", "stock", "pricing", "db"];
    for (n, name) in services.iter().enumerate() {
        let n = n as u64;
        let id = 0x100 + n;
        let parent = (n > 0).then(|| 0x100 + (n - 1) / 2);
        let mut server = span(
            &trace,
            id,
            parent,
            &format!("{name} handle"),
            SpanKind::Server,
            at(base, n),
            4000 - n * 500,
        );
        server.attributes = vec![
            s("http.route", "/x"),
            s("telemetry.sdk.language", "rust"),
            s("telemetry.sdk.name", "opentelemetry"),
        ];
        let mut client = span(
            &trace,
            id + 0x1000,
            Some(id),
            &format!("{name} call"),
            SpanKind::Client,
            at(base, n),
            100,
        );
        client.attributes = vec![i("ip", 0x0a00_0001), f("peer.ipv4", 167_772_162.0)];
        groups.push(resource_spans(
            service(
                name,
                vec![
                    s("host.name", &format!("host-{n}")),
                    i("ip", 0x7f00_0001 + n as i64),
                    s("telemetry.sdk.version", "0.33.0"),
                ],
            ),
            scope("lib", "", vec![]),
            vec![server, client],
        ));
    }
    Case::new(
        "six services",
        0x1234_5678_9abc_def0,
        0x1004,
        12,
        request(groups),
    )
}

fn adjusted(base: u64) -> Case {
    let trace = trace_id(0, 0x1005);
    let root = span(
        &trace,
        0x50,
        None,
        "root",
        SpanKind::Server,
        at(base, 10),
        1000,
    );
    // Starts before its parent; another ends after it.
    let early = span(
        &trace,
        0x51,
        Some(0x50),
        "early child",
        SpanKind::Client,
        at(base, 9),
        500,
    );
    let late = span(
        &trace,
        0x52,
        Some(0x50),
        "late child",
        SpanKind::Client,
        at(base, 10),
        5000,
    );
    let longer = span(
        &trace,
        0x53,
        Some(0x50),
        "longer child",
        SpanKind::Client,
        at(base, 8),
        3_600_000_000,
    );
    // Its parent never arrives.
    let orphan = span(
        &trace,
        0x54,
        Some(0x77),
        "orphan",
        SpanKind::Internal,
        at(base, 11),
        10,
    );
    // Sent twice, identical.
    let twice = span(
        &trace,
        0x55,
        Some(0x50),
        "sent twice",
        SpanKind::Internal,
        at(base, 10),
        10,
    );
    // A Zipkin-style shared span id: a client and a server with one id.
    let client = span(
        &trace,
        0x56,
        Some(0x50),
        "shared client",
        SpanKind::Client,
        at(base, 10),
        300,
    );
    let server = span(
        &trace,
        0x56,
        Some(0x50),
        "shared server",
        SpanKind::Server,
        at(base, 10),
        200,
    );
    let under_shared = span(
        &trace,
        0x57,
        Some(0x56),
        "under shared",
        SpanKind::Internal,
        at(base, 10),
        50,
    );
    Case::new(
        "adjusters: clock skew, orphans, duplicates, shared ids",
        0,
        0x1005,
        9,
        request(vec![
            resource_spans(
                service("adjusted", vec![]),
                None,
                vec![root, early, late, longer, orphan, twice.clone(), client],
            ),
            resource_spans(service("adjusted", vec![]), None, vec![twice]),
            resource_spans(
                service("adjusted-peer", vec![]),
                None,
                vec![server, under_shared],
            ),
        ]),
    )
}

fn odd_resources(base: u64) -> Vec<Case> {
    let resources = [
        ("no service.name", vec![s("host.name", "anonymous")]),
        ("no resource attributes", vec![]),
        ("a numeric service.name", vec![i("service.name", 7)]),
    ];
    resources
        .into_iter()
        .enumerate()
        .map(|(n, (name, attrs))| {
            let low = 0x3000 + n as u64;
            let trace = trace_id(0, low);
            let span = span(&trace, low, None, name, SpanKind::Internal, at(base, 0), 10);
            Case::new(
                "a resource without a usable service name",
                0,
                low,
                1,
                request(vec![resource_spans(attrs, None, vec![span])]),
            )
        })
        .collect()
}

fn jaeger_warnings(base: u64) -> Vec<Case> {
    let values = [
        array(
            "@jaeger@warnings",
            vec![
                V::StringValue("first".into()),
                V::StringValue("second".into()),
            ],
        ),
        s("@jaeger@warnings", "just one"),
    ];
    values
        .into_iter()
        .enumerate()
        .map(|(n, attr)| {
            let low = 0x4000 + n as u64;
            let trace = trace_id(0, low);
            let mut span = span(
                &trace,
                low,
                None,
                "warned",
                SpanKind::Internal,
                at(base, 0),
                10,
            );
            span.attributes = vec![attr, s("other", "kept")];
            Case::new(
                "the @jaeger@warnings attribute",
                0,
                low,
                1,
                request(vec![resource_spans(
                    service("warned", vec![]),
                    None,
                    vec![span],
                )]),
            )
        })
        .collect()
}

fn not_a_number(base: u64) -> Case {
    let trace = trace_id(0, 0x5000);
    let mut span = span(
        &trace,
        0x5000,
        None,
        "nan",
        SpanKind::Internal,
        at(base, 0),
        10,
    );
    span.attributes = vec![f("ratio", f64::NAN)];
    Case::new(
        "a NaN attribute",
        0,
        0x5000,
        1,
        request(vec![resource_spans(
            service("nan", vec![]),
            None,
            vec![span],
        )]),
    )
}

fn durations_that_do_not_end_after_the_start(base: u64) -> Vec<Case> {
    [(0x6000, 0i64), (0x6001, -5_000_000)]
        .into_iter()
        .map(|(low, delta)| {
            let trace = trace_id(0, low);
            let mut span = span(&trace, low, None, "instant", SpanKind::Internal, base, 0);
            span.end_time_unix_nano = (base as i64 + delta) as u64;
            Case::new(
                "a span that does not end after it starts",
                0,
                low,
                1,
                request(vec![resource_spans(
                    service("instant", vec![]),
                    None,
                    vec![span],
                )]),
            )
        })
        .collect()
}

pub fn feature_cases(base: u64) -> Vec<Case> {
    let mut cases = vec![
        every_tag_type(base),
        errors_and_events(base),
        links(base),
        many_services(base),
        adjusted(base),
        not_a_number(base),
    ];
    cases.extend(kinds_and_statuses(base));
    cases.extend(odd_resources(base));
    cases.extend(jaeger_warnings(base));
    cases.extend(durations_that_do_not_end_after_the_start(base));
    cases
}

#[tokio::test]
async fn every_otlp_span_feature_reads_back_from_the_embedded_collector_as_from_jaeger() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let base = now_ns() - 60_000_000_000;
    let cases = feature_cases(base);
    check_cases(&mut pair, &cases).await;
    // Every attribute type again, as OTLP JSON instead of protobuf.
    let mut json_case = every_tag_type(base);
    for resource in &mut json_case.request.resource_spans {
        for scope in &mut resource.scope_spans {
            for span in &mut scope.spans {
                span.trace_id = trace_id(0, 0x1f01);
            }
        }
    }
    pair.export_json(&json_case.request).await;
    pair.wait_for_trace("0000000000001f01", 1).await;
    pair.check("/api/traces/0000000000001f01", Compare::Bytes)
        .await;
    // Who calls whom across every case (links, many services, odd resources).
    pair.check("/api/dependencies", Compare::Normalised).await;
    pair.check(
        "/api/dependencies?service=catalog&prettyPrint=true",
        Compare::Normalised,
    )
    .await;
    // The same traces raw (no adjusters) and pretty-printed.
    for case in &cases {
        for query in ["raw=true", "prettyPrint=true", "raw=1&prettyPrint=yes"] {
            let path = format!("/api/traces/{}?{query}", case.trace);
            let compare = if case.spans == 1 {
                Compare::Bytes
            } else {
                Compare::Normalised
            };
            pair.check(&path, compare).await;
        }
    }
    pair.stop_and_assert().await;
}
