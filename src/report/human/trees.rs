//! Trees in the terminal: a trace's [`Waterfall`] as indented rows with time
//! bars (solid where the span is on the critical path, shaded where it
//! waits off it, self time beside spans with children), and a
//! [`TreeComparison`] as two columns with the first difference marked.
//! `tracelab traces` prints waterfalls with the same code.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::{BOLD, DIM, RED, paint};
use crate::report::compare::{TreeComparison, TreeLine};
use crate::report::waterfall::{Waterfall, WaterfallRow, format_duration_us};
use crate::scenario::model::counted;

/// Characters in a time bar: the whole trace.
pub const BAR_CELLS: usize = 40;
/// Labels longer than this (indent included) are cut with `…`.
const MAX_LABEL: usize = 56;
/// A bar cell where the span holds the critical path, and one where it
/// runs off it (waiting on a child, or a parallel call that was not the
/// slowest).
const ON_PATH: &str = "█";
const OFF_PATH: &str = "░";
/// Services named on the critical path line; the rest are summed up.
const PATH_SERVICES: usize = 5;

/// Bar colours by service index, cycling.
const SERVICE_COLOURS: [AnsiColor; 6] = [
    AnsiColor::Cyan,
    AnsiColor::Magenta,
    AnsiColor::Blue,
    AnsiColor::Green,
    AnsiColor::Yellow,
    AnsiColor::BrightCyan,
];

/// "trace 4bf9… · 4 spans · 3 services · depth 4 · 2.31 ms".
pub fn waterfall_header(w: &Waterfall) -> String {
    let errors = w.rows.iter().filter(|r| r.error).count();
    let mut text = format!(
        "trace {} · {} · {} · depth {} · {}",
        w.trace_id,
        counted(w.rows.len() as u64, "span"),
        counted(w.services.len() as u64, "service"),
        w.depth,
        format_duration_us(w.duration_us)
    );
    if errors > 0 {
        text.push_str(&paint(
            RED,
            format!(" · {}", counted(errors as u64, "error")),
        ));
    }
    text
}

/// The rows of a waterfall, each line starting with `indent` spaces; with
/// `tags`, each span's tags on a line under it.
pub fn waterfall(w: &Waterfall, indent: usize, tags: bool) -> String {
    let mut out = String::new();
    let pad = " ".repeat(indent);
    let label_width = w
        .rows
        .iter()
        .map(|r| 2 * r.depth + r.label().chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_LABEL);
    // A ruler: the trace starts at 0 and ends at its duration.
    let total = format_duration_us(w.duration_us);
    let gap = (BAR_CELLS + 2).saturating_sub(1 + total.chars().count());
    let _ = writeln!(
        out,
        "{pad}{} {}",
        " ".repeat(label_width),
        paint(DIM, format!("0{}{total}", " ".repeat(gap)))
    );
    for row in &w.rows {
        let label = fit(
            &format!("{}{}", "  ".repeat(row.depth), row.label()),
            label_width,
        );
        let colour = if row.error {
            RED
        } else {
            SERVICE_COLOURS[w.service_index(&row.service) % SERVICE_COLOURS.len()].on_default()
        };
        let duration = format_duration_us(row.duration_us);
        let error = if row.error {
            paint(RED, " ✘ error")
        } else {
            String::new()
        };
        // Self time where it differs: for spans with children.
        let own = if row.self_us != row.duration_us {
            paint(DIM, format!("  self {}", format_duration_us(row.self_us)))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{pad}{label} │{}│ {duration}{own}{error}",
            bar(w, row, colour)
        );
        if tags && !row.tags.is_empty() {
            let text = row
                .tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect::<Vec<_>>()
                .join("  ");
            let _ = writeln!(out, "{pad}{}  {}", "  ".repeat(row.depth), paint(DIM, text));
        }
    }
    if let Some(line) = critical_path_line(w) {
        let _ = writeln!(out, "{pad}{line}");
    }
    out
}

/// "critical path (█) 2.00 ms: service1 60% · service2 30% · front-proxy 10%".
pub fn critical_path_line(w: &Waterfall) -> Option<String> {
    let path = &w.critical_path;
    if path.duration_us == 0 {
        return None;
    }
    let mut shares: Vec<String> = path
        .services
        .iter()
        .take(PATH_SERVICES)
        .map(|s| format!("{} {:.0}%", s.service, 100.0 * s.share))
        .collect();
    if path.services.len() > PATH_SERVICES {
        let rest: f64 = path.services[PATH_SERVICES..].iter().map(|s| s.share).sum();
        shares.push(format!(
            "{} more {:.0}%",
            path.services.len() - PATH_SERVICES,
            100.0 * rest
        ));
    }
    Some(format!(
        "{} {}: {}",
        paint(BOLD, format!("critical path ({ON_PATH})")),
        format_duration_us(path.duration_us),
        shares.join(" · ")
    ))
}

/// Cells `[start, end)` of a stretch at `offset` lasting `width` (fractions
/// of the trace): at least one, so the shortest span still shows.
fn cells(offset: f64, width: f64) -> (usize, usize) {
    let total = BAR_CELLS as f64;
    let start = ((offset * total).floor() as usize).min(BAR_CELLS - 1);
    // The epsilon keeps 0.55 × 40 = 22.000000000000004 at 22 cells.
    let end = (((offset + width) * total - 1e-9).ceil() as usize).clamp(start + 1, BAR_CELLS);
    (start, end)
}

/// The bar's cells: blank before the span starts, then solid where it is
/// on the critical path and shaded where it is not. A trace with no
/// critical path (zero length) draws solid bars.
fn bar(w: &Waterfall, row: &WaterfallRow, colour: Style) -> String {
    let (start, end) = cells(row.offset, row.width);
    let mut on_path = vec![w.critical_path.duration_us == 0; end - start];
    for stretch in &row.critical {
        let (s, e) = cells(
            w.fraction(stretch.start_offset_us),
            w.fraction(stretch.duration_us),
        );
        for cell in s.max(start)..e.min(end) {
            on_path[cell - start] = true;
        }
    }
    let body: String = on_path
        .iter()
        .map(|&on| if on { ON_PATH } else { OFF_PATH })
        .collect();
    format!(
        "{}{}{}",
        " ".repeat(start),
        paint(colour, body),
        " ".repeat(BAR_CELLS - end)
    )
}

/// Expected tree on the left, actual on the right, `✘` where they differ.
pub fn comparison(c: &TreeComparison, indent: usize) -> String {
    let mut out = String::new();
    let pad = " ".repeat(indent);
    let text = |l: &TreeLine| format!("{}{}", "  ".repeat(l.depth), l.label);
    let left_width = c
        .expected
        .iter()
        .map(|l| text(l).chars().count())
        .max()
        .unwrap_or(0)
        .clamp("expected".len(), MAX_LABEL);
    let side = |line: Option<&TreeLine>, width: usize| match line {
        None => " ".repeat(width + 2),
        Some(l) if l.marked => format!("{} {}", paint(RED, "✘"), paint(RED, fit(&text(l), width))),
        Some(l) => format!("  {}", fit(&text(l), width)),
    };
    let _ = writeln!(
        out,
        "{pad}  {}   {}",
        paint(BOLD, fit("expected", left_width)),
        paint(BOLD, format!("actual (trace {})", c.trace_id))
    );
    for i in 0..c.expected.len().max(c.actual.len()) {
        let left = side(c.expected.get(i), left_width);
        let right = match c.actual.get(i) {
            Some(l) => side(Some(l), text(l).chars().count()),
            None => String::new(),
        };
        let _ = writeln!(out, "{pad}{left} {}", right.trim_end());
    }
    out
}

/// `text` cut or padded to exactly `width` characters.
fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count > width {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        format!("{text}{}", " ".repeat(width - count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::waterfall::tests::timed_sandbox_trace;

    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    #[test]
    fn a_waterfall_draws_one_indented_row_per_span_with_bars_scaled_to_the_trace() {
        let w = Waterfall::of(&timed_sandbox_trace());
        let text = plain(&waterfall(&w, 2, false));
        let expected = [
            format!("{}0{}2.00 ms", " ".repeat(32), " ".repeat(34)),
            "  front-proxy checkAvailability │██░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░██│ 2.00 ms  self 200 µs".into(),
            "    service1 checkAvailability  │  ████░░░░░░░░░░░░░░░░░░░░░░░░████████  │ 1.80 ms  self 600 µs".into(),
            "      service1 checkStock       │      ████░░░░░░░░░░░░████████          │ 1.20 ms  self 600 µs".into(),
            "        service2 checkStock     │          ████████████                  │ 600 µs".into(),
            "  critical path (█) 2.00 ms: service1 60% · service2 30% · front-proxy 10%".into(),
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected, "\n{text}");
    }

    #[test]
    fn parallel_calls_off_the_critical_path_are_shaded_whole() {
        let w = Waterfall::of(&crate::analysis::critical_path::tests::fan_out());
        let text = plain(&waterfall(&w, 0, false));
        let row = |label: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(label))
                .unwrap_or_else(|| panic!("{label} in\n{text}"))
                .to_string()
        };
        // catalog finished before pricing: never on the path.
        assert!(
            row("catalog getItem").contains("│    ░░░░░░░░░░░░ "),
            "{text}"
        );
        assert!(!row("catalog getItem").contains('█'), "{text}");
        assert!(
            row("pricing getPrice").contains("│    ████████████████ "),
            "{text}"
        );
        assert!(
            text.ends_with(
                "critical path (█) 100 µs: pricing 36% · api 30% · recommendations 24% · shop 10%\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn error_spans_are_flagged_and_tags_listed_on_request() {
        let mut t = timed_sandbox_trace();
        t.spans[3]
            .tags
            .push(crate::jaeger::model::KeyValue::bool("error", true));
        let w = Waterfall::of(&t);
        let text = plain(&waterfall(&w, 0, true));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[7].ends_with("600 µs ✘ error"), "{text}");
        assert!(
            lines[8]
                .trim_start()
                .starts_with("span.kind=server  http.status_code=200  error=true"),
            "{text}"
        );
        assert!(plain(&waterfall_header(&w)).ends_with("2.00 ms · 1 error"));
    }

    #[test]
    fn a_comparison_puts_the_trees_side_by_side_and_marks_the_difference() {
        let line = |depth, label: &str, marked| TreeLine {
            depth,
            label: label.into(),
            marked,
        };
        let c = TreeComparison {
            outcome: 0,
            trace_id: "abc".into(),
            expected: vec![
                line(0, "front-proxy checkAvailability (client)", false),
                line(1, "service1 checkStok (server)", true),
            ],
            actual: vec![
                line(0, "front-proxy checkAvailability (client)", false),
                line(1, "service1 checkStock (server)", true),
                line(2, "service2 extra (server)", false),
            ],
        };
        let text = plain(&comparison(&c, 4));
        let expected = [
            "      expected                                 actual (trace abc)",
            "      front-proxy checkAvailability (client)   front-proxy checkAvailability (client)",
            "    ✘   service1 checkStok (server)          ✘   service1 checkStock (server)",
            "                                                   service2 extra (server)",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected, "\n{text}");
    }

    #[test]
    fn long_labels_are_cut_with_an_ellipsis() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ab", 4), "ab  ");
    }
}
