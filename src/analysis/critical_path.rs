//! The critical path of a trace and each span's self time.
//!
//! The critical path is the chain of work the end of a trace waited on: a
//! parallel call that finished early is off it, the slowest one is on it,
//! and the time a span spends waiting for a child belongs to the child. It
//! is computed as Jaeger UI's trace page computes it (TracePage/CriticalPath,
//! learned from, not copied), per root span:
//!
//! 1. Children that run outside their parent are cut to its time (a child
//!    wholly outside it is dropped, with its subtree), top down, so a
//!    clock-skewed child cannot stretch its parent. A consumer span under a
//!    producer span does not block it and is left out with its subtree, as
//!    are spans that only follow from another (they have no CHILD_OF
//!    parent, so they are roots of their own tree).
//! 2. Walk back from the root's end: the child that finished last (the
//!    "last finishing child") holds the path from its end; before that the
//!    span itself does. Recurse into that child; when a span has no child
//!    left that ended before the point reached, it holds the path back to
//!    its own start, and its parent carries on from there, looking for a
//!    child that finished strictly before that start.
//!
//! The sections of one root's tree tile the root's time exactly. A trace
//! with several roots (orphans whose parent never arrived, follows-from
//! spans) gets each tree's path, in the order the roots start.
//!
//! Self time is a span's duration less the time at least one of its
//! children ran (children cut to the span's time, overlaps counted once):
//! what the span did itself.

use std::collections::HashMap;

use crate::jaeger::model::Trace;

/// A stretch of time one span holds the critical path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// Index of the span in [`Trace::spans`].
    pub span: usize,
    /// Microseconds since the Unix epoch.
    pub start_us: u64,
    pub end_us: u64,
}

impl Section {
    pub fn duration_us(&self) -> u64 {
        self.end_us - self.start_us
    }
}

/// A service's time on the critical path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceShare {
    pub service: String,
    pub critical_us: u64,
}

/// Where one trace's time went: its critical path and every span's self
/// time, each indexed like [`Trace::spans`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceTimes {
    /// The critical path in time order (root trees by start time).
    pub sections: Vec<Section>,
    /// Each span's self time, microseconds.
    pub self_us: Vec<u64>,
    /// Each span's time on the critical path, microseconds.
    pub critical_us: Vec<u64>,
}

impl TraceTimes {
    pub fn of(trace: &Trace) -> TraceTimes {
        let tree = Tree::new(trace);
        let self_us = (0..tree.len()).map(|i| tree.self_time(i)).collect();
        let mut sections = Vec::new();
        let mut cut = vec![None; tree.len()];
        let mut lists = vec![None; tree.len()];
        for &root in &tree.roots {
            sections.extend(tree.critical_path(root, &mut cut, &mut lists));
        }
        let mut critical_us = vec![0; tree.len()];
        for s in &sections {
            critical_us[s.span] += s.duration_us();
        }
        TraceTimes {
            sections,
            self_us,
            critical_us,
        }
    }

    /// The critical path's length: the root's duration for a trace with one
    /// root.
    pub fn total_critical_us(&self) -> u64 {
        self.sections.iter().map(Section::duration_us).sum()
    }

    /// Each service's time on the critical path, most first (then by name).
    pub fn by_service(&self, trace: &Trace) -> Vec<ServiceShare> {
        let mut by: HashMap<&str, u64> = HashMap::new();
        for s in &self.sections {
            *by.entry(service_of(trace, s.span)).or_default() += s.duration_us();
        }
        let mut shares: Vec<ServiceShare> = by
            .into_iter()
            .map(|(service, critical_us)| ServiceShare {
                service: service.to_string(),
                critical_us,
            })
            .collect();
        shares.sort_by(|a, b| {
            b.critical_us
                .cmp(&a.critical_us)
                .then_with(|| a.service.cmp(&b.service))
        });
        shares
    }
}

/// The service of `trace.spans[span]`, `?` when its process is missing.
pub fn service_of(trace: &Trace, span: usize) -> &str {
    trace
        .processes
        .get(&trace.spans[span].process_id)
        .map(|p| p.service_name.as_str())
        .unwrap_or("?")
}

/// A span's kept children as (end, start, index), and the walk's place in
/// that list.
type ChildList = (Vec<(u64, u64, usize)>, usize);

/// Parent and children by CHILD_OF references, over span indices.
struct Tree<'a> {
    trace: &'a Trace,
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    /// Spans without a parent in the trace, by start time.
    roots: Vec<usize>,
}

impl<'a> Tree<'a> {
    fn new(trace: &'a Trace) -> Tree<'a> {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(trace.spans.len());
        for (i, span) in trace.spans.iter().enumerate() {
            index.entry(span.span_id.as_str()).or_insert(i);
        }
        let n = trace.spans.len();
        let mut parent = vec![None; n];
        let mut children = vec![Vec::new(); n];
        let mut roots = Vec::new();
        for (i, span) in trace.spans.iter().enumerate() {
            match span.parent_span_id().and_then(|p| index.get(p)) {
                Some(&p) if p != i => {
                    parent[i] = Some(p);
                    children[p].push(i);
                }
                _ => roots.push(i),
            }
        }
        roots.sort_by_key(|&i| (trace.spans[i].start_time, i));
        Tree {
            trace,
            parent,
            children,
            roots,
        }
    }

    fn len(&self) -> usize {
        self.parent.len()
    }

    fn interval(&self, i: usize) -> (u64, u64) {
        let s = &self.trace.spans[i];
        (s.start_time, s.start_time.saturating_add(s.duration))
    }

    /// A producer does not wait for its consumers.
    fn blocks(&self, parent: usize, child: usize) -> bool {
        let kind = |i: usize| self.trace.spans[i].kind();
        !(kind(parent) == Some("producer") && kind(child) == Some("consumer"))
    }

    fn self_time(&self, i: usize) -> u64 {
        let (start, end) = self.interval(i);
        let mut cut: Vec<(u64, u64)> = self.children[i]
            .iter()
            .map(|&c| {
                let (s, e) = self.interval(c);
                (s.max(start), e.min(end))
            })
            .filter(|(s, e)| s < e)
            .collect();
        cut.sort_unstable();
        let mut covered = 0;
        let mut reach = start;
        for (s, e) in cut {
            let s = s.max(reach);
            if e > s {
                covered += e - s;
                reach = e;
            }
        }
        (end - start) - covered
    }

    /// Step 1: each span of `root`'s tree cut to its parent's (cut) time;
    /// `None` for spans dropped. Iterative: traces can be deep.
    fn cut_to_parents(&self, root: usize, cut: &mut [Option<(u64, u64)>]) {
        cut[root] = Some(self.interval(root));
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            let (ps, pe) = cut[p].expect("set before pushing");
            for &c in &self.children[p] {
                if !self.blocks(p, c) {
                    continue;
                }
                let (cs, ce) = self.interval(c);
                // Wholly outside the parent: not part of its time at all.
                if cs >= pe || (cs < ps && ce <= ps) {
                    continue;
                }
                cut[c] = Some((cs.max(ps), ce.min(pe)));
                stack.push(c);
            }
        }
    }

    /// Step 2, for the tree under `root`. `lists` holds, per span once
    /// visited, its kept children as (end, start, index), last finishing
    /// first (then earliest start, then trace order), and how far down that
    /// list the walk has come: the point it looks back from only moves
    /// earlier.
    fn critical_path(
        &self,
        root: usize,
        cut: &mut [Option<(u64, u64)>],
        lists: &mut [Option<ChildList>],
    ) -> Vec<Section> {
        self.cut_to_parents(root, cut);
        let cut: &[Option<(u64, u64)>] = cut;
        let sorted_children = |i: usize| -> Vec<(u64, u64, usize)> {
            let mut kept: Vec<(u64, u64, usize)> = self.children[i]
                .iter()
                .filter_map(|&c| cut[c].map(|(s, e)| (e, s, c)))
                .collect();
            kept.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            kept
        };
        let mut out = Vec::new();
        let mut push = |span: usize, start_us: u64, end_us: u64| {
            if end_us > start_us {
                out.push(Section {
                    span,
                    start_us,
                    end_us,
                });
            }
        };
        let mut current = root;
        let (_, root_end) = cut[root].expect("the root is kept");
        let mut point = root_end;
        let mut returning = false;
        loop {
            let (start, _) = cut[current].expect("only kept spans are visited");
            let (list, next) = lists[current].get_or_insert_with(|| (sorted_children(current), 0));
            // Coming back from a child: only a child that ended strictly
            // before that child started can have held the path.
            if returning {
                while *next < list.len() && list[*next].0 >= point {
                    *next += 1;
                }
            }
            match list.get(*next).copied() {
                Some((child_end, _, child)) => {
                    push(current, child_end, point);
                    current = child;
                    point = child_end;
                    returning = false;
                }
                None => {
                    push(current, start, point);
                    if current == root {
                        break;
                    }
                    current = self.parent[current].expect("a kept non-root has a parent");
                    point = start;
                    returning = true;
                }
            }
        }
        out.reverse();
        out
    }
}

#[cfg(test)]
pub(crate) mod tests;
