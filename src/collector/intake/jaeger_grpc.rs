//! Jaeger's gRPC collector API (`jaeger.api_v2.CollectorService/PostSpans`,
//! Jaeger's port 14250, what Jaeger agents and some clients send): the
//! messages of `model.proto` and `collector.proto` written out for prost by
//! hand (no protoc at build time), and their reading as Jaeger's gogo
//! generated code reads them: ids of the wrong length, out-of-range
//! timestamps and durations refuse the request; an absent start time is
//! Go's zero time (year 1), as in Jaeger. The service is served by
//! `grpc_unary` on the collector's gRPC front like the OTLP one: gzip,
//! deflate or zstd requests, INVALID_ARGUMENT for a request Jaeger would
//! not read (Jaeger's gRPC server says INTERNAL), at most the body limit
//! decoded.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::jaeger_model::{self, Batch, Log, Process, RefType, Span, SpanRef, Tag, Value};
use super::{GrpcService, IntakeContext, Refusal, grpc_unary, otlp};

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Duration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `jaeger.api_v2.KeyValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    /// STRING 0, BOOL 1, INT64 2, FLOAT64 3, BINARY 4.
    #[prost(int32, tag = "2")]
    pub v_type: i32,
    #[prost(string, tag = "3")]
    pub v_str: String,
    #[prost(bool, tag = "4")]
    pub v_bool: bool,
    #[prost(int64, tag = "5")]
    pub v_int64: i64,
    #[prost(double, tag = "6")]
    pub v_float64: f64,
    #[prost(bytes = "vec", tag = "7")]
    pub v_binary: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoLog {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(message, repeated, tag = "2")]
    pub fields: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoSpanRef {
    /// Present (even empty) or absent, as gogo tells them apart.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub trace_id: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub span_id: Option<Vec<u8>>,
    /// CHILD_OF 0, FOLLOWS_FROM 1.
    #[prost(int32, tag = "3")]
    pub ref_type: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoProcess {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(message, repeated, tag = "2")]
    pub tags: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoSpan {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub trace_id: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    pub span_id: Option<Vec<u8>>,
    #[prost(string, tag = "3")]
    pub operation_name: String,
    #[prost(message, repeated, tag = "4")]
    pub references: Vec<ProtoSpanRef>,
    #[prost(uint32, tag = "5")]
    pub flags: u32,
    #[prost(message, optional, tag = "6")]
    pub start_time: Option<Timestamp>,
    #[prost(message, optional, tag = "7")]
    pub duration: Option<Duration>,
    #[prost(message, repeated, tag = "8")]
    pub tags: Vec<KeyValue>,
    #[prost(message, repeated, tag = "9")]
    pub logs: Vec<ProtoLog>,
    #[prost(message, optional, tag = "10")]
    pub process: Option<ProtoProcess>,
    #[prost(string, tag = "11")]
    pub process_id: String,
    #[prost(string, repeated, tag = "12")]
    pub warnings: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoBatch {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<ProtoSpan>,
    #[prost(message, optional, tag = "2")]
    pub process: Option<ProtoProcess>,
}

/// `jaeger.api_v2.PostSpansRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostSpansRequest {
    #[prost(message, optional, tag = "1")]
    pub batch: Option<ProtoBatch>,
}

/// `jaeger.api_v2.PostSpansResponse` (empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostSpansResponse {}

/// The gRPC method path of `PostSpans`.
pub const POST_SPANS_PATH: &str = "/jaeger.api_v2.CollectorService/PostSpans";

/// The collector's `jaeger.api_v2.CollectorService`.
pub fn service(cx: Arc<IntakeContext>) -> GrpcService {
    let limit = cx.max_body_bytes;
    grpc_unary::service(
        "jaeger.api_v2.CollectorService",
        POST_SPANS_PATH,
        limit,
        move |message| {
            let request = PostSpansRequest::decode(message).map_err(grpc_unary::undecodable)?;
            post_spans(&cx, request)
                .map_err(|refusal| tonic::Status::new(refusal.grpc_code(), refusal.message))
        },
    )
}

/// `PostSpans`: the batch's spans stored, or the reason they were not.
fn post_spans(cx: &IntakeContext, request: PostSpansRequest) -> Result<PostSpansResponse, Refusal> {
    let request = translate(request).map_err(|e| Refusal::malformed(e.to_string()))?;
    let spans = otlp::translate(request).map_err(|e| Refusal::malformed(e.to_string()))?;
    cx.store(spans)?;
    Ok(PostSpansResponse {})
}

/// Go's `time.Time{}` (January 1, year 1) in Unix seconds.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;
/// The last second gogo's timestamps allow (exclusive): year 10000.
const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_800;
/// Durations gogo allows: ±10000 years.
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

/// A request Jaeger would refuse while reading it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidBatch {
    #[error("invalid length for TraceID")]
    TraceId,
    #[error("invalid length for SpanID")]
    SpanId,
    #[error("timestamp: seconds:{seconds} nanos:{nanos} is outside the range Jaeger accepts")]
    Timestamp { seconds: i64, nanos: i32 },
    #[error("duration: seconds:{seconds} nanos:{nanos} is out of range for a Go time.Duration")]
    Duration { seconds: i64, nanos: i32 },
}

/// `PostSpans`' request → OTLP, as Jaeger's receiver translates it.
pub fn translate(request: PostSpansRequest) -> Result<ExportTraceServiceRequest, InvalidBatch> {
    let batch = request.batch.unwrap_or_default();
    let batch = Batch {
        process: batch.process.map(process),
        spans: batch
            .spans
            .into_iter()
            .map(span)
            .filter_map(Result::transpose)
            .collect::<Result<_, _>>()?,
    };
    Ok(jaeger_model::proto_to_otlp(vec![batch]))
}

fn process(p: ProtoProcess) -> Process {
    Process {
        service_name: p.service_name,
        tags: p.tags.into_iter().map(tag).collect(),
    }
}

fn tag(kv: KeyValue) -> Tag {
    let value = match kv.v_type {
        0 => Value::Str(kv.v_str),
        1 => Value::Bool(kv.v_bool),
        2 => Value::Int(kv.v_int64),
        3 => Value::Double(kv.v_float64),
        4 => Value::Binary(kv.v_binary),
        other => Value::Unknown(other.to_string()),
    };
    Tag { key: kv.key, value }
}

/// `model.TraceID`: absent is 0; present, 16 or 8 bytes.
fn trace_id(bytes: Option<Vec<u8>>) -> Result<(u64, u64), InvalidBatch> {
    let Some(bytes) = bytes else {
        return Ok((0, 0));
    };
    match bytes.len() {
        16 => Ok((
            u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")),
            u64::from_be_bytes(bytes[8..].try_into().expect("8 bytes")),
        )),
        8 => Ok((
            0,
            u64::from_be_bytes(bytes[..].try_into().expect("8 bytes")),
        )),
        _ => Err(InvalidBatch::TraceId),
    }
}

/// `model.SpanID`: absent is 0; present, exactly 8 bytes.
fn span_id(bytes: Option<Vec<u8>>) -> Result<u64, InvalidBatch> {
    match bytes {
        None => Ok(0),
        Some(b) => b
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| InvalidBatch::SpanId),
    }
}

/// A timestamp as (seconds, nanos) after gogo's checks; absent is Go's
/// zero time.
fn timestamp(ts: Option<Timestamp>) -> Result<(i64, i32), InvalidBatch> {
    let Some(Timestamp { seconds, nanos }) = ts else {
        return Ok((GO_ZERO_TIME_SECONDS, 0));
    };
    if !(GO_ZERO_TIME_SECONDS..MAX_TIMESTAMP_SECONDS).contains(&seconds)
        || !(0..1_000_000_000).contains(&nanos)
    {
        return Err(InvalidBatch::Timestamp { seconds, nanos });
    }
    Ok((seconds, nanos))
}

/// Go's `Time.UnixNano`, wrapping as Go's arithmetic does outside 1678-2262.
fn unix_nanos((seconds, nanos): (i64, i32)) -> i64 {
    seconds
        .wrapping_mul(1_000_000_000)
        .wrapping_add(i64::from(nanos))
}

/// A duration in nanoseconds after gogo's checks; absent is 0.
fn duration(d: Option<Duration>) -> Result<i64, InvalidBatch> {
    let Some(Duration { seconds, nanos }) = d else {
        return Ok(0);
    };
    let invalid = || InvalidBatch::Duration { seconds, nanos };
    if !(-MAX_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&seconds)
        || nanos <= -1_000_000_000
        || nanos >= 1_000_000_000
        || (seconds < 0 && nanos > 0)
        || (seconds > 0 && nanos < 0)
    {
        return Err(invalid());
    }
    seconds
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(i64::from(nanos)))
        .ok_or_else(invalid)
}

/// A span, or `None` for one with every field at its zero value (Jaeger's
/// translator skips those).
fn span(s: ProtoSpan) -> Result<Option<Span>, InvalidBatch> {
    let (trace_id_high, trace_id_low) = trace_id(s.trace_id)?;
    let span_id = span_id(s.span_id)?;
    let start = timestamp(s.start_time)?;
    let duration = duration(s.duration)?;
    let references = s
        .references
        .into_iter()
        .map(|r| {
            let (high, low) = trace_id(r.trace_id)?;
            Ok(SpanRef {
                ref_type: match r.ref_type {
                    0 => RefType::ChildOf,
                    1 => RefType::FollowsFrom,
                    _ => RefType::Other,
                },
                trace_id_high: high,
                trace_id_low: low,
                span_id: self::span_id(r.span_id)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let logs = s
        .logs
        .into_iter()
        .map(|log| {
            Ok(Log {
                timestamp_unix_nano: unix_nanos(timestamp(log.timestamp)?) as u64,
                fields: log.fields.into_iter().map(tag).collect(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let blank = trace_id_high == 0
        && trace_id_low == 0
        && span_id == 0
        && s.operation_name.is_empty()
        && references.is_empty()
        && s.flags == 0
        && start == (GO_ZERO_TIME_SECONDS, 0)
        && duration == 0
        && s.tags.is_empty()
        && logs.is_empty()
        && s.process.is_none()
        && s.process_id.is_empty()
        && s.warnings.is_empty();
    if blank {
        return Ok(None);
    }
    let start_nanos = unix_nanos(start);
    Ok(Some(Span {
        trace_id_high,
        trace_id_low,
        span_id,
        parent_span_id: 0,
        operation_name: s.operation_name,
        references,
        start_unix_nano: start_nanos as u64,
        end_unix_nano: start_nanos.wrapping_add(duration) as u64,
        tags: s.tags.into_iter().map(tag).collect(),
        logs,
        process: s.process.map(process),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::otlp;
    use prost::Message;

    fn kv(key: &str, v_type: i32, v_str: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            v_type,
            v_str: v_str.into(),
            ..Default::default()
        }
    }

    fn sample_request() -> PostSpansRequest {
        let mut trace = vec![0; 16];
        trace[15] = 0x42;
        let root = ProtoSpan {
            trace_id: Some(trace.clone()),
            span_id: Some(1u64.to_be_bytes().to_vec()),
            operation_name: "GET /".into(),
            start_time: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 5_000,
            }),
            duration: Some(Duration {
                seconds: 0,
                nanos: 3_000_000,
            }),
            tags: vec![kv("span.kind", 0, "server"), kv("odd", 9, "")],
            ..Default::default()
        };
        let child = ProtoSpan {
            span_id: Some(2u64.to_be_bytes().to_vec()),
            operation_name: "query".into(),
            references: vec![ProtoSpanRef {
                trace_id: Some(trace.clone()),
                span_id: Some(1u64.to_be_bytes().to_vec()),
                ref_type: 0,
            }],
            process: Some(ProtoProcess {
                service_name: "db".into(),
                tags: vec![],
            }),
            ..root.clone()
        };
        PostSpansRequest {
            batch: Some(ProtoBatch {
                spans: vec![root, child, ProtoSpan::default()],
                process: Some(ProtoProcess {
                    service_name: "api".into(),
                    tags: vec![kv("hostname", 0, "h")],
                }),
            }),
        }
    }

    #[test]
    fn a_post_spans_request_lands_with_each_span_under_its_process() {
        let bytes = sample_request().encode_to_vec();
        let request = PostSpansRequest::decode(bytes.as_slice()).unwrap();
        let spans = otlp::translate(translate(request).unwrap()).unwrap();
        assert_eq!(spans.len(), 2, "the blank span is dropped");
        let root = spans.iter().find(|s| s.span_id == 1).unwrap();
        assert_eq!(root.process.service_name, "api");
        assert_eq!(root.start_unix_nano, 1_700_000_000_000_005_000);
        assert_eq!(root.duration_nanos(), 3_000_000);
        let odd = root.tags.iter().find(|t| &*t.key == "odd").unwrap();
        assert_eq!(
            odd.value,
            crate::collector::span::TagValue::Str("<Unknown Jaeger TagType \"9\">".into())
        );
        let child = spans.iter().find(|s| s.span_id == 2).unwrap();
        assert_eq!(child.process.service_name, "db");
        assert_eq!(child.parent_span_id(), Some(1));
    }

    #[test]
    fn wrong_id_lengths_and_out_of_range_times_refuse_the_request() {
        let mut bad = sample_request();
        bad.batch.as_mut().unwrap().spans[0].trace_id = Some(vec![1; 12]);
        assert_eq!(translate(bad).unwrap_err(), InvalidBatch::TraceId);
        let mut bad = sample_request();
        bad.batch.as_mut().unwrap().spans[0].span_id = Some(vec![]);
        assert_eq!(translate(bad).unwrap_err(), InvalidBatch::SpanId);
        let mut bad = sample_request();
        bad.batch.as_mut().unwrap().spans[0].start_time = Some(Timestamp {
            seconds: 1,
            nanos: -1,
        });
        assert!(matches!(
            translate(bad),
            Err(InvalidBatch::Timestamp { .. })
        ));
        let mut bad = sample_request();
        bad.batch.as_mut().unwrap().spans[0].duration = Some(Duration {
            seconds: 300 * 365 * 86_400,
            nanos: 0,
        });
        assert!(matches!(translate(bad), Err(InvalidBatch::Duration { .. })));
    }

    #[test]
    fn an_absent_start_time_is_gos_zero_time_and_8_byte_trace_ids_are_the_low_half() {
        assert_eq!(
            unix_nanos(timestamp(None).unwrap()),
            -6_795_364_578_871_345_152
        );
        assert_eq!(
            trace_id(Some(vec![0, 0, 0, 0, 0, 0, 0, 7])).unwrap(),
            (0, 7)
        );
        assert_eq!(trace_id(None).unwrap(), (0, 0));
    }

    #[test]
    fn an_empty_request_stores_nothing() {
        let request = translate(PostSpansRequest::default()).unwrap();
        assert!(otlp::translate(request).unwrap().is_empty());
    }
}
