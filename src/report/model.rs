//! The report as plain data: what a run found, with no formatting. Every
//! output format (terminal, JSON, JUnit) renders this; it carries whatever
//! they draw (waterfalls, tree comparisons), gathered by `run`, so no
//! renderer ever queries a collector. `docs/report.schema.json` documents
//! its JSON form.

use serde::Serialize;

use super::compare::TreeComparison;
use super::waterfall::Waterfall;
use crate::analysis::span_stats::SpanStats;
use crate::assert::Outcome;
use crate::mesh::telemetry::DeliveryStats;
use crate::scenario::LoadError;
use crate::traffic::stats::TrafficSummary;

/// Bumped when a field changes meaning or disappears.
pub const SCHEMA: &str = "tracelab.report/v1";

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub schema: &'static str,
    pub tracelab_version: &'static str,
    pub scenarios: Vec<ScenarioReport>,
    /// The trace `--show-trace ID` asked for, read from the collector.
    pub shown_trace: Option<ShownTrace>,
    /// Things about the run as a whole the user should know.
    pub warnings: Vec<String>,
    pub passed: bool,
    /// Stopped by SIGINT/SIGTERM: the scenarios cover what ran until then.
    pub interrupted: bool,
    /// Scenarios that failed to load (exit 2): then nothing ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub load_errors: Vec<LoadFailure>,
    /// The error that stopped the run after it started (exit 2 or 3): the
    /// scenarios are those that finished before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aborted: Option<Aborted>,
}

/// An error that ended a run part way, and where.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Aborted {
    /// The scenario that was running (its name), none when the error
    /// struck after the last one finished.
    pub scenario: Option<String>,
    /// Its file, as given on the command line.
    pub file: Option<String>,
    pub kind: AbortKind,
    /// The error, as `tracelab: error:` says it.
    pub message: String,
    /// Scenarios after it that never started.
    pub not_run: usize,
}

/// What kind of error stopped the run, as its exit code tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortKind {
    /// The script: a closure that failed while traces were judged (exit 2).
    Script,
    /// The command line, e.g. a `--target` the scenario lacks (exit 2).
    Usage,
    /// A port, a collector, a Jaeger that stopped (exit 3).
    Infra,
}

impl AbortKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AbortKind::Script => "script",
            AbortKind::Usage => "usage",
            AbortKind::Infra => "infra",
        }
    }
}

/// A scenario that could not be loaded, and where.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoadFailure {
    /// The scenario as given on the command line.
    pub file: String,
    /// The file the error is in: the scenario, or an imported module.
    pub at: String,
    /// 0 when the error has no place in the text (an unreadable file).
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl LoadFailure {
    pub fn from_error(file: &std::path::Path, error: &LoadError) -> LoadFailure {
        match error {
            LoadError::Script(e) => LoadFailure {
                file: file.display().to_string(),
                at: e.place(),
                line: e.origin.line,
                column: e.origin.column,
                message: e.message.clone(),
            },
            LoadError::Read { .. } => LoadFailure {
                file: file.display().to_string(),
                at: file.display().to_string(),
                line: 0,
                column: 0,
                message: error.to_string(),
            },
        }
    }

    /// `file:line:col: message`, as the terminal says it.
    pub fn text(&self) -> String {
        if self.line == 0 {
            if self.message.starts_with(&self.at) {
                self.message.clone()
            } else {
                format!("{}: {}", self.at, self.message)
            }
        } else {
            format!(
                "{}:{}:{}: {}",
                self.at, self.line, self.column, self.message
            )
        }
    }
}

impl RunReport {
    pub fn new(scenarios: Vec<ScenarioReport>) -> Self {
        let passed = scenarios.iter().all(|s| s.passed);
        RunReport {
            schema: SCHEMA,
            tracelab_version: env!("CARGO_PKG_VERSION"),
            scenarios,
            shown_trace: None,
            warnings: Vec::new(),
            passed,
            interrupted: false,
            load_errors: Vec::new(),
            aborted: None,
        }
    }

    /// The report of a run that stopped before anything started, as some
    /// scenarios did not load: CI still gets its files, saying so.
    pub fn load_failed(load_errors: Vec<LoadFailure>) -> Self {
        RunReport {
            passed: false,
            load_errors,
            ..RunReport::new(Vec::new())
        }
    }

    /// Checks passed and checks run, over every scenario.
    pub fn checks(&self) -> (usize, usize) {
        self.scenarios.iter().fold((0, 0), |(p, t), s| {
            (p + s.checks_passed(), t + s.outcomes.len())
        })
    }
}

/// A trace drawn as a waterfall in the report, and why that one.
#[derive(Debug, Clone, Serialize)]
pub struct ShownTrace {
    pub reason: ShownReason,
    pub waterfall: Waterfall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShownReason {
    /// The scenario's slowest trace.
    Slowest,
    /// Named with `--show-trace`.
    Requested,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub file: String,
    pub collector: CollectorInfo,
    pub components: Vec<ComponentInfo>,
    pub traffic: Vec<TrafficReport>,
    pub traces: TraceStats,
    /// Latency per span name over the scenario's traces (`tracelab diff`
    /// compares them).
    pub spans: Vec<SpanStats>,
    /// Spans the components exported, summed.
    pub delivery: DeliveryStats,
    pub outcomes: Vec<Outcome>,
    /// One trace drawn as a waterfall (the slowest, unless `--show-trace`).
    pub shown_trace: Option<ShownTrace>,
    /// Expected beside actual tree for failed trace-shape expectations.
    pub comparisons: Vec<TreeComparison>,
    /// Things the user should know that are not failed checks.
    pub warnings: Vec<String>,
    pub passed: bool,
    /// Stopped by SIGINT/SIGTERM: traffic, traces and checks cover what was
    /// sent until then, and the scenario did not pass.
    pub interrupted: bool,
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
    /// The OTLP URL spans were exported to (over gRPC: the server's URL).
    pub otlp_traces_url: String,
    /// `http/protobuf` unless the run exported otherwise.
    pub otlp_protocol: crate::mesh::telemetry::OtlpProtocol,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    pub name: String,
    pub role: String,
    pub address: String,
}

impl From<&crate::mesh::Endpoint> for ComponentInfo {
    fn from(e: &crate::mesh::Endpoint) -> Self {
        ComponentInfo {
            name: e.name.clone(),
            role: e.role.to_string(),
            address: e.addr.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TrafficReport {
    pub name: String,
    pub target: String,
    #[serde(flatten)]
    pub summary: TrafficSummary,
    /// Trace ids the edge reported, in request order (unsampled ones left
    /// out): the first 10 000, so a soak's report stays small.
    pub trace_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceStats {
    pub traces: usize,
    pub spans: usize,
    /// Every sampled request had its trace and the span count held still.
    pub complete: bool,
    /// Traces the embedded collector evicted during the scenario (its max
    /// traces reached); a trace whose spans arrived apart may count twice.
    pub evicted: u64,
    pub waited_ms: f64,
    pub polls: u32,
    /// Traces judged as they were when their wait ran out (judging as the
    /// traffic runs); 0 when judged at the end.
    pub incomplete: u64,
}

/// A running `tracelab up`: what to open and what to curl.
#[derive(Debug, Clone, Serialize)]
pub struct LabInfo {
    pub scenario: String,
    pub file: String,
    pub components: Vec<ComponentInfo>,
    /// The first traffic block's URL, e.g. `http://127.0.0.1:8000/trace/1`.
    pub try_url: Option<String>,
    pub viewer_url: String,
    pub query_url: String,
    pub otlp_traces_url: String,
    /// The collector's other intakes: a name and a URL each (OTLP/gRPC,
    /// Zipkin, ...).
    pub intakes: Vec<(String, String)>,
}

/// What a `tracelab up` did, told when it stops.
#[derive(Debug, Clone, Serialize)]
pub struct LabStopped {
    pub delivery: DeliveryStats,
    /// Traces and spans the collector held at the end.
    pub traces: usize,
    pub spans: u64,
}

/// `tracelab traces`: the traces found, newest first, laid out.
#[derive(Debug, Clone, Serialize)]
pub struct TraceListing {
    /// The query API they came from.
    pub source: String,
    /// What was asked, e.g. "service front-proxy, limit 20".
    pub query: String,
    pub traces: Vec<Waterfall>,
}
