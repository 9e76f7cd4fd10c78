use std::path::Path;

use super::input::{Percentiles, Report};
use super::*;

/// The renderers' fixture report (the sandbox passing, a misspelt copy
/// failing), as `diff` reads it.
fn report() -> Report {
    let text = crate::report::json::render(&crate::report::fixture::run());
    input::parse(Path::new("fixture.json"), text.as_bytes()).unwrap()
}

fn run(old: &Report, new: &Report, t: &Thresholds) -> ReportDiff {
    diff(("old.json", old), ("new.json", new), t).unwrap()
}

fn ms(p50: f64, p90: f64) -> Percentiles {
    Percentiles {
        p50,
        p90,
        p99: p90,
        max: p90,
    }
}

fn span_mut<'a>(r: &'a mut Report, label: &str) -> &'a mut input::SpanStats {
    r.scenarios[0]
        .spans
        .as_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s.label() == label)
        .unwrap_or_else(|| panic!("{label}"))
}

#[test]
fn a_report_compared_with_itself_has_nothing_worse() {
    let d = run(&report(), &report(), &Thresholds::default());
    assert_eq!(d.worse, 0);
    assert_eq!(d.scenarios.len(), 2);
    let s = &d.scenarios[0];
    assert!(s.checks.is_empty());
    assert_eq!(s.spans.len(), 4);
    assert!(s.spans.iter().all(|x| !x.worse && !x.slowed_here));
    assert_eq!(s.traffic[0].changes[0].ratio, Some(1.0));
}

#[test]
fn latency_added_in_service2_names_its_span_as_slowed_and_its_callers_as_waiting() {
    let old = report();
    let mut new = report();
    // 20 ms more in service2: its own time; every caller waits for it.
    for (label, extra_self) in [
        ("service2 checkStock (server)", 20.0),
        ("service1 checkStock (client)", 0.0),
        ("service1 checkAvailability (server)", 0.0),
        ("front-proxy checkAvailability (client)", 0.0),
    ] {
        let s = span_mut(&mut new, label);
        s.duration_ms = ms(s.duration_ms.p50 + 20.0, s.duration_ms.p90 + 20.0);
        s.self_ms = ms(s.self_ms.p50 + extra_self, s.self_ms.p90 + extra_self);
    }
    new.scenarios[0].traffic[0].latency_ms = ms(21.5, 22.25);
    let d = run(&old, &new, &Thresholds::default());
    let s = &d.scenarios[0];
    assert_eq!(s.worse, 5, "the block and four spans");
    assert_eq!(d.worse, 5);
    assert!(s.traffic[0].worse);
    let first = &s.spans[0];
    assert_eq!(
        first.name, "service2 checkStock (server)",
        "the largest growth first"
    );
    assert!(first.worse && first.slowed_here);
    let slowed: Vec<&str> = s
        .spans
        .iter()
        .filter(|x| x.slowed_here)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(slowed, ["service2 checkStock (server)"]);
    let p50 = &first.changes[0];
    assert_eq!(
        (p50.percentile, p50.old_ms, p50.new_ms),
        (Pct::P50, 0.6, 20.6)
    );
    assert!((p50.ratio.unwrap() - 20.6 / 0.6).abs() < 1e-9);
}

#[test]
fn small_or_unjudged_changes_are_not_worse() {
    let old = report();
    let mut new = report();
    // ×3, but only 1.2 ms: under the 2 ms noise floor.
    let s2 = span_mut(&mut new, "service2 checkStock (server)");
    s2.duration_ms.p50 = 1.8;
    s2.duration_ms.p90 = 1.8;
    // p99 and max are shown but not judged by default.
    let s = span_mut(&mut new, "service1 checkStock (client)");
    s.duration_ms.p99 = 50.0;
    s.duration_ms.max = 50.0;
    let d = run(&old, &new, &Thresholds::default());
    assert_eq!(d.worse, 0, "{d:#?}");
    let strict = Thresholds {
        min_delta_ms: 0.5,
        percentiles: vec![Pct::P99],
        ..Thresholds::default()
    };
    let d = run(&old, &new, &strict);
    let worse: Vec<&str> = d.scenarios[0]
        .spans
        .iter()
        .filter(|x| x.worse)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(worse, ["service1 checkStock (client)"]);
}

#[test]
fn faster_is_better_never_worse() {
    let old = report();
    let mut new = report();
    new.scenarios[0].traffic[0].latency_ms = ms(0.1, 0.1);
    let mut slow_old = old.clone();
    slow_old.scenarios[0].traffic[0].latency_ms = ms(30.0, 40.0);
    let d = run(&slow_old, &new, &Thresholds::default());
    assert_eq!(d.worse, 0);
    assert!(d.scenarios[0].traffic[0].changes[0].better);
}

#[test]
fn checks_that_start_failing_are_worse_and_the_others_are_listed() {
    let old = report();
    let mut new = report();
    // The passing scenario's chain check now fails; the failing
    // scenario's chain check now passes; a new failing check appears; an
    // old one vanishes.
    new.scenarios[0].outcomes[0].passed = false;
    new.scenarios[0].outcomes[0].observed = "0 of 2 traces match".into();
    new.scenarios[1].outcomes[0].passed = true;
    let mut added = new.scenarios[1].outcomes[1].clone();
    added.name = "a new check".into();
    new.scenarios[1].outcomes.push(added);
    new.scenarios[1].outcomes.remove(1);
    let d = run(&old, &new, &Thresholds::default());
    let changes = |i: usize| -> Vec<(String, Option<bool>, Option<bool>, bool)> {
        d.scenarios[i]
            .checks
            .iter()
            .map(|c| (c.name.clone(), c.old, c.new, c.worse))
            .collect()
    };
    assert_eq!(
        changes(0),
        [("the 4-span chain".into(), Some(true), Some(false), true)]
    );
    assert_eq!(
        d.scenarios[0].checks[0].old_observed.as_deref(),
        Some("2 of 2 traces match")
    );
    assert_eq!(
        changes(1),
        [
            ("the 4-span chain".into(), Some(false), Some(true), false),
            ("a new check".into(), None, Some(false), true),
            ("each request is one trace".into(), Some(false), None, false),
        ]
    );
    assert_eq!(d.worse, 2);
}

#[test]
fn spans_and_services_that_appear_or_vanish_are_listed_and_fail_only_when_asked() {
    let old = report();
    let mut new = report();
    let spans = new.scenarios[0].spans.as_mut().unwrap();
    spans.retain(|s| s.service != "service2");
    let mut cache = spans[0].clone();
    cache.service = "cache".into();
    cache.operation = "lookup".into();
    spans.push(cache);
    let d = run(&old, &new, &Thresholds::default());
    let s = &d.scenarios[0];
    assert_eq!(s.services_appeared, ["cache"]);
    assert_eq!(s.services_vanished, ["service2"]);
    let appeared: Vec<&str> = s
        .spans
        .iter()
        .filter(|x| x.old.is_none())
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(appeared, ["cache lookup (client)"]);
    assert!(
        s.spans
            .iter()
            .any(|x| x.new.is_none() && x.name == "service2 checkStock (server)")
    );
    assert_eq!(d.worse, 0);
    let strict = Thresholds {
        fail_on_shape_change: true,
        ..Thresholds::default()
    };
    assert_eq!(run(&old, &new, &strict).worse, 4, "2 spans and 2 services");
}

#[test]
fn reports_without_a_common_scenario_or_span_statistics_say_so() {
    let old = report();
    let mut other = report();
    for s in &mut other.scenarios {
        s.name.push_str(" (renamed)");
    }
    let err = diff(
        ("old.json", &old),
        ("new.json", &other),
        &Thresholds::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "old.json and new.json have no scenario in common: nothing to compare"
    );
    let mut bare = report();
    bare.scenarios[0].spans = None;
    bare.scenarios.truncate(1);
    let d = run(&bare, &old, &Thresholds::default());
    assert_eq!(
        d.notes,
        [
            "jaeger-tracing sandbox: OLD has no per-span statistics (written by an older tracelab): spans and services not compared"
        ]
    );
    assert_eq!(d.scenarios_appeared, ["misspelt"]);
}

#[test]
fn a_report_of_a_run_an_error_stopped_says_so() {
    let mut new = report();
    new.aborted = Some(input::Aborted {
        scenario: Some("misspelt".into()),
        message: "s.rhai:3:1: the closure failed".into(),
    });
    let d = run(&report(), &new, &Thresholds::default());
    assert_eq!(
        d.notes,
        [
            "NEW (new.json) stopped at \"misspelt\" on an error, and covers only the scenarios before it: s.rhai:3:1: the closure failed"
        ]
    );
}
