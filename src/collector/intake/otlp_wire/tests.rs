//! The views read what prost reads: random requests, random damage to
//! them, and the wire's corner cases, each decoded both ways.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as common;
use opentelemetry_proto::tonic::resource::v1 as resource;
use opentelemetry_proto::tonic::trace::v1 as trace;
use prost::Message;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// Both readers on `body`: they must agree on whether it is a request,
/// and on what it holds. Returns whether it was one.
fn agree(body: &[u8]) -> bool {
    let ours = decode(body);
    let prost = ExportTraceServiceRequest::decode(body);
    match (&ours, &prost) {
        (Ok(ours), Ok(prost)) => {
            assert_eq!(*ours, view_of(prost), "body {body:02x?}");
            true
        }
        (Err(_), Err(_)) => false,
        _ => panic!(
            "prost says {:?}, the views say {:?}, for body {body:02x?}",
            prost.as_ref().map(drop),
            ours.as_ref().map(drop)
        ),
    }
}

/// A short text, sometimes empty, sometimes not ASCII.
fn text(rng: &mut ChaCha8Rng) -> String {
    const WORDS: [&str; 8] = ["", "a", "service.name", "http.url", "é∂", "GET", "x", "0"];
    WORDS[rng.random_range(0..WORDS.len())].repeat(rng.random_range(1..3))
}

fn bytes(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let len = [0, 8, 16, 3][rng.random_range(0..4)];
    (0..len).map(|_| rng.random()).collect()
}

fn value(rng: &mut ChaCha8Rng, depth: u32) -> common::AnyValue {
    use common::any_value::Value as P;
    let pick = rng.random_range(0..if depth == 0 { 6 } else { 9 });
    common::AnyValue {
        value: match pick {
            0 => Some(P::StringValue(text(rng))),
            1 => Some(P::BoolValue(rng.random())),
            2 => Some(P::IntValue(rng.random())),
            3 => Some(P::DoubleValue(rng.random::<f64>() * 1e6 - 5e5)),
            4 => Some(P::BytesValue(bytes(rng))),
            5 => None,
            6 => Some(P::ArrayValue(common::ArrayValue {
                values: (0..rng.random_range(0..3))
                    .map(|_| value(rng, depth - 1))
                    .collect(),
            })),
            7 => Some(P::KvlistValue(common::KeyValueList {
                values: attributes(rng, depth - 1),
            })),
            _ => Some(P::StringValueStrindex(rng.random_range(-2..5))),
        },
    }
}

fn attributes(rng: &mut ChaCha8Rng, depth: u32) -> Vec<common::KeyValue> {
    (0..rng.random_range(0..4))
        .map(|_| common::KeyValue {
            key: text(rng),
            value: rng.random_bool(0.9).then(|| value(rng, depth)),
            key_strindex: rng.random_range(0..2),
        })
        .collect()
}

fn random_span(rng: &mut ChaCha8Rng) -> trace::Span {
    trace::Span {
        trace_id: bytes(rng),
        span_id: bytes(rng),
        trace_state: text(rng),
        parent_span_id: bytes(rng),
        flags: rng.random_range(0..1024),
        name: text(rng),
        kind: rng.random_range(-1..7),
        start_time_unix_nano: rng.random(),
        end_time_unix_nano: rng.random(),
        attributes: attributes(rng, 2),
        dropped_attributes_count: rng.random_range(0..3),
        events: (0..rng.random_range(0..3))
            .map(|_| trace::span::Event {
                time_unix_nano: rng.random(),
                name: text(rng),
                attributes: attributes(rng, 1),
                dropped_attributes_count: rng.random_range(0..3),
            })
            .collect(),
        dropped_events_count: rng.random_range(0..3),
        links: (0..rng.random_range(0..3))
            .map(|_| trace::span::Link {
                trace_id: bytes(rng),
                span_id: bytes(rng),
                trace_state: text(rng),
                attributes: attributes(rng, 1),
                dropped_attributes_count: rng.random_range(0..3),
                flags: rng.random(),
            })
            .collect(),
        dropped_links_count: rng.random_range(0..3),
        status: rng.random_bool(0.7).then(|| trace::Status {
            message: text(rng),
            code: rng.random_range(-1..4),
        }),
    }
}

fn random_request(rng: &mut ChaCha8Rng) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (0..rng.random_range(0..3))
            .map(|_| trace::ResourceSpans {
                resource: rng.random_bool(0.8).then(|| resource::Resource {
                    attributes: attributes(rng, 1),
                    dropped_attributes_count: rng.random_range(0..3),
                    entity_refs: (0..rng.random_range(0..2))
                        .map(|_| common::EntityRef {
                            schema_url: text(rng),
                            r#type: text(rng),
                            id_keys: vec![text(rng)],
                            description_keys: vec![text(rng), text(rng)],
                        })
                        .collect(),
                }),
                scope_spans: (0..rng.random_range(0..3))
                    .map(|_| trace::ScopeSpans {
                        scope: rng.random_bool(0.7).then(|| common::InstrumentationScope {
                            name: text(rng),
                            version: text(rng),
                            attributes: attributes(rng, 1),
                            dropped_attributes_count: rng.random_range(0..3),
                        }),
                        spans: (0..rng.random_range(0..4))
                            .map(|_| random_span(rng))
                            .collect(),
                        schema_url: text(rng),
                    })
                    .collect(),
                schema_url: text(rng),
            })
            .collect(),
    }
}

#[test]
fn random_requests_read_as_prost_reads_them() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    for _ in 0..500 {
        let body = random_request(&mut rng).encode_to_vec();
        assert!(agree(&body));
    }
}

#[test]
fn damaged_requests_are_refused_or_read_as_prost_does() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let (mut refused, mut read) = (0, 0);
    for _ in 0..300 {
        let body = random_request(&mut rng).encode_to_vec();
        if body.is_empty() {
            continue;
        }
        for _ in 0..20 {
            let mut damaged = body.clone();
            let at = rng.random_range(0..damaged.len());
            match rng.random_range(0..4) {
                0 => damaged[at] = rng.random(),
                1 => damaged[at] ^= 1 << rng.random_range(0..8),
                2 => damaged.truncate(at),
                _ => damaged.insert(at, rng.random()),
            }
            if agree(&damaged) {
                read += 1;
            } else {
                refused += 1;
            }
        }
    }
    // Both kinds came up, so both paths were compared.
    assert!(
        refused > 100 && read > 100,
        "{refused} refused, {read} read"
    );
}

/// A field's key byte(s): number and wire type.
fn key(tag: u32, wire: u8) -> Vec<u8> {
    let mut out = Vec::new();
    prost::encoding::encode_varint(u64::from(tag << 3 | u32::from(wire)), &mut out);
    out
}

fn len_field(tag: u32, body: &[u8]) -> Vec<u8> {
    let mut out = key(tag, LEN);
    prost::encoding::encode_varint(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    out
}

#[test]
fn a_message_field_met_twice_merges_and_a_scalar_met_twice_is_the_last() {
    // One span whose status comes in two pieces and whose name comes twice.
    let mut span = len_field(5, b"first");
    span.extend(len_field(5, b"second"));
    span.extend(len_field(15, &[0x18, 2])); // status.code = 2
    span.extend(len_field(15, &len_field(2, b"why"))); // status.message
    let body = len_field(1, &len_field(2, &len_field(2, &span)));
    assert!(agree(&body));
    let request = decode(&body).unwrap();
    let read = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(read.name, "second");
    assert_eq!(
        read.status,
        Some(Status {
            message: "why",
            code: 2
        })
    );
}

#[test]
fn unknown_fields_and_groups_are_skipped_and_a_stray_end_group_refused() {
    let mut unknown = key(99, VARINT);
    unknown.push(7);
    unknown.extend(key(98, START_GROUP));
    unknown.extend(len_field(1, b"inside"));
    unknown.extend(key(98, END_GROUP));
    unknown.extend(key(97, FIXED32));
    unknown.extend([1, 2, 3, 4]);
    assert!(agree(&unknown));
    assert!(agree(&len_field(1, &unknown)));
    assert!(!agree(&key(98, END_GROUP)));
    let mut mismatched = key(98, START_GROUP);
    mismatched.extend(key(96, END_GROUP));
    assert!(!agree(&mismatched));
}

#[test]
fn values_nested_past_prost_s_limit_are_refused_as_prost_refuses_them() {
    // AnyValue { array { values: [AnyValue { array { ... } }] } }, the
    // depth either side of the limit, inside one span attribute.
    let nested = |levels: usize| {
        let mut value = Vec::new();
        for _ in 0..levels {
            value = len_field(5, &len_field(1, &value));
        }
        let attribute = len_field(2, &value);
        len_field(1, &len_field(2, &len_field(2, &len_field(9, &attribute))))
    };
    let results: Vec<bool> = (40..55).map(|levels| agree(&nested(levels))).collect();
    assert!(
        results.contains(&true) && results.contains(&false),
        "{results:?}"
    );
}

#[test]
fn a_varint_of_eleven_bytes_or_a_tenth_byte_over_one_is_refused() {
    let mut long = key(99, VARINT);
    long.extend([0xff; 9]);
    long.push(0x01);
    assert!(agree(&long));
    let mut over = key(99, VARINT);
    over.extend([0xff; 9]);
    over.push(0x02);
    assert!(!agree(&over));
    let mut endless = key(99, VARINT);
    endless.extend([0xff; 11]);
    assert!(!agree(&endless));
}

#[test]
fn a_string_that_is_not_utf8_is_refused_even_where_it_is_not_kept() {
    let schema_url = len_field(3, &[0xff, 0xfe]);
    assert!(!agree(&len_field(1, &schema_url)));
    assert!(decode(&len_field(1, &schema_url)).is_err());
}

#[test]
fn a_list_met_twice_in_one_value_merges_and_another_kind_between_resets_it() {
    let one = |text: &[u8]| len_field(5, &len_field(1, &len_field(1, text)));
    let attribute = |value: Vec<u8>| {
        let kv = [len_field(1, b"k"), len_field(2, &value)].concat();
        len_field(1, &len_field(2, &len_field(2, &len_field(9, &kv))))
    };
    let values = |body: &[u8]| -> usize {
        let request = decode(body).unwrap();
        let kv = &request.resource_spans[0].scope_spans[0].spans[0].attributes[0];
        match &kv.value.as_ref().unwrap().value {
            Some(Value::ArrayValue(list)) => list.values.len(),
            other => panic!("{other:?}"),
        }
    };
    let merged = attribute([one(b"a"), one(b"b")].concat());
    assert!(agree(&merged));
    assert_eq!(values(&merged), 2);
    let reset = attribute([one(b"a"), len_field(1, b"s"), one(b"b")].concat());
    assert!(agree(&reset));
    assert_eq!(values(&reset), 1);
}
