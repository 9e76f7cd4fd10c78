//! Assertions: the scenario's expectations and the integrity checks, judged
//! on the traces read back from the collector.
//!
//! `gather` reads traces through the Jaeger API, `tree` builds span trees
//! and matches patterns, `predicates` judges one span against one pattern
//! node, `select` picks the spans a structural selector names. One file
//! per kind of expectation: `shape` (expect_traces), `counts`
//! (expect_spans, expect_broken), `timing` (expect_duration), `responses`
//! (expect_responses, and the built-in checks made from a block's counts
//! alone: answers as expected, something to judge), `critical_path`
//! (expect_critical_path); `integrity` runs the built-in checks on traces;
//! `client_span` puts tracelab's own span back into traces it started for
//! an external target. The results are plain data ([`Outcome`]) for the
//! report to render.

pub mod client_span;
pub mod counts;
pub mod critical_path;
pub mod gather;
pub mod integrity;
pub mod judge;
pub mod predicates;
pub mod responses;
pub mod select;
pub mod shape;
pub mod stream;
pub mod timing;
pub mod tree;

use std::collections::HashMap;

use serde::Serialize;

use self::gather::Gathered;
use self::responses::BlockCounts;
use crate::jaeger::model::Trace;
use crate::scenario::model::{Check, Expectation, IntegrityChecks, Scenario, StatusPattern};
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

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Failure {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<String>,
    pub expected: String,
    pub observed: String,
    /// For a trace shape: the expected span the difference is about, as
    /// child indices from the pattern's root (`[]` is the root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern_path: Option<Vec<usize>>,
    /// The actual spans where the difference shows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub span_ids: Vec<String>,
}

impl Failure {
    /// The block produced no traces at all, so `expected` cannot be judged.
    pub fn no_traces(expected: String) -> Failure {
        Failure {
            expected,
            observed: "no traces of this traffic reached the collector".into(),
            ..Failure::default()
        }
    }

    /// Where it happened, for people: "trace T, request R, at SPAN", or
    /// `None` when the failure is about the block as a whole.
    pub fn location(&self) -> Option<String> {
        let mut at = Vec::new();
        if let Some(t) = &self.trace_id {
            at.push(format!("trace {t}"));
        }
        if let Some(r) = &self.request_id {
            at.push(format!("request {r}"));
        }
        if let Some(span) = &self.span {
            at.push(format!("at {span}"));
        }
        (!at.is_empty()).then(|| at.join(", "))
    }
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

/// One request of a block and the traces read back for it: what every
/// check is fed, one at a time, so that a run of a million requests never
/// holds them all. `new` are the traces no earlier request of the block
/// had (a trace two requests share is judged once).
pub struct Unit<'a> {
    pub record: &'a RequestRecord,
    pub traces: &'a [&'a Trace],
    pub new: &'a [&'a Trace],
}

/// The traces failures point at, kept in full for the report (trees side
/// by side, the failing example) after the rest have gone.
#[derive(Default)]
pub struct Kept {
    pub traces: HashMap<String, Trace>,
}

impl Kept {
    pub fn keep(&mut self, trace: &Trace) {
        if !self.traces.contains_key(&trace.trace_id) {
            self.traces.insert(trace.trace_id.clone(), trace.clone());
        }
    }
}

/// A check judged one request at a time: `add` each, then `finish`.
pub trait Accumulate: Send {
    fn add(&mut self, unit: &Unit<'_>, kept: &mut Kept);
    fn finish(self: Box<Self>, counts: &BlockCounts) -> Vec<Outcome>;
    /// Failed already, whatever is still to come.
    fn failed_for_sure(&self) -> bool {
        false
    }
}

/// How many failing traces each check lists (the count has them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub expectations: usize,
    pub integrity: usize,
}

impl Default for Shown {
    fn default() -> Self {
        Shown {
            expectations: SHOWN,
            integrity: integrity::SHOWN,
        }
    }
}

impl Shown {
    /// `--failures N`: the same for every check.
    pub fn all(n: usize) -> Shown {
        Shown {
            expectations: n,
            integrity: n,
        }
    }
}

/// Every request of `run` with its traces from `gathered`, in order, fed
/// to `feed` (traces two requests share are `new` only the first time).
pub fn for_each_unit(run: &TrafficRun, gathered: &Gathered, mut feed: impl FnMut(&Unit<'_>)) {
    let mut seen = std::collections::HashSet::new();
    for record in &run.records {
        let traces: Vec<&Trace> = gathered
            .by_request
            .get(&record.request_id)
            .filter(|_| !record.interrupted)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| gathered.traces.get(id))
                    .collect()
            })
            .unwrap_or_default();
        let new: Vec<&Trace> = traces
            .iter()
            .copied()
            .filter(|t| seen.insert(t.trace_id.as_str()))
            .collect();
        feed(&Unit {
            record,
            traces: &traces,
            new: &new,
        });
    }
}

/// Every expectation of the scenario, then the integrity checks of every
/// traffic block (those the script left on), judged on traces gathered at
/// the end: the same [`judge::Judge`] a streaming run feeds as traces
/// complete, fed here all at once.
pub fn evaluate(scenario: &Scenario, runs: &[TrafficRun], gathered: &Gathered) -> Vec<Outcome> {
    let mut judge = judge::Judge::new(scenario, Shown::default());
    for run in runs {
        for_each_unit(run, gathered, |unit| judge.add(&run.name, unit));
    }
    judge.finish().outcomes
}

/// The built-in checks made from the block's counts: something to judge,
/// and answers as expected. A block that sent nothing was interrupted
/// before its first request: there is nothing to say of it.
pub(crate) fn block_checks(
    scenario: &Scenario,
    name: &str,
    counts: &BlockCounts,
    on: &IntegrityChecks,
) -> Vec<Outcome> {
    let Some(block) = scenario.traffic_block(name) else {
        return Vec::new();
    };
    if counts.sent == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    if on.judged {
        let sampling = scenario
            .component(&block.target)
            .map_or(1.0, |c| c.sampling);
        out.push(responses::judged(block, counts, sampling));
    }
    if on.responses {
        let designed = crate::scenario::statuses::designed(scenario, block);
        let named: Vec<StatusPattern> = scenario
            .expectations
            .iter()
            .filter(|e| e.traffic == name)
            .filter_map(|e| match &e.check {
                Check::Responses { statuses, .. } => Some(statuses.iter().copied()),
                _ => None,
            })
            .flatten()
            .collect();
        // Envoy answers 404 where no route matches: say where.
        let unrouted = crate::scenario::statuses::unrouted(scenario, block);
        let hints: Vec<(u16, String)> = (!unrouted.is_empty())
            .then(|| {
                (
                    404,
                    format!("{} (Envoy's 404, flag NR)", unrouted.join("; ")),
                )
            })
            .into_iter()
            .collect();
        out.push(responses::responses(
            block, counts, &designed, &named, &hints,
        ));
    }
    out
}

/// The block's integrity checks; `expect_broken` takes over the
/// propagation check (broken propagation is then what passes).
pub(crate) fn integrity_checks(scenario: &Scenario, block: &str) -> IntegrityChecks {
    let mut checks = scenario
        .traffic_block(block)
        .map(|t| t.integrity)
        .unwrap_or_default();
    let expects_broken = scenario
        .expectations
        .iter()
        .any(|e| e.traffic == block && matches!(e.check, Check::BrokenPropagation { .. }));
    if expects_broken {
        // Spans of a call may then sit in another trace, as the script says.
        checks.propagation = false;
        checks.reported = false;
    }
    checks
}

/// The accumulator that judges expectation `e`.
pub(crate) fn expectation<'s>(e: &'s Expectation, shown: usize) -> Box<dyn Accumulate + 's> {
    let outcome = Outcome::new(e);
    match &e.check {
        Check::TraceShape {
            quantifier,
            mode,
            pattern,
        } => Box::new(shape::ShapeJudge::new(
            outcome,
            *quantifier,
            *mode,
            pattern,
            shown,
        )),
        Check::SpanCount {
            selector,
            count,
            scope,
        } => Box::new(counts::SpanCountJudge::new(
            outcome, selector, *count, *scope, shown,
        )),
        Check::BrokenPropagation { quantifier } => {
            Box::new(counts::BrokenJudge::new(outcome, *quantifier, shown))
        }
        Check::Duration { measured, bounds } => {
            Box::new(timing::DurationJudge::new(outcome, measured, bounds, shown))
        }
        Check::Responses { statuses, count } => Box::new(responses::ResponsesJudge {
            outcome,
            statuses,
            count: *count,
        }),
        Check::CriticalPath(check) => {
            Box::new(critical_path::PathJudge::new(outcome, check, shown))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
