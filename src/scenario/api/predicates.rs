//! Predicates: `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `contains`, `matches`,
//! `exists`, `absent`. They are values a span's `tags` map (and duration
//! bounds) hold where a plain value would mean "equals".
//!
//! ```rhai
//! span("api", "*", #{ tags: #{ "http.status_code": lt(500), "user_agent": contains("curl") },
//!                     duration: lt("50ms") })
//! ```

use std::fmt;
use std::time::Duration;

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::closures::{ClosureRuntime, Takes, closure};
use super::options::{ScriptResult, error_at, parse_duration};
use crate::scenario::model::{
    CompareOp, DurationTest, TagOp, TagPredicate, TagRegex, format_duration,
};

/// A predicate as a script holds it, before it is applied to a tag or a
/// duration.
#[derive(Debug, Clone)]
pub enum Predicate {
    Eq(String),
    Ne(String),
    Compare(CompareOp, Operand),
    Contains(String),
    Matches(TagRegex),
    Exists,
    Absent,
}

#[derive(Debug, Clone, Copy)]
pub enum Operand {
    Number(f64),
    Duration(Duration),
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Predicate::Eq(v) => write!(f, "eq({v:?})"),
            Predicate::Ne(v) => write!(f, "ne({v:?})"),
            Predicate::Compare(op, operand) => {
                let name = match op {
                    CompareOp::Lt => "lt",
                    CompareOp::Le => "le",
                    CompareOp::Gt => "gt",
                    CompareOp::Ge => "ge",
                };
                match operand {
                    Operand::Number(n) => write!(f, "{name}({n})"),
                    Operand::Duration(d) => write!(f, "{name}({:?})", format_duration(*d)),
                }
            }
            Predicate::Contains(v) => write!(f, "contains({v:?})"),
            Predicate::Matches(re) => write!(f, "matches({:?})", re.0.as_str()),
            Predicate::Exists => f.write_str("exists()"),
            Predicate::Absent => f.write_str("absent()"),
        }
    }
}

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Predicate>("Predicate");
    // `print(lt(5))` shows "lt(5)", not the type name.
    engine.register_fn("to_string", |p: &mut Predicate| p.to_string());
    engine.register_fn("to_debug", |p: &mut Predicate| p.to_string());
    engine.register_fn("eq", |ctx: NativeCallContext, v: Dynamic| {
        scalar_text(&ctx, "eq", v).map(Predicate::Eq)
    });
    engine.register_fn("ne", |ctx: NativeCallContext, v: Dynamic| {
        scalar_text(&ctx, "ne", v).map(Predicate::Ne)
    });
    for (name, op) in [
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
        ("gt", CompareOp::Gt),
        ("ge", CompareOp::Ge),
    ] {
        engine.register_fn(name, move |ctx: NativeCallContext, v: Dynamic| {
            operand(&ctx, name, v).map(|o| Predicate::Compare(op, o))
        });
    }
    engine.register_fn("contains", |text: &str| {
        Predicate::Contains(text.to_string())
    });
    engine.register_fn(
        "matches",
        |ctx: NativeCallContext, pattern: &str| -> ScriptResult<Predicate> {
            regex::Regex::new(pattern)
                .map(|re| Predicate::Matches(TagRegex(re)))
                .map_err(|e| {
                    error_at(
                        &ctx,
                        format!(
                            "matches({pattern:?}): not a regular expression: {}",
                            regex_problem(&e)
                        ),
                    )
                })
        },
    );
    engine.register_fn("exists", || Predicate::Exists);
    engine.register_fn("absent", || Predicate::Absent);
}

/// The gist of a regex error on one line: the regex crate draws the
/// pattern with a caret over several lines, ending in "error: <what>".
fn regex_problem(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .unwrap_or(text.trim())
        .to_string()
}

/// A string, number or bool as the text Jaeger shows for a tag.
fn scalar_text(ctx: &NativeCallContext, what: &str, value: Dynamic) -> ScriptResult<String> {
    if value.is_string() || value.is_int() || value.is_bool() || value.is_float() {
        Ok(value.to_string())
    } else {
        Err(error_at(
            ctx,
            format!(
                "{what}(...) compares with a string, number or bool, found {}",
                value.type_name()
            ),
        ))
    }
}

/// A number (`lt(500)`) or a duration (`lt("50ms")`).
fn operand(ctx: &NativeCallContext, what: &str, value: Dynamic) -> ScriptResult<Operand> {
    if let Some(i) = value.clone().try_cast::<rhai::INT>() {
        return Ok(Operand::Number(i as f64));
    }
    if let Some(f) = value.clone().try_cast::<rhai::FLOAT>() {
        return Ok(Operand::Number(f));
    }
    if value.is_string() {
        let text = value.into_string().expect("checked is_string");
        return parse_duration(&text)
            .map(Operand::Duration)
            .map_err(|e| error_at(ctx, format!("{what}({text:?}): {e}")));
    }
    Err(error_at(
        ctx,
        format!(
            "{what}(...) takes a number (lt(500)) or a duration (lt(\"50ms\")), found {}",
            value.type_name()
        ),
    ))
}

/// A span's `tags` map: each value a plain value (equality), a predicate,
/// or an array of predicates that must all hold.
pub fn tag_predicates(
    ctx: &NativeCallContext,
    what: &str,
    tags: Map,
    runtime: &dyn Fn() -> Arc<ClosureRuntime>,
) -> ScriptResult<Vec<TagPredicate>> {
    let mut out = Vec::new();
    for (key, value) in tags {
        let key = key.to_string();
        if key.is_empty() {
            return Err(error_at(ctx, format!("{what}: a tag name is never empty")));
        }
        let values = match value.clone().try_cast::<Array>() {
            Some(array) => array,
            None => vec![value],
        };
        if values.is_empty() {
            return Err(error_at(
                ctx,
                format!(
                    "{what}: tag {key:?}: an empty list of predicates checks nothing; give at least one (exists() if the tag must only be there)"
                ),
            ));
        }
        for value in values {
            let what = format!("{what}: tag {key:?}");
            let op = match value.clone().try_cast::<FnPtr>() {
                Some(fn_ptr) => {
                    TagOp::Satisfies(closure(ctx, &runtime(), &what, Takes::Tag, fn_ptr)?)
                }
                None => tag_op(ctx, &what, value)?,
            };
            out.push(TagPredicate {
                key: key.clone(),
                op,
            });
        }
    }
    Ok(out)
}

fn tag_op(ctx: &NativeCallContext, what: &str, value: Dynamic) -> ScriptResult<TagOp> {
    if value.is::<Predicate>() {
        return Ok(match value.cast::<Predicate>() {
            Predicate::Eq(v) => TagOp::Equals(v),
            Predicate::Ne(v) => TagOp::NotEquals(v),
            Predicate::Compare(op, Operand::Number(n)) => TagOp::Compare(op, n),
            p @ Predicate::Compare(_, Operand::Duration(_)) => {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: {p} compares a duration; tags compare as numbers (lt(500)) — for a span's duration use the `duration` option"
                    ),
                ));
            }
            Predicate::Contains(v) => TagOp::Contains(v),
            Predicate::Matches(re) => TagOp::Matches(re),
            Predicate::Exists => TagOp::Exists,
            Predicate::Absent => TagOp::Absent,
        });
    }
    scalar_text(ctx, what, value).map(TagOp::Equals)
}

/// A duration bound, `lt("50ms")`, or an array of them that must all hold.
pub fn duration_tests(
    ctx: &NativeCallContext,
    what: &str,
    value: Dynamic,
) -> ScriptResult<Vec<DurationTest>> {
    let values = match value.clone().try_cast::<Array>() {
        Some(array) => array,
        None => vec![value],
    };
    if values.is_empty() {
        return Err(error_at(
            ctx,
            format!(
                "{what}: an empty list of bounds checks nothing; give at least one, e.g. lt(\"50ms\")"
            ),
        ));
    }
    values
        .into_iter()
        .map(|v| duration_test(ctx, what, v))
        .collect()
}

fn duration_test(
    ctx: &NativeCallContext,
    what: &str,
    value: Dynamic,
) -> ScriptResult<DurationTest> {
    let type_name = value.type_name();
    match value.try_cast::<Predicate>() {
        Some(Predicate::Compare(op, Operand::Duration(bound))) => Ok(DurationTest { op, bound }),
        Some(other) => Err(error_at(
            ctx,
            format!(
                "{what}: {other} is not a duration bound; write lt(\"50ms\"), le, gt or ge with a duration"
            ),
        )),
        None => Err(error_at(
            ctx,
            format!(
                "{what}: a duration bound is lt(\"50ms\"), le(...), gt(...) or ge(...), found {type_name}"
            ),
        )),
    }
}
