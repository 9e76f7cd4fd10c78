//! Jaeger's HTTP query API over the store: the routes, parameters, JSON and
//! error envelopes of Jaeger v2's `cmd/query/app/http_handler.go` and
//! `query_parser.go`, down to Go's error messages and JSON encoding.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Serialize;

use super::adjust::{self, AdjustedSpan, ProcessView};
use super::go_json;
use super::go_text;
use super::span::{Tag, TagValue, TraceId, span_id_string};
use super::store::{SearchError, SpanFilter, Store, StoredTrace};
use crate::jaeger::model::{
    self, ApiError, Envelope, KeyValue, Log, Process, RefType, Reference, ValueType,
};

/// Jaeger's default when `limit` is absent.
const DEFAULT_LIMIT: i64 = 100;
/// Jaeger's default look-back when `start` is absent: 48 hours.
const DEFAULT_LOOKBACK: Duration = Duration::from_secs(48 * 3600);

pub struct ApiResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Go's `http.Error` adds `X-Content-Type-Options: nosniff`.
    pub nosniff: bool,
}

impl ApiResponse {
    pub(crate) fn json<T: Serialize>(value: &T, pretty: bool) -> Self {
        ApiResponse {
            status: 200,
            content_type: "application/json",
            body: if pretty {
                go_json::to_vec_pretty(value)
            } else {
                go_json::to_vec(value)
            },
            nosniff: false,
        }
    }

    /// Go's `http.Error` with the envelope: plain text, a newline after.
    pub(crate) fn error(status: u16, msg: impl Into<String>) -> Self {
        let envelope = Envelope::<Option<()>> {
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
        let mut body = go_json::to_vec(&envelope);
        body.push(b'\n');
        ApiResponse {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
            nosniff: true,
        }
    }
}

/// Answer a GET under `/api/`, or `None` when the path is not part of the API.
pub fn handle(store: &Store, path: &str, query: &str) -> Option<ApiResponse> {
    let rest = path.strip_prefix("/api/")?;
    if query_unescape(path).is_none() {
        // Go's HTTP server refuses a path with a bad escape before routing.
        return Some(ApiResponse {
            status: 400,
            content_type: "text/plain; charset=utf-8",
            body: b"400 Bad Request".to_vec(),
            nosniff: false,
        });
    }
    let params = Params::parse(query);
    if let Some(v3) = rest.strip_prefix("v3/") {
        return super::api_v3::handle(store, v3, &params);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    Some(match segments.as_slice() {
        ["services"] => {
            let services = store.services();
            let total = services.len();
            // A Go nil slice: `null` when there are none.
            let data = (!services.is_empty()).then_some(services);
            ApiResponse::json(&Envelope::ok(data, total), params.pretty())
        }
        ["services", service, "operations"] if !service.is_empty() => {
            let service = query_unescape(service).unwrap_or_default();
            let mut names: Vec<String> = store
                .operations(&service, None)
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            names.dedup();
            let total = names.len();
            let data = (!names.is_empty()).then_some(names);
            ApiResponse::json(&Envelope::ok(data, total), params.pretty())
        }
        ["operations"] => operations(store, &params),
        ["traces"] => search(store, &params),
        ["traces", id] if !id.is_empty() => get_trace(store, id, &params),
        ["dependencies"] => super::dependencies::handle(store, &params),
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
    let service = params.first("service");
    if service.is_empty() {
        return ApiResponse::error(400, "parameter 'service' is required");
    }
    // Compared as given: an unknown kind simply matches nothing.
    let kind = params.first("spanKind");
    let ops: Vec<Operation> = store
        .operations(service, None)
        .into_iter()
        .filter(|(_, k)| kind.is_empty() || k.as_str() == kind)
        .map(|(name, kind)| Operation {
            name,
            span_kind: kind.as_str(),
        })
        .collect();
    let total = ops.len();
    ApiResponse::json(&Envelope::ok(ops, total), params.pretty())
}

fn get_trace(store: &Store, id: &str, params: &Params) -> ApiResponse {
    let id = match TraceId::parse(id) {
        Ok(id) => id,
        Err(e) => return ApiResponse::error(400, e),
    };
    for name in ["start", "end"] {
        let value = params.first(name);
        if !value.is_empty()
            && let Err(e) = go_text::parse_int(value, 64)
        {
            return ApiResponse::error(400, parse_error(name, &e));
        }
    }
    let raw = match parse_bool_param(params, "raw") {
        Ok(raw) => raw,
        Err(e) => return ApiResponse::error(400, e),
    };
    match store.read(id) {
        None => ApiResponse::error(404, "trace not found"),
        Some(trace) => traces_response(&[trace], Vec::new(), raw, params.pretty()),
    }
}

fn search(store: &Store, params: &Params) -> ApiResponse {
    let query = match parse_search(params) {
        Ok(query) => query,
        Err(e) => return ApiResponse::error(400, e),
    };
    if !query.trace_ids.is_empty() {
        let mut traces = Vec::new();
        let mut errors = Vec::new();
        for id in &query.trace_ids {
            match store.read(*id) {
                Some(trace) => traces.push(trace),
                None => errors.push(ApiError {
                    code: 0,
                    msg: "trace not found".into(),
                    trace_id: id.to_jaeger_string(),
                }),
            }
        }
        return traces_response(&traces, errors, query.raw, params.pretty());
    }
    match store.find(&query.filter) {
        Err(SearchError::Depth) => ApiResponse::error(
            500,
            "search depth must be greater than 0 and less than max traces",
        ),
        Ok(traces) => traces_response(&traces, Vec::new(), query.raw, params.pretty()),
    }
}

fn traces_response(
    traces: &[StoredTrace],
    errors: Vec<ApiError>,
    raw: bool,
    pretty: bool,
) -> ApiResponse {
    let rendered: Result<Vec<model::Trace>, String> =
        traces.iter().map(|t| render_trace(t, raw)).collect();
    match rendered {
        Ok(data) => {
            let mut envelope = Envelope::ok(data, 0);
            envelope.errors = (!errors.is_empty()).then_some(errors);
            ApiResponse::json(&envelope, pretty)
        }
        Err(e) => ApiResponse::error(
            500,
            format!("failed writing HTTP response: failed marshalling HTTP response to JSON: {e}"),
        ),
    }
}

struct SearchQuery {
    filter: SpanFilter,
    trace_ids: Vec<TraceId>,
    raw: bool,
}

/// Jaeger's `parseTraceQueryParams`, in its order, with its messages.
fn parse_search(params: &Params) -> Result<SearchQuery, String> {
    let service = params.first("service");
    let operation = params.first("operation");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i128;
    let start = match params.first("start") {
        "" => now - DEFAULT_LOOKBACK.as_nanos() as i128,
        text => {
            i128::from(go_text::parse_int(text, 64).map_err(|e| parse_error("start", &e))?) * 1_000
        }
    };
    let end = match params.first("end") {
        "" => now,
        text => {
            i128::from(go_text::parse_int(text, 64).map_err(|e| parse_error("end", &e))?) * 1_000
        }
    };
    let mut tags = BTreeMap::new();
    for tag in params.all("tag") {
        let Some((key, value)) = tag.split_once(':') else {
            return Err(format!(
                "malformed 'tag' parameter, expecting key:value, received: {tag}"
            ));
        };
        tags.insert(key.to_string(), value.to_string());
    }
    for json in params.all("tags") {
        let map = go_json::parse_string_map(json)
            .map_err(|e| format!("malformed 'tags' parameter, cannot unmarshal JSON: {e}"))?;
        tags.extend(map);
    }
    let limit = match params.first("limit") {
        "" => DEFAULT_LIMIT,
        text => go_text::parse_int(text, 32)?,
    };
    let mut durations = [0i64; 2];
    for (slot, name) in durations.iter_mut().zip(["minDuration", "maxDuration"]) {
        let text = params.first(name);
        if !text.is_empty() {
            *slot = go_text::parse_duration(text).map_err(|e| parse_error(name, &e))?;
        }
    }
    let [min_duration, max_duration] = durations;
    let mut trace_ids = Vec::new();
    for id in params.all("traceID") {
        trace_ids.push(TraceId::parse(id).map_err(|e| format!("cannot parse traceID param: {e}"))?);
    }
    let raw = parse_bool_param(params, "raw")?;
    if trace_ids.is_empty() && service.is_empty() {
        return Err("parameter 'service' is required".into());
    }
    if min_duration != 0 && max_duration != 0 && max_duration < min_duration {
        return Err("'maxDuration' should be greater than 'minDuration'".into());
    }
    Ok(SearchQuery {
        filter: SpanFilter {
            service: (!service.is_empty()).then(|| service.to_string()),
            operation: (!operation.is_empty()).then(|| operation.to_string()),
            tags,
            start_min_ns: start,
            start_max_ns: end,
            min_duration_ns: min_duration,
            max_duration_ns: max_duration,
            limit,
        },
        trace_ids,
        raw,
    })
}

fn parse_error(name: &str, error: &str) -> String {
    format!("unable to parse param '{name}': {error}")
}

fn parse_bool_param(params: &Params, name: &str) -> Result<bool, String> {
    match params.first(name) {
        "" => Ok(false),
        text => go_text::parse_bool(text).map_err(|e| parse_error(name, &e)),
    }
}

/// A stored trace as Jaeger JSON, after the adjusters (unless `raw`):
/// processes numbered `p1`, `p2`, … in the order spans first use them,
/// equal processes shared. Fails like Go's encoder on a NaN or infinity.
pub fn render_trace(trace: &StoredTrace, raw: bool) -> Result<model::Trace, String> {
    let spans = adjust::adjust(trace, raw);
    let mut processes: Vec<(&ProcessView, String)> = Vec::new();
    let mut rendered = Vec::with_capacity(spans.len());
    for span in &spans {
        let id = match processes.iter().find(|(p, _)| **p == span.process) {
            Some((_, id)) => id.clone(),
            None => {
                let id = format!("p{}", processes.len() + 1);
                processes.push((&span.process, id.clone()));
                id
            }
        };
        rendered.push(render_span(span, id)?);
    }
    let processes = processes
        .into_iter()
        .map(|(p, id)| {
            Ok((
                id,
                Process {
                    service_name: p.service_name.clone(),
                    tags: render_tags(&p.tags)?,
                },
            ))
        })
        .collect::<Result<_, String>>()?;
    Ok(model::Trace {
        trace_id: spans
            .first()
            .map(|s| s.trace_id.to_jaeger_string())
            .unwrap_or_default(),
        spans: rendered,
        processes,
        warnings: None,
    })
}

fn render_span(span: &AdjustedSpan, process_id: String) -> Result<model::Span, String> {
    Ok(model::Span {
        trace_id: span.trace_id.to_jaeger_string(),
        span_id: span_id_string(span.span_id),
        // Jaeger's OTLP translation never carries the flags over.
        flags: 0,
        operation_name: span.operation.to_string(),
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
        start_time: (span.start_unix_nano / 1_000) as u64,
        duration: (span.duration_nanos / 1_000) as u64,
        tags: render_tags(&span.tags)?,
        logs: span
            .logs
            .iter()
            .map(|log| {
                Ok(Log {
                    timestamp: log.timestamp_unix_nano / 1_000,
                    fields: render_tags(&log.fields)?,
                })
            })
            .collect::<Result<_, String>>()?,
        process_id,
        warnings: (!span.warnings.is_empty()).then(|| span.warnings.clone()),
    })
}

/// Jaeger's UI JSON for tags: int64 beyond ±(2^53−1) as text (JavaScript
/// cannot hold it), binary as base64.
fn render_tags(tags: &[Tag]) -> Result<Vec<KeyValue>, String> {
    const MAX_SAFE: i64 = (1 << 53) - 1;
    tags.iter()
        .map(|tag| {
            let (value_type, value) = match &tag.value {
                TagValue::Str(s) => (ValueType::String, s.to_string().into()),
                TagValue::Bool(b) => (ValueType::Bool, (*b).into()),
                TagValue::Int(i) if (-MAX_SAFE..=MAX_SAFE).contains(i) => {
                    (ValueType::Int64, (*i).into())
                }
                TagValue::Int(i) => (ValueType::Int64, i.to_string().into()),
                TagValue::Float(f) => (
                    ValueType::Float64,
                    serde_json::Number::from_f64(*f)
                        .map(serde_json::Value::Number)
                        .ok_or_else(|| {
                            format!("json: unsupported value: {}", go_json::go_float_g(*f))
                        })?,
                ),
                TagValue::Binary(b) => (
                    ValueType::Binary,
                    base64::engine::general_purpose::STANDARD.encode(b).into(),
                ),
            };
            Ok(KeyValue {
                key: tag.key.to_string(),
                value_type,
                value,
            })
        })
        .collect()
}

/// Query-string parameters as Go's `url.ParseQuery` reads them; repeated
/// keys kept in order.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(query: &str) -> Self {
        Params(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Go's `r.FormValue`: the first value, or "".
    pub(crate) fn first(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `prettyPrint` set to anything but "false".
    pub(crate) fn pretty(&self) -> bool {
        !matches!(self.first("prettyPrint"), "" | "false")
    }
}

/// Go's `url.QueryUnescape`: `+` is a space; a bad escape is an error.
fn query_unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// For tests: a trace's spans as stored, shared.
#[cfg(test)]
fn shared(spans: Vec<super::span::StoredSpan>) -> StoredTrace {
    spans.into_iter().map(std::sync::Arc::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::store::tests::{recent_chain, span};

    fn store_with_chain() -> Store {
        recent_chain()
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
        let (_, empty) = get(&Store::new(1), "/api/services");
        assert_eq!(empty["data"], serde_json::Value::Null, "Go's nil slice");
    }

    #[test]
    fn an_unknown_trace_is_404_with_trace_not_found_as_plain_text() {
        let response = handle(&store_with_chain(), "/api/traces/abc", "").unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.content_type, "text/plain; charset=utf-8");
        assert_eq!(
            String::from_utf8(response.body).unwrap(),
            "{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":[{\"code\":404,\"msg\":\"trace not found\"}]}\n"
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
        assert!(child.get("flags").is_none(), "Jaeger drops OTLP flags");
    }

    #[test]
    fn a_nan_tag_fails_the_whole_answer_as_go_encoder_does() {
        let mut nan = span(8, 1, "svc", "op");
        nan.tags.push(Tag::new("ratio", TagValue::Float(f64::NAN)));
        let response = traces_response(&[shared(vec![nan])], vec![], false, false);
        assert_eq!(response.status, 500);
        assert!(
            String::from_utf8(response.body)
                .unwrap()
                .contains("json: unsupported value: NaN")
        );
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
    fn bad_parameters_get_jaegers_status_and_messages() {
        let store = store_with_chain();
        let cases = [
            (
                "/api/traces?service=a&tag=novalue",
                400,
                "malformed 'tag' parameter, expecting key:value, received: novalue",
            ),
            (
                "/api/traces?service=a&minDuration=5ms&maxDuration=1ms",
                400,
                "'maxDuration' should be greater than 'minDuration'",
            ),
            (
                "/api/traces?service=a&start=yesterday",
                400,
                "unable to parse param 'start': strconv.ParseInt: parsing \"yesterday\": invalid syntax",
            ),
            (
                "/api/traces?service=a&limit=x",
                400,
                "strconv.ParseInt: parsing \"x\": invalid syntax",
            ),
            (
                "/api/traces?service=a&limit=0",
                500,
                "search depth must be greater than 0 and less than max traces",
            ),
            (
                "/api/traces?service=a&limit=101",
                500,
                "search depth must be greater than 0 and less than max traces",
            ),
            (
                "/api/traces?service=a&minDuration=5",
                400,
                "unable to parse param 'minDuration': time: missing unit in duration \"5\"",
            ),
            (
                "/api/traces/xyz",
                400,
                "strconv.ParseUint: parsing \"xyz\": invalid syntax",
            ),
        ];
        for (path, status, msg) in cases {
            let (got_status, body) = get(&store, path);
            assert_eq!(
                (got_status, body["errors"][0]["msg"].as_str()),
                (status, Some(msg)),
                "{path}"
            );
        }
    }

    #[test]
    fn operations_list_names_and_kinds_and_unknown_kinds_match_nothing() {
        let store = store_with_chain();
        let (_, body) = get(&store, "/api/operations?service=service1");
        assert_eq!(
            body["data"],
            serde_json::json!([{"name": "checkAvailability", "spanKind": "server"}])
        );
        let (status, body) = get(&store, "/api/operations?service=service1&spanKind=bogus");
        assert_eq!((status, body["data"].clone()), (200, serde_json::json!([])));
        let (_, body) = get(&store, "/api/services/service1/operations");
        assert_eq!(body["data"], serde_json::json!(["checkAvailability"]));
        let (_, body) = get(&store, "/api/services/nobody/operations");
        assert_eq!(body["data"], serde_json::Value::Null);
    }

    #[test]
    fn a_path_with_a_bad_escape_is_refused_before_routing_as_go_does() {
        let response = handle(&store_with_chain(), "/api/services/a%zz/operations", "").unwrap();
        assert_eq!(response.status, 400);
        assert_eq!(response.body, b"400 Bad Request");
    }

    #[test]
    fn a_service_in_the_path_is_query_unescaped() {
        assert_eq!(query_unescape("a%2Fb+c").as_deref(), Some("a/b c"));
        assert_eq!(query_unescape("bad%zz"), None);
    }
}
