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
pub mod predicates;
pub mod responses;
pub mod select;
pub mod shape;
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

/// A traffic block's requests and the traces they produced. Requests an
/// interrupt cut off in flight are left out (their traces are cut short
/// by design) and only counted.
pub struct BlockView<'a> {
    pub name: &'a str,
    pub records: Vec<&'a RequestRecord>,
    pub traces: Vec<&'a Trace>,
    pub traces_of: HashMap<&'a str, Vec<&'a Trace>>,
    pub counts: BlockCounts,
}

impl<'a> BlockView<'a> {
    pub fn new(run: &'a TrafficRun, gathered: &'a Gathered) -> BlockView<'a> {
        let mut traces_of: HashMap<&str, Vec<&Trace>> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        let mut traces = Vec::new();
        let mut counts = BlockCounts::default();
        let mut records = Vec::with_capacity(run.records.len());
        for record in &run.records {
            let ids = gathered
                .by_request
                .get(&record.request_id)
                .filter(|_| !record.interrupted);
            counts.add(record, ids.is_some());
            if record.interrupted {
                continue;
            }
            records.push(record);
            let Some(ids) = ids else {
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
            records,
            traces,
            traces_of,
            counts,
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
        outcomes.extend(block_checks(scenario, view, &checks));
        outcomes.extend(integrity::check(view, &checks));
    }
    outcomes
}

/// The built-in checks made from the block's counts: something to judge,
/// and answers as expected. A block that sent nothing was interrupted
/// before its first request: there is nothing to say of it.
fn block_checks(scenario: &Scenario, view: &BlockView<'_>, on: &IntegrityChecks) -> Vec<Outcome> {
    let Some(block) = scenario.traffic_block(view.name) else {
        return Vec::new();
    };
    if view.counts.sent == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    if on.judged {
        let sampling = scenario
            .component(&block.target)
            .map_or(1.0, |c| c.sampling);
        out.push(responses::judged(block, &view.counts, sampling));
    }
    if on.responses {
        let designed = crate::scenario::statuses::designed(scenario, block);
        let named: Vec<StatusPattern> = scenario
            .expectations
            .iter()
            .filter(|e| e.traffic == view.name)
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
            block,
            &view.counts,
            &designed,
            &named,
            &hints,
        ));
    }
    out
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
        Check::Responses { statuses, count } => {
            responses::expect_responses(&mut outcome, &block.counts, statuses, *count)
        }
        Check::CriticalPath(check) => critical_path::judge(&mut outcome, block, check),
    }
    outcome
}

#[cfg(test)]
pub(crate) mod tests;
