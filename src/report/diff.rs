//! `tracelab diff`'s output: the [`ReportDiff`] model as a terminal report
//! (checks whose verdict changed, latency old → new with the ratio per
//! traffic block and span name, what appeared or vanished, the verdict) or
//! as JSON (`tracelab.diff/v1`, the model as it is).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use crate::diff::{CheckChange, LatencyDiff, PctChange, ReportDiff, ScenarioDiff};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default();

fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Width of one `old → new ×ratio` cell.
const CELL: usize = 24;

pub fn json(diff: &ReportDiff) -> String {
    let mut text = serde_json::to_string_pretty(diff).expect("the diff model serialises");
    text.push('\n');
    text
}

/// The terminal report; `all` also lists spans that did not change.
pub fn human(diff: &ReportDiff, all: bool) -> String {
    let mut out = String::new();
    let verdict = |passed: bool| if passed { "passed" } else { "failed" };
    let _ = writeln!(
        out,
        "{} {} → {}",
        paint(BOLD, "tracelab diff"),
        diff.old.path,
        diff.new.path
    );
    let _ = writeln!(
        out,
        "  {}",
        paint(
            DIM,
            format!(
                "OLD tracelab {}, {} · NEW tracelab {}, {} · worse: ×{} and +{} ms or more on {}",
                diff.old.tracelab_version,
                verdict(diff.old.passed),
                diff.new.tracelab_version,
                verdict(diff.new.passed),
                diff.thresholds.max_ratio,
                diff.thresholds.min_delta_ms,
                judged_names(diff)
            )
        )
    );
    for note in &diff.notes {
        let _ = writeln!(out, "  {} {note}", paint(YELLOW, "note:"));
    }
    for s in &diff.scenarios {
        scenario(&mut out, diff, s, all);
    }
    if !diff.scenarios_appeared.is_empty() {
        let _ = writeln!(
            out,
            "{} {}",
            paint(BOLD, "scenarios only in NEW:"),
            diff.scenarios_appeared.join(", ")
        );
    }
    if !diff.scenarios_vanished.is_empty() {
        let _ = writeln!(
            out,
            "{} {}",
            paint(BOLD, "scenarios only in OLD:"),
            diff.scenarios_vanished.join(", ")
        );
    }
    let slowed: Vec<&str> = diff
        .scenarios
        .iter()
        .flat_map(|s| s.spans.iter())
        .filter(|x| x.slowed_here)
        .map(|x| x.name.as_str())
        .collect();
    let slowed = if slowed.is_empty() {
        String::new()
    } else {
        format!("; slowed in: {}", slowed.join(", "))
    };
    if diff.worse > 0 {
        let _ = writeln!(
            out,
            "{} {} {} past the thresholds{slowed}",
            paint(RED, "WORSE"),
            diff.worse,
            if diff.worse == 1 { "change" } else { "changes" }
        );
    } else {
        let _ = writeln!(
            out,
            "{} nothing got worse past the thresholds{slowed}",
            paint(GREEN.bold(), "OK")
        );
    }
    out
}

fn judged_names(diff: &ReportDiff) -> String {
    diff.thresholds
        .percentiles
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn scenario(out: &mut String, diff: &ReportDiff, s: &ScenarioDiff, all: bool) {
    let _ = writeln!(
        out,
        "\n{} {}",
        paint(BOLD, &s.name),
        paint(DIM, format!("({})", s.file))
    );
    if !s.checks.is_empty() {
        let _ = writeln!(out, "{}", paint(BOLD, "  checks"));
        for c in &s.checks {
            check(out, c);
        }
    }
    // The judged percentiles, or all four with -v.
    let shown: Vec<crate::diff::Pct> = if all {
        crate::diff::Pct::ALL.to_vec()
    } else {
        diff.thresholds.percentiles.clone()
    };
    let spans: Vec<&LatencyDiff> = s
        .spans
        .iter()
        .filter(|x| all || x.old.is_none() || x.new.is_none() || moved(x))
        .collect();
    let width = s
        .traffic
        .iter()
        .chain(spans.iter().copied())
        .map(|x| x.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    let header = |title: &str, extra: &str| {
        let mut line = format!("  {:<w$}", title, w = width + 2);
        for p in &shown {
            let _ = write!(line, "  {:<CELL$}", p.name());
        }
        line.push_str(extra);
        paint(BOLD, line.trim_end())
    };
    let _ = writeln!(out, "{}", header("traffic (ms)", ""));
    for b in &s.traffic {
        latency_row(out, b, &shown, width, false);
    }
    if !spans.is_empty() {
        let _ = writeln!(out, "{}", header("spans (ms)", "  self p50"));
        for x in &spans {
            latency_row(out, x, &shown, width, true);
        }
    }
    let quiet = s.spans.len() - spans.len();
    if quiet > 0 {
        let _ = writeln!(
            out,
            "    {}",
            paint(
                DIM,
                format!(
                    "{quiet} span {} did not move past ×{} (-v lists them)",
                    if quiet == 1 { "name" } else { "names" },
                    diff.thresholds.max_ratio
                )
            )
        );
    }
    for (word, services) in [
        ("services only in NEW:", &s.services_appeared),
        ("services only in OLD:", &s.services_vanished),
    ] {
        if !services.is_empty() {
            let _ = writeln!(out, "  {} {}", paint(BOLD, word), services.join(", "));
        }
    }
}

/// A span that moved past the ratio either way, or whose self time did.
fn moved(x: &LatencyDiff) -> bool {
    x.slowed_here || x.changes.iter().any(|c| c.worse || c.better)
}

fn check(out: &mut String, c: &CheckChange) {
    let word = |v: Option<bool>| match v {
        None => "absent",
        Some(true) => "passed",
        Some(false) => "failed",
    };
    let mark = if c.worse {
        paint(RED, "✘")
    } else if c.new == Some(true) {
        paint(GREEN, "✔")
    } else {
        paint(DIM, "·")
    };
    let block = if c.traffic.is_empty() {
        String::new()
    } else {
        paint(DIM, format!(" ({})", c.traffic))
    };
    let _ = writeln!(
        out,
        "    {mark} {} → {}  {}{block}",
        word(c.old),
        word(c.new),
        c.name
    );
    for (when, observed) in [("was", &c.old_observed), ("now", &c.new_observed)] {
        if let Some(text) = observed {
            let _ = writeln!(out, "        {when}: {text}");
        }
    }
}

fn latency_row(
    out: &mut String,
    x: &LatencyDiff,
    shown: &[crate::diff::Pct],
    width: usize,
    span: bool,
) {
    let mark = if x.worse {
        paint(RED, "✘")
    } else if x.old.is_none() {
        paint(YELLOW, "+")
    } else if x.new.is_none() {
        paint(YELLOW, "−")
    } else {
        " ".into()
    };
    let mut line = format!("  {mark} {:<width$}", x.name);
    match (&x.old, &x.new) {
        (None, Some(_)) => {
            let _ = write!(line, "  {}", paint(YELLOW, "only in NEW"));
        }
        (Some(_), None) => {
            let _ = write!(line, "  {}", paint(YELLOW, "only in OLD"));
        }
        _ => {
            for p in shown {
                if let Some(c) = x.changes.iter().find(|c| c.percentile == *p) {
                    let _ = write!(line, "  {}", cell(c));
                }
            }
            if span && let Some(c) = x.self_changes.first() {
                let _ = write!(line, "  {}", cell(c).trim_end());
                if x.slowed_here {
                    let _ = write!(line, "  {}", paint(RED, "← slowed here"));
                }
            }
        }
    }
    let _ = writeln!(out, "{}", line.trim_end());
}

/// "1.65 → 21.90 ×13" padded to [`CELL`] characters, red when worse,
/// green when better.
fn cell(c: &PctChange) -> String {
    let ratio = match c.ratio {
        None => "new".to_string(),
        Some(r) if r >= 10.0 => format!("×{r:.0}"),
        Some(r) => format!("×{r:.1}"),
    };
    let text = format!("{:.2} → {:.2} {ratio}", c.old_ms, c.new_ms);
    let pad = " ".repeat(CELL.saturating_sub(text.chars().count()));
    let style = if c.worse {
        RED
    } else if c.better {
        GREEN
    } else {
        Style::new()
    };
    format!("{}{pad}", paint(style, text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{Thresholds, diff, input};

    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    fn reports() -> (input::Report, input::Report) {
        let text = crate::report::json::render(&crate::report::fixture::run());
        let old = input::parse(std::path::Path::new("old.json"), text.as_bytes()).unwrap();
        let mut new = old.clone();
        let spans = new.scenarios[0].spans.as_mut().unwrap();
        for s in spans.iter_mut() {
            s.duration_ms.p50 += 20.0;
            s.duration_ms.p90 += 20.0;
            if s.service == "service2" {
                s.self_ms.p50 += 20.0;
                s.self_ms.p90 += 20.0;
            }
        }
        new.scenarios[0].outcomes[0].passed = false;
        new.scenarios[0].outcomes[0].observed = "0 of 2 traces match".into();
        (old, new)
    }

    #[test]
    fn the_terminal_diff_names_the_slowed_span_and_the_failing_check() {
        let (old, new) = reports();
        let d = diff(
            ("old.json", &old),
            ("new.json", &new),
            &Thresholds::default(),
        )
        .unwrap();
        let text = plain(&human(&d, false));
        assert!(
            text.starts_with("tracelab diff old.json → new.json\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "    ✘ passed → failed  the 4-span chain (sandbox)\n        was: 2 of 2 traces match\n        now: 0 of 2 traces match\n"
            ),
            "{text}"
        );
        let slowed = text
            .lines()
            .find(|l| l.contains("service2 checkStock (server)"))
            .unwrap();
        assert!(
            slowed.starts_with("  ✘ service2 checkStock (server)"),
            "{text}"
        );
        assert!(slowed.contains("0.60 → 20.60 ×34"), "{slowed}");
        assert!(slowed.ends_with("← slowed here"), "{slowed}");
        assert!(
            text.ends_with(
                "WORSE 5 changes past the thresholds; slowed in: service2 checkStock (server)\n"
            ),
            "{text}"
        );
        // The failing scenario did not change: no span rows, a count.
        assert!(
            text.contains("4 span names did not move past ×1.5 (-v lists them)"),
            "{text}"
        );
    }

    #[test]
    fn nothing_worse_says_ok_and_json_carries_the_model() {
        let (old, _) = reports();
        let d = diff(("a.json", &old), ("b.json", &old), &Thresholds::default()).unwrap();
        assert!(plain(&human(&d, true)).ends_with("OK nothing got worse past the thresholds\n"));
        let value: serde_json::Value = serde_json::from_str(&json(&d)).unwrap();
        assert_eq!(value["schema"], "tracelab.diff/v1");
        assert_eq!(value["worse"], 0);
        assert_eq!(
            value["scenarios"][0]["spans"][0]["changes"][0]["percentile"],
            "p50"
        );
        assert_eq!(
            value["thresholds"]["percentiles"],
            serde_json::json!(["p50", "p90"])
        );
    }
}
