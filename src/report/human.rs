//! The terminal report: topology, traffic, traces (with a waterfall of the
//! slowest), each check as ✔/✘ with what was seen (and, for a failed shape,
//! the expected tree beside the actual one), and the verdict. Colour comes
//! from `anstream`, which drops it when the output is not a terminal or
//! `NO_COLOR` is set. `trees` draws the waterfalls and comparisons.

pub mod trees;

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use super::model::{
    AbortKind, Aborted, LabInfo, LabStopped, RunReport, ScenarioReport, ShownReason, ShownTrace,
    TraceListing,
};
use super::waterfall::{format_duration_us, format_start_time};
use crate::assert::{Outcome, OutcomeSource};
use crate::scenario::model::counted;

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
    if !report.load_errors.is_empty() {
        for f in &report.load_errors {
            let _ = writeln!(out, "{} {}", paint(RED, "✘"), f.text());
        }
        let _ = writeln!(
            out,
            "{} {} did not load; nothing ran",
            verdict(false, false),
            counted(report.load_errors.len() as u64, "scenario")
        );
        return out;
    }
    for scenario in &report.scenarios {
        render_scenario(&mut out, scenario, verbosity);
    }
    if let Some(aborted) = &report.aborted {
        render_aborted(&mut out, aborted, verbosity);
    }
    if let Some(shown) = &report.shown_trace
        && verbosity != Verbosity::Quiet
    {
        render_shown_trace(&mut out, shown, verbosity, 0);
        out.push('\n');
    }
    for w in &report.warnings {
        let _ = writeln!(out, "{} {w}", paint(YELLOW, "warning:"));
    }
    // An aborted run counts the scenario it stopped at and those after.
    let given = report.scenarios.len()
        + report
            .aborted
            .as_ref()
            .map_or(0, |a| usize::from(a.scenario.is_some()) + a.not_run);
    if given > 1 || report.aborted.is_some() || (report.interrupted && given == 0) {
        let passed = report.scenarios.iter().filter(|s| s.passed).count();
        let (checks_passed, checks) = report.checks();
        let _ = writeln!(
            out,
            "{} {passed} of {given} scenarios passed, {checks_passed} of {checks} checks",
            match report.aborted {
                Some(_) => paint(RED, "ERROR"),
                None => verdict(report.passed, report.interrupted),
            },
        );
    }
    out
}

/// The error that stopped the run, under the scenario it stopped (its
/// checks were not judged), or alone when it struck after the last one.
fn render_aborted(out: &mut String, a: &Aborted, verbosity: Verbosity) {
    let quiet = verbosity == Verbosity::Quiet;
    let kind = match a.kind {
        AbortKind::Script => "script error",
        AbortKind::Usage => "usage error",
        AbortKind::Infra => "infrastructure error",
    };
    let (Some(name), Some(file)) = (&a.scenario, &a.file) else {
        let _ = writeln!(out, "{} {kind}: {}", paint(RED, "✘"), a.message);
        return;
    };
    if !quiet {
        let _ = writeln!(
            out,
            "{} {}",
            paint(BOLD, name),
            paint(DIM, format!("({file})"))
        );
    }
    let _ = writeln!(out, "  {} {kind}: {}", paint(RED, "✘"), a.message);
    let _ = writeln!(
        out,
        "  {} the run stopped here; this scenario's checks were not judged{}",
        paint(RED, "ERROR"),
        if quiet {
            format!(" ({name})")
        } else {
            String::new()
        }
    );
    if !quiet {
        out.push('\n');
    }
}

fn render_shown_trace(out: &mut String, shown: &ShownTrace, verbosity: Verbosity, indent: usize) {
    let why = match shown.reason {
        ShownReason::Slowest => "slowest",
        ShownReason::Requested => "requested",
    };
    let _ = writeln!(
        out,
        "{}{} {}",
        " ".repeat(indent),
        paint(BOLD, format!("{why}:")),
        trees::waterfall_header(&shown.waterfall)
    );
    out.push_str(&trees::waterfall(
        &shown.waterfall,
        indent + 2,
        verbosity == Verbosity::Verbose,
    ));
}

fn verdict(passed: bool, interrupted: bool) -> String {
    if interrupted {
        paint(YELLOW.bold(), "INTERRUPTED")
    } else if passed {
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
                    "query {} · otlp {}{}",
                    s.collector.query_url,
                    match s.collector.otlp_protocol {
                        crate::mesh::telemetry::OtlpProtocol::HttpProtobuf => String::new(),
                        other => format!("{other} "),
                    },
                    s.collector.otlp_traces_url
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
                "    {} → {}: {}, {statuses}, {}, {:.0} req/s",
                t.name,
                t.target,
                counted(t.summary.requests, "request"),
                counted(t.summary.errors, "error"),
                t.summary.requests_per_second
            );
            // An open model's requests leave on a schedule: how well it held.
            let behind = t
                .summary
                .schedule
                .map(|s| format!(" · sent up to {:.0} ms behind schedule", s.behind_ms))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "      latency p50 {:.2} ms · p90 {:.2} ms · p99 {:.2} ms · max {:.2} ms{behind}",
                l.p50, l.p90, l.p99, l.max
            );
        }
        let completeness = if s.traces.complete {
            paint(
                DIM,
                format!(
                    "complete after {}, {:.0} ms",
                    counted(u64::from(s.traces.polls), "poll"),
                    s.traces.waited_ms
                ),
            )
        } else if s.traces.incomplete > 0 {
            paint(
                YELLOW,
                format!("{} judged before they were whole", s.traces.incomplete),
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
            "    {}, {}, {completeness}",
            counted(s.traces.traces as u64, "trace"),
            counted(s.traces.spans as u64, "span")
        );
        if let Some(shown) = &s.shown_trace {
            render_shown_trace(out, shown, verbosity, 4);
        }
        if verbosity == Verbosity::Verbose {
            let d = &s.delivery;
            let _ = writeln!(
                out,
                "    spans exported: {} ended, {} delivered, {} failed{}",
                d.ended,
                d.delivered,
                d.failed,
                if d.rejected > 0 {
                    format!(", {} rejected by the collector", d.rejected)
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(out, "{}", paint(BOLD, "  checks"));
    }
    for (i, o) in s.outcomes.iter().enumerate() {
        let integrity = matches!(o.source, OutcomeSource::Integrity { .. });
        let show = !o.passed || (!quiet && (!integrity || verbosity == Verbosity::Verbose));
        if show {
            render_outcome(out, s, o);
        }
        for c in s.comparisons.iter().filter(|c| c.outcome == i) {
            out.push_str(&trees::comparison(c, 8));
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
        verdict(s.passed, s.interrupted),
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
        if let Some(at) = f.location() {
            let _ = writeln!(out, "        {at}");
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

/// What `tracelab up` prints once everything listens.
pub fn render_lab(lab: &LabInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} is up",
        paint(BOLD, &lab.scenario),
        paint(DIM, format!("({})", lab.file))
    );
    let _ = writeln!(out, "{}", paint(BOLD, "  topology"));
    let width = lab
        .components
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for c in &lab.components {
        let _ = writeln!(
            out,
            "    {:width$}  {:7}  http://{}",
            c.name, c.role, c.address
        );
    }
    if let Some(url) = &lab.try_url {
        let _ = writeln!(out, "  try           curl {url}");
    }
    let _ = writeln!(out, "  trace viewer  {}", paint(BOLD, &lab.viewer_url));
    let _ = writeln!(out, "  query API     {}/api/services", lab.query_url);
    let _ = writeln!(out, "  OTLP/HTTP     {}", lab.otlp_traces_url);
    for (name, url) in &lab.intakes {
        let _ = writeln!(out, "  {name:<14}{url}");
    }
    let _ = writeln!(
        out,
        "{}",
        paint(DIM, "Ctrl-C stops everything (spans are flushed first).")
    );
    out
}

/// What `tracelab up` prints when it has stopped.
pub fn render_lab_stopped(s: &LabStopped) -> String {
    let mut text = format!(
        "stopped: {} ended, {} delivered; the collector held {}, {}\n",
        counted(s.delivery.ended, "span"),
        s.delivery.delivered,
        counted(s.traces as u64, "trace"),
        counted(s.spans, "span")
    );
    if s.delivery.undelivered() > 0 {
        text.push_str(&format!(
            "{} {} did not reach the collector\n",
            paint(YELLOW, "warning:"),
            counted(s.delivery.undelivered(), "span")
        ));
    }
    text
}

/// `tracelab traces`: a line per trace with `list`, else a waterfall each.
pub fn render_traces(listing: &TraceListing, list: bool, tags: bool) -> String {
    let mut out = String::new();
    if listing.traces.is_empty() {
        let _ = writeln!(out, "no traces ({}) in {}", listing.query, listing.source);
        return out;
    }
    let _ = writeln!(
        out,
        "{}",
        paint(
            DIM,
            format!(
                "{} ({}) from {}",
                counted(listing.traces.len() as u64, "trace"),
                listing.query,
                listing.source
            )
        )
    );
    for w in &listing.traces {
        if list {
            let s = w.summary();
            let _ = writeln!(
                out,
                "{}  {}  {:>10}  {}  {}  {}",
                s.trace_id,
                format_start_time(s.start_us),
                format_duration_us(s.duration_us),
                counted(s.spans as u64, "span"),
                paint(BOLD, &s.root),
                paint(DIM, s.services.join(", "))
            );
        } else {
            let _ = writeln!(
                out,
                "\n{}  {}",
                trees::waterfall_header(w),
                paint(DIM, format_start_time(w.start_us))
            );
            out.push_str(&trees::waterfall(w, 2, tags));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    fn one(scenario: ScenarioReport) -> RunReport {
        RunReport::new(vec![scenario])
    }

    #[test]
    fn a_passing_scenario_shows_topology_traffic_the_slowest_trace_and_checks() {
        let text = plain(&render(&one(fixture::passing()), Verbosity::Normal));
        let expected = "\
jaeger-tracing sandbox (scenarios/jaeger.rhai)
  collector  embedded query http://127.0.0.1:16686 · otlp http://127.0.0.1:16686/v1/traces
  topology
    front-proxy  proxy    http://127.0.0.1:8000
    service1     service  http://127.0.0.1:8001
    service2     service  http://127.0.0.1:8002
  traffic
    sandbox → front-proxy: 2 requests, 2×200, 0 errors, 400 req/s
      latency p50 1.50 ms · p90 2.25 ms · p99 2.25 ms · max 2.25 ms
  traces
    2 traces, 8 spans, complete after 2 polls, 120 ms
    slowest: trace 4bf92f3577b34da6 · 4 spans · 3 services · depth 4 · 2.00 ms
                                    0                                  2.00 ms
      front-proxy checkAvailability │██░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░██│ 2.00 ms  self 200 µs
        service1 checkAvailability  │  ████░░░░░░░░░░░░░░░░░░░░░░░░████████  │ 1.80 ms  self 600 µs
          service1 checkStock       │      ████░░░░░░░░░░░░████████          │ 1.20 ms  self 600 µs
            service2 checkStock     │          ████████████                  │ 600 µs
      critical path (█) 2.00 ms: service1 60% · service2 30% · front-proxy 10%
  checks
    ✔ the 4-span chain — 2 of 2 traces match scenarios/jaeger.rhai:41:1
    ✔ 1 integrity checks (-v lists them)
  PASS 2 of 2 checks passed in 0.25 s

";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn a_failed_shape_shows_the_expected_tree_beside_the_actual_one() {
        let text = plain(&render(&one(fixture::failing()), Verbosity::Normal));
        let expected = "\
  checks
    ✘ the 4-span chain — 0 of 2 traces match wrong.rhai:41:1
        trace 4bf92f3577b34da6, at service1 checkStock (client) [c]
          expected: children: service2 checkStok (server)
          observed: no child service2 checkStok (server); instead: service2 checkStock (server)
        … and 1 more
          expected                                 actual (trace 4bf92f3577b34da6)
          front-proxy checkAvailability (client)   front-proxy checkAvailability (client)
            service1 checkAvailability (server)      service1 checkAvailability (server)
              service1 checkStock (client)             service1 checkStock (client)
        ✘       service2 checkStok (server)      ✘       service2 checkStock (server)
    ✘ each request is one trace (sandbox) — 1 of 2 requests are one trace
        trace aa, bb, request r-2
          expected: 1 trace
          observed: 2 traces: propagation broke
  warning: 1 of 8 spans did not reach the collector
  FAIL 0 of 2 checks passed in 0.25 s
";
        assert!(text.contains(expected), "\n{text}");
        assert!(!text.contains("slowest:"), "no traces drawn: {text}");
    }

    #[test]
    fn counts_of_one_read_in_the_singular() {
        let mut s = fixture::passing();
        s.traces.traces = 1;
        s.traces.polls = 1;
        s.traffic[0].summary.requests = 1;
        s.traffic[0].summary.errors = 1;
        let text = plain(&render(&one(s), Verbosity::Normal));
        assert!(text.contains(": 1 request, "), "{text}");
        assert!(text.contains(", 1 error, "), "{text}");
        assert!(
            text.contains("1 trace, 8 spans, complete after 1 poll, "),
            "{text}"
        );
    }

    #[test]
    fn quiet_keeps_failures_and_verdicts_only() {
        let text = plain(&render(&fixture::run(), Verbosity::Quiet));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "  PASS 2 of 2 checks passed in 0.25 s (jaeger-tracing sandbox)"
        );
        assert!(
            text.contains("✘       service2 checkStok (server)"),
            "{text}"
        );
        for absent in ["topology", "slowest:", "requested:", "✔"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        assert_eq!(
            lines.last().copied(),
            Some("FAIL 1 of 2 scenarios passed, 2 of 4 checks")
        );
    }

    #[test]
    fn verbose_adds_integrity_checks_delivery_and_span_tags() {
        let text = plain(&render(&fixture::run(), Verbosity::Verbose));
        assert!(
            text.contains(
                "    ✔ each request is one trace (sandbox) — 2 of 2 requests are one trace"
            ),
            "{text}"
        );
        assert!(text.contains("spans exported: 8 ended, 8 delivered, 0 failed"));
        assert!(
            text.contains(
                "      front-proxy checkAvailability │██░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░██│ 2.00 ms  self 200 µs\n        span.kind=client  http.status_code=200\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_requested_trace_and_run_warnings_come_after_the_scenarios() {
        let text = plain(&render(&fixture::run(), Verbosity::Normal));
        let requested = text.find("requested: trace 4bf92f3577b34da6").unwrap();
        let last_scenario = text.find("misspelt (wrong.rhai)").unwrap();
        assert!(requested > last_scenario, "{text}");
        assert!(text.contains("\nwarning: a run-level warning\n"), "{text}");
    }

    #[test]
    fn colour_marks_failures_in_red_on_a_terminal() {
        let text = render(&one(fixture::failing()), Verbosity::Normal);
        assert!(text.contains(&paint(RED, "✘")), "{text}");
        assert!(text.contains(&paint(RED, "FAIL")));
    }

    #[test]
    fn an_error_that_stopped_the_run_follows_the_finished_scenarios_and_ends_the_verdict() {
        let text = plain(&render(&fixture::aborted(), Verbosity::Normal));
        let expected = "\
  PASS 2 of 2 checks passed in 0.25 s

closures (closures.rhai)
  ✘ script error: closures.rhai:11:19: span(\"*\", \"*\"): where: the closure failed
  ERROR the run stopped here; this scenario's checks were not judged

warning: an error in closures (closures.rhai) stopped the run: 1 of 3 scenarios did not run
ERROR 1 of 3 scenarios passed, 2 of 2 checks
";
        assert!(text.ends_with(expected), "\n{text}");

        let quiet = plain(&render(&fixture::aborted(), Verbosity::Quiet));
        assert!(
            quiet.contains(
                "  ERROR the run stopped here; this scenario's checks were not judged (closures)\n"
            ),
            "{quiet}"
        );
        assert!(
            !quiet.lines().any(|l| l == "closures (closures.rhai)"),
            "no heading: {quiet}"
        );
    }
}
