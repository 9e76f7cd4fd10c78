//! The expected tree beside the actual one, for a failed trace-shape
//! expectation: both as indented lines, with the first difference (as the
//! assertions found it, see [`crate::assert::Failure`]) marked on each side.

use serde::Serialize;

use crate::assert::Failure;
use crate::assert::tree::TraceTree;
use crate::jaeger::model::Trace;
use crate::scenario::model::SpanPattern;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TreeComparison {
    /// Index of the failed outcome in the scenario's `outcomes`.
    pub outcome: usize,
    pub trace_id: String,
    pub expected: Vec<TreeLine>,
    pub actual: Vec<TreeLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TreeLine {
    pub depth: usize,
    /// "service1 checkStock (client)".
    pub label: String,
    /// Where the first difference is.
    pub marked: bool,
}

impl TreeComparison {
    /// The comparison for one failure of a trace-shape expectation, or
    /// `None` when the failure is not about one trace's shape.
    pub fn build(
        outcome: usize,
        pattern: &SpanPattern,
        trace: &Trace,
        failure: &Failure,
    ) -> Option<TreeComparison> {
        let marked_path = failure.pattern_path.as_deref()?;
        let mut expected = Vec::new();
        pattern_lines(pattern, 0, &mut Vec::new(), marked_path, &mut expected);
        let tree = TraceTree::new(trace);
        let actual = tree
            .walk()
            .into_iter()
            .map(|(i, depth)| TreeLine {
                depth,
                label: tree.nodes[i].label(),
                marked: failure
                    .span_ids
                    .iter()
                    .any(|id| *id == tree.nodes[i].span.span_id),
            })
            .collect();
        Some(TreeComparison {
            outcome,
            trace_id: trace.trace_id.clone(),
            expected,
            actual,
        })
    }
}

fn pattern_lines(
    pattern: &SpanPattern,
    depth: usize,
    path: &mut Vec<usize>,
    marked: &[usize],
    out: &mut Vec<TreeLine>,
) {
    out.push(TreeLine {
        depth,
        label: pattern.label(),
        marked: path.as_slice() == marked,
    });
    for (i, child) in pattern.children.iter().enumerate() {
        path.push(i);
        pattern_lines(child, depth + 1, path, marked, out);
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::tree::tests::{sandbox_pattern, sandbox_trace};
    use crate::assert::tree::{TraceTree, explain_strict};

    #[test]
    fn the_misspelt_span_is_marked_on_both_sides() {
        let t = sandbox_trace();
        let mut p = sandbox_pattern();
        p.children[0].children[0].children[0].operation = Some("checkStok".into());
        let diff = explain_strict(&p, &TraceTree::new(&t)).unwrap();
        let failure = Failure {
            trace_id: Some(t.trace_id.clone()),
            pattern_path: Some(diff.pattern_path),
            span_ids: diff.span_ids,
            ..Failure::default()
        };
        let c = TreeComparison::build(0, &p, &t, &failure).unwrap();
        let marked = |lines: &[TreeLine]| -> Vec<(usize, String)> {
            lines
                .iter()
                .filter(|l| l.marked)
                .map(|l| (l.depth, l.label.clone()))
                .collect()
        };
        assert_eq!(
            marked(&c.expected),
            [(3, "service2 checkStok (server)".to_string())]
        );
        assert_eq!(
            marked(&c.actual),
            [(3, "service2 checkStock (server)".to_string())]
        );
        assert_eq!(c.expected.len(), 4);
        assert_eq!(c.actual.len(), 4);
    }

    #[test]
    fn a_failure_without_a_pattern_place_has_no_comparison() {
        let t = sandbox_trace();
        let failure = Failure {
            trace_id: Some("t1".into()),
            observed: "this trace matches".into(),
            ..Failure::default()
        };
        assert!(TreeComparison::build(0, &sandbox_pattern(), &t, &failure).is_none());
    }
}
