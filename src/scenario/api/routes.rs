//! Routes and the calls a route's handler makes: `route`, `request`,
//! `parallel`. (`call` is a Rhai keyword, hence `request`.)
//!
//! ```rhai
//! route("/", #{ calls: [
//!     request("auth", "/check", #{ timeout: "50ms", retries: 2 }),
//!     parallel([request("a", "/"), request("b", "/")]),
//! ] })
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::faults::take_faults;
use super::http_values::{self, HeaderUse};
use super::options::{
    ScriptResult, above_zero, duration_text, error_at, http_method, origin, parse_options,
};
use crate::scenario::model::{
    Action, Call, Handler, Reply, Route, Step, UpstreamPolicy, format_duration,
};

/// Retries beyond this are a mistake (Envoy's default is 1).
const MAX_RETRIES: u32 = 10;
/// Envoy's route timeout when none is given; also a call's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// What `parallel([...])` returns, until it lands in a `calls` list.
#[derive(Debug, Clone)]
pub struct Parallel(pub Vec<Call>);

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Route>("Route");
    engine.register_type_with_name::<Call>("Call");
    engine.register_type_with_name::<Parallel>("Parallel");

    engine.register_fn("route", |ctx: NativeCallContext, path: &str, opts: Map| {
        route(&ctx, path, opts)
    });
    engine.register_fn("route", |ctx: NativeCallContext, path: &str| {
        route(&ctx, path, Map::new())
    });
    engine.register_fn(
        "request",
        |ctx: NativeCallContext, service: &str, path: &str, opts: Map| {
            call(&ctx, service, path, opts)
        },
    );
    engine.register_fn(
        "request",
        |ctx: NativeCallContext, service: &str, path: &str| call(&ctx, service, path, Map::new()),
    );
    engine.register_fn("parallel", |ctx: NativeCallContext, calls: Array| {
        parallel(&ctx, calls)
    });
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteOptions {
    to: Option<String>,
    operation: Option<String>,
    status: Option<u16>,
    body: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    #[serde(default, with = "duration_text")]
    timeout: Option<Duration>,
    retries: Option<u32>,
    #[serde(default, with = "duration_text")]
    per_try_timeout: Option<Duration>,
    // Taken out before parsing; listed so a misspelling names them.
    #[serde(default, rename = "calls")]
    _calls: Option<IgnoredAny>,
    #[serde(default, rename = "latency")]
    _latency: Option<IgnoredAny>,
    #[serde(default, rename = "fail")]
    _fail: Option<IgnoredAny>,
}

fn route(ctx: &NativeCallContext, path: &str, mut opts: Map) -> ScriptResult<Route> {
    let what = format!("route({path:?})");
    let path_match =
        http_values::route_path(path).map_err(|e| error_at(ctx, format!("{what}: {e}")))?;
    let steps = take_steps(ctx, &mut opts, &what)?;
    let faults = take_faults(ctx, &what, &mut opts)?;
    let options: RouteOptions = parse_options(ctx, &what, opts)?;
    let policy = policy(
        ctx,
        &what,
        options.timeout,
        options.retries,
        options.per_try_timeout,
    )?;
    let action = match options.to {
        Some(cluster) => {
            if options.status.is_some()
                || options.body.is_some()
                || options.headers.is_some()
                || !steps.is_empty()
            {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: a forwarding route (to: {cluster:?}) cannot also reply: drop status, body, headers and calls"
                    ),
                ));
            }
            Action::Forward { cluster, policy }
        }
        None => {
            if policy != UpstreamPolicy::default() {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: timeout, retries and per_try_timeout belong to a forwarding route (to: ...) or to a request(...)"
                    ),
                ));
            }
            let status = options.status.unwrap_or(200);
            check_status(ctx, &what, status)?;
            let body = options.body.unwrap_or_default();
            if matches!(status, 204 | 304) && !body.is_empty() {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: a {status} reply has no body (HTTP drops it): drop `body` or pick another status"
                    ),
                ));
            }
            let headers =
                http_values::headers(options.headers.unwrap_or_default(), HeaderUse::Reply)
                    .map_err(|e| error_at(ctx, format!("{what}: {e}")))?;
            Action::Respond(Handler {
                steps,
                reply: Reply {
                    status,
                    body,
                    headers,
                },
            })
        }
    };
    if let Some(op) = &options.operation
        && op.is_empty()
    {
        return Err(error_at(
            ctx,
            format!("{what}: operation must not be empty"),
        ));
    }
    Ok(Route {
        path: path_match,
        operation: options.operation,
        action,
        faults,
        origin: origin(ctx),
    })
}

/// A final reply status: 200-599 (1xx are interim answers, never a reply).
pub fn check_status(ctx: &NativeCallContext, what: &str, status: u16) -> ScriptResult<()> {
    if (200..=599).contains(&status) {
        Ok(())
    } else {
        Err(error_at(
            ctx,
            format!("{what}: status {status} is not a reply status (200-599)"),
        ))
    }
}

/// `calls: [request(...), parallel([...]), ...]`.
fn take_steps(ctx: &NativeCallContext, opts: &mut Map, what: &str) -> ScriptResult<Vec<Step>> {
    let Some(value) = opts.remove("calls") else {
        return Ok(Vec::new());
    };
    let Some(array) = value.clone().try_cast::<Array>() else {
        return Err(error_at(
            ctx,
            format!(
                "{what}: `calls` must be an array of request(...) and parallel([...]) values, found {}",
                value.type_name()
            ),
        ));
    };
    array
        .into_iter()
        .enumerate()
        .map(|(i, item)| step(ctx, &format!("{what}: calls[{i}]"), item))
        .collect()
}

fn step(ctx: &NativeCallContext, what: &str, item: Dynamic) -> ScriptResult<Step> {
    let type_name = item.type_name();
    if item.is::<Call>() {
        return Ok(Step::Call(item.cast::<Call>()));
    }
    if item.is::<Parallel>() {
        return Ok(Step::Parallel(item.cast::<Parallel>().0));
    }
    Err(error_at(
        ctx,
        format!("{what} must be a request(...) or parallel([...]) value, found {type_name}"),
    ))
}

fn parallel(ctx: &NativeCallContext, calls: Array) -> ScriptResult<Parallel> {
    let mut out = Vec::with_capacity(calls.len());
    for (i, item) in calls.into_iter().enumerate() {
        let type_name = item.type_name();
        match item.try_cast::<Call>() {
            Some(call) => out.push(call),
            None => {
                return Err(error_at(
                    ctx,
                    format!(
                        "parallel([...])[{i}] must be a request(...) value, found {type_name} (parallel calls do not nest)"
                    ),
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(error_at(ctx, "parallel([...]) needs at least one request"));
    }
    Ok(Parallel(out))
}

fn policy(
    ctx: &NativeCallContext,
    what: &str,
    timeout: Option<Duration>,
    retries: Option<u32>,
    per_try_timeout: Option<Duration>,
) -> ScriptResult<UpstreamPolicy> {
    let retries = retries.unwrap_or(0);
    if retries > MAX_RETRIES {
        return Err(error_at(
            ctx,
            format!("{what}: at most {MAX_RETRIES} retries"),
        ));
    }
    if per_try_timeout.is_some() && retries == 0 {
        return Err(error_at(
            ctx,
            format!("{what}: per_try_timeout needs retries (else use timeout)"),
        ));
    }
    above_zero(ctx, what, "timeout", timeout)?;
    above_zero(ctx, what, "per_try_timeout", per_try_timeout)?;
    let whole = timeout.unwrap_or(DEFAULT_TIMEOUT);
    if let Some(per_try) = per_try_timeout
        && per_try >= whole
    {
        return Err(error_at(
            ctx,
            format!(
                "{what}: per_try_timeout ({}) is not below the whole timeout ({}{}): no attempt could time out on its own",
                format_duration(per_try),
                format_duration(whole),
                if timeout.is_none() {
                    ", the default"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok(UpstreamPolicy {
        timeout,
        retries,
        per_try_timeout,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallOptions {
    operation: Option<String>,
    method: Option<String>,
    #[serde(default, with = "duration_text")]
    timeout: Option<Duration>,
    retries: Option<u32>,
    #[serde(default, with = "duration_text")]
    per_try_timeout: Option<Duration>,
}

fn call(ctx: &NativeCallContext, service: &str, path: &str, opts: Map) -> ScriptResult<Call> {
    let what = format!("request({service:?}, {path:?})");
    if !path.starts_with('/') {
        return Err(error_at(ctx, format!("{what}: a path starts with '/'")));
    }
    http_values::request_target(path).map_err(|e| error_at(ctx, format!("{what}: path {e}")))?;
    let options: CallOptions = parse_options(ctx, &what, opts)?;
    let method = http_method(ctx, &what, options.method.clone())?;
    if options.operation.as_deref() == Some("") {
        return Err(error_at(
            ctx,
            format!("{what}: operation must not be empty"),
        ));
    }
    Ok(Call {
        service: service.to_string(),
        method,
        path: path.to_string(),
        operation: options.operation,
        policy: policy(
            ctx,
            &what,
            options.timeout,
            options.retries,
            options.per_try_timeout,
        )?,
        origin: origin(ctx),
    })
}
