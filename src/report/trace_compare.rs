//! Two traces side by side (the viewer's `/compare` page): their
//! [`Waterfall`]s merged into one tree, each row a span of A, of B, or of
//! both, with what differs marked.
//!
//! Spans pair up by their place in the tree: under paired parents, the
//! k-th child of a name (service, operation, kind) in A pairs with the
//! k-th child of that name in B, in start order. What has no partner is
//! only in A or only in B, with its whole subtree. A pair is marked when
//! one side failed and the other did not, or when its duration changed by
//! at least [`CHANGE_RATIO`] and [`MIN_CHANGE_US`]. Both sides are drawn on
//! one time scale, the longer trace's, so bars compare by length.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::waterfall::{Waterfall, WaterfallRow};

/// A duration this many times longer (or shorter) is a change...
pub const CHANGE_RATIO: f64 = 1.5;
/// ...when it also moved by at least this much (noise below it).
pub const MIN_CHANGE_US: u64 = 100;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceCompare {
    pub a: Side,
    pub b: Side,
    /// The longer trace's duration: both sides' bars are fractions of it.
    pub scale_us: u64,
    /// The merged tree, depth first.
    pub rows: Vec<CompareRow>,
}

/// One of the two traces.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    pub trace_id: String,
    /// "front-proxy checkAvailability".
    pub root: String,
    pub duration_us: u64,
    pub spans: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    pub depth: usize,
    pub service: String,
    pub operation: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub a: Option<Placed>,
    pub b: Option<Placed>,
    pub change: Change,
}

/// A span of one side, placed on the common scale.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placed {
    pub span_id: String,
    pub duration_us: u64,
    /// Fractions of [`TraceCompare::scale_us`].
    pub offset: f64,
    pub width: f64,
    pub error: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Same,
    OnlyA,
    OnlyB,
    Slower,
    Faster,
    /// One side failed (`error=true`), the other did not.
    Error,
}

impl Change {
    /// A CSS class and a word for people.
    pub fn name(self) -> &'static str {
        match self {
            Change::Same => "same",
            Change::OnlyA => "only-a",
            Change::OnlyB => "only-b",
            Change::Slower => "slower",
            Change::Faster => "faster",
            Change::Error => "error-changed",
        }
    }
}

impl TraceCompare {
    pub fn of(a: &Waterfall, b: &Waterfall) -> TraceCompare {
        let scale_us = a.duration_us.max(b.duration_us);
        let ta = Tree::of(a);
        let tb = Tree::of(b);
        let mut rows = Vec::new();
        // (A node, B node, depth), depth first; roots pair like children.
        let mut stack: Vec<(Option<usize>, Option<usize>, usize)> =
            pair(&ta.roots, &tb.roots, &ta, &tb)
                .into_iter()
                .rev()
                .map(|(x, y)| (x, y, 0))
                .collect();
        while let Some((x, y, depth)) = stack.pop() {
            let ra = x.map(|i| &a.rows[i]);
            let rb = y.map(|i| &b.rows[i]);
            let row = ra.or(rb).expect("a pair has a side");
            rows.push(CompareRow {
                depth,
                service: row.service.clone(),
                operation: row.operation.clone(),
                kind: row.kind.clone(),
                a: ra.map(|r| place(r, a, scale_us)),
                b: rb.map(|r| place(r, b, scale_us)),
                change: change(ra, rb),
            });
            let none = Vec::new();
            let ca = x.map_or(&none, |i| &ta.children[i]);
            let cb = y.map_or(&none, |i| &tb.children[i]);
            for (cx, cy) in pair(ca, cb, &ta, &tb).into_iter().rev() {
                stack.push((cx, cy, depth + 1));
            }
        }
        TraceCompare {
            a: side(a),
            b: side(b),
            scale_us,
            rows,
        }
    }

    /// Rows with this change.
    pub fn count(&self, change: Change) -> usize {
        self.rows.iter().filter(|r| r.change == change).count()
    }
}

fn side(w: &Waterfall) -> Side {
    let summary = w.summary();
    Side {
        trace_id: w.trace_id.clone(),
        root: summary.root,
        duration_us: w.duration_us,
        spans: summary.spans,
    }
}

fn place(row: &WaterfallRow, w: &Waterfall, scale_us: u64) -> Placed {
    let fraction = |us: u64| {
        if scale_us == 0 {
            0.0
        } else {
            (us as f64 / scale_us as f64).clamp(0.0, 1.0)
        }
    };
    let offset = fraction(row.start_offset_us);
    Placed {
        span_id: row.span_id.clone(),
        duration_us: row.duration_us,
        offset,
        width: if w.duration_us == 0 {
            fraction(scale_us)
        } else {
            fraction(row.duration_us).min(1.0 - offset)
        },
        error: row.error,
    }
}

fn change(a: Option<&WaterfallRow>, b: Option<&WaterfallRow>) -> Change {
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) => (a, b),
        (Some(_), None) => return Change::OnlyA,
        _ => return Change::OnlyB,
    };
    if a.error != b.error {
        return Change::Error;
    }
    let (da, db) = (a.duration_us, b.duration_us);
    if da.abs_diff(db) < MIN_CHANGE_US {
        Change::Same
    } else if db as f64 >= da as f64 * CHANGE_RATIO {
        Change::Slower
    } else if da as f64 >= db as f64 * CHANGE_RATIO {
        Change::Faster
    } else {
        Change::Same
    }
}

/// A waterfall's rows as a tree again (rows are depth first with depths).
struct Tree<'a> {
    rows: &'a [WaterfallRow],
    roots: Vec<usize>,
    children: Vec<Vec<usize>>,
}

impl<'a> Tree<'a> {
    fn of(w: &'a Waterfall) -> Tree<'a> {
        let mut roots = Vec::new();
        let mut children = vec![Vec::new(); w.rows.len()];
        // The open ancestors: path[d] is the latest row at depth d.
        let mut path: Vec<usize> = Vec::new();
        for (i, row) in w.rows.iter().enumerate() {
            path.truncate(row.depth);
            match path.last() {
                Some(&parent) if row.depth > 0 => children[parent].push(i),
                _ => roots.push(i),
            }
            path.push(i);
        }
        Tree {
            rows: &w.rows,
            roots,
            children,
        }
    }

    fn key(&self, i: usize) -> (&str, &str, Option<&str>) {
        let r = &self.rows[i];
        (&r.service, &r.operation, r.kind.as_deref())
    }
}

/// Siblings of A and B paired by name and rank, in start order (A's start
/// for pairs and A-only spans, B's for B-only ones).
fn pair(a: &[usize], b: &[usize], ta: &Tree, tb: &Tree) -> Vec<(Option<usize>, Option<usize>)> {
    let mut unpaired: HashMap<(&str, &str, Option<&str>), Vec<usize>> = HashMap::new();
    for &j in b.iter().rev() {
        unpaired.entry(tb.key(j)).or_default().push(j);
    }
    let mut paired = HashSet::new();
    let mut out: Vec<(u64, Option<usize>, Option<usize>)> = a
        .iter()
        .map(|&i| {
            let partner = unpaired.get_mut(&ta.key(i)).and_then(Vec::pop);
            paired.extend(partner);
            (ta.rows[i].start_offset_us, Some(i), partner)
        })
        .collect();
    for &j in b {
        if !paired.contains(&j) {
            out.push((tb.rows[j].start_offset_us, None, Some(j)));
        }
    }
    out.sort_by_key(|(start, _, _)| *start);
    out.into_iter().map(|(_, x, y)| (x, y)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::critical_path::tests::timed;
    use crate::report::waterfall::tests::timed_sandbox_trace;

    #[test]
    fn a_trace_compared_with_itself_is_all_same() {
        let w = Waterfall::of(&timed_sandbox_trace());
        let c = TraceCompare::of(&w, &w);
        assert_eq!(c.rows.len(), 4);
        assert!(c.rows.iter().all(|r| r.change == Change::Same), "{c:?}");
        assert_eq!(
            c.rows.iter().map(|r| r.depth).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn missing_extra_slower_and_failed_spans_are_marked() {
        let a = timed(&[
            ("r", None, "shop", "page", "server", 0, 10_000),
            ("x", Some("r"), "shop", "getItem", "client", 1_000, 3_000),
            ("y", Some("r"), "shop", "getPrice", "client", 1_000, 2_000),
            (
                "y2",
                Some("y"),
                "pricing",
                "getPrice",
                "server",
                1_100,
                1_900,
            ),
        ]);
        let mut b = timed(&[
            ("r", None, "shop", "page", "server", 0, 20_000),
            ("x", Some("r"), "shop", "getItem", "client", 1_000, 12_000),
            (
                "z",
                Some("r"),
                "shop",
                "getReviews",
                "client",
                12_000,
                13_000,
            ),
            ("y", Some("r"), "shop", "getPrice", "client", 1_000, 2_050),
        ]);
        b.spans[3]
            .tags
            .push(crate::jaeger::model::KeyValue::bool("error", true));
        let c = TraceCompare::of(&Waterfall::of(&a), &Waterfall::of(&b));
        let got: Vec<(usize, &str, Change)> = c
            .rows
            .iter()
            .map(|r| (r.depth, r.operation.as_str(), r.change))
            .collect();
        assert_eq!(
            got,
            [
                (0, "page", Change::Slower),
                (1, "getItem", Change::Slower),
                (1, "getPrice", Change::Error),
                (2, "getPrice", Change::OnlyA),
                (1, "getReviews", Change::OnlyB),
            ]
        );
        assert_eq!(c.scale_us, 20_000);
        let page = &c.rows[0];
        assert_eq!(page.a.as_ref().unwrap().width, 0.5, "A on B's scale");
        assert_eq!(page.b.as_ref().unwrap().width, 1.0);
        assert_eq!((c.count(Change::OnlyA), c.count(Change::OnlyB)), (1, 1));
    }

    #[test]
    fn repeated_names_pair_in_start_order_and_small_changes_are_noise() {
        let a = timed(&[
            ("r", None, "api", "page", "server", 0, 1_000),
            ("c1", Some("r"), "api", "call", "client", 100, 200),
            ("c2", Some("r"), "api", "call", "client", 300, 400),
        ]);
        let b = timed(&[
            ("r", None, "api", "page", "server", 0, 1_050),
            ("c1", Some("r"), "api", "call", "client", 100, 250),
            ("c2", Some("r"), "api", "call", "client", 300, 400),
            ("c3", Some("r"), "api", "call", "client", 500, 600),
        ]);
        let c = TraceCompare::of(&Waterfall::of(&a), &Waterfall::of(&b));
        let changes: Vec<Change> = c.rows.iter().map(|r| r.change).collect();
        // c1 went from 100 to 150 µs: ×1.5 but only 50 µs.
        assert_eq!(
            changes,
            [Change::Same, Change::Same, Change::Same, Change::OnlyB]
        );
        assert_eq!(c.rows[3].b.as_ref().unwrap().span_id, "c3");
    }
}
