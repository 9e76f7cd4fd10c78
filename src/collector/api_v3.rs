//! Jaeger v2's `/api/v3` HTTP API (`cmd/query/app/apiv3/http_gateway.go`):
//! services, operations, one trace by id and a search, traces answered as
//! OTLP JSON (`{"result": {"resourceSpans": [...]}}`, pdata's encoding:
//! hex ids, 64-bit numbers as strings, empty fields left out).
//!
//! Traces go through the same adjusters as `/api/traces` (unless
//! `raw_traces`) and are turned back into OTLP: a span's kind, status,
//! scope and trace state come from the tags Jaeger's translator made of
//! them, and attributes are sorted by key as Jaeger v2's adjuster sorts
//! them. What the store does not keep cannot come back: list and map
//! attributes come back as their JSON text, scope attributes, dropped
//! counts and link attributes other than `opentracing.ref_type` are gone.

use base64::Engine as _;
use serde::Serialize;

use super::adjust::{self, AdjustedSpan, ProcessView};
use super::go_json;
/// Times as the v3 API reads them (RFC 3339), for callers building searches.
pub use super::go_text::rfc3339;
use super::go_text::{self, parse_rfc3339};
use super::query::{ApiResponse, Params};
use super::span::{Tag, TagValue, Text, TraceId, parent_of};
use super::store::{SearchError, SpanFilter, Store, StoredTrace};

/// Derived tags Jaeger's translator adds, which are OTLP fields, not attributes.
const SCOPE_NAME: &str = "otel.scope.name";
const SCOPE_VERSION: &str = "otel.scope.version";
const SPAN_KIND: &str = "span.kind";
const STATUS_CODE: &str = "otel.status_code";
const STATUS_MESSAGE: &str = "otel.status_description";
const TRACE_STATE: &str = "w3c.tracestate";
const WARNINGS: &str = "@jaeger@warnings";

/// Answer a GET under `/api/v3/` (`rest` is the path after it).
pub(crate) fn handle(store: &Store, rest: &str, params: &Params) -> Option<ApiResponse> {
    let segments: Vec<&str> = rest.split('/').collect();
    Some(match segments.as_slice() {
        ["services"] => {
            let services = store.services();
            ok(&Services {
                services: services.into_iter().filter(|s| !s.is_empty()).collect(),
            })
        }
        ["operations"] => operations(store, params),
        ["traces"] => find_traces(store, params),
        ["traces", id] => get_trace(store, id, params),
        _ => return None,
    })
}

#[derive(Serialize)]
struct Services {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    services: Vec<String>,
}

#[derive(Serialize)]
struct Operations {
    operations: Vec<Operation>,
}

#[derive(Serialize)]
struct Operation {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(rename = "spanKind", skip_serializing_if = "str::is_empty")]
    span_kind: &'static str,
}

fn operations(store: &Store, params: &Params) -> ApiResponse {
    let kind = params.first("span_kind");
    let operations = store
        .operations(params.first("service"), None)
        .into_iter()
        .filter(|(_, k)| kind.is_empty() || k.as_str() == kind)
        .map(|(name, k)| Operation {
            name,
            span_kind: k.as_str(),
        })
        .collect();
    ok(&Operations { operations })
}

fn get_trace(store: &Store, id: &str, params: &Params) -> ApiResponse {
    let id = match TraceId::parse(id) {
        Ok(id) => id,
        Err(e) => return param_error("trace_id", e),
    };
    for name in ["start_time", "end_time"] {
        let text = params.first(name);
        if !text.is_empty()
            && let Err(e) = parse_rfc3339(text)
        {
            return param_error(name, e);
        }
    }
    let raw = match bool_param(params, "raw_traces") {
        Ok(raw) => raw,
        Err(e) => return e,
    };
    match store.read(id) {
        Some(trace) => traces_response(&[trace], raw),
        None => no_traces(),
    }
}

fn find_traces(store: &Store, params: &Params) -> ApiResponse {
    let (min, max) = (
        params.first("query.start_time_min"),
        params.first("query.start_time_max"),
    );
    if min.is_empty() || max.is_empty() {
        return error(
            400,
            "query.start_time_min and query.start_time_max are required",
        );
    }
    let start_min = match parse_rfc3339(min) {
        Ok(t) => t,
        Err(e) => return param_error("query.start_time_min", e),
    };
    let start_max = match parse_rfc3339(max) {
        Ok(t) => t,
        Err(e) => return param_error("query.start_time_max", e),
    };
    let mut filter = SpanFilter {
        service: Some(params.first("query.service_name"))
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        operation: Some(params.first("query.operation_name"))
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        start_min_ns: start_min,
        start_max_ns: start_max,
        ..Default::default()
    };
    let depth = params.first("query.num_traces");
    if !depth.is_empty() {
        match go_text::parse_int(depth, 64) {
            Ok(n) => filter.limit = n,
            Err(e) => {
                return param_error(
                    "query.num_traces",
                    e.replace("strconv.ParseInt", "strconv.Atoi"),
                );
            }
        }
    }
    for (name, slot) in [
        ("query.duration_min", &mut filter.min_duration_ns),
        ("query.duration_max", &mut filter.max_duration_ns),
    ] {
        let text = params.first(name);
        if !text.is_empty() {
            match go_text::parse_duration(text) {
                Ok(d) => *slot = d,
                Err(e) => return param_error(name, e),
            }
        }
    }
    let raw = match bool_param(params, "query.raw_traces") {
        Ok(raw) => raw,
        Err(e) => return e,
    };
    match store.find(&filter) {
        // Jaeger 2.13's gateway passes no default depth: without
        // query.num_traces its memory storage refuses the search.
        Err(SearchError::Depth) => error(
            500,
            "search depth must be greater than 0 and less than max traces",
        ),
        Ok(traces) if traces.is_empty() => no_traces(),
        Ok(traces) => traces_response(&traces, raw),
    }
}

fn bool_param(params: &Params, name: &str) -> Result<bool, ApiResponse> {
    match params.first(name) {
        "" => Ok(false),
        text => go_text::parse_bool(text).map_err(|e| param_error(name, e)),
    }
}

/// What pdata's JSON marshaller writes for `TracesData`, in its field order.
#[derive(Serialize)]
struct Wrapper {
    result: TracesData,
}

#[derive(Serialize)]
struct TracesData {
    #[serde(rename = "resourceSpans", skip_serializing_if = "Vec::is_empty")]
    resource_spans: Vec<ResourceSpans>,
}

#[derive(Serialize)]
struct ResourceSpans {
    resource: Resource,
    #[serde(rename = "scopeSpans", skip_serializing_if = "Vec::is_empty")]
    scope_spans: Vec<ScopeSpans>,
    /// The resource's own attributes, which its spans are grouped by.
    #[serde(skip)]
    own: Vec<KeyValue>,
}

#[derive(Serialize, PartialEq)]
struct Resource {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
}

#[derive(Serialize)]
struct ScopeSpans {
    scope: Scope,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    spans: Vec<Span>,
}

#[derive(Serialize, PartialEq, Clone, Default)]
struct Scope {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
}

#[derive(Serialize)]
struct Span {
    #[serde(rename = "traceId")]
    trace_id: String,
    #[serde(rename = "spanId")]
    span_id: String,
    #[serde(rename = "traceState", skip_serializing_if = "String::is_empty")]
    trace_state: String,
    #[serde(rename = "parentSpanId", skip_serializing_if = "String::is_empty")]
    parent_span_id: String,
    #[serde(skip_serializing_if = "is_zero")]
    flags: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "is_zero_i32")]
    kind: i32,
    #[serde(rename = "startTimeUnixNano", skip_serializing_if = "String::is_empty")]
    start: String,
    #[serde(rename = "endTimeUnixNano", skip_serializing_if = "String::is_empty")]
    end: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    events: Vec<Event>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<Link>,
    status: Status,
}

#[derive(Serialize)]
struct Event {
    #[serde(rename = "timeUnixNano", skip_serializing_if = "String::is_empty")]
    time: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
}

#[derive(Serialize)]
struct Link {
    #[serde(rename = "traceId", skip_serializing_if = "String::is_empty")]
    trace_id: String,
    #[serde(rename = "spanId", skip_serializing_if = "String::is_empty")]
    span_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<KeyValue>,
}

#[derive(Serialize, Default)]
struct Status {
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
    #[serde(skip_serializing_if = "is_zero_i32")]
    code: i32,
}

#[derive(Serialize, PartialEq, Clone)]
struct KeyValue {
    key: String,
    value: serde_json::Value,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

fn traces_response(traces: &[StoredTrace], raw: bool) -> ApiResponse {
    let mut resource_spans: Vec<ResourceSpans> = Vec::new();
    for trace in traces {
        for span in adjust::adjust_v2(trace, raw) {
            let (own, moved, scope, span) = to_otlp(span, raw);
            // Consecutive spans of one resource and scope share their groups.
            match resource_spans.last_mut() {
                Some(last) if last.own == own => match last.scope_spans.last_mut() {
                    Some(group) if group.scope == scope => group.spans.push(span),
                    _ => last.scope_spans.push(ScopeSpans {
                        scope,
                        spans: vec![span],
                    }),
                },
                _ => resource_spans.push(ResourceSpans {
                    resource: Resource {
                        attributes: own.clone(),
                    },
                    scope_spans: vec![ScopeSpans {
                        scope,
                        spans: vec![span],
                    }],
                    own,
                }),
            }
            // What the adjuster moves from a span goes to the resource all
            // the group's spans share (the first value of a key stays).
            let group = resource_spans.last_mut().expect("just pushed");
            for kv in moved {
                if group.resource.attributes.iter().all(|a| a.key != kv.key) {
                    group.resource.attributes.push(kv);
                }
            }
        }
    }
    ApiResponse {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: go_json::to_vec_pdata(&Wrapper {
            result: TracesData { resource_spans },
        }),
        nosniff: false,
    }
}

/// One adjusted span back as OTLP: its resource's own attributes, those
/// the adjuster moved there from the span, its scope, and the span.
fn to_otlp(span: AdjustedSpan, raw: bool) -> (Vec<KeyValue>, Vec<KeyValue>, Scope, Span) {
    let mut scope = Scope::default();
    let mut kind = 0;
    let mut status = Status::default();
    let mut trace_state = String::new();
    let mut attributes = Vec::with_capacity(span.tags.len());
    let is_error = span
        .tags
        .iter()
        .any(|t| &*t.key == STATUS_CODE && matches!(&t.value, TagValue::Str(s) if &**s == "ERROR"));
    let mut error_tag_taken = false;
    for tag in span.tags {
        match (&*tag.key, &tag.value) {
            (SCOPE_NAME, TagValue::Str(s)) if scope.name.is_empty() => scope.name = s.to_string(),
            (SCOPE_VERSION, TagValue::Str(s)) if scope.version.is_empty() => {
                scope.version = s.to_string()
            }
            (SPAN_KIND, TagValue::Str(s)) if kind == 0 => kind = kind_number(s),
            (STATUS_CODE, TagValue::Str(s)) if status.code == 0 => {
                status.code = match &**s {
                    "OK" => 1,
                    "ERROR" => 2,
                    _ => 0,
                }
            }
            ("error", TagValue::Bool(true)) if is_error && !error_tag_taken => {
                error_tag_taken = true
            }
            (STATUS_MESSAGE, TagValue::Str(s)) if status.message.is_empty() => {
                status.message = s.to_string()
            }
            (TRACE_STATE, TagValue::Str(s)) if trace_state.is_empty() => {
                trace_state = s.to_string()
            }
            _ => attributes.push(key_value(&tag)),
        }
    }
    // Warnings that came with the span sit among its attributes; those the
    // adjusters add are appended after the sort (as jptrace.AddWarnings does).
    let warnings = (!span.warnings.is_empty()).then(|| {
        let list_value = || {
            let values: Vec<serde_json::Value> = span
                .warnings
                .iter()
                .map(|w| serde_json::json!({"stringValue": w}))
                .collect();
            serde_json::json!({"arrayValue": {"values": values}})
        };
        KeyValue {
            key: WARNINGS.into(),
            value: match span.ingest_warnings {
                // A single value that was not a list stays what it was.
                Some((_, false)) if span.warnings.len() == 1 => {
                    serde_json::json!({"stringValue": span.warnings[0]})
                }
                _ => list_value(),
            },
        }
    });
    let parent = if span.has_parent {
        parent_of(span.trace_id, &span.references)
    } else {
        None
    };
    let mut parent_taken = false;
    let links = span
        .references
        .iter()
        .filter(|r| {
            let is_parent = !parent_taken
                && parent == Some(r.span_id)
                && r.trace_id == span.trace_id
                && !r.follows_from;
            parent_taken |= is_parent;
            !is_parent
        })
        .map(|r| Link {
            trace_id: if r.trace_id.0 == 0 {
                String::new()
            } else {
                format!("{:032x}", r.trace_id.0)
            },
            span_id: if r.span_id == 0 {
                String::new()
            } else {
                format!("{:016x}", r.span_id)
            },
            attributes: if r.follows_from {
                Vec::new()
            } else {
                vec![KeyValue {
                    key: "opentracing.ref_type".into(),
                    value: serde_json::json!({"stringValue": "child_of"}),
                }]
            },
        })
        .collect();
    let mut events: Vec<Event> = span
        .logs
        .into_iter()
        .map(|log| {
            let mut fields = log.fields;
            // The translator put the event's name first, as `event`.
            let named = matches!(
                fields.first(),
                Some(Tag { key, value: TagValue::Str(_) }) if &**key == "event"
            );
            let name = match named.then(|| fields.remove(0).value) {
                Some(TagValue::Str(s)) => s.to_string(),
                _ => String::new(),
            };
            Event {
                time: nanos_text(log.timestamp_unix_nano as i64),
                name,
                attributes: fields.iter().map(key_value).collect(),
            }
        })
        .collect();
    let (own, moved) = resource_of(
        &span.process,
        &span.moved_to_process,
        span.service_name_at,
        raw,
    );
    let ingest_position = span.ingest_warnings.map(|(at, _)| at);
    if let (Some(warnings), Some(at)) = (&warnings, ingest_position) {
        attributes.insert(at.min(attributes.len()), warnings.clone());
    }
    if !raw {
        // Jaeger v2's SortCollections: attributes by key, events by name.
        sort_attributes(&mut attributes);
        for event in &mut events {
            sort_attributes(&mut event.attributes);
        }
        events.sort_by(|a, b| a.name.cmp(&b.name));
    }
    if let (Some(warnings), None) = (warnings, ingest_position) {
        attributes.push(warnings);
    }
    let otlp = Span {
        trace_id: format!("{:032x}", span.trace_id.0),
        span_id: format!("{:016x}", span.span_id),
        trace_state,
        parent_span_id: parent.map(|p| format!("{p:016x}")).unwrap_or_default(),
        flags: span.flags,
        name: span.operation.to_string(),
        kind,
        start: nanos_text(span.start_unix_nano),
        end: nanos_text(span.start_unix_nano + span.duration_nanos),
        attributes,
        events,
        links,
        status,
    };
    (own, moved, scope, otlp)
}

/// By key, as Jaeger v2's adjuster rebuilds the map: one entry per key,
/// the last value given for it.
fn sort_attributes(list: &mut Vec<KeyValue>) {
    list.sort_by(|a, b| a.key.cmp(&b.key));
    list.dedup_by(|later, first| {
        let same = later.key == first.key;
        if same {
            std::mem::swap(&mut first.value, &mut later.value);
        }
        same
    });
}

/// The resource's own attributes (`service.name` where it came) sorted
/// unless raw, and those the adjuster moved there from the span.
fn resource_of(
    process: &ProcessView,
    moved: &[Text],
    service_name_at: usize,
    raw: bool,
) -> (Vec<KeyValue>, Vec<KeyValue>) {
    let (moved, own): (Vec<&Tag>, Vec<&Tag>) =
        process.tags.iter().partition(|t| moved.contains(&t.key));
    let mut attributes: Vec<KeyValue> = own.into_iter().map(key_value).collect();
    attributes.insert(
        service_name_at.min(attributes.len()),
        KeyValue {
            key: "service.name".into(),
            value: serde_json::json!({"stringValue": process.service_name}),
        },
    );
    if !raw {
        sort_attributes(&mut attributes);
    }
    (attributes, moved.into_iter().map(key_value).collect())
}

fn kind_number(kind: &str) -> i32 {
    match kind {
        "internal" => 1,
        "server" => 2,
        "client" => 3,
        "producer" => 4,
        "consumer" => 5,
        _ => 0,
    }
}

/// A uint64 as pdata writes it: a decimal string, left out when 0.
fn nanos_text(nanos: i64) -> String {
    if nanos == 0 {
        String::new()
    } else {
        (nanos as u64).to_string()
    }
}

fn key_value(tag: &Tag) -> KeyValue {
    let value = match &tag.value {
        TagValue::Str(s) => serde_json::json!({"stringValue": s}),
        TagValue::Bool(b) => serde_json::json!({"boolValue": b}),
        TagValue::Int(i) => serde_json::json!({"intValue": i.to_string()}),
        TagValue::Float(f) if f.is_nan() => serde_json::json!({"doubleValue": "NaN"}),
        TagValue::Float(f) if f.is_infinite() => serde_json::json!({
            "doubleValue": if *f > 0.0 { "Infinity" } else { "-Infinity" }
        }),
        TagValue::Float(f) => serde_json::json!({"doubleValue": f}),
        TagValue::Binary(b) => {
            serde_json::json!({"bytesValue": base64::engine::general_purpose::STANDARD.encode(b)})
        }
    };
    KeyValue {
        key: tag.key.to_string(),
        value,
    }
}

/// A success: jsonpb's bytes, which Go serves as sniffed plain text.
fn ok<T: Serialize>(value: &T) -> ApiResponse {
    ApiResponse {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: go_json::to_vec(value),
        nosniff: false,
    }
}

fn no_traces() -> ApiResponse {
    error(404, "No traces found")
}

fn param_error(name: &str, error_text: impl std::fmt::Display) -> ApiResponse {
    error(400, format!("malformed parameter {name}: {error_text}"))
}

#[derive(Serialize)]
struct GatewayError {
    error: GatewayErrorDetails,
}

#[derive(Serialize)]
struct GatewayErrorDetails {
    #[serde(rename = "httpCode")]
    http_code: u16,
    message: String,
}

/// The gateway's error: `{"error":{"httpCode":..,"message":..}}` through
/// Go's `http.Error`.
fn error(status: u16, message: impl Into<String>) -> ApiResponse {
    let mut body = go_json::to_vec(&GatewayError {
        error: GatewayErrorDetails {
            http_code: status,
            message: message.into(),
        },
    });
    body.push(b'\n');
    ApiResponse {
        status,
        content_type: "text/plain; charset=utf-8",
        body,
        nosniff: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::store::tests::recent_chain;

    fn get(store: &Store, rest: &str, query: &str) -> (u16, serde_json::Value) {
        let answer = handle(store, rest, &Params::parse(query)).expect("a v3 route");
        (answer.status, serde_json::from_slice(&answer.body).unwrap())
    }

    #[test]
    fn services_and_operations_answer_as_the_gateway_does() {
        let store = recent_chain();
        let (status, body) = get(&store, "services", "");
        assert_eq!(status, 200);
        assert_eq!(
            body,
            serde_json::json!({"services": ["front-proxy", "service1"]})
        );
        let (_, body) = get(&store, "operations", "service=service1");
        assert_eq!(
            body,
            serde_json::json!({"operations": [{"name": "checkAvailability", "spanKind": "server"}]})
        );
        let (_, body) = get(&store, "operations", "service=nobody");
        assert_eq!(body, serde_json::json!({"operations": []}));
    }

    #[test]
    fn a_trace_comes_back_as_otlp_json() {
        let (status, body) = get(&recent_chain(), "traces/7", "");
        assert_eq!(status, 200);
        let resources = body["result"]["resourceSpans"].as_array().unwrap();
        assert_eq!(resources.len(), 2, "one per service");
        let child = &resources[1]["scopeSpans"][0]["spans"][0];
        assert_eq!(child["traceId"], "00000000000000000000000000000007");
        assert_eq!(child["parentSpanId"], "0000000000000001");
        assert!(child["startTimeUnixNano"].is_string());
        assert_eq!(
            resources[1]["resource"]["attributes"][0],
            serde_json::json!({"key": "service.name", "value": {"stringValue": "service1"}})
        );
    }

    #[test]
    fn missing_traces_and_bad_parameters_get_the_gateways_errors() {
        let store = recent_chain();
        let (status, body) = get(&store, "traces/abc", "");
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (404, Some("No traces found"))
        );
        let (status, body) = get(&store, "traces/xyz", "");
        assert_eq!(status, 400);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("malformed parameter trace_id: ")
        );
        let (status, body) = get(&store, "traces", "query.service_name=service1");
        assert_eq!(status, 400);
        assert_eq!(
            body["error"]["message"],
            "query.start_time_min and query.start_time_max are required"
        );
        let (status, _) = get(
            &store,
            "traces",
            "query.start_time_min=2020-01-01T00:00:00Z&query.start_time_max=2100-01-01T00:00:00Z",
        );
        assert_eq!(status, 500, "no num_traces, as Jaeger 2.13");
        let (status, body) = get(
            &store,
            "traces",
            "query.service_name=service1&query.num_traces=5&query.start_time_min=2020-01-01T00:00:00Z&query.start_time_max=2100-01-01T00:00:00Z",
        );
        assert_eq!(status, 200, "{body}");
    }
}
