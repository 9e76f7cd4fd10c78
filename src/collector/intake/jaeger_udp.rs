//! Jaeger's UDP agent ports: each datagram is one thrift message
//! `Agent.emitBatch(1: jaeger.Batch batch)`, in the compact protocol on
//! 6831 or the binary one on 6832, as Jaeger's clients (jaeger-client-go,
//! -java, -node, ...) send it. Jaeger v2's receiver reads at most 65 000
//! bytes of a datagram, ignores what follows the message, and drops (with a
//! log line) a datagram it cannot read; so does this.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use thrift::protocol::{TInputProtocol, TType};

use super::jaeger_model::thrift_to_otlp;
use super::jaeger_thrift::{self, Encoding, ThriftError, read_batch};
use super::{IntakeContext, Refusal, otlp};

/// The largest datagram Jaeger's agent reads (its `max_packet_size`).
pub const MAX_DATAGRAM_BYTES: usize = 65_000;

/// Why a datagram was dropped.
#[derive(Debug, thiserror::Error)]
pub enum DatagramError {
    #[error("not a readable thrift emitBatch message: {0}")]
    Thrift(#[from] ThriftError),
    #[error("unknown agent method {0:?} (only emitBatch is served)")]
    UnknownMethod(String),
    #[error(
        "emitZipkinBatch (Zipkin v1 thrift over UDP) is not supported; send Jaeger thrift (emitBatch)"
    )]
    ZipkinBatch,
}

/// The compact-protocol agent port (6831): a datagram in, its spans stored.
pub fn handle_compact(datagram: &[u8], cx: &IntakeContext) -> Result<usize, Refusal> {
    store_datagram(datagram, Encoding::Compact, cx)
}

/// The binary-protocol agent port (6832).
pub fn handle_binary(datagram: &[u8], cx: &IntakeContext) -> Result<usize, Refusal> {
    store_datagram(datagram, Encoding::Binary, cx)
}

fn store_datagram(
    datagram: &[u8],
    encoding: Encoding,
    cx: &IntakeContext,
) -> Result<usize, Refusal> {
    // Jaeger reads no more of a datagram than this.
    let datagram = &datagram[..datagram.len().min(MAX_DATAGRAM_BYTES)];
    let request =
        decode_datagram(datagram, encoding).map_err(|e| Refusal::malformed(e.to_string()))?;
    let spans = otlp::translate(request).map_err(|e| Refusal::malformed(e.to_string()))?;
    cx.store(spans)
}

/// One agent datagram → OTLP (empty when the message carries no batch).
pub fn decode_datagram(
    datagram: &[u8],
    encoding: Encoding,
) -> Result<ExportTraceServiceRequest, DatagramError> {
    let mut input = jaeger_thrift::protocol(datagram, encoding);
    let p = input.as_mut();
    // The message type and sequence number do not matter for a oneway call.
    let message = p.read_message_begin().map_err(ThriftError::from)?;
    match message.name.as_str() {
        "emitBatch" => {}
        "emitZipkinBatch" => return Err(DatagramError::ZipkinBatch),
        other => return Err(DatagramError::UnknownMethod(other.to_string())),
    }
    let batch = read_emit_batch_args(p)?;
    Ok(batch.map(thrift_to_otlp).unwrap_or_default())
}

/// `Agent_emitBatch_args`: field 1 is the batch, anything else is skipped.
fn read_emit_batch_args(
    p: &mut dyn TInputProtocol,
) -> Result<Option<super::jaeger_model::Batch>, ThriftError> {
    let mut batch = None;
    p.read_struct_begin()?;
    loop {
        let field = p.read_field_begin()?;
        match (field.field_type, field.id) {
            (TType::Stop, _) => break,
            (TType::Struct, Some(1)) => batch = Some(read_batch(p)?),
            (other, _) => p.skip(other)?,
        }
        p.read_field_end()?;
    }
    p.read_struct_end()?;
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::intake::jaeger_thrift::tests::{W, sample_batch, write_fields};
    use thrift::protocol::{
        TBinaryOutputProtocol, TCompactOutputProtocol, TMessageIdentifier, TMessageType,
        TOutputProtocol,
    };

    fn datagram(name: &str, args: &[W], encoding: Encoding) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut p: Box<dyn TOutputProtocol + '_> = match encoding {
                Encoding::Binary => Box::new(TBinaryOutputProtocol::new(&mut out, true)),
                Encoding::Compact => Box::new(TCompactOutputProtocol::new(&mut out)),
            };
            p.write_message_begin(&TMessageIdentifier::new(name, TMessageType::OneWay, 1))
                .unwrap();
            write_fields(p.as_mut(), args);
            p.write_message_end().unwrap();
            p.flush().unwrap();
        }
        out
    }

    #[test]
    fn an_emit_batch_datagram_decodes_in_both_encodings() {
        for encoding in [Encoding::Compact, Encoding::Binary] {
            let bytes = datagram("emitBatch", &[W::Struct(1, sample_batch())], encoding);
            let request = decode_datagram(&bytes, encoding).unwrap();
            let spans = crate::collector::otlp::translate(request).unwrap();
            assert_eq!(spans.len(), 2, "{encoding:?}");
        }
    }

    #[test]
    fn junk_truncation_and_other_methods_are_errors() {
        let good = datagram(
            "emitBatch",
            &[W::Struct(1, sample_batch())],
            Encoding::Compact,
        );
        for end in 0..good.len() {
            assert!(
                decode_datagram(&good[..end], Encoding::Compact).is_err(),
                "cut at {end}"
            );
        }
        assert!(decode_datagram(b"hello, agent", Encoding::Compact).is_err());
        assert!(decode_datagram(b"hello, agent", Encoding::Binary).is_err());
        assert!(
            decode_datagram(&good, Encoding::Binary).is_err(),
            "compact bytes on the binary port"
        );
        let zipkin = datagram("emitZipkinBatch", &[], Encoding::Compact);
        assert!(matches!(
            decode_datagram(&zipkin, Encoding::Compact),
            Err(DatagramError::ZipkinBatch)
        ));
        let other = datagram("getSamplingStrategy", &[], Encoding::Binary);
        assert!(matches!(
            decode_datagram(&other, Encoding::Binary),
            Err(DatagramError::UnknownMethod(_))
        ));
    }

    #[test]
    fn a_message_without_a_batch_stores_nothing() {
        let bytes = datagram("emitBatch", &[W::I64(7, 1)], Encoding::Binary);
        let request = decode_datagram(&bytes, Encoding::Binary).unwrap();
        assert!(request.resource_spans.is_empty());
    }
}
