//! Trace shapes, gathered one trace at a time: each trace becomes a
//! canonical tree (children in a fixed order), its signature says which
//! shape it is (service, operation, kind, error and outcome tags of every
//! span, and the tree), and a shape keeps one example, its count, the tags
//! every trace of it agreed on, and its slowest root. Memory grows with the
//! number of distinct shapes, not with the number of traces.

use std::collections::{BTreeMap, HashMap};

use super::volatile::{self, Kept, OUTCOME_TAGS};
use crate::assert::tree::TraceTree;
use crate::jaeger::model::Trace;

/// One span of a shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeNode {
    pub service: String,
    pub operation: String,
    pub kind: Option<String>,
    pub error: bool,
    /// Tags every trace of the shape agreed on (so far).
    pub tags: BTreeMap<String, Kept>,
    pub children: Vec<ShapeNode>,
    /// Its place among shapes: what it is and what is below it.
    signature: String,
}

/// One distinct shape of a traffic block.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub root: ShapeNode,
    /// Traces of this shape.
    pub count: u64,
    /// The longest root span among them, in microseconds.
    pub slowest_root_us: u64,
}

/// The shapes of one traffic block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockShapes {
    /// In the order first seen.
    pub shapes: Vec<Shape>,
    index: HashMap<String, usize>,
    /// Traces with no single root (broken or partial), which no tree
    /// pattern can state: counted, not recorded.
    pub unrooted: u64,
}

impl BlockShapes {
    /// Add one trace.
    pub fn observe(&mut self, trace: &Trace) {
        let tree = TraceTree::new(trace);
        let &[root] = tree.roots.as_slice() else {
            self.unrooted += 1;
            return;
        };
        let node = canonical(&tree, root);
        let root_us = trace.spans[root].duration;
        match self.index.get(&node.signature) {
            Some(&i) => {
                let shape = &mut self.shapes[i];
                shape.count += 1;
                shape.slowest_root_us = shape.slowest_root_us.max(root_us);
                agree(&mut shape.root, &node);
            }
            None => {
                self.index.insert(node.signature.clone(), self.shapes.len());
                self.shapes.push(Shape {
                    root: node,
                    count: 1,
                    slowest_root_us: root_us,
                });
            }
        }
    }

    pub fn traces(&self) -> u64 {
        self.shapes.iter().map(|s| s.count).sum::<u64>() + self.unrooted
    }

    /// The shapes, most traces first, then by what they are: the same
    /// whatever order the traces came in.
    pub fn ordered(&self) -> Vec<&Shape> {
        let mut shapes: Vec<&Shape> = self.shapes.iter().collect();
        shapes.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.root.signature.cmp(&b.root.signature))
        });
        shapes
    }
}

/// The subtree at `n`, children ordered by their signatures.
fn canonical(tree: &TraceTree<'_>, n: usize) -> ShapeNode {
    let node = &tree.nodes[n];
    let span = node.span;
    let mut children: Vec<ShapeNode> = node.children.iter().map(|&c| canonical(tree, c)).collect();
    children.sort_by(|a, b| a.signature.cmp(&b.signature));
    let mut tags = BTreeMap::new();
    for tag in &span.tags {
        if let Some(kept) = volatile::keep(&tag.key, &tag.value_text()) {
            tags.insert(tag.key.clone(), kept);
        }
    }
    let kind = span.kind().map(str::to_string);
    let error = span.is_error();
    let outcome: Vec<String> = OUTCOME_TAGS
        .iter()
        .filter_map(|key| span.tag(key).map(|t| format!("{key}={}", t.value_text())))
        .collect();
    // Unit and record separators keep names from running into each other.
    let mut signature = format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{error}\u{1f}{}\u{1e}(",
        node.service,
        span.operation_name,
        kind.as_deref().unwrap_or(""),
        outcome.join(",")
    );
    for child in &children {
        signature.push_str(&child.signature);
        signature.push('\u{1d}');
    }
    signature.push(')');
    ShapeNode {
        service: node.service.to_string(),
        operation: span.operation_name.clone(),
        kind,
        error,
        tags,
        children,
        signature,
    }
}

/// Keep only the tags `other` (a trace of the same shape) agrees on.
fn agree(kept: &mut ShapeNode, other: &ShapeNode) {
    kept.tags
        .retain(|key, value| other.tags.get(key) == Some(value));
    for (mine, theirs) in kept.children.iter_mut().zip(&other.children) {
        agree(mine, theirs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::tree::tests::{sandbox_trace, trace};
    use crate::jaeger::model::KeyValue;

    #[test]
    fn traces_of_one_shape_count_once_whatever_their_children_order() {
        let mut shapes = BlockShapes::default();
        let a = trace(&[
            ("a", None, "api", "fan", "server"),
            ("b", Some("a"), "api", "x", "client"),
            ("c", Some("a"), "api", "y", "client"),
        ]);
        let b = trace(&[
            ("a", None, "api", "fan", "server"),
            ("c", Some("a"), "api", "y", "client"),
            ("b", Some("a"), "api", "x", "client"),
        ]);
        shapes.observe(&a);
        shapes.observe(&b);
        shapes.observe(&sandbox_trace());
        assert_eq!(shapes.shapes.len(), 2);
        assert_eq!(shapes.shapes[0].count, 2);
        assert_eq!(shapes.shapes[1].count, 1);
        assert_eq!(shapes.traces(), 3);
    }

    #[test]
    fn a_different_status_is_another_shape_and_tags_that_differ_are_dropped() {
        let with = |status: &str, cluster: &str| {
            let mut t = sandbox_trace();
            t.spans[0].tags = vec![
                KeyValue::string("span.kind", "client"),
                KeyValue::string("http.status_code", status),
                KeyValue::string("upstream_cluster", cluster),
                KeyValue::string("component", "proxy"),
            ];
            t
        };
        let mut shapes = BlockShapes::default();
        shapes.observe(&with("200", "a"));
        shapes.observe(&with("200", "b"));
        shapes.observe(&with("503", "a"));
        assert_eq!(shapes.shapes.len(), 2, "200 and 503 are two shapes");
        let tags: Vec<&str> = shapes.shapes[0]
            .root
            .tags
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            tags,
            ["component", "http.status_code"],
            "the cluster varied"
        );
        assert!(shapes.shapes[1].root.tags.contains_key("upstream_cluster"));
    }

    #[test]
    fn a_trace_without_a_single_root_is_counted_not_recorded() {
        let mut shapes = BlockShapes::default();
        shapes.observe(&trace(&[
            ("a", None, "x", "op", "server"),
            ("b", None, "y", "op", "server"),
        ]));
        assert!(shapes.shapes.is_empty());
        assert_eq!(shapes.unrooted, 1);
    }
}
