//! Trace-context headers in the formats Envoy and OpenTelemetry apps speak:
//! W3C `traceparent`, Zipkin B3 (multi-header and single `b3`), and Jaeger's
//! `uber-trace-id`.
//!
//! Written here rather than taken from `opentelemetry-jaeger-propagator`
//! (which trails the OpenTelemetry release tracelab uses) so that all four
//! share one extract/inject path and B3's parent id is carried as Envoy does.

use http::{HeaderMap, HeaderValue};
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::scenario::model::HeaderFormat;

/// Every header any format writes; cleared before injecting, so a component
/// never forwards a stale context in a format it does not speak.
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
    let trace = context.trace_id();
    let span = context.span_id();
    let sampled = context.is_sampled();
    for format in formats {
        match format {
            HeaderFormat::W3c => {
                set(headers, "traceparent", traceparent(trace, span, sampled));
                let state = context.trace_state().header();
                if !state.is_empty() {
                    set(headers, "tracestate", state);
                }
            }
            HeaderFormat::B3 => {
                set(headers, "x-b3-traceid", hex(&[&trace.to_bytes()], ""));
                set(headers, "x-b3-spanid", hex(&[&span.to_bytes()], ""));
                if let Some(parent) = parent {
                    set(headers, "x-b3-parentspanid", hex(&[&parent.to_bytes()], ""));
                }
                let flag = if sampled { "1" } else { "0" };
                headers.insert("x-b3-sampled", HeaderValue::from_static(flag));
            }
            HeaderFormat::B3Single => {
                let flag = if sampled { "-1" } else { "-0" };
                let mut value = hex(&[&trace.to_bytes(), &span.to_bytes()], flag);
                if let Some(parent) = parent {
                    value.push('-');
                    value.push_str(&hex(&[&parent.to_bytes()], ""));
                }
                set(headers, "b3", value);
            }
            HeaderFormat::Jaeger => {
                let flags = if sampled { 1 } else { 0 };
                set(
                    headers,
                    "uber-trace-id",
                    format!("{trace}:{span}:0:{flags}"),
                );
            }
        }
    }
}

/// W3C `traceparent` (and Trace Context Level 2's `traceresponse`):
/// `00-{trace}-{span}-{flags}`.
pub fn traceparent(trace: TraceId, span: SpanId, sampled: bool) -> String {
    let mut value = String::with_capacity(55);
    value.push_str("00-");
    value.push_str(&hex(&[&trace.to_bytes()], "-"));
    value.push_str(&hex(
        &[&span.to_bytes()],
        if sampled { "-01" } else { "-00" },
    ));
    value
}

/// Ids as lowercase hex, each id followed by `-` but the last, then
/// `suffix`: what `{:x}` of the ids prints, without going through `fmt`
/// (headers are written on every hop of every request).
fn hex(ids: &[&[u8]], suffix: &str) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits: usize = ids.iter().map(|id| id.len() * 2 + 1).sum();
    let mut out = String::with_capacity(digits + suffix.len());
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        for byte in *id {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
    }
    out.push_str(suffix);
    out
}

pub fn remove_all(headers: &mut HeaderMap) {
    for name in TRACE_HEADERS {
        headers.remove(name);
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: String) {
    // Takes the string's buffer as the header's: no second copy.
    if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(value)) {
        headers.insert(name, value);
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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
    let value = header(headers, "traceparent")?;
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
    let state = header(headers, "tracestate")
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
    let trace = parse_trace_id(header(headers, "x-b3-traceid")?)?;
    let span = parse_span_id(header(headers, "x-b3-spanid")?)?;
    let sampled = b3_sampled(
        header(headers, "x-b3-sampled"),
        header(headers, "x-b3-flags"),
    );
    Some(remote(trace, span, sampled, TraceState::default()))
}

fn extract_b3_single(headers: &HeaderMap) -> Option<SpanContext> {
    let value = header(headers, "b3")?;
    let mut parts = value.split('-');
    let trace = parse_trace_id(parts.next()?)?;
    let span = parse_span_id(parts.next()?)?;
    let sampled = b3_sampled(parts.next(), None);
    Some(remote(trace, span, sampled, TraceState::default()))
}

fn extract_jaeger(headers: &HeaderMap) -> Option<SpanContext> {
    let value = header(headers, "uber-trace-id")?;
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
