//! Topology functions: `scenario`, `proxy`, `service` (routes are built in
//! `routes`, external programs in `process`).
//!
//! ```rhai
//! scenario("sandbox", #{ seed: 7 });
//! proxy("front-proxy", #{ routes: [route("/*", #{ to: "service1", operation: "checkAvailability" })] });
//! service("service1", #{ routes: [route("/trace/1", #{ calls: [request("service2", "/trace/2")] })] });
//! ```

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::SharedDraft;
use super::options::{
    ScriptResult, error_at, number, origin, parse_options, probability, take_list,
};
use crate::scenario::model::{
    Action, Component, HeaderFormat, PathMatch, Propagation, Role, Route,
};

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    let d = draft.clone();
    engine.register_fn("scenario", move |ctx: NativeCallContext, name: &str| {
        scenario(&ctx, &d, name, Map::new())
    });
    let d = draft.clone();
    engine.register_fn(
        "scenario",
        move |ctx: NativeCallContext, name: &str, opts: Map| scenario(&ctx, &d, name, opts),
    );

    for role in [Role::Proxy, Role::Service] {
        let d = draft.clone();
        let fn_name = role.to_string();
        engine.register_fn(
            &fn_name,
            move |ctx: NativeCallContext, name: &str, opts: Map| -> ScriptResult<()> {
                let component = component(&ctx, role, name, opts)?;
                declare(&ctx, &d, component)
            },
        );
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioOptions {
    seed: Option<u64>,
}

fn scenario(
    ctx: &NativeCallContext,
    draft: &SharedDraft,
    name: &str,
    opts: Map,
) -> ScriptResult<()> {
    let options: ScenarioOptions = parse_options(ctx, &format!("scenario({name:?})"), opts)?;
    let mut draft = draft.lock().expect("draft lock");
    if draft.name.is_some() {
        return Err(error_at(ctx, "scenario(...) is called twice"));
    }
    draft.name = Some(name.to_string());
    draft.seed = options.seed;
    Ok(())
}

/// Record a component, refusing a second one of the same name.
pub fn declare(
    ctx: &NativeCallContext,
    draft: &SharedDraft,
    component: Component,
) -> ScriptResult<()> {
    let mut draft = draft.lock().expect("draft lock");
    if let Some(other) = draft.components.iter().find(|c| c.name == component.name) {
        return Err(error_at(
            ctx,
            format!(
                "a component named {:?} is already declared at {}",
                other.name, other.origin
            ),
        ));
    }
    draft.components.push(component);
    Ok(())
}

/// A component name is a cluster name and an environment variable suffix.
pub fn check_name(ctx: &NativeCallContext, what: &str, name: &str) -> ScriptResult<()> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(error_at(
            ctx,
            format!("{what}: a name must be non-empty, without spaces or '/'"),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentOptions {
    /// Taken out before parsing; listed so a misspelling names it.
    #[serde(default, rename = "routes")]
    _routes: Option<IgnoredAny>,
    port: Option<u16>,
    propagation: Option<Dynamic>,
    #[serde(default, with = "number")]
    sampling: Option<f64>,
}

fn component(
    ctx: &NativeCallContext,
    role: Role,
    name: &str,
    mut opts: Map,
) -> ScriptResult<Component> {
    let what = format!("{role}({name:?})");
    check_name(ctx, &what, name)?;
    let routes: Vec<Route> = take_list(ctx, &mut opts, "routes", &what, "route(...)")?;
    let options: ComponentOptions = parse_options(ctx, &what, opts)?;
    let propagation = match options.propagation {
        None => Propagation::default(),
        Some(value) => propagation(ctx, &what, value)?,
    };
    let sampling = sampling(ctx, &what, options.sampling)?;
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
    for (i, r) in routes.iter().enumerate() {
        if let Some(earlier) = routes[..i].iter().find(|e| covers(&e.path, &r.path)) {
            return Err(error_at(
                ctx,
                format!(
                    "{what}: the route {} declared at {} can never match: the route {} before it (at {}) takes every path it would",
                    r.path, r.origin, earlier.path, earlier.origin
                ),
            ));
        }
    }
    Ok(Component {
        name: name.to_string(),
        role,
        port: port(ctx, &what, options.port)?,
        propagation,
        routes,
        sampling,
        program: None,
        origin: origin(ctx),
    })
}

/// Does a route with path `earlier` take every request a later route with
/// path `later` would? (The first route that matches wins.)
fn covers(earlier: &PathMatch, later: &PathMatch) -> bool {
    match (earlier, later) {
        (PathMatch::Prefix(p), PathMatch::Exact(x) | PathMatch::Prefix(x)) => {
            x.starts_with(p.as_str())
        }
        (PathMatch::Exact(a), PathMatch::Exact(b)) => a == b,
        (PathMatch::Exact(_), PathMatch::Prefix(_)) => false,
    }
}

/// A fixed port; 0 would mean "any free port", which leaving it out says.
pub fn port(ctx: &NativeCallContext, what: &str, port: Option<u16>) -> ScriptResult<Option<u16>> {
    if port == Some(0) {
        return Err(error_at(
            ctx,
            format!("{what}: port 0 would be any free port: leave `port` out for that"),
        ));
    }
    Ok(port)
}

pub fn sampling(ctx: &NativeCallContext, what: &str, value: Option<f64>) -> ScriptResult<f64> {
    probability(ctx, &format!("{what}: sampling"), value.unwrap_or(1.0))
}

/// `"b3"`, `["b3", "w3c"]` or `"none"`.
pub fn propagation(
    ctx: &NativeCallContext,
    what: &str,
    value: Dynamic,
) -> ScriptResult<Propagation> {
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
