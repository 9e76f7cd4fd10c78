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
/// misspelled key is an error naming the keys that exist. A value of the
/// wrong type is an error naming its key.
pub fn parse_options<T: DeserializeOwned>(
    ctx: &NativeCallContext,
    what: &str,
    map: Map,
) -> ScriptResult<T> {
    let value = Dynamic::from_map(map);
    serde_path_to_error::deserialize(rhai::serde::DynamicDeserializer::new(&value)).map_err(|e| {
        let key = e.path().to_string();
        let detail = option_error_text(*e.into_inner());
        // serde's "unknown field `bdy`" names the key itself.
        let message = if key.is_empty() || key == "." || detail.starts_with("unknown field") {
            format!("{what}: {detail}")
        } else {
            format!("{what}: {key}: {detail}")
        };
        error_at(ctx, message)
    })
}

/// Rhai's wording for a deserialisation error, in a script author's words.
fn option_error_text(mut err: EvalAltResult) -> String {
    if let EvalAltResult::ErrorMismatchOutputType(wanted, found, _) = &err {
        return format!(
            "expected {}, found {}",
            type_words(wanted),
            type_words(found)
        );
    }
    err.clear_position();
    let text = err.to_string();
    let mut text = text.trim();
    for prefix in ["Runtime error: ", "Syntax error: "] {
        text = text.trim_start_matches(prefix);
    }
    // serde's "invalid value: integer `-5`, expected u64"
    match text.rsplit_once(", expected ") {
        Some((head, wanted)) if !wanted.contains(' ') => {
            format!("{head}, expected {}", type_words(wanted))
        }
        _ => text.to_string(),
    }
}

/// A Rust or Rhai type name as a script author knows the values.
fn type_words(name: &str) -> String {
    let words = match name {
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" => "a whole number from 0 to 4294967295",
        "u64" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "string" | "&str" | "String" | "ImmutableString" | "char" => "a string",
        "bool" => "true or false",
        "map" => "a map #{ ... }",
        "array" => "an array [ ... ]",
        "()" => "nothing (())",
        other if other.contains("Map<") => "a map #{ ... }",
        other if other.contains("Vec<") => "an array [ ... ]",
        other => return other.to_string(),
    };
    words.to_string()
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
            format!("{what} must be from 0 to 1 (0.25 is 25%), not {value}"),
        ))
    }
}

/// serde helper: a duration written as text, e.g. `"150ms"`, `"2s"`.
pub mod duration_text {
    use serde::Deserializer;
    use serde::de::{self, Visitor};
    use std::fmt;
    use std::time::Duration;

    struct Text;

    impl<'de> Visitor<'de> for Text {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration such as \"150ms\" or \"2s\"")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            super::parse_duration(text).map(Some).map_err(E::custom)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        d.deserialize_any(Text)
    }
}

/// serde helper: a number that may be written as an integer (`1`) or a
/// float (`0.5`), as Rhai keeps the two apart.
pub mod number {
    use serde::Deserializer;
    use serde::de::{self, Visitor};
    use std::fmt;

    struct Number;

    impl<'de> Visitor<'de> for Number {
        type Value = Option<f64>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number such as 1 or 0.5")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_any(Number)
    }
}

/// An HTTP method, `GET` when absent, upper-cased (see
/// [`super::http_values::method`]).
pub fn http_method(
    ctx: &NativeCallContext,
    what: &str,
    method: Option<String>,
) -> ScriptResult<String> {
    super::http_values::method(method).map_err(|e| error_at(ctx, format!("{what}: {e}")))
}

/// A duration option that must be above zero when given.
pub fn above_zero(
    ctx: &NativeCallContext,
    what: &str,
    name: &str,
    value: Option<Duration>,
) -> ScriptResult<()> {
    if value == Some(Duration::ZERO) {
        return Err(error_at(ctx, format!("{what}: {name} must be above zero")));
    }
    Ok(())
}
