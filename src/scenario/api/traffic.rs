//! Traffic: `traffic(name, #{ requests, concurrency, method, path, ... })`.
//!
//! ```rhai
//! traffic("sandbox", #{ requests: 10, path: "/trace/1" });
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use rhai::{Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::SharedDraft;
use super::options::{ScriptResult, duration_text, error_at, origin, parse_options};
use crate::scenario::model::Traffic;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    let d = draft.clone();
    engine.register_fn(
        "traffic",
        move |ctx: NativeCallContext, name: &str, opts: Map| -> ScriptResult<()> {
            let block = traffic(&ctx, name, opts)?;
            let mut draft = d.lock().expect("draft lock");
            if draft.traffic.iter().any(|t| t.name == block.name) {
                return Err(error_at(
                    &ctx,
                    format!("traffic {name:?} is declared twice"),
                ));
            }
            draft.traffic.push(block);
            Ok(())
        },
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficOptions {
    /// The component requests enter through; the first proxy if absent.
    to: Option<String>,
    requests: Option<u64>,
    concurrency: Option<u64>,
    method: Option<String>,
    path: String,
    headers: Option<BTreeMap<String, String>>,
    body: Option<String>,
    #[serde(default, with = "duration_text")]
    timeout: Option<Duration>,
}

fn traffic(ctx: &NativeCallContext, name: &str, opts: Map) -> ScriptResult<Traffic> {
    let what = format!("traffic({name:?})");
    let options: TrafficOptions = parse_options(ctx, &what, opts)?;
    let requests = options.requests.unwrap_or(1);
    if requests == 0 {
        return Err(error_at(
            ctx,
            format!("{what}: requests must be at least 1"),
        ));
    }
    let concurrency = options.concurrency.unwrap_or(1);
    if concurrency == 0 || concurrency > 10_000 {
        return Err(error_at(
            ctx,
            format!("{what}: concurrency must be between 1 and 10000"),
        ));
    }
    if !options.path.starts_with('/') {
        return Err(error_at(ctx, format!("{what}: path must start with '/'")));
    }
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
    Ok(Traffic {
        name: name.to_string(),
        target: options.to.unwrap_or_default(),
        requests,
        concurrency: concurrency as usize,
        method,
        path: options.path,
        headers: options.headers.unwrap_or_default().into_iter().collect(),
        body: options.body.unwrap_or_default(),
        timeout: options.timeout.unwrap_or(DEFAULT_TIMEOUT),
        origin: origin(ctx),
    })
}
