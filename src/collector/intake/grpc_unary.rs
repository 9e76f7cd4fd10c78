//! A gRPC service of one unary method, served as tonic's generated code
//! serves it (gzip, deflate or zstd requests, at most the body limit
//! decoded, UNIMPLEMENTED for any other method), with a codec that decodes
//! each request from one contiguous slice. OTLP's `TraceService/Export` and
//! Jaeger's `CollectorService/PostSpans` are both this.
//!
//! Why the codec: tonic hands a decoder a buffer that bounds every read,
//! each field's bytes checked against the message's length and advanced in
//! the `BytesMut` below it. prost reading through that buffer spent about a
//! sixth of the OTLP/gRPC intake's CPU on those steps (varints decoded byte
//! by byte, each advance twice). The method gets the message whole instead
//! (no copy: the buffer's bytes are split off) and reads it as it reads an
//! HTTP body: OTLP in place (`otlp_wire`), Jaeger's through prost.

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings};
use tonic::server::{Grpc, UnaryService};
use tonic_prost::ProstEncoder;

use super::GrpcService;

/// The service `name` (`package.Service`) whose one method, at
/// `method_path` (`/package.Service/Method`), `handle` answers from the
/// request message's bytes.
pub fn service<Resp, F>(
    name: &'static str,
    method_path: &'static str,
    max_request_bytes: usize,
    handle: F,
) -> GrpcService
where
    Resp: Message + Send + 'static,
    F: Fn(Bytes) -> Result<Resp, Status> + Send + Sync + 'static,
{
    let handle = Arc::new(handle);
    let mut accept = EnabledCompressionEncodings::default();
    for encoding in [
        CompressionEncoding::Gzip,
        CompressionEncoding::Deflate,
        CompressionEncoding::Zstd,
    ] {
        accept.enable(encoding);
    }
    GrpcService {
        name,
        call: Arc::new(move |request| {
            if request.uri().path() != method_path {
                let status = Status::unimplemented(format!(
                    "unknown method {} of {name}",
                    request.uri().path()
                ));
                return Box::pin(std::future::ready(status.into_http()));
            }
            let method = Method(Arc::clone(&handle), PhantomData);
            let mut grpc = Grpc::new(WholeMessageCodec::<Resp>::default())
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(max_request_bytes), None);
            Box::pin(async move { grpc.unary(method, request).await })
        }),
    }
}

/// The method: `handle` on the request message.
struct Method<F, Resp>(Arc<F>, PhantomData<fn() -> Resp>);

impl<Resp, F> UnaryService<Bytes> for Method<F, Resp>
where
    Resp: Send + 'static,
    F: Fn(Bytes) -> Result<Resp, Status> + Send + Sync + 'static,
{
    type Response = Resp;
    type Future = std::future::Ready<Result<tonic::Response<Resp>, Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        std::future::ready((self.0)(request.into_inner()).map(tonic::Response::new))
    }
}

/// Encodes `T` as prost does; hands over each request message whole.
struct WholeMessageCodec<T>(PhantomData<T>);

impl<T> Default for WholeMessageCodec<T> {
    fn default() -> Self {
        WholeMessageCodec(PhantomData)
    }
}

impl<T: Message + Send + 'static> Codec for WholeMessageCodec<T> {
    type Encode = T;
    type Decode = Bytes;
    type Encoder = ProstEncoder<T>;
    type Decoder = WholeMessage;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        WholeMessage
    }
}

struct WholeMessage;

impl Decoder for WholeMessage {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// A message prost cannot read, answered INTERNAL as tonic's own codec
/// answers it (the collector's front turns it into INVALID_ARGUMENT).
pub fn undecodable(error: prost::DecodeError) -> Status {
    Status::internal(error.to_string())
}
