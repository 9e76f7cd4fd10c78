//! Helpers every script function uses: typed options from a Rhai map
//! (misspelled keys are errors), lists of declared values, durations and
//! errors that carry the call's position (and module, when in one).

use std::sync::Arc;
use std::time::Duration;

use rhai::{Array, Dynamic, EvalAltResult, Map, NativeCallContext};
use serde::de::DeserializeOwned;

use crate::scenario::model::Origin;

pub type ScriptResult<T> = Result<T, Box<EvalAltResult>>;

/// Where the call being served is in the script: line, column and the
/// imported module it is in (`None` for the scenario file).
pub fn origin(ctx: &NativeCallContext) -> Origin {
    let pos = ctx.call_position();
    Origin {
        line: pos.line().unwrap_or(0),
        column: pos.position().unwrap_or(0),
        module: module_of(ctx),
    }
}

/// Module code runs with the module as its source; a module's function
/// called from the scenario runs with the module's library on top of the
/// namespace stack. The scenario itself has no source name.
fn module_of(ctx: &NativeCallContext) -> Option<Arc<str>> {
    ctx.call_source()
        .or_else(|| ctx.iter_namespaces().last().and_then(|m| m.id()))
        .map(Arc::from)
}

pub fn error_at(ctx: &NativeCallContext, message: impl Into<String>) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        message.into().into(),
        ctx.call_position(),
    ))
}

/// Deserialise a map into `T`; `T` should deny unknown fields, so that a
/// misspelled key is an error naming the keys that exist.
pub fn parse_options<T: DeserializeOwned>(
    ctx: &NativeCallContext,
    what: &str,
    map: Map,
) -> ScriptResult<T> {
    rhai::serde::from_dynamic::<T>(&Dynamic::from_map(map)).map_err(|mut e| {
        e.clear_position();
        let detail = e.to_string();
        error_at(ctx, format!("{what}: {}", tidy_serde_message(&detail)))
    })
}

/// Rhai wraps serde messages in its own error wording; keep the gist.
fn tidy_serde_message(message: &str) -> String {
    let mut text = message.trim();
    for prefix in ["Runtime error: ", "Syntax error: "] {
        text = text.trim_start_matches(prefix);
    }
    text.to_string()
}

/// Take `key` out of `map` as a list of values made by a script function
/// (`route(...)`, `span(...)`), so the rest can be deserialised.
pub fn take_list<T: Clone + 'static>(
    ctx: &NativeCallContext,
    map: &mut Map,
    key: &str,
    what: &str,
    made_by: &str,
) -> ScriptResult<Vec<T>> {
    match map.remove(key) {
        None => Ok(Vec::new()),
        Some(value) => {
            let Some(array) = value.clone().try_cast::<Array>() else {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: `{key}` must be an array of {made_by} values, found {}",
                        value.type_name()
                    ),
                ));
            };
            list_of(ctx, array, &format!("{what}: {key}"), made_by)
        }
    }
}

pub fn list_of<T: Clone + 'static>(
    ctx: &NativeCallContext,
    array: Array,
    what: &str,
    made_by: &str,
) -> ScriptResult<Vec<T>> {
    array
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let type_name = item.type_name();
            item.try_cast::<T>().ok_or_else(|| {
                error_at(
                    ctx,
                    format!("{what}[{i}] must be a {made_by} value, found {type_name}"),
                )
            })
        })
        .collect()
}

/// `"150ms"`, `"2s"`, `"1m 30s"`: a duration written as text.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration ({e}); write e.g. \"150ms\" or \"2s\""))
}

/// A duration option given as text, with the option named in the error.
pub fn duration_arg(ctx: &NativeCallContext, what: &str, text: &str) -> ScriptResult<Duration> {
    parse_duration(text).map_err(|e| error_at(ctx, format!("{what}: {e}")))
}

/// A probability option: a number from 0 to 1.
pub fn probability(ctx: &NativeCallContext, what: &str, value: f64) -> ScriptResult<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(error_at(
            ctx,
            format!("{what} is a probability from 0 to 1 (0.25 is 25%), not {value}"),
        ))
    }
}

/// serde helper: a duration written as text, e.g. `"150ms"`, `"2s"`.
pub mod duration_text {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| super::parse_duration(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// serde helper: a number that may be written as an integer (`1`) or a
/// float (`0.5`), as Rhai keeps the two apart.
pub mod number {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrFloat {
        Int(i64),
        Float(f64),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<IntOrFloat>::deserialize(d)?.map(|n| match n {
            IntOrFloat::Int(i) => i as f64,
            IntOrFloat::Float(f) => f,
        }))
    }
}

/// An HTTP method, `GET` when absent, upper-cased.
pub fn http_method(
    ctx: &NativeCallContext,
    what: &str,
    method: Option<String>,
) -> ScriptResult<String> {
    let method = method.unwrap_or_else(|| "GET".into()).to_ascii_uppercase();
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(error_at(
            ctx,
            format!("{what}: {method:?} is not an HTTP method"),
        ));
    }
    Ok(method)
}
