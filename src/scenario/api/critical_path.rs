//! `expect_critical_path`: bounds on a service's (or some spans') part of
//! each trace's critical path, and on their self time.
//!
//! ```rhai
//! expect_critical_path("buyers", #{ service: "inventory", share: ge(0.5) });
//! expect_critical_path("buyers", #{
//!     spans: span("inventory", "reserve", #{ kind: "server" }),
//!     time: ge("20ms"), self_time: ge("20ms"),
//! });
//! ```

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::SharedDraft;
use super::options::{ScriptResult, error_at, origin};
use super::predicates::{Operand, Predicate, duration_tests};
use crate::scenario::model::{CompareOp, CriticalPathCheck, Expectation, PathPart, ShareTest};

const KEYS: &str = "service or spans, share, time, self_time, name";

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    let d = draft.clone();
    engine.register_fn(
        "expect_critical_path",
        move |ctx: NativeCallContext, traffic: &str, opts: Map| -> ScriptResult<()> {
            let e = expect_critical_path(&ctx, traffic, opts)?;
            d.lock().expect("draft lock").expectations.push(e);
            Ok(())
        },
    );
}

fn expect_critical_path(
    ctx: &NativeCallContext,
    traffic: &str,
    opts: Map,
) -> ScriptResult<Expectation> {
    let what = format!("expect_critical_path({traffic:?})");
    let mut part = None;
    let mut name = None;
    let mut check = CriticalPathCheck {
        part: PathPart::Service(String::new()),
        share: Vec::new(),
        time: Vec::new(),
        self_time: Vec::new(),
    };
    for (key, value) in opts {
        let key = key.as_str();
        match key {
            "name" => {
                name =
                    Some(value.into_string().map_err(|t| {
                        error_at(ctx, format!("{what}: name is a string, found {t}"))
                    })?);
            }
            "service" => {
                let service = value.into_string().map_err(|t| {
                    error_at(
                        ctx,
                        format!("{what}: service is a service's name, found {t}"),
                    )
                })?;
                if service.is_empty() {
                    return Err(error_at(ctx, format!("{what}: service is empty")));
                }
                set_part(ctx, &what, &mut part, PathPart::Service(service))?;
            }
            "spans" => {
                // A span(...) without children, or a structural selector.
                let selector = super::select::selector(ctx, &format!("{what}: spans"), value)?;
                set_part(ctx, &what, &mut part, PathPart::Spans(selector))?;
            }
            "share" => check.share = share_tests(ctx, &format!("{what}: share"), value)?,
            "time" => check.time = duration_tests(ctx, &format!("{what}: time"), value)?,
            "self_time" => {
                check.self_time = duration_tests(ctx, &format!("{what}: self_time"), value)?
            }
            other => {
                return Err(error_at(
                    ctx,
                    format!("{what}: unknown key `{other}`; expected one of {KEYS}"),
                ));
            }
        }
    }
    check.part = part.ok_or_else(|| {
        error_at(
            ctx,
            format!(
                "{what}: say whose part of the critical path to bound: service: \"name\" or spans: span(...)"
            ),
        )
    })?;
    if check.share.is_empty() && check.time.is_empty() && check.self_time.is_empty() {
        return Err(error_at(
            ctx,
            format!(
                "{what}: give at least one bound: share (e.g. le(0.5)), time or self_time (e.g. lt(\"50ms\"))"
            ),
        ));
    }
    let name = name.unwrap_or_else(|| {
        format!(
            "in every trace of {traffic:?}, {}: {}",
            check.part,
            crate::assert::critical_path::expected(&check)
        )
    });
    Ok(Expectation {
        name,
        traffic: traffic.to_string(),
        check: crate::scenario::model::Check::CriticalPath(check),
        origin: origin(ctx),
    })
}

fn set_part(
    ctx: &NativeCallContext,
    what: &str,
    slot: &mut Option<PathPart>,
    part: PathPart,
) -> ScriptResult<()> {
    if slot.is_some() {
        return Err(error_at(
            ctx,
            format!("{what}: give service or spans, not both"),
        ));
    }
    *slot = Some(part);
    Ok(())
}

/// `le(0.5)` or a list of them: fractions of the critical path, 0 to 1.
fn share_tests(
    ctx: &NativeCallContext,
    what: &str,
    value: Dynamic,
) -> ScriptResult<Vec<ShareTest>> {
    let values = match value.clone().try_cast::<Array>() {
        Some(array) => array,
        None => vec![value],
    };
    if values.is_empty() {
        return Err(error_at(
            ctx,
            format!("{what}: an empty list of bounds checks nothing; give one, e.g. le(0.5)"),
        ));
    }
    values
        .into_iter()
        .map(|v| {
            let type_name = v.type_name();
            let test = match v.try_cast::<Predicate>() {
                Some(Predicate::Compare(op, Operand::Number(bound))) => ShareTest { op, bound },
                Some(Predicate::Compare(_, Operand::Duration(_))) => {
                    return Err(error_at(
                        ctx,
                        format!(
                            "{what}: a share is a fraction of the critical path, e.g. le(0.5); bound the time on it with time: lt(\"50ms\")"
                        ),
                    ));
                }
                Some(other) => {
                    return Err(error_at(
                        ctx,
                        format!("{what}: {other} is not a bound; write lt, le, gt or ge with a fraction, e.g. le(0.5)"),
                    ));
                }
                None => {
                    return Err(error_at(
                        ctx,
                        format!("{what}: a bound is le(0.5), lt, gt or ge, found {type_name}"),
                    ));
                }
            };
            if !(0.0..=1.0).contains(&test.bound) {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: {} is outside 0 to 1: a share is a fraction (write 0.5 for 50%)",
                        test.bound
                    ),
                ));
            }
            // Bounds that hold (or fail) whatever happens check nothing.
            let always = matches!(
                (test.op, test.bound),
                (CompareOp::Ge, b) | (CompareOp::Lt, b) if b == 0.0
            ) || matches!(
                (test.op, test.bound),
                (CompareOp::Le, b) | (CompareOp::Gt, b) if b == 1.0
            );
            if always {
                return Err(error_at(
                    ctx,
                    format!(
                        "{what}: share {test} always or never holds, so it checks nothing"
                    ),
                ));
            }
            Ok(test)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::scenario::load::{Limits, load_source};
    use crate::scenario::model::{Check, PathPart};

    const TOPOLOGY: &str = r#"
        proxy("front", #{ routes: [route("/*", #{ to: "api", operation: "page" })] });
        service("api", #{ routes: [route("/*")] });
        traffic("t", #{ requests: 1, path: "/x" });
    "#;

    fn load(expectation: &str) -> Result<crate::scenario::Scenario, String> {
        load_source(
            Path::new("cp.rhai"),
            &format!("{TOPOLOGY}{expectation}"),
            &Limits::default(),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_service_or_a_selector_with_share_time_and_self_time_bounds() {
        let s =
            load(r#"expect_critical_path("t", #{ service: "api", share: [ge(0.2), lt(0.9)] });"#)
                .unwrap();
        let Check::CriticalPath(c) = &s.expectations[0].check else {
            panic!("{:?}", s.expectations[0].check)
        };
        assert_eq!(c.part, PathPart::Service("api".into()));
        assert_eq!(c.share.len(), 2);
        assert_eq!(
            s.expectations[0].name,
            "in every trace of \"t\", api: share of the critical path >= 20%, share of the critical path < 90%"
        );
        let s = load(
            r#"expect_critical_path("t", #{ spans: span("api", "*", #{ kind: "server" }),
                time: lt("1s"), self_time: ge("1ms"), name: "api works" });"#,
        )
        .unwrap();
        let Check::CriticalPath(c) = &s.expectations[0].check else {
            panic!()
        };
        assert!(matches!(c.part, PathPart::Spans(_)));
        assert_eq!((c.time.len(), c.self_time.len()), (1, 1));
        assert_eq!(s.expectations[0].name, "api works");
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        let cases = [
            (
                r#"expect_critical_path("t", #{ share: le(0.5) });"#,
                "say whose part of the critical path to bound",
            ),
            (
                r#"expect_critical_path("t", #{ service: "api" });"#,
                "give at least one bound",
            ),
            (
                r#"expect_critical_path("t", #{ service: "api", spans: span("api", "*"), share: le(0.5) });"#,
                "give service or spans, not both",
            ),
            (
                r#"expect_critical_path("t", #{ service: "api", share: le(50) });"#,
                "50 is outside 0 to 1: a share is a fraction (write 0.5 for 50%)",
            ),
            (
                r#"expect_critical_path("t", #{ service: "api", share: le("5ms") });"#,
                "bound the time on it with time: lt(\"50ms\")",
            ),
            (
                r#"expect_critical_path("t", #{ service: "api", share: le(1) });"#,
                "share <= 100% always or never holds",
            ),
            (
                r#"expect_critical_path("t", #{ service: "api", self_time: le(0.5) });"#,
                "self_time",
            ),
            (
                r#"expect_critical_path("t", #{ service: "api", shar: le(0.5) });"#,
                "unknown key `shar`; expected one of service or spans, share, time, self_time, name",
            ),
            (
                r#"expect_critical_path("t", #{ spans: span("api", "*", [span("db", "*")]), share: le(0.5) });"#,
                "drop its children",
            ),
        ];
        for (script, wanted) in cases {
            let err = load(script).unwrap_err();
            assert!(err.contains(wanted), "{script}\n→ {err}");
            assert!(err.starts_with("cp.rhai:5:"), "{err}");
        }
    }
}
