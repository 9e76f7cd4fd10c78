//! `expect_responses`: what a traffic block's requests must be answered,
//! as k6 users state it with expected statuses and thresholds.
//!
//! ```rhai
//! expect_responses("paying", #{ status: 503 });                   // every one
//! expect_responses("orders", #{ status: 503, exactly: 8 });
//! expect_responses("orders", #{ status: "5xx", at_most: "30%" });
//! ```
//!
//! The statuses it names also become expected for the block's built-in
//! responses check, which otherwise fails on any answer outside 200-399
//! that the scenario's own faults do not explain.

use rhai::{Dynamic, Engine, Map, NativeCallContext};

use super::SharedDraft;
use super::options::{ScriptResult, error_at, origin};
use crate::scenario::model::{Amount, Check, Expectation, ResponseCount, StatusPattern};

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    let d = draft.clone();
    engine.register_fn(
        "expect_responses",
        move |ctx: NativeCallContext, traffic: &str, opts: Map| -> ScriptResult<()> {
            let e = expect_responses(&ctx, traffic, opts)?;
            d.lock().expect("draft lock").expectations.push(e);
            Ok(())
        },
    );
}

const KEYS: &str = "`status`, `exactly`, `at_least`, `at_most`, `name`";

fn expect_responses(
    ctx: &NativeCallContext,
    traffic: &str,
    opts: Map,
) -> ScriptResult<Expectation> {
    let what = format!("expect_responses({traffic:?})");
    let fail = |message: String| error_at(ctx, format!("{what}: {message}"));
    let mut statuses = None;
    let mut count = None;
    let mut name = None;
    for (key, value) in opts {
        let bound = |make: fn(Amount) -> ResponseCount| -> ScriptResult<ResponseCount> {
            amount(&value)
                .map(make)
                .map_err(|e| fail(format!("{key}: {e}")))
        };
        let counted = match key.as_str() {
            "status" => {
                statuses = Some(patterns(value).map_err(|e| fail(format!("status: {e}")))?);
                None
            }
            "name" => {
                let text = value
                    .into_string()
                    .map_err(|t| fail(format!("name is a string, found {t}")))?;
                name = Some(text);
                None
            }
            "exactly" => match amount(&value).map_err(|e| fail(format!("exactly: {e}")))? {
                Amount::Requests(n) => Some(ResponseCount::Exactly(n)),
                Amount::Percent(_) => {
                    return Err(fail(
                        "exactly takes a number of requests; bound a share with at_least / at_most"
                            .into(),
                    ));
                }
            },
            "at_least" => Some(bound(ResponseCount::AtLeast)?),
            "at_most" => Some(bound(ResponseCount::AtMost)?),
            other => {
                return Err(fail(format!(
                    "unknown key `{other}`; expected one of {KEYS}"
                )));
            }
        };
        if let Some(c) = counted {
            if count.is_some() {
                return Err(fail("give one of exactly, at_least, at_most".into()));
            }
            if matches!(
                c,
                ResponseCount::AtLeast(Amount::Requests(0) | Amount::Percent(0.0))
            ) {
                return Err(fail(
                    "at_least: 0 always holds, so it checks nothing; give more".into(),
                ));
            }
            count = Some(c);
        }
    }
    let Some(statuses) = statuses else {
        return Err(fail(
            "give the statuses: `status: 503`, `status: [200, 503]` or `status: \"5xx\"`".into(),
        ));
    };
    let count = count.unwrap_or(ResponseCount::All);
    let name = name.unwrap_or_else(|| {
        let list = statuses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        match count {
            ResponseCount::All => format!("every request of {traffic:?} is answered {list}"),
            other => format!("{other} of {traffic:?} answered {list}"),
        }
    });
    Ok(Expectation {
        name,
        traffic: traffic.to_string(),
        check: Check::Responses { statuses, count },
        origin: origin(ctx),
    })
}

/// `503`, `"5xx"`, or an array of them.
fn patterns(value: Dynamic) -> Result<Vec<StatusPattern>, String> {
    let items = match value.clone().try_cast::<rhai::Array>() {
        Some(array) => array,
        None => vec![value],
    };
    if items.is_empty() {
        return Err("an empty list names no status; give at least one".into());
    }
    items.into_iter().map(pattern).collect()
}

fn pattern(value: Dynamic) -> Result<StatusPattern, String> {
    if let Some(code) = value.clone().try_cast::<rhai::INT>() {
        return match u16::try_from(code) {
            Ok(code) if (200..=599).contains(&code) => Ok(StatusPattern::Code(code)),
            _ => Err(format!("{code} is not a reply status (200-599)")),
        };
    }
    if value.is_string() {
        let text = value.into_string().expect("checked is_string");
        let class = text
            .strip_suffix("xx")
            .and_then(|d| d.parse::<u16>().ok())
            .filter(|d| (2..=5).contains(d));
        return class.map(StatusPattern::Class).ok_or_else(|| {
            format!(
                "{text:?} is not a status class; write \"2xx\" to \"5xx\", or a code such as 503"
            )
        });
    }
    Err(format!(
        "a status is a code such as 503 or a class such as \"5xx\", found {}",
        value.type_name()
    ))
}

/// A number of requests (`8`) or a share of them (`"25%"`).
fn amount(value: &Dynamic) -> Result<Amount, String> {
    if let Some(n) = value.clone().try_cast::<rhai::INT>() {
        return u64::try_from(n)
            .map(Amount::Requests)
            .map_err(|_| format!("{n} requests cannot be; give 0 or more"));
    }
    if let Some(text) = value.clone().try_cast::<rhai::ImmutableString>() {
        let percent = text
            .trim()
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|p| (0.0..=100.0).contains(p));
        return percent.map(Amount::Percent).ok_or_else(|| {
            format!(
                "{text:?} is neither a number of requests nor a share such as \"25%\" (0% to 100%)"
            )
        });
    }
    Err(format!(
        "a number of requests (8) or a share (\"25%\"), found {}",
        value.type_name()
    ))
}
