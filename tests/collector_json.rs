//! The embedded collector answers Jaeger's query API with Jaeger's JSON,
//! field by field, for a trace the sandbox mesh really exported over OTLP.

mod common;

use std::sync::Arc;

use serde_json::Value;
use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};
use tracelab::scenario;

async fn sandbox_run() -> (tracelab::backend::Backend, tracelab::report::ScenarioReport) {
    let scenario = scenario::load(&common::scenario_path("jaeger.rhai")).unwrap();
    let settings = RunSettings::embedded();
    let backend = start_backend(&settings).await.unwrap();
    let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
        .await
        .unwrap();
    assert!(report.passed);
    (backend, report)
}

async fn get(backend: &tracelab::backend::Backend, path: &str) -> (u16, Value) {
    let client = backend.client().unwrap();
    let (status, body) = client.get_raw(path).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn a_sandbox_trace_has_jaegers_fields_and_types() {
    let (backend, report) = sandbox_run().await;
    let trace_id = &report.traffic[0].trace_ids[0];
    let (status, body) = get(&backend, &format!("/api/traces/{trace_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(keys(&body), ["data", "errors", "limit", "offset", "total"]);
    assert_eq!(body["errors"], Value::Null);
    let trace = &body["data"][0];
    assert_eq!(keys(trace), ["processes", "spans", "traceID", "warnings"]);
    assert_eq!(trace["traceID"], Value::String(trace_id.clone()));
    assert_eq!(trace["warnings"], Value::Null);

    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 4);
    let mut services = Vec::new();
    for span in spans {
        for key in [
            "traceID",
            "spanID",
            "operationName",
            "references",
            "startTime",
            "duration",
            "tags",
            "logs",
            "processID",
            "warnings",
        ] {
            assert!(span.get(key).is_some(), "span lacks {key}: {span}");
        }
        assert_eq!(span["traceID"], trace["traceID"]);
        assert_eq!(span["spanID"].as_str().unwrap().len(), 16);
        assert!(
            span["startTime"].as_u64().unwrap() > 1_600_000_000_000_000,
            "µs since the epoch"
        );
        assert!(span["duration"].is_u64());
        assert_eq!(span["logs"], Value::Array(vec![]));
        for reference in span["references"].as_array().unwrap() {
            assert_eq!(keys(reference), ["refType", "spanID", "traceID"]);
            assert_eq!(reference["refType"], "CHILD_OF");
        }
        for tag in span["tags"].as_array().unwrap() {
            assert_eq!(keys(tag), ["key", "type", "value"]);
            let ty = tag["type"].as_str().unwrap();
            assert!(
                ["string", "bool", "int64", "float64", "binary"].contains(&ty),
                "{tag}"
            );
        }
        let process = &trace["processes"][span["processID"].as_str().unwrap()];
        assert_eq!(keys(process), ["serviceName", "tags"]);
        services.push(process["serviceName"].as_str().unwrap().to_string());
    }
    services.sort();
    services.dedup();
    assert_eq!(services, ["front-proxy", "service1", "service2"]);

    let roots: Vec<_> = spans
        .iter()
        .filter(|s| s["references"] == Value::Array(vec![]))
        .collect();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["operationName"], "checkAvailability");
    let tag = |span: &Value, key: &str| {
        span["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key)
            .cloned()
    };
    assert_eq!(tag(roots[0], "span.kind").unwrap()["value"], "client");
    assert_eq!(tag(roots[0], "component").unwrap()["value"], "proxy");
    assert_eq!(tag(roots[0], "http.status_code").unwrap()["type"], "string");
    for key in [
        "guid:x-request-id",
        "http.url",
        "http.method",
        "http.protocol",
        "downstream_cluster",
        "user_agent",
        "request_size",
        "response_size",
        "upstream_cluster",
        "response_flags",
    ] {
        for span in spans {
            assert!(
                tag(span, key).is_some(),
                "no {key} on {}",
                span["operationName"]
            );
        }
    }
    backend.stop().await;
}

#[tokio::test]
async fn services_operations_and_search_answer_like_jaeger() {
    let (backend, _) = sandbox_run().await;
    let (_, services) = get(&backend, "/api/services").await;
    assert_eq!(
        services["data"],
        serde_json::json!(["front-proxy", "service1", "service2"])
    );
    assert_eq!(services["total"], 3);
    let (_, ops) = get(&backend, "/api/services/service1/operations").await;
    assert_eq!(
        ops["data"],
        serde_json::json!(["checkAvailability", "checkStock"])
    );
    let (_, ops) = get(&backend, "/api/operations?service=service1&spanKind=client").await;
    assert_eq!(
        ops["data"],
        serde_json::json!([{"name": "checkStock", "spanKind": "client"}])
    );
    let (_, found) = get(
        &backend,
        "/api/traces?service=service2&operation=checkStock&limit=3",
    )
    .await;
    assert_eq!(found["data"].as_array().unwrap().len(), 3);
    let (_, found) = get(
        &backend,
        "/api/traces?service=front-proxy&tag=http.status_code:500",
    )
    .await;
    assert_eq!(found["data"], serde_json::json!([]));
    let (status, missing) = get(&backend, "/api/traces/00000000000000000000000000000001").await;
    assert_eq!(status, 404);
    assert_eq!(
        missing["errors"],
        serde_json::json!([{"code": 404, "msg": "trace not found"}])
    );
    backend.stop().await;
}
