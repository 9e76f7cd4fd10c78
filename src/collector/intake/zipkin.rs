//! Zipkin v2 JSON (`POST /api/v2/spans`, what the sandbox's Envoys send)
//! into OTLP, as Jaeger v2's zipkin receiver translates it (the
//! OpenTelemetry collector's `zipkinv2` translator); the OTLP then goes
//! through [`super::otlp`] like any other export.
//!
//! What the translator does, in short: spans are grouped into one resource
//! per local service (`service.name`, plus resource-like tags of the
//! group's first span); the kind comes from `kind` (or a `span.kind=internal`
//! tag); `error` and `otel.status_code` tags become the status; endpoints
//! become `net.host.ip`/`net.host.port`/`peer.service`/`net.peer.*`
//! attributes; every other tag stays a string attribute; annotations become
//! events. Shared client/server span ids are kept as they are: the query
//! side ([`crate::collector::adjust`]) separates them, as Jaeger's does.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value};

use crate::collector::go_json::{field, kind};
use crate::collector::go_text;

/// The service name of a span without a local endpoint.
const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

#[rustfmt::skip]
/// Tags the translator treats as resource attributes (semantic conventions
/// 1.15's resource keys and a few OpenCensus ones): they never become span
/// attributes.
const RESOURCE_KEYS: &[&str] = &[
    "cloud.provider", "cloud.account.id", "cloud.region", "cloud.availability_zone",
    "cloud.platform", "aws.ecs.container.arn", "aws.ecs.cluster.arn", "aws.ecs.launchtype",
    "aws.ecs.task.arn", "aws.ecs.task.family", "aws.ecs.task.revision", "aws.eks.cluster.arn",
    "aws.log.group.names", "aws.log.group.arns", "aws.log.stream.names",
    "aws.log.stream.arns", "container.name", "container.id", "container.runtime",
    "container.image.name", "container.image.tag", "deployment.environment", "device.id",
    "device.model.identifier", "device.model.name", "device.manufacturer", "faas.name",
    "faas.id", "faas.version", "faas.instance", "faas.max_memory", "host.id", "host.name",
    "host.type", "host.arch", "host.image.name", "host.image.id", "host.image.version",
    "k8s.cluster.name", "k8s.node.name", "k8s.node.uid", "k8s.namespace.name", "k8s.pod.uid",
    "k8s.pod.name", "k8s.container.name", "k8s.container.restart_count",
    "k8s.replicaset.uid", "k8s.replicaset.name", "k8s.deployment.uid", "k8s.deployment.name",
    "k8s.statefulset.uid", "k8s.statefulset.name", "k8s.daemonset.uid",
    "k8s.daemonset.name", "k8s.job.uid", "k8s.job.name", "k8s.cronjob.uid",
    "k8s.cronjob.name", "os.type", "os.description", "os.name", "os.version", "process.pid",
    "process.executable.name", "process.executable.path", "process.command",
    "process.command_line", "process.command_args", "process.owner",
    "process.runtime.name", "process.runtime.version", "process.runtime.description",
    "service.name", "service.namespace", "service.instance.id", "service.version",
    "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version",
    "telemetry.auto.version", "webengine.name", "webengine.version",
    "webengine.description", "otlp.service.name.source", "otel.library.name",
    "otel.library.version", "opencensus.starttime", "opencensus.exporterversion",
    "opencensus.resourcetype",
];

const SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
const LIBRARY_NAME: &str = "otel.library.name";
const LIBRARY_VERSION: &str = "otel.library.version";

/// One Zipkin span, as zipkin-go's model reads it (from v2 JSON here,
/// from protobuf in [`super::intake::zipkin_proto`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ZipkinSpan {
    pub(crate) trace_high: u64,
    pub(crate) trace_low: u64,
    pub(crate) id: u64,
    pub(crate) parent_id: Option<u64>,
    pub(crate) name: String,
    pub(crate) kind: String,
    /// `None` when the span has no start time (JSON's 0 or none).
    pub(crate) timestamp_us: Option<u64>,
    pub(crate) duration_us: u64,
    pub(crate) local: Option<Endpoint>,
    pub(crate) remote: Option<Endpoint>,
    pub(crate) annotations: Vec<(u64, String)>,
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Endpoint {
    pub(crate) service_name: String,
    /// Addresses as Go's `net.IP.String()` prints them.
    pub(crate) ipv4: Option<String>,
    pub(crate) ipv6: Option<String>,
    pub(crate) port: u16,
}

impl ZipkinSpan {
    fn local_service(&self) -> &str {
        match &self.local {
            Some(e) if !e.service_name.is_empty() => &e.service_name,
            _ => NO_SERVICE_NAME,
        }
    }

    fn library(&self) -> &str {
        self.tags
            .get(LIBRARY_NAME)
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// Zipkin v2 JSON → OTLP, or the error Jaeger's receiver answers 400 with.
pub fn decode(body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let items = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type []*model.SpanModel",
                kind(&other)
            ));
        }
    };
    let mut spans = Vec::new();
    for item in items {
        match item {
            Value::Null => {}
            Value::Object(map) => spans.push(read_span(&map)?),
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go value of type model.SpanModel",
                    kind(&other)
                ));
            }
        }
    }
    to_otlp(spans)
}

fn type_error(value: &Value, field: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field .{field} of type {go_type}",
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

fn u64_field(map: &Map<String, Value>, name: &str) -> Result<u64, String> {
    match field(map, name) {
        None => Ok(0),
        Some(v) => v.as_u64().ok_or_else(|| type_error(v, name, "uint64")),
    }
}

/// zipkin-go's `ID.UnmarshalJSON`: hex in quotes; too short reads as 0.
fn span_id(value: Option<&Value>) -> Result<u64, String> {
    match value {
        None => Ok(0),
        Some(Value::String(s)) if s.is_empty() => Ok(0),
        Some(Value::String(s)) => go_text::parse_hex_u64(s),
        Some(other) => Err(type_error(other, "id", "model.ID")),
    }
}

fn read_span(map: &Map<String, Value>) -> Result<ZipkinSpan, String> {
    let (trace_high, trace_low) = match field(map, "traceId") {
        None => (0, 0),
        Some(Value::String(s)) if s.is_empty() => return Err("valid traceId required".into()),
        Some(Value::String(s)) if s.len() > 16 => {
            let split = s.len() - 16;
            let high = s.get(..split).ok_or("valid traceId required")?;
            let low = s.get(split..).ok_or("valid traceId required")?;
            (go_text::parse_hex_u64(high)?, go_text::parse_hex_u64(low)?)
        }
        Some(Value::String(s)) => (0, go_text::parse_hex_u64(s)?),
        Some(other) => return Err(type_error(other, "traceId", "model.TraceID")),
    };
    let id = span_id(field(map, "id"))?;
    if id == 0 {
        return Err("valid span id required".into());
    }
    let parent_id = match field(map, "parentId") {
        None => None,
        Some(v) => Some(span_id(Some(v))?),
    };
    let mut annotations = Vec::new();
    if let Some(list) = field(map, "annotations") {
        let Value::Array(list) = list else {
            return Err(type_error(list, "annotations", "[]model.Annotation"));
        };
        for a in list {
            let Value::Object(a) = a else {
                return Err(type_error(a, "annotations", "model.Annotation"));
            };
            let timestamp = u64_field(a, "timestamp")?;
            if timestamp < 1 {
                return Err("valid annotation timestamp required".into());
            }
            annotations.push((timestamp, string_field(a, "value")?));
        }
    }
    let mut tags = BTreeMap::new();
    if let Some(t) = field(map, "tags") {
        let Value::Object(t) = t else {
            return Err(type_error(t, "tags", "map[string]string"));
        };
        for (k, v) in t {
            match v {
                Value::String(s) => {
                    tags.insert(k.clone(), s.clone());
                }
                Value::Null => {
                    tags.insert(k.clone(), String::new());
                }
                other => return Err(type_error(other, "tags", "string")),
            }
        }
    }
    Ok(ZipkinSpan {
        trace_high,
        trace_low,
        id,
        parent_id,
        name: string_field(map, "name")?,
        kind: string_field(map, "kind")?,
        timestamp_us: Some(u64_field(map, "timestamp")?).filter(|t| *t > 0),
        duration_us: u64_field(map, "duration")?,
        local: read_endpoint(field(map, "localEndpoint"), "localEndpoint")?,
        remote: read_endpoint(field(map, "remoteEndpoint"), "remoteEndpoint")?,
        annotations,
        tags,
    })
}

/// An endpoint, or `None` when it says nothing (zipkin-go's `Empty`).
fn read_endpoint(value: Option<&Value>, name: &str) -> Result<Option<Endpoint>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let Value::Object(map) = value else {
        return Err(type_error(value, name, "model.Endpoint"));
    };
    let ip = |key: &str| -> Result<Option<String>, String> {
        match string_field(map, key)?.as_str() {
            "" => Ok(None),
            text => text
                .parse::<IpAddr>()
                .map(|ip| Some(ip_text(&ip)))
                .map_err(|_| format!("invalid IP address: {text}")),
        }
    };
    let port = match field(map, "port") {
        None => 0,
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| type_error(v, "port", "uint16"))?,
    };
    let endpoint = Endpoint {
        service_name: string_field(map, "serviceName")?,
        ipv4: ip("ipv4")?,
        ipv6: ip("ipv6")?,
        port,
    };
    let empty = endpoint.service_name.is_empty()
        && endpoint.port == 0
        && endpoint.ipv4.is_none()
        && endpoint.ipv6.is_none();
    Ok((!empty).then_some(endpoint))
}

/// Go's `net.IP.String()`: an IPv4-mapped address prints as IPv4.
fn ip_text(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match Ipv6Addr::to_ipv4_mapped(v6) {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// The translator's grouping sort: by local service, then library name.
/// Go's `sort.Sort` with a "less or equal" comparison puts later equal
/// spans first; for the small batches Envoy sends (insertion sort, up to
/// 12 spans) that is a reversal within each group, reproduced here.
fn group(spans: &mut [ZipkinSpan]) {
    let key = |s: &ZipkinSpan| (s.local_service().to_string(), s.library().to_string());
    if spans.len() <= 12 {
        for i in 1..spans.len() {
            let mut j = i;
            while j > 0 && key(&spans[j]) <= key(&spans[j - 1]) {
                spans.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        spans.sort_by_key(key);
    }
}

/// The translator's `ToTraces`: spans grouped by local service, then by
/// library, into OTLP.
pub(crate) fn to_otlp(mut spans: Vec<ZipkinSpan>) -> Result<ExportTraceServiceRequest, String> {
    group(&mut spans);
    let mut resource_spans: Vec<ResourceSpans> = Vec::new();
    let mut previous_service: Option<String> = None;
    let mut previous_library: Option<String> = None;
    for mut span in spans {
        let service = span.local_service().to_string();
        if previous_service.as_deref() != Some(service.as_str()) {
            resource_spans.push(ResourceSpans {
                resource: Some(Resource {
                    attributes: resource_attributes(&mut span.tags, &service),
                    ..Default::default()
                }),
                scope_spans: Vec::new(),
                schema_url: String::new(),
            });
            previous_service = Some(service);
            previous_library = None;
        }
        let library = span.library().to_string();
        let resource = resource_spans.last_mut().expect("a resource was pushed");
        if previous_library.as_deref() != Some(library.as_str()) {
            let mut scope = InstrumentationScope::default();
            if !library.is_empty() {
                scope.name = span.tags.remove(LIBRARY_NAME).unwrap_or_default();
                scope.version = span.tags.remove(LIBRARY_VERSION).unwrap_or_default();
            }
            resource.scope_spans.push(ScopeSpans {
                scope: Some(scope),
                spans: Vec::new(),
                schema_url: String::new(),
            });
            previous_library = Some(library);
        }
        let scope = resource.scope_spans.last_mut().expect("a scope was pushed");
        scope.spans.push(to_otlp_span(span)?);
    }
    Ok(ExportTraceServiceRequest { resource_spans })
}

/// The resource of a service's first span: `service.name` (or the key its
/// `otlp.service.name.source` tag names) and its resource-like tags.
fn resource_attributes(tags: &mut BTreeMap<String, String>, service: &str) -> Vec<KeyValue> {
    let mut attrs = Vec::new();
    if service == NO_SERVICE_NAME {
        return attrs;
    }
    let name_key = match tags.remove(SERVICE_NAME_SOURCE) {
        Some(source) if !source.is_empty() => source,
        _ => "service.name".to_string(),
    };
    put(&mut attrs, &name_key, string_value(service));
    let keys: Vec<String> = tags
        .keys()
        .filter(|k| {
            RESOURCE_KEYS.contains(&k.as_str())
                && k.as_str() != LIBRARY_NAME
                && k.as_str() != LIBRARY_VERSION
        })
        .cloned()
        .collect();
    for key in keys {
        let value = tags.remove(&key).expect("the key was listed");
        put(&mut attrs, &key, string_value(&value));
    }
    attrs
}

/// pcommon `Map.Put*`: replace the first attribute with the key, or append.
fn put(attrs: &mut Vec<KeyValue>, key: &str, value: any_value::Value) {
    let value = Some(AnyValue { value: Some(value) });
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = value,
        None => attrs.push(KeyValue {
            key: key.to_string(),
            value,
            ..Default::default()
        }),
    }
}

fn string_value(text: &str) -> any_value::Value {
    any_value::Value::StringValue(text.to_string())
}

fn to_otlp_span(mut z: ZipkinSpan) -> Result<Span, String> {
    let mut span = Span {
        trace_id: {
            let mut id = z.trace_high.to_be_bytes().to_vec();
            id.extend_from_slice(&z.trace_low.to_be_bytes());
            id
        },
        span_id: z.id.to_be_bytes().to_vec(),
        name: z.name.clone(),
        ..Default::default()
    };
    if let Some(state) = z.tags.remove("w3c.tracestate") {
        span.trace_state = state;
    }
    if let Some(parent) = z.parent_id.filter(|p| *p != z.id && *p != 0) {
        span.parent_span_id = parent.to_be_bytes().to_vec();
    }
    span.kind = match z.kind.as_str() {
        "CLIENT" => SpanKind::Client,
        "SERVER" => SpanKind::Server,
        "PRODUCER" => SpanKind::Producer,
        "CONSUMER" => SpanKind::Consumer,
        _ => match z.tags.remove("span.kind").as_deref() {
            Some("internal") => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
    } as i32;
    let mut status = Status::default();
    if let Some(code) = z.tags.remove("otel.status_code") {
        status.code = match code.as_str() {
            "STATUS_CODE_OK" | "Ok" => 1,
            "STATUS_CODE_ERROR" | "Error" => 2,
            _ => 0,
        };
        if let Some(message) = z.tags.remove("otel.status_description") {
            status.message = message;
        }
    }
    if let Some(error) = z.tags.get("error") {
        status.code = 2;
        if error == "true" {
            z.tags.remove("error");
        }
    }
    span.status = Some(status);
    span.links = links(&mut z.tags)?;

    let mut attrs = Vec::new();
    for (key, value) in &z.tags {
        if !RESOURCE_KEYS.contains(&key.as_str()) {
            put(&mut attrs, key, string_value(value));
        }
    }
    if let Some(local) = &z.local {
        for ip in [&local.ipv4, &local.ipv6].into_iter().flatten() {
            put(&mut attrs, "net.host.ip", string_value(ip));
        }
        if local.port > 0 {
            put(
                &mut attrs,
                "net.host.port",
                any_value::Value::IntValue(local.port.into()),
            );
        }
    }
    if let Some(remote) = &z.remote {
        if !remote.service_name.is_empty() {
            put(
                &mut attrs,
                "peer.service",
                string_value(&remote.service_name),
            );
        }
        for ip in [&remote.ipv4, &remote.ipv6].into_iter().flatten() {
            put(&mut attrs, "net.peer.ip", string_value(ip));
        }
        if remote.port > 0 {
            put(
                &mut attrs,
                "net.peer.port",
                any_value::Value::IntValue(remote.port.into()),
            );
        }
    }
    let duration_ns = z.duration_us.wrapping_mul(1_000);
    match z.timestamp_us {
        None => {
            span.start_time_unix_nano = 0;
            span.end_time_unix_nano = duration_ns;
            put(
                &mut attrs,
                "otel.zipkin.absentField.startTime",
                any_value::Value::BoolValue(true),
            );
        }
        Some(timestamp_us) => {
            span.start_time_unix_nano = timestamp_us.wrapping_mul(1_000);
            span.end_time_unix_nano = span.start_time_unix_nano.wrapping_add(duration_ns);
        }
    }
    span.attributes = attrs;
    span.events = z
        .annotations
        .iter()
        .map(|(timestamp, value)| {
            let (name, attributes) = annotation(value)?;
            Ok(Event {
                time_unix_nano: timestamp.wrapping_mul(1_000),
                name,
                attributes,
                ..Default::default()
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(span)
}

/// `name|{json attributes}|dropped`, or just a name.
fn annotation(value: &str) -> Result<(String, Vec<KeyValue>), String> {
    let parts: Vec<&str> = value.split('|').collect();
    let name = parts[0].to_string();
    if parts.len() < 3 {
        return Ok((name, Vec::new()));
    }
    let attributes = json_attributes(&parts[1..parts.len() - 1].join("|"))?;
    go_text::parse_uint(parts[parts.len() - 1], 32)?;
    Ok((name, attributes))
}

/// The translator's `jsonMapToAttributeMap`: strings, booleans, numbers
/// (integral ones as integers); anything else is left out.
fn json_attributes(text: &str) -> Result<Vec<KeyValue>, String> {
    let map: BTreeMap<String, Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map.into_iter().collect(),
        Ok(Value::Null) => BTreeMap::new(),
        Ok(other) => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                kind(&other)
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let mut attrs = Vec::new();
    for (key, value) in map {
        let value = match value {
            Value::String(s) => any_value::Value::StringValue(s),
            Value::Bool(b) => any_value::Value::BoolValue(b),
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                if f % 1.0 == 0.0 {
                    any_value::Value::IntValue(f as i64)
                } else {
                    any_value::Value::DoubleValue(f)
                }
            }
            _ => continue,
        };
        put(&mut attrs, &key, value);
    }
    Ok(attrs)
}

/// `otlp.link.N` tags (`trace|span|state|{attributes}|dropped`), N from 0
/// until the first missing one.
fn links(tags: &mut BTreeMap<String, String>) -> Result<Vec<Link>, String> {
    let mut links = Vec::new();
    for n in 0..128 {
        let Some(text) = tags.remove(&format!("otlp.link.{n}")) else {
            break;
        };
        let parts: Vec<&str> = text.split('|').collect();
        if parts.len() < 5 {
            continue;
        }
        let attributes = json_attributes(&parts[3..parts.len() - 1].join("|"))?;
        let dropped = go_text::parse_uint(parts[parts.len() - 1], 32)?;
        links.push(Link {
            trace_id: link_id(parts[0], 16)?,
            span_id: link_id(parts[1], 8)?,
            trace_state: parts[2].to_string(),
            attributes,
            dropped_attributes_count: dropped as u32,
            ..Default::default()
        });
    }
    Ok(links)
}

/// The translator's `unmarshalJSON` for a link's id: hex, maybe quoted,
/// empty for none.
fn link_id(text: &str, len: usize) -> Result<Vec<u8>, String> {
    let hex = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    if hex.is_empty() {
        return Ok(vec![0; len]);
    }
    if hex.len() != len * 2 {
        return Err("invalid length for ID".into());
    }
    (0..len)
        .map(|i| {
            hex.get(2 * i..2 * i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| {
                    format!("cannot unmarshal ID from string '{hex}': encoding/hex: invalid byte")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::otlp;
    use crate::collector::span::{SpanKind as Kind, StatusCode, TagValue};

    /// An Envoy span as the sandbox's front proxy reports it.
    const ENVOY: &str = r#"[{
        "traceId": "0000000000000000a1b2c3d4e5f60718",
        "id": "1111111111111111",
        "kind": "CLIENT",
        "name": "checkAvailability",
        "timestamp": 1700000000000000,
        "duration": 2500,
        "localEndpoint": {"serviceName": "front-proxy", "ipv4": "172.18.0.2", "port": 8000},
        "remoteEndpoint": {"ipv4": "::ffff:172.18.0.3", "port": 8080},
        "tags": {
            "component": "proxy",
            "http.status_code": "503",
            "error": "true",
            "node_id": "front-proxy",
            "host.name": "front"
        }
    }]"#;

    #[test]
    fn an_envoy_span_becomes_the_otlp_jaegers_receiver_makes() {
        let request = decode(ENVOY.as_bytes()).unwrap();
        let spans = otlp::translate(request).unwrap();
        assert_eq!(spans.len(), 1);
        let span = &spans[0];
        assert_eq!(span.trace_id.to_jaeger_string(), "a1b2c3d4e5f60718");
        assert_eq!(span.kind, Kind::Client);
        assert_eq!(span.status, StatusCode::Error);
        assert_eq!(span.duration_us(), 2500);
        assert_eq!(span.process.service_name, "front-proxy");
        let tag = |key: &str| span.tags.iter().find(|t| &*t.key == key).map(|t| &t.value);
        assert_eq!(tag("http.status_code"), Some(&TagValue::Str("503".into())));
        assert_eq!(
            tag("net.host.ip"),
            Some(&TagValue::Str("172.18.0.2".into()))
        );
        assert_eq!(tag("net.host.port"), Some(&TagValue::Int(8000)));
        assert_eq!(
            tag("net.peer.ip"),
            Some(&TagValue::Str("172.18.0.3".into()))
        );
        assert_eq!(tag("error"), Some(&TagValue::Bool(true)), "from the status");
        assert_eq!(tag("host.name"), None, "a resource tag");
        assert!(span.process.tags.iter().any(|t| &*t.key == "host.name"));
    }

    #[test]
    fn bad_zipkin_json_is_an_error_not_a_panic() {
        for body in [
            "{",
            "{}",
            "[1]",
            "[{\"traceId\": \"\", \"id\": \"1\"}]",
            "[{\"traceId\": \"1\"}]",
            "[{\"traceId\": \"1\", \"id\": \"xyz\"}]",
            "[{\"traceId\": \"1\", \"id\": \"1\", \"annotations\": [{\"value\": \"a\"}]}]",
            "[{\"traceId\": \"1\", \"id\": \"1\", \"tags\": {\"a\": 1}}]",
            "[{\"traceId\": \"1\", \"id\": \"1\", \"localEndpoint\": {\"ipv4\": \"nope\"}}]",
        ] {
            assert!(decode(body.as_bytes()).is_err(), "{body}");
        }
        assert_eq!(decode(b"null").unwrap().resource_spans.len(), 0);
    }

    #[test]
    fn a_span_without_a_trace_id_is_refused_not_stored_under_trace_zero() {
        // Jaeger accepts it (and its search then stops at that trace).
        let request = decode(br#"[{"id": "0000000000000001", "name": "x"}]"#).unwrap();
        let err = otlp::translate(request).unwrap_err().to_string();
        assert!(err.contains("invalid traceId"), "{err}");
    }

    #[test]
    fn annotation_and_link_attributes_are_read_from_their_json() {
        let (name, attrs) = annotation("cs|{\"a\":1,\"b\":1.5,\"c\":\"x\",\"d\":[1]}|0").unwrap();
        assert_eq!(name, "cs");
        let keys: Vec<_> = attrs.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert!(annotation("cs|{bad|0").is_err());
        assert_eq!(link_id("\"0a0b\"", 2).unwrap(), [10, 11]);
        assert_eq!(link_id("0a", 2).unwrap_err(), "invalid length for ID");
    }

    #[test]
    fn equal_spans_of_a_small_batch_come_out_reversed_as_gos_sort_leaves_them() {
        let span = |id| ZipkinSpan {
            id,
            local: Some(Endpoint {
                service_name: "s".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut spans = vec![span(1), span(2), span(3)];
        group(&mut spans);
        let ids: Vec<_> = spans.iter().map(|s| s.id).collect();
        assert_eq!(ids, [3, 2, 1]);
    }
}
