//! Topology functions: `scenario`, `proxy`, `service`, `route`, `request`.
//! (`call` is a Rhai keyword, hence `request` for a call to another service.)
//!
//! ```rhai
//! proxy("front-proxy", #{ routes: [route("/*", #{ to: "service1", operation: "checkAvailability" })] });
//! service("service1", #{ routes: [route("/trace/1", #{ calls: [request("service2", "/trace/2")] })] });
//! ```

use std::collections::BTreeMap;

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::SharedDraft;
use super::options::{ScriptResult, error_at, origin, parse_options, take_list};
use crate::scenario::model::{
    Action, Call, Component, Handler, HeaderFormat, PathMatch, Propagation, Reply, Role, Route,
    Step,
};

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    engine.register_type_with_name::<Route>("Route");
    engine.register_type_with_name::<Call>("Call");

    let d = draft.clone();
    engine.register_fn("scenario", move |ctx: NativeCallContext, name: &str| {
        let mut draft = d.lock().expect("draft lock");
        if draft.name.is_some() {
            return Err(error_at(&ctx, "scenario(...) is called twice"));
        }
        draft.name = Some(name.to_string());
        Ok(())
    });

    for role in [Role::Proxy, Role::Service] {
        let d = draft.clone();
        let fn_name = role.to_string();
        engine.register_fn(
            &fn_name,
            move |ctx: NativeCallContext, name: &str, opts: Map| -> ScriptResult<()> {
                let component = component(&ctx, role, name, opts)?;
                let mut draft = d.lock().expect("draft lock");
                if let Some(other) = draft.components.iter().find(|c| c.name == component.name) {
                    return Err(error_at(
                        &ctx,
                        format!(
                            "a component named {:?} is already declared at line {}",
                            other.name, other.origin.line
                        ),
                    ));
                }
                draft.components.push(component);
                Ok(())
            },
        );
    }

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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentOptions {
    port: Option<u16>,
    propagation: Option<Dynamic>,
}

fn component(
    ctx: &NativeCallContext,
    role: Role,
    name: &str,
    mut opts: Map,
) -> ScriptResult<Component> {
    let what = format!("{role}({name:?})");
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(error_at(
            ctx,
            format!("{what}: a name must be non-empty, without spaces or '/'"),
        ));
    }
    let routes: Vec<Route> = take_list(ctx, &mut opts, "routes", &what, "route(...)")?;
    let options: ComponentOptions = parse_options(ctx, &what, opts)?;
    let propagation = match options.propagation {
        None => Propagation::default(),
        Some(value) => propagation(ctx, &what, value)?,
    };
    if routes.is_empty() {
        return Err(error_at(
            ctx,
            format!("{what}: give it at least one route in `routes`"),
        ));
    }
    for r in &routes {
        let wrong = match (role, &r.action) {
            (Role::Proxy, Action::Respond(_)) => Some(
                "a proxy route must forward: give it `to: \"<component>\"` (a service route replies)",
            ),
            (Role::Service, Action::Forward { .. }) => Some(
                "a service route replies (status, body, calls); forwarding with `to:` is for proxy routes",
            ),
            _ => None,
        };
        if let Some(message) = wrong {
            return Err(error_at(
                ctx,
                format!(
                    "{what}: the route {} declared at {}: {message}",
                    r.path, r.origin
                ),
            ));
        }
    }
    Ok(Component {
        name: name.to_string(),
        role,
        port: options.port,
        propagation,
        routes,
        origin: origin(ctx),
    })
}

/// `"b3"`, `["b3", "w3c"]` or `"none"`.
fn propagation(ctx: &NativeCallContext, what: &str, value: Dynamic) -> ScriptResult<Propagation> {
    let names: Vec<String> = if value.is_string() {
        vec![value.into_string().expect("checked is_string")]
    } else if let Some(array) = value.clone().try_cast::<rhai::Array>() {
        array
            .into_iter()
            .map(|v| {
                v.into_string().map_err(|t| {
                    error_at(
                        ctx,
                        format!("{what}: propagation entries are strings, found {t}"),
                    )
                })
            })
            .collect::<ScriptResult<_>>()?
    } else {
        return Err(error_at(
            ctx,
            format!(
                "{what}: propagation is a string or an array of strings, found {}",
                value.type_name()
            ),
        ));
    };
    if names.iter().any(|n| n == "none") {
        if names.len() > 1 {
            return Err(error_at(
                ctx,
                format!("{what}: \"none\" cannot be combined with other formats"),
            ));
        }
        return Ok(Propagation::None);
    }
    let formats = names
        .iter()
        .map(|n| {
            HeaderFormat::parse(n).ok_or_else(|| {
                error_at(
                    ctx,
                    format!("{what}: unknown propagation {n:?}; expected w3c, b3, b3-single, jaeger or none"),
                )
            })
        })
        .collect::<ScriptResult<Vec<_>>>()?;
    if formats.is_empty() {
        return Err(error_at(
            ctx,
            format!("{what}: propagation needs at least one format"),
        ));
    }
    Ok(Propagation::Formats(formats))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteOptions {
    to: Option<String>,
    operation: Option<String>,
    status: Option<u16>,
    body: Option<String>,
    headers: Option<BTreeMap<String, String>>,
}

fn route(ctx: &NativeCallContext, path: &str, mut opts: Map) -> ScriptResult<Route> {
    let what = format!("route({path:?})");
    if !path.starts_with('/') {
        return Err(error_at(ctx, format!("{what}: a path starts with '/'")));
    }
    let path_match = match path.strip_suffix('*') {
        Some(prefix) => PathMatch::Prefix(prefix.to_string()),
        None => PathMatch::Exact(path.to_string()),
    };
    let calls: Vec<Call> = take_list(ctx, &mut opts, "calls", &what, "request(...)")?;
    let options: RouteOptions = parse_options(ctx, &what, opts)?;
    let action = match options.to {
        Some(cluster) => {
            if options.status.is_some()
                || options.body.is_some()
                || options.headers.is_some()
                || !calls.is_empty()
            {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: a forwarding route (to: {cluster:?}) cannot also reply: drop status, body, headers and calls"
                    ),
                ));
            }
            Action::Forward { cluster }
        }
        None => {
            let status = options.status.unwrap_or(200);
            if !(100..=599).contains(&status) {
                return Err(error_at(
                    ctx,
                    format!("{what}: status {status} is not an HTTP status (100-599)"),
                ));
            }
            Action::Respond(Handler {
                steps: calls.into_iter().map(Step::Call).collect(),
                reply: Reply {
                    status,
                    body: options.body.unwrap_or_default(),
                    headers: options.headers.unwrap_or_default().into_iter().collect(),
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
        origin: origin(ctx),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallOptions {
    operation: Option<String>,
    method: Option<String>,
}

fn call(ctx: &NativeCallContext, service: &str, path: &str, opts: Map) -> ScriptResult<Call> {
    let what = format!("request({service:?}, {path:?})");
    if !path.starts_with('/') {
        return Err(error_at(ctx, format!("{what}: a path starts with '/'")));
    }
    let options: CallOptions = parse_options(ctx, &what, opts)?;
    let method = options
        .method
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(error_at(
            ctx,
            format!("{what}: {method:?} is not an HTTP method"),
        ));
    }
    Ok(Call {
        service: service.to_string(),
        method,
        path: path.to_string(),
        operation: options.operation,
        origin: origin(ctx),
    })
}
