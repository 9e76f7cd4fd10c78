//! Zipkin v2 JSON: what the embedded collector makes of `POST /api/v2/spans`
//! reads back exactly as what Jaeger's own zipkin receiver makes of it.

use serde_json::{Value, json};

use crate::otlp::now_ns;
use crate::{Compare, Pair};

/// Envoy's span tags, as the sandbox's Envoys report them.
fn envoy_tags(node: &str, upstream: &str, status: u16, request_id: &str) -> Value {
    let mut tags = json!({
        "component": "proxy",
        "node_id": node,
        "zone": "",
        "guid:x-request-id": request_id,
        "http.url": "http://localhost:8000/trace/1",
        "http.method": "GET",
        "http.protocol": "HTTP/1.1",
        "downstream_cluster": "-",
        "user_agent": "curl/8.5.0",
        "peer.address": "172.18.0.1",
        "request_size": "0",
        "response_size": "89",
        "upstream_cluster": upstream,
        "upstream_cluster.name": upstream,
        "http.status_code": status.to_string(),
        "response_flags": "-"
    });
    if status >= 500 {
        tags["error"] = json!("true");
        tags["response_flags"] = json!("UF");
    }
    tags
}

fn endpoint(service: &str, ip: &str, port: u16) -> Value {
    json!({"serviceName": service, "ipv4": ip, "port": port})
}

/// The sandbox's trace as its three Envoys post it: shared client/server
/// span ids (Envoy's default), 64-bit or 128-bit trace ids.
fn sandbox_posts(trace: &str, base_us: u64, status: u16, request_id: &str) -> Vec<Value> {
    let tags = |node, upstream| envoy_tags(node, upstream, status, request_id);
    vec![
        json!([{
            "traceId": trace, "id": "a000000000000001", "kind": "CLIENT",
            "name": "checkAvailability", "timestamp": base_us, "duration": 9000,
            "localEndpoint": endpoint("front-proxy", "172.18.0.2", 8000),
            "tags": tags("front-proxy", "service1")
        }]),
        json!([
            {
                "traceId": trace, "id": "a000000000000001", "kind": "SERVER", "shared": true,
                "name": "checkAvailability", "timestamp": base_us + 500, "duration": 8000,
                "localEndpoint": endpoint("service1", "172.18.0.3", 8000),
                "tags": tags("service1", "local_service")
            },
            {
                "traceId": trace, "id": "b000000000000002", "parentId": "a000000000000001",
                "kind": "CLIENT", "name": "checkStock", "timestamp": base_us + 1000,
                "duration": 6000,
                "localEndpoint": endpoint("service1", "172.18.0.3", 8000),
                "tags": tags("service1", "service2")
            }
        ]),
        json!([{
            "traceId": trace, "id": "b000000000000002", "parentId": "a000000000000001",
            "kind": "SERVER", "shared": true, "name": "checkStock",
            "timestamp": base_us + 1500, "duration": 5000,
            "localEndpoint": endpoint("service2", "172.18.0.4", 8000),
            "tags": tags("service2", "local_service")
        }]),
    ]
}

/// Every field and tag the translator treats specially.
fn feature_posts(base_us: u64) -> Vec<Value> {
    let t = "00000000000000000000000000000f01";
    vec![
        json!([
            {
                "traceId": t, "id": "0000000000000001", "name": "root op",
                "timestamp": base_us, "duration": 20000,
                "localEndpoint": {"serviceName": "zipkin-app", "ipv6": "2001:db8::1", "port": 9000},
                "remoteEndpoint": {"serviceName": "db", "ipv4": "10.0.0.9", "port": 5432},
                "annotations": [
                    {"timestamp": base_us + 10, "value": "ws"},
                    {"timestamp": base_us + 5, "value": "cs|{\"a\":1}|0"}
                ],
                "tags": {
                    "span.kind": "internal", "otel.status_code": "STATUS_CODE_ERROR",
                    "otel.status_description": "it failed", "w3c.tracestate": "k=v",
                    "host.name": "zhost", "service.version": "1.2",
                    "telemetry.sdk.language": "java", "otel.library.name": "zlib",
                    "otel.library.version": "0.9", "plain": "tag",
                    "otlp.link.0": "00000000000000000000000000000abc|0000000000000def|s=1|{}|0"
                }
            },
            {
                "traceId": t, "id": "0000000000000002", "parentId": "0000000000000001",
                "kind": "PRODUCER", "name": "publish", "timestamp": base_us + 100,
                "duration": 0, "debug": true,
                "localEndpoint": {"serviceName": "zipkin-app"},
                "tags": {"error": "false", "otel.status_code": "Ok", "messaging.system": "kafka"}
            },
            {
                "traceId": t, "id": "0000000000000003", "parentId": "0000000000000003",
                "kind": "CONSUMER", "name": "consume", "timestamp": base_us + 200,
                "duration": 300, "localEndpoint": {"serviceName": "zipkin-app"},
                "tags": {"otel.status_code": "bogus", "host.name": "not the first"}
            },
            {
                "TraceId": t, "ID": "0000000000000004", "Name": "Upper Case Keys",
                "Timestamp": base_us + 300, "Duration": 7,
                "LocalEndpoint": {"ServiceName": "zipkin-app"}
            }
        ]),
        json!([
            {
                "traceId": t, "id": "0000000000000005", "parentId": "0000000000000001",
                "name": "no local endpoint", "timestamp": base_us + 400, "duration": 10
            },
            {
                "traceId": t, "id": "0000000000000006", "parentId": "0000000000000001",
                "name": "no timestamp", "duration": 10,
                "localEndpoint": {"serviceName": "renamed", "ipv4": "::ffff:10.1.2.3"},
                "tags": {"otlp.service.name.source": "peer.service", "span.kind": "client"}
            },
            null
        ]),
    ]
}

/// Jaeger's trace id text of every trace posted, with its span count.
fn traces_of(posts: &[Value]) -> std::collections::BTreeMap<String, usize> {
    let mut traces = std::collections::BTreeMap::new();
    for span in posts
        .iter()
        .flat_map(|p| p.as_array().cloned().unwrap_or_default())
    {
        if let Some(id) = span
            .get("traceId")
            .or_else(|| span.get("TraceId"))
            .and_then(Value::as_str)
        {
            let short = if id.len() > 16 && id[..id.len() - 16].bytes().all(|b| b == b'0') {
                &id[id.len() - 16..]
            } else {
                id
            };
            *traces.entry(format!("{short:0>16}")).or_insert(0) += 1;
        }
    }
    traces
}

#[tokio::test]
async fn zipkin_spans_read_back_from_the_embedded_collector_as_from_jaegers_zipkin_receiver() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let base_us = now_ns() / 1_000 - 60_000_000;
    let mut posts = sandbox_posts("7a7a000000000001", base_us, 200, "req-1");
    posts.extend(sandbox_posts(
        "00000000000000017a7a000000000002",
        base_us + 100_000,
        503,
        "req-2",
    ));
    posts.extend(feature_posts(base_us + 200_000));
    for post in &posts {
        let body = post.to_string();
        let (jaeger, embedded) = pair.post_zipkin(&body).await;
        pair.compare(
            &format!("POST /api/v2/spans {}", &body[..body.len().min(80)]),
            &jaeger,
            &embedded,
            Compare::Bytes,
        );
    }
    let traces = traces_of(&posts);
    assert_eq!(traces.len(), 3, "{traces:?}");
    for (id, spans) in &traces {
        pair.wait_for_trace(id, *spans).await;
    }
    let mut paths: Vec<String> = vec![
        "/api/services".into(),
        "/api/traces?service=front-proxy".into(),
        "/api/traces?service=service2&tag=error:true".into(),
        "/api/traces?service=service1&tag=http.status_code:503".into(),
        "/api/traces?service=service1&tag=guid:x-request-id:req-1".into(),
        "/api/traces?service=zipkin-app&tag=net.host.port:9000".into(),
        "/api/traces?service=zipkin-app&tag=host.name:zhost".into(),
        "/api/traces?service=zipkin-app&tag=plain:tag".into(),
        "/api/traces?service=missing-service-name".into(),
        // Shared client/server span ids: the parent is the first span with the id.
        "/api/dependencies".into(),
        "/api/dependencies?service=service1".into(),
        format!(
            "/api/dependencies?endTs={}&lookback=3600000",
            now_ns() / 1_000_000
        ),
        "/api/dependencies?endTs=1000&lookback=1000".into(),
    ];
    // (Not raw=true: the translator adds a Zipkin span's tags in Go map
    // order, which only the adjusters' sort makes defined.)
    for id in traces.keys() {
        paths.push(format!("/api/traces/{id}"));
    }
    for service in [
        "front-proxy",
        "service1",
        "service2",
        "zipkin-app",
        "missing-service-name",
        "renamed",
    ] {
        paths.push(format!("/api/services/{service}/operations"));
        paths.push(format!("/api/operations?service={service}"));
    }
    for path in &paths {
        pair.check(path, Compare::AnyTraceOrder).await;
    }
    // The sandbox's traces as OTLP through the v3 API: Envoy's shared span
    // ids, Zipkin's endpoints. Last, as Jaeger's v3 adjusters change its
    // stored trace (its shared ids, then /api/traces and dependencies), and
    // not raw (the translator's attribute order is Go map order).
    for id in ["7a7a000000000001", "00000000000000017a7a000000000002"] {
        crate::api_v3::check_v3(&mut pair, &format!("/api/v3/traces/{id}")).await;
    }
    pair.stop_and_assert().await;
}

#[tokio::test]
async fn bad_zipkin_payloads_are_refused_as_jaegers_receiver_refuses_them() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let bodies = [
        "{",
        "{}",
        "[1]",
        "\"spans\"",
        r#"[{"traceId": "", "id": "0000000000000001"}]"#,
        r#"[{"traceId": "0000000000000001"}]"#,
        r#"[{"traceId": "0000000000000001", "id": "xyz"}]"#,
        r#"[{"traceId": "xyz", "id": "0000000000000001"}]"#,
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "timestamp": -1}]"#,
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "tags": {"a": 1}}]"#,
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "annotations": [{"value": "x"}]}]"#,
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "localEndpoint": {"ipv4": "nope"}}]"#,
        r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "localEndpoint": {"port": 70000}}]"#,
        "null",
        "[]",
    ];
    for body in bodies {
        let (jaeger, embedded) = pair.post_zipkin(body).await;
        // The reasons are Go's decoder's; what a client acts on is the status.
        let (jaeger_status, embedded_status) = (jaeger.status, embedded.status);
        pair.record(
            &format!("POST /api/v2/spans {body}"),
            (jaeger_status != embedded_status).then(|| {
                format!(
                    "status {jaeger_status} (jaeger) vs {embedded_status} (embedded): {} / {}",
                    String::from_utf8_lossy(&jaeger.body),
                    String::from_utf8_lossy(&embedded.body)
                )
            }),
        );
    }
    pair.stop_and_assert().await;
}
