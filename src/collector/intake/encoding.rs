//! `Content-Encoding` on HTTP intakes, as the OpenTelemetry Collector's
//! `confighttp` server accepts it: none, `gzip`, `zstd`, `zlib` and
//! `deflate` (zlib; raw deflate too, as some clients send it), `snappy`
//! (block format, or framed as older collectors sent it), `x-snappy-framed`
//! and `lz4` (frame format).
//!
//! Decoding stops at the body limit: a small body that would expand past
//! it (a zip bomb) is refused as too large after at most `limit` bytes of
//! output, never held whole. An encoding it does not know is refused
//! naming it (415; the Collector answers 400).

use std::io::Read;

use bytes::Bytes;
use http::HeaderMap;

use super::Refusal;

/// The encodings named in a 415, so the sender knows what to use.
const KNOWN: &str = "gzip, zstd, deflate, zlib, snappy, x-snappy-framed, lz4";

/// The first 10 bytes of every snappy framed stream.
const SNAPPY_FRAMED_MAGIC: &[u8] = b"\xff\x06\x00\x00sNaPpY";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    Zstd,
    /// `deflate` and `zlib`: zlib's format, or raw deflate without its header.
    Deflate,
    /// Block format, or the framed format when it starts like one.
    Snappy,
    SnappyFramed,
    Lz4,
}

impl ContentEncoding {
    /// The request's `Content-Encoding`; an unknown one is refused (415).
    pub fn of(headers: &HeaderMap) -> Result<ContentEncoding, Refusal> {
        let Some(value) = headers.get(http::header::CONTENT_ENCODING) else {
            return Ok(ContentEncoding::Identity);
        };
        let text = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
        Self::parse(&text).ok_or_else(|| {
            Refusal::unsupported(format!(
                "unsupported Content-Encoding {:?}: send the body uncompressed or as one of {KNOWN}",
                String::from_utf8_lossy(value.as_bytes())
            ))
        })
    }

    pub fn parse(name: &str) -> Option<ContentEncoding> {
        Some(match name {
            "" | "identity" => ContentEncoding::Identity,
            "gzip" | "x-gzip" => ContentEncoding::Gzip,
            "zstd" => ContentEncoding::Zstd,
            "deflate" | "zlib" => ContentEncoding::Deflate,
            "snappy" => ContentEncoding::Snappy,
            "x-snappy-framed" => ContentEncoding::SnappyFramed,
            "lz4" => ContentEncoding::Lz4,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ContentEncoding::Identity => "identity",
            ContentEncoding::Gzip => "gzip",
            ContentEncoding::Zstd => "zstd",
            ContentEncoding::Deflate => "deflate",
            ContentEncoding::Snappy => "snappy",
            ContentEncoding::SnappyFramed => "x-snappy-framed",
            ContentEncoding::Lz4 => "lz4",
        }
    }

    /// Undo the encoding; more than `limit` bytes out is refused (413).
    pub fn decode(self, body: Bytes, limit: usize) -> Result<Bytes, Refusal> {
        let data = &body[..];
        let decoded = match self {
            ContentEncoding::Identity => return Ok(body),
            ContentEncoding::Gzip => read_limited(flate2::read::MultiGzDecoder::new(data), limit),
            ContentEncoding::Deflate if looks_like_zlib(data) => {
                read_limited(flate2::read::ZlibDecoder::new(data), limit)
            }
            ContentEncoding::Deflate => {
                read_limited(flate2::read::DeflateDecoder::new(data), limit)
            }
            ContentEncoding::Zstd => {
                let mut decoder =
                    zstd::stream::read::Decoder::new(data).map_err(|e| self.error(e))?;
                // No window larger than the output may be: a frame asking for
                // more memory than the limit is refused before it is allocated.
                decoder
                    .window_log_max(window_log_for(limit))
                    .map_err(|e| self.error(e))?;
                read_limited(decoder, limit)
            }
            ContentEncoding::Snappy if data.starts_with(SNAPPY_FRAMED_MAGIC) => {
                read_limited(snap::read::FrameDecoder::new(data), limit)
            }
            ContentEncoding::Snappy => {
                // The block format states its decoded length up front.
                let length = snap::raw::decompress_len(data).map_err(|e| self.error(e))?;
                if length > limit {
                    return Err(too_large_after(self, limit));
                }
                snap::raw::Decoder::new()
                    .decompress_vec(data)
                    .map_err(std::io::Error::other)
                    .map(Limited::Fits)
            }
            ContentEncoding::SnappyFramed => {
                read_limited(snap::read::FrameDecoder::new(data), limit)
            }
            ContentEncoding::Lz4 => read_limited(lz4_flex::frame::FrameDecoder::new(data), limit),
        };
        match decoded {
            Ok(Limited::Fits(bytes)) => Ok(Bytes::from(bytes)),
            Ok(Limited::TooLarge) => Err(too_large_after(self, limit)),
            Err(e) => Err(self.error(e)),
        }
    }

    fn error(self, e: impl std::fmt::Display) -> Refusal {
        Refusal::malformed(format!("the body is not valid {}: {e}", self.name()))
    }
}

fn too_large_after(encoding: ContentEncoding, limit: usize) -> Refusal {
    let mut refusal = Refusal::too_large(limit);
    refusal.message = format!(
        "body larger than the limit of {limit} bytes once {} is undone (--max-body-size)",
        encoding.name()
    );
    refusal
}

enum Limited {
    Fits(Vec<u8>),
    TooLarge,
}

/// Read at most `limit` bytes; one more means too large.
fn read_limited(reader: impl Read, limit: usize) -> std::io::Result<Limited> {
    let mut out = Vec::new();
    reader.take(limit as u64 + 1).read_to_end(&mut out)?;
    Ok(if out.len() > limit {
        Limited::TooLarge
    } else {
        Limited::Fits(out)
    })
}

/// A zlib header: deflate method, and the check bits RFC 1950 asks for.
fn looks_like_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// The smallest zstd window log that covers `limit` bytes (10 to 31).
fn window_log_for(limit: usize) -> u32 {
    let bits = usize::BITS - limit.max(1).leading_zeros();
    bits.clamp(10, 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] =
        b"{\"resourceSpans\":[]} and some more text to compress, compress, compress";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn encoded(encoding: ContentEncoding, data: &[u8]) -> Vec<u8> {
        match encoding {
            ContentEncoding::Identity => data.to_vec(),
            ContentEncoding::Gzip => gzip(data),
            ContentEncoding::Deflate => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            ContentEncoding::Zstd => zstd::encode_all(data, 3).unwrap(),
            ContentEncoding::Snappy => snap::raw::Encoder::new().compress_vec(data).unwrap(),
            ContentEncoding::SnappyFramed => {
                let mut e = snap::write::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.into_inner().unwrap()
            }
            ContentEncoding::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    const ALL: [ContentEncoding; 7] = [
        ContentEncoding::Identity,
        ContentEncoding::Gzip,
        ContentEncoding::Zstd,
        ContentEncoding::Deflate,
        ContentEncoding::Snappy,
        ContentEncoding::SnappyFramed,
        ContentEncoding::Lz4,
    ];

    #[test]
    fn every_encoding_round_trips() {
        for encoding in ALL {
            let body = Bytes::from(encoded(encoding, TEXT));
            assert_eq!(
                encoding.decode(body, 1 << 20).unwrap(),
                TEXT,
                "{}",
                encoding.name()
            );
        }
    }

    #[test]
    fn every_name_the_collector_knows_parses_and_others_are_refused_by_name() {
        for name in [
            "gzip",
            "zstd",
            "zlib",
            "deflate",
            "snappy",
            "x-snappy-framed",
            "lz4",
            "",
        ] {
            assert!(ContentEncoding::parse(name).is_some(), "{name}");
        }
        let mut headers = HeaderMap::new();
        headers.insert("content-encoding", "br".parse().unwrap());
        let refusal = ContentEncoding::of(&headers).unwrap_err();
        assert_eq!(refusal.http_status(), 415);
        assert!(refusal.message.contains("\"br\""), "{}", refusal.message);
    }

    #[test]
    fn a_bomb_stops_at_the_limit_in_every_encoding() {
        let zeros = vec![0u8; 4 << 20];
        for encoding in ALL.into_iter().skip(1) {
            let body = Bytes::from(encoded(encoding, &zeros));
            assert!(body.len() < 1 << 20, "{} compresses zeros", encoding.name());
            let refusal = encoding.decode(body, 1 << 20).unwrap_err();
            assert_eq!(refusal.http_status(), 413, "{}", encoding.name());
            assert!(
                refusal.message.contains(encoding.name()),
                "{}",
                refusal.message
            );
        }
    }

    #[test]
    fn a_body_exactly_at_the_limit_is_kept() {
        let body = Bytes::from(gzip(TEXT));
        assert_eq!(
            ContentEncoding::Gzip.decode(body, TEXT.len()).unwrap(),
            TEXT
        );
    }

    #[test]
    fn raw_deflate_is_taken_as_deflate_too() {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(TEXT).unwrap();
        let body = Bytes::from(e.finish().unwrap());
        assert_eq!(
            ContentEncoding::Deflate.decode(body, 1 << 20).unwrap(),
            TEXT
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for encoding in ALL.into_iter().skip(1) {
            let refusal = encoding
                .decode(Bytes::from_static(b"\x00\x01garbage\xff"), 1 << 20)
                .unwrap_err();
            assert_eq!(refusal.http_status(), 400, "{}", encoding.name());
        }
    }
}
