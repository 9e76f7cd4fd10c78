//! The report as plain data: what a run found, with no formatting. Every
//! output format (terminal, JSON, JUnit) renders this.

use serde::Serialize;

use crate::assert::Outcome;
use crate::mesh::telemetry::DeliveryStats;
use crate::traffic::stats::TrafficSummary;

/// Bumped when a field changes meaning or disappears.
pub const SCHEMA: &str = "tracelab.report/v1";

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub schema: &'static str,
    pub tracelab_version: &'static str,
    pub scenarios: Vec<ScenarioReport>,
    pub passed: bool,
}

impl RunReport {
    pub fn new(scenarios: Vec<ScenarioReport>) -> Self {
        let passed = scenarios.iter().all(|s| s.passed);
        RunReport {
            schema: SCHEMA,
            tracelab_version: env!("CARGO_PKG_VERSION"),
            scenarios,
            passed,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub file: String,
    pub collector: CollectorInfo,
    pub components: Vec<ComponentInfo>,
    pub traffic: Vec<TrafficReport>,
    pub traces: TraceStats,
    /// Spans the components exported, summed.
    pub delivery: DeliveryStats,
    pub outcomes: Vec<Outcome>,
    /// Things the user should know that are not failed checks.
    pub warnings: Vec<String>,
    pub passed: bool,
    pub duration_ms: f64,
}

impl ScenarioReport {
    pub fn checks_passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed).count()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CollectorInfo {
    /// `embedded` or `jaeger`.
    pub kind: String,
    pub query_url: String,
    pub otlp_traces_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    pub name: String,
    pub role: String,
    pub address: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrafficReport {
    pub name: String,
    pub target: String,
    #[serde(flatten)]
    pub summary: TrafficSummary,
    /// Trace ids the edge reported, in request order (unsampled ones left out).
    pub trace_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceStats {
    pub traces: usize,
    pub spans: usize,
    /// Every sampled request had its trace and the span count held still.
    pub complete: bool,
    pub waited_ms: f64,
    pub polls: u32,
}
