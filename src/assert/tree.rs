//! A Jaeger trace as a tree of spans, and tree patterns matched against it.
//!
//! Strict matching wants exactly the pattern's tree (children in any order);
//! loose matching wants the pattern's spans to exist with each pattern child
//! somewhere below its parent. When a match fails, [`explain_strict`] and
//! [`explain_loose`] find the first difference to show the user.

use std::collections::HashMap;

use super::predicates::field_mismatch;
use crate::jaeger::model::{Span, Trace};
use crate::scenario::model::SpanPattern;

pub struct SpanNode<'a> {
    pub span: &'a Span,
    pub service: &'a str,
    pub parent: Option<usize>,
    /// Sorted by start time.
    pub children: Vec<usize>,
}

impl SpanNode<'_> {
    /// "service1 checkStock (client)".
    pub fn label(&self) -> String {
        match self.span.kind() {
            Some(kind) => format!("{} {} ({kind})", self.service, self.span.operation_name),
            None => format!("{} {}", self.service, self.span.operation_name),
        }
    }
}

pub struct TraceTree<'a> {
    pub trace: &'a Trace,
    pub nodes: Vec<SpanNode<'a>>,
    /// Spans without a parent in this trace, by start time.
    pub roots: Vec<usize>,
    /// Roots whose parent reference points at a span the trace lacks.
    pub orphans: Vec<usize>,
}

impl<'a> TraceTree<'a> {
    pub fn new(trace: &'a Trace) -> TraceTree<'a> {
        let index: HashMap<&str, usize> = trace
            .spans
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i))
            .collect();
        let mut nodes: Vec<SpanNode<'a>> = trace
            .spans
            .iter()
            .map(|span| SpanNode {
                span,
                service: trace
                    .processes
                    .get(&span.process_id)
                    .map(|p| p.service_name.as_str())
                    .unwrap_or("?"),
                parent: None,
                children: Vec::new(),
            })
            .collect();
        let mut roots = Vec::new();
        let mut orphans = Vec::new();
        for i in 0..nodes.len() {
            match nodes[i].span.parent_span_id() {
                Some(parent_id) => match index.get(parent_id) {
                    Some(&p) if p != i => {
                        nodes[i].parent = Some(p);
                        nodes[p].children.push(i);
                    }
                    _ => {
                        roots.push(i);
                        orphans.push(i);
                    }
                },
                None => roots.push(i),
            }
        }
        let start = |i: &usize| trace.spans[*i].start_time;
        for node in &mut nodes {
            node.children.sort_by_key(start);
        }
        roots.sort_by_key(start);
        TraceTree {
            trace,
            nodes,
            roots,
            orphans,
        }
    }

    /// The spans in depth-first order with their depth, roots by start time.
    pub fn walk(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack: Vec<(usize, usize)> = self.roots.iter().rev().map(|&r| (r, 0)).collect();
        while let Some((i, depth)) = stack.pop() {
            out.push((i, depth));
            for &c in self.nodes[i].children.iter().rev() {
                stack.push((c, depth + 1));
            }
        }
        out
    }

    pub fn depth(&self) -> usize {
        self.walk().iter().map(|(_, d)| d + 1).max().unwrap_or(0)
    }

    pub fn services(&self) -> Vec<&str> {
        let mut services: Vec<&str> = self.nodes.iter().map(|n| n.service).collect();
        services.sort_unstable();
        services.dedup();
        services
    }
}

/// Where a trace first differs from a pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The span where it differs (label and id), if one.
    pub span: Option<String>,
    pub expected: String,
    pub observed: String,
    /// The pattern span the difference is about: child indices from the
    /// pattern's root (empty: the root), so a report can mark it.
    pub pattern_path: Vec<usize>,
    /// Ids of the actual spans where the difference shows.
    pub span_ids: Vec<String>,
}

pub fn strict_matches(pattern: &SpanPattern, tree: &TraceTree<'_>) -> bool {
    tree.roots.len() == 1 && strict_at(pattern, tree, tree.roots[0])
}

fn strict_at(pattern: &SpanPattern, tree: &TraceTree<'_>, node: usize) -> bool {
    field_mismatch(pattern, &tree.nodes[node]).is_none()
        && pattern.children.len() == tree.nodes[node].children.len()
        && assign(
            &pattern.children,
            &tree.nodes[node].children,
            &mut |p, n| strict_at(p, tree, n),
        )
}

pub fn loose_matches(pattern: &SpanPattern, tree: &TraceTree<'_>) -> bool {
    (0..tree.nodes.len()).any(|n| loose_at(pattern, tree, n))
}

fn loose_at(pattern: &SpanPattern, tree: &TraceTree<'_>, node: usize) -> bool {
    if field_mismatch(pattern, &tree.nodes[node]).is_some() {
        return false;
    }
    let below = descendants(tree, node);
    assign(&pattern.children, &below, &mut |p, n| loose_at(p, tree, n))
}

fn descendants(tree: &TraceTree<'_>, node: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = tree.nodes[node].children.clone();
    while let Some(n) = stack.pop() {
        out.push(n);
        stack.extend(tree.nodes[n].children.iter().copied());
    }
    out
}

/// Can each pattern be given its own candidate so that `fits` holds?
/// Backtracking: pattern lists are short.
fn assign(
    patterns: &[SpanPattern],
    candidates: &[usize],
    fits: &mut dyn FnMut(&SpanPattern, usize) -> bool,
) -> bool {
    fn go(
        patterns: &[SpanPattern],
        candidates: &[usize],
        used: &mut Vec<bool>,
        fits: &mut dyn FnMut(&SpanPattern, usize) -> bool,
    ) -> bool {
        let Some((first, rest)) = patterns.split_first() else {
            return true;
        };
        for (i, &c) in candidates.iter().enumerate() {
            if !used[i] && fits(first, c) {
                used[i] = true;
                if go(rest, candidates, used, fits) {
                    return true;
                }
                used[i] = false;
            }
        }
        false
    }
    if patterns.len() > candidates.len() {
        return false;
    }
    let mut used = vec![false; candidates.len()];
    go(patterns, candidates, &mut used, fits)
}

fn span_ref(tree: &TraceTree<'_>, node: usize) -> String {
    format!(
        "{} [{}]",
        tree.nodes[node].label(),
        tree.nodes[node].span.span_id
    )
}

fn labels(tree: &TraceTree<'_>, nodes: &[usize]) -> String {
    if nodes.is_empty() {
        return "none".into();
    }
    nodes
        .iter()
        .map(|&n| tree.nodes[n].label())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first difference between a trace and a strict pattern, or `None` if
/// it matches.
pub fn explain_strict(pattern: &SpanPattern, tree: &TraceTree<'_>) -> Option<Difference> {
    if tree.roots.len() != 1 {
        return Some(Difference {
            span: None,
            expected: format!("one root span, {}", pattern.label()),
            observed: format!(
                "{} root spans: {}",
                tree.roots.len(),
                labels(tree, &tree.roots)
            ),
            pattern_path: Vec::new(),
            span_ids: span_ids(tree, &tree.roots),
        });
    }
    explain_strict_at(pattern, tree, tree.roots[0], Vec::new())
}

/// Does `node` have the service and operation `pattern` names?
fn same_name(pattern: &SpanPattern, node: &SpanNode<'_>) -> bool {
    pattern.service.as_ref().is_none_or(|s| s == node.service)
        && pattern
            .operation
            .as_ref()
            .is_none_or(|o| *o == node.span.operation_name)
}

fn explain_strict_at(
    pattern: &SpanPattern,
    tree: &TraceTree<'_>,
    node: usize,
    path: Vec<usize>,
) -> Option<Difference> {
    if let Some((expected, observed)) = field_mismatch(pattern, &tree.nodes[node]) {
        return Some(Difference {
            span: Some(span_ref(tree, node)),
            expected,
            observed,
            pattern_path: path,
            span_ids: span_ids(tree, &[node]),
        });
    }
    let children = &tree.nodes[node].children;
    if assign(&pattern.children, children, &mut |p, n| {
        strict_at(p, tree, n)
    }) && pattern.children.len() == children.len()
    {
        return None;
    }
    // A pattern child with no field-compatible child is the clearest story.
    let mut free: Vec<usize> = children.clone();
    let mut unmatched_patterns = Vec::new();
    for (i, p) in pattern.children.iter().enumerate() {
        if let Some(pos) = free.iter().position(|&n| strict_at(p, tree, n)) {
            free.remove(pos);
        } else {
            unmatched_patterns.push((i, p));
        }
    }
    for &(i, p) in &unmatched_patterns {
        // Same span, wrong subtree: say what is wrong inside it.
        if let Some(&n) = free
            .iter()
            .find(|&&n| field_mismatch(p, &tree.nodes[n]).is_none())
        {
            return explain_strict_at(p, tree, n, child_path(&path, i));
        }
    }
    for &(i, p) in &unmatched_patterns {
        // The span is there by name but differs in kind, a tag, the error
        // flag or its duration: name that field rather than the whole span.
        if let Some(&n) = free.iter().find(|&&n| same_name(p, &tree.nodes[n])) {
            return explain_strict_at(p, tree, n, child_path(&path, i));
        }
    }
    let expected_children = if pattern.children.is_empty() {
        "no children".to_string()
    } else {
        pattern
            .children
            .iter()
            .map(SpanPattern::label)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let observed = match (unmatched_patterns.first(), free.is_empty()) {
        (Some((_, missing)), true) => format!(
            "no child {}; children: {}",
            missing.label(),
            labels(tree, children)
        ),
        (Some((_, missing)), false) => format!(
            "no child {}; instead: {}",
            missing.label(),
            labels(tree, &free)
        ),
        (None, _) => format!("unexpected children: {}", labels(tree, &free)),
    };
    // Mark the missing pattern child (or the parent, for extra children) and
    // the actual spans standing where it should be.
    let pattern_path = match unmatched_patterns.first() {
        Some(&(i, _)) => child_path(&path, i),
        None => path,
    };
    let marked = if free.is_empty() { vec![node] } else { free };
    Some(Difference {
        span: Some(span_ref(tree, node)),
        expected: format!("children: {expected_children}"),
        observed,
        pattern_path,
        span_ids: span_ids(tree, &marked),
    })
}

/// The first reason a loose pattern is not found in a trace. A span that
/// has the pattern's name but not its other conditions is named, with the
/// condition it fails (a tag predicate, `exists()`, `absent()`, the kind,
/// the error status, a duration bound), as strict mode does.
pub fn explain_loose(pattern: &SpanPattern, tree: &TraceTree<'_>) -> Option<Difference> {
    if loose_matches(pattern, tree) {
        return None;
    }
    let all: Vec<usize> = tree.walk().into_iter().map(|(n, _)| n).collect();
    let candidates: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&n| field_mismatch(pattern, &tree.nodes[n]).is_none())
        .collect();
    if candidates.is_empty() {
        return Some(not_found(pattern, tree, &all, None, Vec::new()));
    }
    // The first candidate whose own descendants explain why it fails.
    candidates
        .iter()
        .find_map(|&n| explain_loose_at(pattern, tree, n, Vec::new()))
        .or_else(|| {
            let first = candidates[0];
            Some(Difference {
                span: Some(span_ref(tree, first)),
                expected: "each expected descendant under its own span".into(),
                observed: "two expected spans compete for one actual span".into(),
                pattern_path: Vec::new(),
                span_ids: span_ids(tree, &[first]),
            })
        })
}

/// Why `pattern`'s children are not all found below `node` (whose own
/// fields match): the first child missing, deepest first.
fn explain_loose_at(
    pattern: &SpanPattern,
    tree: &TraceTree<'_>,
    node: usize,
    path: Vec<usize>,
) -> Option<Difference> {
    let below = descendants(tree, node);
    for (j, child) in pattern.children.iter().enumerate() {
        if below.iter().any(|&n| loose_at(child, tree, n)) {
            continue;
        }
        let child_path = child_path(&path, j);
        let deeper = below
            .iter()
            .filter(|&&n| field_mismatch(child, &tree.nodes[n]).is_none())
            .find_map(|&n| explain_loose_at(child, tree, n, child_path.clone()));
        return Some(
            deeper.unwrap_or_else(|| not_found(child, tree, &below, Some(node), child_path)),
        );
    }
    None
}

/// `pattern` is nowhere among `nodes` (all spans, or the descendants of
/// `parent`): the first span with its name and the condition it fails, or
/// the spans that were there.
fn not_found(
    pattern: &SpanPattern,
    tree: &TraceTree<'_>,
    nodes: &[usize],
    parent: Option<usize>,
    pattern_path: Vec<usize>,
) -> Difference {
    let a = if parent.is_some() {
        "a descendant"
    } else {
        "a span"
    };
    let named = nodes.iter().copied().find_map(|n| {
        let node = &tree.nodes[n];
        same_name(pattern, node)
            .then(|| field_mismatch(pattern, node).map(|why| (n, why)))
            .flatten()
    });
    if let Some((n, (expected, observed))) = named {
        return Difference {
            span: Some(span_ref(tree, n)),
            expected: format!("{a} {} with {expected}", pattern.label()),
            observed,
            pattern_path,
            span_ids: span_ids(tree, &[n]),
        };
    }
    let (what, observed) = match parent {
        Some(_) => ("descendants", labels(tree, nodes)),
        None => ("spans", labels(tree, nodes)),
    };
    Difference {
        span: parent.map(|p| span_ref(tree, p)),
        expected: format!("{a} {}", pattern.label()),
        observed: format!("{what}: {observed}"),
        pattern_path,
        span_ids: parent.map(|p| span_ids(tree, &[p])).unwrap_or_default(),
    }
}

fn child_path(path: &[usize], child: usize) -> Vec<usize> {
    let mut out = path.to_vec();
    out.push(child);
    out
}

fn span_ids(tree: &TraceTree<'_>, nodes: &[usize]) -> Vec<String> {
    nodes
        .iter()
        .map(|&n| tree.nodes[n].span.span_id.clone())
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::jaeger::model::{KeyValue, Process, RefType, Reference};
    use crate::scenario::model::{Origin, SpanKindPattern, TagOp, TagPredicate};

    /// A trace from (span id, parent id, service, operation, kind) rows.
    pub(crate) fn trace(rows: &[(&str, Option<&str>, &str, &str, &str)]) -> Trace {
        let mut processes = std::collections::BTreeMap::new();
        let spans = rows
            .iter()
            .enumerate()
            .map(|(i, (id, parent, service, op, kind))| {
                let pid = format!("p-{service}");
                processes.insert(
                    pid.clone(),
                    Process {
                        service_name: service.to_string(),
                        tags: vec![],
                    },
                );
                Span {
                    trace_id: "t1".into(),
                    span_id: id.to_string(),
                    flags: 1,
                    operation_name: op.to_string(),
                    references: parent
                        .map(|p| {
                            vec![Reference {
                                ref_type: RefType::ChildOf,
                                trace_id: "t1".into(),
                                span_id: p.to_string(),
                            }]
                        })
                        .unwrap_or_default(),
                    start_time: 1000 + i as u64,
                    duration: 100 - i as u64,
                    tags: vec![
                        KeyValue::string("span.kind", *kind),
                        KeyValue::string("http.status_code", "200"),
                    ],
                    logs: vec![],
                    process_id: pid,
                    warnings: None,
                }
            })
            .collect();
        Trace {
            trace_id: "t1".into(),
            spans,
            processes,
            warnings: None,
        }
    }

    pub(crate) fn sandbox_trace() -> Trace {
        trace(&[
            ("a", None, "front-proxy", "checkAvailability", "client"),
            ("b", Some("a"), "service1", "checkAvailability", "server"),
            ("c", Some("b"), "service1", "checkStock", "client"),
            ("d", Some("c"), "service2", "checkStock", "server"),
        ])
    }

    pub(crate) fn pat(
        service: &str,
        op: &str,
        kind: &str,
        children: Vec<SpanPattern>,
    ) -> SpanPattern {
        SpanPattern {
            service: Some(service.into()),
            operation: Some(op.into()),
            kind: SpanKindPattern::parse(kind),
            error: None,
            tags: vec![],
            duration: vec![],
            checks: vec![],
            children,
            origin: Origin::default(),
        }
    }

    pub(crate) fn sandbox_pattern() -> SpanPattern {
        pat(
            "front-proxy",
            "checkAvailability",
            "client",
            vec![pat(
                "service1",
                "checkAvailability",
                "server",
                vec![pat(
                    "service1",
                    "checkStock",
                    "client",
                    vec![pat("service2", "checkStock", "server", vec![])],
                )],
            )],
        )
    }

    #[test]
    fn the_sandbox_trace_is_a_four_deep_chain_over_three_services() {
        let t = sandbox_trace();
        let tree = TraceTree::new(&t);
        assert_eq!(tree.depth(), 4);
        assert_eq!(tree.services(), ["front-proxy", "service1", "service2"]);
        assert_eq!(tree.roots.len(), 1);
        assert!(tree.orphans.is_empty());
    }

    #[test]
    fn strict_match_accepts_the_exact_tree() {
        let t = sandbox_trace();
        let tree = TraceTree::new(&t);
        assert!(strict_matches(&sandbox_pattern(), &tree));
        assert_eq!(explain_strict(&sandbox_pattern(), &tree), None);
    }

    #[test]
    fn strict_match_rejects_a_wrong_operation_and_names_the_span() {
        let t = sandbox_trace();
        let tree = TraceTree::new(&t);
        let mut p = sandbox_pattern();
        p.children[0].children[0].operation = Some("checkStok".into());
        assert!(!strict_matches(&p, &tree));
        let diff = explain_strict(&p, &tree).unwrap();
        assert_eq!(
            diff.span.as_deref(),
            Some("service1 checkAvailability (server) [b]")
        );
        assert_eq!(diff.expected, "children: service1 checkStok (client)");
        assert!(
            diff.observed
                .contains("no child service1 checkStok (client)"),
            "{diff:?}"
        );
        assert_eq!(diff.pattern_path, [0, 0], "the misspelt pattern span");
        assert_eq!(diff.span_ids, ["c"], "the actual span in its place");
    }

    #[test]
    fn an_extra_root_marks_every_root_and_the_pattern_root() {
        let t = trace(&[
            ("a", None, "front-proxy", "checkAvailability", "client"),
            ("z", None, "service9", "stray", "server"),
        ]);
        let tree = TraceTree::new(&t);
        let diff = explain_strict(
            &pat("front-proxy", "checkAvailability", "client", vec![]),
            &tree,
        )
        .unwrap();
        assert!(diff.pattern_path.is_empty());
        assert_eq!(diff.span_ids, ["a", "z"]);
    }

    #[test]
    fn strict_match_rejects_an_extra_span() {
        let t = trace(&[
            ("a", None, "front-proxy", "checkAvailability", "client"),
            ("b", Some("a"), "service1", "checkAvailability", "server"),
            ("c", Some("b"), "service1", "checkStock", "client"),
            ("d", Some("c"), "service2", "checkStock", "server"),
            ("e", Some("d"), "service2", "db", "client"),
        ]);
        let tree = TraceTree::new(&t);
        assert!(!strict_matches(&sandbox_pattern(), &tree));
        let diff = explain_strict(&sandbox_pattern(), &tree).unwrap();
        assert_eq!(diff.observed, "unexpected children: service2 db (client)");
        assert_eq!(diff.pattern_path, [0, 0, 0], "the parent that has too many");
        assert_eq!(diff.span_ids, ["e"]);
        assert!(
            loose_matches(&sandbox_pattern(), &tree),
            "loose allows extra spans"
        );
    }

    #[test]
    fn a_child_that_differs_only_in_a_tag_is_named_with_that_tag() {
        let t = sandbox_trace();
        let tree = TraceTree::new(&t);
        let mut p = sandbox_pattern();
        p.children[0].children[0].tags.push(TagPredicate {
            key: "http.status_code".into(),
            op: TagOp::Equals("503".into()),
        });
        let diff = explain_strict(&p, &tree).unwrap();
        assert_eq!(
            diff.span.as_deref(),
            Some("service1 checkStock (client) [c]")
        );
        assert_eq!(
            (diff.expected.as_str(), diff.observed.as_str()),
            ("http.status_code=503", "http.status_code=200")
        );
    }

    #[test]
    fn strict_match_rejects_a_wrong_kind() {
        let t = trace(&[("a", None, "front-proxy", "checkAvailability", "server")]);
        let tree = TraceTree::new(&t);
        let p = pat("front-proxy", "checkAvailability", "client", vec![]);
        let diff = explain_strict(&p, &tree).unwrap();
        assert_eq!(
            (diff.expected.as_str(), diff.observed.as_str()),
            ("kind client", "kind server")
        );
    }

    #[test]
    fn children_match_in_any_order_but_one_to_one() {
        let t = trace(&[
            ("a", None, "api", "fan", "server"),
            ("b", Some("a"), "api", "x", "client"),
            ("c", Some("a"), "api", "y", "client"),
        ]);
        let tree = TraceTree::new(&t);
        let p = pat(
            "api",
            "fan",
            "server",
            vec![
                pat("api", "y", "client", vec![]),
                pat("api", "x", "client", vec![]),
            ],
        );
        assert!(strict_matches(&p, &tree));
        let twice = pat(
            "api",
            "fan",
            "server",
            vec![
                pat("api", "x", "client", vec![]),
                pat("api", "x", "client", vec![]),
            ],
        );
        assert!(!strict_matches(&twice, &tree));
    }

    #[test]
    fn loose_match_finds_a_descendant_through_spans_in_between() {
        let t = sandbox_trace();
        let tree = TraceTree::new(&t);
        let p = pat(
            "front-proxy",
            "checkAvailability",
            "client",
            vec![pat("service2", "checkStock", "server", vec![])],
        );
        assert!(!strict_matches(&p, &tree));
        assert!(loose_matches(&p, &tree));
        let missing = pat(
            "front-proxy",
            "checkAvailability",
            "client",
            vec![pat("service3", "x", "server", vec![])],
        );
        let diff = explain_loose(&missing, &tree).unwrap();
        assert_eq!(diff.expected, "a descendant service3 x (server)");
        assert_eq!(
            (diff.pattern_path, diff.span_ids),
            (vec![0], vec!["a".into()])
        );
    }

    #[test]
    fn a_span_whose_parent_is_missing_is_an_orphan_root() {
        let t = trace(&[
            ("a", None, "front-proxy", "checkAvailability", "client"),
            ("c", Some("zz"), "service1", "checkStock", "client"),
        ]);
        let tree = TraceTree::new(&t);
        assert_eq!(tree.roots.len(), 2);
        assert_eq!(tree.orphans.len(), 1);
        let diff = explain_strict(
            &pat("front-proxy", "checkAvailability", "client", vec![]),
            &tree,
        )
        .unwrap();
        assert!(diff.observed.starts_with("2 root spans"), "{diff:?}");
    }
}
