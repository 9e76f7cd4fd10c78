//! `expect_critical_path` as plain data: whose part of each trace's
//! critical path is bounded (a service's spans, or the spans a selector
//! picks), by its share of the path, its time on it, and their self time.

use std::fmt;

use super::Selector;
use super::expect::{CompareOp, DurationTest};

#[derive(Debug, Clone, PartialEq)]
pub struct CriticalPathCheck {
    pub part: PathPart,
    /// Bounds on the part's share of each trace's critical path (0 to 1).
    pub share: Vec<ShareTest>,
    /// Bounds on the part's time on each trace's critical path.
    pub time: Vec<DurationTest>,
    /// Bounds on the self time of each of the part's spans.
    pub self_time: Vec<DurationTest>,
}

/// The spans a critical-path expectation is about.
#[derive(Debug, Clone, PartialEq)]
pub enum PathPart {
    /// Every span of the service.
    Service(String),
    /// The spans a selector picks.
    Spans(Selector),
}

impl fmt::Display for PathPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathPart::Service(name) => write!(f, "{name}"),
            PathPart::Spans(selector) => write!(f, "{}", selector.describe()),
        }
    }
}

/// A bound on a share, e.g. `<= 50%`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShareTest {
    pub op: CompareOp,
    /// 0 to 1.
    pub bound: f64,
}

impl ShareTest {
    pub fn holds(&self, share: f64) -> bool {
        self.op.holds(share, self.bound)
    }
}

impl fmt::Display for ShareTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.symbol(), percent(self.bound))
    }
}

/// 0.5 → "50%", 0.125 → "12.5%".
pub fn percent(share: f64) -> String {
    let text = format!("{:.1}", share * 100.0);
    format!("{}%", text.trim_end_matches(".0"))
}
