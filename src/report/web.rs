//! The trace viewer's HTML: a search page (form and result list, two
//! results can be ticked for a comparison), a trace page (the [`Waterfall`]
//! with each span's tags, the critical path drawn over the bars) and, in
//! [`compare`], two traces side by side; rendered on the server from plain
//! page models. The waterfall rows are the very layout the terminal draws;
//! here offsets and widths become CSS percentages. No JavaScript is needed
//! (spans open with `<details>`, the critical path toggles with a checkbox
//! and CSS); the stylesheet is compiled into the binary.

pub mod compare;

use std::fmt::Write as _;

use super::waterfall::{
    TraceSummary, Waterfall, WaterfallRow, format_duration_us, format_start_time,
};
use crate::scenario::model::counted;

pub mod dependencies;

const STYLE: &str = include_str!("web/viewer.css");

/// What the search form holds, as the user typed it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchForm {
    pub service: String,
    pub operation: String,
    pub min_duration: String,
    pub max_duration: String,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub services: Vec<String>,
    /// The operations of the chosen service.
    pub operations: Vec<String>,
    pub form: SearchForm,
    /// Newest first.
    pub results: Vec<TraceSummary>,
    /// The query API's complaint about the search, e.g. a bad duration.
    pub error: Option<String>,
    /// Microseconds since the epoch, for "3 s ago".
    pub now_us: u64,
}

pub fn search_page(page: &SearchPage) -> String {
    let mut body = String::new();
    body.push_str(r#"<main class="search"><form class="filters" method="get" action="/">"#);
    body.push_str("<h2>Find traces</h2>");
    body.push_str(r#"<label>Service<select name="service" onchange="this.form.operation.value='';this.form.submit()">"#);
    if page.services.is_empty() {
        body.push_str(r#"<option value="">no services yet</option>"#);
    }
    for s in &page.services {
        let selected = if *s == page.form.service {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, r#"<option{selected}>{}</option>"#, esc(s));
    }
    body.push_str("</select></label>");
    body.push_str(r#"<label>Operation<select name="operation"><option value="">all</option>"#);
    for op in &page.operations {
        let selected = if *op == page.form.operation {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, r#"<option{selected}>{}</option>"#, esc(op));
    }
    body.push_str("</select></label>");
    let _ = write!(
        body,
        r#"<div class="pair"><label>Min duration<input name="minDuration" placeholder="e.g. 1.2ms" value="{}"></label><label>Max duration<input name="maxDuration" placeholder="e.g. 2s" value="{}"></label></div>"#,
        esc(&page.form.min_duration),
        esc(&page.form.max_duration)
    );
    let _ = write!(
        body,
        r#"<label>Limit<input name="limit" type="number" min="1" value="{}"></label>"#,
        page.form.limit
    );
    body.push_str(r#"<button type="submit">Find traces</button></form>"#);

    body.push_str(r#"<section class="results">"#);
    if let Some(error) = &page.error {
        let _ = write!(body, r#"<p class="error">{}</p>"#, esc(error));
    }
    let _ = write!(
        body,
        r#"<div class="results-head"><h2><span class="count">{}</span> {}</h2>"#,
        page.results.len(),
        if page.results.len() == 1 {
            "trace"
        } else {
            "traces"
        }
    );
    // The ticks below belong to this form (their `form` attribute).
    if page.results.len() > 1 {
        body.push_str(r#"<form id="compare-form" class="compare-picked" method="get" action="/compare"><span>Tick two traces to</span><button type="submit">Compare</button></form>"#);
    }
    body.push_str("</div>");
    if page.results.is_empty() && page.error.is_none() {
        body.push_str(
            r#"<p class="empty">No traces match. Send a request through the topology (<code>curl localhost:8000/trace/1</code> in the sandbox), then search again.</p>"#,
        );
    }
    let longest = page
        .results
        .iter()
        .map(|r| r.duration_us)
        .max()
        .unwrap_or(0)
        .max(1);
    body.push_str(r#"<ol class="trace-list">"#);
    for r in &page.results {
        result_item(&mut body, r, longest, page.now_us);
    }
    body.push_str("</ol></section></main>");
    document("Search · tracelab", &body)
}

fn result_item(body: &mut String, r: &TraceSummary, longest_us: u64, now_us: u64) {
    let errors = if r.errors > 0 {
        format!(
            r#"<span class="badge error">{}</span>"#,
            counted(r.errors as u64, "error")
        )
    } else {
        String::new()
    };
    let services: String = r
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                r#"<span class="service" style="--hue:{}">{}</span>"#,
                hue(i),
                esc(s)
            )
        })
        .collect();
    let _ = write!(
        body,
        r#"<li class="trace-result"><label class="pick" title="Tick two traces, then Compare"><input type="checkbox" name="trace" value="{id}" form="compare-form"></label><a href="/trace/{id}">
<div class="headline"><span class="root">{root}</span><span class="trace-id">{short}</span><span class="duration">{duration}</span></div>
<div class="scale"><div style="width:{pct:.2}%"></div></div>
<div class="meta"><span class="badge span-count">{spans} spans</span>{errors}{services}<span class="when" title="{start}">{ago}</span></div>
</a></li>"#,
        id = esc(&r.trace_id),
        root = esc(&r.root),
        short = esc(short_id(&r.trace_id)),
        duration = format_duration_us(r.duration_us),
        pct = 100.0 * r.duration_us as f64 / longest_us as f64,
        spans = r.spans,
        start = format_start_time(r.start_us),
        ago = ago(now_us, r.start_us),
    );
}

/// One trace as a waterfall, each span opening onto its tags.
pub fn trace_page(w: &Waterfall) -> String {
    let summary = w.summary();
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<main class="trace"><header class="trace-header"><h2>{root}</h2>
<dl><div><dt>Trace</dt><dd class="trace-id">{id}</dd></div><div><dt>Started</dt><dd>{start}</dd></div><div><dt>Duration</dt><dd>{duration}</dd></div><div><dt>Services</dt><dd>{services}</dd></div><div><dt>Depth</dt><dd>{depth}</dd></div><div><dt>Spans</dt><dd class="span-count">{spans}</dd></div></dl>
<form class="compare-with" method="get" action="/compare"><input type="hidden" name="a" value="{id}"><input name="b" placeholder="another trace id" aria-label="trace id to compare with" required><button type="submit">Compare</button></form>
<a class="json" href="/api/traces/{id}">JSON</a></header>"#,
        root = esc(&summary.root),
        id = esc(&w.trace_id),
        start = format_start_time(w.start_us),
        duration = format_duration_us(w.duration_us),
        services = w.services.len(),
        depth = w.depth,
        spans = w.rows.len(),
    );
    critical_summary(&mut body, w);
    body.push_str(r#"<div class="waterfall"><div class="ruler"><div class="name">Service &amp; operation</div><div class="ticks">"#);
    for i in 0..=4 {
        let at = w.duration_us * i / 4;
        let _ = write!(
            body,
            r#"<span style="left:{}%">{}</span>"#,
            i * 25,
            format_duration_us(at)
        );
    }
    body.push_str("</div></div>");
    for row in &w.rows {
        span_row(&mut body, w, row);
    }
    body.push_str("</div></main>");
    document(&format!("{} · tracelab", summary.root), &body)
}

/// The critical path's length and its services' shares, and the checkbox
/// that shows or hides its overlay (CSS only: `:has(:checked)`).
fn critical_summary(body: &mut String, w: &Waterfall) {
    let path = &w.critical_path;
    if path.duration_us == 0 {
        return;
    }
    let _ = write!(
        body,
        r#"<div class="critical-summary"><label class="toggle"><input type="checkbox" id="show-critical" checked> Critical path</label><span class="cp-length">{}</span>"#,
        format_duration_us(path.duration_us)
    );
    for s in &path.services {
        let _ = write!(
            body,
            r#"<span class="service cp-share" style="--hue:{}" title="{} on the critical path">{} <b>{:.0}%</b></span>"#,
            hue(w.service_index(&s.service)),
            format_duration_us(s.critical_us),
            esc(&s.service),
            100.0 * s.share
        );
    }
    body.push_str("</div>");
}

fn span_row(body: &mut String, w: &Waterfall, row: &WaterfallRow) {
    let hue = hue(w.service_index(&row.service));
    let error = if row.error { " error" } else { "" };
    let (inside, label_style) = duration_label(row.offset, row.width);
    let kind = row
        .kind
        .as_deref()
        .map(|k| format!(r#"<span class="kind">{}</span>"#, esc(k)))
        .unwrap_or_default();
    let _ = write!(
        body,
        r#"<details class="span{error}" style="--hue:{hue}"><summary>
<div class="name" style="padding-left:{indent}px"><span class="swatch"></span><span class="service-name">{service}</span> <span class="operation">{operation}</span>{kind}</div>
<div class="lane"><div class="bar" style="left:{left:.3}%;width:{width:.3}%"></div>{critical}<span class="took{inside}" style="{label_style}">{duration}</span></div>
</summary>
<div class="tags"><table><tbody>
<tr><th>span id</th><td>{span_id}</td></tr><tr><th>start</th><td>+{offset}</td></tr><tr><th>duration</th><td>{duration}</td></tr><tr><th>self time</th><td>{self_time}</td></tr><tr><th>critical path</th><td>{on_path}</td></tr>"#,
        indent = 8 + 18 * row.depth,
        service = esc(&row.service),
        operation = esc(&row.operation),
        left = 100.0 * row.offset,
        width = (100.0 * row.width).max(0.2),
        duration = format_duration_us(row.duration_us),
        span_id = esc(&row.span_id),
        offset = format_duration_us(row.start_offset_us),
        critical = critical_marks(w, row),
        self_time = format_duration_us(row.self_us),
        on_path = match row.critical.iter().map(|s| s.duration_us).sum::<u64>() {
            0 => "off it".to_string(),
            us => format_duration_us(us),
        },
    );
    for tag in &row.tags {
        let _ = write!(
            body,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(&tag.key),
            esc(&tag.value)
        );
    }
    body.push_str("</tbody></table></div></details>");
}

/// Where a bar's duration goes: right of the bar, inside a long bar that
/// reaches the right edge, or left of a short one there. The class to add
/// to `took` and its style.
fn duration_label(offset: f64, width: f64) -> (&'static str, String) {
    let end = offset + width;
    if end <= 0.8 {
        ("", format!("left:calc({:.3}% + 4px)", 100.0 * end))
    } else if width >= 0.15 {
        (" inside", format!("right:{:.3}%", 100.0 * (1.0 - end)))
    } else {
        (
            "",
            format!("right:calc({:.3}% + 4px)", 100.0 * (1.0 - offset)),
        )
    }
}

/// The stretches of a row on the critical path, drawn over its bar.
fn critical_marks(w: &Waterfall, row: &WaterfallRow) -> String {
    row.critical
        .iter()
        .map(|s| {
            format!(
                r#"<div class="critical" style="left:{:.3}%;width:{:.3}%"></div>"#,
                100.0 * w.fraction(s.start_offset_us),
                (100.0 * w.fraction(s.duration_us)).max(0.2)
            )
        })
        .collect()
}

/// A page saying the trace is not there.
pub fn not_found_page(trace_id: &str) -> String {
    document(
        "Trace not found · tracelab",
        &format!(
            r#"<main class="trace"><p class="error">Trace <code>{}</code> is not in this collector.</p><p><a href="/">Search traces</a></p></main>"#,
            esc(trace_id)
        ),
    )
}

fn document(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{STYLE}</style></head>
<body><nav><a class="brand" href="/">tracelab</a><span>trace viewer</span><a href="/">Search</a><a href="/dependencies">Dependencies</a><a class="api" href="/api/services">Jaeger API</a></nav>
{body}
</body></html>
"#,
        title = esc(title),
    )
}

/// Distinct hues for neighbouring indices (the golden angle).
fn hue(index: usize) -> u32 {
    ((200.0 + index as f64 * 137.508) % 360.0) as u32
}

fn short_id(id: &str) -> &str {
    let trimmed = id.trim_start_matches('0');
    if trimmed.len() > 7 { &trimmed[..7] } else { id }
}

/// "4 s ago", "3 min ago", "2 h ago".
fn ago(now_us: u64, then_us: u64) -> String {
    let secs = now_us.saturating_sub(then_us) / 1_000_000;
    match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86400 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86400),
    }
}

/// HTML-escape text for element content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::waterfall::tests::timed_sandbox_trace;

    fn page() -> SearchPage {
        let w = Waterfall::of(&timed_sandbox_trace());
        SearchPage {
            services: vec!["front-proxy".into(), "service1".into()],
            operations: vec!["checkAvailability".into()],
            form: SearchForm {
                service: "front-proxy".into(),
                limit: 20,
                ..Default::default()
            },
            results: vec![w.summary()],
            error: None,
            now_us: w.start_us + 3_000_000,
        }
    }

    #[test]
    fn the_search_page_lists_each_trace_with_its_span_count_and_a_link() {
        let html = search_page(&page());
        assert!(
            html.contains(r#"<option selected>front-proxy</option>"#),
            "{html}"
        );
        assert!(html.contains(r#"<span class="count">1</span> trace</h2>"#));
        assert!(html.contains(r#"<a href="/trace/4bf92f3577b34da6">"#));
        assert!(html.contains(
            r#"<input type="checkbox" name="trace" value="4bf92f3577b34da6" form="compare-form">"#
        ));
        assert!(html.contains(r#"<span class="root">front-proxy checkAvailability</span>"#));
        assert!(html.contains(r#"<span class="badge span-count">4 spans</span>"#));
        assert!(html.contains(">3 s ago<"));
        assert!(
            html.contains(r#"<div style="width:100.00%">"#),
            "the longest fills the scale"
        );
    }

    #[test]
    fn the_trace_page_places_each_bar_by_the_shared_layout() {
        let html = trace_page(&Waterfall::of(&timed_sandbox_trace()));
        let bars: Vec<&str> = html
            .match_indices(r#"<div class="bar" style=""#)
            .map(|(i, _)| &html[i + 24..i + 24 + html[i + 24..].find('"').unwrap()])
            .collect();
        assert_eq!(
            bars,
            [
                "left:0.000%;width:100.000%",
                "left:5.000%;width:90.000%",
                "left:15.000%;width:60.000%",
                "left:25.000%;width:30.000%",
            ]
        );
        assert!(
            html.contains(r#"style="padding-left:62px""#),
            "depth 3 indents"
        );
        assert!(html.contains("<tr><th>http.status_code</th><td>200</td></tr>"));
        assert!(html.contains(r#"<dd class="span-count">4</dd>"#));
    }

    #[test]
    fn the_trace_page_overlays_the_critical_path_and_tells_self_time() {
        let html = trace_page(&Waterfall::of(&timed_sandbox_trace()));
        let marks: Vec<&str> = html
            .match_indices(r#"<div class="critical" style=""#)
            .map(|(i, _)| &html[i + 29..i + 29 + html[i + 29..].find('"').unwrap()])
            .collect();
        assert_eq!(
            marks,
            [
                "left:0.000%;width:5.000%",
                "left:95.000%;width:5.000%",
                "left:5.000%;width:10.000%",
                "left:75.000%;width:20.000%",
                "left:15.000%;width:10.000%",
                "left:55.000%;width:20.000%",
                "left:25.000%;width:30.000%",
            ]
        );
        assert!(html.contains(r#"<input type="checkbox" id="show-critical" checked>"#));
        assert!(html.contains(r#"service1 <b>60%</b>"#), "{html}");
        assert!(html.contains("<tr><th>self time</th><td>200 µs</td></tr>"));
        assert!(html.contains("<tr><th>critical path</th><td>200 µs</td></tr>"));
        assert!(html.contains(r#"<input type="hidden" name="a" value="4bf92f3577b34da6">"#));
    }

    #[test]
    fn text_from_spans_is_escaped() {
        let mut t = timed_sandbox_trace();
        t.spans[0].operation_name = "<script>alert('x')</script>".into();
        let html = trace_page(&Waterfall::of(&t));
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    }

    #[test]
    fn a_search_error_is_shown_instead_of_the_empty_hint() {
        let mut p = page();
        p.results.clear();
        p.error = Some("unable to parse param 'minDuration'".into());
        let html = search_page(&p);
        assert!(
            html.contains(r#"<p class="error">unable to parse param &#39;minDuration&#39;</p>"#)
        );
        assert!(!html.contains("No traces match"));
    }
}
