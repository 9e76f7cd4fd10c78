//! One span against one pattern node: service, operation, kind, error
//! status, tag predicates, duration bounds and the script's closures. The
//! first thing that does not hold comes back as (expected, observed) for
//! the report.

use std::time::Duration;

use super::tree::SpanNode;
use crate::jaeger::model::{KeyValue, Span, ValueType};
use crate::scenario::model::{
    SpanFacts, SpanPattern, Subject, TagOp, TagPredicate, TagValue, format_duration,
};

/// The first field of `node` that `pattern` rejects, as (expected, observed).
/// Children are not looked at.
pub fn field_mismatch(pattern: &SpanPattern, node: &SpanNode<'_>) -> Option<(String, String)> {
    if let Some(service) = &pattern.service
        && service != node.service
    {
        return Some((
            format!("service {service}"),
            format!("service {}", node.service),
        ));
    }
    if let Some(op) = &pattern.operation
        && *op != node.span.operation_name
    {
        return Some((
            format!("operation {op}"),
            format!("operation {}", node.span.operation_name),
        ));
    }
    if let Some(kind) = pattern.kind
        && node.span.kind() != Some(kind.as_str())
    {
        return Some((
            format!("kind {}", kind.as_str()),
            format!("kind {}", node.span.kind().unwrap_or("unset")),
        ));
    }
    if let Some(want_error) = pattern.error
        && node.span.is_error() != want_error
    {
        let show = |e: bool| if e { "error=true" } else { "no error" }.to_string();
        return Some((show(want_error), show(node.span.is_error())));
    }
    for predicate in &pattern.tags {
        if let Some(mismatch) = tag_mismatch(predicate, node.span) {
            return Some(mismatch);
        }
    }
    let duration = span_duration(node.span);
    for test in &pattern.duration {
        if !test.holds(duration) {
            return Some((
                format!("duration {test}"),
                format!("duration {}", format_duration(duration)),
            ));
        }
    }
    if !pattern.checks.is_empty() {
        let facts = span_facts(node);
        for check in &pattern.checks {
            match check.test(Subject::Span(&facts)) {
                Some(true) => {}
                Some(false) => {
                    return Some((format!("passes {}", check.describe()), "it does not".into()));
                }
                None => {
                    return Some((
                        format!("passes {}", check.describe()),
                        "the closure failed".into(),
                    ));
                }
            }
        }
    }
    None
}

/// A span as the script's closures see it.
pub fn span_facts(node: &SpanNode<'_>) -> SpanFacts {
    let span = node.span;
    SpanFacts {
        service: node.service.to_string(),
        operation: span.operation_name.clone(),
        kind: span.kind().map(str::to_string),
        error: span.is_error(),
        duration_us: span.duration,
        start_us: span.start_time,
        trace_id: span.trace_id.clone(),
        span_id: span.span_id.clone(),
        parent_id: span.parent_span_id().map(str::to_string),
        tags: span
            .tags
            .iter()
            .map(|t| (t.key.clone(), tag_value(t)))
            .collect(),
    }
}

/// A tag's value with its Jaeger type (binary as its text).
pub fn tag_value(tag: &KeyValue) -> TagValue {
    match tag.value_type {
        ValueType::Bool => tag.value.as_bool().map(TagValue::Bool),
        ValueType::Int64 => tag.value.as_i64().map(TagValue::Int),
        ValueType::Float64 => tag.value.as_f64().map(TagValue::Float),
        ValueType::String | ValueType::Binary => None,
    }
    .unwrap_or_else(|| TagValue::Str(tag.value_text()))
}

pub fn span_duration(span: &Span) -> Duration {
    Duration::from_micros(span.duration)
}

/// Does `span` fail `predicate`? Then (expected, observed).
pub fn tag_mismatch(predicate: &TagPredicate, span: &Span) -> Option<(String, String)> {
    let key = &predicate.key;
    if let TagOp::Satisfies(closure) = &predicate.op {
        let tag = span.tag(key);
        let verdict = tag.map(|t| closure.test(Subject::Tag(&tag_value(t))));
        let observed = match (tag, verdict) {
            (_, Some(Some(true))) => return None,
            (None, _) => format!("no tag {key}"),
            (Some(t), Some(Some(false))) => format!("{key}={}", t.value_text()),
            (Some(_), _) => "the closure failed".to_string(),
        };
        return Some((predicate.to_string(), observed));
    }
    let actual = span.tag(key).map(|t| t.value_text());
    let holds = match (&predicate.op, actual.as_deref()) {
        (TagOp::Exists, value) => value.is_some(),
        (TagOp::Absent, value) => value.is_none(),
        (_, None) => matches!(predicate.op, TagOp::NotEquals(_)),
        (TagOp::Equals(want), Some(v)) => v == want,
        (TagOp::NotEquals(want), Some(v)) => v != want,
        (TagOp::Compare(op, bound), Some(v)) => {
            v.trim().parse::<f64>().is_ok_and(|n| op.holds(n, *bound))
        }
        (TagOp::Contains(part), Some(v)) => v.contains(part.as_str()),
        (TagOp::Matches(re), Some(v)) => re.0.is_match(v),
        // Judged above, with the typed value.
        (TagOp::Satisfies(_), Some(_)) => false,
    };
    if holds {
        return None;
    }
    let observed = match actual {
        None => format!("no tag {key}"),
        Some(v) => match &predicate.op {
            TagOp::Compare(..) if v.trim().parse::<f64>().is_err() => {
                format!("{key}={v} (not a number)")
            }
            TagOp::Contains(_) | TagOp::Matches(_) => format!("{key}={v:?}"),
            _ => format!("{key}={v}"),
        },
    };
    Some((predicate.to_string(), observed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::tree::TraceTree;
    use crate::assert::tree::tests::{pat, sandbox_trace};
    use crate::jaeger::model::KeyValue;
    use crate::scenario::model::{CompareOp, DurationTest, TagRegex};

    fn span_with(tags: Vec<KeyValue>) -> Span {
        let mut trace = sandbox_trace();
        let mut span = trace.spans.remove(0);
        span.tags = tags;
        span
    }

    fn check(op: TagOp, tags: Vec<KeyValue>) -> Option<(String, String)> {
        let predicate = TagPredicate {
            key: "http.status_code".into(),
            op,
        };
        tag_mismatch(&predicate, &span_with(tags))
    }

    fn status(v: &str) -> Vec<KeyValue> {
        vec![KeyValue::string("http.status_code", v)]
    }

    fn regex(re: &str) -> TagOp {
        TagOp::Matches(TagRegex(regex::Regex::new(re).unwrap()))
    }

    #[test]
    fn equals_compares_the_tag_as_text() {
        assert_eq!(check(TagOp::Equals("200".into()), status("200")), None);
        assert_eq!(
            check(TagOp::Equals("503".into()), status("200")),
            Some(("http.status_code=503".into(), "http.status_code=200".into()))
        );
        assert_eq!(
            check(TagOp::Equals("200".into()), vec![]),
            Some((
                "http.status_code=200".into(),
                "no tag http.status_code".into()
            ))
        );
    }

    #[test]
    fn equals_reads_typed_tags_as_jaeger_shows_them() {
        let typed = vec![KeyValue {
            key: "http.status_code".into(),
            value_type: crate::jaeger::model::ValueType::Int64,
            value: serde_json::json!(200),
        }];
        assert_eq!(check(TagOp::Equals("200".into()), typed), None);
    }

    #[test]
    fn not_equals_holds_for_another_value_or_no_tag() {
        assert_eq!(check(TagOp::NotEquals("503".into()), status("200")), None);
        assert_eq!(check(TagOp::NotEquals("503".into()), vec![]), None);
        assert_eq!(
            check(TagOp::NotEquals("200".into()), status("200")),
            Some((
                "http.status_code!=200".into(),
                "http.status_code=200".into()
            ))
        );
    }

    #[test]
    fn comparisons_read_the_tag_as_a_number() {
        let cases = [
            (CompareOp::Lt, 500.0, "200", true),
            (CompareOp::Lt, 500.0, "503", false),
            (CompareOp::Lt, 200.0, "200", false),
            (CompareOp::Le, 200.0, "200", true),
            (CompareOp::Gt, 499.0, "503", true),
            (CompareOp::Gt, 503.0, "503", false),
            (CompareOp::Ge, 503.0, "503", true),
            (CompareOp::Ge, 504.0, "503", false),
        ];
        for (op, bound, value, holds) in cases {
            let result = check(TagOp::Compare(op, bound), status(value));
            assert_eq!(
                result.is_none(),
                holds,
                "{value} {op:?} {bound}: {result:?}"
            );
        }
        assert_eq!(
            check(TagOp::Compare(CompareOp::Lt, 500.0), status("503")),
            Some(("http.status_code<500".into(), "http.status_code=503".into()))
        );
        assert_eq!(
            check(TagOp::Compare(CompareOp::Lt, 500.0), status("ok")),
            Some((
                "http.status_code<500".into(),
                "http.status_code=ok (not a number)".into()
            ))
        );
        assert!(check(TagOp::Compare(CompareOp::Lt, 500.0), vec![]).is_some());
    }

    #[test]
    fn contains_and_matches_look_inside_the_text() {
        assert_eq!(check(TagOp::Contains("0".into()), status("200")), None);
        assert_eq!(
            check(TagOp::Contains("5".into()), status("200")),
            Some((
                "http.status_code contains \"5\"".into(),
                "http.status_code=\"200\"".into()
            ))
        );
        assert_eq!(check(regex("^2..$"), status("204")), None);
        assert_eq!(
            check(regex("^2..$"), status("503")),
            Some((
                "http.status_code matches /^2..$/".into(),
                "http.status_code=\"503\"".into()
            ))
        );
    }

    #[test]
    fn exists_and_absent_look_only_at_presence() {
        assert_eq!(check(TagOp::Exists, status("")), None);
        assert_eq!(
            check(TagOp::Exists, vec![]),
            Some((
                "http.status_code exists".into(),
                "no tag http.status_code".into()
            ))
        );
        assert_eq!(check(TagOp::Absent, vec![]), None);
        assert_eq!(
            check(TagOp::Absent, status("200")),
            Some((
                "no tag http.status_code".into(),
                "http.status_code=200".into()
            ))
        );
    }

    #[test]
    fn tag_and_error_predicates_are_checked_on_a_span_node() {
        let t = sandbox_trace();
        let tree = TraceTree::new(&t);
        let mut p = pat("front-proxy", "checkAvailability", "client", vec![]);
        p.tags.push(TagPredicate {
            key: "http.status_code".into(),
            op: TagOp::Equals("200".into()),
        });
        assert!(field_mismatch(&p, &tree.nodes[0]).is_none());
        p.tags[0].op = TagOp::Equals("503".into());
        assert_eq!(
            field_mismatch(&p, &tree.nodes[0]),
            Some(("http.status_code=503".into(), "http.status_code=200".into()))
        );
        p.tags.clear();
        p.error = Some(true);
        assert_eq!(
            field_mismatch(&p, &tree.nodes[0]),
            Some(("error=true".into(), "no error".into()))
        );
    }

    #[test]
    fn duration_bounds_are_checked_on_a_span_node() {
        let t = sandbox_trace(); // the root lasts 100 µs
        let tree = TraceTree::new(&t);
        let mut p = pat("front-proxy", "checkAvailability", "client", vec![]);
        p.duration.push(DurationTest {
            op: CompareOp::Lt,
            bound: Duration::from_millis(1),
        });
        assert!(field_mismatch(&p, &tree.nodes[0]).is_none());
        p.duration.push(DurationTest {
            op: CompareOp::Gt,
            bound: Duration::from_micros(150),
        });
        assert_eq!(
            field_mismatch(&p, &tree.nodes[0]),
            Some(("duration > 150µs".into(), "duration 100µs".into()))
        );
    }
}
