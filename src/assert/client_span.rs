//! tracelab's own client span, put back into the traces of requests sent
//! to an external target.
//!
//! Such a request starts its trace in tracelab's traffic: the target's
//! first span names tracelab's span as its parent, but tracelab reports no
//! span of its own (no OTLP endpoint is needed to test a system that
//! exports elsewhere, and what the collector holds is the system's alone).
//! So that a trace reads whole (one root, no orphan, as Tracetest shows its
//! trigger span), the span is added to each trace read back, from what the
//! traffic recorded: service `tracelab`, kind client, named after the
//! request (`GET /path`), with the request's status and id. A request
//! whose trace holds none of the system's spans, while other traces carry
//! its id (the system started traces of its own: propagation broke), gets
//! the span as a trace of its own, so the split shows.

use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use super::gather::{Gathered, REQUEST_ID_TAG};
use crate::jaeger::model::{KeyValue, Process, Span, Trace};
use crate::scenario::model::{Scenario, Traffic};
use crate::traffic::trace_context::SentContext;
use crate::traffic::{RequestRecord, TrafficRun};

/// The service name of tracelab's client spans.
pub const CLIENT_SERVICE: &str = crate::scenario::names::CLIENT_SERVICE;
/// Their process key in a trace.
const PROCESS: &str = "tracelab-client";

/// Add the client span of every request the traffic started a trace for;
/// `moved`: targets sent elsewhere (`--target`), name → `host:port`.
pub fn add(
    gathered: &mut Gathered,
    runs: &[TrafficRun],
    scenario: &Scenario,
    moved: &HashMap<String, String>,
) {
    for run in runs {
        let Some(block) = scenario.traffic_block(&run.name) else {
            continue;
        };
        let url = match (scenario.target(&block.target), moved.get(&block.target)) {
            (_, Some(authority)) => format!("http://{authority}"),
            (Some(target), None) => target.url.clone(),
            (None, None) => String::new(),
        };
        for record in run.records.iter().filter(|r| !r.interrupted) {
            if let Some(sent) = &record.sent {
                add_one(gathered, block, &url, record, sent);
            }
        }
    }
}

fn add_one(
    gathered: &mut Gathered,
    block: &Traffic,
    url: &str,
    record: &RequestRecord,
    sent: &SentContext,
) {
    let span = client_span(block, url, record, sent);
    if let Some(trace) = gathered.traces.get_mut(&sent.trace_id) {
        if trace.spans.iter().any(|s| s.span_id == sent.span_id) {
            return;
        }
        let mut span = span;
        cover_children(&mut span, trace);
        trace.spans.insert(0, span);
        trace.processes.insert(PROCESS.into(), process());
    } else if gathered.by_request.contains_key(&record.request_id) {
        gathered.traces.insert(
            sent.trace_id.clone(),
            Trace {
                trace_id: sent.trace_id.clone(),
                spans: vec![span],
                processes: [(PROCESS.to_string(), process())].into(),
                warnings: None,
            },
        );
    } else {
        return;
    }
    gathered.spans += 1;
    let traces = gathered
        .by_request
        .entry(record.request_id.clone())
        .or_default();
    if !traces.contains(&sent.trace_id) {
        traces.push(sent.trace_id.clone());
    }
}

fn process() -> Process {
    Process {
        service_name: CLIENT_SERVICE.into(),
        tags: Vec::new(),
    }
}

fn client_span(block: &Traffic, url: &str, record: &RequestRecord, sent: &SentContext) -> Span {
    let path = block.path.split('?').next().unwrap_or(&block.path);
    let mut tags = vec![
        KeyValue::string("span.kind", "client"),
        KeyValue::string("component", "tracelab"),
        KeyValue::string("http.method", &block.method),
        KeyValue::string("http.url", format!("{url}{}", block.path)),
        KeyValue::string(REQUEST_ID_TAG, &record.request_id),
        KeyValue::string("tracelab.traffic", &block.name),
    ];
    match record.status {
        Some(status) => tags.push(KeyValue::string("http.status_code", status.to_string())),
        None => tags.push(KeyValue::string(
            "error.message",
            record.error.as_deref().unwrap_or("no response"),
        )),
    }
    if record.status.is_none_or(|s| s >= 500) {
        tags.push(KeyValue::bool("error", true));
    }
    let start = sent
        .at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64;
    Span {
        trace_id: sent.trace_id.clone(),
        span_id: sent.span_id.clone(),
        flags: 1,
        operation_name: format!("{} {path}", block.method),
        references: Vec::new(),
        start_time: start,
        duration: (record.latency.as_micros() as u64).max(1),
        tags,
        logs: Vec::new(),
        process_id: PROCESS.into(),
        warnings: Some(vec![
            "added by tracelab from its traffic's record: tracelab does not report its client span"
                .into(),
        ]),
    }
}

/// Widen the span to cover the spans it parents: another machine's clock
/// may disagree with this one's by more than the request took.
fn cover_children(span: &mut Span, trace: &Trace) {
    let children = trace
        .spans
        .iter()
        .filter(|s| s.parent_span_id() == Some(span.span_id.as_str()));
    let (mut start, mut end) = (span.start_time, span.start_time + span.duration);
    for child in children {
        start = start.min(child.start_time);
        end = end.max(child.start_time + child.duration);
    }
    if (start, end) != (span.start_time, span.start_time + span.duration) {
        span.tags.push(KeyValue::string(
            "tracelab.measured_duration_us",
            span.duration.to_string(),
        ));
        span.start_time = start;
        span.duration = end - start;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::assert::tree::TraceTree;
    use crate::assert::tree::tests::trace;

    fn block() -> Traffic {
        let s = crate::scenario::load::load_source(
            std::path::Path::new("x.rhai"),
            "target(\"shop\", \"http://127.0.0.1:9\");\ntraffic(\"t\", #{ path: \"/buy?x=1\" });",
            &Default::default(),
        )
        .unwrap();
        s.traffic[0].clone()
    }

    fn record(id: &str, status: Option<u16>, span_id: &str) -> RequestRecord {
        let mut r = crate::assert::tests::record(id);
        r.status = status;
        r.latency = Duration::from_micros(50);
        r.sent = Some(SentContext {
            trace_id: "t1".into(),
            span_id: span_id.into(),
            at: UNIX_EPOCH + Duration::from_micros(1000),
        });
        r.trace_id = Some("t1".into());
        r
    }

    #[test]
    fn the_client_span_becomes_the_root_of_the_targets_spans() {
        // The target's server span names tracelab's span "p" as its parent.
        let mut t = trace(&[("s", Some("p"), "shop", "GET /buy", "server")]);
        t.spans[0].start_time = 900; // a clock 100 µs behind
        let mut gathered = Gathered::default();
        gathered.traces.insert("t1".into(), t);
        gathered.spans = 1;
        let r = record("r1", Some(200), "p");
        add_one(
            &mut gathered,
            &block(),
            "http://127.0.0.1:9",
            &r,
            r.sent.as_ref().unwrap(),
        );
        let t = &gathered.traces["t1"];
        let tree = TraceTree::new(t);
        assert!(tree.orphans.is_empty());
        assert_eq!(tree.roots.len(), 1);
        assert_eq!(
            tree.nodes[tree.roots[0]].label(),
            "tracelab GET /buy (client)"
        );
        let root = &t.spans[0];
        assert_eq!(root.start_time, 900, "widened to cover its child");
        assert_eq!(
            root.tag("http.url").unwrap().value_text(),
            "http://127.0.0.1:9/buy?x=1"
        );
        assert_eq!(root.tag(REQUEST_ID_TAG).unwrap().value_text(), "r1");
        assert!(!root.is_error());
        assert_eq!(gathered.by_request["r1"], ["t1"]);
        assert_eq!(gathered.spans, 2);
    }

    #[test]
    fn a_request_whose_system_started_its_own_trace_gets_a_trace_of_its_own() {
        let mut gathered = Gathered::default();
        gathered.traces.insert(
            "t9".into(),
            trace(&[("s", None, "shop", "GET /buy", "server")]),
        );
        gathered.by_request.insert("r1".into(), vec!["t9".into()]);
        let r = record("r1", Some(503), "p");
        add_one(&mut gathered, &block(), "", &r, r.sent.as_ref().unwrap());
        assert_eq!(gathered.by_request["r1"], ["t9", "t1"], "the split shows");
        assert!(
            gathered.traces["t1"].spans[0].is_error(),
            "a 503 is an error"
        );
        // A request nothing of which arrived adds nothing: no trace to judge.
        let mut empty = Gathered::default();
        let r = record("r2", None, "q");
        add_one(&mut empty, &block(), "", &r, r.sent.as_ref().unwrap());
        assert!(empty.traces.is_empty() && empty.by_request.is_empty());
    }
}
