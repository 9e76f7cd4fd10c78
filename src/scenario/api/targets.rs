//! External targets: `target(name, url)` names a system running outside
//! tracelab (a staging deployment, a docker-compose stack, an app started
//! by hand) that `traffic(..., #{ to: name })` sends requests to. A
//! scenario may declare nothing else: no topology at all.
//!
//! ```rhai
//! target("shop", "http://localhost:8080", #{ propagation: "w3c" });
//! traffic("browse", #{ to: "shop", requests: 20, path: "/products" });
//! ```

use std::time::Duration;

use rhai::{Engine, Map, NativeCallContext};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::SharedDraft;
use super::options::{ScriptResult, duration_text, error_at, origin, parse_options};
use super::topology::propagation;
use crate::scenario::model::{Propagation, Target};

/// How long a target's span count must hold still by default: above the
/// 5 s OpenTelemetry SDKs batch spans for unless told otherwise. Shorter,
/// a service that exports on that default was judged before its spans
/// came, and a `count: 0` on it held on nothing.
const DEFAULT_SETTLE: Duration = Duration::from_secs(6);

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    let d = draft.clone();
    engine.register_fn(
        "target",
        move |ctx: NativeCallContext, name: &str, url: &str| -> ScriptResult<()> {
            let target = target(&ctx, name, url, Map::new())?;
            declare(&ctx, &d, target)
        },
    );
    let d = draft.clone();
    engine.register_fn(
        "target",
        move |ctx: NativeCallContext, name: &str, url: &str, opts: Map| -> ScriptResult<()> {
            let target = target(&ctx, name, url, opts)?;
            declare(&ctx, &d, target)
        },
    );
}

fn declare(ctx: &NativeCallContext, draft: &SharedDraft, target: Target) -> ScriptResult<()> {
    let mut draft = draft.lock().expect("draft lock");
    if let Some(other) = draft.targets.iter().find(|t| t.name == target.name) {
        return Err(error_at(
            ctx,
            format!(
                "a target named {:?} is already declared at {}",
                other.name, other.origin
            ),
        ));
    }
    draft.targets.push(target);
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetOptions {
    // Parsed by hand (a string or an array); listed so a misspelling names it.
    #[serde(default, rename = "propagation")]
    _propagation: Option<IgnoredAny>,
    services: Option<Vec<String>>,
    #[serde(default, with = "duration_text")]
    settle: Option<Duration>,
}

fn target(ctx: &NativeCallContext, name: &str, url: &str, mut opts: Map) -> ScriptResult<Target> {
    let what = format!("target({name:?})");
    if name.trim().is_empty() {
        return Err(error_at(ctx, "target(...): the name is empty"));
    }
    let authority =
        authority_of(url).map_err(|e| error_at(ctx, format!("{what}: url {url:?}: {e}")))?;
    let propagation = match opts.remove("propagation") {
        Some(value) => propagation(ctx, &what, value)?,
        None => Propagation::default(),
    };
    let options: TargetOptions = parse_options(ctx, &what, opts)?;
    if options.settle == Some(Duration::ZERO) {
        return Err(error_at(ctx, format!("{what}: settle must be above zero")));
    }
    let services = options.services.unwrap_or_default();
    if services.iter().any(|s| s.trim().is_empty()) {
        return Err(error_at(
            ctx,
            format!("{what}: a service name is never empty"),
        ));
    }
    Ok(Target {
        name: name.to_string(),
        url: url.trim_end_matches('/').to_string(),
        authority,
        propagation,
        services,
        settle: options.settle.unwrap_or(DEFAULT_SETTLE),
        origin: origin(ctx),
    })
}

/// `host:port` of an `http://host[:port][/]` URL (port 80 by default).
pub fn authority_of(url: &str) -> Result<String, String> {
    if url.starts_with("https://") {
        return Err(
            "TLS is not supported: give the system's plain-HTTP address (http://...)".into(),
        );
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err("give an http:// URL, e.g. \"http://localhost:8080\"".into());
    };
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    if host_port.contains(['/', '?', '#']) {
        return Err(
            "a target is a server, without a path: the traffic's `path` says what to ask it".into(),
        );
    }
    if host_port.contains('@') {
        return Err("user names and passwords are not supported; send an authorization header with the traffic's `headers`".into());
    }
    if host_port.is_empty() || host_port.starts_with(':') {
        return Err("the host is empty".into());
    }
    let uri: http::uri::Authority = host_port
        .parse()
        .map_err(|_| format!("{host_port:?} is not a host[:port]"))?;
    Ok(match uri.port_u16() {
        Some(0) => return Err("port 0 is not a port a system listens on".into()),
        Some(port) => format!("{}:{port}", uri.host()),
        None if host_port.ends_with(':') => return Err("the port is empty".into()),
        None => format!("{}:80", uri.host()),
    })
}

#[cfg(test)]
mod tests {
    use super::authority_of;
    use crate::scenario::load::{Limits, load_source};
    use crate::scenario::model::{HeaderFormat, Propagation};

    fn load(text: &str) -> Result<crate::scenario::Scenario, String> {
        load_source(std::path::Path::new("t.rhai"), text, &Limits::default())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_target_takes_its_options_and_refuses_what_cannot_work() {
        let s = load(
            "target(\"shop\", \"http://localhost:8080/\", #{ propagation: \"jaeger\", services: [\"shop\"], settle: \"6s\" });\n\
             traffic(\"t\", #{ path: \"/\" });",
        )
        .unwrap();
        let t = &s.targets[0];
        assert_eq!(
            (t.url.as_str(), t.authority.as_str()),
            ("http://localhost:8080", "localhost:8080")
        );
        assert_eq!(
            t.propagation,
            Propagation::Formats(vec![HeaderFormat::Jaeger])
        );
        assert_eq!(t.services, ["shop"]);
        assert_eq!(t.settle, std::time::Duration::from_secs(6));
        for (text, want) in [
            (
                "target(\"s\", \"http://h\", #{ setle: \"1s\" });",
                "t.rhai:1:1: target(\"s\"): unknown field `setle`",
            ),
            (
                "target(\"s\", \"http://h\", #{ settle: \"0s\" });",
                "settle must be above zero",
            ),
            (
                "target(\"s\", \"https://h\");",
                "target(\"s\"): url \"https://h\": TLS is not supported",
            ),
            (
                "target(\"s\", \"http://h\");\ntarget(\"s\", \"http://g\");",
                "t.rhai:2:1: a target named \"s\" is already declared at 1:1",
            ),
            (
                "target(\"s\", \"http://h\", #{ services: [\"\"] });",
                "a service name is never empty",
            ),
        ] {
            let err = load(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn a_target_url_is_a_plain_http_server_address() {
        assert_eq!(
            authority_of("http://localhost:8080").unwrap(),
            "localhost:8080"
        );
        assert_eq!(
            authority_of("http://127.0.0.1:5000/").unwrap(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            authority_of("http://shop.internal").unwrap(),
            "shop.internal:80"
        );
        assert_eq!(authority_of("http://[::1]:9000").unwrap(), "[::1]:9000");
        for (url, why) in [
            ("https://shop", "TLS is not supported"),
            ("localhost:8080", "give an http:// URL"),
            ("http://shop:8080/api", "without a path"),
            ("http://shop?x=1", "without a path"),
            ("http://u:p@shop", "passwords are not supported"),
            ("http://shop:0", "port 0"),
            ("http://shop:", "the port is empty"),
            ("http://", "the host is empty"),
            ("http://sh op", "is not a host[:port]"),
        ] {
            let err = authority_of(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
    }
}
