//! `process(name, #{ cmd: [...], ... })`: a real program as a component.
//!
//! ```rhai
//! process("inventory", #{ cmd: ["python3", "apps/inventory.py"], env: #{ STOCK: "7" } });
//! ```
//!
//! The program runs in the scenario's folder; what tracelab passes it
//! (`PORT`, `OTEL_*`, `TRACELAB_URL_<NAME>`) is in `mesh::process`.

use std::collections::BTreeMap;
use std::time::Duration;

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::SharedDraft;
use super::options::{
    ScriptResult, above_zero, duration_text, error_at, number, origin, parse_options,
};
use super::topology::{check_name, declare, port, propagation, sampling};
use crate::scenario::model::{Component, Program, Propagation, Role};

const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    let d = draft.clone();
    engine.register_fn(
        "process",
        move |ctx: NativeCallContext, name: &str, opts: Map| -> ScriptResult<()> {
            let component = process(&ctx, name, opts)?;
            declare(&ctx, &d, component)
        },
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessOptions {
    cmd: Vec<String>,
    env: Option<BTreeMap<String, String>>,
    port: Option<u16>,
    propagation: Option<Dynamic>,
    #[serde(default, with = "number")]
    sampling: Option<f64>,
    #[serde(default, with = "duration_text")]
    ready_timeout: Option<Duration>,
    #[serde(default, with = "duration_text")]
    stop_timeout: Option<Duration>,
}

fn process(ctx: &NativeCallContext, name: &str, opts: Map) -> ScriptResult<Component> {
    let what = format!("process({name:?})");
    check_name(ctx, &what, name)?;
    let options: ProcessOptions = parse_options(ctx, &what, opts)?;
    if options.cmd.first().is_none_or(|c| c.trim().is_empty()) {
        return Err(error_at(
            ctx,
            format!(
                "{what}: cmd names the program and its arguments, e.g. [\"python3\", \"app.py\"]"
            ),
        ));
    }
    let env: Vec<(String, String)> = options.env.unwrap_or_default().into_iter().collect();
    if let Some((key, _)) = env
        .iter()
        .find(|(k, _)| k.is_empty() || k.contains('=') || k.contains('\0'))
    {
        return Err(error_at(
            ctx,
            format!("{what}: {key:?} is not an environment variable name"),
        ));
    }
    if let Some((key, _)) = env.iter().find(|(_, v)| v.contains('\0')) {
        return Err(error_at(
            ctx,
            format!(
                "{what}: the value of {key:?} holds a NUL byte, which no environment can carry"
            ),
        ));
    }
    above_zero(ctx, &what, "ready_timeout", options.ready_timeout)?;
    above_zero(ctx, &what, "stop_timeout", options.stop_timeout)?;
    let propagation = match options.propagation {
        None => Propagation::default(),
        Some(value) => propagation(ctx, &what, value)?,
    };
    Ok(Component {
        name: name.to_string(),
        role: Role::Process,
        port: port(ctx, &what, options.port)?,
        propagation,
        routes: Vec::new(),
        sampling: sampling(ctx, &what, options.sampling)?,
        program: Some(Program {
            command: options.cmd,
            env,
            // Filled in once the scenario's path is known.
            dir: Default::default(),
            ready_timeout: options.ready_timeout.unwrap_or(DEFAULT_READY_TIMEOUT),
            stop_timeout: options.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
        }),
        origin: origin(ctx),
    })
}
