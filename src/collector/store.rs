//! The embedded collector's in-memory span store.
//!
//! Shaped like Jaeger v2's memory storage: traces kept in arrival order up to
//! `max_traces` (the oldest evicted first, and counted so the report can say
//! so), a service → operations index, and a search that walks traces newest
//! first and keeps a trace when one of its spans matches every filter.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::span::{SpanKind, StatusCode, StoredSpan, TraceId};

/// What a search asks for, as Jaeger's memory storage reads it: times and
/// durations in nanoseconds, a duration of 0 meaning no bound.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanFilter {
    pub service: Option<String>,
    pub operation: Option<String>,
    /// Later values for a key replace earlier ones, as in Jaeger's map.
    pub tags: BTreeMap<String, String>,
    pub start_min_ns: i128,
    pub start_max_ns: i128,
    pub min_duration_ns: i64,
    pub max_duration_ns: i64,
    /// Traces to return; must be 1..=max_traces.
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("search depth must be greater than 0 and less than max traces")]
    Depth,
}

impl SpanFilter {
    /// Jaeger's memory storage `validSpan`, span by span.
    fn matches(&self, span: &StoredSpan) -> bool {
        if self
            .service
            .as_ref()
            .is_some_and(|s| *s != span.process.service_name)
        {
            return false;
        }
        // Jaeger reads the `error` tag's value as a boolean, but a query
        // value is always text, which reads as false: any `error` filter
        // keeps only spans whose status is OK. Faithfully so.
        if self.tags.contains_key("error") && span.status != StatusCode::Ok {
            return false;
        }
        if self
            .operation
            .as_ref()
            .is_some_and(|o| *o != span.operation)
        {
            return false;
        }
        let start = i128::from(span.start_unix_nano as i64);
        if start < self.start_min_ns || start > self.start_max_ns {
            return false;
        }
        let duration = span.duration_nanos();
        if (self.min_duration_ns != 0 && duration < self.min_duration_ns)
            || (self.max_duration_ns != 0 && duration > self.max_duration_ns)
        {
            return false;
        }
        self.tags
            .iter()
            .filter(|(key, _)| *key != "error")
            .all(|(key, value)| span.has_attribute(key, value))
    }
}

pub type StoredTrace = Vec<Arc<StoredSpan>>;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    pub traces: usize,
    pub spans: u64,
    pub evicted_traces: u64,
}

pub struct Store {
    max_traces: usize,
    inner: RwLock<Inner>,
    spans_received: AtomicU64,
}

#[derive(Default)]
struct Inner {
    traces: HashMap<TraceId, StoredTrace>,
    /// Oldest first; a trace enters when its first span arrives.
    order: VecDeque<TraceId>,
    /// Service → operation → kinds: names are copied once, not per span.
    operations: BTreeMap<String, BTreeMap<String, BTreeSet<SpanKind>>>,
    evicted: u64,
}

impl Store {
    pub fn new(max_traces: usize) -> Self {
        Store {
            max_traces: max_traces.max(1),
            inner: RwLock::default(),
            spans_received: AtomicU64::new(0),
        }
    }

    pub fn max_traces(&self) -> usize {
        self.max_traces
    }

    pub fn insert(&self, spans: Vec<StoredSpan>) {
        self.spans_received
            .fetch_add(spans.len() as u64, Ordering::Relaxed);
        let mut inner = self.inner.write().expect("store lock poisoned");
        for span in spans {
            inner.index_operation(&span);
            let trace_id = span.trace_id;
            match inner.traces.get_mut(&trace_id) {
                Some(trace) => trace.push(Arc::new(span)),
                None => {
                    inner.traces.insert(trace_id, vec![Arc::new(span)]);
                    inner.order.push_back(trace_id);
                    while inner.order.len() > self.max_traces {
                        let oldest = inner.order.pop_front().expect("order is not empty");
                        inner.traces.remove(&oldest);
                        inner.evicted += 1;
                    }
                }
            }
        }
    }

    pub fn trace(&self, id: TraceId) -> Option<StoredTrace> {
        let inner = self.inner.read().expect("store lock poisoned");
        inner.traces.get(&id).cloned()
    }

    /// Traces with at least one span matching the filter, newest first
    /// (by the arrival of their first span).
    pub fn find(&self, filter: &SpanFilter) -> Result<Vec<StoredTrace>, SearchError> {
        if filter.limit <= 0 || filter.limit as u64 > self.max_traces as u64 {
            return Err(SearchError::Depth);
        }
        let inner = self.inner.read().expect("store lock poisoned");
        Ok(inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.traces.get(id))
            .filter(|trace| trace.iter().any(|span| filter.matches(span)))
            .take(filter.limit as usize)
            .cloned()
            .collect())
    }

    pub fn services(&self) -> Vec<String> {
        let inner = self.inner.read().expect("store lock poisoned");
        inner.operations.keys().cloned().collect()
    }

    /// Operations of a service with their kinds, optionally of one kind.
    pub fn operations(&self, service: &str, kind: Option<SpanKind>) -> Vec<(String, SpanKind)> {
        let inner = self.inner.read().expect("store lock poisoned");
        inner
            .operations
            .get(service)
            .map(|ops| {
                ops.iter()
                    .flat_map(|(name, kinds)| kinds.iter().map(move |k| (name, *k)))
                    .filter(|(_, k)| kind.is_none_or(|want| *k == want))
                    .map(|(name, k)| (name.clone(), k))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn stats(&self) -> StoreStats {
        let inner = self.inner.read().expect("store lock poisoned");
        StoreStats {
            traces: inner.traces.len(),
            spans: self.spans_received.load(Ordering::Relaxed),
            evicted_traces: inner.evicted,
        }
    }
}

impl Inner {
    fn index_operation(&mut self, span: &StoredSpan) {
        let service = &span.process.service_name;
        if !self.operations.contains_key(service) {
            self.operations.insert(service.clone(), BTreeMap::new());
        }
        let operations = self.operations.get_mut(service).expect("just inserted");
        match operations.get_mut(&span.operation) {
            Some(kinds) => {
                kinds.insert(span.kind);
            }
            None => {
                operations.insert(span.operation.clone(), BTreeSet::from([span.kind]));
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::collector::span::{SearchAttributes, SpanAttributes, StoredProcess, StoredRef};

    pub(crate) fn span(trace: u128, id: u64, service: &str, op: &str) -> StoredSpan {
        StoredSpan {
            trace_id: TraceId(trace),
            span_id: id,
            references: vec![],
            has_parent: false,
            flags: 0,
            operation: op.into(),
            kind: SpanKind::Server,
            status: StatusCode::Unset,
            start_unix_nano: 1_000_000 * id,
            end_unix_nano: 1_000_000 * id + 5_000_000,
            tags: vec![],
            logs: vec![],
            process: Arc::new(StoredProcess {
                service_name: service.into(),
                tags: vec![],
                search_attrs: vec![],
            }),
            search: SearchAttributes {
                span: SpanAttributes::Text(vec![("http.status_code".into(), "200".into())]),
                ..Default::default()
            },
            warnings: vec![],
        }
    }

    /// A two-span chain (front-proxy → service1) in trace 7, a minute old,
    /// so default searches (the last 48 hours) find it.
    pub(crate) fn recent_chain() -> Store {
        let store = Store::new(100);
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let mut root = span(7, 1, "front-proxy", "checkAvailability");
        let mut child = span(7, 2, "service1", "checkAvailability");
        child.has_parent = true;
        child.references.push(crate::collector::span::StoredRef {
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

    fn all(limit: i64) -> SpanFilter {
        SpanFilter {
            limit,
            start_max_ns: i128::MAX,
            ..Default::default()
        }
    }

    #[test]
    fn spans_of_one_trace_arriving_apart_form_one_trace() {
        let store = Store::new(10);
        store.insert(vec![span(1, 1, "a", "x")]);
        let mut child = span(1, 2, "b", "y");
        child.references.push(StoredRef {
            follows_from: false,
            trace_id: TraceId(1),
            span_id: 1,
        });
        store.insert(vec![child]);
        assert_eq!(store.trace(TraceId(1)).unwrap().len(), 2);
        assert_eq!(store.stats().traces, 1);
        assert_eq!(store.services(), ["a", "b"]);
    }

    #[test]
    fn the_oldest_trace_is_evicted_past_max_traces_and_counted() {
        let store = Store::new(2);
        for t in 1..=3 {
            store.insert(vec![span(t, 1, "a", "x")]);
        }
        assert!(store.trace(TraceId(1)).is_none());
        assert!(store.trace(TraceId(3)).is_some());
        assert_eq!(store.stats().evicted_traces, 1);
    }

    #[test]
    fn search_walks_newest_first_and_stops_at_the_limit() {
        let store = Store::new(10);
        for t in 1..=3 {
            store.insert(vec![span(t, 1, "a", "x")]);
        }
        let found = store.find(&all(2)).unwrap();
        let ids: Vec<_> = found.iter().map(|t| t[0].trace_id.0).collect();
        assert_eq!(ids, [3, 2]);
        assert_eq!(store.find(&all(0)).unwrap_err(), SearchError::Depth);
        assert_eq!(store.find(&all(11)).unwrap_err(), SearchError::Depth);
    }

    #[test]
    fn every_filter_must_hold_on_the_same_span() {
        let store = Store::new(10);
        store.insert(vec![span(1, 1, "a", "x"), span(1, 2, "b", "y")]);
        let mut filter = all(10);
        filter.service = Some("a".into());
        filter.operation = Some("y".into());
        assert!(
            store.find(&filter).unwrap().is_empty(),
            "service a has no span y"
        );
        filter.operation = Some("x".into());
        filter.tags = [("http.status_code".into(), "200".into())].into();
        assert_eq!(store.find(&filter).unwrap().len(), 1);
        filter.tags = [("http.status_code".into(), "500".into())].into();
        assert!(store.find(&filter).unwrap().is_empty());
    }

    #[test]
    fn duration_and_start_bounds_filter_spans() {
        let store = Store::new(10);
        store.insert(vec![span(1, 1, "a", "x")]); // 5 ms, starts at 1 ms
        let mut filter = all(10);
        filter.min_duration_ns = 6_000_000;
        assert!(store.find(&filter).unwrap().is_empty());
        filter.min_duration_ns = 5_000_000;
        assert_eq!(store.find(&filter).unwrap().len(), 1);
        filter.start_min_ns = 1_000_001;
        assert!(store.find(&filter).unwrap().is_empty());
    }

    #[test]
    fn any_error_tag_filter_keeps_only_ok_spans_as_jaeger_does() {
        let store = Store::new(10);
        let mut failed = span(1, 1, "a", "x");
        failed.status = StatusCode::Error;
        let mut fine = span(2, 1, "a", "x");
        fine.status = StatusCode::Ok;
        store.insert(vec![failed, fine, span(3, 1, "a", "x")]);
        for value in ["true", "false"] {
            let mut filter = all(10);
            filter.tags = [("error".into(), value.into())].into();
            let found = store.find(&filter).unwrap();
            assert_eq!(found.len(), 1, "error={value}");
            assert_eq!(found[0][0].trace_id, TraceId(2));
        }
    }
}
