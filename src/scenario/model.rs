//! The scenario as plain Rust data: what a script declared, with no trace of
//! Rhai. The mesh, the traffic generator and the assertions read only this.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where in the script something was declared, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub file: PathBuf,
    pub components: Vec<Component>,
    pub traffic: Vec<Traffic>,
    pub expectations: Vec<Expectation>,
}

impl Scenario {
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    pub fn traffic_block(&self, name: &str) -> Option<&Traffic> {
        self.traffic.iter().find(|t| t.name == name)
    }
}

/// A proxy is an edge Envoy: it forwards and reports one client span per
/// request. A service is an Envoy sidecar with its app: a server span on the
/// way in, a client span per call the app makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Proxy,
    Service,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Proxy => "proxy",
            Role::Service => "service",
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
    pub origin: Origin,
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

impl Default for Propagation {
    /// What the sandbox's Envoys speak (B3), plus W3C.
    fn default() -> Self {
        Propagation::Formats(vec![HeaderFormat::B3, HeaderFormat::W3c])
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

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub path: PathMatch,
    /// Envoy's route decorator: names the span on both sides of the hop.
    pub operation: Option<String>,
    pub action: Action,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A proxy route: send the request on to a cluster (a component).
    Forward { cluster: String },
    /// A service route: the app's handler.
    Respond(Handler),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Handler {
    pub steps: Vec<Step>,
    pub reply: Reply,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Call(Call),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub service: String,
    pub method: String,
    pub path: String,
    /// The egress route's decorator; Envoy's default is `egress <host>`.
    pub operation: Option<String>,
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
    pub requests: u64,
    pub concurrency: usize,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub timeout: Duration,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// What the report calls it.
    pub name: String,
    /// The traffic block whose traces it judges.
    pub traffic: String,
    pub check: Check,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Traces of the block, counted by how many match a tree pattern.
    TraceShape {
        quantifier: Quantifier,
        mode: MatchMode,
        pattern: SpanPattern,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    All,
    Any,
    None,
    Exactly(u64),
    AtLeast(u64),
}

impl fmt::Display for Quantifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantifier::All => f.write_str("every trace"),
            Quantifier::Any => f.write_str("at least one trace"),
            Quantifier::None => f.write_str("no trace"),
            Quantifier::Exactly(n) => write!(f, "exactly {n} traces"),
            Quantifier::AtLeast(n) => write!(f, "at least {n} traces"),
        }
    }
}

/// Strict: the trace is exactly this tree. Loose: these spans exist in
/// these ancestor/descendant relations; other spans may sit between or beside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    Strict,
    Loose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKindPattern {
    Client,
    Server,
    Internal,
    Producer,
    Consumer,
}

impl SpanKindPattern {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKindPattern::Client => "client",
            SpanKindPattern::Server => "server",
            SpanKindPattern::Internal => "internal",
            SpanKindPattern::Producer => "producer",
            SpanKindPattern::Consumer => "consumer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "client" => SpanKindPattern::Client,
            "server" => SpanKindPattern::Server,
            "internal" => SpanKindPattern::Internal,
            "producer" => SpanKindPattern::Producer,
            "consumer" => SpanKindPattern::Consumer,
            _ => return None,
        })
    }
}

/// One node of an expected trace tree. `None` fields match anything.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanPattern {
    pub service: Option<String>,
    pub operation: Option<String>,
    pub kind: Option<SpanKindPattern>,
    /// `Some(true)`: the span must carry `error=true`; `Some(false)`: must not.
    pub error: Option<bool>,
    pub tags: Vec<TagPredicate>,
    pub children: Vec<SpanPattern>,
    pub origin: Origin,
}

impl SpanPattern {
    /// "service1 checkStock (client)", for reports.
    pub fn label(&self) -> String {
        let mut text = format!(
            "{} {}",
            self.service.as_deref().unwrap_or("*"),
            self.operation.as_deref().unwrap_or("*")
        );
        if let Some(kind) = self.kind {
            text.push_str(&format!(" ({})", kind.as_str()));
        }
        text
    }

    pub fn size(&self) -> usize {
        1 + self.children.iter().map(SpanPattern::size).sum::<usize>()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TagPredicate {
    pub key: String,
    pub op: TagOp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TagOp {
    /// The tag's value, as text, equals this.
    Equals(String),
}

impl fmt::Display for TagPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.op {
            TagOp::Equals(v) => write!(f, "{}={v}", self.key),
        }
    }
}
