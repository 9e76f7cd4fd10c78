//! Which spans of one trace a [`Selector`] picks: a pattern's own
//! conditions, then TraceQL's structural relations (`>` child, `>>`
//! descendant, `~` sibling) between the spans each side picks.

use super::predicates::field_mismatch;
use super::tree::TraceTree;
use crate::scenario::model::{Relation, Selector};

/// The spans of `tree` that `selector` picks, in span order.
pub fn select(selector: &Selector, tree: &TraceTree<'_>) -> Vec<usize> {
    picked(selector, tree)
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| p.then_some(i))
        .collect()
}

/// One flag per span: picked or not.
fn picked(selector: &Selector, tree: &TraceTree<'_>) -> Vec<bool> {
    match selector {
        Selector::Span(pattern) => tree
            .nodes
            .iter()
            .map(|node| field_mismatch(pattern, node).is_none())
            .collect(),
        Selector::Related {
            left,
            relation,
            right,
        } => {
            let right = picked(right, tree);
            if !right.contains(&true) {
                return right;
            }
            let left = picked(left, tree);
            (0..tree.nodes.len())
                .map(|n| right[n] && related(tree, &left, n, *relation))
                .collect()
        }
    }
}

/// Does span `n` stand in `relation` to a span `left` picked?
fn related(tree: &TraceTree<'_>, left: &[bool], n: usize, relation: Relation) -> bool {
    let parent = tree.nodes[n].parent;
    match relation {
        Relation::Child => parent.is_some_and(|p| left[p]),
        Relation::Descendant => {
            // At most one step per span: a malformed trace whose parent
            // links loop cannot hang the check.
            let mut at = parent;
            for _ in 0..tree.nodes.len() {
                match at {
                    Some(p) if left[p] => return true,
                    Some(p) => at = tree.nodes[p].parent,
                    None => return false,
                }
            }
            false
        }
        Relation::Sibling => {
            parent.is_some_and(|p| tree.nodes[p].children.iter().any(|&c| c != n && left[c]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assert::tree::tests::{pat, trace};
    use crate::scenario::model::SpanPattern;

    /// api fans out to db twice and to cache; db calls disk.
    fn fan_out() -> crate::jaeger::model::Trace {
        trace(&[
            ("a", None, "api", "handle", "server"),
            ("b", Some("a"), "api", "query", "client"),
            ("c", Some("b"), "db", "query", "server"),
            ("d", Some("c"), "disk", "read", "server"),
            ("e", Some("a"), "api", "query", "client"),
            ("f", Some("e"), "db", "query", "server"),
            ("g", Some("a"), "cache", "get", "server"),
        ])
    }

    fn any(service: &str) -> SpanPattern {
        let mut p = pat(service, "*", "", vec![]);
        p.operation = None;
        p.kind = None;
        p
    }

    fn related(left: Selector, relation: Relation, right: Selector) -> Selector {
        Selector::Related {
            left: Box::new(left),
            relation,
            right: Box::new(right),
        }
    }

    fn ids(selector: &Selector) -> Vec<String> {
        let t = fan_out();
        let tree = TraceTree::new(&t);
        select(selector, &tree)
            .into_iter()
            .map(|n| tree.nodes[n].span.span_id.clone())
            .collect()
    }

    #[test]
    fn child_picks_spans_whose_parent_the_left_side_picks() {
        let s = related(any("api").into(), Relation::Child, any("db").into());
        assert_eq!(ids(&s), ["c", "f"]);
        let s = related(
            pat("api", "handle", "server", vec![]).into(),
            Relation::Child,
            any("db").into(),
        );
        assert!(
            ids(&s).is_empty(),
            "db sits below a client span, not below handle"
        );
    }

    #[test]
    fn descendant_picks_spans_with_the_left_side_among_their_ancestors() {
        let root = pat("api", "handle", "server", vec![]);
        assert_eq!(
            ids(&related(
                root.clone().into(),
                Relation::Descendant,
                any("db").into()
            )),
            ["c", "f"]
        );
        assert_eq!(
            ids(&related(
                root.into(),
                Relation::Descendant,
                any("disk").into()
            )),
            ["d"]
        );
        assert!(
            ids(&related(
                any("cache").into(),
                Relation::Descendant,
                any("disk").into()
            ))
            .is_empty()
        );
    }

    #[test]
    fn sibling_picks_other_children_of_the_same_parent() {
        let s = related(any("cache").into(), Relation::Sibling, any("api").into());
        assert_eq!(ids(&s), ["b", "e"], "the two query clients beside cache");
        let s = related(any("db").into(), Relation::Sibling, any("db").into());
        assert!(
            ids(&s).is_empty(),
            "a span is not its own sibling, and each db is alone under its parent"
        );
        let s = related(any("api").into(), Relation::Sibling, any("api").into());
        assert_eq!(
            ids(&s),
            ["b", "e"],
            "the two query clients are each other's siblings; the root has none"
        );
    }

    #[test]
    fn relations_chain_left_to_right_as_in_traceql() {
        // { api handle } > { api query } >> { disk }
        let s = related(
            related(
                pat("api", "handle", "server", vec![]).into(),
                Relation::Child,
                any("api").into(),
            ),
            Relation::Descendant,
            any("disk").into(),
        );
        assert_eq!(ids(&s), ["d"]);
        // The right side may itself be structural: db spans whose parent is
        // an api span and that have a db child... none do.
        let s = related(
            any("api").into(),
            Relation::Child,
            related(any("db").into(), Relation::Child, any("db").into()),
        );
        assert!(ids(&s).is_empty());
        assert_eq!(s.describe(), "api * > (db * > db *)");
    }

    #[test]
    fn parent_links_that_loop_do_not_hang_a_descendant_search() {
        let t = trace(&[
            ("a", Some("b"), "x", "op", "server"),
            ("b", Some("a"), "y", "op", "server"),
        ]);
        let tree = TraceTree::new(&t);
        let s = related(any("z").into(), Relation::Descendant, any("x").into());
        assert!(select(&s, &tree).is_empty());
    }
}
