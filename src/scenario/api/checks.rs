//! Expectations beyond tree shapes: `expect_spans` (span counts),
//! `expect_broken` (propagation must break), `expect_duration` (trace and
//! span duration bounds, percentiles) and `integrity` (switch built-in
//! checks off).
//!
//! ```rhai
//! expect_spans("t", span("db", "*", #{ kind: "server" }), #{ count: 3 });
//! expect_duration("t", #{ p99: lt("50ms"), each: lt("1s") });
//! integrity("t", #{ time_window: false });
//! ```

use rhai::{Dynamic, Engine, Map, NativeCallContext};
use serde::Deserialize;

use super::expect::quantifier;
use super::options::{ScriptResult, error_at, origin, parse_options};
use super::predicates::duration_tests;
use super::select;
use super::{IntegrityOverride, SharedDraft};
use crate::scenario::model::{
    Check, Count, CountScope, DurationBound, Expectation, Measured, Quantifier, Statistic, counted,
};

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    // A span(...) or a structural selector.
    let d = draft.clone();
    engine.register_fn(
        "expect_spans",
        move |ctx: NativeCallContext, traffic: &str, selector: Dynamic| {
            let e = expect_spans(&ctx, traffic, selector, Map::new())?;
            push(&d, e)
        },
    );
    let d = draft.clone();
    engine.register_fn(
        "expect_spans",
        move |ctx: NativeCallContext, traffic: &str, selector: Dynamic, opts: Map| {
            let e = expect_spans(&ctx, traffic, selector, opts)?;
            push(&d, e)
        },
    );
    let d = draft.clone();
    engine.register_fn(
        "expect_broken",
        move |ctx: NativeCallContext, traffic: &str| {
            let e = expect_broken(&ctx, traffic, Map::new())?;
            push(&d, e)
        },
    );
    let d = draft.clone();
    engine.register_fn(
        "expect_broken",
        move |ctx: NativeCallContext, traffic: &str, opts: Map| {
            let e = expect_broken(&ctx, traffic, opts)?;
            push(&d, e)
        },
    );
    let d = draft.clone();
    engine.register_fn(
        "expect_duration",
        move |ctx: NativeCallContext, traffic: &str, opts: Map| {
            let e = expect_duration(&ctx, traffic, opts)?;
            push(&d, e)
        },
    );
    let d = draft.clone();
    engine.register_fn(
        "integrity",
        move |ctx: NativeCallContext, opts: Map| -> ScriptResult<()> {
            let o = integrity(&ctx, None, opts)?;
            d.lock().expect("draft lock").integrity.push(o);
            Ok(())
        },
    );
    let d = draft.clone();
    engine.register_fn(
        "integrity",
        move |ctx: NativeCallContext, traffic: &str, opts: Map| -> ScriptResult<()> {
            let o = integrity(&ctx, Some(traffic), opts)?;
            d.lock().expect("draft lock").integrity.push(o);
            Ok(())
        },
    );
}

fn push(draft: &SharedDraft, expectation: Expectation) -> ScriptResult<()> {
    draft
        .lock()
        .expect("draft lock")
        .expectations
        .push(expectation);
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpanCountOptions {
    count: Option<u64>,
    at_least: Option<u64>,
    at_most: Option<u64>,
    /// "trace" (default) or "traffic".
    per: Option<String>,
    name: Option<String>,
}

fn expect_spans(
    ctx: &NativeCallContext,
    traffic: &str,
    selector: Dynamic,
    opts: Map,
) -> ScriptResult<Expectation> {
    let what = format!("expect_spans({traffic:?})");
    let selector = select::selector(ctx, &what, selector)?;
    let what = format!("expect_spans({traffic:?}, {})", selector.describe());
    let options: SpanCountOptions = parse_options(ctx, &what, opts)?;
    if options.at_least == Some(0) {
        return Err(error_at(
            ctx,
            format!("{what}: at_least: 0 always holds, so it checks nothing; give 1 or more"),
        ));
    }
    let count = match (options.count, options.at_least, options.at_most) {
        (None, None, None) => Count::AtLeast(1),
        (Some(n), None, None) => Count::Exactly(n),
        (None, Some(n), None) => Count::AtLeast(n),
        (None, None, Some(n)) => Count::AtMost(n),
        _ => {
            return Err(error_at(
                ctx,
                format!("{what}: give one of count, at_least, at_most"),
            ));
        }
    };
    let scope = match options.per.as_deref() {
        None | Some("trace") => CountScope::EachTrace,
        Some("traffic") => CountScope::Traffic,
        Some(other) => {
            return Err(error_at(
                ctx,
                format!(
                    "{what}: per is \"trace\" (each trace) or \"traffic\" (all traces of the block), not {other:?}"
                ),
            ));
        }
    };
    let name = options.name.unwrap_or_else(|| match scope {
        CountScope::EachTrace => format!(
            "every trace of {traffic:?} has {} {}",
            count.of("span"),
            selector.describe()
        ),
        CountScope::Traffic => format!(
            "the traces of {traffic:?} have {} {} in all",
            count.of("span"),
            selector.describe()
        ),
    });
    Ok(Expectation {
        name,
        traffic: traffic.to_string(),
        check: Check::SpanCount {
            selector,
            count,
            scope,
        },
        origin: origin(ctx),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BrokenOptions {
    quantifier: Option<String>,
    exactly: Option<u64>,
    at_least: Option<u64>,
    name: Option<String>,
}

fn expect_broken(ctx: &NativeCallContext, traffic: &str, opts: Map) -> ScriptResult<Expectation> {
    let what = format!("expect_broken({traffic:?})");
    let options: BrokenOptions = parse_options(ctx, &what, opts)?;
    let quantifier = quantifier(
        ctx,
        &what,
        options.quantifier.as_deref(),
        options.exactly,
        options.at_least,
    )?;
    let name = options.name.unwrap_or_else(|| {
        let who = match quantifier {
            Quantifier::All => "every request".to_string(),
            Quantifier::Any => "at least one request".to_string(),
            Quantifier::None => "no request".to_string(),
            Quantifier::Exactly(n) => format!("exactly {}", counted(n, "request")),
            Quantifier::AtLeast(n) => format!("at least {}", counted(n, "request")),
        };
        format!("{who} of {traffic:?} breaks into several traces (propagation broken)")
    });
    Ok(Expectation {
        name,
        traffic: traffic.to_string(),
        check: Check::BrokenPropagation { quantifier },
        origin: origin(ctx),
    })
}

const DURATION_KEYS: &str = "each, min, max, mean, pNN (p50, p90, p99, p99.9, ...), spans, name";

fn expect_duration(ctx: &NativeCallContext, traffic: &str, opts: Map) -> ScriptResult<Expectation> {
    let what = format!("expect_duration({traffic:?})");
    let mut measured = Measured::Traces;
    let mut name = None;
    let mut bounds = Vec::new();
    for (key, value) in opts {
        match key.as_str() {
            "name" => {
                name =
                    Some(value.into_string().map_err(|t| {
                        error_at(ctx, format!("{what}: name is a string, found {t}"))
                    })?);
            }
            "spans" => {
                measured =
                    Measured::Spans(select::selector(ctx, &format!("{what}: spans"), value)?);
            }
            other => {
                let statistic = statistic(other).ok_or_else(|| {
                    error_at(
                        ctx,
                        format!("{what}: unknown key `{other}`; expected one of {DURATION_KEYS}"),
                    )
                })?;
                for test in duration_tests(ctx, &format!("{what}: {other}"), value)? {
                    bounds.push(DurationBound { statistic, test });
                }
            }
        }
    }
    if bounds.is_empty() {
        return Err(error_at(
            ctx,
            format!("{what}: give at least one bound, e.g. #{{ p99: lt(\"50ms\") }}"),
        ));
    }
    let name = name.unwrap_or_else(|| {
        let of = match &measured {
            Measured::Traces => "trace duration".to_string(),
            Measured::Spans(s) => format!("duration of spans {}", s.describe()),
        };
        let list = bounds
            .iter()
            .map(|b| format!("{} {}", b.statistic, b.test))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{of} of {traffic:?}: {list}")
    });
    Ok(Expectation {
        name,
        traffic: traffic.to_string(),
        check: Check::Duration { measured, bounds },
        origin: origin(ctx),
    })
}

/// `each`, `min`, `max`, `mean`, `p50`, `p99.9`, ...
fn statistic(key: &str) -> Option<Statistic> {
    Some(match key {
        "each" => Statistic::Each,
        "min" => Statistic::Min,
        "max" => Statistic::Max,
        "mean" => Statistic::Mean,
        _ => {
            let pct: f64 = key.strip_prefix('p')?.parse().ok()?;
            if !(pct > 0.0 && pct <= 100.0) {
                return None;
            }
            Statistic::Percentile(pct)
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntegrityOptions {
    propagation: Option<bool>,
    complete: Option<bool>,
    single_root: Option<bool>,
    orphans: Option<bool>,
    unique_span_ids: Option<bool>,
    time_window: Option<bool>,
    reported: Option<bool>,
    responses: Option<bool>,
    judged: Option<bool>,
}

fn integrity(
    ctx: &NativeCallContext,
    traffic: Option<&str>,
    opts: Map,
) -> ScriptResult<IntegrityOverride> {
    let what = match traffic {
        Some(t) => format!("integrity({t:?})"),
        None => "integrity(...)".to_string(),
    };
    if opts.is_empty() {
        return Err(error_at(
            ctx,
            format!(
                "{what}: name the checks to switch, e.g. #{{ time_window: false }}; an empty map changes nothing"
            ),
        ));
    }
    let o: IntegrityOptions = parse_options(ctx, &what, opts)?;
    Ok(IntegrityOverride {
        traffic: traffic.map(str::to_string),
        propagation: o.propagation,
        complete: o.complete,
        single_root: o.single_root,
        orphans: o.orphans,
        unique_span_ids: o.unique_span_ids,
        time_window: o.time_window,
        reported: o.reported,
        responses: o.responses,
        judged: o.judged,
        origin: origin(ctx),
    })
}
