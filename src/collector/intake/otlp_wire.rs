//! OTLP protobuf read in place: an `ExportTraceServiceRequest` as views
//! that borrow the body's strings and bytes.
//!
//! Why: prost's generated structs copy every key, value and name into a
//! `String` of its own (and free it once translated); that decoding was
//! nearly half of the OTLP intakes' CPU. These views hold slices of the
//! body, and only what [`super::otlp`]'s translation reads; fields it does
//! not read are still checked as prost checks them.
//!
//! The views mirror prost's structs (same names, same shapes) and a body
//! reads as prost reads it: the same fields, the last of a repeated
//! singular field winning, a repeated message field merged, unknown fields
//! (groups too) skipped, strings checked as UTF-8, at most 100 messages
//! deep. `tests` holds both to that, on random requests and on random
//! damage to them.

use std::borrow::Cow;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as proto_common;
use opentelemetry_proto::tonic::trace::v1 as proto_trace;

/// How deep messages may nest, as prost allows.
const RECURSION_LIMIT: u32 = 100;

/// Why a body is not an `ExportTraceServiceRequest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(Cow<'static, str>);

type Result<T> = std::result::Result<T, WireError>;

fn error(text: &'static str) -> WireError {
    WireError(Cow::Borrowed(text))
}

// Wire types.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Request<'a> {
    pub resource_spans: Vec<ResourceSpans<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ResourceSpans<'a> {
    pub resource: Option<Resource<'a>>,
    pub scope_spans: Vec<ScopeSpans<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Resource<'a> {
    pub attributes: Vec<KeyValue<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ScopeSpans<'a> {
    pub scope: Option<InstrumentationScope<'a>>,
    pub spans: Vec<Span<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct InstrumentationScope<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub attributes: Vec<KeyValue<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Span<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub trace_state: &'a str,
    pub parent_span_id: &'a [u8],
    pub flags: u32,
    pub name: &'a str,
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: Vec<KeyValue<'a>>,
    pub events: Vec<Event<'a>>,
    pub links: Vec<Link<'a>>,
    pub status: Option<Status<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Event<'a> {
    pub time_unix_nano: u64,
    pub name: &'a str,
    pub attributes: Vec<KeyValue<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Link<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub attributes: Vec<KeyValue<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Status<'a> {
    pub message: &'a str,
    pub code: i32,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct KeyValue<'a> {
    pub key: &'a str,
    pub value: Option<AnyValue<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct AnyValue<'a> {
    pub value: Option<Value<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ArrayValue<'a> {
    pub values: Vec<AnyValue<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct KeyValueList<'a> {
    pub values: Vec<KeyValue<'a>>,
}

/// `AnyValue`'s one-of. A string is owned only when the translation adds
/// one (a warning).
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    StringValue(Cow<'a, str>),
    BoolValue(bool),
    IntValue(i64),
    DoubleValue(f64),
    ArrayValue(ArrayValue<'a>),
    KvlistValue(KeyValueList<'a>),
    BytesValue(&'a [u8]),
    StringValueStrindex(i32),
}

/// Read `body` as an `ExportTraceServiceRequest`.
pub fn decode(body: &[u8]) -> Result<Request<'_>> {
    let mut request = Request::default();
    request.merge(Reader(body), RECURSION_LIMIT)?;
    Ok(request)
}

/// The unread rest of a message.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for (i, byte) in self.0.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                // The tenth byte may hold only the 64th bit.
                if i == 9 && *byte > 1 {
                    break;
                }
                self.0 = &self.0[i + 1..];
                return Ok(value);
            }
        }
        Err(error("invalid varint"))
    }

    /// The next field's number and wire type, `None` at the end.
    fn key(&mut self) -> Result<Option<(u32, u8)>> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| error("invalid key value"))?;
        let wire = (key & 7) as u8;
        if wire > FIXED32 {
            return Err(error("invalid wire type value"));
        }
        if key >> 3 == 0 {
            return Err(error("invalid tag value: 0"));
        }
        Ok(Some((key >> 3, wire)))
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        if n > self.0.len() as u64 {
            return Err(error("buffer underflow"));
        }
        let (taken, rest) = self.0.split_at(n as usize);
        self.0 = rest;
        Ok(taken)
    }

    fn bytes(&mut self, wire: u8) -> Result<&'a [u8]> {
        expect(wire, LEN)?;
        let len = self.varint()?;
        self.take(len)
    }

    fn str(&mut self, wire: u8) -> Result<&'a str> {
        std::str::from_utf8(self.bytes(wire)?)
            .map_err(|_| error("invalid string value: data is not UTF-8 encoded"))
    }

    fn uint(&mut self, wire: u8) -> Result<u64> {
        expect(wire, VARINT)?;
        self.varint()
    }

    fn fixed32(&mut self, wire: u8) -> Result<u32> {
        expect(wire, FIXED32)?;
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn fixed64(&mut self, wire: u8) -> Result<u64> {
        expect(wire, FIXED64)?;
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A message field, merged into `into`, as deep as `depth` allows.
    fn message<M: Merge<'a>>(&mut self, wire: u8, depth: u32, into: &mut M) -> Result<()> {
        let bytes = self.bytes(wire)?;
        if depth == 0 {
            return Err(error("recursion limit reached"));
        }
        into.merge(Reader(bytes), depth - 1)
    }

    /// One more element of a repeated message field.
    fn push<M: Merge<'a> + Default>(
        &mut self,
        wire: u8,
        depth: u32,
        to: &mut Vec<M>,
    ) -> Result<()> {
        // Read in place (a span is hundreds of bytes to move); a failed
        // read fails the whole body, so a half-read element is never seen.
        to.push(M::default());
        let element = to.last_mut().expect("just pushed");
        self.message(wire, depth, element)
    }

    /// A field this reader does not know, skipped as prost skips it.
    fn skip(&mut self, tag: u32, wire: u8, depth: u32) -> Result<()> {
        if depth == 0 {
            return Err(error("recursion limit reached"));
        }
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            FIXED32 => self.take(4).map(drop),
            LEN => self.bytes(wire).map(drop),
            START_GROUP => loop {
                match self.key()? {
                    None => return Err(error("buffer underflow")),
                    Some((inner, END_GROUP)) if inner == tag => return Ok(()),
                    Some((_, END_GROUP)) => return Err(error("unexpected end group tag")),
                    Some((inner, inner_wire)) => self.skip(inner, inner_wire, depth - 1)?,
                }
            },
            _ => Err(error("unexpected end group tag")),
        }
    }
}

fn expect(wire: u8, want: u8) -> Result<()> {
    if wire == want {
        Ok(())
    } else {
        Err(error("invalid wire type"))
    }
}

/// A message read field by field into what is already there.
trait Merge<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()>;
}

/// The loop of every message: each field to `field`, unknown ones skipped.
macro_rules! fields {
    ($r:ident, $depth:ident, $wire:ident, { $($tag:literal => $read:expr,)* }) => {{
        let mut $r = $r;
        while let Some((tag, $wire)) = $r.key()? {
            match tag {
                $($tag => { $read; })*
                _ => $r.skip(tag, $wire, $depth)?,
            }
        }
        Ok(())
    }};
}

impl<'a> Merge<'a> for Request<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => r.push(wire, depth, &mut self.resource_spans)?,
        })
    }
}

impl<'a> Merge<'a> for ResourceSpans<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => r.message(wire, depth, self.resource.get_or_insert_default())?,
            2 => r.push(wire, depth, &mut self.scope_spans)?,
            3 => r.str(wire)?, // schema_url
        })
    }
}

impl<'a> Merge<'a> for Resource<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => r.push(wire, depth, &mut self.attributes)?,
            2 => r.uint(wire)?, // dropped_attributes_count
            3 => r.message(wire, depth, &mut EntityRef)?,
        })
    }
}

/// Resource's `entity_refs`: checked, not kept.
struct EntityRef;

impl<'a> Merge<'a> for EntityRef {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        // schema_url, type, id_keys, description_keys: all strings.
        fields!(r, depth, wire, {
            1 => r.str(wire)?,
            2 => r.str(wire)?,
            3 => r.str(wire)?,
            4 => r.str(wire)?,
        })
    }
}

impl<'a> Merge<'a> for ScopeSpans<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => r.message(wire, depth, self.scope.get_or_insert_default())?,
            2 => r.push(wire, depth, &mut self.spans)?,
            3 => r.str(wire)?, // schema_url
        })
    }
}

impl<'a> Merge<'a> for InstrumentationScope<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => self.name = r.str(wire)?,
            2 => self.version = r.str(wire)?,
            3 => r.push(wire, depth, &mut self.attributes)?,
            4 => r.uint(wire)?, // dropped_attributes_count
        })
    }
}

impl<'a> Merge<'a> for Span<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => self.trace_id = r.bytes(wire)?,
            2 => self.span_id = r.bytes(wire)?,
            3 => self.trace_state = r.str(wire)?,
            4 => self.parent_span_id = r.bytes(wire)?,
            5 => self.name = r.str(wire)?,
            6 => self.kind = r.uint(wire)? as i32,
            7 => self.start_time_unix_nano = r.fixed64(wire)?,
            8 => self.end_time_unix_nano = r.fixed64(wire)?,
            9 => r.push(wire, depth, &mut self.attributes)?,
            10 => r.uint(wire)?, // dropped_attributes_count
            11 => r.push(wire, depth, &mut self.events)?,
            12 => r.uint(wire)?, // dropped_events_count
            13 => r.push(wire, depth, &mut self.links)?,
            14 => r.uint(wire)?, // dropped_links_count
            15 => r.message(wire, depth, self.status.get_or_insert_default())?,
            16 => self.flags = r.fixed32(wire)?,
        })
    }
}

impl<'a> Merge<'a> for Event<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => self.time_unix_nano = r.fixed64(wire)?,
            2 => self.name = r.str(wire)?,
            3 => r.push(wire, depth, &mut self.attributes)?,
            4 => r.uint(wire)?, // dropped_attributes_count
        })
    }
}

impl<'a> Merge<'a> for Link<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => self.trace_id = r.bytes(wire)?,
            2 => self.span_id = r.bytes(wire)?,
            3 => r.str(wire)?, // trace_state
            4 => r.push(wire, depth, &mut self.attributes)?,
            5 => r.uint(wire)?, // dropped_attributes_count
            6 => r.fixed32(wire)?, // flags
        })
    }
}

impl<'a> Merge<'a> for Status<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            2 => self.message = r.str(wire)?,
            3 => self.code = r.uint(wire)? as i32,
        })
    }
}

impl<'a> Merge<'a> for KeyValue<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => self.key = r.str(wire)?,
            2 => r.message(wire, depth, self.value.get_or_insert_default())?,
            3 => r.uint(wire)?, // key_strindex
        })
    }
}

impl<'a> Merge<'a> for ArrayValue<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => r.push(wire, depth, &mut self.values)?,
        })
    }
}

impl<'a> Merge<'a> for KeyValueList<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        fields!(r, depth, wire, {
            1 => r.push(wire, depth, &mut self.values)?,
        })
    }
}

impl<'a> Merge<'a> for AnyValue<'a> {
    fn merge(&mut self, r: Reader<'a>, depth: u32) -> Result<()> {
        // A one-of: the last field wins; a list or map met again while it
        // is the value merges into it, as prost's one-of does.
        fields!(r, depth, wire, {
            1 => self.value = Some(Value::StringValue(Cow::Borrowed(r.str(wire)?))),
            2 => self.value = Some(Value::BoolValue(r.uint(wire)? != 0)),
            3 => self.value = Some(Value::IntValue(r.uint(wire)? as i64)),
            4 => self.value = Some(Value::DoubleValue(f64::from_bits(r.fixed64(wire)?))),
            5 => {
                if !matches!(self.value, Some(Value::ArrayValue(_))) {
                    self.value = Some(Value::ArrayValue(ArrayValue::default()));
                }
                let Some(Value::ArrayValue(list)) = &mut self.value else {
                    unreachable!("set just above")
                };
                r.message(wire, depth, list)?
            },
            6 => {
                if !matches!(self.value, Some(Value::KvlistValue(_))) {
                    self.value = Some(Value::KvlistValue(KeyValueList::default()));
                }
                let Some(Value::KvlistValue(map)) = &mut self.value else {
                    unreachable!("set just above")
                };
                r.message(wire, depth, map)?
            },
            7 => self.value = Some(Value::BytesValue(r.bytes(wire)?)),
            8 => self.value = Some(Value::StringValueStrindex(r.uint(wire)? as i32)),
        })
    }
}

/// prost's struct as a view (what the views keep of it), borrowing its
/// strings: how a request built in memory (JSON, Zipkin, Jaeger) is
/// translated, and what this reader is checked against in its tests and by
/// the `otlp_decode` fuzz target.
pub fn view_of(request: &ExportTraceServiceRequest) -> Request<'_> {
    Request {
        resource_spans: request
            .resource_spans
            .iter()
            .map(|rs| ResourceSpans {
                resource: rs.resource.as_ref().map(|r| Resource {
                    attributes: kvs(&r.attributes),
                }),
                scope_spans: rs
                    .scope_spans
                    .iter()
                    .map(|ss| ScopeSpans {
                        scope: ss.scope.as_ref().map(|s| InstrumentationScope {
                            name: &s.name,
                            version: &s.version,
                            attributes: kvs(&s.attributes),
                        }),
                        spans: ss.spans.iter().map(span_view).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn span_view(s: &proto_trace::Span) -> Span<'_> {
    Span {
        trace_id: &s.trace_id,
        span_id: &s.span_id,
        trace_state: &s.trace_state,
        parent_span_id: &s.parent_span_id,
        flags: s.flags,
        name: &s.name,
        kind: s.kind,
        start_time_unix_nano: s.start_time_unix_nano,
        end_time_unix_nano: s.end_time_unix_nano,
        attributes: kvs(&s.attributes),
        events: s
            .events
            .iter()
            .map(|e| Event {
                time_unix_nano: e.time_unix_nano,
                name: &e.name,
                attributes: kvs(&e.attributes),
            })
            .collect(),
        links: s
            .links
            .iter()
            .map(|l| Link {
                trace_id: &l.trace_id,
                span_id: &l.span_id,
                attributes: kvs(&l.attributes),
            })
            .collect(),
        status: s.status.as_ref().map(|st| Status {
            message: &st.message,
            code: st.code,
        }),
    }
}

fn kvs(list: &[proto_common::KeyValue]) -> Vec<KeyValue<'_>> {
    list.iter()
        .map(|kv| KeyValue {
            key: &kv.key,
            value: kv.value.as_ref().map(any),
        })
        .collect()
}

fn any(v: &proto_common::AnyValue) -> AnyValue<'_> {
    use proto_common::any_value::Value as P;
    AnyValue {
        value: v.value.as_ref().map(|value| match value {
            P::StringValue(s) => Value::StringValue(Cow::Borrowed(s)),
            P::BoolValue(b) => Value::BoolValue(*b),
            P::IntValue(i) => Value::IntValue(*i),
            P::DoubleValue(f) => Value::DoubleValue(*f),
            P::ArrayValue(a) => Value::ArrayValue(ArrayValue {
                values: a.values.iter().map(any).collect(),
            }),
            P::KvlistValue(m) => Value::KvlistValue(KeyValueList {
                values: kvs(&m.values),
            }),
            P::BytesValue(b) => Value::BytesValue(b),
            P::StringValueStrindex(i) => Value::StringValueStrindex(*i),
        }),
    }
}

#[cfg(test)]
mod tests;
