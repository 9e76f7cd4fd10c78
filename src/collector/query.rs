//! Jaeger's HTTP query API over the store: the routes, parameters, JSON and
//! error envelopes of `cmd/query/app/http_handler.go`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::span::{SpanKind, StoredProcess, StoredSpan, TraceId, span_id_string};
use super::store::{SpanFilter, Store, StoredTrace};
use crate::jaeger::model::{self, ApiError, Envelope, Process, RefType, Reference};

/// Jaeger's default when `limit` is absent.
const DEFAULT_LIMIT: usize = 100;
/// Jaeger's default look-back when `start` is absent: 48 hours.
const DEFAULT_LOOKBACK: Duration = Duration::from_secs(48 * 3600);

pub struct ApiResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl ApiResponse {
    fn json<T: Serialize>(status: u16, value: &T) -> Self {
        ApiResponse {
            status,
            body: serde_json::to_vec(value).expect("API values serialise"),
        }
    }

    fn error(status: u16, msg: impl Into<String>) -> Self {
        let env = Envelope::<Option<()>> {
            data: None,
            total: 0,
            limit: 0,
            offset: 0,
            errors: Some(vec![ApiError {
                code: status,
                msg: msg.into(),
                trace_id: String::new(),
            }]),
        };
        ApiResponse::json(status, &env)
    }
}

/// Answer a GET under `/api/`, or `None` when the path is not part of the API.
pub fn handle(store: &Store, path: &str, query: &str) -> Option<ApiResponse> {
    let params = Params::parse(query);
    let rest = path.strip_prefix("/api/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    Some(match segments.as_slice() {
        ["services"] => {
            let services = store.services();
            let total = services.len();
            ApiResponse::json(200, &Envelope::ok(services, total))
        }
        ["services", service, "operations"] => {
            let service = percent_decode(service);
            let mut names: Vec<String> = store
                .operations(&service, None)
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            names.dedup();
            let total = names.len();
            ApiResponse::json(200, &Envelope::ok(names, total))
        }
        ["operations"] => operations(store, &params),
        ["traces"] => search(store, &params),
        ["traces", id] => match TraceId::parse(id) {
            None => ApiResponse::error(400, format!("cannot parse traceID: {id}")),
            Some(id) => match store.trace(id) {
                Some(trace) => ApiResponse::json(200, &Envelope::ok(vec![render_trace(&trace)], 0)),
                None => ApiResponse::error(404, "trace not found"),
            },
        },
        _ => return None,
    })
}

#[derive(Serialize)]
struct Operation {
    name: String,
    #[serde(rename = "spanKind")]
    span_kind: &'static str,
}

fn operations(store: &Store, params: &Params) -> ApiResponse {
    let Some(service) = params.first("service").filter(|s| !s.is_empty()) else {
        return ApiResponse::error(400, "parameter 'service' is required");
    };
    let kind = match params.first("spanKind").filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => match parse_kind(k) {
            Some(kind) => Some(kind),
            None => return ApiResponse::error(400, format!("unsupported span kind: '{k}'")),
        },
    };
    let ops: Vec<Operation> = store
        .operations(service, kind)
        .into_iter()
        .map(|(name, kind)| Operation {
            name,
            span_kind: kind.as_str(),
        })
        .collect();
    let total = ops.len();
    ApiResponse::json(200, &Envelope::ok(ops, total))
}

fn parse_kind(text: &str) -> Option<SpanKind> {
    Some(match text {
        "unspecified" => SpanKind::Unspecified,
        "internal" => SpanKind::Internal,
        "server" => SpanKind::Server,
        "client" => SpanKind::Client,
        "producer" => SpanKind::Producer,
        "consumer" => SpanKind::Consumer,
        _ => return None,
    })
}

fn search(store: &Store, params: &Params) -> ApiResponse {
    // `traceID=` lists traces by id; unknown ones become entries in `errors`.
    let ids = params.all("traceID");
    if !ids.is_empty() {
        let mut traces = Vec::new();
        let mut errors = Vec::new();
        for id in ids {
            let Some(parsed) = TraceId::parse(id) else {
                return ApiResponse::error(400, format!("cannot parse traceID param: {id}"));
            };
            match store.trace(parsed) {
                Some(trace) => traces.push(render_trace(&trace)),
                None => errors.push(ApiError {
                    code: 0,
                    msg: "trace not found".into(),
                    trace_id: parsed.to_jaeger_string(),
                }),
            }
        }
        let mut env = Envelope::ok(traces, 0);
        env.errors = (!errors.is_empty()).then_some(errors);
        return ApiResponse::json(200, &env);
    }
    match parse_filter(params) {
        Err(msg) => ApiResponse::error(400, msg),
        Ok(filter) => {
            let traces: Vec<model::Trace> = store.find(&filter).iter().map(render_trace).collect();
            ApiResponse::json(200, &Envelope::ok(traces, 0))
        }
    }
}

/// Jaeger's `parseTraceQueryParams`, with its error messages.
fn parse_filter(params: &Params) -> Result<SpanFilter, String> {
    let service = params.first("service").filter(|s| !s.is_empty());
    let Some(service) = service else {
        return Err("parameter 'service' is required".into());
    };
    let now_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    let start = match params.first("start").filter(|s| !s.is_empty()) {
        None => now_us.saturating_sub(DEFAULT_LOOKBACK.as_micros() as u64),
        Some(s) => parse_micros(s, "start")?,
    };
    let end = match params.first("end").filter(|s| !s.is_empty()) {
        None => now_us,
        Some(s) => parse_micros(s, "end")?,
    };
    let mut tags = Vec::new();
    for tag in params.all("tag") {
        let Some((key, value)) = tag.split_once(':') else {
            return Err(format!(
                "malformed 'tag' parameter, expecting key:value, received: {tag}"
            ));
        };
        tags.push((key.to_string(), value.to_string()));
    }
    for json in params.all("tags") {
        let map: HashMap<String, String> = serde_json::from_str(json)
            .map_err(|e| format!("malformed 'tags' parameter, cannot unmarshal JSON: {e}"))?;
        tags.extend(map);
    }
    let limit = match params.first("limit").filter(|s| !s.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<i32>()
            .map_err(|e| format!("strconv.ParseInt: parsing \"{s}\": {e}"))?
            .max(0) as usize,
    };
    let min_duration = parse_go_duration_param(params, "minDuration")?;
    let max_duration = parse_go_duration_param(params, "maxDuration")?;
    if let (Some(min), Some(max)) = (min_duration, max_duration)
        && max < min
    {
        return Err("'maxDuration' should be greater than 'minDuration'".into());
    }
    Ok(SpanFilter {
        service: Some(service.to_string()),
        operation: params
            .first("operation")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        tags,
        start_min_us: Some(start),
        start_max_us: Some(end),
        min_duration_ns: min_duration,
        max_duration_ns: max_duration,
        limit,
    })
}

fn parse_micros(text: &str, name: &str) -> Result<u64, String> {
    text.parse::<i64>()
        .map(|v| v.max(0) as u64)
        .map_err(|e| format!("unable to parse param '{name}': {e}"))
}

fn parse_go_duration_param(params: &Params, name: &str) -> Result<Option<u64>, String> {
    match params.first(name).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => parse_go_duration(text)
            .map(|ns| (ns != 0).then_some(ns))
            .ok_or_else(|| {
                format!("unable to parse param '{name}': time: invalid duration \"{text}\"")
            }),
    }
}

/// Go's `time.ParseDuration` for the forms the UI sends: `1.5ms`, `2s`, `300us`.
pub(crate) fn parse_go_duration(text: &str) -> Option<u64> {
    if text == "0" {
        return Some(0);
    }
    let mut rest = text;
    let mut total = 0f64;
    let mut any = false;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let value: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
        any = true;
    }
    any.then_some(total as u64)
}

/// A stored trace as Jaeger JSON: processes numbered `p1`, `p2`, … in the
/// order spans first use them, equal processes shared.
pub fn render_trace(trace: &StoredTrace) -> model::Trace {
    let mut process_ids: Vec<(Arc<StoredProcess>, String)> = Vec::new();
    let mut spans = Vec::with_capacity(trace.len());
    for span in trace {
        let existing = process_ids
            .iter()
            .find(|(p, _)| Arc::ptr_eq(p, &span.process) || **p == *span.process)
            .map(|(_, id)| id.clone());
        let process_id = existing.unwrap_or_else(|| {
            let id = format!("p{}", process_ids.len() + 1);
            process_ids.push((Arc::clone(&span.process), id.clone()));
            id
        });
        spans.push(render_span(span, process_id));
    }
    let processes = process_ids
        .into_iter()
        .map(|(p, id)| {
            (
                id,
                Process {
                    service_name: p.service_name.clone(),
                    tags: p.tags.clone(),
                },
            )
        })
        .collect();
    model::Trace {
        trace_id: trace
            .first()
            .map(|s| s.trace_id.to_jaeger_string())
            .unwrap_or_default(),
        spans,
        processes,
        warnings: None,
    }
}

fn render_span(span: &StoredSpan, process_id: String) -> model::Span {
    model::Span {
        trace_id: span.trace_id.to_jaeger_string(),
        span_id: span_id_string(span.span_id),
        flags: span.flags,
        operation_name: span.operation.clone(),
        references: span
            .references
            .iter()
            .map(|r| Reference {
                ref_type: if r.follows_from {
                    RefType::FollowsFrom
                } else {
                    RefType::ChildOf
                },
                trace_id: r.trace_id.to_jaeger_string(),
                span_id: span_id_string(r.span_id),
            })
            .collect(),
        start_time: span.start_us(),
        duration: span.duration_us(),
        tags: span.tags.clone(),
        logs: span.logs.clone(),
        process_id,
        warnings: (!span.warnings.is_empty()).then(|| span.warnings.clone()),
    }
}

/// Query-string parameters; repeated keys kept in order.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str) -> Self {
        Params(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn first(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::span::StoredRef;
    use crate::collector::store::tests::span;

    fn store_with_chain() -> Store {
        let store = Store::new(100);
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let mut root = span(7, 1, "front-proxy", "checkAvailability");
        let mut child = span(7, 2, "service1", "checkAvailability");
        child.references.push(StoredRef {
            follows_from: false,
            trace_id: TraceId(7),
            span_id: 1,
        });
        for s in [&mut root, &mut child] {
            s.start_unix_nano += now_ns - 60_000_000_000;
            s.end_unix_nano += now_ns - 60_000_000_000;
        }
        store.insert(vec![root, child]);
        store
    }

    fn get(store: &Store, path_and_query: &str) -> (u16, serde_json::Value) {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let response = handle(store, path, query).expect("an API route");
        (
            response.status,
            serde_json::from_slice(&response.body).unwrap(),
        )
    }

    #[test]
    fn services_answer_in_jaegers_envelope() {
        let (status, body) = get(&store_with_chain(), "/api/services");
        assert_eq!(status, 200);
        assert_eq!(
            body,
            serde_json::json!({"data": ["front-proxy", "service1"], "total": 2, "limit": 0, "offset": 0, "errors": null})
        );
    }

    #[test]
    fn an_unknown_trace_is_404_with_trace_not_found() {
        let (status, body) = get(&store_with_chain(), "/api/traces/abc");
        assert_eq!(status, 404);
        assert_eq!(body["data"], serde_json::Value::Null);
        assert_eq!(
            body["errors"],
            serde_json::json!([{"code": 404, "msg": "trace not found"}])
        );
    }

    #[test]
    fn a_trace_renders_processes_references_and_micros() {
        let (status, body) = get(&store_with_chain(), "/api/traces/7");
        assert_eq!(status, 200);
        let trace = &body["data"][0];
        assert_eq!(trace["traceID"], "0000000000000007");
        assert_eq!(trace["processes"]["p1"]["serviceName"], "front-proxy");
        assert_eq!(trace["processes"]["p2"]["serviceName"], "service1");
        let child = &trace["spans"][1];
        assert_eq!(child["processID"], "p2");
        assert_eq!(
            child["references"],
            serde_json::json!([{"refType": "CHILD_OF", "traceID": "0000000000000007", "spanID": "0000000000000001"}])
        );
        assert_eq!(child["duration"], 5_000);
    }

    #[test]
    fn search_requires_a_service_like_jaeger() {
        let (status, body) = get(&store_with_chain(), "/api/traces?limit=1");
        assert_eq!(status, 400);
        assert_eq!(body["errors"][0]["msg"], "parameter 'service' is required");
    }

    #[test]
    fn search_filters_by_service_and_operation() {
        let store = store_with_chain();
        let (_, body) = get(
            &store,
            "/api/traces?service=service1&operation=checkAvailability",
        );
        assert_eq!(body["data"].as_array().unwrap().len(), 1);
        let (_, body) = get(&store, "/api/traces?service=service1&operation=nope");
        assert_eq!(body["data"], serde_json::json!([]));
    }

    #[test]
    fn bad_parameters_are_400_with_jaegers_messages() {
        let store = store_with_chain();
        let (status, body) = get(&store, "/api/traces?service=a&tag=novalue");
        assert_eq!(status, 400);
        assert!(
            body["errors"][0]["msg"]
                .as_str()
                .unwrap()
                .starts_with("malformed 'tag'")
        );
        let (status, _) = get(
            &store,
            "/api/traces?service=a&minDuration=5ms&maxDuration=1ms",
        );
        assert_eq!(status, 400);
        let (status, _) = get(&store, "/api/traces?service=a&start=yesterday");
        assert_eq!(status, 400);
    }

    #[test]
    fn go_durations_parse_like_time_parse_duration() {
        assert_eq!(parse_go_duration("1.5ms"), Some(1_500_000));
        assert_eq!(parse_go_duration("1s300ms"), Some(1_300_000_000));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("ms"), None);
    }

    #[test]
    fn operations_list_names_and_kinds() {
        let (_, body) = get(&store_with_chain(), "/api/operations?service=service1");
        assert_eq!(
            body["data"],
            serde_json::json!([{"name": "checkAvailability", "spanKind": "server"}])
        );
        let (_, body) = get(&store_with_chain(), "/api/services/service1/operations");
        assert_eq!(body["data"], serde_json::json!(["checkAvailability"]));
    }
}
