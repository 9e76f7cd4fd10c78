//! Traces the traffic starts itself, for requests to an external target:
//! a fresh trace id and parent span id per request, sampled, written in
//! the formats the target reads (W3C `traceparent`, B3, B3 single,
//! Jaeger's `uber-trace-id`). The trace id is then how the request's trace
//! is found, even in a system that does not pass `x-request-id` on.

use std::time::SystemTime;

use http::HeaderMap;

use super::normalize_trace_id;
use crate::scenario::model::HeaderFormat;

/// The context a request was sent with: its trace, and the span the
/// target's first span names as its parent (tracelab's client span).
#[derive(Debug, Clone, PartialEq)]
pub struct SentContext {
    /// As Jaeger prints trace ids.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// When the request left.
    pub at: SystemTime,
}

/// Start a trace for one request: its headers in `formats`, and what was
/// sent.
pub fn start(formats: &[HeaderFormat], headers: &mut HeaderMap) -> SentContext {
    let trace: u128 = loop {
        let id = rand::random::<u128>();
        // Both halves non-zero: no system reads it as a 64-bit id.
        if id >> 64 != 0 && id as u64 != 0 {
            break id;
        }
    };
    let span: u64 = loop {
        let id = rand::random::<u64>();
        if id != 0 {
            break id;
        }
    };
    write(formats, trace, span, headers);
    SentContext {
        trace_id: normalize_trace_id(&format!("{trace:032x}")),
        span_id: format!("{span:016x}"),
        at: SystemTime::now(),
    }
}

/// The headers of a sampled trace `trace` whose current span is `span`
/// (the root: no parent), written as the mesh's sidecars write them.
pub fn write(formats: &[HeaderFormat], trace: u128, span: u64, headers: &mut HeaderMap) {
    crate::propagation::write_ids(
        formats,
        trace.to_be_bytes(),
        span.to_be_bytes(),
        None,
        true,
        headers,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_carries_the_same_sampled_trace_and_span() {
        let mut headers = HeaderMap::new();
        let all = [
            HeaderFormat::W3c,
            HeaderFormat::B3,
            HeaderFormat::B3Single,
            HeaderFormat::Jaeger,
        ];
        write(
            &all,
            0x4bf92f3577b34da6a3ce929d0e0e4736,
            0x00f067aa0ba902b7,
            &mut headers,
        );
        let get = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_string();
        assert_eq!(
            get("traceparent"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(get("x-b3-traceid"), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(get("x-b3-spanid"), "00f067aa0ba902b7");
        assert_eq!(get("x-b3-sampled"), "1");
        assert_eq!(
            get("b3"),
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"
        );
        assert_eq!(
            get("uber-trace-id"),
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"
        );
    }

    #[test]
    fn a_started_trace_is_named_as_jaeger_names_it_and_only_the_asked_formats_go_out() {
        let mut headers = HeaderMap::new();
        let sent = start(&[HeaderFormat::W3c], &mut headers);
        assert_eq!(sent.trace_id.len(), 32);
        assert_eq!(sent.span_id.len(), 16);
        let traceparent = headers.get("traceparent").unwrap().to_str().unwrap();
        assert!(traceparent.contains(&sent.trace_id) && traceparent.contains(&sent.span_id));
        assert_eq!(headers.len(), 1);
        let mut none = HeaderMap::new();
        start(&[], &mut none);
        assert!(none.is_empty());
    }
}
