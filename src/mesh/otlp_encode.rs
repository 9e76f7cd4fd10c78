//! OTLP/protobuf encoding of the SDK's finished spans: an
//! `ExportTraceServiceRequest` written straight from borrowed `SpanData`.
//!
//! The SDK's OTLP exporter first converts each span into
//! `opentelemetry-proto`'s structs (every tag key and value copied into a
//! `String` of its own), then encodes those: for the mesh's spans of ~15
//! tags, 6.4 µs a span against 1.1 µs here, in one run; writing each byte
//! once took a tenth more off. The bytes are the ones prost writes for the
//! converted request (tests compare them byte for byte), so any OTLP
//! receiver reads them alike.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{Event, Link, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use prost::encoding::{WireType, encode_varint, encoded_len_varint, key_len};

/// `Span.flags`: the W3C trace flags, plus "whether the parent is remote is
/// known" and, when it is remote, that bit (as the SDK's conversion sets them).
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

/// The flags field of a span or link: its trace flags, and whether the
/// other end (parent or linked span) is remote.
fn span_flags(trace_flags: opentelemetry::trace::TraceFlags, remote: bool) -> u32 {
    let remote = if remote { FLAG_IS_REMOTE } else { 0 };
    u32::from(trace_flags.to_u8()) | FLAG_HAS_IS_REMOTE | remote
}

/// A component's resource, encoded once (it is the same on every export).
#[derive(Debug, Default, Clone)]
pub struct EncodedResource {
    /// The `Resource` message's fields.
    message: Vec<u8>,
    schema_url: String,
}

impl EncodedResource {
    pub fn new(resource: &Resource) -> Self {
        let mut message = Vec::new();
        for (key, value) in resource.iter() {
            write_key_value(&mut message, 1, key.as_str(), value);
        }
        EncodedResource {
            message,
            schema_url: resource.schema_url().unwrap_or_default().to_string(),
        }
    }
}

/// The export request for `spans`, one `ScopeSpans` per instrumentation
/// scope in the order the scopes first appear. Every length is worked out
/// first, so each byte is written once, into a buffer of the exact size
/// (nesting by copying would move each span three more times).
pub fn export_request(resource: &EncodedResource, spans: &[SpanData]) -> Vec<u8> {
    // Each scope, encoded, with its spans' length; each span's scope and length.
    let mut scopes: Vec<(&InstrumentationScope, Vec<u8>, usize)> = Vec::new();
    let mut placed: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for span in spans {
        let scope = &span.instrumentation_scope;
        let at = match scopes.iter().position(|(s, ..)| *s == scope) {
            Some(at) => at,
            None => {
                scopes.push((scope, encode_scope(scope), 0));
                scopes.len() - 1
            }
        };
        let len = span_len(span);
        scopes[at].2 += message_len(2, len);
        placed.push((at, len));
    }
    let scope_spans_len =
        |(scope, encoded, spans_len): &(&InstrumentationScope, Vec<u8>, usize)| {
            message_len(1, encoded.len())
                + spans_len
                + string_len(3, scope.schema_url().unwrap_or_default())
        };
    let resource_spans_len = message_len(1, resource.message.len())
        + scopes
            .iter()
            .map(|scope| message_len(2, scope_spans_len(scope)))
            .sum::<usize>()
        + string_len(3, &resource.schema_url);
    let mut out = Vec::with_capacity(message_len(1, resource_spans_len));
    field_key(&mut out, 1, WireType::LengthDelimited);
    varint(&mut out, resource_spans_len as u64);
    write_message(&mut out, 1, &resource.message);
    for (index, scope) in scopes.iter().enumerate() {
        field_key(&mut out, 2, WireType::LengthDelimited);
        varint(&mut out, scope_spans_len(scope) as u64);
        write_message(&mut out, 1, &scope.1);
        for (span, &(at, len)) in spans.iter().zip(&placed) {
            if at == index {
                field_key(&mut out, 2, WireType::LengthDelimited);
                varint(&mut out, len as u64);
                encode_span(&mut out, span);
            }
        }
        write_string(&mut out, 3, scope.0.schema_url().unwrap_or_default());
    }
    write_string(&mut out, 3, &resource.schema_url);
    debug_assert_eq!(out.len(), out.capacity(), "every length worked out right");
    out
}

fn encode_scope(scope: &InstrumentationScope) -> Vec<u8> {
    let mut out = Vec::new();
    write_string(&mut out, 1, scope.name());
    write_string(&mut out, 2, scope.version().unwrap_or_default());
    for kv in scope.attributes() {
        write_key_value(&mut out, 3, kv.key.as_str(), &kv.value);
    }
    out
}

/// The `Span` message's fields, in tag order as prost writes them.
fn encode_span(out: &mut Vec<u8>, span: &SpanData) {
    let context = &span.span_context;
    write_bytes(out, 1, &context.trace_id().to_bytes());
    write_bytes(out, 2, &context.span_id().to_bytes());
    write_string(out, 3, &context.trace_state().header());
    if span.parent_span_id != opentelemetry::trace::SpanId::INVALID {
        write_bytes(out, 4, &span.parent_span_id.to_bytes());
    }
    write_string(out, 5, &span.name);
    write_varint(out, 6, kind_number(&span.span_kind));
    write_fixed64(out, 7, nanos(span.start_time));
    write_fixed64(out, 8, nanos(span.end_time));
    for kv in &span.attributes {
        write_key_value(out, 9, kv.key.as_str(), &kv.value);
    }
    write_varint(out, 10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        write_event(out, event);
    }
    write_varint(out, 12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        write_link(out, link);
    }
    write_varint(out, 14, u64::from(span.links.dropped_count));
    let (code, message) = status_fields(&span.status);
    let status_len = string_len(2, message) + varint_field_len(3, code);
    field_key(out, 15, WireType::LengthDelimited);
    varint(out, status_len as u64);
    write_string(out, 2, message);
    write_varint(out, 3, code);
    write_fixed32(
        out,
        16,
        span_flags(context.trace_flags(), span.parent_span_is_remote),
    );
}

/// The length of the `Span` message [`encode_span`] writes.
fn span_len(span: &SpanData) -> usize {
    let context = &span.span_context;
    let parent = if span.parent_span_id == opentelemetry::trace::SpanId::INVALID {
        0
    } else {
        bytes_len(4, 8)
    };
    let (code, message) = status_fields(&span.status);
    bytes_len(1, 16)
        + bytes_len(2, 8)
        + string_len(3, &context.trace_state().header())
        + parent
        + string_len(5, &span.name)
        + varint_field_len(6, kind_number(&span.span_kind))
        + fixed64_len(7, nanos(span.start_time))
        + fixed64_len(8, nanos(span.end_time))
        + attributes_len(9, &span.attributes)
        + varint_field_len(10, u64::from(span.dropped_attributes_count))
        + span
            .events
            .iter()
            .map(|e| message_len(11, event_len(e)))
            .sum::<usize>()
        + varint_field_len(12, u64::from(span.events.dropped_count))
        + span
            .links
            .iter()
            .map(|l| message_len(13, link_len(l)))
            .sum::<usize>()
        + varint_field_len(14, u64::from(span.links.dropped_count))
        + message_len(15, string_len(2, message) + varint_field_len(3, code))
        + key_len(16)
        + 4
}

fn status_fields(status: &Status) -> (u64, &str) {
    match status {
        Status::Unset => (0, ""),
        Status::Ok => (1, ""),
        Status::Error { description } => (2, description.as_ref()),
    }
}

fn event_len(event: &Event) -> usize {
    fixed64_len(1, nanos(event.timestamp))
        + string_len(2, &event.name)
        + attributes_len(3, &event.attributes)
        + varint_field_len(4, u64::from(event.dropped_attributes_count))
}

fn write_event(out: &mut Vec<u8>, event: &Event) {
    let time = nanos(event.timestamp);
    field_key(out, 11, WireType::LengthDelimited);
    varint(out, event_len(event) as u64);
    write_fixed64(out, 1, time);
    write_string(out, 2, &event.name);
    for kv in &event.attributes {
        write_key_value(out, 3, kv.key.as_str(), &kv.value);
    }
    write_varint(out, 4, u64::from(event.dropped_attributes_count));
}

fn link_len(link: &Link) -> usize {
    bytes_len(1, 16)
        + bytes_len(2, 8)
        + string_len(3, &link.span_context.trace_state().header())
        + attributes_len(4, &link.attributes)
        + varint_field_len(5, u64::from(link.dropped_attributes_count))
        + key_len(6)
        + 4
}

fn write_link(out: &mut Vec<u8>, link: &Link) {
    let context = &link.span_context;
    let trace_state = context.trace_state().header();
    let flags = span_flags(context.trace_flags(), context.is_remote());
    field_key(out, 13, WireType::LengthDelimited);
    varint(out, link_len(link) as u64);
    write_bytes(out, 1, &context.trace_id().to_bytes());
    write_bytes(out, 2, &context.span_id().to_bytes());
    write_string(out, 3, &trace_state);
    for kv in &link.attributes {
        write_key_value(out, 4, kv.key.as_str(), &kv.value);
    }
    write_varint(out, 5, u64::from(link.dropped_attributes_count));
    write_fixed32(out, 6, flags);
}

fn kind_number(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A varint, its one-byte case inline: nearly every tag and length here is
/// under 128, and prost's general writer is a call and a loop.
#[inline(always)]
fn varint(out: &mut Vec<u8>, value: u64) {
    if value < 0x80 {
        out.push(value as u8);
    } else {
        encode_varint(value, out);
    }
}

#[inline(always)]
fn field_key(out: &mut Vec<u8>, tag: u32, wire_type: WireType) {
    varint(out, u64::from(tag << 3 | wire_type as u32));
}

// Field writers. proto3 leaves out a scalar field at its default value, as
// prost does; messages (and a oneof's value) are always written.

fn write_message(out: &mut Vec<u8>, tag: u32, body: &[u8]) {
    field_key(out, tag, WireType::LengthDelimited);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn write_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        write_message(out, tag, bytes);
    }
}

fn write_string(out: &mut Vec<u8>, tag: u32, text: &str) {
    write_bytes(out, tag, text.as_bytes());
}

fn write_varint(out: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        field_key(out, tag, WireType::Varint);
        varint(out, value);
    }
}

fn write_fixed64(out: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        field_key(out, tag, WireType::SixtyFourBit);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn write_fixed32(out: &mut Vec<u8>, tag: u32, value: u32) {
    if value != 0 {
        field_key(out, tag, WireType::ThirtyTwoBit);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// A `KeyValue` message as field `tag`.
fn write_key_value(out: &mut Vec<u8>, tag: u32, key: &str, value: &Value) {
    let value_len = any_value_len(value);
    let len = string_len(1, key) + message_len(2, value_len);
    field_key(out, tag, WireType::LengthDelimited);
    varint(out, len as u64);
    write_string(out, 1, key);
    field_key(out, 2, WireType::LengthDelimited);
    varint(out, value_len as u64);
    write_any_value(out, value);
}

/// An `AnyValue` message's fields: its oneof, written even at its default.
fn write_any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => {
            field_key(out, 2, WireType::Varint);
            varint(out, u64::from(*b));
        }
        Value::I64(i) => {
            field_key(out, 3, WireType::Varint);
            varint(out, *i as u64);
        }
        Value::F64(f) => {
            field_key(out, 4, WireType::SixtyFourBit);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::String(s) => {
            field_key(out, 1, WireType::LengthDelimited);
            varint(out, s.as_str().len() as u64);
            out.extend_from_slice(s.as_str().as_bytes());
        }
        Value::Array(array) => {
            field_key(out, 5, WireType::LengthDelimited);
            varint(out, array_len(array) as u64);
            for_each_element(array, |element| {
                field_key(out, 1, WireType::LengthDelimited);
                varint(out, any_value_len(&element) as u64);
                write_any_value(out, &element);
            });
        }
        // A kind of value newer than this encoder: an empty `AnyValue`.
        _ => {}
    }
}

fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Bool(_) => key_len(2) + 1,
        Value::I64(i) => key_len(3) + encoded_len_varint(*i as u64),
        Value::F64(_) => key_len(4) + 8,
        Value::String(s) => message_len(1, s.as_str().len()),
        Value::Array(array) => message_len(5, array_len(array)),
        _ => 0,
    }
}

/// The `ArrayValue` message's length: its elements as `AnyValue`s.
fn array_len(array: &Array) -> usize {
    let mut len = 0;
    for_each_element(array, |element| {
        len += message_len(1, any_value_len(&element));
    });
    len
}

fn for_each_element(array: &Array, mut each: impl FnMut(Value)) {
    match array {
        Array::Bool(v) => v.iter().for_each(|b| each(Value::Bool(*b))),
        Array::I64(v) => v.iter().for_each(|i| each(Value::I64(*i))),
        Array::F64(v) => v.iter().for_each(|f| each(Value::F64(*f))),
        Array::String(v) => v.iter().for_each(|s| each(Value::String(s.clone()))),
        _ => {}
    }
}

fn attributes_len(tag: u32, attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| {
            let key = kv.key.as_str();
            message_len(
                tag,
                string_len(1, key) + message_len(2, any_value_len(&kv.value)),
            )
        })
        .sum()
}

fn message_len(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn bytes_len(tag: u32, len: usize) -> usize {
    if len == 0 { 0 } else { message_len(tag, len) }
}

fn string_len(tag: u32, text: &str) -> usize {
    bytes_len(tag, text.len())
}

fn varint_field_len(tag: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(value)
    }
}

fn fixed64_len(tag: u32, value: u64) -> usize {
    if value == 0 { 0 } else { key_len(tag) + 8 }
}

#[cfg(test)]
mod tests;
