//! Zipkin v2 protobuf (`POST /api/v2/spans` with `Content-Type:
//! application/x-protobuf`, what zipkin-go's and Brave's proto3 reporters
//! send): zipkin.proto's `ListOfSpans` written out for prost by hand, read
//! as zipkin-go's `ParseSpans` reads it (a 16-byte trace id, an 8-byte span
//! id, an 8-byte parent id or none), into the same Zipkin model the JSON
//! decoder fills, then into OTLP by the same translator
//! ([`crate::collector::zipkin::to_otlp`]). Unlike JSON, a protobuf span
//! always has a start time (0 is the Unix epoch, not "absent").

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::collector::zipkin::{Endpoint, ZipkinSpan, to_otlp};

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListOfSpans {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<ProtoSpan>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub id: Vec<u8>,
    /// SPAN_KIND_UNSPECIFIED 0, CLIENT 1, SERVER 2, PRODUCER 3, CONSUMER 4.
    #[prost(int32, tag = "4")]
    pub kind: i32,
    #[prost(string, tag = "5")]
    pub name: String,
    /// Epoch microseconds.
    #[prost(fixed64, tag = "6")]
    pub timestamp: u64,
    #[prost(uint64, tag = "7")]
    pub duration: u64,
    #[prost(message, optional, tag = "8")]
    pub local_endpoint: Option<ProtoEndpoint>,
    #[prost(message, optional, tag = "9")]
    pub remote_endpoint: Option<ProtoEndpoint>,
    #[prost(message, repeated, tag = "10")]
    pub annotations: Vec<ProtoAnnotation>,
    #[prost(btree_map = "string, string", tag = "11")]
    pub tags: BTreeMap<String, String>,
    #[prost(bool, tag = "12")]
    pub debug: bool,
    #[prost(bool, tag = "13")]
    pub shared: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoEndpoint {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub ipv4: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub port: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoAnnotation {
    #[prost(fixed64, tag = "1")]
    pub timestamp: u64,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// A Zipkin protobuf body → OTLP, or the error Jaeger's receiver answers
/// 400 with.
pub fn decode(body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    let list = ListOfSpans::decode(body)
        .map_err(|e| format!("the body is not a Zipkin protobuf ListOfSpans: {e}"))?;
    let spans = list
        .spans
        .into_iter()
        .map(zipkin_span)
        .collect::<Result<Vec<_>, _>>()?;
    to_otlp(spans)
}

fn zipkin_span(span: ProtoSpan) -> Result<ZipkinSpan, String> {
    let trace: [u8; 16] = span.trace_id.as_slice().try_into().map_err(|_| {
        format!(
            "invalid TraceID: has length {} yet wanted length 16",
            span.trace_id.len()
        )
    })?;
    let parent_id = match span.parent_id.len() {
        0 => None,
        8 => Some(u64::from_be_bytes(
            span.parent_id.try_into().expect("8 bytes"),
        )),
        n => {
            return Err(format!(
                "invalid ParentID: has length {n} yet wanted length 8"
            ));
        }
    };
    let id = match span.id.len() {
        0 => return Err("expected a non-nil SpanID".into()),
        8 => u64::from_be_bytes(span.id.try_into().expect("8 bytes")),
        n => {
            return Err(format!(
                "invalid SpanID: has length {n} yet wanted length 8"
            ));
        }
    };
    let kind = match span.kind {
        0 => "SPAN_KIND_UNSPECIFIED".to_string(),
        1 => "CLIENT".into(),
        2 => "SERVER".into(),
        3 => "PRODUCER".into(),
        4 => "CONSUMER".into(),
        other => other.to_string(),
    };
    Ok(ZipkinSpan {
        trace_high: u64::from_be_bytes(trace[..8].try_into().expect("8 bytes")),
        trace_low: u64::from_be_bytes(trace[8..].try_into().expect("8 bytes")),
        id,
        parent_id,
        name: span.name,
        kind,
        timestamp_us: Some(span.timestamp),
        duration_us: span.duration,
        local: span.local_endpoint.map(endpoint),
        remote: span.remote_endpoint.map(endpoint),
        annotations: span
            .annotations
            .into_iter()
            .map(|a| (a.timestamp, a.value))
            .collect(),
        tags: span.tags,
    })
}

fn endpoint(e: ProtoEndpoint) -> Endpoint {
    let ip = |bytes: Vec<u8>| (!bytes.is_empty()).then(|| go_ip_text(&bytes));
    Endpoint {
        service_name: e.service_name,
        ipv4: ip(e.ipv4),
        ipv6: ip(e.ipv6),
        // zipkin-go narrows the port to 16 bits.
        port: e.port as u16,
    }
}

/// Go's `net.IP(bytes).String()`: 4 bytes dotted, 16 bytes IPv6 (an
/// IPv4-mapped one dotted), any other length `?` and hex.
fn go_ip_text(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return std::net::Ipv4Addr::from(v4).to_string();
    }
    if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        let v6 = std::net::Ipv6Addr::from(v6);
        return match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        };
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("?{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::otlp;
    use crate::collector::span::{SpanKind, TagValue};

    fn envoy_like() -> ListOfSpans {
        let mut trace = vec![0; 16];
        trace[15] = 9;
        ListOfSpans {
            spans: vec![ProtoSpan {
                trace_id: trace,
                id: 7u64.to_be_bytes().to_vec(),
                kind: 1,
                name: "checkAvailability".into(),
                timestamp: 1_700_000_000_000_000,
                duration: 2_500,
                local_endpoint: Some(ProtoEndpoint {
                    service_name: "front-proxy".into(),
                    ipv4: vec![172, 18, 0, 2],
                    port: 8000,
                    ..Default::default()
                }),
                remote_endpoint: Some(ProtoEndpoint {
                    ipv6: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 3].to_vec(),
                    port: 70_000,
                    ..Default::default()
                }),
                annotations: vec![ProtoAnnotation {
                    timestamp: 1_700_000_000_000_100,
                    value: "retry".into(),
                }],
                tags: [("http.status_code".to_string(), "503".to_string())].into(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn a_protobuf_span_lands_as_its_json_twin_does() {
        let body = envoy_like().encode_to_vec();
        let spans = otlp::translate(decode(&body).unwrap()).unwrap();
        let span = &spans[0];
        assert_eq!(span.kind, SpanKind::Client);
        assert_eq!(span.process.service_name, "front-proxy");
        assert_eq!(span.duration_us(), 2_500);
        let tag = |key: &str| span.tags.iter().find(|t| &*t.key == key).map(|t| &t.value);
        assert_eq!(
            tag("net.host.ip"),
            Some(&TagValue::Str("172.18.0.2".into()))
        );
        assert_eq!(tag("net.peer.ip"), Some(&TagValue::Str("10.0.0.3".into())));
        assert_eq!(tag("net.peer.port"), Some(&TagValue::Int(70_000 - 65_536)));
        assert_eq!(span.logs.len(), 1);
    }

    #[test]
    fn a_zero_timestamp_is_the_epoch_not_absent() {
        let mut list = envoy_like();
        list.spans[0].timestamp = 0;
        let request = decode(&list.encode_to_vec()).unwrap();
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.start_time_unix_nano, 0);
        assert!(
            span.attributes
                .iter()
                .all(|kv| !kv.key.contains("absentField"))
        );
    }

    #[test]
    fn bad_ids_and_junk_are_errors() {
        let mut short_trace = envoy_like();
        short_trace.spans[0].trace_id = vec![1; 8];
        assert_eq!(
            decode(&short_trace.encode_to_vec()).unwrap_err(),
            "invalid TraceID: has length 8 yet wanted length 16"
        );
        let mut no_id = envoy_like();
        no_id.spans[0].id.clear();
        assert_eq!(
            decode(&no_id.encode_to_vec()).unwrap_err(),
            "expected a non-nil SpanID"
        );
        let mut bad_parent = envoy_like();
        bad_parent.spans[0].parent_id = vec![1; 3];
        assert!(
            decode(&bad_parent.encode_to_vec())
                .unwrap_err()
                .contains("ParentID")
        );
        assert!(decode(b"\xff\xff\xff").is_err());
        assert!(decode(b"").unwrap().resource_spans.is_empty());
    }

    #[test]
    fn odd_address_lengths_print_as_go_prints_them() {
        assert_eq!(go_ip_text(&[1, 2, 3]), "?010203");
        assert_eq!(
            go_ip_text(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            "2001:db8::1"
        );
    }
}
