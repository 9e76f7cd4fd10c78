//! OTLP/HTTP trace payloads (protobuf or JSON) into stored spans, as Jaeger
//! v2 stores and reads them back.
//!
//! On the way in, Jaeger's storage exporter sanitizes (a missing or
//! non-string `service.name`, a span that does not end after it starts);
//! on the way out its query path translates with the OpenTelemetry
//! collector's `ProtoFromTraces` and moves `@jaeger@warnings` into span
//! warnings. Both happen here, once per span; what depends on the whole
//! trace happens per query in [`crate::collector::adjust`]. The Zipkin receiver
//! ([`super::zipkin`]) builds OTLP and comes through here too.
//!
//! One translation, from [`otlp_wire`]'s views: a protobuf body is read in
//! place; a request built in memory (OTLP JSON, Zipkin, Jaeger) is seen
//! through views of its own strings.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{span, status};
use prost::Message;

use super::otlp_wire::{
    self, AnyValue, ArrayValue, InstrumentationScope, KeyValue, Request, Span, Value,
};

use crate::collector::go_json;
use crate::collector::go_text;
use crate::collector::span::{
    Interner, SearchAttributes, SpanAttributes, SpanKind, StatusCode, StoredLog, StoredProcess,
    StoredRef, StoredSpan, Tag, TagValue, TraceId, span_id_from_bytes,
};

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is not a valid OTLP protobuf ExportTraceServiceRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("the body is not a valid OTLP protobuf ExportTraceServiceRequest: {0}")]
    Wire(#[from] otlp_wire::WireError),
    #[error("the body is not a valid OTLP JSON ExportTraceServiceRequest: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the body is not a valid OTLP JSON ExportTraceServiceRequest: expected a JSON object")]
    NotAnObject,
    #[error("span {index} has an invalid {field} (want {want} bytes, not all zero)")]
    InvalidId {
        index: usize,
        field: &'static str,
        want: usize,
    },
}

/// What [`translate_partial`] made of a request: the spans to store, and
/// the spans it refused (an all-zero trace or span id) with the reason.
#[derive(Debug, Default)]
pub struct Translated {
    pub spans: Vec<StoredSpan>,
    pub rejected: usize,
    /// Why the first refused span was refused.
    pub first_refusal: Option<DecodeError>,
}

/// The two encodings OTLP/HTTP allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

pub fn decode(body: &[u8], encoding: Encoding) -> Result<Vec<StoredSpan>, DecodeError> {
    all_or_nothing(decode_partial(body, encoding)?)
}

/// A body in either encoding, translated as [`translate_partial`] does.
/// Protobuf is read in place ([`otlp_wire`]), never into prost's structs.
pub fn decode_partial(body: &[u8], encoding: Encoding) -> Result<Translated, DecodeError> {
    match encoding {
        Encoding::Protobuf => translate_views(otlp_wire::decode(body).map_err(|refused| {
            // prost's words (the field path, what it expected): read again
            // only to say why, on this rare path.
            match ExportTraceServiceRequest::decode(body) {
                Err(why) => DecodeError::Protobuf(why),
                Ok(_) => DecodeError::Wire(refused),
            }
        })?),
        Encoding::Json => translate_partial(parse_json(body)?),
    }
}

/// An OTLP JSON body as an `ExportTraceServiceRequest`, not yet translated.
fn parse_json(body: &[u8]) -> Result<ExportTraceServiceRequest, DecodeError> {
    // serde also reads a struct from an array (`[]`); OTLP JSON is an
    // object, and the collector refuses anything else.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(DecodeError::NotAnObject);
    }
    Ok(serde_json::from_slice(body)?)
}

pub const SERVICE_NAME: &str = "service.name";
/// Where Jaeger v2 keeps a span's warnings on its way through storage.
pub const WARNINGS_ATTRIBUTE: &str = "@jaeger@warnings";

/// Every span or none: a payload with one bad span id is rejected whole
/// (Jaeger would store an all-zero one; its search then stops at an
/// all-zero trace id), so nothing half-stored can confuse an assertion.
pub fn translate(request: ExportTraceServiceRequest) -> Result<Vec<StoredSpan>, DecodeError> {
    all_or_nothing(translate_partial(request)?)
}

fn all_or_nothing(translated: Translated) -> Result<Vec<StoredSpan>, DecodeError> {
    match translated.first_refusal {
        None => Ok(translated.spans),
        Some(refusal) => Err(refusal),
    }
}

/// OTLP's partial success: an id of the wrong length still refuses the
/// whole request (it is not valid OTLP), but a span whose trace or span id
/// is all zero is left out alone and counted, so the exporter hears which
/// spans were refused (`partial_success`) while the others are stored.
///
/// A request built in memory (from JSON, Zipkin or Jaeger) is seen through
/// the same views ([`otlp_wire::view_of`], borrowing its strings): one
/// translation for all.
pub fn translate_partial(request: ExportTraceServiceRequest) -> Result<Translated, DecodeError> {
    translate_views(otlp_wire::view_of(&request))
}

fn translate_views(request: Request<'_>) -> Result<Translated, DecodeError> {
    let mut out = Translated::default();
    let mut index = 0;
    // One copy of each key, name and value of this request, shared by its
    // spans (the decoded request's own strings are dropped with it).
    let mut texts = Interner::default();
    for resource_spans in request.resource_spans {
        let mut attrs = resource_spans
            .resource
            .map(|r| r.attributes)
            .unwrap_or_default();
        sanitize_service_name(&mut attrs);
        let process = Arc::new(process_from_resource(&attrs));
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.unwrap_or_default();
            for span in scope_spans.spans {
                match zero_id(&span) {
                    Some(field) => {
                        out.rejected += 1;
                        out.first_refusal.get_or_insert(DecodeError::InvalidId {
                            index,
                            field,
                            want: if field == "traceId" { 16 } else { 8 },
                        });
                    }
                    None => out
                        .spans
                        .push(translate_span(span, &scope, &process, index, &mut texts)?),
                }
                index += 1;
            }
        }
    }
    Ok(out)
}

/// The id field of a span that is the right length but all zero.
fn zero_id(span: &Span) -> Option<&'static str> {
    if span.trace_id.len() == 16 && span.trace_id.iter().all(|b| *b == 0) {
        Some("traceId")
    } else if span.span_id.len() == 8 && span.span_id.iter().all(|b| *b == 0) {
        Some("spanId")
    } else {
        None
    }
}

/// Jaeger's empty-service-name sanitizer.
fn sanitize_service_name(attrs: &mut Vec<KeyValue>) {
    let replacement = match attrs.iter().position(|kv| kv.key == SERVICE_NAME) {
        None => {
            attrs.push(string_attribute(SERVICE_NAME, "missing-service-name"));
            return;
        }
        Some(i) => match attrs[i].value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) if !s.is_empty() => return,
            Some(Value::StringValue(_)) => (i, "empty-service-name"),
            _ => (i, "service-name-wrong-type"),
        },
    };
    attrs[replacement.0] = string_attribute(SERVICE_NAME, replacement.1);
}

fn string_attribute(key: &'static str, value: &'static str) -> KeyValue<'static> {
    KeyValue {
        key,
        value: Some(AnyValue {
            value: Some(Value::StringValue(Cow::Borrowed(value))),
        }),
    }
}

fn process_from_resource(attrs: &[KeyValue]) -> StoredProcess {
    let service_name = attrs
        .iter()
        .find(|kv| kv.key == SERVICE_NAME)
        .map(|kv| value_text(kv.value.as_ref()))
        .unwrap_or_default();
    StoredProcess {
        service_name,
        tags: attrs
            .iter()
            .filter(|kv| kv.key != SERVICE_NAME)
            .map(attribute_tag)
            .collect(),
        search_attrs: search_attributes(attrs),
    }
}

fn search_attributes(attrs: &[KeyValue]) -> Vec<(String, String)> {
    attrs
        .iter()
        .map(|kv| (kv.key.to_string(), value_text(kv.value.as_ref())))
        .collect()
}

/// An id field: absent means 0; otherwise exactly `N` bytes.
fn optional_id<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    if bytes.is_empty() {
        Some([0; N])
    } else {
        bytes.try_into().ok()
    }
}

fn translate_span(
    mut span: Span<'_>,
    scope: &InstrumentationScope,
    process: &Arc<StoredProcess>,
    index: usize,
    texts: &mut Interner,
) -> Result<StoredSpan, DecodeError> {
    let invalid = |field, want| DecodeError::InvalidId { index, field, want };
    let trace_id = TraceId::from_bytes(span.trace_id).ok_or(invalid("traceId", 16))?;
    let span_id = span_id_from_bytes(span.span_id).ok_or(invalid("spanId", 8))?;
    let parent = optional_id::<8>(span.parent_span_id)
        .map(u64::from_be_bytes)
        .ok_or(invalid("parentSpanId", 8))?;

    let mut references = Vec::new();
    if parent != 0 {
        references.push(StoredRef {
            follows_from: false,
            trace_id,
            span_id: parent,
        });
    }
    for link in &span.links {
        let link_trace = optional_id::<16>(link.trace_id)
            .map(|b| TraceId(u128::from_be_bytes(b)))
            .ok_or(invalid("link traceId", 16))?;
        let link_span = optional_id::<8>(link.span_id)
            .map(u64::from_be_bytes)
            .ok_or(invalid("link spanId", 8))?;
        let child_of = first_attribute(&link.attributes, "opentracing.ref_type")
            .is_some_and(|v| matches!(&v.value, Some(Value::StringValue(s)) if s == "child_of"));
        if parent != 0 && link_trace == trace_id && link_span == parent {
            references[0].follows_from = !child_of;
            continue;
        }
        references.push(StoredRef {
            follows_from: !child_of,
            trace_id: link_trace,
            span_id: link_span,
        });
    }

    let kind = match span::SpanKind::try_from(span.kind).unwrap_or(span::SpanKind::Unspecified) {
        span::SpanKind::Unspecified => SpanKind::Unspecified,
        span::SpanKind::Internal => SpanKind::Internal,
        span::SpanKind::Server => SpanKind::Server,
        span::SpanKind::Client => SpanKind::Client,
        span::SpanKind::Producer => SpanKind::Producer,
        span::SpanKind::Consumer => SpanKind::Consumer,
    };
    let (status, status_message) = match &span.status {
        Some(s) => (
            match status::StatusCode::try_from(s.code).unwrap_or(status::StatusCode::Unset) {
                status::StatusCode::Unset => StatusCode::Unset,
                status::StatusCode::Ok => StatusCode::Ok,
                status::StatusCode::Error => StatusCode::Error,
            },
            s.message,
        ),
        None => (StatusCode::Unset, ""),
    };

    // Jaeger's negative-duration sanitizer: a span must end after it starts.
    let start = span.start_time_unix_nano;
    let mut end = span.end_time_unix_nano;
    if (start as i64) >= (end as i64) {
        let adjusted = start.wrapping_add(1);
        add_warning(
            &mut span.attributes,
            format!(
                "Negative duration detected, sanitizing end timestamp. Original end timestamp: {}, adjusted to: {}",
                go_text::utc_time_string(end as i64),
                go_text::utc_time_string(adjusted as i64)
            ),
        );
        end = adjusted;
    }
    let warnings = warnings_of(&span.attributes);

    // Exactly the tags it gets: the store keeps this vector as it is.
    let derived = usize::from(!scope.name.is_empty())
        + usize::from(!scope.version.is_empty())
        + usize::from(kind != SpanKind::Unspecified)
        + match status {
            StatusCode::Error => 2,
            StatusCode::Ok => 1,
            StatusCode::Unset => 0,
        }
        + usize::from(!status_message.is_empty())
        + usize::from(!span.trace_state.is_empty());
    let mut tags = Vec::with_capacity(span.attributes.len() + derived);
    if !scope.name.is_empty() {
        tags.push(Tag::string("otel.scope.name", scope.name));
    }
    if !scope.version.is_empty() {
        tags.push(Tag::string("otel.scope.version", scope.version));
    }
    // Searches read the attributes from their tags unless one is left out.
    let text_search = (!warnings.is_empty()).then(|| search_attributes(&span.attributes));
    let first_attribute_tag = tags.len();
    tags.extend(
        span.attributes
            .iter()
            .filter(|kv| warnings.is_empty() || kv.key != WARNINGS_ATTRIBUTE)
            .map(|kv| shared_attribute_tag(kv, texts)),
    );
    let span_search = match text_search {
        None => SpanAttributes::Tags(first_attribute_tag..tags.len()),
        Some(text) => SpanAttributes::Text(text),
    };
    if kind != SpanKind::Unspecified {
        tags.push(Tag::string("span.kind", kind.as_str()));
    }
    match status {
        StatusCode::Error => {
            tags.push(Tag::string("otel.status_code", "ERROR"));
            tags.push(Tag::new("error", TagValue::Bool(true)));
        }
        StatusCode::Ok => tags.push(Tag::string("otel.status_code", "OK")),
        StatusCode::Unset => {}
    }
    if !status_message.is_empty() {
        tags.push(Tag::string("otel.status_description", status_message));
    }
    if !span.trace_state.is_empty() {
        tags.push(Tag::string("w3c.tracestate", span.trace_state));
    }

    let logs = span
        .events
        .iter()
        .map(|event| {
            let mut fields = Vec::new();
            if !event.name.is_empty() && first_attribute(&event.attributes, "event").is_none() {
                fields.push(Tag::string("event", event.name));
            }
            fields.extend(event.attributes.iter().map(attribute_tag));
            StoredLog {
                timestamp_unix_nano: event.time_unix_nano,
                fields,
            }
        })
        .collect();

    Ok(StoredSpan {
        trace_id,
        span_id,
        has_parent: parent != 0,
        flags: span.flags,
        references,
        operation: texts.text(span.name),
        kind,
        status,
        start_unix_nano: start,
        end_unix_nano: end,
        tags,
        logs,
        process: Arc::clone(process),
        search: SearchAttributes {
            span: span_search,
            scope: search_attributes(&scope.attributes),
            events: span
                .events
                .iter()
                .map(|e| search_attributes(&e.attributes))
                .collect(),
        },
        warnings,
    })
}

/// pcommon `Map.Get`: the first attribute with the key.
fn first_attribute<'v, 'a>(attrs: &'v [KeyValue<'a>], key: &str) -> Option<&'v AnyValue<'a>> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| kv.value.as_ref().unwrap_or(&EMPTY))
}

static EMPTY: AnyValue<'static> = AnyValue { value: None };

/// Jaeger's `AddWarnings`: append to the warnings list attribute.
fn add_warning(attrs: &mut Vec<KeyValue<'_>>, warning: String) {
    let text = AnyValue {
        value: Some(Value::StringValue(Cow::Owned(warning))),
    };
    match attrs.iter_mut().find(|kv| kv.key == WARNINGS_ATTRIBUTE) {
        Some(kv) => {
            // Jaeger cannot append to a warnings attribute that is not a
            // list (it would fail); leave such a span's warnings as they are.
            if let Some(Value::ArrayValue(list)) = kv.value.as_mut().and_then(|v| v.value.as_mut())
            {
                list.values.push(text);
            }
        }
        None => attrs.push(KeyValue {
            key: WARNINGS_ATTRIBUTE,
            value: Some(AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values: vec![text] })),
            }),
        }),
    }
}

/// Jaeger's `GetWarnings`: a list attribute's strings, or any other value
/// as text.
fn warnings_of(attrs: &[KeyValue]) -> Vec<String> {
    match first_attribute(attrs, WARNINGS_ATTRIBUTE) {
        None => Vec::new(),
        Some(AnyValue {
            value: Some(Value::ArrayValue(list)),
        }) => list
            .values
            .iter()
            .map(|v| match &v.value {
                Some(Value::StringValue(s)) => s.to_string(),
                _ => String::new(),
            })
            .collect(),
        Some(other) => vec![value_text(Some(other))],
    }
}

/// [`attribute_tag`], with the key and a string value shared through the
/// request's interner.
fn shared_attribute_tag(kv: &KeyValue, texts: &mut Interner) -> Tag {
    let key = texts.text(kv.key);
    if let Some(Value::StringValue(value)) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        return Tag::new(key, TagValue::Str(texts.text(value)));
    }
    Tag::new(key, attribute_value(kv.value.as_ref()))
}

/// An attribute as a Jaeger tag of the matching type.
pub(crate) fn attribute_tag(kv: &KeyValue) -> Tag {
    Tag::new(kv.key, attribute_value(kv.value.as_ref()))
}

fn attribute_value(value: Option<&AnyValue>) -> TagValue {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => TagValue::Str(s.as_ref().into()),
        Some(Value::BoolValue(b)) => TagValue::Bool(*b),
        Some(Value::IntValue(i)) => TagValue::Int(*i),
        Some(Value::DoubleValue(f)) => TagValue::Float(*f),
        Some(Value::BytesValue(b)) => TagValue::Binary((*b).into()),
        Some(Value::ArrayValue(_) | Value::KvlistValue(_)) => {
            TagValue::Str(value_text(value).into())
        }
        // Empty values (and profiles' string-table indices) read as "".
        Some(Value::StringValueStrindex(_)) | None => TagValue::Str("".into()),
    }
}

/// pdata's `Value.AsString`: the text a value is searched by, and the
/// string tag a list or map becomes.
pub(crate) fn value_text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => String::new(),
        Some(Value::StringValue(s)) => s.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(f)) if !f.is_finite() => {
            format!("json: unsupported value: {}", go_json::go_float_g(*f))
        }
        Some(Value::DoubleValue(f)) => go_json::float_text(*f),
        Some(Value::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        // Go's json.Marshal of the raw value; it fails (and pdata answers
        // "") when a NaN or infinity hides inside.
        Some(v) => raw_json(v)
            .map(|raw| go_json::to_vec(&raw))
            .map(|json| String::from_utf8(json).expect("JSON is UTF-8"))
            .unwrap_or_default(),
    }
}

/// pdata's `AsRaw` as JSON; `None` when a float cannot be encoded.
fn raw_json(value: &Value) -> Option<serde_json::Value> {
    let nested = |v: &AnyValue| match &v.value {
        Some(inner) => raw_json(inner),
        None => Some(serde_json::Value::Null),
    };
    Some(match value {
        Value::StringValue(s) => s.to_string().into(),
        Value::BoolValue(b) => (*b).into(),
        Value::IntValue(i) => (*i).into(),
        Value::DoubleValue(f) => serde_json::Number::from_f64(*f)?.into(),
        Value::BytesValue(b) => base64::engine::general_purpose::STANDARD.encode(b).into(),
        Value::StringValueStrindex(_) => serde_json::Value::Null,
        Value::ArrayValue(list) => list
            .values
            .iter()
            .map(nested)
            .collect::<Option<Vec<_>>>()?
            .into(),
        Value::KvlistValue(kvs) => {
            // A Go map: sorted keys, the last duplicate wins.
            let mut map = BTreeMap::new();
            for kv in &kvs.values {
                let v = kv
                    .value
                    .as_ref()
                    .map_or(Some(serde_json::Value::Null), nested)?;
                map.insert(kv.key.to_string(), v);
            }
            serde_json::to_value(map).ok()?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

    fn string_attribute(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn request(resource: Vec<KeyValue>, span: Span) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: resource,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![span],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn server_span() -> Span {
        Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            parent_span_id: vec![3; 8],
            name: "checkStock".into(),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: 1_000_000_000,
            end_time_unix_nano: 1_002_500_000,
            attributes: vec![
                string_attribute("zeta", "z"),
                string_attribute("component", "proxy"),
            ],
            status: Some(Status {
                code: status::StatusCode::Error as i32,
                message: String::new(),
            }),
            ..Default::default()
        }
    }

    fn sandbox_resource() -> Vec<KeyValue> {
        vec![
            string_attribute("service.name", "service1"),
            string_attribute("host.name", "lab"),
        ]
    }

    #[test]
    fn a_span_gets_its_attributes_then_kind_status_and_error_as_jaegers_translator_orders_them() {
        let spans = translate(request(sandbox_resource(), server_span())).unwrap();
        let keys: Vec<_> = spans[0].tags.iter().map(|t| &*t.key).collect();
        assert_eq!(
            keys,
            [
                "zeta",
                "component",
                "span.kind",
                "otel.status_code",
                "error"
            ]
        );
        assert_eq!(spans[0].tags[4].value, TagValue::Bool(true));
        assert_eq!(spans[0].process.service_name, "service1");
        assert_eq!(spans[0].process.tags, vec![Tag::string("host.name", "lab")]);
        assert_eq!(spans[0].duration_us(), 2_500);
        assert_eq!(spans[0].parent_span_id(), Some(0x0303_0303_0303_0303));
    }

    #[test]
    fn a_missing_or_odd_service_name_is_sanitized_like_jaeger() {
        let cases = [
            (vec![], "missing-service-name"),
            (
                vec![string_attribute("service.name", "")],
                "empty-service-name",
            ),
            (
                vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(7)),
                    }),
                    ..Default::default()
                }],
                "service-name-wrong-type",
            ),
        ];
        for (resource, want) in cases {
            let spans = translate(request(resource, server_span())).unwrap();
            assert_eq!(spans[0].process.service_name, want);
        }
    }

    #[test]
    fn a_span_that_does_not_end_after_it_starts_gets_a_nanosecond_and_a_warning() {
        let mut span = server_span();
        span.end_time_unix_nano = span.start_time_unix_nano;
        let spans = translate(request(sandbox_resource(), span)).unwrap();
        assert_eq!(spans[0].end_unix_nano, spans[0].start_unix_nano + 1);
        assert_eq!(
            spans[0].warnings,
            [
                "Negative duration detected, sanitizing end timestamp. Original end timestamp: \
              1970-01-01 00:00:01 +0000 UTC, adjusted to: 1970-01-01 00:00:01.000000001 +0000 UTC"
            ]
        );
        assert!(spans[0].tags.iter().all(|t| &*t.key != WARNINGS_ATTRIBUTE));
    }

    #[test]
    fn protobuf_and_json_encodings_decode_to_the_same_spans() {
        let req = request(sandbox_resource(), server_span());
        let from_proto = decode(&req.encode_to_vec(), Encoding::Protobuf).unwrap();
        let from_json = decode(&serde_json::to_vec(&req).unwrap(), Encoding::Json).unwrap();
        assert_eq!(from_proto, from_json);
    }

    #[test]
    fn a_payload_with_one_zero_trace_id_is_rejected_whole() {
        let mut req = request(sandbox_resource(), server_span());
        let mut bad = server_span();
        bad.trace_id = vec![0; 16];
        req.resource_spans[0].scope_spans[0].spans.push(bad);
        let err = translate(req).unwrap_err();
        assert!(
            err.to_string().contains("span 1 has an invalid traceId"),
            "{err}"
        );
    }

    #[test]
    fn partial_translation_leaves_out_only_the_spans_with_zero_ids() {
        let mut req = request(sandbox_resource(), server_span());
        let mut zero_trace = server_span();
        zero_trace.trace_id = vec![0; 16];
        let mut zero_span = server_span();
        zero_span.span_id = vec![0; 8];
        req.resource_spans[0].scope_spans[0]
            .spans
            .extend([zero_trace, zero_span]);
        let translated = translate_partial(req.clone()).unwrap();
        assert_eq!((translated.spans.len(), translated.rejected), (1, 2));
        assert_eq!(
            translated.first_refusal.unwrap().to_string(),
            "span 1 has an invalid traceId (want 16 bytes, not all zero)"
        );
        let mut short = server_span();
        short.span_id = vec![1, 2];
        req.resource_spans[0].scope_spans[0].spans.push(short);
        assert!(
            translate_partial(req).is_err(),
            "a wrong length is not OTLP"
        );
    }

    #[test]
    fn garbage_is_a_decode_error_in_prost_s_words_not_a_panic() {
        let refused = decode(b"\xff\xff\xff", Encoding::Protobuf).unwrap_err();
        assert!(matches!(refused, DecodeError::Protobuf(_)), "{refused:?}");
        assert!(
            refused
                .to_string()
                .contains("failed to decode Protobuf message"),
            "{refused}"
        );
        assert!(matches!(
            decode(b"{", Encoding::Json),
            Err(DecodeError::Json(_))
        ));
    }

    #[test]
    fn lists_and_maps_read_as_gos_json_of_their_raw_values() {
        use otlp_wire::{AnyValue, Value};
        let list = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue {
                        value: Some(Value::StringValue("a<b".into())),
                    },
                    AnyValue {
                        value: Some(Value::DoubleValue(4.0)),
                    },
                    AnyValue { value: None },
                ],
            })),
        };
        assert_eq!(value_text(Some(&list)), "[\"a\\u003cb\",4,null]");
        let nan = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(Value::DoubleValue(f64::NAN)),
                }],
            })),
        };
        assert_eq!(value_text(Some(&nan)), "");
    }
}
