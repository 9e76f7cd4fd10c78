//! One running component: its HTTP handler, shared by proxies and services.
//! It reads the request whole, settles the request id and dispatches to
//! `proxy` or `service` by role.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, request::Parts};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use opentelemetry::StringValue;
use opentelemetry::trace::SpanContext;
use opentelemetry_sdk::trace::SdkTracer;

use super::seeded::FaultDice;
use super::telemetry::ExportCounters;
use super::upstream::Upstream;
use super::{proxy, service};
use crate::http_client::{REQUEST_ID_HEADER, new_request_id};
use crate::scenario::model::{Component, HeaderFormat, Propagation, Role, Route};
use crate::server::{Body, Handler, text};

/// Requests larger than this are refused with 413, as Envoy's buffer limit does.
const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// Where each component listens, by name: `host:port`.
pub type Directory = HashMap<String, String>;

pub struct ComponentRuntime {
    pub spec: Component,
    /// The component's name as a span tag value, shared by all its spans.
    pub node_id: StringValue,
    /// `None` when tracing is switched off: no spans, no trace context.
    pub tracer: Option<SdkTracer>,
    pub counters: Arc<ExportCounters>,
    pub directory: Arc<Directory>,
    pub upstream: Upstream,
    pub local_addr: SocketAddr,
    /// The route faults' random draws, one seeded stream per route.
    pub dice: FaultDice,
}

/// A request read whole, with the id every hop tags its span with.
pub struct Inbound {
    pub parts: Parts,
    pub body: Bytes,
    /// Shared with every span the request makes here (one copy, not one a span).
    pub request_id: Arc<str>,
    pub peer: SocketAddr,
}

impl Handler for ComponentRuntime {
    async fn handle(&self, request: hyper::Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return text(413, "payload too large\n");
            }
            Err(_) => return text(400, "could not read the request body\n"),
        };
        // The edge keeps a caller's x-request-id (tracelab's traffic sets one
        // to find its traces) and makes one up otherwise, as Envoy does.
        let request_id = parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(Arc::from)
            .unwrap_or_else(|| new_request_id().into());
        let inbound = Inbound {
            parts,
            body,
            request_id,
            peer,
        };
        match self.spec.role {
            Role::Proxy => proxy::handle(self, inbound).await,
            Role::Service => service::handle(self, inbound).await,
            // A process is its own program; tracelab never serves it.
            Role::Process => text(500, "a process component is not served by tracelab\n"),
        }
    }
}

impl ComponentRuntime {
    /// The formats this component's Envoy reads and writes.
    pub fn formats(&self) -> &[HeaderFormat] {
        if self.tracer.is_none() {
            return &[];
        }
        match &self.spec.propagation {
            Propagation::Formats(formats) => formats,
            Propagation::None => &DEFAULT_FORMATS,
        }
    }

    pub fn forwards_context(&self) -> bool {
        self.tracer.is_some() && !matches!(self.spec.propagation, Propagation::None)
    }

    pub fn authority_of(&self, component: &str) -> Option<&str> {
        self.directory.get(component).map(String::as_str)
    }

    /// The first route matching `path`, with its index (for the dice).
    pub fn route_for(&self, path: &str) -> Option<(usize, &Route)> {
        self.spec
            .routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.path.matches(path))
    }
}

/// Headers for the next hop: the caller's, minus hop-by-hop headers and
/// stale trace context; the request id always goes along. One pass that
/// copies only what goes on (removing afterwards hashes every name).
pub fn forward_headers(inbound: &HeaderMap, request_id: &str) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(inbound.len() + 8);
    for (name, value) in inbound {
        if !dropped_on_forward(name.as_str()) {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_NAME.clone(), value);
    }
    headers
}

/// The request id's header name, made once.
pub static REQUEST_ID_NAME: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// Not passed on to the next hop: hop-by-hop headers, trace context (the
/// component writes its own) and the decorator (the route sets its own).
fn dropped_on_forward(name: &str) -> bool {
    HOP_BY_HOP.contains(&name)
        || crate::propagation::TRACE_HEADERS.contains(&name)
        || name == super::envoy::DECORATOR_HEADER
}

const DEFAULT_FORMATS: [HeaderFormat; 2] = [HeaderFormat::B3, HeaderFormat::W3c];

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
];

/// W3C Trace Context Level 2's `traceresponse`, so a caller learns the
/// trace id; none without a span (tracing switched off).
pub fn traceresponse(context: &SpanContext) -> Option<HeaderValue> {
    context.is_valid().then(|| {
        crate::propagation::traceparent(context.trace_id(), context.span_id(), context.is_sampled())
    })
}

pub fn respond(status: u16, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = headers;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_drops_hop_by_hop_headers_stale_trace_context_and_the_decorator() {
        let mut inbound = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive"),
            ("host", "front:8000"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("uber-trace-id", "1:2:0:1"),
            ("x-envoy-decorator-operation", "checkAvailability"),
            ("x-request-id", "from-the-caller"),
            ("accept", "text/plain"),
            ("x-tenant", "a"),
        ] {
            inbound.append(name, HeaderValue::from_static(value));
        }
        inbound.append("x-tenant", HeaderValue::from_static("b"));
        let forwarded = forward_headers(&inbound, "rid-1");
        let mut names: Vec<&str> = forwarded.keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["accept", "x-request-id", "x-tenant"]);
        let tenants: Vec<_> = forwarded.get_all("x-tenant").iter().collect();
        assert_eq!(tenants, ["a", "b"], "repeated headers go on whole");
        let ids: Vec<_> = forwarded.get_all("x-request-id").iter().collect();
        assert_eq!(
            ids,
            ["rid-1"],
            "the component's request id replaces the caller's"
        );
    }
}
