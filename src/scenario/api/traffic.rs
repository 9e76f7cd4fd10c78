//! Traffic: `traffic(name, #{ path, ... })`, closed model (`requests`,
//! `concurrency`) or open model (`rate` per second for a `duration`).
//!
//! ```rhai
//! traffic("sandbox", #{ requests: 10, path: "/trace/1" });
//! traffic("steady", #{ rate: 50, duration: "2s", path: "/trace/1" });
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use rhai::{Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::SharedDraft;
use super::http_values::{self, HeaderUse};
use super::options::{
    ScriptResult, above_zero, duration_text, error_at, http_method, number, origin, parse_options,
};
use crate::scenario::model::{IntegrityChecks, Traffic};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Keeps a typo (`rate: 50000, duration: "1h"`) from queueing forever.
const MAX_REQUESTS: u64 = 1_000_000;

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
    #[serde(default, with = "number")]
    rate: Option<f64>,
    #[serde(default, with = "duration_text")]
    duration: Option<Duration>,
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
    let (requests, concurrency, rate) = load(ctx, &what, &options)?;
    http_values::request_target(&options.path)
        .map_err(|e| error_at(ctx, format!("{what}: path {e}")))?;
    let method = http_method(ctx, &what, options.method.clone())?;
    let headers = http_values::headers(options.headers.unwrap_or_default(), HeaderUse::Request)
        .map_err(|e| error_at(ctx, format!("{what}: {e}")))?;
    above_zero(ctx, &what, "timeout", options.timeout)?;
    Ok(Traffic {
        name: name.to_string(),
        target: options.to.unwrap_or_default(),
        requests,
        concurrency,
        rate,
        method,
        path: options.path,
        headers,
        body: options.body.unwrap_or_default(),
        timeout: options.timeout.unwrap_or(DEFAULT_TIMEOUT),
        trace_context: None,
        integrity: IntegrityChecks::default(),
        origin: origin(ctx),
    })
}

/// (requests, concurrency, rate): closed model or open model, not both.
fn load(
    ctx: &NativeCallContext,
    what: &str,
    options: &TrafficOptions,
) -> ScriptResult<(u64, usize, Option<f64>)> {
    match (options.rate, options.duration) {
        (None, None) => {
            let requests = options.requests.unwrap_or(1);
            if requests == 0 || requests > MAX_REQUESTS {
                return Err(error_at(
                    ctx,
                    format!("{what}: requests must be between 1 and {MAX_REQUESTS}"),
                ));
            }
            let concurrency = options.concurrency.unwrap_or(1);
            if concurrency == 0 || concurrency > 10_000 {
                return Err(error_at(
                    ctx,
                    format!("{what}: concurrency must be between 1 and 10000"),
                ));
            }
            Ok((requests, concurrency as usize, None))
        }
        (Some(rate), Some(duration)) => {
            if options.requests.is_some() || options.concurrency.is_some() {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: give either requests/concurrency (closed model) or rate/duration (open model), not both"
                    ),
                ));
            }
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(error_at(
                    ctx,
                    format!("{what}: rate is requests per second, above 0"),
                ));
            }
            let requests = (rate * duration.as_secs_f64()).round();
            if requests < 1.0 || requests > MAX_REQUESTS as f64 {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: rate × duration must come to between 1 and {MAX_REQUESTS} requests, not {requests}"
                    ),
                ));
            }
            Ok((requests as u64, 1, Some(rate)))
        }
        (Some(_), None) => Err(error_at(
            ctx,
            format!("{what}: rate needs a duration, e.g. duration: \"2s\""),
        )),
        (None, Some(_)) => Err(error_at(
            ctx,
            format!("{what}: duration needs a rate (requests per second), e.g. rate: 50"),
        )),
    }
}
