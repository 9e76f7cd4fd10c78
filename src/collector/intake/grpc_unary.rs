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
//! by byte, each advance twice); the message taken whole first (no copy:
//! the buffer's bytes are split off) reads as fast as an OTLP/HTTP body.

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Buf;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings};
use tonic::server::{Grpc, UnaryService};
use tonic_prost::ProstEncoder;

use super::GrpcService;

/// The service `name` (`package.Service`) whose one method, at
/// `method_path` (`/package.Service/Method`), `handle` answers.
pub fn service<Req, Resp, F>(
    name: &'static str,
    method_path: &'static str,
    max_request_bytes: usize,
    handle: F,
) -> GrpcService
where
    Req: Message + Default + Send + 'static,
    Resp: Message + Send + 'static,
    F: Fn(Req) -> Result<Resp, Status> + Send + Sync + 'static,
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
            let mut grpc = Grpc::new(SliceCodec::<Resp, Req>::default())
                .apply_compression_config(accept, EnabledCompressionEncodings::default())
                .apply_max_message_size_config(Some(max_request_bytes), None);
            Box::pin(async move { grpc.unary(method, request).await })
        }),
    }
}

/// The method: `handle` on the decoded request.
struct Method<F, Req, Resp>(Arc<F>, PhantomData<fn(Req) -> Resp>);

impl<Req, Resp, F> UnaryService<Req> for Method<F, Req, Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
    F: Fn(Req) -> Result<Resp, Status> + Send + Sync + 'static,
{
    type Response = Resp;
    type Future = std::future::Ready<Result<tonic::Response<Resp>, Status>>;

    fn call(&mut self, request: tonic::Request<Req>) -> Self::Future {
        std::future::ready((self.0)(request.into_inner()).map(tonic::Response::new))
    }
}

/// Encodes `T` as prost does, decodes `U` from one slice.
struct SliceCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SliceCodec<T, U> {
    fn default() -> Self {
        SliceCodec(PhantomData)
    }
}

impl<T, U> Codec for SliceCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = SliceDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        SliceDecoder(PhantomData)
    }
}

struct SliceDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for SliceDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let message = buf.copy_to_bytes(buf.remaining());
        // INTERNAL for a message prost cannot read, as tonic's own codec
        // answers (the collector's front turns it into INVALID_ARGUMENT).
        U::decode(message.as_ref())
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}
