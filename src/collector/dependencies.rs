//! `GET /api/dependencies`: which service calls which, as Jaeger v2's
//! memory storage computes it (`tenant.go`'s `getDependencies`) and its
//! HTTP handler answers it.
//!
//! Every trace that starts after `endTs - lookback` and ends before `endTs`
//! counts: each span with a parent (OTLP's `parent_span_id`; links do not
//! count) links the parent's service to its own,
//! one call per span, the same service twice included (Jaeger v2 keeps
//! `service1 → service1`). The parent is the first span of the trace with
//! the parent's id, in the order spans arrived. `service=` keeps the links
//! that have it at either end.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::go_text;
use super::query::{ApiResponse, Params};
use super::store::{SpanFilter, Store};
use crate::jaeger::model::Envelope;

/// Jaeger's `defaultDependencyLookbackDuration`: a day, in milliseconds.
const DEFAULT_LOOKBACK_MS: i64 = 24 * 3600 * 1000;

/// One edge of the graph, as Jaeger's UI model names its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyLink {
    pub parent: String,
    pub child: String,
    #[serde(rename = "callCount")]
    pub call_count: u64,
}

/// Answer `/api/dependencies?endTs=&lookback=&service=`.
pub(crate) fn handle(store: &Store, params: &Params) -> ApiResponse {
    let parse = |name: &str, default: i64| match params.first(name) {
        "" => Ok(default),
        text => {
            go_text::parse_int(text, 64).map_err(|e| format!("unable to parse param '{name}': {e}"))
        }
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let (end_ms, lookback_ms) = match (
        parse("endTs", now_ms),
        parse("lookback", DEFAULT_LOOKBACK_MS),
    ) {
        (Ok(end), Ok(lookback)) => (end, lookback),
        (Err(e), _) | (_, Err(e)) => return ApiResponse::error(400, e),
    };
    let end_ns = i128::from(end_ms) * 1_000_000;
    let start_ns = end_ns - i128::from(lookback_ms) * 1_000_000;
    if end_ns < start_ns {
        return ApiResponse::error(500, "end time must be greater than start time");
    }
    let service = params.first("service");
    let links: Vec<DependencyLink> = dependencies(store, start_ns, end_ns)
        .into_iter()
        .filter(|l| service.is_empty() || l.parent == service || l.child == service)
        .collect();
    ApiResponse::json(&Envelope::ok(links, 0), params.pretty())
}

/// The links of every trace inside (`start_ns`, `end_ns`), ordered by
/// parent then child (Jaeger's order is a Go map's: none).
pub fn dependencies(store: &Store, start_ns: i128, end_ns: i128) -> Vec<DependencyLink> {
    let every_trace = SpanFilter {
        start_min_ns: i128::MIN,
        start_max_ns: i128::MAX,
        limit: store.max_traces() as i64,
        ..Default::default()
    };
    let traces = store.find(&every_trace).unwrap_or_default();
    let mut calls: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for trace in &traces {
        let start = trace.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
        let end = trace.iter().map(|s| s.end_unix_nano).max().unwrap_or(0);
        if !(i128::from(start) > start_ns && i128::from(end) < end_ns) {
            continue;
        }
        let mut service_of: HashMap<u64, &str> = HashMap::with_capacity(trace.len());
        for span in trace {
            service_of
                .entry(span.span_id)
                .or_insert(span.process.service_name.as_str());
        }
        for span in trace {
            let Some(parent) = span.otlp_parent() else {
                continue;
            };
            if let Some(parent_service) = service_of.get(&parent) {
                *calls
                    .entry((parent_service, span.process.service_name.as_str()))
                    .or_default() += 1;
            }
        }
    }
    calls
        .into_iter()
        .map(|((parent, child), call_count)| DependencyLink {
            parent: parent.to_string(),
            child: child.to_string(),
            call_count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::span::{StoredRef, TraceId};
    use crate::collector::store::tests::{recent_chain, span};

    fn get(store: &Store, query: &str) -> (u16, serde_json::Value) {
        let answer = handle(store, &Params::parse(query));
        (answer.status, serde_json::from_slice(&answer.body).unwrap())
    }

    #[test]
    fn a_chain_gives_one_link_per_call_between_services() {
        let (status, body) = get(&recent_chain(), "");
        assert_eq!(status, 200);
        assert_eq!(
            body,
            serde_json::json!({"data": [{"parent": "front-proxy", "child": "service1", "callCount": 1}],
                "total": 0, "limit": 0, "offset": 0, "errors": null})
        );
    }

    #[test]
    fn calls_within_a_service_count_and_service_filters_either_end() {
        let store = Store::new(10);
        let child = |id, parent| {
            let mut s = span(1, id, if id == 2 { "a" } else { "b" }, "op");
            s.has_parent = true;
            s.references.push(StoredRef {
                follows_from: false,
                trace_id: TraceId(1),
                span_id: parent,
            });
            s
        };
        // a:1 → a:2 → b:3, b:4 (2 calls a→b); times are 1970, so widen the window.
        store.insert(vec![
            span(1, 1, "a", "op"),
            child(2, 1),
            child(3, 2),
            child(4, 2),
        ]);
        let links = dependencies(&store, 0, i128::MAX);
        let pairs: Vec<_> = links
            .iter()
            .map(|l| (l.parent.as_str(), l.child.as_str(), l.call_count))
            .collect();
        assert_eq!(pairs, [("a", "a", 1), ("a", "b", 2)]);
        let (_, body) = get(&store, "endTs=100000&lookback=100000&service=b");
        assert_eq!(body["data"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn traces_outside_the_window_do_not_count_and_bad_params_get_jaegers_errors() {
        let store = recent_chain();
        let (_, body) = get(&store, "endTs=1000&lookback=1000");
        assert_eq!(
            body["data"],
            serde_json::json!([]),
            "an empty list, not null"
        );
        let (status, body) = get(&store, "endTs=yesterday");
        assert_eq!(status, 400);
        assert_eq!(
            body["errors"][0]["msg"],
            "unable to parse param 'endTs': strconv.ParseInt: parsing \"yesterday\": invalid syntax"
        );
        let (status, body) = get(&store, "lookback=-5");
        assert_eq!(status, 500);
        assert_eq!(
            body["errors"][0]["msg"],
            "end time must be greater than start time"
        );
    }
}
