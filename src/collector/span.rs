//! The collector's stored span: what every receiver (OTLP, Zipkin) turns a
//! payload into, and what the query API renders as Jaeger JSON.
//!
//! It keeps both the tags as Jaeger shows them and the raw attributes Jaeger
//! v2 searches (a `tag=` filter matches attributes, not derived tags such as
//! `span.kind`).

use std::sync::Arc;

use crate::jaeger::model::{self, KeyValue};

/// 128-bit trace id; Jaeger prints it as 16 hex digits when the high half is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

impl TraceId {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 16] = bytes.try_into().ok()?;
        let id = u128::from_be_bytes(arr);
        (id != 0).then_some(TraceId(id))
    }

    /// Jaeger's `TraceIDFromString`: up to 32 hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 32 {
            return None;
        }
        u128::from_str_radix(text, 16).ok().map(TraceId)
    }

    pub fn to_jaeger_string(self) -> String {
        let high = (self.0 >> 64) as u64;
        let low = self.0 as u64;
        if high == 0 {
            format!("{low:016x}")
        } else {
            format!("{high:016x}{low:016x}")
        }
    }
}

pub fn span_id_from_bytes(bytes: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = bytes.try_into().ok()?;
    let id = u64::from_be_bytes(arr);
    (id != 0).then_some(id)
}

pub fn span_id_string(id: u64) -> String {
    format!("{id:016x}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// Jaeger's name for the kind; empty for unspecified.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredRef {
    pub follows_from: bool,
    pub trace_id: TraceId,
    pub span_id: u64,
}

/// A process (Jaeger's name for a resource): service name plus tags.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProcess {
    pub service_name: String,
    pub tags: Vec<KeyValue>,
    /// Resource attributes as text, for tag searches.
    pub search_attrs: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpan {
    pub trace_id: TraceId,
    pub span_id: u64,
    pub references: Vec<StoredRef>,
    pub flags: u32,
    pub operation: String,
    pub kind: SpanKind,
    pub status: StatusCode,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub tags: Vec<KeyValue>,
    pub logs: Vec<model::Log>,
    pub process: Arc<StoredProcess>,
    /// Span, scope and event attributes as text, for tag searches.
    pub search_attrs: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

impl StoredSpan {
    pub fn start_us(&self) -> u64 {
        self.start_unix_nano / 1_000
    }

    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    pub fn duration_us(&self) -> u64 {
        self.duration_nanos() / 1_000
    }

    pub fn parent_span_id(&self) -> Option<u64> {
        self.references
            .iter()
            .find(|r| !r.follows_from && r.trace_id == self.trace_id)
            .map(|r| r.span_id)
    }

    /// Does any attribute (span, scope, event or resource) have this text value?
    pub fn has_attribute(&self, key: &str, value: &str) -> bool {
        self.search_attrs
            .iter()
            .chain(self.process.search_attrs.iter())
            .any(|(k, v)| k == key && v == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_prints_short_when_the_high_half_is_zero_as_jaeger_does() {
        assert_eq!(TraceId(0xabc).to_jaeger_string(), "0000000000000abc");
        assert_eq!(
            TraceId((1u128 << 64) | 2).to_jaeger_string(),
            "00000000000000010000000000000002"
        );
    }

    #[test]
    fn trace_id_parses_what_it_prints_and_rejects_junk() {
        let id = TraceId(0x1234_5678_9abc_def0_1234_5678_9abc_def0);
        assert_eq!(TraceId::parse(&id.to_jaeger_string()), Some(id));
        assert_eq!(TraceId::parse("xyz"), None);
        assert_eq!(TraceId::parse(""), None);
        assert_eq!(TraceId::parse(&"1".repeat(33)), None);
    }

    #[test]
    fn all_zero_ids_are_invalid() {
        assert_eq!(TraceId::from_bytes(&[0; 16]), None);
        assert_eq!(span_id_from_bytes(&[0; 8]), None);
        assert_eq!(span_id_from_bytes(&[1; 4]), None);
    }
}
