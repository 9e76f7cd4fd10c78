//! Helpers every script function uses: typed options from a Rhai map
//! (misspelled keys are errors), lists of declared values, and errors that
//! carry the call's position.

use rhai::{Array, Dynamic, EvalAltResult, Map, NativeCallContext, Position};
use serde::de::DeserializeOwned;

use crate::scenario::model::Origin;

pub type ScriptResult<T> = Result<T, Box<EvalAltResult>>;

pub fn origin(ctx: &NativeCallContext) -> Origin {
    position_origin(ctx.call_position())
}

pub fn position_origin(pos: Position) -> Origin {
    Origin {
        line: pos.line().unwrap_or(0),
        column: pos.position().unwrap_or(0),
    }
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

/// Rhai prefixes serde messages with "Error in data" wording; keep the gist.
fn tidy_serde_message(message: &str) -> String {
    message
        .trim_start_matches("Runtime error: ")
        .trim()
        .to_string()
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

/// serde helper: a duration written as text, e.g. `"150ms"`, `"2s"`.
pub mod duration_text {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| {
            humantime::parse_duration(&t).map_err(|e| {
                serde::de::Error::custom(format!(
                    "{t:?} is not a duration ({e}); write e.g. \"150ms\" or \"2s\""
                ))
            })
        })
        .transpose()
    }
}
