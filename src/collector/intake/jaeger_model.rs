//! Jaeger's own span model, as its legacy wire formats carry it (thrift's
//! `jaeger.thrift` on 14268 and the UDP agent ports, protobuf's `api_v2`
//! on gRPC 14250), and its translation into OTLP exactly as Jaeger v2's
//! jaeger receiver does it: the OpenTelemetry collector's `ThriftToTraces`
//! and `ProtoToTraces`. The OTLP then goes through
//! [`crate::collector::otlp::translate`] like every other intake.
//!
//! The two translations differ in small ways, kept here as a [`Flavor`]:
//! only protobuf spans carry a process of their own (spans are regrouped by
//! process), take their scope from `otel.scope.name`/`otel.scope.version`
//! tags and their trace state from `w3c.tracestate`; only thrift spans have
//! a `parentSpanId` field. Blank spans are dropped by the decoders, which
//! know what "blank" means on their wire.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{self as otlp_span, Event, Link};
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, status,
};

use super::pdata_map::{get, put, put_str, remove, str_of};

/// Which of the collector's two Jaeger translators a batch goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Thrift,
    Proto,
}

/// A process: who sent the spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process {
    pub service_name: String,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub key: String,
    pub value: Value,
}

/// A tag's value by its declared type; the field of another type it may
/// also carry is ignored, as Jaeger's getters ignore it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Binary(Vec<u8>),
    /// A type number Jaeger does not know, as Go prints the enum: thrift
    /// says `<UNSET>`, protobuf the number.
    Unknown(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefType {
    ChildOf,
    FollowsFrom,
    /// A type number that is neither (never a parent, a follows-from link).
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpanRef {
    pub ref_type: RefType,
    pub trace_id_high: u64,
    pub trace_id_low: u64,
    pub span_id: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Log {
    pub timestamp_unix_nano: u64,
    pub fields: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Span {
    pub trace_id_high: u64,
    pub trace_id_low: u64,
    pub span_id: u64,
    /// Thrift's `parentSpanId` (protobuf says it with references only).
    pub parent_span_id: u64,
    pub operation_name: String,
    pub references: Vec<SpanRef>,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub tags: Vec<Tag>,
    pub logs: Vec<Log>,
    /// Protobuf only: the span's own process, before the batch's.
    pub process: Option<Process>,
}

/// What a batch (thrift's `Batch`, protobuf's `PostSpansRequest.batch`)
/// holds once decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub process: Option<Process>,
    pub spans: Vec<Span>,
}

const SERVICE_NAME: &str = "service.name";
/// The name of a resource that had none (the collector's marker).
const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

/// `ThriftToTraces`: one resource for the batch's process, one scope for
/// all its spans.
pub fn thrift_to_otlp(batch: Batch) -> ExportTraceServiceRequest {
    if batch.process.is_none() && batch.spans.is_empty() {
        return ExportTraceServiceRequest::default();
    }
    let scope_spans = if batch.spans.is_empty() {
        Vec::new()
    } else {
        vec![ScopeSpans {
            scope: Some(InstrumentationScope::default()),
            spans: batch
                .spans
                .into_iter()
                .map(|span| to_otlp_span(span, Flavor::Thrift))
                .collect(),
            schema_url: String::new(),
        }]
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(batch.process.as_ref(), Flavor::Thrift)),
            scope_spans,
            schema_url: String::new(),
        }],
    }
}

/// `ProtoToTraces`: spans regrouped by process (a span's own, else its
/// batch's), then by scope within each process.
pub fn proto_to_otlp(batches: Vec<Batch>) -> ExportTraceServiceRequest {
    // (process, spans), in order of first appearance; Jaeger keys a Go map
    // by a hash of the process, so its order is unspecified anyway.
    let mut groups: Vec<(Option<Process>, Vec<Span>)> = Vec::new();
    let group_of =
        |groups: &mut Vec<(Option<Process>, Vec<Span>)>, process: Option<Process>| match groups
            .iter()
            .position(|(p, _)| same_process(p.as_ref(), process.as_ref()))
        {
            Some(i) => i,
            None => {
                groups.push((process, Vec::new()));
                groups.len() - 1
            }
        };
    let mut batch_has_process = Vec::new();
    for batch in batches {
        let own = group_of(&mut groups, batch.process);
        batch_has_process.push(own);
        for mut span in batch.spans {
            let group = match span.process.take() {
                None => own,
                Some(process) => group_of(&mut groups, Some(process)),
            };
            groups[group].1.push(span);
        }
    }
    let resource_spans = groups
        .into_iter()
        .filter(|(process, spans)| process.is_some() || !spans.is_empty())
        .map(|(process, spans)| ResourceSpans {
            resource: Some(resource(process.as_ref(), Flavor::Proto)),
            scope_spans: scopes(spans),
            schema_url: String::new(),
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// Processes Jaeger hashes alike (it hashes their protobuf encoding): an
/// absent process is the same as an empty one, floats compare by bits.
fn same_process(a: Option<&Process>, b: Option<&Process>) -> bool {
    let empty = Process::default();
    let (a, b) = (a.unwrap_or(&empty), b.unwrap_or(&empty));
    a.service_name == b.service_name
        && a.tags.len() == b.tags.len()
        && a.tags.iter().zip(&b.tags).all(|(x, y)| {
            x.key == y.key
                && match (&x.value, &y.value) {
                    (Value::Double(p), Value::Double(q)) => p.to_bits() == q.to_bits(),
                    (p, q) => p == q,
                }
        })
}

/// Spans grouped by the scope their `otel.scope.*` tags name, in order.
fn scopes(spans: Vec<Span>) -> Vec<ScopeSpans> {
    let mut scopes: Vec<ScopeSpans> = Vec::new();
    for mut span in spans {
        let mut scope = InstrumentationScope::default();
        if let Some(name) = take_tag(&mut span.tags, "otel.scope.name") {
            scope.name = name;
            if let Some(version) = take_tag(&mut span.tags, "otel.scope.version") {
                scope.version = version;
            }
        }
        let otlp_span = to_otlp_span(span, Flavor::Proto);
        let same = |s: &&mut ScopeSpans| {
            s.scope
                .as_ref()
                .is_some_and(|x| x.name == scope.name && x.version == scope.version)
        };
        match scopes.iter_mut().find(|s| same(s)) {
            Some(existing) => existing.spans.push(otlp_span),
            None => scopes.push(ScopeSpans {
                scope: Some(scope),
                spans: vec![otlp_span],
                schema_url: String::new(),
            }),
        }
    }
    scopes
}

/// `getAndDeleteTag`: the first tag with the key leaves the list (order
/// kept); its string value, "" for another type.
fn take_tag(tags: &mut Vec<Tag>, key: &str) -> Option<String> {
    let index = tags.iter().position(|t| t.key == key)?;
    Some(match tags.remove(index).value {
        Value::Str(s) => s,
        _ => String::new(),
    })
}

/// The resource of a process: `service.name`, its tags, `hostname` as
/// `host.name` and `jaeger.version` as the exporter version.
fn resource(process: Option<&Process>, flavor: Flavor) -> Resource {
    let mut attrs = Vec::new();
    if let Some(process) = process
        && !(flavor == Flavor::Proto && process.service_name == NO_SERVICE_NAME)
    {
        if !process.service_name.is_empty() {
            put_str(&mut attrs, SERVICE_NAME, process.service_name.clone());
        }
        tags_to_attributes(&process.tags, &mut attrs);
        if let Some(hostname) = get(&attrs, "hostname")
            && get(&attrs, "host.name").is_none()
        {
            let hostname = hostname.cloned();
            attrs.push(KeyValue {
                key: "host.name".into(),
                value: Some(opentelemetry_proto::tonic::common::v1::AnyValue { value: hostname }),
                ..Default::default()
            });
            remove(&mut attrs, "hostname");
        }
        if let Some(version) = get(&attrs, "jaeger.version")
            && get(&attrs, "opencensus.exporterversion").is_none()
        {
            let exporter = format!("Jaeger-{}", str_of(version));
            put_str(&mut attrs, "opencensus.exporterversion", exporter);
            remove(&mut attrs, "jaeger.version");
        }
    }
    Resource {
        attributes: attrs,
        ..Default::default()
    }
}

fn tags_to_attributes(tags: &[Tag], attrs: &mut Vec<KeyValue>) {
    for tag in tags {
        let value = match &tag.value {
            Value::Str(s) => any_value::Value::StringValue(s.clone()),
            Value::Bool(b) => any_value::Value::BoolValue(*b),
            Value::Int(i) => any_value::Value::IntValue(*i),
            Value::Double(f) => any_value::Value::DoubleValue(*f),
            Value::Binary(b) => any_value::Value::BytesValue(b.clone()),
            Value::Unknown(name) => {
                any_value::Value::StringValue(format!("<Unknown Jaeger TagType \"{name}\">"))
            }
        };
        put(attrs, &tag.key, value);
    }
}

/// The parent: thrift's `parentSpanId` if set, else the first same-trace
/// CHILD_OF reference, else the first same-trace FOLLOWS_FROM one.
fn parent_span_id(span: &Span) -> u64 {
    if span.parent_span_id != 0 {
        return span.parent_span_id;
    }
    let same_trace = || {
        span.references.iter().filter(|r| {
            r.trace_id_high == span.trace_id_high && r.trace_id_low == span.trace_id_low
        })
    };
    same_trace()
        .find(|r| r.ref_type == RefType::ChildOf)
        .or_else(|| same_trace().find(|r| r.ref_type == RefType::FollowsFrom))
        .map_or(0, |r| r.span_id)
}

fn trace_id_bytes(high: u64, low: u64) -> Vec<u8> {
    let mut id = high.to_be_bytes().to_vec();
    id.extend_from_slice(&low.to_be_bytes());
    id
}

fn to_otlp_span(span: Span, flavor: Flavor) -> OtlpSpan {
    let parent = parent_span_id(&span);
    let mut attrs = Vec::with_capacity(span.tags.len());
    tags_to_attributes(&span.tags, &mut attrs);
    let mut kind = otlp_span::SpanKind::Unspecified;
    if let Some(value) = get(&attrs, "span.kind") {
        kind = match str_of(value) {
            "client" => otlp_span::SpanKind::Client,
            "server" => otlp_span::SpanKind::Server,
            "producer" => otlp_span::SpanKind::Producer,
            "consumer" => otlp_span::SpanKind::Consumer,
            "internal" => otlp_span::SpanKind::Internal,
            _ => otlp_span::SpanKind::Unspecified,
        };
        remove(&mut attrs, "span.kind");
    }
    let status = span_status(&mut attrs, kind);
    let mut trace_state = String::new();
    if flavor == Flavor::Proto
        && let Some(value) = get(&attrs, "w3c.tracestate")
    {
        trace_state = str_of(value).to_string();
        remove(&mut attrs, "w3c.tracestate");
    }
    let events = span
        .logs
        .iter()
        .map(|log| {
            let mut event = Event {
                time_unix_nano: log.timestamp_unix_nano,
                ..Default::default()
            };
            tags_to_attributes(&log.fields, &mut event.attributes);
            if let Some(name) = get(&event.attributes, "event") {
                event.name = str_of(name).to_string();
                remove(&mut event.attributes, "event");
            }
            event
        })
        .collect();
    OtlpSpan {
        trace_id: trace_id_bytes(span.trace_id_high, span.trace_id_low),
        span_id: span.span_id.to_be_bytes().to_vec(),
        trace_state,
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            parent.to_be_bytes().to_vec()
        },
        name: span.operation_name,
        kind: kind as i32,
        start_time_unix_nano: span.start_unix_nano,
        end_time_unix_nano: span.end_unix_nano,
        attributes: attrs,
        events,
        links: links(&span.references, parent),
        status,
        ..Default::default()
    }
}

/// References other than the parent become links tagged with their type.
fn links(references: &[SpanRef], parent: u64) -> Vec<Link> {
    let is_parent = |r: &SpanRef| r.span_id == parent && r.ref_type == RefType::ChildOf;
    references
        .iter()
        .filter(|r| !is_parent(r))
        .map(|r| {
            let mut attributes = Vec::new();
            let ref_type = if r.ref_type == RefType::ChildOf {
                "child_of"
            } else {
                "follows_from"
            };
            put_str(&mut attributes, "opentracing.ref_type", ref_type);
            Link {
                trace_id: trace_id_bytes(r.trace_id_high, r.trace_id_low),
                span_id: r.span_id.to_be_bytes().to_vec(),
                attributes,
                ..Default::default()
            }
        })
        .collect()
}

/// `setInternalSpanStatus`: a true `error` tag is the last word, else
/// `otel.status_code`, else an HTTP status code that means failure; the
/// tags that said so leave the attributes.
fn span_status(attrs: &mut Vec<KeyValue>, kind: otlp_span::SpanKind) -> Option<Status> {
    let mut code = status::StatusCode::Unset;
    let mut message = String::new();
    let mut exists = false;
    if let Some(Some(any_value::Value::BoolValue(true))) = get(attrs, "error") {
        code = status::StatusCode::Error;
        remove(attrs, "error");
        exists = true;
        if let Some(description) = take_status_description(attrs) {
            message = description;
        } else if let Some(text) = get(attrs, "http.status_message") {
            message = str_of(text).to_string();
        }
    }
    if let Some(value) = get(attrs, "otel.status_code") {
        if !exists {
            exists = true;
            match str_of(value).to_uppercase().as_str() {
                "OK" => code = status::StatusCode::Ok,
                "ERROR" => code = status::StatusCode::Error,
                _ => {}
            }
            if let Some(description) = take_status_description(attrs) {
                message = description;
            }
        }
        remove(attrs, "otel.status_code");
    } else if !exists
        && let Some(value) = get(attrs, "http.status_code")
        && let Some(http_code) = http_code_of(value)
    {
        let from_http = status_from_http(http_code, kind);
        if from_http != status::StatusCode::Unset {
            exists = true;
            code = from_http;
        }
        if let Some(text) = get(attrs, "http.status_message") {
            message = str_of(text).to_string();
        }
    }
    exists.then_some(Status {
        code: code as i32,
        message,
    })
}

fn take_status_description(attrs: &mut Vec<KeyValue>) -> Option<String> {
    let text = str_of(get(attrs, "otel.status_description")?).to_string();
    remove(attrs, "otel.status_description");
    Some(text)
}

/// An HTTP status code given as an integer or as decimal text.
fn http_code_of(value: Option<&any_value::Value>) -> Option<i64> {
    match value? {
        any_value::Value::IntValue(i) => Some(*i),
        any_value::Value::StringValue(s) => s.parse().ok(),
        _ => None,
    }
}

/// 4xx is an error for a client, not for a server; below 100 and from 399
/// on is an error (the collector's bound, 399 included).
fn status_from_http(code: i64, kind: otlp_span::SpanKind) -> status::StatusCode {
    if (400..500).contains(&code) {
        match kind {
            otlp_span::SpanKind::Client => return status::StatusCode::Error,
            otlp_span::SpanKind::Server => return status::StatusCode::Unset,
            _ => {}
        }
    }
    if (100..399).contains(&code) {
        status::StatusCode::Unset
    } else {
        status::StatusCode::Error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::otlp;
    use crate::collector::span::{SpanKind as Kind, StatusCode, TagValue};

    fn tag(key: &str, value: Value) -> Tag {
        Tag {
            key: key.into(),
            value,
        }
    }

    fn str_tag(key: &str, value: &str) -> Tag {
        tag(key, Value::Str(value.into()))
    }

    fn span(id: u64) -> Span {
        Span {
            trace_id_low: 0xabc,
            span_id: id,
            operation_name: format!("op{id}"),
            start_unix_nano: 1_000_000_000,
            end_unix_nano: 1_002_000_000,
            ..Default::default()
        }
    }

    fn process(service: &str) -> Process {
        Process {
            service_name: service.into(),
            tags: vec![
                str_tag("hostname", "box"),
                str_tag("jaeger.version", "Go-2.30.0"),
                str_tag("ip", "10.0.0.1"),
            ],
        }
    }

    #[test]
    fn a_jaeger_client_span_becomes_what_jaeger_stores() {
        let mut s = span(2);
        s.parent_span_id = 1;
        s.tags = vec![
            str_tag("span.kind", "server"),
            tag("error", Value::Bool(true)),
            str_tag("otel.status_description", "boom"),
            tag("http.status_code", Value::Int(500)),
            tag("sampler.param", Value::Bool(true)),
        ];
        s.logs = vec![Log {
            timestamp_unix_nano: 1_001_000_000,
            fields: vec![str_tag("event", "retry"), tag("attempt", Value::Int(2))],
        }];
        let request = thrift_to_otlp(Batch {
            process: Some(process("checkout")),
            spans: vec![s],
        });
        let stored = otlp::translate(request).unwrap();
        let span = &stored[0];
        assert_eq!(span.kind, Kind::Server);
        assert_eq!(span.status, StatusCode::Error);
        assert_eq!(span.parent_span_id(), Some(1));
        assert_eq!(span.process.service_name, "checkout");
        let process_keys: Vec<_> = span.process.tags.iter().map(|t| &*t.key).collect();
        // `hostname` gives way to `host.name`, the last tag taking its
        // slot; then `jaeger.version` to the exporter version, likewise.
        assert_eq!(
            process_keys,
            ["host.name", "opencensus.exporterversion", "ip"]
        );
        assert_eq!(
            span.process.tags[1].value,
            TagValue::Str("Jaeger-Go-2.30.0".into())
        );
        let keys: Vec<_> = span.tags.iter().map(|t| &*t.key).collect();
        assert_eq!(
            keys,
            [
                "sampler.param",
                "http.status_code",
                "span.kind",
                "otel.status_code",
                "error",
                "otel.status_description"
            ]
        );
        assert_eq!(
            span.logs[0].fields[0],
            crate::collector::span::Tag::string("event", "retry")
        );
    }

    #[test]
    fn the_status_comes_from_the_error_tag_then_otel_status_code_then_http() {
        let status_of = |tags: Vec<Tag>, kind: &str| {
            let mut s = span(1);
            s.tags = tags;
            s.tags.push(str_tag("span.kind", kind));
            let otlp = to_otlp_span(s, Flavor::Thrift);
            otlp.status.map(|st| (st.code, st.message))
        };
        assert_eq!(status_of(vec![], "client"), None);
        assert_eq!(
            status_of(vec![tag("error", Value::Str("true".into()))], "client"),
            None,
            "only a boolean error tag counts"
        );
        assert_eq!(
            status_of(vec![str_tag("otel.status_code", "ok")], "client"),
            Some((1, String::new()))
        );
        assert_eq!(
            status_of(vec![str_tag("otel.status_code", "nonsense")], "client"),
            Some((0, String::new()))
        );
        assert_eq!(
            status_of(vec![str_tag("http.status_code", "404")], "client"),
            Some((2, String::new()))
        );
        assert_eq!(
            status_of(vec![str_tag("http.status_code", "404")], "server"),
            None
        );
        assert_eq!(
            status_of(
                vec![
                    tag("http.status_code", Value::Int(399)),
                    str_tag("http.status_message", "odd")
                ],
                "server"
            ),
            Some((2, "odd".into()))
        );
        assert_eq!(
            status_of(vec![str_tag("http.status_code", "20x")], "server"),
            None
        );
    }

    #[test]
    fn references_other_than_the_parent_become_typed_links() {
        let mut s = span(3);
        let reference = |ref_type, span_id| SpanRef {
            ref_type,
            trace_id_high: 0,
            trace_id_low: 0xabc,
            span_id,
        };
        s.references = vec![
            reference(RefType::FollowsFrom, 7),
            reference(RefType::ChildOf, 1),
            reference(RefType::Other, 9),
        ];
        let otlp = to_otlp_span(s, Flavor::Proto);
        assert_eq!(otlp.parent_span_id, 1u64.to_be_bytes());
        let linked: Vec<_> = otlp
            .links
            .iter()
            .map(|l| {
                (
                    u64::from_be_bytes(l.span_id.clone().try_into().unwrap()),
                    str_of(get(&l.attributes, "opentracing.ref_type").flatten()).to_string(),
                )
            })
            .collect();
        assert_eq!(
            linked,
            [
                (7, "follows_from".to_string()),
                (9, "follows_from".to_string())
            ]
        );
    }

    #[test]
    fn protobuf_spans_are_grouped_by_process_and_scope() {
        let mut own = span(2);
        own.process = Some(process("other"));
        let mut scoped = span(3);
        scoped.tags = vec![
            str_tag("otel.scope.name", "lib"),
            str_tag("otel.scope.version", "1.0"),
            str_tag("w3c.tracestate", "k=v"),
        ];
        let request = proto_to_otlp(vec![Batch {
            process: Some(process("main")),
            spans: vec![span(1), own, scoped],
        }]);
        assert_eq!(request.resource_spans.len(), 2);
        let main = &request.resource_spans[0];
        assert_eq!(main.scope_spans.len(), 2);
        let lib = &main.scope_spans[1];
        assert_eq!(lib.scope.as_ref().unwrap().name, "lib");
        assert_eq!(lib.spans[0].trace_state, "k=v");
        assert!(lib.spans[0].attributes.is_empty());
        let stored = otlp::translate(request).unwrap();
        let services: Vec<_> = stored
            .iter()
            .map(|s| s.process.service_name.as_str())
            .collect();
        assert_eq!(services, ["main", "main", "other"]);
    }

    #[test]
    fn a_process_named_as_having_no_name_gets_none_in_protobuf_only() {
        let nameless = Process {
            service_name: NO_SERVICE_NAME.into(),
            tags: vec![],
        };
        assert!(
            resource(Some(&nameless), Flavor::Proto)
                .attributes
                .is_empty()
        );
        assert_eq!(
            resource(Some(&nameless), Flavor::Thrift).attributes.len(),
            1
        );
        assert!(resource(None, Flavor::Thrift).attributes.is_empty());
    }

    #[test]
    fn unknown_tag_types_read_as_jaegers_placeholder_text() {
        let mut attrs = Vec::new();
        tags_to_attributes(&[tag("odd", Value::Unknown("<UNSET>".into()))], &mut attrs);
        assert_eq!(
            str_of(get(&attrs, "odd").flatten()),
            "<Unknown Jaeger TagType \"<UNSET>\">"
        );
    }
}
