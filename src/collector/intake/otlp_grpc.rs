//! OTLP/gRPC (`opentelemetry.proto.collector.trace.v1.TraceService/Export`,
//! port 4317): the `TraceService` server written as tonic's generator
//! writes it, with the intakes' slice codec (`grpc_codec`: the request is
//! read whole, as an OTLP/HTTP body is); requests accepted gzip, deflate or
//! zstd compressed, and at most the body limit once decompressed.
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

use std::convert::Infallible;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::{CompressionEncoding, EnabledCompressionEncodings};
use tonic::codegen::{Body, BoxFuture, Context, Poll, StdError, http};
use tonic::server::NamedService;

use super::grpc_codec::SliceCodec;
use super::{GrpcService, IntakeContext, otlp};

/// The gRPC method path of `Export`.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

pub fn service(cx: Arc<IntakeContext>) -> GrpcService {
    let mut accept = EnabledCompressionEncodings::default();
    for encoding in [
        CompressionEncoding::Gzip,
        CompressionEncoding::Deflate,
        CompressionEncoding::Zstd,
    ] {
        accept.enable(encoding);
    }
    GrpcService::new(TraceServer { cx, accept })
}

/// `Export`: the spans stored (all but those with an all-zero id), or the
/// reason none were.
fn export(
    cx: &IntakeContext,
    request: ExportTraceServiceRequest,
) -> Result<ExportTraceServiceResponse, tonic::Status> {
    let translated = otlp::translate_partial(request)
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

#[derive(Clone)]
struct TraceServer {
    cx: Arc<IntakeContext>,
    accept: EnabledCompressionEncodings,
}

impl NamedService for TraceServer {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

impl<B> tonic::codegen::Service<http::Request<B>> for TraceServer
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != EXPORT_PATH {
            let status = tonic::Status::unimplemented(format!(
                "unknown method {} of {}",
                request.uri().path(),
                Self::NAME
            ));
            return Box::pin(async move { Ok(status.into_http()) });
        }
        let method = ExportMethod(Arc::clone(&self.cx));
        let mut grpc = tonic::server::Grpc::new(SliceCodec::default())
            .apply_compression_config(self.accept, EnabledCompressionEncodings::default())
            .apply_max_message_size_config(Some(self.cx.max_body_bytes), None);
        Box::pin(async move { Ok(grpc.unary(method, request).await) })
    }
}

struct ExportMethod(Arc<IntakeContext>);

impl tonic::server::UnaryService<ExportTraceServiceRequest> for ExportMethod {
    type Response = ExportTraceServiceResponse;
    type Future = BoxFuture<tonic::Response<ExportTraceServiceResponse>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<ExportTraceServiceRequest>) -> Self::Future {
        let cx = Arc::clone(&self.0);
        Box::pin(async move { export(&cx, request.into_inner()).map(tonic::Response::new) })
    }
}
