//! The embedded collector's in-memory span store.
//!
//! Shaped like Jaeger v2's memory storage: traces kept in arrival order up to
//! `max_traces` (the oldest evicted first, and counted so the report can say
//! so), a service → operations index, and a search that walks traces newest
//! first and keeps a trace when one of its spans matches every filter.
//!
//! Unlike Jaeger's, it can also let traces go once they have been read: with
//! release on ([`Store::with_release`]), a trace read by id through the query
//! API leaves after a short linger, unless spans arrived since (then it waits
//! to be read again). Those are counted as released, apart from evictions,
//! which lose traces nobody read. A run that judges each trace as it
//! completes stays in flat memory that way.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::span::{SpanKind, StatusCode, StoredSpan, Text, TraceId};

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
            .is_some_and(|o| **o != *span.operation)
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
    /// Traces pushed out by `max_traces` before anyone read them: lost.
    pub evicted_traces: u64,
    /// Traces that left after being read (see [`Store::with_release`]).
    pub released_traces: u64,
}

pub struct Store {
    max_traces: usize,
    /// How long a trace read by id stays before it is released; `None`
    /// keeps everything (Jaeger's behaviour).
    release_after: Option<Duration>,
    inner: RwLock<Inner>,
    /// Read marks, apart from the traces so a read needs no write lock.
    /// Lock order: `inner`, then `reads`.
    reads: Mutex<Reads>,
    spans_received: AtomicU64,
}

#[derive(Default)]
struct Inner {
    traces: HashMap<TraceId, Entry>,
    /// Oldest first, with each trace's arrival number: a trace enters when
    /// its first span arrives. Entries of released traces are skipped and
    /// compacted away (`Entry::seq` tells a stale entry from a trace that
    /// came back with the same id).
    order: VecDeque<(TraceId, u64)>,
    next_seq: u64,
    /// Service → operation → kind → spans stored: names are copied once,
    /// not per span; the counts let released traces take their names
    /// along (only with release on; without, the index keeps every name
    /// as Jaeger's does).
    operations: BTreeMap<String, BTreeMap<Text, BTreeMap<SpanKind, u64>>>,
    evicted: u64,
    released: u64,
}

struct Entry {
    spans: StoredTrace,
    seq: u64,
}

/// Traces read by id, and when each is due to leave.
#[derive(Default)]
struct Reads {
    due: HashMap<TraceId, Instant>,
    /// Marks in the order made; deadlines never decrease. A mark is stale
    /// when `due` holds another deadline for its trace (read again, or
    /// grown since).
    queue: VecDeque<(TraceId, Instant)>,
}

impl Store {
    pub fn new(max_traces: usize) -> Self {
        Store {
            max_traces: max_traces.max(1),
            release_after: None,
            inner: RwLock::default(),
            reads: Mutex::default(),
            spans_received: AtomicU64::new(0),
        }
    }

    /// A store that lets a trace go `linger` after it was read by id (see
    /// [`Store::read`]) with nothing new arrived since: what a run that
    /// judges each trace once it is complete needs to stay in flat memory.
    pub fn with_release(max_traces: usize, linger: Option<Duration>) -> Self {
        Store {
            release_after: linger,
            ..Store::new(max_traces)
        }
    }

    pub fn max_traces(&self) -> usize {
        self.max_traces
    }

    pub fn release_after(&self) -> Option<Duration> {
        self.release_after
    }

    pub fn insert(&self, spans: Vec<StoredSpan>) {
        self.spans_received
            .fetch_add(spans.len() as u64, Ordering::Relaxed);
        let mut inner = self.inner.write().expect("store lock poisoned");
        let mut reads = self
            .release_after
            .map(|_| self.reads.lock().expect("store lock poisoned"));
        for span in spans {
            inner.index_operation(&span);
            let trace_id = span.trace_id;
            match inner.traces.get_mut(&trace_id) {
                Some(entry) => {
                    entry.spans.push(Arc::new(span));
                    // Grown since it was read: the reader has not seen all
                    // of it, so it stays until read again.
                    if let Some(reads) = reads.as_mut() {
                        reads.due.remove(&trace_id);
                    }
                }
                None => {
                    let seq = inner.next_seq;
                    inner.next_seq += 1;
                    let spans = vec![Arc::new(span)];
                    inner.traces.insert(trace_id, Entry { spans, seq });
                    inner.order.push_back((trace_id, seq));
                    while inner.traces.len() > self.max_traces {
                        let read = inner.evict_oldest(reads.as_deref_mut());
                        if read {
                            inner.released += 1;
                        } else {
                            inner.evicted += 1;
                        }
                    }
                }
            }
        }
    }

    /// A trace, without marking it read (the dependency graph, tests).
    pub fn trace(&self, id: TraceId) -> Option<StoredTrace> {
        let inner = self.inner.read().expect("store lock poisoned");
        inner.traces.get(&id).map(|e| e.spans.clone())
    }

    /// A trace asked for by id through the query API: with release on, it
    /// leaves the store once it has lingered unread-again and unchanged.
    pub fn read(&self, id: TraceId) -> Option<StoredTrace> {
        self.read_at(id, Instant::now())
    }

    fn read_at(&self, id: TraceId, now: Instant) -> Option<StoredTrace> {
        let found = self.trace(id);
        if let (Some(linger), Some(_)) = (self.release_after, &found) {
            let due = now + linger;
            let mut reads = self.reads.lock().expect("store lock poisoned");
            reads.due.insert(id, due);
            reads.queue.push_back((id, due));
        }
        found
    }

    /// Release every read trace due by `now`. The collector calls it on a
    /// timer; tests call it with the time they want.
    pub fn sweep(&self, now: Instant) {
        if self.release_after.is_none() {
            return;
        }
        let mut inner = self.inner.write().expect("store lock poisoned");
        let mut reads = self.reads.lock().expect("store lock poisoned");
        while let Some(&(id, due)) = reads.queue.front() {
            if due > now {
                break;
            }
            reads.queue.pop_front();
            if reads.due.get(&id) != Some(&due) {
                continue; // read again later, or grown since
            }
            reads.due.remove(&id);
            if inner.remove(id) {
                inner.released += 1;
            }
        }
        // Released traces leave stale entries in `order`; drop them once
        // they outnumber the live ones, so `order` stays the store's size.
        if inner.order.len() > 2 * inner.traces.len() + 64 {
            let Inner { order, traces, .. } = &mut *inner;
            order.retain(|(id, seq)| traces.get(id).is_some_and(|e| e.seq == *seq));
        }
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
            .filter_map(|(id, seq)| inner.traces.get(id).filter(|e| e.seq == *seq))
            .filter(|entry| entry.spans.iter().any(|span| filter.matches(span)))
            .take(filter.limit as usize)
            .map(|entry| entry.spans.clone())
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
                    .flat_map(|(name, kinds)| kinds.keys().map(move |k| (name, *k)))
                    .filter(|(_, k)| kind.is_none_or(|want| *k == want))
                    .map(|(name, k)| (name.to_string(), k))
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
            released_traces: inner.released,
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
        let kinds = operations.entry(Arc::clone(&span.operation)).or_default();
        *kinds.entry(span.kind).or_default() += 1;
    }

    /// Drop the oldest trace past the bound; whether it had been read
    /// (with release on, a read trace leaving early is no loss).
    fn evict_oldest(&mut self, reads: Option<&mut Reads>) -> bool {
        while let Some((id, seq)) = self.order.pop_front() {
            if self.traces.get(&id).is_none_or(|e| e.seq != seq) {
                continue;
            }
            return match reads {
                // Release on: the index follows the traces.
                Some(reads) => {
                    self.remove(id);
                    reads.due.remove(&id).is_some()
                }
                // Jaeger keeps an evicted trace's names, and so does this.
                None => {
                    self.traces.remove(&id);
                    false
                }
            };
        }
        false
    }

    /// Remove a trace and its spans' names from the index (release on).
    fn remove(&mut self, id: TraceId) -> bool {
        let Some(entry) = self.traces.remove(&id) else {
            return false;
        };
        for span in &entry.spans {
            self.unindex_operation(span);
        }
        true
    }

    fn unindex_operation(&mut self, span: &StoredSpan) {
        let service = span.process.service_name.as_str();
        let Some(operations) = self.operations.get_mut(service) else {
            return;
        };
        if let Some(kinds) = operations.get_mut(&*span.operation) {
            if let Some(count) = kinds.get_mut(&span.kind) {
                *count -= 1;
                if *count == 0 {
                    kinds.remove(&span.kind);
                }
            }
            if kinds.is_empty() {
                operations.remove(&*span.operation);
            }
        }
        if operations.is_empty() {
            self.operations.remove(service);
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

    const LINGER: Duration = Duration::from_secs(2);

    fn releasing(max_traces: usize) -> Store {
        Store::with_release(max_traces, Some(LINGER))
    }

    #[test]
    fn a_trace_read_by_id_leaves_after_the_linger_as_released() {
        let store = releasing(10);
        store.insert(vec![span(1, 1, "a", "x"), span(1, 2, "b", "y")]);
        store.insert(vec![span(2, 1, "a", "z")]);
        let before = Instant::now();
        assert!(store.read(TraceId(1)).is_some());
        let after = Instant::now();
        store.sweep(before + LINGER - Duration::from_millis(1));
        assert!(store.trace(TraceId(1)).is_some(), "still lingering");
        store.sweep(after + LINGER);
        assert!(store.trace(TraceId(1)).is_none());
        assert!(store.trace(TraceId(2)).is_some(), "never read: kept");
        let stats = store.stats();
        assert_eq!((stats.traces, stats.released_traces), (1, 1));
        assert_eq!(stats.evicted_traces, 0);
        // Its names went with it; trace 2's stay.
        assert_eq!(store.services(), ["a"]);
        assert_eq!(
            store.operations("a", None),
            [("z".into(), SpanKind::Server)]
        );
    }

    #[test]
    fn without_release_a_read_trace_stays() {
        let store = Store::new(10);
        store.insert(vec![span(1, 1, "a", "x")]);
        assert!(store.read(TraceId(1)).is_some());
        store.sweep(Instant::now() + Duration::from_secs(3600));
        assert!(store.trace(TraceId(1)).is_some());
        assert_eq!(store.stats().released_traces, 0);
    }

    #[test]
    fn a_trace_grown_since_it_was_read_waits_to_be_read_again() {
        let store = releasing(10);
        store.insert(vec![span(1, 1, "a", "x")]);
        store.read(TraceId(1));
        store.insert(vec![span(1, 2, "b", "y")]);
        let after_first = Instant::now();
        store.sweep(after_first + LINGER);
        assert_eq!(
            store.trace(TraceId(1)).unwrap().len(),
            2,
            "not all read yet"
        );
        store.read(TraceId(1));
        store.sweep(Instant::now() + LINGER);
        assert!(store.trace(TraceId(1)).is_none());
    }

    #[test]
    fn reading_again_restarts_the_linger() {
        let store = releasing(10);
        store.insert(vec![span(1, 1, "a", "x")]);
        let t0 = Instant::now();
        store.read_at(TraceId(1), t0);
        store.read_at(TraceId(1), t0 + Duration::from_secs(1));
        store.sweep(t0 + LINGER);
        assert!(store.trace(TraceId(1)).is_some(), "read again at t0 + 1 s");
        store.sweep(t0 + Duration::from_secs(1) + LINGER);
        assert!(store.trace(TraceId(1)).is_none());
        assert_eq!(store.stats().released_traces, 1, "released once");
    }

    #[test]
    fn evicting_a_read_trace_counts_as_released_an_unread_one_as_evicted() {
        let store = releasing(2);
        store.insert(vec![span(1, 1, "a", "x")]);
        store.insert(vec![span(2, 1, "a", "x")]);
        store.read(TraceId(1));
        store.insert(vec![span(3, 1, "a", "x")]); // pushes out 1, read
        store.insert(vec![span(4, 1, "a", "x")]); // pushes out 2, unread
        let stats = store.stats();
        assert_eq!((stats.released_traces, stats.evicted_traces), (1, 1));
        assert_eq!(stats.traces, 2);
    }

    #[test]
    fn released_traces_free_their_place_and_a_returning_id_is_found_once() {
        let store = releasing(3);
        for t in 1..=3 {
            store.insert(vec![span(t, 1, "a", "x")]);
        }
        store.read(TraceId(1));
        store.sweep(Instant::now() + LINGER);
        // A late span of trace 1 starts it over; nothing is evicted for it.
        store.insert(vec![span(1, 2, "a", "x")]);
        assert_eq!(store.stats().evicted_traces, 0);
        let ids: Vec<_> = store
            .find(&all(3))
            .unwrap()
            .iter()
            .map(|t| t[0].trace_id.0)
            .collect();
        assert_eq!(ids, [1, 3, 2]);
    }

    #[test]
    fn the_arrival_order_does_not_grow_with_released_traces() {
        let store = releasing(100);
        for t in 1..=10_000 {
            store.insert(vec![span(t, 1, "a", "x")]);
            store.read(TraceId(t));
            if t % 100 == 0 {
                store.sweep(Instant::now() + LINGER);
            }
        }
        store.sweep(Instant::now() + LINGER);
        let inner = store.inner.read().unwrap();
        assert!(inner.traces.is_empty());
        assert!(inner.order.len() <= 64 + 100, "{}", inner.order.len());
        assert!(inner.operations.is_empty());
        assert!(store.reads.lock().unwrap().queue.is_empty());
    }
}
