//! OTLP/gRPC (`opentelemetry.proto.collector.trace.v1.TraceService/Export`,
//! port 4317), served by [`grpc_unary`] (the request read whole, as an
//! OTLP/HTTP body is); requests accepted gzip, deflate or zstd compressed,
//! and at most the body limit once decompressed.
//!
//! A span with an all-zero trace or span id is left out and counted in
//! `partial_success` (the others are stored), as over OTLP/HTTP.
//!
//! Status codes, as a gRPC client reads them: a message that is not an
//! `ExportTraceServiceRequest`, or holds an id of the wrong length, is
//! INVALID_ARGUMENT; one over the limit is RESOURCE_EXHAUSTED (both are
//! never retried); a collector that cannot take spans now is UNAVAILABLE,
//! which exporters retry. (The front, [`crate::collector::http`], turns
//! tonic's own INTERNAL and OUT_OF_RANGE for the first two into these.)
//! A method other than `Export` is UNIMPLEMENTED.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};

use super::otlp::Encoding;
use super::{GrpcService, IntakeContext, grpc_unary, otlp};

/// The gRPC method path of `Export`.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

pub fn service(cx: Arc<IntakeContext>) -> GrpcService {
    let limit = cx.max_body_bytes;
    grpc_unary::service(
        "opentelemetry.proto.collector.trace.v1.TraceService",
        EXPORT_PATH,
        limit,
        move |message| export(&cx, &message),
    )
}

/// `Export`: the spans stored (all but those with an all-zero id), or the
/// reason none were.
fn export(
    cx: &IntakeContext,
    message: &Bytes,
) -> Result<ExportTraceServiceResponse, tonic::Status> {
    let translated = otlp::decode_partial(message, Encoding::Protobuf)
        .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    cx.store(translated.spans)
        .map_err(|refusal| tonic::Status::new(refusal.grpc_code(), refusal.message))?;
    // Always present, empty when nothing was refused, as the Collector's
    // receiver (Jaeger's) answers.
    Ok(ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: translated.rejected as i64,
            error_message: translated
                .first_refusal
                .map(|e| e.to_string())
                .unwrap_or_default(),
        }),
    })
}
