//! What makes a closure quietly false is an error instead: comparing a
//! string with a number (or a bool with either), and reading a field a span
//! does not have. In plain Rhai both are simply `false` or `()`, so
//! `|s| s.tags["http.status_code"] >= 500` (Envoy's status is a string) or
//! `|s| s.duraton_us > 0` would match no span ever, and a check such as
//! `#{ count: 0 }` over them would pass on nothing.
//!
//! The span is a [`SpanView`] (made by [`span_value`]), a type with a
//! getter per field, so that an unknown field fails on its own; maps the
//! closure builds behave as usual. A tag the span lacks still reads as `()`, as documented: that is
//! the span's answer, not a mistake in the script.

use std::time::Duration;

use rhai::{Dynamic, Engine, EvalAltResult, FLOAT, INT, ImmutableString, Map};

use crate::scenario::model::{SpanFacts, TagValue};

/// The span's fields, in the order the docs list them.
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

/// A span as a closure sees it.
#[derive(Debug, Clone)]
pub struct SpanView {
    pub service: ImmutableString,
    pub operation: ImmutableString,
    /// A string, or `()`.
    pub kind: Dynamic,
    pub error: bool,
    pub duration_us: INT,
    pub duration_ms: FLOAT,
    pub start_us: INT,
    pub trace_id: ImmutableString,
    pub span_id: ImmutableString,
    /// A string, or `()` for a root.
    pub parent_id: Dynamic,
    /// Tags with Jaeger's types.
    pub tags: Map,
}

impl SpanView {
    fn field(&self, name: &str) -> Option<Dynamic> {
        Some(match name {
            "service" => self.service.clone().into(),
            "operation" => self.operation.clone().into(),
            "kind" => self.kind.clone(),
            "error" => self.error.into(),
            "duration_us" => self.duration_us.into(),
            "duration_ms" => self.duration_ms.into(),
            "start_us" => self.start_us.into(),
            "trace_id" => self.trace_id.clone().into(),
            "span_id" => self.span_id.clone().into(),
            "parent_id" => self.parent_id.clone(),
            "tags" => self.tags.clone().into(),
            _ => return None,
        })
    }
}

/// A tag's value with its Jaeger type.
pub fn tag_value(value: &TagValue) -> Dynamic {
    match value {
        TagValue::Str(s) => s.clone().into(),
        TagValue::Int(i) => (*i).into(),
        TagValue::Float(f) => (*f).into(),
        TagValue::Bool(b) => (*b).into(),
    }
}

/// The span as a closure sees it: `service`, `operation`, `kind`,
/// `error`, `duration_us`, `duration_ms`, `start_us`, `trace_id`,
/// `span_id`, `parent_id` and `tags` (a map of typed values).
pub fn span_value(facts: &SpanFacts) -> Dynamic {
    let text = |s: &Option<String>| s.clone().map_or(Dynamic::UNIT, Dynamic::from);
    Dynamic::from(SpanView {
        service: facts.service.as_str().into(),
        operation: facts.operation.as_str().into(),
        kind: text(&facts.kind),
        error: facts.error,
        duration_us: facts.duration_us as INT,
        duration_ms: Duration::from_micros(facts.duration_us).as_secs_f64() * 1000.0,
        start_us: facts.start_us as INT,
        trace_id: facts.trace_id.as_str().into(),
        span_id: facts.span_id.as_str().into(),
        parent_id: text(&facts.parent_id),
        tags: facts
            .tags
            .iter()
            .map(|(k, v)| (k.as_str().into(), tag_value(v)))
            .collect(),
    })
}

const COMPARISONS: [&str; 6] = ["==", "!=", "<", "<=", ">", ">="];

/// Make `engine` know spans (a getter per field) and refuse comparisons
/// across types.
pub fn register(engine: &mut Engine) {
    engine.register_type_with_name::<SpanView>("span");
    for name in SPAN_FIELDS {
        engine.register_get(name, move |s: &mut SpanView| {
            s.field(name).expect("every listed field has a value")
        });
    }
    // `s["service"]` reads as `s.service`, as when the span was a map.
    engine.register_indexer_get(
        |s: &mut SpanView, name: &str| -> Result<Dynamic, Box<EvalAltResult>> {
            s.field(name).ok_or_else(|| unknown_field(name).into())
        },
    );
    engine.register_fn("to_string", |s: &mut SpanView| span_text(s));
    engine.register_fn("to_debug", |s: &mut SpanView| span_text(s));

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
}

fn span_text(s: &SpanView) -> String {
    format!(
        "span {} {} [{}] of trace {}",
        s.service, s.operation, s.span_id, s.trace_id
    )
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
    let always = if op == "!=" {
        "always true"
    } else {
        "never true"
    };
    format!(
        "`{op}` compares {} with {}, which is {always}: tag values keep their types \
         (Envoy's http.status_code is a string, an SDK's an integer: \
         s.tags[\"http.status_code\"].to_string() == \"503\" reads both)",
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

/// What to say of `s.name` where a span has no such field.
pub fn unknown_field(name: &str) -> String {
    let hint = SPAN_FIELDS
        .iter()
        .map(|f| (strsim::levenshtein(name, f), *f))
        .min()
        .filter(|(distance, _)| *distance <= 2)
        .map(|(_, f)| format!("did you mean {f}? "))
        .unwrap_or_default();
    format!(
        "a span has no field {name}: {hint}its fields are {} (tags are read as s.tags[\"key\"])",
        SPAN_FIELDS.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut engine = Engine::new();
        register(&mut engine);
        engine
    }

    fn span() -> SpanView {
        let mut tags = Map::new();
        tags.insert("http.status_code".into(), "503".into());
        tags.insert("retries".into(), (2 as INT).into());
        SpanView {
            service: "api".into(),
            operation: "get".into(),
            kind: "server".into(),
            error: false,
            duration_us: 1500,
            duration_ms: 1.5,
            start_us: 0,
            trace_id: "t".into(),
            span_id: "s".into(),
            parent_id: Dynamic::UNIT,
            tags,
        }
    }

    fn eval(body: &str) -> Result<Dynamic, String> {
        let mut scope = rhai::Scope::new();
        scope.push("s", span());
        engine()
            .eval_with_scope::<Dynamic>(&mut scope, body)
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
            assert!(err.contains(" compares "), "{body}: {err}");
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
        // Rhai's own words; the closure's error says them as below.
        assert!(eval("s.duraton_us > 0").is_err());
        assert!(eval("s?.nope ?? true").is_err());
        let err = eval(r#"s["duraton_us"]"#).unwrap_err();
        assert!(
            err.contains("a span has no field duraton_us: did you mean duration_us?"),
            "{err}"
        );
        assert_eq!(
            eval(r#"s["service"]"#).unwrap().into_string(),
            Ok("api".into())
        );
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

    #[test]
    fn every_span_field_reads_as_a_property_and_an_index() {
        for field in SPAN_FIELDS {
            let same = eval(&format!("type_of(s.{field}) == type_of(s[\"{field}\"])"));
            assert_eq!(same.map(|d| d.as_bool()), Ok(Ok(true)), "{field}");
        }
        assert_eq!(eval("s.duration_us").unwrap().as_int(), Ok(1500));
    }

    #[test]
    fn maps_a_closure_builds_take_new_keys() {
        let built = eval("let m = #{}; m.x = 1; m[\"k\"] = 2; m.x += 1; m.x + m.k").unwrap();
        assert_eq!(built.as_int(), Ok(4));
    }
}
