//! Structural selectors: which spans of a trace an `expect_spans` counts or
//! an `expect_duration` measures, by their own conditions and by where they
//! stand relative to other spans (TraceQL's `>`, `>>` and `~`).

use std::fmt;

use super::SpanPattern;

/// A set of spans of one trace.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// The spans matching a pattern's own conditions (it has no children).
    Span(SpanPattern),
    /// The spans `right` picks that stand in `relation` to a span `left`
    /// picks: TraceQL's `{left} > {right}` and its kin.
    Related {
        left: Box<Selector>,
        relation: Relation,
        right: Box<Selector>,
    },
}

/// How a selected span stands to a span of the left-hand side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Its parent is one (TraceQL `>`).
    Child,
    /// One is among its ancestors (TraceQL `>>`).
    Descendant,
    /// Another child of its parent is one (TraceQL `~`).
    Sibling,
}

impl Relation {
    /// TraceQL's operator for it.
    pub fn operator(self) -> &'static str {
        match self {
            Relation::Child => ">",
            Relation::Descendant => ">>",
            Relation::Sibling => "~",
        }
    }

    /// The script function that builds it.
    pub fn function(self) -> &'static str {
        match self {
            Relation::Child => "child",
            Relation::Descendant => "descendant",
            Relation::Sibling => "sibling",
        }
    }
}

impl Selector {
    /// "front-proxy * >> service2 checkStock (server) where error=true":
    /// TraceQL's reading, left to right.
    pub fn describe(&self) -> String {
        match self {
            Selector::Span(pattern) => pattern.describe(),
            Selector::Related {
                left,
                relation,
                right,
            } => {
                let right = match right.as_ref() {
                    Selector::Span(p) => p.describe(),
                    related => format!("({})", related.describe()),
                };
                format!("{} {} {right}", left.describe(), relation.operator())
            }
        }
    }

    /// The span patterns it is made of, left to right.
    pub fn patterns(&self) -> Vec<&SpanPattern> {
        match self {
            Selector::Span(p) => vec![p],
            Selector::Related { left, right, .. } => {
                let mut out = left.patterns();
                out.extend(right.patterns());
                out
            }
        }
    }
}

impl From<SpanPattern> for Selector {
    fn from(pattern: SpanPattern) -> Self {
        Selector::Span(pattern)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}
