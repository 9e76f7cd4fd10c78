//! Trace-context headers in the formats Envoy and OpenTelemetry apps speak:
//! W3C `traceparent`, Zipkin B3 (multi-header and single `b3`), and Jaeger's
//! `uber-trace-id`. The mesh's sidecars read and write them ([`extract`],
//! [`inject`]); traffic to an external target writes them for the traces it
//! starts ([`write_ids`]): one writer, so both speak each format alike.
//!
//! Written here rather than taken from `opentelemetry-jaeger-propagator`
//! (which trails the OpenTelemetry release tracelab uses) so that all four
//! share one extract/inject path and B3's parent id is carried as Envoy does.

use bytes::{BufMut, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::scenario::model::HeaderFormat;

/// Every header any format writes; a component drops them all from what it
/// forwards before injecting, so it never passes on a stale context in a
/// format it does not speak.
pub const TRACE_HEADERS: [&str; 10] = [
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "uber-trace-id",
    "x-ot-span-context",
];

// The names read and written, made once: a name given as `&str` is parsed
// on every lookup and copied into a new allocation on every insert.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
static B3: HeaderName = HeaderName::from_static("b3");
static B3_TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
static B3_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
static B3_PARENT_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-parentspanid");
static B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
static B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");
static UBER_TRACE_ID: HeaderName = HeaderName::from_static("uber-trace-id");
/// Trace Context Level 2's answer header (see `component::traceresponse`).
pub static TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

/// The first valid context among `formats`, in order.
pub fn extract(formats: &[HeaderFormat], headers: &HeaderMap) -> Option<SpanContext> {
    formats.iter().find_map(|format| match format {
        HeaderFormat::W3c => extract_w3c(headers),
        HeaderFormat::B3 => extract_b3_multi(headers),
        HeaderFormat::B3Single => extract_b3_single(headers),
        HeaderFormat::Jaeger => extract_jaeger(headers),
    })
}

/// Write `context` in every format; `parent` is the span that `context`'s
/// span is a child of (B3 carries it).
pub fn inject(
    formats: &[HeaderFormat],
    context: &SpanContext,
    parent: Option<SpanId>,
    headers: &mut HeaderMap,
) {
    write_ids(
        formats,
        context.trace_id().to_bytes(),
        context.span_id().to_bytes(),
        parent.map(SpanId::to_bytes),
        context.is_sampled(),
        headers,
    );
    if formats.contains(&HeaderFormat::W3c) {
        let state = context.trace_state().header();
        if let Ok(state) = HeaderValue::from_str(&state)
            && !state.is_empty()
        {
            headers.insert(TRACESTATE.clone(), state);
        }
    }
}

/// Write a trace id, its current span id and that span's parent (B3
/// carries it) in every format.
pub fn write_ids(
    formats: &[HeaderFormat],
    trace: [u8; 16],
    span: [u8; 8],
    parent: Option<[u8; 8]>,
    sampled: bool,
    headers: &mut HeaderMap,
) {
    let mut values = Values::default();
    for format in formats {
        match format {
            HeaderFormat::W3c => {
                values.traceparent(&trace, &span, sampled);
                headers.insert(TRACEPARENT.clone(), values.take());
            }
            HeaderFormat::B3 => {
                values.hex(&trace);
                headers.insert(B3_TRACE_ID.clone(), values.take());
                values.hex(&span);
                headers.insert(B3_SPAN_ID.clone(), values.take());
                if let Some(parent) = parent {
                    values.hex(&parent);
                    headers.insert(B3_PARENT_SPAN_ID.clone(), values.take());
                }
                let flag = if sampled { "1" } else { "0" };
                headers.insert(B3_SAMPLED.clone(), HeaderValue::from_static(flag));
            }
            HeaderFormat::B3Single => {
                values.hex(&trace);
                values.text("-");
                values.hex(&span);
                values.text(if sampled { "-1" } else { "-0" });
                if let Some(parent) = parent {
                    values.text("-");
                    values.hex(&parent);
                }
                headers.insert(B3.clone(), values.take());
            }
            HeaderFormat::Jaeger => {
                values.hex(&trace);
                values.text(":");
                values.hex(&span);
                values.text(if sampled { ":0:1" } else { ":0:0" });
                headers.insert(UBER_TRACE_ID.clone(), values.take());
            }
        }
    }
}

/// W3C `traceparent` (and Trace Context Level 2's `traceresponse`):
/// `00-{trace}-{span}-{flags}`.
pub fn traceparent(trace: TraceId, span: SpanId, sampled: bool) -> HeaderValue {
    let mut values = Values::default();
    values.traceparent(&trace.to_bytes(), &span.to_bytes(), sampled);
    values.take()
}

/// Header values written into one buffer and handed out as slices of it:
/// the trace headers of a hop cost one allocation, not one each, and ids
/// are printed as `{:x}` prints them without going through `fmt`.
struct Values(BytesMut);

impl Default for Values {
    fn default() -> Self {
        // Room for every format at once (B3, single b3, traceparent,
        // uber-trace-id: 240 bytes); more only grows the buffer.
        Values(BytesMut::with_capacity(256))
    }
}

impl Values {
    /// An id of up to 16 bytes (a trace id) as lowercase hex.
    fn hex(&mut self, id: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 32];
        for (pair, byte) in digits.chunks_exact_mut(2).zip(id) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        self.0.put_slice(&digits[..id.len().min(16) * 2]);
    }

    fn text(&mut self, text: &str) {
        self.0.put_slice(text.as_bytes());
    }

    fn traceparent(&mut self, trace: &[u8], span: &[u8], sampled: bool) {
        self.text("00-");
        self.hex(trace);
        self.text("-");
        self.hex(span);
        self.text(if sampled { "-01" } else { "-00" });
    }

    /// What was written since the last `take`, as a header value.
    fn take(&mut self) -> HeaderValue {
        HeaderValue::from_maybe_shared(self.0.split().freeze())
            .expect("hex digits and ASCII punctuation make a valid header value")
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Up to 32 hex digits (B3 and Jaeger allow 64-bit trace ids; pad them).
fn parse_trace_id(text: &str) -> Option<TraceId> {
    if text.is_empty() || text.len() > 32 {
        return None;
    }
    let id = u128::from_str_radix(text, 16).ok()?;
    (id != 0).then(|| TraceId::from_bytes(id.to_be_bytes()))
}

fn parse_span_id(text: &str) -> Option<SpanId> {
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    let id = u64::from_str_radix(text, 16).ok()?;
    (id != 0).then(|| SpanId::from_bytes(id.to_be_bytes()))
}

fn remote(trace: TraceId, span: SpanId, sampled: bool, state: TraceState) -> SpanContext {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    SpanContext::new(trace, span, flags, true, state)
}

fn extract_w3c(headers: &HeaderMap) -> Option<SpanContext> {
    let value = header(headers, &TRACEPARENT)?;
    let parts: Vec<&str> = value.split('-').collect();
    let [version, trace, span, flags, ..] = parts.as_slice() else {
        return None;
    };
    // Version ff is invalid; version 00 has exactly four fields.
    if version.len() != 2 || *version == "ff" || (*version == "00" && parts.len() != 4) {
        return None;
    }
    if trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let state = header(headers, &TRACESTATE)
        .and_then(|s| s.parse::<TraceState>().ok())
        .unwrap_or_default();
    Some(remote(
        parse_trace_id(trace)?,
        parse_span_id(span)?,
        flags & 1 == 1,
        state,
    ))
}

fn b3_sampled(sampled: Option<&str>, flags: Option<&str>) -> bool {
    // Debug (x-b3-flags: 1 or "d") implies sampled; absent means "sample".
    if flags == Some("1") || sampled == Some("d") {
        return true;
    }
    !matches!(sampled, Some("0") | Some("false"))
}

fn extract_b3_multi(headers: &HeaderMap) -> Option<SpanContext> {
    let trace = parse_trace_id(header(headers, &B3_TRACE_ID)?)?;
    let span = parse_span_id(header(headers, &B3_SPAN_ID)?)?;
    let sampled = b3_sampled(header(headers, &B3_SAMPLED), header(headers, &B3_FLAGS));
    Some(remote(trace, span, sampled, TraceState::default()))
}

fn extract_b3_single(headers: &HeaderMap) -> Option<SpanContext> {
    let value = header(headers, &B3)?;
    let mut parts = value.split('-');
    let trace = parse_trace_id(parts.next()?)?;
    let span = parse_span_id(parts.next()?)?;
    let sampled = b3_sampled(parts.next(), None);
    Some(remote(trace, span, sampled, TraceState::default()))
}

fn extract_jaeger(headers: &HeaderMap) -> Option<SpanContext> {
    let value = header(headers, &UBER_TRACE_ID)?;
    // The value may arrive URL-encoded (`%3A` for `:`).
    let value = value.replace("%3A", ":").replace("%3a", ":");
    let parts: Vec<&str> = value.split(':').collect();
    let [trace, span, _parent, flags] = parts.as_slice() else {
        return None;
    };
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(remote(
        parse_trace_id(trace)?,
        parse_span_id(span)?,
        flags & 1 == 1,
        TraceState::default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    fn context(sampled: bool) -> SpanContext {
        remote(
            parse_trace_id(TRACE).unwrap(),
            parse_span_id(SPAN).unwrap(),
            sampled,
            TraceState::default(),
        )
    }

    #[test]
    fn every_format_round_trips_a_sampled_and_an_unsampled_context() {
        for format in [
            HeaderFormat::W3c,
            HeaderFormat::B3,
            HeaderFormat::B3Single,
            HeaderFormat::Jaeger,
        ] {
            for sampled in [true, false] {
                let mut headers = HeaderMap::new();
                inject(&[format], &context(sampled), None, &mut headers);
                let back = extract(&[format], &headers).unwrap_or_else(|| panic!("{format:?}"));
                assert_eq!(back.trace_id().to_string(), TRACE, "{format:?}");
                assert_eq!(back.span_id().to_string(), SPAN, "{format:?}");
                assert_eq!(back.is_sampled(), sampled, "{format:?}");
                assert!(back.is_remote());
            }
        }
    }

    #[test]
    fn ids_are_written_as_fmt_writes_them() {
        let trace = TraceId::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff]);
        let span = SpanId::from_bytes([0xab, 0, 1, 2, 3, 4, 5, 0x0f]);
        assert_eq!(
            traceparent(trace, span, true),
            format!("00-{trace}-{span}-01")
        );
        assert_eq!(
            traceparent(trace, span, false),
            format!("00-{trace}-{span}-00")
        );
        let mut headers = HeaderMap::new();
        let parent = parse_span_id("1111111111111111").unwrap();
        inject(
            &[HeaderFormat::B3, HeaderFormat::B3Single],
            &remote(trace, span, true, TraceState::default()),
            Some(parent),
            &mut headers,
        );
        assert_eq!(headers["x-b3-traceid"], trace.to_string().as_str());
        assert_eq!(headers["x-b3-spanid"], span.to_string().as_str());
        assert_eq!(headers["b3"], format!("{trace}-{span}-1-{parent}").as_str());
    }

    #[test]
    fn every_format_at_once_gets_its_own_value_from_the_shared_buffer() {
        let parent = parse_span_id("1111111111111111").unwrap();
        let mut headers = HeaderMap::new();
        let all = [
            HeaderFormat::B3,
            HeaderFormat::B3Single,
            HeaderFormat::W3c,
            HeaderFormat::Jaeger,
        ];
        inject(&all, &context(true), Some(parent), &mut headers);
        let expected = [
            ("x-b3-traceid", TRACE.to_string()),
            ("x-b3-spanid", SPAN.to_string()),
            ("x-b3-parentspanid", parent.to_string()),
            ("x-b3-sampled", "1".to_string()),
            ("b3", format!("{TRACE}-{SPAN}-1-{parent}")),
            ("traceparent", format!("00-{TRACE}-{SPAN}-01")),
            ("uber-trace-id", format!("{TRACE}:{SPAN}:0:1")),
        ];
        for (name, value) in &expected {
            assert_eq!(headers[*name], value.as_str(), "{name}");
        }
        assert_eq!(headers.len(), expected.len(), "{headers:?}");
        let mut unsampled = HeaderMap::new();
        inject(
            &[HeaderFormat::Jaeger],
            &context(false),
            None,
            &mut unsampled,
        );
        assert_eq!(
            unsampled["uber-trace-id"],
            format!("{TRACE}:{SPAN}:0:0").as_str()
        );
    }

    #[test]
    fn a_component_reads_only_the_formats_it_speaks() {
        let mut headers = HeaderMap::new();
        inject(&[HeaderFormat::W3c], &context(true), None, &mut headers);
        assert!(extract(&[HeaderFormat::B3], &headers).is_none());
        assert!(extract(&[HeaderFormat::B3, HeaderFormat::W3c], &headers).is_some());
    }

    #[test]
    fn b3_writes_the_parent_span_id_as_envoy_does() {
        let mut headers = HeaderMap::new();
        let parent = parse_span_id("1111111111111111").unwrap();
        inject(
            &[HeaderFormat::B3],
            &context(true),
            Some(parent),
            &mut headers,
        );
        assert_eq!(headers["x-b3-parentspanid"], "1111111111111111");
        assert_eq!(headers["x-b3-sampled"], "1");
    }

    #[test]
    fn a_64_bit_b3_trace_id_is_accepted() {
        let mut headers = HeaderMap::new();
        headers.insert("x-b3-traceid", "a3ce929d0e0e4736".parse().unwrap());
        headers.insert("x-b3-spanid", SPAN.parse().unwrap());
        let ctx = extract(&[HeaderFormat::B3], &headers).unwrap();
        assert_eq!(
            ctx.trace_id().to_string(),
            "0000000000000000a3ce929d0e0e4736"
        );
        assert!(ctx.is_sampled(), "absent x-b3-sampled means sample");
    }

    #[test]
    fn malformed_headers_are_ignored_not_trusted() {
        for (name, value) in [
            ("traceparent", "00-xyz-00f067aa0ba902b7-01"),
            (
                "traceparent",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            (
                "traceparent",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            ),
            ("b3", "nonsense"),
            ("uber-trace-id", "1:2:3"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.parse().unwrap());
            let all = [
                HeaderFormat::W3c,
                HeaderFormat::B3Single,
                HeaderFormat::Jaeger,
            ];
            assert!(extract(&all, &headers).is_none(), "{name}: {value}");
        }
    }

    #[test]
    fn b3_debug_flag_forces_sampling() {
        let mut headers = HeaderMap::new();
        headers.insert("x-b3-traceid", TRACE.parse().unwrap());
        headers.insert("x-b3-spanid", SPAN.parse().unwrap());
        headers.insert("x-b3-sampled", "0".parse().unwrap());
        headers.insert("x-b3-flags", "1".parse().unwrap());
        assert!(extract(&[HeaderFormat::B3], &headers).unwrap().is_sampled());
    }
}
