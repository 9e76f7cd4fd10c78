//! What makes a closure quietly false is an error instead: comparing a
//! string with a number (or a bool with either), and reading a field a span
//! does not have. In plain Rhai both are simply `false` or `()`, so
//! `|s| s.tags["http.status_code"] >= 500` (Envoy's status is a string) or
//! `|s| s.duraton_us > 0` would match no span ever, and a check such as
//! `#{ count: 0 }` over them would pass on nothing.
//!
//! A tag the span lacks still reads as `()`, as documented: that is the
//! span's answer, not a mistake in the script.

use rhai::{Dynamic, Engine, EvalAltResult, FLOAT, INT, ImmutableString, Map, Position, Target};

/// The fields of the map a closure gets for a span (see `span_value`).
pub const SPAN_FIELDS: [&str; 11] = [
    "service",
    "operation",
    "kind",
    "error",
    "duration_us",
    "duration_ms",
    "start_us",
    "trace_id",
    "span_id",
    "parent_id",
    "tags",
];

const COMPARISONS: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];

/// Make `engine` refuse comparisons across types and unknown span fields.
pub fn refuse_silent_falses(engine: &mut Engine) {
    // Rhai's fast operators answer mixed types before looking for an
    // overload; without them the overloads below are found.
    engine.set_fast_operators(false);
    for op in COMPARISONS {
        mismatch::<ImmutableString, INT>(engine, op);
        mismatch::<INT, ImmutableString>(engine, op);
        mismatch::<ImmutableString, FLOAT>(engine, op);
        mismatch::<FLOAT, ImmutableString>(engine, op);
        mismatch::<ImmutableString, bool>(engine, op);
        mismatch::<bool, ImmutableString>(engine, op);
        mismatch::<bool, INT>(engine, op);
        mismatch::<INT, bool>(engine, op);
        mismatch::<bool, FLOAT>(engine, op);
        mismatch::<FLOAT, bool>(engine, op);
    }
    engine.on_map_missing_property(|map: &mut Map, prop: &str, _| {
        if is_span(map) {
            return Err(unknown_field(prop));
        }
        Ok(Target::TempValue(Dynamic::UNIT))
    });
}

fn mismatch<A: Clone + Send + Sync + 'static, B: Clone + Send + Sync + 'static>(
    engine: &mut Engine,
    op: &'static str,
) {
    engine.register_fn(op, move |_: A, _: B| -> Result<bool, Box<EvalAltResult>> {
        Err(compared::<A, B>(op).into())
    });
}

fn compared<A: 'static, B: 'static>(op: &str) -> String {
    format!(
        "`{op}` compares {} with {}, which is never true: tag values keep their types \
         (Envoy's http.status_code is a string: compare it with \"503\", or read it with .parse_int())",
        words::<A>(),
        words::<B>()
    )
}

fn words<T: 'static>() -> &'static str {
    let id = std::any::TypeId::of::<T>();
    if id == std::any::TypeId::of::<ImmutableString>() {
        "a string"
    } else if id == std::any::TypeId::of::<INT>() {
        "an integer"
    } else if id == std::any::TypeId::of::<FLOAT>() {
        "a float"
    } else {
        "a bool"
    }
}

/// The span's own map, not its tags (which may be named anything).
fn is_span(map: &Map) -> bool {
    map.len() == SPAN_FIELDS.len() && SPAN_FIELDS.iter().all(|f| map.contains_key(*f))
}

fn unknown_field(prop: &str) -> Box<EvalAltResult> {
    let hint = SPAN_FIELDS
        .iter()
        .map(|f| (strsim::levenshtein(prop, f), *f))
        .min()
        .filter(|(distance, _)| *distance <= 2)
        .map(|(_, f)| format!("did you mean {f}? "))
        .unwrap_or_default();
    EvalAltResult::ErrorRuntime(
        format!(
            "a span has no field {prop}: {hint}its fields are {} (tags are read as s.tags[\"key\"])",
            SPAN_FIELDS.join(", ")
        )
        .into(),
        Position::NONE,
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut engine = Engine::new();
        refuse_silent_falses(&mut engine);
        engine
    }

    const SPAN: &str = r#"let s = #{ service: "api", operation: "get", kind: "server", error: false,
        duration_us: 1500, duration_ms: 1.5, start_us: 0, trace_id: "t", span_id: "s",
        parent_id: (), tags: #{ "http.status_code": "503", "retries": 2 } };"#;

    fn eval(body: &str) -> Result<Dynamic, String> {
        engine()
            .eval::<Dynamic>(&format!("{SPAN} {body}"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn comparing_a_string_tag_with_a_number_is_an_error_not_false() {
        for body in [
            r#"s.tags["http.status_code"] >= 500"#,
            r#"s.tags["http.status_code"] == 503"#,
            r#"503 != s.tags["http.status_code"]"#,
            r#"s.error == "false""#,
            r#"s.tags["retries"] == true"#,
        ] {
            let err = eval(body).expect_err(body);
            assert!(err.contains("which is never true"), "{body}: {err}");
        }
        let err = eval(r#"s.tags["http.status_code"] >= 500"#).unwrap_err();
        assert!(
            err.contains("`>=` compares a string with an integer"),
            "{err}"
        );
    }

    #[test]
    fn comparisons_of_one_type_and_of_numbers_still_work() {
        for (body, expected) in [
            (r#"s.tags["http.status_code"] == "503""#, true),
            (r#"s.tags["http.status_code"].parse_int() >= 500"#, true),
            ("s.duration_us > 1000 && s.duration_ms < 2", true),
            (r#"s.tags["retries"] >= 2.0"#, true),
            ("s.parent_id == ()", true),
            (r#"s.kind != "client""#, true),
        ] {
            assert_eq!(eval(body).unwrap().as_bool(), Ok(expected), "{body}");
        }
    }

    #[test]
    fn a_misspelt_span_field_is_an_error_naming_the_fields() {
        let err = eval("s.duraton_us > 0").unwrap_err();
        assert!(
            err.contains("a span has no field duraton_us: did you mean duration_us?"),
            "{err}"
        );
        assert!(eval("s?.nope ?? true").is_err());
    }

    #[test]
    fn a_tag_the_span_lacks_still_reads_as_unit() {
        assert!(eval(r#"s.tags["no.such.tag"]"#).unwrap().is_unit());
        assert_eq!(
            eval(r#"s.tags["no.such.tag"]?.starts_with("/api") ?? false"#)
                .unwrap()
                .as_bool(),
            Ok(false)
        );
        assert!(eval("#{ a: 1 }.b").unwrap().is_unit());
    }
}
