//! Services, operations, trace search with every filter, and the errors of
//! bad parameters: the embedded collector answers as Jaeger does.

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use crate::otlp::*;
use crate::{Compare, Pair};

/// Traces sent one export each, so Jaeger's newest-first order is defined.
struct Corpus {
    base: u64,
    ids: Vec<String>,
}

async fn send_corpus(pair: &Pair) -> Corpus {
    let base = now_ns() - 10 * 60 * 1_000_000_000;
    let mut ids = Vec::new();
    let mut send = async |low: u64, groups| {
        let req = request(groups);
        let spans = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        pair.export(&req).await;
        let id = trace_hex(0, low);
        pair.wait_for_trace(&id, spans).await;
        ids.push(id);
    };

    // 1: a successful checkout with attributes everywhere a search looks.
    let t = trace_id(0, 0x7001);
    let mut checkout = span(
        &t,
        1,
        None,
        "checkout",
        SpanKind::Server,
        at(base, 0),
        5_000,
    );
    checkout.status = status(StatusCode::Ok, "");
    checkout.attributes = vec![
        i("http.status_code", 200),
        s("customer", "alice"),
        s("dup", "a"),
        s("dup", "b"),
        s("with:colon", "x:y"),
    ];
    checkout.events = vec![event("paid", at(base, 1), vec![s("event.attr", "e1")])];
    let mut db = span(
        &t,
        2,
        Some(1),
        "db query",
        SpanKind::Client,
        at(base, 1),
        1_000,
    );
    db.attributes = vec![s("db.system", "postgres")];
    send(
        0x7001,
        vec![resource_spans(
            service("shop", vec![s("deployment.environment", "prod")]),
            scope("shop-lib", "2.0", vec![s("lib.attr", "x")]),
            vec![checkout, db],
        )],
    )
    .await;

    // 2: a failed, slow checkout.
    let t = trace_id(0, 0x7002);
    let mut failed = span(
        &t,
        3,
        None,
        "checkout",
        SpanKind::Server,
        at(base, 10),
        50_000,
    );
    failed.status = status(StatusCode::Error, "payment declined");
    failed.attributes = vec![i("http.status_code", 500), s("customer", "bob")];
    send(
        0x7002,
        vec![resource_spans(service("shop", vec![]), None, vec![failed])],
    )
    .await;

    // 3: a quick browse, unset status; an internal and an unspecified span.
    let t = trace_id(0, 0x7003);
    let mut browse = span(&t, 4, None, "browse", SpanKind::Server, at(base, 20), 500);
    browse.attributes = vec![s("customer", "alice")];
    let render = span(
        &t,
        5,
        Some(4),
        "render",
        SpanKind::Internal,
        at(base, 20),
        100,
    );
    let mystery = span(
        &t,
        6,
        Some(4),
        "mystery",
        SpanKind::Unspecified,
        at(base, 20),
        100,
    );
    send(
        0x7003,
        vec![resource_spans(
            service("shop", vec![]),
            None,
            vec![browse, render, mystery],
        )],
    )
    .await;

    // 4: another service, typed attributes.
    let t = trace_id(0, 0x7004);
    let mut charge = span(
        &t,
        7,
        None,
        "charge",
        SpanKind::Consumer,
        at(base, 30),
        2_000,
    );
    charge.attributes = vec![
        f("amount", 12.5),
        f("whole", 3.0),
        b("vip", true),
        array("labels", vec![V::StringValue("a".into()), V::IntValue(2)]),
        bytes("blob", &[1, 2, 3]),
        map("nested", vec![s("k", "v")]),
    ];
    send(
        0x7004,
        vec![resource_spans(
            service("payments", vec![]),
            None,
            vec![charge],
        )],
    )
    .await;

    // 5: a checkout two hours earlier.
    let t = trace_id(0, 0x7005);
    let old = span(
        &t,
        8,
        None,
        "checkout",
        SpanKind::Server,
        base - 2 * 3600 * 1_000_000_000,
        5_000,
    );
    send(
        0x7005,
        vec![resource_spans(service("shop", vec![]), None, vec![old])],
    )
    .await;

    // 6: a gateway calling the shop, a service name with a space.
    let t = trace_id(0, 0x7006);
    let gateway = span(&t, 9, None, "GET /", SpanKind::Server, at(base, 40), 9_000);
    let shop = span(
        &t,
        10,
        Some(9),
        "checkout",
        SpanKind::Server,
        at(base, 41),
        7_000,
    );
    let spaced = span(
        &t,
        11,
        Some(10),
        "lookup",
        SpanKind::Client,
        at(base, 42),
        1_000,
    );
    send(
        0x7006,
        vec![
            resource_spans(service("gateway", vec![]), None, vec![gateway]),
            resource_spans(service("shop", vec![]), None, vec![shop]),
            resource_spans(service("with space+plus", vec![]), None, vec![spaced]),
        ],
    )
    .await;
    Corpus { base, ids }
}

#[tokio::test]
async fn services_operations_and_searches_answer_as_jaeger_does() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let corpus = send_corpus(&pair).await;
    let base_us = corpus.base / 1_000;

    let mut paths: Vec<String> = [
        "/api/services",
        "/api/services/shop/operations",
        "/api/services/payments/operations",
        "/api/services/nobody/operations",
        "/api/services/with%20space%2Bplus/operations",
        "/api/services/with+space%2Bplus/operations",
        "/api/services/bad%zzescape/operations",
        "/api/operations?service=shop",
        "/api/operations?service=nobody",
        "/api/operations?service=with+space%2Bplus",
        "/api/traces?service=shop",
        "/api/traces?service=gateway",
        "/api/traces?service=payments",
        "/api/traces?service=nobody",
        "/api/traces?service=shop&operation=checkout",
        "/api/traces?service=shop&operation=render",
        "/api/traces?service=shop&operation=nope",
        "/api/traces?service=shop&raw=true",
        "/api/traces?service=shop&prettyPrint=true",
        "/api/traces?service=shop&limit=1",
        "/api/traces?service=shop&limit=2",
        "/api/traces?service=shop&limit=100000",
        "/api/traces?service=shop&minDuration=1ms",
        "/api/traces?service=shop&maxDuration=1ms",
        "/api/traces?service=shop&minDuration=2ms&maxDuration=10ms",
        "/api/traces?service=shop&minDuration=-1ms",
        "/api/traces?service=shop&maxDuration=5000us",
        "/api/traces?service=shop&maxDuration=4999.999us",
        "/api/traces?service=shop&minDuration=0",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    for kind in [
        "server",
        "client",
        "internal",
        "consumer",
        "unspecified",
        "",
        "bogus",
    ] {
        paths.push(format!("/api/operations?service=shop&spanKind={kind}"));
    }
    for tag in [
        "customer:alice",
        "customer:bob",
        "http.status_code:200",
        "http.status_code:500",
        "deployment.environment:prod",
        "lib.attr:x",
        "event.attr:e1",
        "dup:a",
        "dup:b",
        "with:colon:x:y",
        "span.kind:server",
        "otel.scope.name:shop-lib",
        "db.system:postgres",
        "error:true",
        "error:false",
        "error:",
        "service.name:shop",
    ] {
        paths.push(format!("/api/traces?service=shop&tag={}", encode(tag)));
    }
    for tag in [
        "amount:12.5",
        "whole:3",
        "vip:true",
        "labels:[\"a\",2]",
        "blob:AQID",
        "nested:{\"k\":\"v\"}",
    ] {
        paths.push(format!("/api/traces?service=payments&tag={}", encode(tag)));
    }
    for tags in [
        "{\"customer\":\"alice\",\"http.status_code\":\"200\"}",
        "{\"customer\":\"alice\",\"http.status_code\":\"500\"}",
        "{\"customer\":null}",
        "null",
    ] {
        paths.push(format!("/api/traces?service=shop&tags={}", encode(tags)));
    }
    // Later values win: `tags` over `tag`, the second `tag` over the first.
    paths.push(format!(
        "/api/traces?service=shop&tag=customer:bob&tags={}",
        encode("{\"customer\":\"alice\"}")
    ));
    paths.push("/api/traces?service=shop&tag=customer:alice&tag=customer:bob".into());
    // Time windows, in µs, at the edges of the spans' starts.
    for (start, end) in [
        (base_us, base_us + 15_000),
        (base_us + 1, base_us + 100_000),
        (base_us - 3 * 3600 * 1_000_000, base_us - 3600 * 1_000_000),
        (base_us + 10_000, base_us + 10_000),
        (base_us + 100_000, base_us),
    ] {
        paths.push(format!("/api/traces?service=shop&start={start}&end={end}"));
    }
    paths.push(format!("/api/traces?service=shop&end={}", base_us + 5_000));
    paths.push(format!(
        "/api/traces?traceID={}&traceID={}&traceID=00000000000000000000000000000abc&traceID={}",
        corpus.ids[0], corpus.ids[3], corpus.ids[0]
    ));
    paths.push(format!(
        "/api/traces?service=nobody&traceID={}",
        corpus.ids[1]
    ));
    for path in &paths {
        pair.check(path, Compare::Normalised).await;
    }
    pair.stop_and_assert().await;
}

#[tokio::test]
async fn bad_parameters_and_unknown_traces_get_jaegers_errors() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let corpus = send_corpus(&pair).await;
    let known = &corpus.ids[0];
    let long = "1".repeat(33);
    let paths = [
        "/api/traces".to_string(),
        "/api/traces?service=".into(),
        "/api/traces?operation=checkout".into(),
        "/api/traces?service=shop&start=abc".into(),
        "/api/traces?service=shop&end=abc".into(),
        "/api/traces?service=shop&start=99999999999999999999".into(),
        "/api/traces?service=shop&start=1.5".into(),
        "/api/traces?service=shop&limit=abc".into(),
        "/api/traces?service=shop&limit=0".into(),
        "/api/traces?service=shop&limit=-1".into(),
        "/api/traces?service=shop&limit=3000000000".into(),
        "/api/traces?service=shop&limit=100001".into(),
        "/api/traces?service=shop&minDuration=5".into(),
        "/api/traces?service=shop&minDuration=5x".into(),
        "/api/traces?service=shop&minDuration=abc".into(),
        "/api/traces?service=shop&maxDuration=1e3s".into(),
        "/api/traces?service=shop&minDuration=5ms&maxDuration=1ms".into(),
        "/api/traces?service=shop&tag=novalue".into(),
        format!("/api/traces?service=shop&tags={}", encode("notjson")),
        format!("/api/traces?service=shop&tags={}", encode("{\"a\":1}")),
        format!("/api/traces?service=shop&tags={}", encode("[1]")),
        format!("/api/traces?service=shop&tags={}", encode("{\"a\":\"b\",}")),
        format!("/api/traces?service=shop&tags={}", encode("{\"a\"")),
        "/api/traces?service=shop&traceID=xyz".into(),
        format!("/api/traces?service=shop&traceID={long}"),
        "/api/traces?service=shop&raw=maybe".into(),
        "/api/traces/xyz".into(),
        format!("/api/traces/{long}"),
        "/api/traces/zz00000000000000001".into(),
        format!("/api/traces/{known}?start=abc"),
        format!("/api/traces/{known}?end=1.5"),
        format!("/api/traces/{known}?raw=maybe"),
        "/api/traces/0".into(),
        "/api/traces/00000000000000000000000000000001".into(),
        "/api/operations".into(),
        "/api/operations?service=".into(),
        "/api/operations?spanKind=server".into(),
        "/api/dependencies?endTs=abc".into(),
        "/api/dependencies?lookback=1.5".into(),
        "/api/dependencies?lookback=-1".into(),
        "/api/dependencies?endTs=99999999999999999999".into(),
    ];
    for path in &paths {
        pair.check(path, Compare::Bytes).await;
    }
    pair.stop_and_assert().await;
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
