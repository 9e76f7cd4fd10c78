//! The scenario as plain Rust data: what a script declared, with no trace of
//! Rhai. The mesh, the traffic generator and the assertions read only this.
//!
//! This file holds the scenario, its topology, faults and traffic;
//! `expect` holds the expectations (patterns, predicates, bounds),
//! `select` the structural selectors, `closure` the script's closures as
//! opaque predicates, `critical_path` what `expect_critical_path` bounds.

mod closure;
mod critical_path;
mod expect;
mod select;

pub use closure::*;
pub use critical_path::*;
pub use expect::*;
pub use select::*;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where in the script something was declared, for error messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub line: usize,
    pub column: usize,
    /// The imported module it was declared in; `None` for the scenario file.
    pub module: Option<Arc<str>>,
}

impl Origin {
    pub fn at(line: usize, column: usize) -> Origin {
        Origin {
            line,
            column,
            module: None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.module {
            Some(module) => write!(f, "{module}:{}:{}", self.line, self.column),
            None => write!(f, "{}:{}", self.line, self.column),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub file: PathBuf,
    /// Seeds every random choice (faults, sampling), so a run repeats.
    pub seed: u64,
    pub components: Vec<Component>,
    /// Systems outside tracelab that traffic goes to (`target(...)`).
    pub targets: Vec<Target>,
    pub traffic: Vec<Traffic>,
    pub expectations: Vec<Expectation>,
}

impl Scenario {
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    pub fn traffic_block(&self, name: &str) -> Option<&Traffic> {
        self.traffic.iter().find(|t| t.name == name)
    }

    /// The first failure of a closure of the script's expectations, once
    /// they judged traces: the run must stop (exit 2) rather than report.
    pub fn closure_failure(&self) -> Option<ClosureError> {
        fn in_pattern(p: &SpanPattern) -> Option<&ClosureError> {
            let tags = p.tags.iter().filter_map(|t| match &t.op {
                TagOp::Satisfies(c) => c.failure(),
                _ => None,
            });
            p.checks
                .iter()
                .filter_map(Closure::failure)
                .chain(tags)
                .next()
                .or_else(|| p.children.iter().find_map(in_pattern))
        }
        self.expectations.iter().find_map(|e| {
            let patterns: Vec<&SpanPattern> = match &e.check {
                Check::TraceShape { pattern, .. } => vec![pattern],
                Check::SpanCount { selector, .. } => selector.patterns(),
                Check::Duration {
                    measured: Measured::Spans(selector),
                    ..
                } => selector.patterns(),
                Check::CriticalPath(CriticalPathCheck {
                    part: PathPart::Spans(selector),
                    ..
                }) => selector.patterns(),
                _ => Vec::new(),
            };
            patterns.into_iter().find_map(in_pattern).cloned()
        })
    }
}

/// A proxy is an edge Envoy: it forwards and reports one client span per
/// request. A service is an Envoy sidecar with its app: a server span on the
/// way in, a client span per call the app makes. A process is a real
/// program tracelab starts; its spans are its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Proxy,
    Service,
    Process,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Proxy => "proxy",
            Role::Service => "service",
            Role::Process => "process",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Also its `service.name` and the cluster name others route to.
    pub name: String,
    pub role: Role,
    /// A fixed listen port; `None` picks a free one.
    pub port: Option<u16>,
    pub propagation: Propagation,
    pub routes: Vec<Route>,
    /// The share of the traces this component starts that it samples
    /// (0 to 1); a trace started upstream keeps the caller's decision.
    pub sampling: f64,
    /// The program behind a [`Role::Process`] component.
    pub program: Option<Program>,
    pub origin: Origin,
}

impl Component {
    /// The formats its client spans' context goes out in: a sidecar
    /// writes them even for an app that drops trace headers (its context
    /// is then a new trace's).
    pub fn writes(&self) -> Vec<HeaderFormat> {
        match &self.propagation {
            Propagation::Formats(formats) => formats.clone(),
            Propagation::None => Propagation::default_formats(),
        }
    }

    /// The formats it continues a caller's trace from: a service's
    /// sidecar reads them whatever its app does; a proxy or a program that
    /// drops trace context reads none.
    pub fn reads(&self) -> Vec<HeaderFormat> {
        match (&self.propagation, self.role) {
            (Propagation::Formats(formats), _) => formats.clone(),
            (Propagation::None, Role::Service) => Propagation::default_formats(),
            (Propagation::None, Role::Proxy | Role::Process) => Vec::new(),
        }
    }

    /// Whether its span of a call from `caller` joins the caller's trace.
    pub fn continues(&self, caller: &Component) -> bool {
        let read = self.reads();
        caller.writes().iter().any(|f| read.contains(f))
    }
}

/// A system running outside tracelab (a staging deployment, an app started
/// by hand): traffic goes to its URL, tracelab starts each request's trace
/// and finds what the system reported in the collector.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    /// `http://host:port`, as the script gave it (without a trailing `/`).
    pub url: String,
    /// `host:port` of the URL (port 80 when it names none).
    pub authority: String,
    /// The trace-context formats tracelab's traffic sends it (`None`:
    /// none, its traces are found by `x-request-id` only).
    pub propagation: Propagation,
    /// The services to search for traces of its requests that tracelab did
    /// not start (propagation broken inside it); empty: every service the
    /// query API lists.
    pub services: Vec<String>,
    /// How long the span count must hold still before its traces are
    /// judged: above its exporter's batch delay.
    pub settle: Duration,
    pub origin: Origin,
}

/// An external program run as a component (`process(...)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Extra environment, on top of what tracelab passes.
    pub env: Vec<(String, String)>,
    /// Where it runs: the scenario's folder.
    pub dir: PathBuf,
    /// How long it may take to open its port.
    pub ready_timeout: Duration,
    /// How long it gets to exit after SIGTERM before it is killed.
    pub stop_timeout: Duration,
}

/// Trace-context header formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderFormat {
    /// W3C `traceparent` / `tracestate`.
    W3c,
    /// Zipkin B3, one header per field (`x-b3-traceid`, ...).
    B3,
    /// Zipkin B3 in the single `b3` header.
    B3Single,
    /// Jaeger's `uber-trace-id`.
    Jaeger,
}

impl HeaderFormat {
    pub fn name(self) -> &'static str {
        match self {
            HeaderFormat::W3c => "w3c",
            HeaderFormat::B3 => "b3",
            HeaderFormat::B3Single => "b3-single",
            HeaderFormat::Jaeger => "jaeger",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "w3c" => HeaderFormat::W3c,
            "b3" => HeaderFormat::B3,
            "b3-single" => HeaderFormat::B3Single,
            "jaeger" => HeaderFormat::Jaeger,
            _ => return None,
        })
    }
}

/// How a component reads and passes on trace context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Propagation {
    /// Read the first format present (in this order), write all of them.
    Formats(Vec<HeaderFormat>),
    /// An app that drops trace headers: every call it makes starts a new
    /// trace (it still forwards `x-request-id`, as most apps do).
    None,
}

impl Propagation {
    /// What the sandbox's Envoys speak (B3), plus W3C.
    pub fn default_formats() -> Vec<HeaderFormat> {
        vec![HeaderFormat::B3, HeaderFormat::W3c]
    }
}

impl Default for Propagation {
    fn default() -> Self {
        Propagation::Formats(Propagation::default_formats())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
}

impl PathMatch {
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(p) => p == path,
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

impl fmt::Display for PathMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathMatch::Exact(p) => f.write_str(p),
            PathMatch::Prefix(p) => write!(f, "{p}*"),
        }
    }
}

/// The header an egress Envoy sends so the next hop names its server span
/// after the route's or the call's `operation` (Envoy's decorator).
pub const DECORATOR_HEADER: &str = "x-envoy-decorator-operation";

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub path: PathMatch,
    /// Envoy's route decorator: names the span on both sides of the hop.
    pub operation: Option<String>,
    pub action: Action,
    pub faults: Faults,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A proxy route: send the request on to a cluster (a component).
    Forward {
        cluster: String,
        policy: UpstreamPolicy,
    },
    /// A service route: the app's handler.
    Respond(Handler),
}

/// Faults injected on a route, drawn per request from the scenario's seed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Added before the route does anything else.
    pub latency: Option<Latency>,
    /// Answer this status instead of doing the route's work.
    pub abort: Option<Abort>,
}

impl Faults {
    pub fn is_empty(&self) -> bool {
        self.latency.is_none() && self.abort.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Latency {
    Fixed(Duration),
    /// Every value in `low..=high` equally likely.
    Uniform {
        low: Duration,
        high: Duration,
    },
    /// Gaussian, cut at zero.
    Normal {
        mean: Duration,
        std_dev: Duration,
    },
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: &Duration| format!("{}ms", d.as_secs_f64() * 1000.0);
        match self {
            Latency::Fixed(d) => f.write_str(&ms(d)),
            Latency::Uniform { low, high } => write!(f, "uniform({}, {})", ms(low), ms(high)),
            Latency::Normal { mean, std_dev } => {
                write!(f, "normal({}, {})", ms(mean), ms(std_dev))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Abort {
    pub status: u16,
    /// 0 to 1.
    pub probability: f64,
}

/// How a hop calls the next one: Envoy's route timeout and retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct UpstreamPolicy {
    /// The whole exchange, retries included (Envoy's default is 15 s).
    pub timeout: Option<Duration>,
    /// Extra attempts after a 5xx, a connection failure or a per-try timeout.
    pub retries: u32,
    /// Each attempt; the whole `timeout` when absent.
    pub per_try_timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Handler {
    pub steps: Vec<Step>,
    pub reply: Reply,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Call(Call),
    /// Calls made at the same time; the step ends when all have answered.
    Parallel(Vec<Call>),
}

impl Step {
    pub fn calls(&self) -> &[Call] {
        match self {
            Step::Call(call) => std::slice::from_ref(call),
            Step::Parallel(calls) => calls,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub service: String,
    pub method: String,
    pub path: String,
    /// The egress route's decorator; Envoy's default is `egress <host>`.
    pub operation: Option<String>,
    pub policy: UpstreamPolicy,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Default for Reply {
    fn default() -> Self {
        Reply {
            status: 200,
            body: String::new(),
            headers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    pub name: String,
    /// The component the requests enter through.
    pub target: String,
    /// How many requests the block sends in all.
    pub requests: u64,
    /// Closed model: this many requests in flight, each sent when one ends.
    pub concurrency: usize,
    /// Open model: requests per second, sent on schedule however slow the
    /// answers (`requests` = rate × duration).
    pub rate: Option<f64>,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub timeout: Duration,
    /// Traffic to an external [`Target`]: tracelab starts each request's
    /// trace and sends its context in these formats (an empty list: none).
    /// `None`: the entry component starts the trace.
    pub trace_context: Option<Vec<HeaderFormat>>,
    /// The built-in checks this block's traces go through.
    pub integrity: IntegrityChecks,
    pub origin: Origin,
}

/// The built-in checks, each on unless the script switches it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrityChecks {
    /// Each request is one trace.
    pub propagation: bool,
    /// Every sampled request has a trace.
    pub complete: bool,
    pub single_root: bool,
    pub orphans: bool,
    pub unique_span_ids: bool,
    pub time_window: bool,
    /// A component that answered a hop of the trace has its span in it.
    pub reported: bool,
    /// Every request answered 200-399, or as the scenario expects.
    pub responses: bool,
    /// The block has something to judge: an answered request, a trace.
    pub judged: bool,
}

impl Default for IntegrityChecks {
    fn default() -> Self {
        IntegrityChecks {
            propagation: true,
            complete: true,
            single_root: true,
            orphans: true,
            unique_span_ids: true,
            time_window: true,
            reported: true,
            responses: true,
            judged: true,
        }
    }
}
