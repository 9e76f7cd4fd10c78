//! The terminal report: topology, traffic, traces, each check as ✔/✘ with
//! what was seen, and the verdict. Colour comes from `anstream`, which drops
//! it when the output is not a terminal or `NO_COLOR` is set.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::model::{RunReport, ScenarioReport};
use crate::assert::{Outcome, OutcomeSource};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Failures and the verdict only.
    Quiet,
    Normal,
    /// Also passing integrity checks and delivery counts.
    Verbose,
}

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default();

fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

pub fn render(report: &RunReport, verbosity: Verbosity) -> String {
    let mut out = String::new();
    for scenario in &report.scenarios {
        render_scenario(&mut out, scenario, verbosity);
    }
    if report.scenarios.len() > 1 {
        let passed = report.scenarios.iter().filter(|s| s.passed).count();
        let _ = writeln!(
            out,
            "{} {passed} of {} scenarios passed",
            verdict(report.passed),
            report.scenarios.len()
        );
    }
    out
}

fn verdict(passed: bool) -> String {
    if passed {
        paint(GREEN.bold(), "PASS")
    } else {
        paint(RED, "FAIL")
    }
}

fn render_scenario(out: &mut String, s: &ScenarioReport, verbosity: Verbosity) {
    let quiet = verbosity == Verbosity::Quiet;
    if !quiet {
        let _ = writeln!(
            out,
            "{} {}",
            paint(BOLD, &s.name),
            paint(DIM, format!("({})", s.file))
        );
        let _ = writeln!(
            out,
            "  collector  {} {}",
            s.collector.kind,
            paint(
                DIM,
                format!(
                    "query {} · otlp {}",
                    s.collector.query_url, s.collector.otlp_traces_url
                )
            )
        );
        let _ = writeln!(out, "{}", paint(BOLD, "  topology"));
        let width = s.components.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for c in &s.components {
            let _ = writeln!(
                out,
                "    {:width$}  {:7}  http://{}",
                c.name, c.role, c.address
            );
        }
        let _ = writeln!(out, "{}", paint(BOLD, "  traffic"));
        for t in &s.traffic {
            let statuses = t
                .summary
                .statuses
                .iter()
                .map(|(status, n)| format!("{n}×{status}"))
                .collect::<Vec<_>>()
                .join(" ");
            let l = &t.summary.latency_ms;
            let _ = writeln!(
                out,
                "    {} → {}: {} requests, {statuses}, {} errors, {:.0} req/s",
                t.name,
                t.target,
                t.summary.requests,
                t.summary.errors,
                t.summary.requests_per_second
            );
            let _ = writeln!(
                out,
                "      latency p50 {:.2} ms · p90 {:.2} ms · p99 {:.2} ms · max {:.2} ms",
                l.p50, l.p90, l.p99, l.max
            );
        }
        let completeness = if s.traces.complete {
            paint(
                DIM,
                format!(
                    "complete after {} polls, {:.0} ms",
                    s.traces.polls, s.traces.waited_ms
                ),
            )
        } else {
            paint(
                YELLOW,
                format!(
                    "may be incomplete: stopped waiting after {:.1} s",
                    s.traces.waited_ms / 1000.0
                ),
            )
        };
        let _ = writeln!(out, "{}", paint(BOLD, "  traces"));
        let _ = writeln!(
            out,
            "    {} traces, {} spans, {completeness}",
            s.traces.traces, s.traces.spans
        );
        if verbosity == Verbosity::Verbose {
            let d = &s.delivery;
            let _ = writeln!(
                out,
                "    spans exported: {} ended, {} delivered, {} failed",
                d.ended, d.delivered, d.failed
            );
        }
        let _ = writeln!(out, "{}", paint(BOLD, "  checks"));
    }
    for o in &s.outcomes {
        let integrity = matches!(o.source, OutcomeSource::Integrity { .. });
        let show = !o.passed || (!quiet && (!integrity || verbosity == Verbosity::Verbose));
        if show {
            render_outcome(out, s, o);
        }
    }
    if !quiet {
        let hidden = s
            .outcomes
            .iter()
            .filter(|o| o.passed && matches!(o.source, OutcomeSource::Integrity { .. }))
            .count();
        if hidden > 0 && verbosity != Verbosity::Verbose {
            let _ = writeln!(
                out,
                "    {} {}",
                paint(GREEN, "✔"),
                paint(DIM, format!("{hidden} integrity checks (-v lists them)"))
            );
        }
    }
    for w in &s.warnings {
        let _ = writeln!(out, "  {} {w}", paint(YELLOW, "warning:"));
    }
    let _ = writeln!(
        out,
        "  {} {} of {} checks passed in {:.2} s{}",
        verdict(s.passed),
        s.checks_passed(),
        s.outcomes.len(),
        s.duration_ms / 1000.0,
        if quiet {
            format!(" ({})", s.name)
        } else {
            String::new()
        }
    );
    if !quiet {
        out.push('\n');
    }
}

fn render_outcome(out: &mut String, s: &ScenarioReport, o: &Outcome) {
    let mark = if o.passed {
        paint(GREEN, "✔")
    } else {
        paint(RED, "✘")
    };
    let place = match &o.source {
        OutcomeSource::Expectation {
            line,
            column,
            module,
        } => paint(
            DIM,
            format!(" {}:{line}:{column}", module.as_deref().unwrap_or(&s.file)),
        ),
        OutcomeSource::Integrity { .. } => String::new(),
    };
    let name = match &o.source {
        OutcomeSource::Integrity { .. } => format!("{} ({})", o.name, o.traffic),
        OutcomeSource::Expectation { .. } => o.name.clone(),
    };
    let _ = writeln!(out, "    {mark} {name} — {}{place}", o.observed);
    for f in &o.failures {
        let mut at = Vec::new();
        if let Some(t) = &f.trace_id {
            at.push(format!("trace {t}"));
        }
        if let Some(r) = &f.request_id {
            at.push(format!("request {r}"));
        }
        if let Some(span) = &f.span {
            at.push(format!("at {span}"));
        }
        if !at.is_empty() {
            let _ = writeln!(out, "        {}", at.join(", "));
        }
        let _ = writeln!(out, "          expected: {}", f.expected);
        let _ = writeln!(out, "          observed: {}", paint(RED, &f.observed));
    }
    if o.failure_count > o.failures.len() {
        let _ = writeln!(
            out,
            "        … and {} more",
            o.failure_count - o.failures.len()
        );
    }
}
