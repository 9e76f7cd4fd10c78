//! OTLP/HTTP trace payloads (protobuf or JSON) into stored spans.
//!
//! The translation follows what Jaeger v2 shows for the same payload: the
//! OpenTelemetry collector's `ProtoFromTraces` plus the query service's
//! adjusters (tags sorted by key, library tags moved to the process).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};
use prost::Message;

use super::span::{
    SpanKind, StatusCode, StoredProcess, StoredRef, StoredSpan, TraceId, span_id_from_bytes,
};
use crate::jaeger::model::{KeyValue, Log, ValueType};

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("the body is not a valid OTLP protobuf ExportTraceServiceRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("the body is not a valid OTLP JSON ExportTraceServiceRequest: {0}")]
    Json(#[from] serde_json::Error),
    #[error("span {index} has an invalid {field} (want {want} bytes, not all zero)")]
    InvalidId {
        index: usize,
        field: &'static str,
        want: usize,
    },
}

/// The two encodings OTLP/HTTP allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

pub fn decode(body: &[u8], encoding: Encoding) -> Result<Vec<StoredSpan>, DecodeError> {
    let request = match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body)?,
        Encoding::Json => serde_json::from_slice(body)?,
    };
    translate(request)
}

/// Every span or none: a payload with one bad span is rejected whole, so
/// nothing half-stored can confuse an assertion.
pub fn translate(request: ExportTraceServiceRequest) -> Result<Vec<StoredSpan>, DecodeError> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let process = Arc::new(process_from_resource(resource_spans.resource.as_ref()));
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.unwrap_or_default();
            for span in scope_spans.spans {
                let index = out.len();
                out.push(translate_span(span, &scope, &process, index)?);
            }
        }
    }
    Ok(out)
}

/// Attributes the query service moves from spans to their process.
const LIBRARY_KEYS: [&str; 5] = [
    "telemetry.sdk.language",
    "telemetry.sdk.name",
    "telemetry.sdk.version",
    "telemetry.distro.name",
    "telemetry.distro.version",
];

fn process_from_resource(resource: Option<&Resource>) -> StoredProcess {
    let attrs = resource.map(|r| r.attributes.as_slice()).unwrap_or(&[]);
    let service_name = attrs
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .map(any_value_text)
        // What the OpenTelemetry translator names a resource without one.
        .unwrap_or_else(|| "OTLPResourceNoServiceName".to_string());
    let mut tags: Vec<KeyValue> = attrs
        .iter()
        .filter(|kv| kv.key != "service.name")
        .map(|kv| attribute_tag(&kv.key, kv.value.as_ref()))
        .collect();
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    let search_attrs = attrs
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(any_value_text).unwrap_or_default(),
            )
        })
        .collect();
    StoredProcess {
        service_name,
        tags,
        search_attrs,
    }
}

fn translate_span(
    span: Span,
    scope: &InstrumentationScope,
    process: &Arc<StoredProcess>,
    index: usize,
) -> Result<StoredSpan, DecodeError> {
    let invalid = |field, want| DecodeError::InvalidId { index, field, want };
    let trace_id = TraceId::from_bytes(&span.trace_id).ok_or(invalid("traceId", 16))?;
    let span_id = span_id_from_bytes(&span.span_id).ok_or(invalid("spanId", 8))?;
    let parent = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(span_id_from_bytes(&span.parent_span_id).ok_or(invalid("parentSpanId", 8))?)
    };

    let mut references = Vec::new();
    if let Some(parent) = parent {
        references.push(StoredRef {
            follows_from: false,
            trace_id,
            span_id: parent,
        });
    }
    for link in &span.links {
        let (Some(link_trace), Some(link_span)) = (
            TraceId::from_bytes(&link.trace_id),
            span_id_from_bytes(&link.span_id),
        ) else {
            continue; // Jaeger drops empty links (RemoveEmptySpanLinks).
        };
        let child_of = link.attributes.iter().any(|kv| {
            kv.key == "opentracing.ref_type"
                && kv.value.as_ref().map(any_value_text).as_deref() == Some("child_of")
        });
        if Some(link_span) == parent && link_trace == trace_id {
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
            s.message.clone(),
        ),
        None => (StatusCode::Unset, String::new()),
    };

    let mut search_attrs: Vec<(String, String)> = Vec::new();
    let mut tags = Vec::new();
    if !scope.name.is_empty() {
        tags.push(KeyValue::string("otel.scope.name", scope.name.clone()));
    }
    if !scope.version.is_empty() {
        tags.push(KeyValue::string(
            "otel.scope.version",
            scope.version.clone(),
        ));
    }
    for kv in &scope.attributes {
        search_attrs.push((
            kv.key.clone(),
            kv.value.as_ref().map(any_value_text).unwrap_or_default(),
        ));
    }
    let mut attrs: Vec<KeyValue> = span
        .attributes
        .iter()
        .filter(|kv| !LIBRARY_KEYS.contains(&kv.key.as_str()))
        .map(|kv| attribute_tag(&kv.key, kv.value.as_ref()))
        .collect();
    attrs.sort_by(|a, b| a.key.cmp(&b.key));
    tags.extend(attrs);
    for kv in &span.attributes {
        search_attrs.push((
            kv.key.clone(),
            kv.value.as_ref().map(any_value_text).unwrap_or_default(),
        ));
    }
    if kind != SpanKind::Unspecified {
        tags.push(KeyValue::string("span.kind", kind.as_str()));
    }
    match status {
        StatusCode::Error => {
            tags.push(KeyValue::string("otel.status_code", "ERROR"));
            tags.push(KeyValue::bool("error", true));
        }
        StatusCode::Ok => tags.push(KeyValue::string("otel.status_code", "OK")),
        StatusCode::Unset => {}
    }
    if !status_message.is_empty() {
        tags.push(KeyValue::string("otel.status_description", status_message));
    }
    if !span.trace_state.is_empty() {
        tags.push(KeyValue::string("w3c.tracestate", span.trace_state.clone()));
    }

    let mut events = span.events;
    events.sort_by(|a, b| a.name.cmp(&b.name));
    let logs = events
        .iter()
        .map(|event| {
            let mut fields = Vec::new();
            if !event.name.is_empty() && !event.attributes.iter().any(|kv| kv.key == "event") {
                fields.push(KeyValue::string("event", event.name.clone()));
            }
            let mut attrs: Vec<KeyValue> = event
                .attributes
                .iter()
                .map(|kv| attribute_tag(&kv.key, kv.value.as_ref()))
                .collect();
            attrs.sort_by(|a, b| a.key.cmp(&b.key));
            fields.extend(attrs);
            for kv in &event.attributes {
                search_attrs.push((
                    kv.key.clone(),
                    kv.value.as_ref().map(any_value_text).unwrap_or_default(),
                ));
            }
            Log {
                timestamp: event.time_unix_nano / 1_000,
                fields,
            }
        })
        .collect();

    Ok(StoredSpan {
        trace_id,
        span_id,
        references,
        flags: span.flags & 0xff,
        operation: span.name,
        kind,
        status,
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
        tags,
        logs,
        process: Arc::clone(process),
        search_attrs,
        warnings: Vec::new(),
    })
}

/// An attribute as a Jaeger tag of the matching type.
pub(crate) fn attribute_tag(key: &str, value: Option<&AnyValue>) -> KeyValue {
    let (value_type, json) = match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => (ValueType::String, s.clone().into()),
        Some(any_value::Value::BoolValue(b)) => (ValueType::Bool, (*b).into()),
        Some(any_value::Value::IntValue(i)) => (ValueType::Int64, int_json(*i)),
        Some(any_value::Value::DoubleValue(f)) => (
            ValueType::Float64,
            serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or_else(|| f.to_string().into()),
        ),
        Some(any_value::Value::BytesValue(b)) => (
            ValueType::Binary,
            base64::engine::general_purpose::STANDARD.encode(b).into(),
        ),
        Some(v @ (any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_))) => {
            (ValueType::String, value_json(v).to_string().into())
        }
        // A profiles string-table index; traces do not use it.
        Some(any_value::Value::StringValueStrindex(i)) => (ValueType::String, i.to_string().into()),
        None => (ValueType::String, String::new().into()),
    };
    KeyValue {
        key: key.to_string(),
        value_type,
        value: json,
    }
}

/// JavaScript cannot hold integers beyond 2^53, so Jaeger sends those as text.
fn int_json(i: i64) -> serde_json::Value {
    const MAX_SAFE: i64 = (1 << 53) - 1;
    if (-MAX_SAFE..=MAX_SAFE).contains(&i) {
        i.into()
    } else {
        i.to_string().into()
    }
}

/// The text a value compares as in tag searches (pcommon's `AsString`).
pub(crate) fn any_value_text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(f)) => f.to_string(),
        Some(any_value::Value::BytesValue(b)) => {
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(v) => value_json(v).to_string(),
        None => String::new(),
    }
}

fn value_json(value: &any_value::Value) -> serde_json::Value {
    match value {
        any_value::Value::StringValue(s) => s.clone().into(),
        any_value::Value::BoolValue(b) => (*b).into(),
        any_value::Value::IntValue(i) => (*i).into(),
        any_value::Value::DoubleValue(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        any_value::Value::BytesValue(b) => {
            base64::engine::general_purpose::STANDARD.encode(b).into()
        }
        any_value::Value::StringValueStrindex(i) => (*i).into(),
        any_value::Value::ArrayValue(a) => a
            .values
            .iter()
            .map(|v| {
                v.value
                    .as_ref()
                    .map(value_json)
                    .unwrap_or(serde_json::Value::Null)
            })
            .collect(),
        any_value::Value::KvlistValue(kvs) => {
            let map: HashMap<String, serde_json::Value> = kvs
                .values
                .iter()
                .map(|kv| {
                    let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
                    (
                        kv.key.clone(),
                        v.map(value_json).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect();
            serde_json::to_value(map).unwrap_or(serde_json::Value::Null)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::KeyValue as OtlpKeyValue;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

    fn string_attr(key: &str, value: &str) -> OtlpKeyValue {
        OtlpKeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn request(span: Span) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        string_attr("service.name", "service1"),
                        string_attr("host.name", "lab"),
                    ],
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
            attributes: vec![string_attr("zeta", "z"), string_attr("component", "proxy")],
            status: Some(Status {
                code: status::StatusCode::Error as i32,
                message: String::new(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_span_gets_sorted_tags_then_kind_status_and_error_as_jaeger_shows_them() {
        let spans = translate(request(server_span())).unwrap();
        let keys: Vec<_> = spans[0].tags.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "component",
                "zeta",
                "span.kind",
                "otel.status_code",
                "error"
            ]
        );
        assert_eq!(spans[0].tags[4], KeyValue::bool("error", true));
        assert_eq!(spans[0].process.service_name, "service1");
        assert_eq!(
            spans[0].process.tags,
            vec![KeyValue::string("host.name", "lab")]
        );
        assert_eq!(spans[0].duration_us(), 2_500);
        assert_eq!(spans[0].parent_span_id(), Some(0x0303_0303_0303_0303));
    }

    #[test]
    fn protobuf_and_json_encodings_decode_to_the_same_spans() {
        let req = request(server_span());
        let from_proto = decode(&req.encode_to_vec(), Encoding::Protobuf).unwrap();
        let from_json = decode(&serde_json::to_vec(&req).unwrap(), Encoding::Json).unwrap();
        assert_eq!(from_proto, from_json);
    }

    #[test]
    fn a_payload_with_one_zero_trace_id_is_rejected_whole() {
        let mut req = request(server_span());
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
    fn garbage_is_a_decode_error_not_a_panic() {
        assert!(matches!(
            decode(b"\xff\xff\xff", Encoding::Protobuf),
            Err(DecodeError::Protobuf(_))
        ));
        assert!(matches!(
            decode(b"{", Encoding::Json),
            Err(DecodeError::Json(_))
        ));
    }

    #[test]
    fn large_integers_become_text_like_jaegers_javascript_guard() {
        assert_eq!(int_json(42), serde_json::json!(42));
        assert_eq!(int_json(1 << 60), serde_json::json!("1152921504606846976"));
    }
}
