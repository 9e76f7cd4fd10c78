//! The script API: the functions a scenario calls, one `register` per file.
//!
//! Script functions only build values and record declarations in a
//! [`Draft`]; nothing here runs per request or per span. `load` turns the
//! finished draft into a checked [`Scenario`](super::model::Scenario).
//!
//! Files: `topology` (scenario, proxy, service), `routes` (route, request,
//! parallel), `faults` (latency distributions, failures), `process`
//! (external programs), `targets` (systems outside tracelab that traffic
//! goes to), `traffic`, `expect` (span patterns,
//! expect_traces), `select` (structural selectors: child, descendant,
//! sibling), `closures` (the script's closures as predicates, run in its
//! sandbox; `strict` makes their silent falses errors), `predicates` (tag
//! and duration predicates), `checks`
//! (span counts, broken propagation, durations, integrity switches),
//! `responses` (expect_responses), `critical_path`
//! (expect_critical_path),
//! `http_values` (request targets, route paths, headers, methods).

pub mod checks;
pub mod closures;
pub mod critical_path;
pub mod expect;
pub mod faults;
pub mod http_values;
pub mod options;
pub mod predicates;
pub mod process;
pub mod responses;
pub mod routes;
pub mod select;
pub mod strict;
pub mod targets;
pub mod topology;
pub mod traffic;

use std::sync::{Arc, Mutex};

use rhai::Engine;

use super::model::{Component, Expectation, IntegrityChecks, Origin, Target, Traffic};

/// Everything a script has declared so far.
#[derive(Debug, Default)]
pub struct Draft {
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub components: Vec<Component>,
    pub targets: Vec<Target>,
    pub traffic: Vec<Traffic>,
    pub expectations: Vec<Expectation>,
    /// `integrity(...)` calls, applied in order once every block is known.
    pub integrity: Vec<IntegrityOverride>,
    /// Runs the script's closures when traces are judged.
    pub closures: Option<Arc<closures::ClosureRuntime>>,
}

impl Draft {
    /// The engine closures run on (made with the default limits when the
    /// script is not run by `load`).
    pub fn closure_runtime(&mut self) -> Arc<closures::ClosureRuntime> {
        Arc::clone(
            self.closures
                .get_or_insert_with(closures::ClosureRuntime::with_defaults),
        )
    }
}

/// Built-in checks switched on or off for one traffic block, or for all
/// of them (`traffic: None`).
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrityOverride {
    pub traffic: Option<String>,
    pub propagation: Option<bool>,
    pub complete: Option<bool>,
    pub single_root: Option<bool>,
    pub orphans: Option<bool>,
    pub unique_span_ids: Option<bool>,
    pub time_window: Option<bool>,
    pub reported: Option<bool>,
    pub responses: Option<bool>,
    pub judged: Option<bool>,
    pub origin: Origin,
}

impl IntegrityOverride {
    pub fn apply(&self, checks: &mut IntegrityChecks) {
        let pairs = [
            (&mut checks.propagation, self.propagation),
            (&mut checks.complete, self.complete),
            (&mut checks.single_root, self.single_root),
            (&mut checks.orphans, self.orphans),
            (&mut checks.unique_span_ids, self.unique_span_ids),
            (&mut checks.time_window, self.time_window),
            (&mut checks.reported, self.reported),
            (&mut checks.responses, self.responses),
            (&mut checks.judged, self.judged),
        ];
        for (slot, value) in pairs {
            if let Some(on) = value {
                *slot = on;
            }
        }
    }
}

pub type SharedDraft = Arc<Mutex<Draft>>;

pub fn register(engine: &mut Engine, draft: &SharedDraft) {
    topology::register(engine, draft);
    routes::register(engine);
    faults::register(engine);
    process::register(engine, draft);
    traffic::register(engine, draft);
    targets::register(engine, draft);
    predicates::register(engine);
    expect::register(engine, draft);
    select::register(engine);
    checks::register(engine, draft);
    responses::register(engine, draft);
    critical_path::register(engine, draft);
}

/// Names of every function the API registers, for the docs check.
pub const FUNCTIONS: &[&str] = &[
    "scenario",
    "proxy",
    "service",
    "process",
    "route",
    "request",
    "parallel",
    "uniform",
    "normal",
    "traffic",
    "target",
    "span",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "contains",
    "matches",
    "exists",
    "absent",
    "child",
    "descendant",
    "sibling",
    "expect_traces",
    "expect_spans",
    "expect_broken",
    "expect_duration",
    "integrity",
    "expect_responses",
    "expect_critical_path",
];

#[cfg(test)]
mod tests;
