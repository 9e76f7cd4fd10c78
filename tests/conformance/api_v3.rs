//! Jaeger v2's `/api/v3`: services, operations, traces by id and searched,
//! as OTLP JSON, from the embedded collector as from Jaeger for the same
//! spans. A trace's spans are compared one by one with their resource and
//! scope (how Jaeger groups them follows Go map order; so does the order
//! of the attributes its adjuster moves to a resource); the errors byte
//! for byte.
//!
//! The cases are every span feature of `traces`, less what the embedded
//! collector does not keep (its store holds what `/api/traces` shows, not
//! the OTLP as sent): list and map values, attributes without a value,
//! scope attributes, link attributes (but `opentracing.ref_type=child_of`),
//! and an event's name beside an `event` attribute.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use serde_json::Value;

use crate::harness::{Answer, difference};
use crate::otlp::now_ns;
use crate::traces::feature_cases;
use crate::{Compare, Pair};

/// The request without what the embedded collector's store does not keep.
fn without_what_is_not_kept(request: &mut ExportTraceServiceRequest) {
    let kept = |kv: &KeyValue| {
        matches!(
            kv.value.as_ref().and_then(|v| v.value.as_ref()),
            Some(v) if !matches!(v, any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_))
        )
    };
    for resource in &mut request.resource_spans {
        if let Some(r) = resource.resource.as_mut() {
            r.attributes.retain(kept);
        }
        for scope in &mut resource.scope_spans {
            if let Some(s) = scope.scope.as_mut() {
                s.attributes.clear();
            }
            for span in &mut scope.spans {
                span.attributes.retain(kept);
                // A link to the span's own parent is kept with the parent.
                let parent = (span.trace_id.clone(), span.parent_span_id.clone());
                span.links
                    .retain(|l| (l.trace_id.clone(), l.span_id.clone()) != parent);
                for event in &mut span.events {
                    event.attributes.retain(kept);
                    if !event.name.is_empty() {
                        event.attributes.retain(|kv| kv.key != "event");
                    }
                }
                for link in &mut span.links {
                    link.attributes.retain(|kv| {
                        kv.key == "opentracing.ref_type"
                            && matches!(
                                kv.value.as_ref().and_then(|v| v.value.as_ref()),
                                Some(any_value::Value::StringValue(s)) if s == "child_of"
                            )
                    });
                }
            }
        }
    }
}

/// Every span with its resource and scope, in span id order.
fn flatten(body: &Value) -> Value {
    let mut spans = Vec::new();
    for resource in body["result"]["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
            for span in scope["spans"].as_array().into_iter().flatten() {
                let mut resource = resource["resource"].clone();
                if let Some(attributes) = resource["attributes"].as_array_mut() {
                    attributes.sort_by_key(|a| a["key"].as_str().unwrap_or("").to_string());
                }
                spans.push(serde_json::json!({
                    "resource": resource,
                    "scope": scope["scope"],
                    "span": span,
                }));
            }
        }
    }
    spans.sort_by_key(|s| {
        (
            s["span"]["traceId"].as_str().unwrap_or("").to_string(),
            s["span"]["spanId"].as_str().unwrap_or("").to_string(),
            s.to_string(),
        )
    });
    Value::Array(spans)
}

fn sorted_lists(mut body: Value) -> Value {
    for key in ["services", "operations"] {
        if let Some(list) = body.get_mut(key).and_then(Value::as_array_mut) {
            list.sort_by_key(|v| v.to_string());
        }
    }
    body
}

/// GET a v3 path from both and compare.
pub async fn check_v3(pair: &mut Pair, path: &str) {
    let (jaeger, embedded) = pair.get(path).await;
    compare_v3(pair, path, &jaeger, &embedded);
}

/// Compare a v3 answer: status and content type, then the spans or lists.
fn compare_v3(pair: &mut Pair, path: &str, jaeger: &Answer, embedded: &Answer) {
    let found = match (jaeger.json(), embedded.json()) {
        (Some(a), Some(b)) if jaeger.status == 200 && embedded.status == 200 => {
            if a.get("result").is_some() || b.get("result").is_some() {
                crate::harness::json_difference(&flatten(&a), &flatten(&b), "$")
            } else {
                crate::harness::json_difference(&sorted_lists(a), &sorted_lists(b), "$")
            }
        }
        _ => difference(jaeger, embedded, Compare::Bytes),
    };
    pair.record(
        &format!("GET {path}"),
        found.map(|d| {
            format!(
                "{d}\n    jaeger:   {} {}\n    embedded: {} {}",
                jaeger.status,
                String::from_utf8_lossy(&jaeger.body),
                embedded.status,
                String::from_utf8_lossy(&embedded.body)
            )
        }),
    );
}

#[tokio::test]
async fn the_v3_api_answers_as_jaeger_v2s_for_every_span_feature() {
    let Some(mut pair) = Pair::start().await else {
        return;
    };
    let base = now_ns() - 60_000_000_000;
    let mut cases = feature_cases(base);
    for case in &mut cases {
        without_what_is_not_kept(&mut case.request);
    }
    for case in &cases {
        pair.export(&case.request).await;
        pair.wait_for_trace(&case.trace, case.spans).await;
    }
    let min = tracelab::collector::api_v3::rfc3339(i128::from(base - 3_600_000_000_000));
    let max = tracelab::collector::api_v3::rfc3339(i128::from(now_ns() + 60_000_000_000));
    let window = format!("query.start_time_min={min}&query.start_time_max={max}");
    // Raw first: Jaeger 2.13's memory storage hands the query service its
    // stored trace, which the adjusters (of a get or a search) then change
    // in place.
    let mut paths: Vec<String> = cases
        .iter()
        .map(|case| format!("/api/v3/traces/{}?raw_traces=true", case.trace))
        .collect();
    paths.extend([
        "/api/v3/services".to_string(),
        "/api/v3/operations?service=kinds".into(),
        "/api/v3/operations?service=kinds&span_kind=server".into(),
        "/api/v3/operations?service=nobody".into(),
        "/api/v3/operations".into(),
        format!("/api/v3/traces?query.service_name=links&query.num_traces=20&{window}"),
        format!(
            "/api/v3/traces?query.service_name=kinds&query.num_traces=20&query.operation_name=server&{window}"
        ),
        format!(
            "/api/v3/traces?query.service_name=kinds&query.num_traces=20&query.duration_min=1ms&{window}"
        ),
        format!("/api/v3/traces?query.service_name=nobody&query.num_traces=20&{window}"),
        // Errors.
        format!("/api/v3/traces?query.service_name=links&{window}"),
        "/api/v3/traces?query.service_name=links".into(),
        format!("/api/v3/traces?query.service_name=links&query.num_traces=x&{window}"),
        format!(
            "/api/v3/traces?query.service_name=links&query.num_traces=20&query.duration_min=5&{window}"
        ),
        format!(
            "/api/v3/traces?query.service_name=links&query.num_traces=20&query.raw_traces=maybe&{window}"
        ),
        "/api/v3/traces/xyz".into(),
        "/api/v3/traces/0000000000000000000000000000abcd".into(),
        "/api/v3/traces/1?raw_traces=maybe".into(),
    ]);
    for case in &cases {
        paths.push(format!("/api/v3/traces/{}", case.trace));
    }
    for path in &paths {
        let (jaeger, embedded) = pair.get(path).await;
        compare_v3(&mut pair, path, &jaeger, &embedded);
    }
    pair.stop_and_assert().await;
}
