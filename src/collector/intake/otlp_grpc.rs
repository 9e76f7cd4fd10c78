//! OTLP/gRPC (`opentelemetry.proto.collector.trace.v1.TraceService/Export`,
//! port 4317): opentelemetry-proto's generated tonic server, requests
//! accepted gzip, deflate or zstd compressed, and at most the body limit
//! once decompressed.
//!
//! Status codes, as a gRPC client reads them: a message that is not an
//! `ExportTraceServiceRequest`, or holds an id of the wrong length, is
//! INVALID_ARGUMENT; one over the limit is RESOURCE_EXHAUSTED (both are
//! never retried); a collector that cannot take spans now is UNAVAILABLE,
//! which exporters retry. (The front, [`crate::collector::http`], turns
//! tonic's own INTERNAL and OUT_OF_RANGE for the first two into these.)

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;

use super::{GrpcService, IntakeContext, otlp};

pub fn service(cx: Arc<IntakeContext>) -> GrpcService {
    let limit = cx.max_body_bytes;
    GrpcService::new(
        TraceServiceServer::new(OtlpGrpc { cx })
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Deflate)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(limit),
    )
}

struct OtlpGrpc {
    cx: Arc<IntakeContext>,
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = otlp::translate(request.into_inner())
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        self.cx
            .store(spans)
            .map_err(|refusal| tonic::Status::new(refusal.grpc_code(), refusal.message))?;
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}
