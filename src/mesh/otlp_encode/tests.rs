//! The encoder's bytes against prost's encoding of the SDK's own conversion
//! (`opentelemetry-proto`'s transform), for every field a span can carry.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message;

use super::{EncodedResource, export_request};

/// What the SDK's OTLP exporter would send for `spans`.
fn sdk_bytes(resource: &Resource, spans: &[SpanData]) -> Vec<u8> {
    let resource = ResourceAttributesWithSchema::from(resource);
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans.to_vec(), &resource),
    }
    .encode_to_vec()
}

fn assert_same_as_sdk(resource: &Resource, spans: &[SpanData]) {
    let ours = export_request(&EncodedResource::new(resource), spans);
    let theirs = sdk_bytes(resource, spans);
    if ours != theirs {
        let decoded = ExportTraceServiceRequest::decode(ours.as_slice());
        panic!(
            "encodings differ\nours:   {ours:?}\ntheirs: {theirs:?}\nours decoded: {decoded:?}\n\
             theirs decoded: {:?}",
            ExportTraceServiceRequest::decode(theirs.as_slice())
        );
    }
}

fn context(
    trace: u128,
    span: u64,
    flags: TraceFlags,
    remote: bool,
    state: TraceState,
) -> SpanContext {
    SpanContext::new(
        TraceId::from_bytes(trace.to_be_bytes()),
        SpanId::from_bytes(span.to_be_bytes()),
        flags,
        remote,
        state,
    )
}

fn at(micros: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(1_764_000_000_000_000 + micros)
}

/// An Envoy-like server span: a remote parent, string tags, an error status.
fn envoy_span(scope: InstrumentationScope) -> SpanData {
    let mut attributes: Vec<KeyValue> = (0..12)
        .map(|i| KeyValue::new(format!("tag.{i}"), format!("value {i}")))
        .collect();
    attributes.push(KeyValue::new("component", "proxy"));
    attributes.push(KeyValue::new("empty", ""));
    SpanData {
        span_context: context(0xabc, 0x12, TraceFlags::SAMPLED, false, TraceState::NONE),
        parent_span_id: SpanId::from_bytes(0x34u64.to_be_bytes()),
        parent_span_is_remote: true,
        span_kind: SpanKind::Server,
        name: Cow::Borrowed("router service1 egress"),
        start_time: at(0),
        end_time: at(1_250),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::error("upstream reset"),
        instrumentation_scope: scope,
    }
}

/// A root span with every kind of value, events, links and dropped counts.
fn everything_span(scope: InstrumentationScope) -> SpanData {
    let mut events = SpanEvents::default();
    events.events = vec![
        Event::new("retry", at(100), vec![KeyValue::new("attempt", 2_i64)], 1),
        Event::new("", at(0), vec![], 0),
    ];
    events.dropped_count = 3;
    let mut links = SpanLinks::default();
    let state = TraceState::from_key_value([("vendor", "opaque"), ("other", "x")]).unwrap();
    links.links = vec![
        Link::new(
            context(u128::MAX, u64::MAX, TraceFlags::default(), true, state),
            vec![KeyValue::new("link.kind", "follows")],
            4,
        ),
        Link::new(
            context(1, 1, TraceFlags::SAMPLED, false, TraceState::NONE),
            vec![],
            0,
        ),
    ];
    links.dropped_count = 5;
    SpanData {
        span_context: context(
            0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
            0xfeed,
            TraceFlags::default(),
            false,
            TraceState::from_key_value([("k", "v")]).unwrap(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned("everything".to_string()),
        start_time: at(7),
        end_time: at(7),
        attributes: vec![
            KeyValue::new("bool.true", true),
            KeyValue::new("bool.false", false),
            KeyValue::new("int.zero", 0_i64),
            KeyValue::new("int.negative", -42_i64),
            KeyValue::new("int.large", i64::MAX),
            KeyValue::new("float", 2.5_f64),
            KeyValue::new("float.zero", 0.0_f64),
            KeyValue::new("text.long", "x".repeat(300)),
            KeyValue::new("", "empty key"),
            KeyValue::new("array.bool", Value::Array(Array::Bool(vec![true, false]))),
            KeyValue::new("array.int", Value::Array(Array::I64(vec![0, -1, 300]))),
            KeyValue::new("array.float", Value::Array(Array::F64(vec![1.5, 0.0]))),
            KeyValue::new(
                "array.string",
                Value::Array(Array::String(vec![
                    StringValue::from("a"),
                    StringValue::from(""),
                ])),
            ),
            KeyValue::new("array.empty", Value::Array(Array::I64(vec![]))),
        ],
        dropped_attributes_count: 9,
        events,
        links,
        status: Status::Ok,
        instrumentation_scope: scope,
    }
}

fn sandbox_resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([KeyValue::new("service.name", "service1")])
        .build()
}

#[test]
fn an_envoy_span_encodes_byte_for_byte_as_the_sdks_exporter_would() {
    let scope = InstrumentationScope::builder("tracelab").build();
    let spans = vec![envoy_span(scope.clone()), envoy_span(scope)];
    assert_same_as_sdk(&sandbox_resource(), &spans);
}

#[test]
fn every_value_type_event_link_flag_and_dropped_count_encodes_as_the_sdks_exporter_would() {
    let scope = InstrumentationScope::builder("lib")
        .with_version("1.2.3")
        .with_schema_url("https://opentelemetry.io/schemas/1.27.0")
        .with_attributes([KeyValue::new("scope.attr", 1_i64)])
        .build();
    let resource = Resource::builder_empty()
        .with_schema_url(
            [
                KeyValue::new("service.name", "svc"),
                KeyValue::new("host.cores", 2_i64),
            ],
            "https://opentelemetry.io/schemas/1.26.0",
        )
        .build();
    assert_same_as_sdk(&resource, &[everything_span(scope)]);
}

#[test]
fn spans_of_two_scopes_are_grouped_in_the_order_the_scopes_first_appear() {
    let a = InstrumentationScope::builder("a").build();
    let b = InstrumentationScope::builder("b").with_version("2").build();
    let spans = vec![
        envoy_span(a.clone()),
        everything_span(b.clone()),
        envoy_span(a),
        envoy_span(b),
    ];
    assert_same_as_sdk(&sandbox_resource(), &spans);
}

#[test]
fn an_empty_batch_and_an_empty_resource_encode_as_the_sdks_exporter_would() {
    assert_same_as_sdk(&Resource::builder_empty().build(), &[]);
}
