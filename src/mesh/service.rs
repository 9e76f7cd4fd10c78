//! A service: an Envoy sidecar in front of an app. The sidecar reports a
//! server span on the way in (named by the caller's decorator header, else
//! the route's, else `ingress`); the app makes its calls, each through the
//! sidecar's egress as a client span (one at a time, or several at once for
//! a `parallel` step), then replies.
//!
//! Route faults are the app's: its latency comes before its calls; an
//! injected failure skips the calls and answers the status.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use http::{HeaderMap, HeaderValue, Method, Response};
use opentelemetry::trace::{SpanContext, SpanKind};

use super::component::{ComponentRuntime, Inbound, respond, traceresponse};
use super::envoy::{APP_USER_AGENT, DECORATOR_HEADER, EnvoySpan, RequestFacts, ResponseFacts};
use super::seeded::Roll;
use crate::propagation;
use crate::scenario::model::{Action, Call, Handler, Step};
use crate::server::Body;

/// The cluster an ingress Envoy routes to: the app beside it.
const LOCAL_CLUSTER: &str = "local_service";

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

    let parent = propagation::extract(rt.formats(), &parts.headers);
    let operation = header(&parts.headers, DECORATOR_HEADER)
        .map(str::to_string)
        .or_else(|| route.and_then(|(_, r)| r.operation.clone()))
        .unwrap_or_else(|| "ingress".to_string());
    let facts = RequestFacts {
        request_id: &request_id,
        method: parts.method.as_str(),
        host: &host,
        path_and_query,
        user_agent: header(&parts.headers, "user-agent"),
        downstream_cluster: header(&parts.headers, super::envoy::DOWNSTREAM_CLUSTER_HEADER),
        peer: Some(peer),
        request_size: body.len(),
        upstream_cluster: LOCAL_CLUSTER,
    };
    let span = EnvoySpan::start(
        rt.tracer.as_ref(),
        &rt.counters,
        operation,
        SpanKind::Server,
        &rt.node_id,
        parent.as_ref(),
        facts,
    );

    let found = route.and_then(|(index, r)| match &r.action {
        Action::Respond(handler) => Some((index, r, handler)),
        Action::Forward { .. } => None,
    });
    let Some((index, route, handler)) = found else {
        let body = "route not found\n";
        span.finish(&ResponseFacts {
            status: Some(404),
            response_size: body.len(),
            flags: "NR".into(),
        });
        return respond(404, HeaderMap::new(), body.into());
    };
    let roll = rt.dice.roll(index, &route.faults);

    let context = span.context();
    let (status, body, mut headers) = run_handler(rt, handler, roll, &context, &request_id).await;
    if let Some(value) = traceresponse(&context) {
        headers.insert(propagation::TRACERESPONSE.clone(), value);
    }
    span.finish(&ResponseFacts {
        status: Some(status),
        response_size: body.len(),
        flags: "-".into(),
    });
    respond(status, headers, body.into())
}

/// What a call came back with, for the app's reply.
struct CallOutcome {
    service: String,
    status: u16,
}

async fn run_handler(
    rt: &ComponentRuntime,
    handler: &Handler,
    roll: Roll,
    server: &SpanContext,
    request_id: &Arc<str>,
) -> (u16, String, HeaderMap) {
    if let Some(delay) = roll.latency {
        tokio::time::sleep(delay).await;
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(status) = roll.abort {
        let body = format!("{}: injected failure ({status})\n", rt.spec.name);
        return (status, body, headers);
    }
    let mut failed: Option<CallOutcome> = None;
    for step in &handler.steps {
        let outcomes = match step {
            Step::Call(call) => vec![make_call(rt, call, server, request_id).await],
            Step::Parallel(calls) => {
                futures_util::future::join_all(
                    calls
                        .iter()
                        .map(|call| make_call(rt, call, server, request_id)),
                )
                .await
            }
        };
        for outcome in outcomes {
            if outcome.status >= 500 && failed.is_none() {
                failed = Some(outcome);
            }
        }
    }
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    for (name, value) in &handler.reply.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    // An app whose call failed fails too: the error travels up the trace.
    if let Some(failure) = failed
        && handler.reply.status < 500
    {
        let body = format!(
            "{} failed: {} answered {}\n",
            rt.spec.name, failure.service, failure.status
        );
        return (failure.status, body, headers);
    }
    (
        handler.reply.status,
        fill_placeholders(rt, &handler.reply.body),
        headers,
    )
}

async fn make_call(
    rt: &ComponentRuntime,
    call: &Call,
    server: &SpanContext,
    request_id: &Arc<str>,
) -> CallOutcome {
    // An app that drops trace headers makes its sidecar start a new trace.
    let parent = rt.forwards_context().then_some(server);
    let operation = call
        .operation
        .clone()
        .unwrap_or_else(|| format!("egress {}", call.service));
    let facts = RequestFacts {
        request_id,
        method: &call.method,
        host: &call.service,
        path_and_query: &call.path,
        user_agent: Some(APP_USER_AGENT),
        downstream_cluster: None,
        peer: Some(rt.local_addr),
        request_size: 0,
        upstream_cluster: &call.service,
    };
    let span = EnvoySpan::start(
        rt.tracer.as_ref(),
        &rt.counters,
        operation,
        SpanKind::Client,
        &rt.node_id,
        parent,
        facts,
    );
    let context = span.context();
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(super::component::REQUEST_ID_NAME.clone(), value);
    }
    headers.insert("user-agent", HeaderValue::from_static(APP_USER_AGENT));
    propagation::inject(
        rt.formats(),
        &context,
        parent.map(|p| p.span_id()),
        &mut headers,
    );
    if let Some(op) = &call.operation
        && let Ok(value) = HeaderValue::from_str(op)
    {
        headers.insert(super::envoy::DECORATOR_NAME.clone(), value);
    }
    let method = Method::from_bytes(call.method.as_bytes()).unwrap_or(Method::GET);
    let Some(authority) = rt.authority_of(&call.service) else {
        span.finish(&ResponseFacts {
            status: Some(503),
            response_size: 0,
            flags: "NC".into(),
        });
        return CallOutcome {
            service: call.service.clone(),
            status: 503,
        };
    };
    let exchange = rt
        .upstream
        .send_with_policy(
            authority,
            &method,
            &call.path,
            headers,
            Default::default(),
            &call.policy,
        )
        .await;
    let size = match &exchange.result {
        Ok(r) => r.body.len(),
        Err(f) => f.body().len(),
    };
    let status = exchange.status();
    span.finish(&ResponseFacts {
        status: Some(status),
        response_size: size,
        flags: exchange.flags().into(),
    });
    CallOutcome {
        service: call.service.clone(),
        status,
    }
}

/// `{service}` and `{hostname}` in a reply body, as the sandbox's app
/// answers "Hello from behind Envoy (service 1)! hostname ...".
fn fill_placeholders(rt: &ComponentRuntime, body: &str) -> String {
    if !body.contains('{') {
        return body.to_string();
    }
    body.replace("{service}", &rt.spec.name)
        .replace("{hostname}", hostname())
        .replace("{ip}", &rt.local_addr.ip().to_string())
}

fn hostname() -> &'static str {
    static HOSTNAME: OnceLock<String> = OnceLock::new();
    HOSTNAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "localhost".into())
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
