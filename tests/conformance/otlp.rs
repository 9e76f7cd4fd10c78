//! Building OTLP export requests by hand, so a test can say exactly which
//! span features it sends.

#![allow(dead_code)] // each test uses a different subset

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

pub fn value(v: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(v) })
}

pub fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value(v),
        ..Default::default()
    }
}

pub fn s(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

pub fn i(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

pub fn f(key: &str, v: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(v))
}

pub fn b(key: &str, v: bool) -> KeyValue {
    kv(key, any_value::Value::BoolValue(v))
}

pub fn bytes(key: &str, v: &[u8]) -> KeyValue {
    kv(key, any_value::Value::BytesValue(v.to_vec()))
}

pub fn array(key: &str, values: Vec<any_value::Value>) -> KeyValue {
    kv(
        key,
        any_value::Value::ArrayValue(ArrayValue {
            values: values
                .into_iter()
                .map(|v| AnyValue { value: Some(v) })
                .collect(),
        }),
    )
}

pub fn map(key: &str, values: Vec<KeyValue>) -> KeyValue {
    kv(key, any_value::Value::KvlistValue(KeyValueList { values }))
}

/// An attribute with no value at all.
pub fn empty(key: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: None,
        ..Default::default()
    }
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A trace id whose low half is `low` and high half `high`.
pub fn trace_id(high: u64, low: u64) -> Vec<u8> {
    let mut id = high.to_be_bytes().to_vec();
    id.extend_from_slice(&low.to_be_bytes());
    id
}

/// Jaeger's text for a trace id (16 hex digits when the high half is 0).
pub fn trace_hex(high: u64, low: u64) -> String {
    if high == 0 {
        format!("{low:016x}")
    } else {
        format!("{high:016x}{low:016x}")
    }
}

pub fn span_id(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// `offset_ms` after `base_ns`.
pub fn at(base_ns: u64, offset_ms: u64) -> u64 {
    base_ns + offset_ms * 1_000_000
}

/// A span starting at `start` (ns) and lasting `duration_us`.
pub fn span(
    trace: &[u8],
    id: u64,
    parent: Option<u64>,
    name: &str,
    kind: SpanKind,
    start: u64,
    duration_us: u64,
) -> Span {
    Span {
        trace_id: trace.to_vec(),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id).unwrap_or_default(),
        name: name.into(),
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration_us * 1_000,
        ..Default::default()
    }
}

pub fn status(code: StatusCode, message: &str) -> Option<Status> {
    Some(Status {
        code: code as i32,
        message: message.into(),
    })
}

pub fn event(name: &str, time_ns: u64, attributes: Vec<KeyValue>) -> Event {
    Event {
        time_unix_nano: time_ns,
        name: name.into(),
        attributes,
        dropped_attributes_count: 0,
    }
}

pub fn link(trace: &[u8], span: u64, attributes: Vec<KeyValue>) -> Link {
    Link {
        trace_id: trace.to_vec(),
        span_id: span_id(span),
        attributes,
        ..Default::default()
    }
}

pub fn scope(name: &str, version: &str, attributes: Vec<KeyValue>) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        version: version.into(),
        attributes,
        dropped_attributes_count: 0,
    })
}

/// Spans of one resource under one scope.
pub fn resource_spans(
    resource: Vec<KeyValue>,
    scope: Option<InstrumentationScope>,
    spans: Vec<Span>,
) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: resource,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope,
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// A service's resource: `service.name` plus `extra`.
pub fn service(name: &str, extra: Vec<KeyValue>) -> Vec<KeyValue> {
    let mut attrs = vec![s("service.name", name)];
    attrs.extend(extra);
    attrs
}

pub fn request(resource_spans: Vec<ResourceSpans>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest { resource_spans }
}
