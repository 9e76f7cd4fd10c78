//! Faults: latency distributions (`uniform`, `normal`) and the `latency:` /
//! `fail:` options a route takes.
//!
//! ```rhai
//! route("/pay", #{ latency: normal("20ms", "5ms"), fail: #{ status: 503, probability: 0.1 } })
//! ```

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::options::{ScriptResult, duration_arg, error_at, number, parse_options, probability};
use crate::scenario::model::{Abort, Faults, Latency};

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Latency>("Latency");
    engine.register_fn("to_string", |l: &mut Latency| l.to_string());
    engine.register_fn("to_debug", |l: &mut Latency| l.to_string());
    engine.register_fn(
        "uniform",
        |ctx: NativeCallContext, low: &str, high: &str| -> ScriptResult<Latency> {
            let what = format!("uniform({low:?}, {high:?})");
            let (low, high) = (
                duration_arg(&ctx, &what, low)?,
                duration_arg(&ctx, &what, high)?,
            );
            if low > high {
                return Err(error_at(
                    &ctx,
                    format!("{what}: the low end is above the high end"),
                ));
            }
            Ok(Latency::Uniform { low, high })
        },
    );
    engine.register_fn(
        "normal",
        |ctx: NativeCallContext, mean: &str, std_dev: &str| -> ScriptResult<Latency> {
            let what = format!("normal({mean:?}, {std_dev:?})");
            Ok(Latency::Normal {
                mean: duration_arg(&ctx, &what, mean)?,
                std_dev: duration_arg(&ctx, &what, std_dev)?,
            })
        },
    );
}

/// Take `latency` and `fail` out of a route's options.
pub fn take_faults(ctx: &NativeCallContext, what: &str, opts: &mut Map) -> ScriptResult<Faults> {
    let latency = opts
        .remove("latency")
        .map(|value| latency(ctx, what, value))
        .transpose()?;
    let abort = match opts.remove("fail") {
        None => None,
        Some(value) => {
            let Some(map) = value.clone().try_cast::<Map>() else {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: `fail` is a map such as #{{ status: 503, probability: 0.1 }}, found {}",
                        value.type_name()
                    ),
                ));
            };
            Some(fail(ctx, what, map)?)
        }
    };
    Ok(Faults { latency, abort })
}

/// `"10ms"` (fixed), `uniform(...)` or `normal(...)`.
fn latency(ctx: &NativeCallContext, what: &str, value: Dynamic) -> ScriptResult<Latency> {
    if value.is_string() {
        let text = value.into_string().expect("checked is_string");
        return Ok(Latency::Fixed(duration_arg(
            ctx,
            &format!("{what}: latency"),
            &text,
        )?));
    }
    let type_name = value.type_name();
    value.try_cast::<Latency>().ok_or_else(|| {
        error_at(
            ctx,
            format!(
                "{what}: latency is a duration (\"10ms\"), uniform(\"5ms\", \"20ms\") or normal(\"10ms\", \"2ms\"), found {type_name}"
            ),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FailOptions {
    status: Option<u16>,
    #[serde(default, with = "number")]
    probability: Option<f64>,
}

fn fail(ctx: &NativeCallContext, what: &str, map: Map) -> ScriptResult<Abort> {
    let what = format!("{what}: fail");
    let options: FailOptions = parse_options(ctx, &what, map)?;
    let status = options.status.unwrap_or(500);
    super::routes::check_status(ctx, &what, status)?;
    let probability = probability(
        ctx,
        &format!("{what}: probability"),
        options.probability.unwrap_or(1.0),
    )?;
    Ok(Abort {
        status,
        probability,
    })
}
