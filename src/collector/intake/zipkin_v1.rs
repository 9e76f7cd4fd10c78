//! Zipkin v1 JSON (`POST /api/v1/spans`, the format of Zipkin's older
//! tracers) into OTLP, as Jaeger v2's zipkin receiver translates it (the
//! OpenTelemetry collector's `zipkinv1` translator).
//!
//! In short: the kind and the endpoint come from the first `cs`/`cr`/`ss`/
//! `sr`/`ms`/`mr` annotation (those are not kept as events; every other
//! annotation is), the times from the span's `timestamp`/`duration`, else
//! from the earliest and latest annotation; binary annotations become
//! string attributes (`lc` as `component`), except the status ones
//! (`error`, `otel.status_code`, `census.status_code`, ...) which set the
//! status; spans are grouped into one resource per endpoint, named by its
//! service (`unknown-service` when none says it), with its address as
//! `ipv4`/`ipv6`/`port` attributes. A span with no time at all is stamped
//! with the time it arrived, as Jaeger does.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value};

use super::pdata_map::{put, put_str};
use crate::collector::go_json::{field, kind};

const UNKNOWN_SERVICE: &str = "unknown-service";
const START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";

/// A v1 endpoint as the JSON says it (addresses are not checked).
#[derive(Debug, Clone, Default, PartialEq)]
struct Endpoint {
    service_name: String,
    ipv4: String,
    ipv6: String,
    port: i32,
}

impl Endpoint {
    /// What spans are grouped by.
    fn group_key(&self) -> (String, String, String, i32) {
        (
            self.service_name.clone(),
            self.ipv4.clone(),
            self.ipv6.clone(),
            self.port,
        )
    }
}

/// Zipkin v1 JSON → OTLP, or the error Jaeger's receiver answers 400 with.
pub fn decode(body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("zipkinv1: {e}"))?;
    let items = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "zipkinv1: json: cannot unmarshal {} into a list of Zipkin v1 spans",
                kind(&other)
            ));
        }
    };
    let mut groups: Vec<(Endpoint, Vec<Span>)> = Vec::new();
    for item in &items {
        let Value::Object(map) = item else {
            return Err(format!(
                "zipkinv1: json: cannot unmarshal {} into a Zipkin v1 span",
                kind(item)
            ));
        };
        let (span, endpoint) = read_span(map)?;
        let key = endpoint.group_key();
        match groups.iter_mut().find(|(e, _)| e.group_key() == key) {
            Some((_, spans)) => spans.push(span),
            None => groups.push((endpoint, vec![span])),
        }
    }
    Ok(ExportTraceServiceRequest {
        resource_spans: groups
            .into_iter()
            .map(|(endpoint, spans)| ResourceSpans {
                resource: Some(resource(&endpoint)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope::default()),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect(),
    })
}

fn resource(endpoint: &Endpoint) -> Resource {
    let mut attrs = Vec::new();
    put_str(&mut attrs, "service.name", endpoint.service_name.clone());
    if !endpoint.ipv4.is_empty() {
        put_str(&mut attrs, "ipv4", endpoint.ipv4.clone());
    }
    if !endpoint.ipv6.is_empty() {
        put_str(&mut attrs, "ipv6", endpoint.ipv6.clone());
    }
    if endpoint.port != 0 {
        put_str(&mut attrs, "port", endpoint.port.to_string());
    }
    Resource {
        attributes: attrs,
        ..Default::default()
    }
}

fn type_error(value: &Value, name: &str, go_type: &str) -> String {
    format!(
        "zipkinv1: json: cannot unmarshal {} into field {name} of type {go_type}",
        kind(value)
    )
}

fn string_field(map: &Map<String, Value>, name: &str) -> Result<String, String> {
    match field(map, name) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(type_error(other, name, "string")),
    }
}

fn int_field(map: &Map<String, Value>, name: &str) -> Result<i64, String> {
    match field(map, name) {
        None => Ok(0),
        Some(v) => v.as_i64().ok_or_else(|| type_error(v, name, "int64")),
    }
}

fn list_field<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], String> {
    match field(map, name) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(type_error(other, name, "array")),
    }
}

fn endpoint_field(map: &Map<String, Value>) -> Result<Option<Endpoint>, String> {
    let Some(value) = field(map, "endpoint") else {
        return Ok(None);
    };
    let Value::Object(e) = value else {
        return Err(type_error(value, "endpoint", "object"));
    };
    let port = match field(e, "port") {
        None => 0,
        Some(v) => v
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| type_error(v, "port", "int32"))?,
    };
    Ok(Some(Endpoint {
        service_name: string_field(e, "serviceName")?,
        ipv4: string_field(e, "ipv4")?,
        ipv6: string_field(e, "ipv6")?,
        port,
    }))
}

/// 16 or 32 hex digits, not all zero.
fn trace_id(text: &str) -> Result<Vec<u8>, String> {
    let bytes = match text.len() {
        16 | 32 => hex_bytes(text)?,
        _ => return Err("hex traceId span has wrong length (expected 16 or 32)".into()),
    };
    if bytes.iter().all(|b| *b == 0) {
        return Err("traceId is zero".into());
    }
    let mut id = vec![0; 16 - bytes.len()];
    id.extend(bytes);
    Ok(id)
}

/// 16 hex digits, not all zero.
fn span_id(text: &str) -> Result<Vec<u8>, String> {
    if text.len() != 16 {
        return Err("hex Id has wrong length (expected 16)".into());
    }
    let bytes = hex_bytes(text)?;
    if bytes.iter().all(|b| *b == 0) {
        return Err("ID is zero".into());
    }
    Ok(bytes)
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| format!("encoding/hex: invalid byte in {text:?}"))
        })
        .collect()
}

/// Epoch microseconds as a timestamp; 0 for anything not after 1970.
fn micros_to_nanos(micros: i64) -> u64 {
    if micros <= 0 {
        0
    } else {
        (micros as u64).wrapping_mul(1_000)
    }
}

fn read_span(map: &Map<String, Value>) -> Result<(Span, Endpoint), String> {
    let trace = trace_id(&string_field(map, "traceId")?)
        .map_err(|e| format!("zipkinV1 span traceId: {e}"))?;
    let id = span_id(&string_field(map, "id")?).map_err(|e| format!("zipkinV1 span id: {e}"))?;
    let parent = match string_field(map, "parentId")?.as_str() {
        "" => Vec::new(),
        text => span_id(text).map_err(|e| format!("zipkinV1 span parentId: {e}"))?,
    };
    let name = string_field(map, "name")?;
    let timestamp = int_field(map, "timestamp")?;
    let duration = int_field(map, "duration")?;
    if let Some(debug) = field(map, "debug")
        && !debug.is_boolean()
    {
        return Err(type_error(debug, "debug", "bool"));
    }

    let mut span = Span {
        trace_id: trace,
        span_id: id,
        parent_span_id: parent,
        name,
        ..Default::default()
    };
    let mut endpoint = annotations_to_span(&mut span, list_field(map, "annotations")?)?;
    let fallback_service =
        binary_annotations_to_attributes(&mut span, list_field(map, "binaryAnnotations")?)?;
    if endpoint.service_name == UNKNOWN_SERVICE && !fallback_service.is_empty() {
        endpoint.service_name = fallback_service;
    }
    if timestamp != 0 {
        span.start_time_unix_nano = micros_to_nanos(timestamp);
        span.end_time_unix_nano = micros_to_nanos(timestamp.wrapping_add(duration));
    }
    if span.start_time_unix_nano == 0 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        span.start_time_unix_nano = now;
        span.end_time_unix_nano = now;
        put(
            &mut span.attributes,
            START_TIME_ABSENT,
            any_value::Value::BoolValue(true),
        );
    }
    Ok((span, endpoint))
}

/// Kind, times and events from the annotations; the endpoint of the first
/// kind annotation that names a service.
fn annotations_to_span(span: &mut Span, annotations: &[Value]) -> Result<Endpoint, String> {
    let mut earliest = i64::MAX;
    let mut latest = i64::MIN;
    let mut endpoint: Option<Endpoint> = None;
    let mut kind_set = false;
    for annotation in annotations {
        let annotation = match annotation {
            Value::Null => continue,
            Value::Object(a) => a,
            other => return Err(type_error(other, "annotations", "annotation")),
        };
        let value = string_field(annotation, "value")?;
        let timestamp = int_field(annotation, "timestamp")?;
        let annotation_endpoint = endpoint_field(annotation)?;
        if value.is_empty() {
            continue;
        }
        let names_service = annotation_endpoint
            .as_ref()
            .is_some_and(|e| !e.service_name.is_empty() && e.service_name != UNKNOWN_SERVICE);
        let kind = match value.as_str() {
            "cs" | "cr" => Some(SpanKind::Client),
            "ms" => Some(SpanKind::Producer),
            "mr" => Some(SpanKind::Consumer),
            "ss" | "sr" => Some(SpanKind::Server),
            _ => None,
        };
        if endpoint.is_none() && names_service && kind.is_some() {
            endpoint = annotation_endpoint;
        }
        if let Some(kind) = kind
            && !kind_set
        {
            span.kind = kind as i32;
            kind_set = true;
        }
        let nanos = micros_to_nanos(timestamp);
        if timestamp < earliest {
            earliest = timestamp;
            span.start_time_unix_nano = nanos;
        }
        if timestamp > latest {
            latest = timestamp;
            span.end_time_unix_nano = nanos;
        }
        if kind.is_none() {
            span.events.push(Event {
                time_unix_nano: nanos,
                name: value,
                ..Default::default()
            });
        }
    }
    Ok(endpoint.unwrap_or_else(|| Endpoint {
        service_name: UNKNOWN_SERVICE.into(),
        ..Default::default()
    }))
}

/// Where a status comes from, best first.
#[derive(Default)]
struct StatusSources {
    census: (Option<i32>, String),
    otel: (Option<i32>, String),
    error_tag: Option<i32>,
    http: (Option<i32>, String),
}

/// Binary annotations as attributes; the service a binary annotation's
/// endpoint (else `lc`) names, for a span whose annotations named none.
fn binary_annotations_to_attributes(
    span: &mut Span,
    binary_annotations: &[Value],
) -> Result<String, String> {
    let mut fallback_service = String::new();
    let mut local_component = String::new();
    let mut sources = StatusSources::default();
    for annotation in binary_annotations {
        let Value::Object(annotation) = annotation else {
            return Err(type_error(
                annotation,
                "binaryAnnotations",
                "binaryAnnotation",
            ));
        };
        let mut key = string_field(annotation, "key")?;
        let value = string_field(annotation, "value")?;
        if let Some(endpoint) = endpoint_field(annotation)?
            && !endpoint.service_name.is_empty()
        {
            fallback_service = endpoint.service_name;
        }
        if key == "lc" {
            key = "component".into();
            local_component = value.clone();
        }
        let code = || {
            value
                .parse::<i64>()
                .ok()
                .and_then(|c| i32::try_from(c).ok())
        };
        match key.as_str() {
            "census.status_code" => {
                if let Some(c) = code() {
                    sources.census.0 = Some(if c == 0 { 1 } else { 2 });
                }
                continue;
            }
            "census.status_description" | "opencensus.status_description" => {
                sources.census.1 = value;
                continue;
            }
            "otel.status_code" => {
                if let Some(c) = code() {
                    sources.otel.0 = Some(c);
                }
                continue;
            }
            "otel.status_description" => {
                sources.otel.1 = value;
                continue;
            }
            "error" => {
                sources.error_tag = Some(2);
                continue;
            }
            "http.status_code" => {
                if let Some(c) = code() {
                    sources.http.0 = Some(if (100..400).contains(&c) { 0 } else { 2 });
                }
            }
            "http.status_message" => sources.http.1 = value.clone(),
            _ => {}
        }
        put_str(&mut span.attributes, &key, value);
    }
    if fallback_service.is_empty() {
        fallback_service = local_component;
    }
    span.status = status(sources);
    Ok(fallback_service)
}

fn status(sources: StatusSources) -> Option<Status> {
    let (code, message) = if let (Some(code), message) = sources.census {
        (code, message)
    } else if let (Some(code), message) = sources.otel {
        (code, message)
    } else if let Some(code) = sources.error_tag {
        let message = if !sources.census.1.is_empty() {
            sources.census.1
        } else {
            sources.otel.1
        };
        (code, message)
    } else if let (Some(code), message) = sources.http {
        (code, message)
    } else {
        return None;
    };
    Some(Status { code, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::otlp;
    use crate::collector::span::{SpanKind as Kind, StatusCode};
    use opentelemetry_proto::tonic::common::v1::KeyValue;

    fn attribute<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
        super::super::pdata_map::get(attrs, key).map(super::super::pdata_map::str_of)
    }

    const CLIENT_AND_SERVER: &str = r#"[
      {"traceId": "00000000000000000000000000000abc", "id": "0000000000000002",
       "parentId": "0000000000000001", "name": "get /stock", "timestamp": 1700000000000000,
       "duration": 2000,
       "annotations": [
         {"timestamp": 1700000000000000, "value": "cs",
          "endpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1", "port": 8080}},
         {"timestamp": 1700000000000900, "value": "retrying"},
         {"timestamp": 1700000000002000, "value": "cr",
          "endpoint": {"serviceName": "frontend", "ipv4": "10.0.0.1", "port": 8080}}],
       "binaryAnnotations": [
         {"key": "http.status_code", "value": "503"},
         {"key": "lc", "value": "http-client"},
         {"key": "error", "value": "upstream reset"}]},
      {"traceId": "0000000000000abc", "id": "0000000000000003", "parentId": "0000000000000002",
       "name": "reserve",
       "annotations": [
         {"timestamp": 1700000000000500, "value": "sr", "endpoint": {"serviceName": "stock"}},
         {"timestamp": 1700000000001500, "value": "ss", "endpoint": {"serviceName": "stock"}}]}
    ]"#;

    #[test]
    fn client_and_server_spans_get_kinds_times_and_services_from_their_annotations() {
        let request = decode(CLIENT_AND_SERVER.as_bytes()).unwrap();
        assert_eq!(request.resource_spans.len(), 2);
        let client = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(client.kind, SpanKind::Client as i32);
        assert_eq!(client.events.len(), 1, "cs and cr are not events");
        assert_eq!(
            attribute(&client.attributes, "component"),
            Some("http-client")
        );
        assert_eq!(attribute(&client.attributes, "error"), None);
        assert_eq!(client.status.as_ref().unwrap().code, 2);
        let stored = otlp::translate(request).unwrap();
        let server = stored.iter().find(|s| &*s.operation == "reserve").unwrap();
        assert_eq!(server.kind, Kind::Server);
        assert_eq!(server.duration_us(), 1000, "from sr to ss");
        assert_eq!(server.process.service_name, "stock");
        let client = stored
            .iter()
            .find(|s| &*s.operation == "get /stock")
            .unwrap();
        assert_eq!(client.status, StatusCode::Error);
        let process_keys: Vec<_> = client.process.tags.iter().map(|t| &*t.key).collect();
        assert_eq!(process_keys, ["ipv4", "port"]);
    }

    #[test]
    fn a_span_without_endpoints_takes_its_service_from_lc_or_is_unknown() {
        let body = r#"[
          {"traceId": "0000000000000001", "id": "0000000000000001", "timestamp": 5, "duration": 1,
           "binaryAnnotations": [{"key": "lc", "value": "worker"}]},
          {"traceId": "0000000000000001", "id": "0000000000000002", "timestamp": 5, "duration": 1}
        ]"#;
        let stored = otlp::translate(decode(body.as_bytes()).unwrap()).unwrap();
        let services: Vec<_> = stored
            .iter()
            .map(|s| s.process.service_name.as_str())
            .collect();
        assert_eq!(services, ["worker", "unknown-service"]);
    }

    #[test]
    fn a_span_with_no_time_is_stamped_on_arrival_and_marked() {
        let body = r#"[{"traceId": "0000000000000001", "id": "0000000000000001"}]"#;
        let request = decode(body.as_bytes()).unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert!(span.start_time_unix_nano > 1_600_000_000_000_000_000);
        assert!(super::super::pdata_map::get(&span.attributes, START_TIME_ABSENT).is_some());
    }

    #[test]
    fn otel_and_census_status_codes_outrank_the_error_tag_and_http() {
        let with = |annotations: &str| {
            let body = format!(
                r#"[{{"traceId": "0000000000000001", "id": "0000000000000001", "timestamp": 5,
                     "binaryAnnotations": [{annotations}]}}]"#
            );
            let request = decode(body.as_bytes()).unwrap();
            request.resource_spans[0].scope_spans[0].spans[0]
                .status
                .clone()
                .map(|s| (s.code, s.message))
        };
        assert_eq!(
            with(r#"{"key": "http.status_code", "value": "200"}"#),
            Some((0, String::new()))
        );
        assert_eq!(
            with(r#"{"key": "error", "value": "x"}, {"key": "otel.status_code", "value": "1"}"#),
            Some((1, String::new()))
        );
        assert_eq!(
            with(
                r#"{"key": "census.status_code", "value": "0"}, {"key": "census.status_description", "value": "fine"},
                   {"key": "otel.status_code", "value": "2"}"#
            ),
            Some((1, "fine".into()))
        );
        assert_eq!(
            with(
                r#"{"key": "error", "value": "x"}, {"key": "otel.status_description", "value": "why"}"#
            ),
            Some((2, "why".into()))
        );
        assert_eq!(with(r#"{"key": "otel.status_code", "value": "OK"}"#), None);
    }

    #[test]
    fn bad_v1_json_is_an_error_naming_what_is_wrong() {
        for (body, wanted) in [
            ("{", "zipkinv1:"),
            ("{}", "zipkinv1:"),
            ("[null]", "zipkinv1:"),
            (
                r#"[{"traceId": "01", "id": "0000000000000001"}]"#,
                "traceId: hex traceId span has wrong length",
            ),
            (
                r#"[{"traceId": "0000000000000000", "id": "0000000000000001"}]"#,
                "traceId is zero",
            ),
            (
                r#"[{"traceId": "0000000000000001", "id": "000000000000000x"}]"#,
                "zipkinV1 span id",
            ),
            (
                r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "parentId": "0000000000000000"}]"#,
                "parentId: ID is zero",
            ),
            (
                r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "timestamp": 1.5}]"#,
                "int64",
            ),
            (
                r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "binaryAnnotations": [{"key": "a", "value": true}]}]"#,
                "string",
            ),
            (
                r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "binaryAnnotations": [null]}]"#,
                "binaryAnnotation",
            ),
        ] {
            let err = decode(body.as_bytes()).unwrap_err();
            assert!(err.contains(wanted), "{body}: {err}");
        }
        assert!(decode(b"null").unwrap().resource_spans.is_empty());
    }
}
