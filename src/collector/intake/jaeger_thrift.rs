//! `jaeger.thrift`'s `Batch` read from a thrift protocol (binary over HTTP
//! on 14268, compact or binary in the UDP agent's `emitBatch`), as Jaeger's
//! generated Go code reads it: required fields checked, a field of the
//! wrong type skipped, unknown fields skipped, the last of a repeated field
//! kept. The protocols themselves are Apache Thrift's crate, limited so
//! that no length in the data makes it allocate more than the data's size.
//!
//! Strings are Go strings there (any bytes); they are kept as text with
//! each byte that is not UTF-8 replaced by U+FFFD, as Jaeger's JSON shows them.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use thrift::protocol::{TBinaryInputProtocol, TCompactInputProtocol, TInputProtocol, TType};
use thrift::{TConfiguration, TransportErrorKind};

use super::jaeger_model::{
    Batch, Log, Process, RefType, Span, SpanRef, Tag, Value, thrift_to_otlp,
};

/// Why thrift data was refused.
#[derive(Debug, thiserror::Error)]
pub enum ThriftError {
    #[error("the thrift data ends before the batch does (truncated?)")]
    Truncated,
    #[error("{0}")]
    Protocol(thrift::Error),
    #[error("Required field {0} is not set")]
    MissingField(&'static str),
}

impl From<thrift::Error> for ThriftError {
    fn from(e: thrift::Error) -> Self {
        match &e {
            thrift::Error::Transport(t) if t.kind == TransportErrorKind::EndOfFile => {
                ThriftError::Truncated
            }
            _ => ThriftError::Protocol(e),
        }
    }
}

type Result<T> = std::result::Result<T, ThriftError>;

/// The two thrift encodings Jaeger's agent ports speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// TCompactProtocol (the agent's 6831).
    Compact,
    /// TBinaryProtocol (the agent's 6832, and HTTP on 14268).
    Binary,
}

/// Limits that keep every allocation within the input's size.
fn config_for(input: &[u8]) -> TConfiguration {
    let len = input.len().max(1);
    TConfiguration::builder()
        .max_message_size(Some(len))
        .max_frame_size(None)
        .max_string_size(Some(len))
        .max_container_size(Some(len))
        .build()
        .expect("a frame size of None is always valid")
}

/// A protocol reading `input` in `encoding`.
pub fn protocol<'a>(input: &'a [u8], encoding: Encoding) -> Box<dyn TInputProtocol + 'a> {
    let config = config_for(input);
    match encoding {
        Encoding::Compact => Box::new(TCompactInputProtocol::with_config(input, config)),
        // Not strict: Jaeger's Go agent takes messages with or without the
        // version word.
        Encoding::Binary => Box::new(TBinaryInputProtocol::with_config(input, false, config)),
    }
}

/// The body of `POST /api/traces` (14268): one binary-encoded `Batch`,
/// translated to OTLP as Jaeger's receiver does.
pub fn decode_http_body(body: &[u8]) -> Result<ExportTraceServiceRequest> {
    let mut input = protocol(body, Encoding::Binary);
    let batch = read_batch(input.as_mut())?;
    Ok(thrift_to_otlp(batch))
}

/// Go's view of bytes as a string, shown as its JSON shows it: each byte
/// that is not part of valid UTF-8 becomes U+FFFD.
pub fn go_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let bytes = e.into_bytes();
            let mut text = String::with_capacity(bytes.len() + 8);
            let mut rest = bytes.as_slice();
            loop {
                match std::str::from_utf8(rest) {
                    Ok(valid) => {
                        text.push_str(valid);
                        return text;
                    }
                    Err(e) => {
                        let (valid, after) = rest.split_at(e.valid_up_to());
                        text.push_str(std::str::from_utf8(valid).expect("checked valid"));
                        let bad = e.error_len().unwrap_or(after.len());
                        text.extend(std::iter::repeat_n('\u{FFFD}', bad));
                        rest = &after[bad..];
                    }
                }
            }
        }
    }
}

/// Read a struct: `field(protocol, id, type)` reads the fields it knows
/// (answering true) and the rest are skipped.
fn read_struct(
    p: &mut dyn TInputProtocol,
    mut field: impl FnMut(&mut dyn TInputProtocol, i16, TType) -> Result<bool>,
) -> Result<()> {
    p.read_struct_begin()?;
    loop {
        let ident = p.read_field_begin()?;
        if ident.field_type == TType::Stop {
            break;
        }
        let id = ident.id.unwrap_or(0);
        if !field(p, id, ident.field_type)? {
            p.skip(ident.field_type)?;
        }
        p.read_field_end()?;
    }
    p.read_struct_end()?;
    Ok(())
}

fn read_string(p: &mut dyn TInputProtocol) -> Result<String> {
    Ok(go_string(p.read_bytes()?))
}

/// A list of structs; Go reads each element as the struct whatever type
/// the list header declares, and so does this.
fn read_list<T>(
    p: &mut dyn TInputProtocol,
    mut element: impl FnMut(&mut dyn TInputProtocol) -> Result<T>,
) -> Result<Vec<T>> {
    let ident = p.read_list_begin()?;
    let size = usize::try_from(ident.size).unwrap_or(0);
    // Each element takes at least a byte: the limit on containers bounds this.
    let mut items = Vec::with_capacity(size.min(1024));
    for _ in 0..size {
        items.push(element(p)?);
    }
    p.read_list_end()?;
    Ok(items)
}

fn require<T>(value: Option<T>, name: &'static str) -> Result<T> {
    value.ok_or(ThriftError::MissingField(name))
}

pub fn read_batch(p: &mut dyn TInputProtocol) -> Result<Batch> {
    let mut process = None;
    let mut spans = None;
    read_struct(p, |p, id, ty| {
        match (id, ty) {
            (1, TType::Struct) => process = Some(read_process(p)?),
            (2, TType::List) => spans = Some(read_list(p, read_span)?),
            // seqNo: read, unused.
            (3, TType::I64) => {
                p.read_i64()?;
            }
            (4, TType::Struct) => read_client_stats(p)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let process = require(process, "Process")?;
    let spans = require(spans, "Spans")?;
    Ok(Batch {
        process: Some(process),
        spans: spans.into_iter().flatten().collect(),
    })
}

/// Unused, but Jaeger refuses a batch whose stats miss a field.
fn read_client_stats(p: &mut dyn TInputProtocol) -> Result<()> {
    let mut set = [false; 3];
    read_struct(p, |p, id, ty| match (id, ty) {
        (1..=3, TType::I64) => {
            p.read_i64()?;
            set[id as usize - 1] = true;
            Ok(true)
        }
        _ => Ok(false),
    })?;
    for (is_set, name) in set.iter().zip([
        "FullQueueDroppedSpans",
        "TooLargeDroppedSpans",
        "FailedToEmitSpans",
    ]) {
        if !is_set {
            return Err(ThriftError::MissingField(name));
        }
    }
    Ok(())
}

fn read_process(p: &mut dyn TInputProtocol) -> Result<Process> {
    let mut service_name = None;
    let mut tags = Vec::new();
    read_struct(p, |p, id, ty| {
        match (id, ty) {
            (1, TType::String) => service_name = Some(read_string(p)?),
            (2, TType::List) => tags = read_list(p, read_tag)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Process {
        service_name: require(service_name, "ServiceName")?,
        tags,
    })
}

/// A span, or `None` for a blank one (every field zero, no lists), which
/// Jaeger's translator drops.
fn read_span(p: &mut dyn TInputProtocol) -> Result<Option<Span>> {
    let (mut trace_low, mut trace_high, mut span_id, mut parent) = (None, None, None, None);
    let (mut operation, mut flags, mut start, mut duration) = (None, None, None, None);
    let (mut references, mut tags, mut logs) = (None, None, None);
    read_struct(p, |p, id, ty| {
        match (id, ty) {
            (1, TType::I64) => trace_low = Some(p.read_i64()?),
            (2, TType::I64) => trace_high = Some(p.read_i64()?),
            (3, TType::I64) => span_id = Some(p.read_i64()?),
            (4, TType::I64) => parent = Some(p.read_i64()?),
            (5, TType::String) => operation = Some(read_string(p)?),
            (6, TType::List) => references = Some(read_list(p, read_span_ref)?),
            (7, TType::I32) => flags = Some(p.read_i32()?),
            (8, TType::I64) => start = Some(p.read_i64()?),
            (9, TType::I64) => duration = Some(p.read_i64()?),
            (10, TType::List) => tags = Some(read_list(p, read_tag)?),
            (11, TType::List) => logs = Some(read_list(p, read_log)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let trace_low = require(trace_low, "TraceIdLow")?;
    let trace_high = require(trace_high, "TraceIdHigh")?;
    let span_id = require(span_id, "SpanId")?;
    let parent = require(parent, "ParentSpanId")?;
    let operation = require(operation, "OperationName")?;
    let flags = require(flags, "Flags")?;
    let start = require(start, "StartTime")?;
    let duration = require(duration, "Duration")?;
    let blank = trace_low == 0
        && trace_high == 0
        && span_id == 0
        && parent == 0
        && operation.is_empty()
        && flags == 0
        && start == 0
        && duration == 0
        && references.is_none()
        && tags.is_none()
        && logs.is_none();
    if blank {
        return Ok(None);
    }
    // Microseconds to nanoseconds as Go does it: through uint64, wrapping.
    let nanos = |micros: i64| (micros as u64).wrapping_mul(1_000);
    Ok(Some(Span {
        trace_id_high: trace_high as u64,
        trace_id_low: trace_low as u64,
        span_id: span_id as u64,
        parent_span_id: parent as u64,
        operation_name: operation,
        references: references.unwrap_or_default(),
        start_unix_nano: nanos(start),
        end_unix_nano: nanos(start.wrapping_add(duration)),
        tags: tags.unwrap_or_default(),
        logs: logs
            .unwrap_or_default()
            .into_iter()
            .map(|(timestamp, fields)| Log {
                timestamp_unix_nano: nanos(timestamp),
                fields,
            })
            .collect(),
        process: None,
    }))
}

fn read_span_ref(p: &mut dyn TInputProtocol) -> Result<SpanRef> {
    let (mut ref_type, mut low, mut high, mut span_id) = (None, None, None, None);
    read_struct(p, |p, id, ty| {
        match (id, ty) {
            (1, TType::I32) => ref_type = Some(p.read_i32()?),
            (2, TType::I64) => low = Some(p.read_i64()?),
            (3, TType::I64) => high = Some(p.read_i64()?),
            (4, TType::I64) => span_id = Some(p.read_i64()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(SpanRef {
        ref_type: match require(ref_type, "RefType")? {
            0 => RefType::ChildOf,
            1 => RefType::FollowsFrom,
            _ => RefType::Other,
        },
        trace_id_low: require(low, "TraceIdLow")? as u64,
        trace_id_high: require(high, "TraceIdHigh")? as u64,
        span_id: require(span_id, "SpanId")? as u64,
    })
}

/// A log as (timestamp in microseconds, fields).
fn read_log(p: &mut dyn TInputProtocol) -> Result<(i64, Vec<Tag>)> {
    let (mut timestamp, mut fields) = (None, None);
    read_struct(p, |p, id, ty| {
        match (id, ty) {
            (1, TType::I64) => timestamp = Some(p.read_i64()?),
            (2, TType::List) => fields = Some(read_list(p, read_tag)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok((require(timestamp, "Timestamp")?, require(fields, "Fields")?))
}

fn read_tag(p: &mut dyn TInputProtocol) -> Result<Tag> {
    let (mut key, mut v_type) = (None, None);
    let (mut v_str, mut v_double, mut v_bool, mut v_long, mut v_binary) =
        (None, None, None, None, None);
    read_struct(p, |p, id, ty| {
        match (id, ty) {
            (1, TType::String) => key = Some(read_string(p)?),
            (2, TType::I32) => v_type = Some(p.read_i32()?),
            (3, TType::String) => v_str = Some(read_string(p)?),
            (4, TType::Double) => v_double = Some(p.read_double()?),
            (5, TType::Bool) => v_bool = Some(p.read_bool()?),
            (6, TType::I64) => v_long = Some(p.read_i64()?),
            (7, TType::String) => v_binary = Some(p.read_bytes()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let key = require(key, "Key")?;
    let value = match require(v_type, "VType")? {
        0 => Value::Str(v_str.unwrap_or_default()),
        1 => Value::Double(v_double.unwrap_or_default()),
        2 => Value::Bool(v_bool.unwrap_or_default()),
        3 => Value::Int(v_long.unwrap_or_default()),
        4 => Value::Binary(v_binary.unwrap_or_default()),
        _ => Value::Unknown("<UNSET>".into()),
    };
    Ok(Tag { key, value })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use thrift::protocol::{
        TBinaryOutputProtocol, TCompactOutputProtocol, TFieldIdentifier, TListIdentifier,
        TOutputProtocol, TStructIdentifier,
    };

    /// A tiny writer for test payloads: fields in order, structs nested.
    pub(crate) enum W {
        I32(i16, i32),
        I64(i16, i64),
        Str(i16, &'static [u8]),
        Bool(i16, bool),
        Double(i16, f64),
        Struct(i16, Vec<W>),
        List(i16, Vec<Vec<W>>),
    }

    pub(crate) fn write_fields(p: &mut dyn TOutputProtocol, fields: &[W]) {
        p.write_struct_begin(&TStructIdentifier::new("s")).unwrap();
        for f in fields {
            let (id, ty) = match f {
                W::I32(id, _) => (*id, TType::I32),
                W::I64(id, _) => (*id, TType::I64),
                W::Str(id, _) => (*id, TType::String),
                W::Bool(id, _) => (*id, TType::Bool),
                W::Double(id, _) => (*id, TType::Double),
                W::Struct(id, _) => (*id, TType::Struct),
                W::List(id, _) => (*id, TType::List),
            };
            p.write_field_begin(&TFieldIdentifier::new("f", ty, id))
                .unwrap();
            match f {
                W::I32(_, v) => p.write_i32(*v).unwrap(),
                W::I64(_, v) => p.write_i64(*v).unwrap(),
                W::Str(_, v) => p.write_bytes(v).unwrap(),
                W::Bool(_, v) => p.write_bool(*v).unwrap(),
                W::Double(_, v) => p.write_double(*v).unwrap(),
                W::Struct(_, inner) => write_fields(p, inner),
                W::List(_, items) => {
                    p.write_list_begin(&TListIdentifier::new(TType::Struct, items.len() as i32))
                        .unwrap();
                    for item in items {
                        write_fields(p, item);
                    }
                    p.write_list_end().unwrap();
                }
            }
            p.write_field_end().unwrap();
        }
        p.write_field_stop().unwrap();
        p.write_struct_end().unwrap();
    }

    pub(crate) fn encode(fields: &[W], encoding: Encoding) -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            Encoding::Binary => {
                write_fields(&mut TBinaryOutputProtocol::new(&mut out, true), fields)
            }
            Encoding::Compact => write_fields(&mut TCompactOutputProtocol::new(&mut out), fields),
        }
        out
    }

    pub(crate) fn sample_span(id: i64) -> Vec<W> {
        vec![
            W::I64(1, 0x77),
            W::I64(2, 0),
            W::I64(3, id),
            W::I64(4, 0),
            W::Str(5, b"GET /checkout"),
            W::I32(7, 1),
            W::I64(8, 1_700_000_000_000_000),
            W::I64(9, 1500),
            W::List(
                10,
                vec![
                    vec![W::Str(1, b"span.kind"), W::I32(2, 0), W::Str(3, b"server")],
                    vec![W::Str(1, b"http.status_code"), W::I32(2, 3), W::I64(6, 200)],
                    vec![W::Str(1, b"bad\xffutf8"), W::I32(2, 2), W::Bool(5, true)],
                    vec![W::Str(1, b"ratio"), W::I32(2, 1), W::Double(4, 0.25)],
                ],
            ),
        ]
    }

    pub(crate) fn sample_batch() -> Vec<W> {
        vec![
            W::Struct(
                1,
                vec![
                    W::Str(1, b"shop"),
                    W::List(
                        2,
                        vec![vec![W::Str(1, b"hostname"), W::I32(2, 0), W::Str(3, b"h1")]],
                    ),
                ],
            ),
            W::List(2, vec![sample_span(1), sample_span(2)]),
            W::I64(3, 9),
            W::Struct(4, vec![W::I64(1, 0), W::I64(2, 0), W::I64(3, 0)]),
        ]
    }

    #[test]
    fn a_batch_reads_the_same_from_both_encodings() {
        let binary = encode(&sample_batch(), Encoding::Binary);
        let compact = encode(&sample_batch(), Encoding::Compact);
        let a = read_batch(protocol(&binary, Encoding::Binary).as_mut()).unwrap();
        let b = read_batch(protocol(&compact, Encoding::Compact).as_mut()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.spans.len(), 2);
        let span = &a.spans[0];
        assert_eq!(span.start_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(span.end_unix_nano - span.start_unix_nano, 1_500_000);
        assert_eq!(span.tags[2].key, "bad\u{FFFD}utf8");
        assert_eq!(span.tags[1].value, Value::Int(200));
    }

    #[test]
    fn the_http_body_lands_as_spans_of_its_process() {
        let body = encode(&sample_batch(), Encoding::Binary);
        let request = decode_http_body(&body).unwrap();
        let spans = crate::collector::otlp::translate(request).unwrap();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].process.service_name, "shop");
        assert_eq!(spans[0].kind, crate::collector::span::SpanKind::Server);
    }

    #[test]
    fn every_truncation_of_a_batch_is_an_error_not_a_panic() {
        for encoding in [Encoding::Binary, Encoding::Compact] {
            let body = encode(&sample_batch(), encoding);
            for end in 0..body.len() {
                let result = read_batch(protocol(&body[..end], encoding).as_mut());
                assert!(result.is_err(), "{encoding:?} cut at {end}");
            }
        }
        let err = decode_http_body(&encode(&sample_batch(), Encoding::Binary)[..40]).unwrap_err();
        assert!(matches!(err, ThriftError::Truncated), "{err}");
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let mut span = sample_span(1);
        span.retain(|f| !matches!(f, W::I64(3, _)));
        let body = encode(
            &[
                W::Struct(1, vec![W::Str(1, b"shop")]),
                W::List(2, vec![span]),
            ],
            Encoding::Binary,
        );
        let err = decode_http_body(&body).unwrap_err();
        assert_eq!(err.to_string(), "Required field SpanId is not set");
        let body = encode(&[W::List(2, vec![])], Encoding::Binary);
        assert_eq!(
            decode_http_body(&body).unwrap_err().to_string(),
            "Required field Process is not set"
        );
    }

    #[test]
    fn blank_spans_are_dropped_and_wrongly_typed_fields_skipped() {
        let blank = vec![
            W::I64(1, 0),
            W::I64(2, 0),
            W::I64(3, 0),
            W::I64(4, 0),
            W::Str(5, b""),
            W::I32(7, 0),
            W::I64(8, 0),
            W::I64(9, 0),
        ];
        let mut odd = sample_span(5);
        odd.push(W::Str(3, b"not an id"));
        odd.push(W::I64(99, 1));
        let body = encode(
            &[
                W::Struct(1, vec![W::Str(1, b"shop")]),
                W::List(2, vec![blank, odd]),
            ],
            Encoding::Compact,
        );
        let batch = read_batch(protocol(&body, Encoding::Compact).as_mut()).unwrap();
        assert_eq!(batch.spans.len(), 1);
        assert_eq!(batch.spans[0].span_id, 5);
    }

    #[test]
    fn a_huge_claimed_length_is_refused_without_allocating_it() {
        // Batch → field 1 struct → field 1 string of length 0x7fffffff.
        let body = [12, 0, 1, 11, 0, 1, 0x7f, 0xff, 0xff, 0xff, b'a'];
        let err = decode_http_body(&body).unwrap_err();
        assert!(matches!(err, ThriftError::Protocol(_)), "{err}");
    }

    #[test]
    fn go_strings_replace_each_bad_byte() {
        assert_eq!(go_string(b"ok".to_vec()), "ok");
        assert_eq!(go_string(b"a\xe2\x82b".to_vec()), "a\u{FFFD}\u{FFFD}b");
        assert_eq!(go_string(b"\xff".to_vec()), "\u{FFFD}");
    }
}
