//! Tree patterns: `span(...)` builds one, `expect_traces` judges the traces
//! of a traffic block against it. (Other expectations are in `checks`.)
//!
//! ```rhai
//! expect_traces("sandbox",
//!     span("front-proxy", "checkAvailability", #{ kind: "client" }, [
//!         span("service1", "checkAvailability", #{ kind: "server" }),
//!     ]));
//! ```

use rhai::{Array, Engine, FnPtr, Map, NativeCallContext};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::SharedDraft;
use super::closures::{Takes, closure};
use super::options::{ScriptResult, error_at, list_of, origin, parse_options};
use super::predicates::{duration_tests, tag_predicates};
use crate::scenario::model::{
    Check, Expectation, MatchMode, Quantifier, SpanKindPattern, SpanPattern,
};

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    engine.register_type_with_name::<SpanPattern>("SpanPattern");
    engine.register_fn("to_string", |p: &mut SpanPattern| p.describe());
    engine.register_fn("to_debug", |p: &mut SpanPattern| p.describe());

    engine.register_fn("span", |ctx: NativeCallContext, service: &str, op: &str| {
        span(&ctx, None, service, op, Map::new(), Array::new())
    });
    let d = draft.clone();
    engine.register_fn(
        "span",
        move |ctx: NativeCallContext, service: &str, op: &str, opts: Map| {
            span(&ctx, Some(&d), service, op, opts, Array::new())
        },
    );
    engine.register_fn(
        "span",
        |ctx: NativeCallContext, service: &str, op: &str, children: Array| {
            span(&ctx, None, service, op, Map::new(), children)
        },
    );
    let d = draft.clone();
    engine.register_fn(
        "span",
        move |ctx: NativeCallContext, service: &str, op: &str, opts: Map, children: Array| {
            span(&ctx, Some(&d), service, op, opts, children)
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
    // Taken out before parsing (they hold predicates); listed so a
    // misspelling names them.
    #[serde(default, rename = "tags")]
    _tags: Option<IgnoredAny>,
    #[serde(default, rename = "duration")]
    _duration: Option<IgnoredAny>,
    #[serde(default, rename = "where")]
    _where: Option<IgnoredAny>,
}

/// A span pattern; `draft` (where closures find their engine) is given
/// with an options map, the only place closures can be.
fn span(
    ctx: &NativeCallContext,
    draft: Option<&SharedDraft>,
    service: &str,
    operation: &str,
    mut opts: Map,
    children: Array,
) -> ScriptResult<SpanPattern> {
    let what = format!("span({service:?}, {operation:?})");
    let runtime = || {
        let draft = draft.expect("span(...) with options has the draft");
        draft.lock().expect("draft lock").closure_runtime()
    };
    let tags = match opts.remove("tags") {
        None => Vec::new(),
        Some(value) => {
            let type_name = value.type_name();
            let Some(map) = value.try_cast::<Map>() else {
                return Err(error_at(
                    ctx,
                    format!("{what}: tags is a map of tag → value or predicate, found {type_name}"),
                ));
            };
            tag_predicates(ctx, &what, map, &runtime)?
        }
    };
    let checks = match opts.remove("where") {
        None => Vec::new(),
        Some(value) => {
            let type_name = value.type_name();
            let Some(fn_ptr) = value.try_cast::<FnPtr>() else {
                return Err(error_at(
                    ctx,
                    format!("{what}: where is a closure, |span| ..., found {type_name}"),
                ));
            };
            let where_ = format!("{what}: where");
            vec![closure(ctx, &runtime(), &where_, Takes::Span, fn_ptr)?]
        }
    };
    let duration = match opts.remove("duration") {
        None => Vec::new(),
        Some(value) => duration_tests(ctx, &format!("{what}: duration"), value)?,
    };
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
    let children =
        list_of::<SpanPattern>(ctx, children, &format!("{what}: children"), "span(...)")?;
    let wildcard = |s: &str| (s != "*").then(|| s.to_string());
    Ok(SpanPattern {
        service: wildcard(service),
        operation: wildcard(operation),
        kind,
        error: options.error,
        tags,
        duration,
        checks,
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
    let quantifier = quantifier(
        ctx,
        &what,
        options.quantifier.as_deref(),
        options.exactly,
        options.at_least,
    )?;
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

/// `quantifier: "all" | "any" | "none"`, `exactly: N` or `at_least: N`
/// (one of them; `all` when none is given).
pub fn quantifier(
    ctx: &NativeCallContext,
    what: &str,
    word: Option<&str>,
    exactly: Option<u64>,
    at_least: Option<u64>,
) -> ScriptResult<Quantifier> {
    if at_least == Some(0) {
        return Err(error_at(
            ctx,
            format!("{what}: at_least: 0 always holds, so it checks nothing; give 1 or more"),
        ));
    }
    let given = [word.is_some(), exactly.is_some(), at_least.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(error_at(
            ctx,
            format!("{what}: give one of quantifier, exactly, at_least"),
        ));
    }
    Ok(match (word, exactly, at_least) {
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
    })
}
