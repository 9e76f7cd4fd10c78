//! Structural selectors: `child`, `descendant` and `sibling` pick spans by
//! where they stand relative to others, as TraceQL's `>`, `>>` and `~` do.
//! They chain left to right as method calls, like a TraceQL pipeline:
//!
//! ```rhai
//! // { front-proxy } >> { service2 checkStock }
//! expect_spans("t", span("front-proxy", "*").descendant(span("service2", "checkStock")), #{ count: 1 });
//! // { service1 } > { * } ~ { * }: children of service1 that have a sibling
//! expect_duration("t", #{ spans: span("service1", "*").child(span("*", "*")).sibling(span("*", "*")), max: lt("1s") });
//! ```
//!
//! (Rhai's own `>` and `>>` have different precedences, so `a > b >> c`
//! would not read left to right: the relations are functions.)

use rhai::{Dynamic, Engine, NativeCallContext};

use super::options::{ScriptResult, error_at};
use crate::scenario::model::{Relation, Selector, SpanPattern};

pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<Selector>("Selector");
    engine.register_fn("to_string", |s: &mut Selector| s.describe());
    engine.register_fn("to_debug", |s: &mut Selector| s.describe());
    for relation in [Relation::Child, Relation::Descendant, Relation::Sibling] {
        engine.register_fn(
            relation.function(),
            move |ctx: NativeCallContext, left: Dynamic, right: Dynamic| {
                related(&ctx, relation, left, right)
            },
        );
    }
}

fn related(
    ctx: &NativeCallContext,
    relation: Relation,
    left: Dynamic,
    right: Dynamic,
) -> ScriptResult<Selector> {
    let what = format!("{}(...)", relation.function());
    Ok(Selector::Related {
        left: Box::new(selector(ctx, &format!("{what}: its first selector"), left)?),
        relation,
        right: Box::new(selector(
            ctx,
            &format!("{what}: its second selector"),
            right,
        )?),
    })
}

/// A `span(...)` without children, or a structural selector.
pub fn selector(ctx: &NativeCallContext, what: &str, value: Dynamic) -> ScriptResult<Selector> {
    let type_name = value.type_name();
    if value.is::<Selector>() {
        return Ok(value.cast::<Selector>());
    }
    match value.try_cast::<SpanPattern>() {
        Some(pattern) => selector_only(ctx, what, pattern).map(Selector::Span),
        None => Err(error_at(
            ctx,
            format!(
                "{what}: a selector is span(...) or child/descendant/sibling(...) of them, found {type_name}"
            ),
        )),
    }
}

/// A selector picks single spans: a pattern without children.
pub fn selector_only(
    ctx: &NativeCallContext,
    what: &str,
    selector: SpanPattern,
) -> ScriptResult<SpanPattern> {
    if selector.children.is_empty() {
        Ok(selector)
    } else {
        Err(error_at(
            ctx,
            format!(
                "{what}: a selector matches single spans; drop its children (use expect_traces for trees, child/descendant/sibling for relations)"
            ),
        ))
    }
}
