//! A proxy: an edge Envoy whose listener is OUTBOUND. It reports one client
//! span per request, named by the route's decorator, and forwards to the
//! route's cluster with the trace context and the decorator header.

use http::{HeaderMap, HeaderValue, Response};
use opentelemetry::trace::SpanKind;

use super::component::{ComponentRuntime, Inbound, UPSTREAM_TIMEOUT, respond, traceresponse};
use super::envoy::{
    DECORATOR_HEADER, DOWNSTREAM_CLUSTER_HEADER, EnvoySpan, RequestFacts, ResponseFacts,
};
use super::propagation;
use crate::scenario::model::Action;
use crate::server::Body;

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
    let host = header(&parts.headers, "host")
        .map(str::to_string)
        .unwrap_or_else(|| rt.local_addr.to_string());

    let route = rt.spec.routes.iter().find(|r| r.path.matches(path));
    let cluster = match route.map(|r| &r.action) {
        Some(Action::Forward { cluster }) => Some(cluster.as_str()),
        _ => None,
    };
    let operation = route
        .and_then(|r| r.operation.clone())
        .unwrap_or_else(|| format!("egress {host}"));
    let parent = if rt.forwards_context() {
        propagation::extract(rt.formats(), &parts.headers)
    } else {
        None
    };
    let facts = RequestFacts {
        request_id: &request_id,
        method: parts.method.as_str(),
        url: format!("http://{host}{path_and_query}"),
        user_agent: header(&parts.headers, "user-agent"),
        downstream_cluster: header(&parts.headers, DOWNSTREAM_CLUSTER_HEADER),
        peer: Some(peer),
        request_size: body.len(),
        upstream_cluster: cluster.unwrap_or("-"),
    };
    let span = EnvoySpan::start(
        &rt.tracer,
        &rt.counters,
        operation,
        SpanKind::Client,
        &rt.spec.name,
        parent.as_ref(),
        &facts,
    );
    let context = span.context();
    let mut reply_headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&traceresponse(&context)) {
        reply_headers.insert("traceresponse", value);
    }

    // No route: Envoy answers 404 itself with flag NR.
    let Some(authority) = cluster.and_then(|c| rt.authority_of(c)) else {
        let body = "route not found\n";
        span.finish(&ResponseFacts {
            status: Some(404),
            response_size: body.len(),
            flags: "NR",
        });
        return respond(404, reply_headers, body.into());
    };

    let mut headers = rt.forward_headers(&parts.headers, &request_id);
    propagation::inject(
        rt.formats(),
        &context,
        parent.as_ref().map(|p| p.span_id()),
        &mut headers,
    );
    if let Some(op) = route.and_then(|r| r.operation.as_deref())
        && let Ok(value) = HeaderValue::from_str(op)
    {
        headers.insert(DECORATOR_HEADER, value);
    }

    match rt
        .upstream
        .send(
            authority,
            &parts.method,
            path_and_query,
            headers,
            body,
            UPSTREAM_TIMEOUT,
        )
        .await
    {
        Ok(upstream) => {
            span.finish(&ResponseFacts {
                status: Some(upstream.status),
                response_size: upstream.body.len(),
                flags: "-",
            });
            for (name, value) in &upstream.headers {
                if !matches!(
                    name.as_str(),
                    "connection" | "transfer-encoding" | "content-length" | "keep-alive"
                ) {
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
                flags: failure.flag(),
            });
            respond(failure.status(), reply_headers, body.into())
        }
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
