//! Expectations as plain data: what a scenario expects of the traces of a
//! traffic block (tree patterns, span counts, broken propagation, duration
//! bounds), and the predicates and bounds they are made of.

use std::fmt;
use std::time::Duration;

use super::{Closure, Origin, Selector};

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
    /// Spans matching a selector (its children are ignored), counted per
    /// trace or over the block.
    SpanCount {
        selector: Selector,
        count: Count,
        scope: CountScope,
    },
    /// Requests split over more than one trace: propagation broke, as the
    /// scenario wants. Replaces the block's propagation integrity check.
    BrokenPropagation { quantifier: Quantifier },
    /// Bounds on trace (or span) durations over the block.
    Duration {
        measured: Measured,
        bounds: Vec<DurationBound>,
    },
    /// The block's requests answered with one of these statuses, counted.
    /// The statuses also become expected for the block's built-in
    /// responses check.
    Responses {
        statuses: Vec<StatusPattern>,
        count: ResponseCount,
    },
    /// Bounds on a service's (or some spans') part of each trace's
    /// critical path, and on their self time.
    CriticalPath(super::CriticalPathCheck),
}

/// A status an `expect_responses` names: one code, or a class (`"5xx"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    Code(u16),
    /// The hundreds digit: 5 for `5xx`.
    Class(u16),
}

impl StatusPattern {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Code(code) => status == code,
            StatusPattern::Class(class) => status / 100 == class,
        }
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusPattern::Code(code) => write!(f, "{code}"),
            StatusPattern::Class(class) => write!(f, "{class}xx"),
        }
    }
}

/// How many of a block's requests an `expect_responses` wants answered so.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResponseCount {
    /// Every request (and at least one).
    All,
    Exactly(u64),
    AtLeast(Amount),
    AtMost(Amount),
}

/// A number of requests, or a share of the block's requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    Requests(u64),
    /// 0 to 100.
    Percent(f64),
}

impl Amount {
    /// The amount as a number of requests out of `total`, for comparing:
    /// (matching as compared, bound).
    pub fn compare(self, matching: u64, total: u64) -> (f64, f64) {
        match self {
            Amount::Requests(n) => (matching as f64, n as f64),
            Amount::Percent(p) if total == 0 => (0.0, p),
            Amount::Percent(p) => (matching as f64 * 100.0 / total as f64, p),
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Requests(n) => f.write_str(&counted(*n, "request")),
            Amount::Percent(p) => write!(f, "{}% of the requests", trim_float(*p)),
        }
    }
}

impl fmt::Display for ResponseCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseCount::All => f.write_str("every request"),
            ResponseCount::Exactly(n) => write!(f, "exactly {}", counted(*n, "request")),
            ResponseCount::AtLeast(a) => write!(f, "at least {a}"),
            ResponseCount::AtMost(a) => write!(f, "at most {a}"),
        }
    }
}

/// "1 trace", "2 traces": a count and its noun, singular or plural.
pub fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Exactly(u64),
    AtLeast(u64),
    AtMost(u64),
}

impl Count {
    pub fn holds(self, n: u64) -> bool {
        match self {
            Count::Exactly(want) => n == want,
            Count::AtLeast(want) => n >= want,
            Count::AtMost(want) => n <= want,
        }
    }
}

impl Count {
    /// "at least 1 span", "exactly 3 spans".
    pub fn of(self, noun: &str) -> String {
        let n = match self {
            Count::Exactly(n) | Count::AtLeast(n) | Count::AtMost(n) => n,
        };
        let noun = if n == 1 {
            noun.to_string()
        } else {
            format!("{noun}s")
        };
        format!("{self} {noun}")
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Exactly(n) => write!(f, "exactly {n}"),
            Count::AtLeast(n) => write!(f, "at least {n}"),
            Count::AtMost(n) => write!(f, "at most {n}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountScope {
    /// Every trace of the block has that many matching spans.
    EachTrace,
    /// The block's traces have that many matching spans in all.
    Traffic,
}

/// What a duration expectation measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    /// Each trace: from its first span's start to its last span's end.
    Traces,
    /// Each span the selector picks.
    Spans(Selector),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DurationBound {
    pub statistic: Statistic,
    pub test: DurationTest,
}

/// Which value of the measured durations a bound applies to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    /// Every one of them.
    Each,
    Min,
    Max,
    Mean,
    /// Nearest-rank percentile, e.g. 99.0 for p99.
    Percentile(f64),
}

impl fmt::Display for Statistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statistic::Each => f.write_str("each"),
            Statistic::Min => f.write_str("min"),
            Statistic::Max => f.write_str("max"),
            Statistic::Mean => f.write_str("mean"),
            Statistic::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn holds<T: PartialOrd>(self, value: T, bound: T) -> bool {
        match self {
            CompareOp::Lt => value < bound,
            CompareOp::Le => value <= bound,
            CompareOp::Gt => value > bound,
            CompareOp::Ge => value >= bound,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// A bound on a duration, e.g. `< 50ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationTest {
    pub op: CompareOp,
    pub bound: Duration,
}

impl DurationTest {
    pub fn holds(&self, value: Duration) -> bool {
        self.op.holds(value, self.bound)
    }
}

impl fmt::Display for DurationTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.symbol(), format_duration(self.bound))
    }
}

/// "12.5ms", "2s", "150µs": short and exact enough for reports.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{}µs", trim_float(us))
    } else if us < 1e6 {
        format!("{}ms", trim_float(us / 1000.0))
    } else {
        format!("{}s", trim_float(us / 1e6))
    }
}

fn trim_float(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
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
            Quantifier::Exactly(n) => write!(f, "exactly {}", counted(*n, "trace")),
            Quantifier::AtLeast(n) => write!(f, "at least {}", counted(*n, "trace")),
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
    /// Bounds the span's duration must meet.
    pub duration: Vec<DurationTest>,
    /// Closures of the script the span must pass (`where: |span| ...`).
    pub checks: Vec<Closure>,
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

    /// The label and every condition on the span itself, for selectors:
    /// "db query (server) where error=true, http.status_code<500".
    pub fn describe(&self) -> String {
        let mut conditions: Vec<String> = Vec::new();
        if let Some(error) = self.error {
            conditions.push(if error { "error=true" } else { "no error" }.into());
        }
        conditions.extend(self.tags.iter().map(ToString::to_string));
        conditions.extend(self.duration.iter().map(|d| format!("duration {d}")));
        conditions.extend(
            self.checks
                .iter()
                .map(|c| format!("passes {}", c.describe())),
        );
        if conditions.is_empty() {
            self.label()
        } else {
            format!("{} where {}", self.label(), conditions.join(", "))
        }
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
    /// The tag is absent or its text differs from this.
    NotEquals(String),
    /// The tag's value is a number and compares so with this one.
    Compare(CompareOp, f64),
    /// The tag's text contains this.
    Contains(String),
    /// The tag's text matches this regular expression (anywhere in it).
    Matches(TagRegex),
    Exists,
    Absent,
    /// The tag is there and its value passes a closure of the script.
    Satisfies(Closure),
}

/// A compiled regular expression, compared by its source text.
#[derive(Debug, Clone)]
pub struct TagRegex(pub regex::Regex);

impl PartialEq for TagRegex {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl fmt::Display for TagPredicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        match &self.op {
            TagOp::Equals(v) => write!(f, "{key}={v}"),
            TagOp::NotEquals(v) => write!(f, "{key}!={v}"),
            TagOp::Compare(op, n) => write!(f, "{key}{}{n}", op.symbol()),
            TagOp::Contains(v) => write!(f, "{key} contains {v:?}"),
            TagOp::Matches(re) => write!(f, "{key} matches /{}/", re.0.as_str()),
            TagOp::Exists => write!(f, "{key} exists"),
            TagOp::Absent => write!(f, "no tag {key}"),
            TagOp::Satisfies(closure) => write!(f, "{key} passes {}", closure.describe()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_in_the_singular_or_the_plural() {
        assert_eq!(Quantifier::AtLeast(1).to_string(), "at least 1 trace");
        assert_eq!(Quantifier::Exactly(2).to_string(), "exactly 2 traces");
        assert_eq!(Count::AtLeast(1).of("span"), "at least 1 span");
        assert_eq!(Count::AtMost(3).of("such span"), "at most 3 such spans");
        assert_eq!(counted(0, "poll"), "0 polls");
        assert_eq!(ResponseCount::Exactly(1).to_string(), "exactly 1 request");
        assert_eq!(
            ResponseCount::AtMost(Amount::Percent(12.5)).to_string(),
            "at most 12.5% of the requests"
        );
    }
}
