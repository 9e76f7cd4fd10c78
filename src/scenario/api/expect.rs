//! Expectations: `span(...)` builds a tree pattern, `expect_traces` judges
//! the traces of a traffic block against it.
//!
//! ```rhai
//! expect_traces("sandbox",
//!     span("front-proxy", "checkAvailability", #{ kind: "client" }, [
//!         span("service1", "checkAvailability", #{ kind: "server" }),
//!     ]));
//! ```

use std::collections::BTreeMap;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::SharedDraft;
use super::options::{ScriptResult, error_at, list_of, origin, parse_options};
use crate::scenario::model::{
    Check, Expectation, MatchMode, Quantifier, SpanKindPattern, SpanPattern, TagOp, TagPredicate,
};

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    engine.register_type_with_name::<SpanPattern>("SpanPattern");

    engine.register_fn("span", |ctx: NativeCallContext, service: &str, op: &str| {
        span(&ctx, service, op, Map::new(), Array::new())
    });
    engine.register_fn(
        "span",
        |ctx: NativeCallContext, service: &str, op: &str, opts: Map| {
            span(&ctx, service, op, opts, Array::new())
        },
    );
    engine.register_fn(
        "span",
        |ctx: NativeCallContext, service: &str, op: &str, children: Array| {
            span(&ctx, service, op, Map::new(), children)
        },
    );
    engine.register_fn(
        "span",
        |ctx: NativeCallContext, service: &str, op: &str, opts: Map, children: Array| {
            span(&ctx, service, op, opts, children)
        },
    );

    let d = draft.clone();
    engine.register_fn(
        "expect_traces",
        move |ctx: NativeCallContext, traffic: &str, pattern: SpanPattern| -> ScriptResult<()> {
            let e = expect_traces(&ctx, traffic, pattern, Map::new())?;
            d.lock().expect("draft lock").expectations.push(e);
            Ok(())
        },
    );
    let d = draft.clone();
    engine.register_fn(
        "expect_traces",
        move |ctx: NativeCallContext,
              traffic: &str,
              pattern: SpanPattern,
              opts: Map|
              -> ScriptResult<()> {
            let e = expect_traces(&ctx, traffic, pattern, opts)?;
            d.lock().expect("draft lock").expectations.push(e);
            Ok(())
        },
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpanOptions {
    kind: Option<String>,
    error: Option<bool>,
    tags: Option<BTreeMap<String, Dynamic>>,
}

fn span(
    ctx: &NativeCallContext,
    service: &str,
    operation: &str,
    opts: Map,
    children: Array,
) -> ScriptResult<SpanPattern> {
    let what = format!("span({service:?}, {operation:?})");
    let options: SpanOptions = parse_options(ctx, &what, opts)?;
    let kind = options
        .kind
        .map(|k| {
            SpanKindPattern::parse(&k).ok_or_else(|| {
                error_at(
                    ctx,
                    format!("{what}: unknown kind {k:?}; expected client, server, internal, producer or consumer"),
                )
            })
        })
        .transpose()?;
    let tags = options
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| {
            let text = if value.is_string() || value.is_int() || value.is_bool() || value.is_float() {
                value.to_string()
            } else {
                return Err(error_at(
                    ctx,
                    format!("{what}: tag {key:?} must be compared with a string, number or bool, found {}", value.type_name()),
                ));
            };
            Ok(TagPredicate {
                key,
                op: TagOp::Equals(text),
            })
        })
        .collect::<ScriptResult<Vec<_>>>()?;
    let children =
        list_of::<SpanPattern>(ctx, children, &format!("{what}: children"), "span(...)")?;
    let wildcard = |s: &str| (s != "*").then(|| s.to_string());
    Ok(SpanPattern {
        service: wildcard(service),
        operation: wildcard(operation),
        kind,
        error: options.error,
        tags,
        children,
        origin: origin(ctx),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectOptions {
    name: Option<String>,
    /// "strict" (default) or "loose"; `match` is a Rhai keyword.
    mode: Option<String>,
    quantifier: Option<String>,
    exactly: Option<u64>,
    at_least: Option<u64>,
}

fn expect_traces(
    ctx: &NativeCallContext,
    traffic: &str,
    pattern: SpanPattern,
    opts: Map,
) -> ScriptResult<Expectation> {
    let what = format!("expect_traces({traffic:?})");
    let options: ExpectOptions = parse_options(ctx, &what, opts)?;
    let mode = match options.mode.as_deref() {
        None | Some("strict") => MatchMode::Strict,
        Some("loose") => MatchMode::Loose,
        Some(other) => {
            return Err(error_at(
                ctx,
                format!("{what}: mode is \"strict\" or \"loose\", not {other:?}"),
            ));
        }
    };
    let given = [
        options.quantifier.is_some(),
        options.exactly.is_some(),
        options.at_least.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(error_at(
            ctx,
            format!("{what}: give one of quantifier, exactly, at_least"),
        ));
    }
    let quantifier = match (
        options.quantifier.as_deref(),
        options.exactly,
        options.at_least,
    ) {
        (_, Some(n), _) => Quantifier::Exactly(n),
        (_, _, Some(n)) => Quantifier::AtLeast(n),
        (None | Some("all"), _, _) => Quantifier::All,
        (Some("any"), _, _) => Quantifier::Any,
        (Some("none"), _, _) => Quantifier::None,
        (Some(other), _, _) => {
            return Err(error_at(
                ctx,
                format!(
                    "{what}: quantifier is \"all\", \"any\" or \"none\" (or use exactly: / at_least:), not {other:?}"
                ),
            ));
        }
    };
    let mode_word = match mode {
        MatchMode::Strict => "is exactly",
        MatchMode::Loose => "contains",
    };
    let name = options.name.unwrap_or_else(|| {
        format!(
            "{quantifier} of {traffic:?} {mode_word} the tree rooted at {}",
            pattern.label()
        )
    });
    Ok(Expectation {
        name,
        traffic: traffic.to_string(),
        check: Check::TraceShape {
            quantifier,
            mode,
            pattern,
        },
        origin: origin(ctx),
    })
}
