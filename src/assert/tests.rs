//! Tests of the assertions as a whole, and the helpers the per-check test
//! modules share: requests, runs and gathered traces built by hand.

use super::tree::tests::{sandbox_pattern, sandbox_trace, trace};
use super::*;
use crate::scenario::model::{MatchMode, Origin, Quantifier, TagOp, TagPredicate};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

pub(crate) fn record(id: &str) -> RequestRecord {
    RequestRecord {
        request_id: id.into(),
        status: Some(200),
        latency: Duration::from_millis(1),
        trace_id: None,
        sampled: true,
        error: None,
        interrupted: false,
        sent: None,
    }
}

pub(crate) fn run(ids: &[&str]) -> TrafficRun {
    TrafficRun {
        name: "t".into(),
        target: "front-proxy".into(),
        records: ids.iter().map(|id| record(id)).collect(),
        started: SystemTime::now(),
        elapsed: Duration::from_millis(10),
    }
}

pub(crate) fn gathered(traces: Vec<(&str, Trace)>) -> Gathered {
    let mut g = Gathered::default();
    for (request, mut t) in traces {
        t.trace_id = format!("trace-{}", g.traces.len());
        g.by_request
            .entry(request.to_string())
            .or_default()
            .push(t.trace_id.clone());
        g.traces.insert(t.trace_id.clone(), t);
    }
    g
}

fn expect(quantifier: Quantifier) -> Expectation {
    Expectation {
        name: "shape".into(),
        traffic: "t".into(),
        check: Check::TraceShape {
            quantifier,
            mode: MatchMode::Strict,
            pattern: sandbox_pattern(),
        },
        origin: Origin::at(3, 1),
    }
}

/// Feed every request of `r` to `check`, as the judge does.
fn feed(mut check: Box<dyn Accumulate + '_>, g: &Gathered, r: &TrafficRun) -> Vec<Outcome> {
    let mut kept = Kept::default();
    let mut counts = BlockCounts::default();
    for_each_unit(r, g, |unit| {
        counts.add(unit.record, !unit.traces.is_empty());
        if !unit.record.interrupted {
            check.add(unit, &mut kept);
        }
    });
    check.finish(&counts)
}

pub(crate) fn judge(e: Expectation, g: &Gathered, r: &TrafficRun) -> Outcome {
    feed(expectation(&e, SHOWN), g, r).remove(0)
}

/// The built-in per-request and per-trace checks of block `r`.
fn integrity_of(r: &TrafficRun, g: &Gathered) -> Vec<Outcome> {
    let check = integrity::IntegrityJudge::new(
        &r.name,
        IntegrityChecks::default(),
        integrity::SHOWN,
        Default::default(),
    );
    feed(Box::new(check), g, r)
}

fn wrong_trace() -> Trace {
    trace(&[("a", None, "front-proxy", "checkAvailability", "client")])
}

#[test]
fn all_passes_when_every_trace_matches() {
    let g = gathered(vec![("r1", sandbox_trace()), ("r2", sandbox_trace())]);
    let o = judge(expect(Quantifier::All), &g, &run(&["r1", "r2"]));
    assert!(o.passed, "{o:?}");
    assert_eq!(o.observed, "2 of 2 traces match");
}

#[test]
fn all_fails_on_one_wrong_trace_and_shows_where() {
    let g = gathered(vec![("r1", sandbox_trace()), ("r2", wrong_trace())]);
    let o = judge(expect(Quantifier::All), &g, &run(&["r1", "r2"]));
    assert!(!o.passed);
    assert_eq!(o.failure_count, 1);
    assert_eq!(o.failures[0].trace_id.as_deref(), Some("trace-1"));
    assert!(
        o.failures[0]
            .observed
            .contains("no child service1 checkAvailability"),
        "{o:?}"
    );
}

#[test]
fn all_fails_when_no_trace_arrived() {
    let o = judge(expect(Quantifier::All), &Gathered::default(), &run(&["r1"]));
    assert!(!o.passed);
    assert!(o.failures[0].observed.contains("no traces"));
}

#[test]
fn quantifiers_count_matching_traces() {
    let g = gathered(vec![("r1", sandbox_trace()), ("r2", wrong_trace())]);
    let r = run(&["r1", "r2"]);
    let cases = [
        (Quantifier::Any, true),
        (Quantifier::None, false),
        (Quantifier::Exactly(1), true),
        (Quantifier::Exactly(2), false),
        (Quantifier::AtLeast(1), true),
        (Quantifier::AtLeast(2), false),
    ];
    for (q, want) in cases {
        assert_eq!(judge(expect(q), &g, &r).passed, want, "{q:?}");
    }
    let none = judge(expect(Quantifier::None), &g, &r);
    assert_eq!(none.failures[0].observed, "this trace matches");
}

#[test]
fn a_request_split_over_two_traces_fails_the_propagation_check() {
    let first = trace(&[
        ("a", None, "front-proxy", "checkAvailability", "client"),
        ("b", Some("a"), "service1", "checkAvailability", "server"),
    ]);
    let second = trace(&[
        ("c", None, "service1", "checkStock", "client"),
        ("d", Some("c"), "service2", "checkStock", "server"),
    ]);
    let g = gathered(vec![("r1", first), ("r1", second)]);
    let outcomes = integrity_of(&run(&["r1"]), &g);
    let propagation = outcomes
        .iter()
        .find(|o| o.name == "each request is one trace")
        .unwrap();
    assert!(!propagation.passed);
    assert_eq!(propagation.failures[0].request_id.as_deref(), Some("r1"));
    assert!(
        outcomes
            .iter()
            .filter(|o| o.name != propagation.name)
            .all(|o| o.passed)
    );
}

#[test]
fn a_sampled_request_without_a_trace_fails_completeness() {
    let g = gathered(vec![("r1", sandbox_trace())]);
    let outcomes = integrity_of(&run(&["r1", "r2"]), &g);
    let complete = outcomes
        .iter()
        .find(|o| o.name == "every sampled request has a trace")
        .unwrap();
    assert!(!complete.passed);
    assert_eq!(complete.failures[0].request_id.as_deref(), Some("r2"));
}

#[test]
fn orphans_and_time_windows_are_caught() {
    let mut t = trace(&[
        ("a", None, "front-proxy", "checkAvailability", "client"),
        ("b", Some("a"), "service1", "checkAvailability", "server"),
        ("c", Some("zz"), "service1", "checkStock", "client"),
    ]);
    t.spans[1].duration = 10_000; // child ends long after its parent
    let g = gathered(vec![("r1", t)]);
    let outcomes = integrity_of(&run(&["r1"]), &g);
    let failed: BTreeMap<&str, bool> = outcomes
        .iter()
        .map(|o| (o.name.as_str(), o.passed))
        .collect();
    assert!(!failed["no orphan spans"]);
    assert!(!failed["one root span per trace"]);
    assert!(!failed["children inside their parent's time window"]);
    assert!(failed["unique span ids"]);
    // Times read as a waterfall shows them, not as epoch microseconds.
    let window = outcomes
        .iter()
        .find(|o| o.name == "children inside their parent's time window")
        .unwrap();
    let f = &window.failures[0];
    assert_eq!(
        f.expected,
        "within its parent front-proxy checkAvailability (client), from 0µs to 100µs into the trace (1 ms of slack)"
    );
    assert_eq!(
        f.observed,
        "1µs to 10ms into the trace: it ends 9.9ms after its parent"
    );
}

/// An expectation on block "t" with this check.
pub(crate) fn expecting(check: Check) -> Expectation {
    Expectation {
        name: "under test".into(),
        traffic: "t".into(),
        check,
        origin: Origin::at(1, 1),
    }
}

/// A scenario with one traffic block "t" and these expectations.
fn scenario(expectations: Vec<Expectation>, integrity: IntegrityChecks) -> Scenario {
    Scenario {
        name: "s".into(),
        file: "s.rhai".into(),
        seed: 1,
        components: Vec::new(),
        targets: Vec::new(),
        traffic: vec![crate::scenario::model::Traffic {
            name: "t".into(),
            target: "front-proxy".into(),
            requests: 1,
            concurrency: 1,
            rate: None,
            method: "GET".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: String::new(),
            timeout: Duration::from_secs(1),
            trace_context: None,
            integrity,
            origin: Origin::default(),
        }],
        expectations,
    }
}

fn split_request() -> Gathered {
    let first = trace(&[
        ("a", None, "front-proxy", "checkAvailability", "client"),
        ("b", Some("a"), "service1", "checkAvailability", "server"),
    ]);
    let second = trace(&[
        ("c", None, "service1", "checkStock", "client"),
        ("d", Some("c"), "service2", "checkStock", "server"),
    ]);
    gathered(vec![("r1", first), ("r1", second)])
}

fn names(outcomes: &[Outcome]) -> Vec<&str> {
    outcomes.iter().map(|o| o.name.as_str()).collect()
}

#[test]
fn every_integrity_check_runs_by_default_and_passes_on_a_good_trace() {
    let g = gathered(vec![("r1", sandbox_trace())]);
    let outcomes = evaluate(
        &scenario(vec![], IntegrityChecks::default()),
        &[run(&["r1"])],
        &g,
    );
    assert_eq!(outcomes.len(), 9, "{:?}", names(&outcomes));
    assert!(outcomes.iter().all(|o| o.passed), "{outcomes:?}");
}

#[test]
fn a_switched_off_integrity_check_leaves_no_outcome() {
    let checks = IntegrityChecks {
        time_window: false,
        orphans: false,
        responses: false,
        ..IntegrityChecks::default()
    };
    let g = gathered(vec![("r1", sandbox_trace())]);
    let outcomes = evaluate(&scenario(vec![], checks), &[run(&["r1"])], &g);
    let names = names(&outcomes);
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(!names.contains(&"every request answered as expected"));
    assert!(!names.contains(&"no orphan spans"));
    assert!(!names.contains(&"children inside their parent's time window"));
}

#[test]
fn expect_broken_replaces_the_propagation_check_so_a_split_request_passes() {
    let broken = expecting(Check::BrokenPropagation {
        quantifier: Quantifier::All,
    });
    let outcomes = evaluate(
        &scenario(vec![broken], IntegrityChecks::default()),
        &[run(&["r1"])],
        &split_request(),
    );
    assert!(outcomes.iter().all(|o| o.passed), "{outcomes:?}");
    assert!(!names(&outcomes).contains(&"each request is one trace"));
}

#[test]
fn without_expect_broken_a_split_request_fails_the_propagation_check() {
    let outcomes = evaluate(
        &scenario(vec![], IntegrityChecks::default()),
        &[run(&["r1"])],
        &split_request(),
    );
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(failed, ["each request is one trace"]);
}

#[test]
fn two_roots_without_orphans_fail_only_the_single_root_check() {
    let t = trace(&[
        ("a", None, "front-proxy", "checkAvailability", "client"),
        ("b", None, "service1", "checkAvailability", "server"),
    ]);
    let g = gathered(vec![("r1", t)]);
    let outcomes = integrity_of(&run(&["r1"]), &g);
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.passed).collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].name, "one root span per trace");
    assert_eq!(failed[0].failures[0].expected, "1 root");
    assert!(failed[0].failures[0].observed.starts_with("2 roots: "));
}

#[test]
fn a_duplicate_span_id_fails_the_unique_ids_check_and_names_it() {
    let t = trace(&[
        ("a", None, "front-proxy", "checkAvailability", "client"),
        ("b", Some("a"), "service1", "checkAvailability", "server"),
        ("b", Some("a"), "service1", "checkAvailability", "server"),
    ]);
    let g = gathered(vec![("r1", t)]);
    let outcomes = integrity_of(&run(&["r1"]), &g);
    let unique = outcomes
        .iter()
        .find(|o| o.name == "unique span ids")
        .unwrap();
    assert!(!unique.passed);
    assert_eq!(unique.failures[0].span.as_deref(), Some("b"));
    assert_eq!(unique.failures[0].trace_id.as_deref(), Some("trace-0"));
}

#[test]
fn an_unsampled_request_without_a_trace_is_not_missing() {
    let mut r = run(&["r1", "r2"]);
    r.records[1].sampled = false;
    let g = gathered(vec![("r1", sandbox_trace())]);
    let outcomes = integrity_of(&r, &g);
    let complete = outcomes
        .iter()
        .find(|o| o.name == "every sampled request has a trace")
        .unwrap();
    assert!(complete.passed, "{complete:?}");
    assert_eq!(complete.observed, "1 of 1 sampled requests have a trace");
}

#[test]
fn an_expectation_declared_in_a_module_names_the_module() {
    let mut e = expect(Quantifier::All);
    e.origin.module = Some("lib/shapes.rhai".into());
    let o = Outcome::new(&e);
    assert_eq!(
        o.source,
        OutcomeSource::Expectation {
            line: 3,
            column: 1,
            module: Some("lib/shapes.rhai".into())
        }
    );
}

/// A loose pattern that fails on one condition of a span that is there.
fn loose_failure(tags: Vec<TagPredicate>, on_child: bool) -> Failure {
    use super::tree::tests::pat;
    // Every span of it carries http.status_code=200.
    let t = sandbox_trace();
    let mut child = pat("service2", "checkStock", "server", vec![]);
    let mut root = pat("front-proxy", "checkAvailability", "client", vec![]);
    if on_child {
        child.tags = tags;
    } else {
        root.tags = tags;
    }
    root.children.push(child);
    let e = Expectation {
        name: "loose".into(),
        traffic: "t".into(),
        check: Check::TraceShape {
            quantifier: Quantifier::All,
            mode: MatchMode::Loose,
            pattern: root,
        },
        origin: Origin::at(3, 1),
    };
    let o = judge(e, &gathered(vec![("r1", t)]), &run(&["r1"]));
    assert!(!o.passed);
    o.failures[0].clone()
}

fn tag(key: &str, op: TagOp) -> TagPredicate {
    TagPredicate {
        key: key.into(),
        op,
    }
}

#[test]
fn a_loose_failure_names_the_tag_predicate_exists_or_absent_that_failed() {
    let f = loose_failure(
        vec![tag("http.status_code", TagOp::Equals("503".into()))],
        true,
    );
    assert_eq!(
        f.expected,
        "a descendant service2 checkStock (server) with http.status_code=503"
    );
    assert_eq!(f.observed, "http.status_code=200");
    assert_eq!(f.span.as_deref(), Some("service2 checkStock (server) [d]"));
    assert_eq!(f.pattern_path, Some(vec![0]));

    let f = loose_failure(vec![tag("peer.address", TagOp::Exists)], true);
    assert_eq!(
        f.expected,
        "a descendant service2 checkStock (server) with peer.address exists"
    );
    assert_eq!(f.observed, "no tag peer.address");

    let f = loose_failure(vec![tag("http.status_code", TagOp::Absent)], true);
    assert_eq!(
        f.expected,
        "a descendant service2 checkStock (server) with no tag http.status_code"
    );
    assert_eq!(f.observed, "http.status_code=200");

    // At the root too.
    let f = loose_failure(vec![tag("component", TagOp::Exists)], false);
    assert_eq!(
        f.expected,
        "a span front-proxy checkAvailability (client) with component exists"
    );
    assert_eq!(f.observed, "no tag component");
}

/// An open model may fall a second behind, or a tenth of its length if
/// longer; a closed model has no schedule to keep.
#[test]
fn a_schedule_slips_past_a_second_or_a_tenth_of_the_block() {
    use crate::traffic::stats::Schedule;
    let mut block = scenario(Vec::new(), IntegrityChecks::default()).traffic[0].clone();
    assert_eq!(integrity::schedule_slack(&block), None);
    block.requests = 600;
    block.rate = Some(600.0);
    assert_eq!(
        integrity::schedule_slack(&block),
        Some(Duration::from_secs(1))
    );
    block.requests = 100_000;
    block.rate = Some(100.0);
    assert_eq!(
        integrity::schedule_slack(&block),
        Some(Duration::from_secs(100))
    );
    let behind = |ms: f64| Schedule {
        behind_ms: ms,
        waited_in_flight: 0,
        waited_for_judge: 7,
    };
    assert!(integrity::kept_its_schedule(&block, &behind(100_000.0)).is_none());
    let slipped = integrity::kept_its_schedule(&block, &behind(100_001.0)).expect("slipped");
    assert!(!slipped.passed);
    assert_eq!(slipped.traffic, "t");
    let observed = &slipped.failures[0].observed;
    assert!(
        observed.contains("7 requests waited for the judge to catch up"),
        "{observed}"
    );
    assert!(!observed.contains("places in flight"), "{observed}");
}
