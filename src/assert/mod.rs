//! Assertions: the scenario's expectations and the integrity checks, judged
//! on the traces read back from the collector.
//!
//! `gather` reads traces through the Jaeger API, `tree` builds span trees
//! and matches patterns, `predicates` judges one span against one pattern
//! node. One file per kind of expectation: `shape` (expect_traces),
//! `counts` (expect_spans, expect_broken), `timing` (expect_duration);
//! `integrity` runs the built-in checks. The results are plain data
//! ([`Outcome`]) for the report to render.

pub mod counts;
pub mod gather;
pub mod integrity;
pub mod predicates;
pub mod shape;
pub mod timing;
pub mod tree;

use std::collections::HashMap;

use serde::Serialize;

use self::gather::Gathered;
use crate::jaeger::model::Trace;
use crate::scenario::model::{Check, Expectation, IntegrityChecks, Scenario};
use crate::traffic::{RequestRecord, TrafficRun};

/// How many failing traces an outcome lists; `failure_count` has them all.
pub(crate) const SHOWN: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub name: String,
    pub source: OutcomeSource,
    pub traffic: String,
    pub passed: bool,
    /// What was seen, in one line: "10 of 10 traces match".
    pub observed: String,
    pub failures: Vec<Failure>,
    pub failure_count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutcomeSource {
    /// Declared in the script at this place.
    Expectation {
        line: usize,
        column: usize,
        /// The imported module it was declared in; absent for the scenario.
        #[serde(skip_serializing_if = "Option::is_none")]
        module: Option<String>,
    },
    /// A built-in check.
    Integrity { check: &'static str },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<String>,
    pub expected: String,
    pub observed: String,
}

impl Outcome {
    /// A not-yet-judged outcome for an expectation of the script.
    pub fn new(e: &Expectation) -> Outcome {
        Outcome {
            name: e.name.clone(),
            source: OutcomeSource::Expectation {
                line: e.origin.line,
                column: e.origin.column,
                module: e.origin.module.as_deref().map(str::to_string),
            },
            traffic: e.traffic.clone(),
            passed: false,
            observed: String::new(),
            failures: Vec::new(),
            failure_count: 0,
        }
    }
}

/// A traffic block's requests and the traces they produced.
pub struct BlockView<'a> {
    pub name: &'a str,
    pub records: &'a [RequestRecord],
    pub traces: Vec<&'a Trace>,
    pub traces_of: HashMap<&'a str, Vec<&'a Trace>>,
}

impl<'a> BlockView<'a> {
    pub fn new(run: &'a TrafficRun, gathered: &'a Gathered) -> BlockView<'a> {
        let mut traces_of: HashMap<&str, Vec<&Trace>> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        let mut traces = Vec::new();
        for record in &run.records {
            let Some(ids) = gathered.by_request.get(&record.request_id) else {
                continue;
            };
            let list: Vec<&Trace> = ids
                .iter()
                .filter_map(|id| gathered.traces.get(id))
                .collect();
            for trace in &list {
                if seen.insert(trace.trace_id.as_str()) {
                    traces.push(*trace);
                }
            }
            traces_of.insert(record.request_id.as_str(), list);
        }
        BlockView {
            name: &run.name,
            records: &run.records,
            traces,
            traces_of,
        }
    }
}

/// Every expectation of the scenario, then the integrity checks of every
/// traffic block (those the script left on).
pub fn evaluate(scenario: &Scenario, runs: &[TrafficRun], gathered: &Gathered) -> Vec<Outcome> {
    let views: Vec<BlockView<'_>> = runs.iter().map(|r| BlockView::new(r, gathered)).collect();
    let mut outcomes: Vec<Outcome> = scenario
        .expectations
        .iter()
        .filter_map(|e| {
            let view = views.iter().find(|v| v.name == e.traffic)?;
            Some(expectation(e, view))
        })
        .collect();
    for view in &views {
        let checks = integrity_checks(scenario, view.name);
        outcomes.extend(integrity::check(view, &checks));
    }
    outcomes
}

/// The block's integrity checks; `expect_broken` takes over the
/// propagation check (broken propagation is then what passes).
fn integrity_checks(scenario: &Scenario, block: &str) -> IntegrityChecks {
    let mut checks = scenario
        .traffic_block(block)
        .map(|t| t.integrity)
        .unwrap_or_default();
    let expects_broken = scenario
        .expectations
        .iter()
        .any(|e| e.traffic == block && matches!(e.check, Check::BrokenPropagation { .. }));
    if expects_broken {
        checks.propagation = false;
    }
    checks
}

fn expectation(e: &Expectation, block: &BlockView<'_>) -> Outcome {
    let mut outcome = Outcome::new(e);
    match &e.check {
        Check::TraceShape {
            quantifier,
            mode,
            pattern,
        } => shape::judge(&mut outcome, block, *quantifier, *mode, pattern),
        Check::SpanCount {
            selector,
            count,
            scope,
        } => counts::span_count(&mut outcome, block, selector, *count, *scope),
        Check::BrokenPropagation { quantifier } => {
            counts::broken_propagation(&mut outcome, block, *quantifier)
        }
        Check::Duration { measured, bounds } => {
            timing::durations(&mut outcome, block, measured, bounds)
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::tree::tests::{sandbox_pattern, sandbox_trace, trace};
    use super::*;
    use crate::scenario::model::{MatchMode, Origin, Quantifier};
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    fn record(id: &str) -> RequestRecord {
        RequestRecord {
            request_id: id.into(),
            status: Some(200),
            latency: Duration::from_millis(1),
            trace_id: None,
            sampled: true,
            error: None,
        }
    }

    fn run(ids: &[&str]) -> TrafficRun {
        TrafficRun {
            name: "t".into(),
            target: "front-proxy".into(),
            records: ids.iter().map(|id| record(id)).collect(),
            started: SystemTime::now(),
            elapsed: Duration::from_millis(10),
        }
    }

    fn gathered(traces: Vec<(&str, Trace)>) -> Gathered {
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

    fn judge(e: Expectation, g: &Gathered, r: &TrafficRun) -> Outcome {
        expectation(&e, &BlockView::new(r, g))
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
        let outcomes = integrity::check(
            &BlockView::new(&run(&["r1"]), &g),
            &IntegrityChecks::default(),
        );
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
        let outcomes = integrity::check(
            &BlockView::new(&run(&["r1", "r2"]), &g),
            &IntegrityChecks::default(),
        );
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
        let outcomes = integrity::check(
            &BlockView::new(&run(&["r1"]), &g),
            &IntegrityChecks::default(),
        );
        let failed: BTreeMap<&str, bool> = outcomes
            .iter()
            .map(|o| (o.name.as_str(), o.passed))
            .collect();
        assert!(!failed["no orphan spans"]);
        assert!(!failed["one root span per trace"]);
        assert!(!failed["children inside their parent's time window"]);
        assert!(failed["unique span ids"]);
    }
}
