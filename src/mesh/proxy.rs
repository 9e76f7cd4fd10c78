//! A proxy: an edge Envoy whose listener is OUTBOUND. It reports one client
//! span per request, named by the route's decorator, and forwards to the
//! route's cluster with the trace context and the decorator header.
//!
//! Route faults act like Envoy's fault filter (a delay, flag `DI`; an abort
//! answered by the proxy itself, flag `FI`). Retries follow the route's
//! policy; as in Envoy without `start_child_span`, one client span covers
//! every attempt, so each attempt shows up as another server child of it.

use std::borrow::Cow;

use http::{HeaderMap, HeaderValue, Response};
use opentelemetry::trace::SpanKind;

use super::component::{ComponentRuntime, Inbound, forward_headers, respond, traceresponse};
use super::envoy::{
    DOWNSTREAM_CLUSTER_HEADER, EnvoySpan, RequestFacts, ResponseFacts, response_flags,
};
use crate::propagation;
use crate::scenario::model::{Action, UpstreamPolicy};
use crate::server::Body;

/// Upstream reply headers the proxy does not pass back: hop-by-hop ones,
/// and the upstream's own `traceresponse` (the edge answers with its own).
const DROPPED_REPLY_HEADERS: [&str; 5] = [
    "connection",
    "transfer-encoding",
    "content-length",
    "keep-alive",
    "traceresponse",
];

pub async fn handle(rt: &ComponentRuntime, inbound: Inbound) -> Response<Body> {
    let Inbound {
        parts,
        body,
        request_id,
        peer,
    } = inbound;
    let path = parts.uri.path();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let host = match header(&parts.headers, "host") {
        Some(host) => Cow::Borrowed(host),
        None => Cow::Owned(rt.local_addr.to_string()),
    };

    let route = rt.route_for(path);
    let (cluster, policy) = match route.map(|(_, r)| &r.action) {
        Some(Action::Forward { cluster, policy }) => (Some(cluster.as_str()), *policy),
        _ => (None, UpstreamPolicy::default()),
    };
    let operation = route
        .and_then(|(_, r)| r.operation.clone())
        .unwrap_or_else(|| format!("egress {host}"));
    let parent = if rt.forwards_context() {
        propagation::extract(rt.formats(), &parts.headers)
    } else {
        None
    };
    let facts = RequestFacts {
        request_id: &request_id,
        method: parts.method.as_str(),
        host: &host,
        path_and_query,
        user_agent: header(&parts.headers, "user-agent"),
        downstream_cluster: header(&parts.headers, DOWNSTREAM_CLUSTER_HEADER),
        peer: Some(peer),
        request_size: body.len(),
        upstream_cluster: cluster.unwrap_or("-"),
    };
    let span = EnvoySpan::start(
        rt.tracer.as_ref(),
        &rt.counters,
        operation,
        SpanKind::Client,
        &rt.node_id,
        parent.as_ref(),
        facts,
    );
    let context = span.context();
    let mut reply_headers = HeaderMap::new();
    if let Some(value) = traceresponse(&context) {
        reply_headers.insert(propagation::TRACERESPONSE.clone(), value);
    }

    // No route: Envoy answers 404 itself with flag NR.
    let (Some((index, route)), Some(authority)) = (route, cluster.and_then(|c| rt.authority_of(c)))
    else {
        let body = "route not found\n";
        span.finish(&ResponseFacts {
            status: Some(404),
            response_size: body.len(),
            flags: "NR".into(),
        });
        return respond(404, reply_headers, body.into());
    };

    let roll = rt.dice.roll(index, &route.faults);
    let delayed = if let Some(delay) = roll.latency {
        tokio::time::sleep(delay).await;
        "DI"
    } else {
        "-"
    };
    if let Some(status) = roll.abort {
        let body = "fault filter abort";
        span.finish(&ResponseFacts {
            status: Some(status),
            response_size: body.len(),
            flags: response_flags(&[delayed, "FI"]),
        });
        return respond(status, reply_headers, body.into());
    }

    let mut headers = forward_headers(&parts.headers, &request_id);
    propagation::inject(
        rt.formats(),
        &context,
        parent.as_ref().map(|p| p.span_id()),
        &mut headers,
    );
    if let Some(op) = &route.operation
        && let Ok(value) = HeaderValue::from_str(op)
    {
        headers.insert(super::envoy::DECORATOR_NAME.clone(), value);
    }

    let exchange = rt
        .upstream
        .send_with_policy(
            authority,
            &parts.method,
            path_and_query,
            headers,
            body,
            &policy,
        )
        .await;
    let flags = response_flags(&[delayed, exchange.flags()]);
    match exchange.result {
        Ok(upstream) => {
            span.finish(&ResponseFacts {
                status: Some(upstream.status),
                response_size: upstream.body.len(),
                flags,
            });
            for (name, value) in &upstream.headers {
                if !DROPPED_REPLY_HEADERS.contains(&name.as_str()) {
                    reply_headers.append(name.clone(), value.clone());
                }
            }
            respond(upstream.status, reply_headers, upstream.body)
        }
        Err(failure) => {
            let body = failure.body();
            span.finish(&ResponseFacts {
                status: Some(failure.status()),
                response_size: body.len(),
                flags,
            });
            respond(failure.status(), reply_headers, body.into())
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
