//! Jaeger batches built by hand and encoded as Jaeger's clients send them:
//! `jaeger.thrift` in the binary protocol (HTTP on 14268) or wrapped in an
//! `Agent.emitBatch` message in the compact or binary protocol (UDP 6831,
//! 6832), and `api_v2` protobuf (gRPC 14250). The thrift is written here
//! field by field from jaeger.thrift, independently of the decoder under
//! test; both sides of a conformance test get the same bytes.

#![allow(dead_code)] // each test uses a different subset

use thrift::protocol::{
    TBinaryOutputProtocol, TCompactOutputProtocol, TFieldIdentifier, TListIdentifier,
    TMessageIdentifier, TMessageType, TOutputProtocol, TStructIdentifier, TType,
};
use tracelab::collector::intake::jaeger_grpc as pb;

#[derive(Debug, Clone)]
pub enum Value {
    Str(String),
    Double(f64),
    Bool(bool),
    Long(i64),
    Binary(Vec<u8>),
    /// A type number jaeger.thrift does not define.
    Unknown(i32),
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub key: String,
    pub value: Value,
}

pub fn s(key: &str, v: &str) -> Tag {
    Tag {
        key: key.into(),
        value: Value::Str(v.into()),
    }
}
pub fn long(key: &str, v: i64) -> Tag {
    Tag {
        key: key.into(),
        value: Value::Long(v),
    }
}
pub fn double(key: &str, v: f64) -> Tag {
    Tag {
        key: key.into(),
        value: Value::Double(v),
    }
}
pub fn boolean(key: &str, v: bool) -> Tag {
    Tag {
        key: key.into(),
        value: Value::Bool(v),
    }
}
pub fn binary(key: &str, v: &[u8]) -> Tag {
    Tag {
        key: key.into(),
        value: Value::Binary(v.to_vec()),
    }
}
pub fn unknown_type(key: &str, type_number: i32) -> Tag {
    Tag {
        key: key.into(),
        value: Value::Unknown(type_number),
    }
}

/// CHILD_OF 0, FOLLOWS_FROM 1 (anything else is kept as sent).
#[derive(Debug, Clone)]
pub struct Ref {
    pub ref_type: i32,
    pub trace_high: i64,
    pub trace_low: i64,
    pub span_id: i64,
}

#[derive(Debug, Clone)]
pub struct Log {
    pub timestamp_us: i64,
    pub fields: Vec<Tag>,
}

#[derive(Debug, Clone)]
pub struct Process {
    pub service: String,
    pub tags: Vec<Tag>,
}

pub fn process(service: &str, tags: Vec<Tag>) -> Process {
    Process {
        service: service.into(),
        tags,
    }
}

#[derive(Debug, Clone, Default)]
pub struct Span {
    pub trace_high: i64,
    pub trace_low: i64,
    pub span_id: i64,
    /// Thrift's `parentSpanId`; protobuf gets it as a CHILD_OF reference.
    pub parent: i64,
    pub operation: String,
    pub refs: Option<Vec<Ref>>,
    pub flags: i32,
    pub start_us: i64,
    pub duration_us: i64,
    pub tags: Option<Vec<Tag>>,
    pub logs: Option<Vec<Log>>,
    /// Protobuf only: the span's own process.
    pub process: Option<Process>,
}

pub fn span(trace_low: i64, id: i64, parent: i64, operation: &str, start_us: i64) -> Span {
    Span {
        trace_low,
        span_id: id,
        parent,
        operation: operation.into(),
        flags: 1,
        start_us,
        duration_us: 1_000,
        tags: Some(Vec::new()),
        ..Default::default()
    }
}

#[derive(Debug, Clone)]
pub struct Batch {
    pub process: Process,
    pub spans: Vec<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Binary,
    Compact,
}

/// A `Batch` as the body of `POST /api/traces` (binary protocol).
pub fn thrift_body(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::new();
    write_batch(&mut TBinaryOutputProtocol::new(&mut out, true), batch);
    out
}

/// One UDP datagram: `Agent.emitBatch(batch)`, oneway.
pub fn emit_batch(batch: &Batch, protocol: Protocol) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut p: Box<dyn TOutputProtocol + '_> = match protocol {
            Protocol::Binary => Box::new(TBinaryOutputProtocol::new(&mut out, true)),
            Protocol::Compact => Box::new(TCompactOutputProtocol::new(&mut out)),
        };
        p.write_message_begin(&TMessageIdentifier::new(
            "emitBatch",
            TMessageType::OneWay,
            1,
        ))
        .unwrap();
        p.write_struct_begin(&TStructIdentifier::new("Agent_emitBatch_args"))
            .unwrap();
        field(p.as_mut(), TType::Struct, 1);
        write_batch(p.as_mut(), batch);
        p.write_field_end().unwrap();
        p.write_field_stop().unwrap();
        p.write_struct_end().unwrap();
        p.write_message_end().unwrap();
        p.flush().unwrap();
    }
    out
}

fn field(p: &mut dyn TOutputProtocol, ty: TType, id: i16) {
    p.write_field_begin(&TFieldIdentifier::new("f", ty, id))
        .unwrap();
}

fn struct_begin(p: &mut dyn TOutputProtocol) {
    p.write_struct_begin(&TStructIdentifier::new("s")).unwrap();
}

fn struct_end(p: &mut dyn TOutputProtocol) {
    p.write_field_stop().unwrap();
    p.write_struct_end().unwrap();
}

fn i64_field(p: &mut dyn TOutputProtocol, id: i16, v: i64) {
    field(p, TType::I64, id);
    p.write_i64(v).unwrap();
    p.write_field_end().unwrap();
}

fn list<T>(
    p: &mut dyn TOutputProtocol,
    id: i16,
    items: &[T],
    mut write: impl FnMut(&mut dyn TOutputProtocol, &T),
) {
    field(p, TType::List, id);
    p.write_list_begin(&TListIdentifier::new(TType::Struct, items.len() as i32))
        .unwrap();
    for item in items {
        write(p, item);
    }
    p.write_list_end().unwrap();
    p.write_field_end().unwrap();
}

fn write_batch(p: &mut dyn TOutputProtocol, batch: &Batch) {
    struct_begin(p);
    field(p, TType::Struct, 1);
    write_process(p, &batch.process);
    p.write_field_end().unwrap();
    list(p, 2, &batch.spans, write_span);
    struct_end(p);
}

fn write_process(p: &mut dyn TOutputProtocol, process: &Process) {
    struct_begin(p);
    field(p, TType::String, 1);
    p.write_string(&process.service).unwrap();
    p.write_field_end().unwrap();
    list(p, 2, &process.tags, write_tag);
    struct_end(p);
}

fn write_span(p: &mut dyn TOutputProtocol, span: &Span) {
    struct_begin(p);
    i64_field(p, 1, span.trace_low);
    i64_field(p, 2, span.trace_high);
    i64_field(p, 3, span.span_id);
    i64_field(p, 4, span.parent);
    field(p, TType::String, 5);
    p.write_string(&span.operation).unwrap();
    p.write_field_end().unwrap();
    if let Some(refs) = &span.refs {
        list(p, 6, refs, |p, r| {
            struct_begin(p);
            field(p, TType::I32, 1);
            p.write_i32(r.ref_type).unwrap();
            p.write_field_end().unwrap();
            i64_field(p, 2, r.trace_low);
            i64_field(p, 3, r.trace_high);
            i64_field(p, 4, r.span_id);
            struct_end(p);
        });
    }
    field(p, TType::I32, 7);
    p.write_i32(span.flags).unwrap();
    p.write_field_end().unwrap();
    i64_field(p, 8, span.start_us);
    i64_field(p, 9, span.duration_us);
    if let Some(tags) = &span.tags {
        list(p, 10, tags, write_tag);
    }
    if let Some(logs) = &span.logs {
        list(p, 11, logs, |p, log| {
            struct_begin(p);
            i64_field(p, 1, log.timestamp_us);
            list(p, 2, &log.fields, write_tag);
            struct_end(p);
        });
    }
    struct_end(p);
}

fn write_tag(p: &mut dyn TOutputProtocol, tag: &Tag) {
    struct_begin(p);
    field(p, TType::String, 1);
    p.write_string(&tag.key).unwrap();
    p.write_field_end().unwrap();
    let type_number = match tag.value {
        Value::Str(_) => 0,
        Value::Double(_) => 1,
        Value::Bool(_) => 2,
        Value::Long(_) => 3,
        Value::Binary(_) => 4,
        Value::Unknown(n) => n,
    };
    field(p, TType::I32, 2);
    p.write_i32(type_number).unwrap();
    p.write_field_end().unwrap();
    match &tag.value {
        Value::Str(v) => {
            field(p, TType::String, 3);
            p.write_string(v).unwrap();
        }
        Value::Double(v) => {
            field(p, TType::Double, 4);
            p.write_double(*v).unwrap();
        }
        Value::Bool(v) => {
            field(p, TType::Bool, 5);
            p.write_bool(*v).unwrap();
        }
        Value::Long(v) => {
            field(p, TType::I64, 6);
            p.write_i64(*v).unwrap();
        }
        Value::Binary(v) => {
            field(p, TType::String, 7);
            p.write_bytes(v).unwrap();
        }
        // An unknown type with a string beside it.
        Value::Unknown(_) => {
            field(p, TType::String, 3);
            p.write_string("beside an unknown type").unwrap();
        }
    }
    p.write_field_end().unwrap();
    struct_end(p);
}

/// The batch as `PostSpansRequest` (a thrift parent becomes a CHILD_OF
/// reference in front of the others, as Jaeger's agent converts it).
pub fn post_spans(batch: &Batch) -> pb::PostSpansRequest {
    pb::PostSpansRequest {
        batch: Some(pb::ProtoBatch {
            spans: batch.spans.iter().map(proto_span).collect(),
            process: Some(proto_process(&batch.process)),
        }),
    }
}

fn proto_process(process: &Process) -> pb::ProtoProcess {
    pb::ProtoProcess {
        service_name: process.service.clone(),
        tags: process.tags.iter().map(proto_tag).collect(),
    }
}

fn trace_bytes(high: i64, low: i64) -> Vec<u8> {
    [high.to_be_bytes(), low.to_be_bytes()].concat()
}

fn timestamp(us: i64) -> pb::Timestamp {
    pb::Timestamp {
        seconds: us.div_euclid(1_000_000),
        nanos: (us.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

fn proto_span(span: &Span) -> pb::ProtoSpan {
    let mut references = Vec::new();
    if span.parent != 0 {
        references.push(pb::ProtoSpanRef {
            trace_id: Some(trace_bytes(span.trace_high, span.trace_low)),
            span_id: Some(span.parent.to_be_bytes().to_vec()),
            ref_type: 0,
        });
    }
    for r in span.refs.iter().flatten() {
        references.push(pb::ProtoSpanRef {
            trace_id: Some(trace_bytes(r.trace_high, r.trace_low)),
            span_id: Some(r.span_id.to_be_bytes().to_vec()),
            ref_type: r.ref_type,
        });
    }
    pb::ProtoSpan {
        trace_id: Some(trace_bytes(span.trace_high, span.trace_low)),
        span_id: Some(span.span_id.to_be_bytes().to_vec()),
        operation_name: span.operation.clone(),
        references,
        flags: span.flags as u32,
        start_time: Some(timestamp(span.start_us)),
        duration: Some(pb::Duration {
            seconds: span.duration_us / 1_000_000,
            nanos: ((span.duration_us % 1_000_000) * 1_000) as i32,
        }),
        tags: span.tags.iter().flatten().map(proto_tag).collect(),
        logs: span
            .logs
            .iter()
            .flatten()
            .map(|log| pb::ProtoLog {
                timestamp: Some(timestamp(log.timestamp_us)),
                fields: log.fields.iter().map(proto_tag).collect(),
            })
            .collect(),
        process: span.process.as_ref().map(proto_process),
        ..Default::default()
    }
}

fn proto_tag(tag: &Tag) -> pb::KeyValue {
    let mut kv = pb::KeyValue {
        key: tag.key.clone(),
        ..Default::default()
    };
    match &tag.value {
        Value::Str(v) => kv.v_str = v.clone(),
        Value::Bool(v) => {
            kv.v_type = 1;
            kv.v_bool = *v;
        }
        Value::Long(v) => {
            kv.v_type = 2;
            kv.v_int64 = *v;
        }
        Value::Double(v) => {
            kv.v_type = 3;
            kv.v_float64 = *v;
        }
        Value::Binary(v) => {
            kv.v_type = 4;
            kv.v_binary = v.clone();
        }
        Value::Unknown(n) => {
            kv.v_type = *n;
            kv.v_str = "beside an unknown type".into();
        }
    }
    kv
}
