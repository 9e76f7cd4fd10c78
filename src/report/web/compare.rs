//! The viewer's `/compare` page: two traces side by side, one row per span
//! of the merged tree ([`TraceCompare`]), A's bar and B's bar on one time
//! scale, rows only in A, only in B, slower, faster or failing on one side
//! marked with a sign, a colour and a class. Without two traces it is a
//! form asking for their ids.

use std::fmt::Write as _;

use super::{document, duration_label, esc, hue, short_id};
use crate::report::trace_compare::{Change, CompareRow, Placed, Side, TraceCompare};
use crate::report::waterfall::format_duration_us;

pub fn compare_page(c: &TraceCompare) -> String {
    let mut body = String::new();
    body.push_str(r#"<main class="compare"><header class="compare-header"><h2>Two traces side by side</h2><div class="sides">"#);
    side(&mut body, "a", &c.a);
    side(&mut body, "b", &c.b);
    body.push_str(r#"</div><p class="changes">"#);
    let counts = [
        (Change::OnlyA, "only in A"),
        (Change::OnlyB, "only in B"),
        (Change::Slower, "slower in B"),
        (Change::Faster, "faster in B"),
        (Change::Error, "failed on one side"),
    ];
    let mut any = false;
    for (change, words) in counts {
        let n = c.count(change);
        if n > 0 {
            any = true;
            let _ = write!(
                body,
                r#"<span class="badge {}">{n} {words}</span>"#,
                change.name()
            );
        }
    }
    if !any {
        body.push_str(r#"<span class="badge same">same shape, no span changed much</span>"#);
    }
    let _ = write!(
        body,
        r#"<span class="hint">a span changed when its duration moved ×{} and by {} or more</span></p></header>"#,
        crate::report::trace_compare::CHANGE_RATIO,
        format_duration_us(crate::report::trace_compare::MIN_CHANGE_US)
    );

    body.push_str(r#"<div class="compare-grid"><div class="ruler"><div class="name">Service &amp; operation</div>"#);
    for lane in ["a", "b"] {
        let _ = write!(body, r#"<div class="ticks {lane}">"#);
        for i in 0..=4 {
            let _ = write!(
                body,
                r#"<span style="left:{}%">{}</span>"#,
                i * 25,
                format_duration_us(c.scale_us * i / 4)
            );
        }
        body.push_str("</div>");
    }
    body.push_str("</div>");
    // Services coloured by their first appearance, as on the trace page.
    let mut services: Vec<&str> = Vec::new();
    for row in &c.rows {
        if !services.contains(&row.service.as_str()) {
            services.push(&row.service);
        }
    }
    for row in &c.rows {
        let colour = hue(services.iter().position(|s| *s == row.service).unwrap_or(0));
        compare_row(&mut body, row, colour);
    }
    body.push_str("</div></main>");
    document(
        &format!(
            "{} vs {} · tracelab",
            short_id(&c.a.trace_id),
            short_id(&c.b.trace_id)
        ),
        &body,
    )
}

fn side(body: &mut String, which: &str, s: &Side) {
    let _ = write!(
        body,
        r#"<div class="side {which}"><span class="letter">{letter}</span><a class="root" href="/trace/{id}">{root}</a><span class="trace-id">{id}</span><span class="duration">{duration}</span><span class="span-count">{spans} spans</span></div>"#,
        letter = which.to_uppercase(),
        id = esc(&s.trace_id),
        root = esc(&s.root),
        duration = format_duration_us(s.duration_us),
        spans = s.spans,
    );
}

fn compare_row(body: &mut String, row: &CompareRow, colour: u32) {
    let sign = match (row.change, &row.a, &row.b) {
        (Change::OnlyA, _, _) => "−".to_string(),
        (Change::OnlyB, _, _) => "+".to_string(),
        (Change::Error, _, _) => "✘".to_string(),
        // ×4.0 slower, ÷4.0 faster: how many times, either way.
        (Change::Slower, Some(a), Some(b)) => format!("▲ ×{}", times(b.duration_us, a.duration_us)),
        (Change::Faster, Some(a), Some(b)) => format!("▼ ÷{}", times(a.duration_us, b.duration_us)),
        _ => String::new(),
    };
    let kind = row
        .kind
        .as_deref()
        .map(|k| format!(r#"<span class="kind">{}</span>"#, esc(k)))
        .unwrap_or_default();
    let _ = write!(
        body,
        r#"<div class="row {change}" style="--hue:{colour}"><div class="name" style="padding-left:{indent}px"><span class="sign">{sign}</span><span class="swatch"></span><span class="service-name">{service}</span> <span class="operation">{operation}</span>{kind}</div>"#,
        change = row.change.name(),
        indent = 76 + 18 * row.depth,
        service = esc(&row.service),
        operation = esc(&row.operation),
    );
    lane(body, "a", row.a.as_ref());
    lane(body, "b", row.b.as_ref());
    body.push_str("</div>");
}

/// `larger / smaller` in a few characters: 4.0, 176, 1000+.
fn times(larger: u64, smaller: u64) -> String {
    let ratio = larger as f64 / smaller.max(1) as f64;
    if ratio < 10.0 {
        format!("{ratio:.1}")
    } else if ratio < 1000.0 {
        format!("{ratio:.0}")
    } else {
        "1000+".into()
    }
}

fn lane(body: &mut String, which: &str, placed: Option<&Placed>) {
    let _ = write!(body, r#"<div class="lane {which}">"#);
    if let Some(p) = placed {
        let error = if p.error { " error" } else { "" };
        let (inside, label_style) = duration_label(p.offset, p.width);
        let _ = write!(
            body,
            r#"<div class="bar{error}" title="span {id}" style="left:{left:.3}%;width:{width:.3}%"></div><span class="took{inside}" style="{label_style}">{duration}</span>"#,
            id = esc(&p.span_id),
            left = 100.0 * p.offset,
            width = (100.0 * p.width).max(0.2),
            duration = format_duration_us(p.duration_us),
        );
    }
    body.push_str("</div>");
}

/// Asks for the two trace ids (both filled in when one was given), with
/// what went wrong if anything.
pub fn pick_page(a: &str, b: &str, problem: Option<&str>) -> String {
    let mut body = String::new();
    body.push_str(r#"<main class="compare"><form class="compare-pick" method="get" action="/compare"><h2>Compare two traces</h2>"#);
    if let Some(problem) = problem {
        let _ = write!(body, r#"<p class="error">{}</p>"#, esc(problem));
    }
    let _ = write!(
        body,
        r#"<label>Trace A<input name="a" value="{}" placeholder="trace id" required></label><label>Trace B<input name="b" value="{}" placeholder="trace id" required></label><button type="submit">Compare</button><p class="hint">Or tick two traces in the <a href="/">search results</a>.</p></form></main>"#,
        esc(a),
        esc(b)
    );
    document("Compare traces · tracelab", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::critical_path::tests::timed;
    use crate::report::waterfall::Waterfall;

    #[test]
    fn the_page_marks_each_kind_of_difference_and_links_both_traces() {
        let a = timed(&[
            ("r", None, "shop", "page", "server", 0, 10_000),
            ("x", Some("r"), "shop", "getItem", "client", 1_000, 3_000),
            ("y", Some("r"), "shop", "old", "client", 4_000, 5_000),
        ]);
        let mut b = timed(&[
            ("r", None, "shop", "page", "server", 0, 10_000),
            ("x", Some("r"), "shop", "getItem", "client", 1_000, 9_000),
            ("z", Some("r"), "shop", "<new>", "client", 4_000, 5_000),
        ]);
        b.trace_id = "b2".into();
        let html = compare_page(&TraceCompare::of(&Waterfall::of(&a), &Waterfall::of(&b)));
        assert!(
            html.contains(r#"<a class="root" href="/trace/t">"#),
            "{html}"
        );
        assert!(html.contains(r#"<a class="root" href="/trace/b2">"#));
        assert!(html.contains(r#"<div class="row slower""#));
        assert!(
            html.contains(r#"<span class="sign">▲ ×4.0</span>"#),
            "{html}"
        );
        assert!(html.contains(r#"<div class="row only-a""#));
        assert!(html.contains(r#"<div class="row only-b""#));
        assert!(html.contains("&lt;new&gt;"), "escaped");
        assert!(html.contains(r#"<span class="badge only-a">1 only in A</span>"#));
        // An A-only row has no B bar and the reverse.
        let start = html.find(r#"<div class="row only-a""#).unwrap();
        let rest = &html[start + 1..];
        let only_a = &rest[..rest.find(r#"<div class="row "#).unwrap_or(rest.len())];
        assert!(only_a.contains(r#"<div class="lane b"></div>"#), "{only_a}");
    }

    #[test]
    fn the_pick_page_keeps_what_was_given_and_says_what_is_wrong() {
        let html = pick_page("abc", "", Some("trace <b> is not in this collector"));
        assert!(html.contains(r#"name="a" value="abc""#));
        assert!(html.contains("trace &lt;b&gt; is not in this collector"));
    }
}
