//! The gRPC intakes' codec: prost's, except that a request is decoded from
//! one contiguous slice.
//!
//! tonic hands a decoder a buffer that bounds every read: each field's
//! bytes are checked against the message's length and advanced in the
//! `BytesMut` below it. prost reading through that buffer spent about a
//! sixth of the OTLP/gRPC intake's CPU on those steps (varints decoded
//! byte by byte, each advance twice); the message taken whole first (no
//! copy: the buffer's bytes are split off) reads as fast as an OTLP/HTTP
//! body does.

use std::marker::PhantomData;

use bytes::Buf;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

/// Encodes `T` as prost does, decodes `U` from one slice.
#[derive(Debug)]
pub struct SliceCodec<T, U>(PhantomData<(T, U)>);

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

#[derive(Debug)]
pub struct SliceDecoder<U>(PhantomData<U>);

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
