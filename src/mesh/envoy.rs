//! The spans an Envoy reports, named and tagged as Envoy names and tags
//! them, so tracelab's traces look like the sandbox's in Jaeger.
//!
//! Envoy's Zipkin tracer sends every tag as a string; so does this module,
//! except `error`, which Jaeger shows as the bool `error=true` (set here
//! through the span status, as OpenTelemetry apps do).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer as _,
};
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_sdk::trace::{SdkTracer, Span};

use super::telemetry::ExportCounters;

/// Header an egress Envoy sends so the next hop names its span the same.
pub use crate::scenario::model::DECORATOR_HEADER;
/// The same, made once: inserting by `&str` copies the name every time.
pub static DECORATOR_NAME: http::HeaderName = http::HeaderName::from_static(DECORATOR_HEADER);
pub const DOWNSTREAM_CLUSTER_HEADER: &str = "x-envoy-downstream-service-cluster";

/// What Envoy knows about a request when it starts the span.
pub struct RequestFacts<'a> {
    /// Shared: a service's server span and its calls' client spans carry it.
    pub request_id: &'a Arc<str>,
    pub method: &'a str,
    /// The `http.url` tag is `http://{host}{path_and_query}`.
    pub host: &'a str,
    pub path_and_query: &'a str,
    pub user_agent: Option<&'a str>,
    pub downstream_cluster: Option<&'a str>,
    pub peer: Option<SocketAddr>,
    pub request_size: usize,
    pub upstream_cluster: &'a str,
}

/// How the request ended, for the closing tags.
pub struct ResponseFacts {
    /// `None` when no response came (connection failure, timeout).
    pub status: Option<u16>,
    pub response_size: usize,
    /// Envoy's response flags (`UF`, `UT`, `NR`, ...), `-` when none.
    pub flags: Cow<'static, str>,
}

/// The user agent a service's app sends on its calls.
pub const APP_USER_AGENT: &str = concat!("tracelab/", env!("CARGO_PKG_VERSION"));

/// Tag values most spans carry, kept as statics: a tag built from one of
/// them copies no string (each span has ~15 tags; copies add up).
const COMMON_VALUES: [&str; 14] = [
    "-",
    "0",
    "200",
    "404",
    "500",
    "503",
    "GET",
    "POST",
    "PUT",
    "DELETE",
    "HEAD",
    "127.0.0.1",
    "local_service",
    APP_USER_AGENT,
];

/// `text` as a tag value: a static when it is a common one, a copy otherwise.
fn tag_value(text: &str) -> StringValue {
    match COMMON_VALUES.iter().find(|common| **common == text) {
        Some(common) => StringValue::from(*common),
        None => StringValue::from(Arc::<str>::from(text)),
    }
}

/// A number as a tag value (Envoy sends numbers as strings).
fn number_value(n: usize) -> StringValue {
    let mut digits = itoa::Buffer::new();
    tag_value(digits.format(n))
}

/// The peer's address as a tag value, without formatting the loopback one.
fn peer_value(peer: Option<SocketAddr>) -> StringValue {
    match peer.map(|p| p.ip()) {
        Some(IpAddr::V4(ip)) if ip == Ipv4Addr::LOCALHOST => StringValue::from("127.0.0.1"),
        Some(ip) => StringValue::from(ip.to_string()),
        None => StringValue::from(""),
    }
}

/// Envoy's response flags joined as it prints them (`DI,UF`), `-` when none.
pub fn response_flags(flags: &[&'static str]) -> Cow<'static, str> {
    let set: Vec<&str> = flags
        .iter()
        .copied()
        .filter(|f| !f.is_empty() && *f != "-")
        .collect();
    match set.as_slice() {
        [] => Cow::Borrowed("-"),
        [one] => Cow::Borrowed(*one),
        _ => Cow::Owned(set.join(",")),
    }
}

/// An open span and the counters it reports to when it ends. Dropped
/// unfinished (the caller hung up and the handler was cancelled), it ends
/// as Envoy ends such a span: no status, flag `DC`, an error.
pub struct EnvoySpan {
    span: Option<Span>,
    counters: Arc<ExportCounters>,
}

impl EnvoySpan {
    /// No tracer (tracing switched off): a span that records nothing.
    pub fn start(
        tracer: Option<&SdkTracer>,
        counters: &Arc<ExportCounters>,
        operation: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        node_id: &StringValue,
        parent: Option<&SpanContext>,
        facts: RequestFacts<'_>,
    ) -> EnvoySpan {
        let Some(tracer) = tracer else {
            return EnvoySpan {
                span: None,
                counters: Arc::clone(counters),
            };
        };
        let parent_cx = match parent {
            Some(sc) => Context::new().with_remote_span_context(sc.clone()),
            None => Context::new(),
        };
        let mut url = String::with_capacity(7 + facts.host.len() + facts.path_and_query.len());
        url.push_str("http://");
        url.push_str(facts.host);
        url.push_str(facts.path_and_query);
        // Room for the three tags `end` adds, so the list is never regrown.
        let mut attributes = Vec::with_capacity(15);
        let upstream_cluster = tag_value(facts.upstream_cluster);
        attributes.extend([
            KeyValue::new("component", "proxy"),
            KeyValue::new("node_id", node_id.clone()),
            KeyValue::new("guid:x-request-id", Arc::clone(facts.request_id)),
            KeyValue::new("http.url", url),
            KeyValue::new("http.method", tag_value(facts.method)),
            KeyValue::new("http.protocol", "HTTP/1.1"),
            KeyValue::new(
                "downstream_cluster",
                tag_value(facts.downstream_cluster.unwrap_or("-")),
            ),
            KeyValue::new("user_agent", tag_value(facts.user_agent.unwrap_or("-"))),
            KeyValue::new("peer.address", peer_value(facts.peer)),
            KeyValue::new("request_size", number_value(facts.request_size)),
            KeyValue::new("upstream_cluster", upstream_cluster.clone()),
            KeyValue::new("upstream_cluster.name", upstream_cluster),
        ]);
        let span = tracer
            .span_builder(operation)
            .with_kind(kind)
            .with_start_time(SystemTime::now())
            .with_attributes(attributes)
            .start_with_context(tracer, &parent_cx);
        if span.span_context().is_sampled() {
            counters.started.fetch_add(1, Ordering::SeqCst);
            counters.ledger.started(u128::from_be_bytes(
                span.span_context().trace_id().to_bytes(),
            ));
        }
        EnvoySpan {
            span: Some(span),
            counters: Arc::clone(counters),
        }
    }

    pub fn context(&self) -> SpanContext {
        self.span
            .as_ref()
            .map(|s| s.span_context().clone())
            .unwrap_or_else(SpanContext::empty_context)
    }

    pub fn finish(mut self, response: &ResponseFacts) {
        self.end(response);
    }

    fn end(&mut self, response: &ResponseFacts) {
        let Some(mut span) = self.span.take() else {
            return;
        };
        let status = response
            .status
            .map_or(StringValue::from("0"), |s| number_value(usize::from(s)));
        span.set_attribute(KeyValue::new("http.status_code", status));
        span.set_attribute(KeyValue::new(
            "response_size",
            number_value(response.response_size),
        ));
        span.set_attribute(KeyValue::new("response_flags", response.flags.clone()));
        // Envoy marks 5xx and "no response" as errors; 4xx is the caller's fault.
        if response.status.is_none_or(|s| s >= 500) {
            span.set_status(Status::error(""));
        }
        if span.span_context().is_sampled() {
            self.counters.ended.fetch_add(1, Ordering::SeqCst);
        }
        span.end_with_timestamp(SystemTime::now());
    }
}

impl Drop for EnvoySpan {
    fn drop(&mut self) {
        self.end(&ResponseFacts {
            status: None,
            response_size: 0,
            flags: Cow::Borrowed("DC"),
        });
    }
}
