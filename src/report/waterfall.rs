//! The waterfall layout of one trace, computed once and drawn by every
//! renderer: the terminal (`human`), the web viewer (`web`) and `tracelab
//! traces` all turn the same [`Waterfall`] rows into characters or HTML.
//!
//! A row is a span in depth-first order (children by start time, orphans as
//! extra roots), with its depth, label, where its bar starts and how long it
//! is as fractions of the whole trace, its duration, error flag and tags,
//! its self time and the stretches of it on the critical path
//! ([`crate::analysis::critical_path`]); the waterfall sums the critical
//! path up by service.

use std::collections::HashMap;

use serde::Serialize;

use crate::analysis::critical_path::TraceTimes;
use crate::assert::tree::TraceTree;
use crate::jaeger::model::Trace;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waterfall {
    pub trace_id: String,
    /// The earliest span start, microseconds since the Unix epoch.
    pub start_us: u64,
    /// From the earliest start to the latest end, microseconds.
    pub duration_us: u64,
    /// Services in the order their first span appears in `rows`; renderers
    /// colour a service by its index here.
    pub services: Vec<String>,
    /// Deepest nesting, 1 for a single span.
    pub depth: usize,
    pub rows: Vec<WaterfallRow>,
    pub critical_path: CriticalPathSummary,
}

/// The critical path of a waterfall's trace, by service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalPathSummary {
    /// Its length: the root span's duration when the trace has one root.
    pub duration_us: u64,
    /// Most first.
    pub services: Vec<ServiceTime>,
}

/// One service's time on the critical path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceTime {
    pub service: String,
    pub critical_us: u64,
    /// Of the critical path (0 to 1).
    pub share: f64,
}

/// A stretch of a span on the critical path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stretch {
    /// Microseconds from the trace's start.
    pub start_offset_us: u64,
    pub duration_us: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaterfallRow {
    pub span_id: String,
    /// 0 for a root.
    pub depth: usize,
    pub service: String,
    pub operation: String,
    /// `client`, `server`, … from the `span.kind` tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Microseconds from the trace's start to this span's start.
    pub start_offset_us: u64,
    pub duration_us: u64,
    /// Where the bar starts, as a fraction of the trace (0 to 1).
    pub offset: f64,
    /// How long the bar is, as a fraction of the trace (0 to 1).
    pub width: f64,
    pub error: bool,
    pub tags: Vec<Tag>,
    /// Duration less the time its children ran.
    pub self_us: u64,
    /// Where this span holds the critical path, in time order.
    pub critical: Vec<Stretch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// One line of a trace list: what a search result shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    pub trace_id: String,
    /// "front-proxy checkAvailability": the first root's service and operation.
    pub root: String,
    pub start_us: u64,
    pub duration_us: u64,
    pub spans: usize,
    pub services: Vec<String>,
    /// Spans flagged as errors.
    pub errors: usize,
}

impl WaterfallRow {
    /// "service1 checkStock".
    pub fn label(&self) -> String {
        format!("{} {}", self.service, self.operation)
    }
}

impl Waterfall {
    pub fn of(trace: &Trace) -> Waterfall {
        Waterfall::with_times(trace, &TraceTimes::of(trace))
    }

    /// [`Waterfall::of`] a trace whose critical path is known.
    pub fn with_times(trace: &Trace, times: &TraceTimes) -> Waterfall {
        let tree = TraceTree::new(trace);
        let start_us = trace.spans.iter().map(|s| s.start_time).min().unwrap_or(0);
        let end_us = trace
            .spans
            .iter()
            .map(|s| s.start_time.saturating_add(s.duration))
            .max()
            .unwrap_or(start_us);
        let duration_us = end_us.saturating_sub(start_us);
        let fraction = |us: u64| {
            if duration_us == 0 {
                0.0
            } else {
                (us as f64 / duration_us as f64).clamp(0.0, 1.0)
            }
        };
        // TraceTree keeps trace order: node i is trace.spans[i].
        let mut stretches: HashMap<usize, Vec<Stretch>> = HashMap::new();
        for section in &times.sections {
            stretches.entry(section.span).or_default().push(Stretch {
                start_offset_us: section.start_us.saturating_sub(start_us),
                duration_us: section.duration_us(),
            });
        }
        let mut services: Vec<String> = Vec::new();
        let rows: Vec<WaterfallRow> = tree
            .walk()
            .into_iter()
            .map(|(i, depth)| {
                let node = &tree.nodes[i];
                let span = node.span;
                if !services.iter().any(|s| s == node.service) {
                    services.push(node.service.to_string());
                }
                let start_offset_us = span.start_time.saturating_sub(start_us);
                WaterfallRow {
                    span_id: span.span_id.clone(),
                    depth,
                    service: node.service.to_string(),
                    operation: span.operation_name.clone(),
                    kind: span.kind().map(str::to_string),
                    start_offset_us,
                    duration_us: span.duration,
                    offset: fraction(start_offset_us),
                    // A zero-length trace still draws full-width bars.
                    width: if duration_us == 0 {
                        1.0
                    } else {
                        fraction(span.duration).min(1.0 - fraction(start_offset_us))
                    },
                    error: span.is_error(),
                    tags: span
                        .tags
                        .iter()
                        .map(|t| Tag {
                            key: t.key.clone(),
                            value: t.value_text(),
                        })
                        .collect(),
                    self_us: times.self_us[i],
                    critical: stretches.remove(&i).unwrap_or_default(),
                }
            })
            .collect();
        let depth = rows.iter().map(|r| r.depth + 1).max().unwrap_or(0);
        let critical_us = times.total_critical_us();
        let critical_path = CriticalPathSummary {
            duration_us: critical_us,
            services: times
                .by_service(trace)
                .into_iter()
                .map(|s| ServiceTime {
                    share: if critical_us == 0 {
                        0.0
                    } else {
                        s.critical_us as f64 / critical_us as f64
                    },
                    service: s.service,
                    critical_us: s.critical_us,
                })
                .collect(),
        };
        Waterfall {
            trace_id: trace.trace_id.clone(),
            start_us,
            duration_us,
            services,
            depth,
            rows,
            critical_path,
        }
    }

    /// Microseconds from the trace's start as a fraction of the trace.
    pub fn fraction(&self, us: u64) -> f64 {
        if self.duration_us == 0 {
            0.0
        } else {
            (us as f64 / self.duration_us as f64).clamp(0.0, 1.0)
        }
    }

    pub fn summary(&self) -> TraceSummary {
        TraceSummary {
            trace_id: self.trace_id.clone(),
            root: self
                .rows
                .first()
                .map(WaterfallRow::label)
                .unwrap_or_else(|| "(no spans)".into()),
            start_us: self.start_us,
            duration_us: self.duration_us,
            spans: self.rows.len(),
            services: self.services.clone(),
            errors: self.rows.iter().filter(|r| r.error).count(),
        }
    }

    /// The index of `service` in [`Waterfall::services`], for its colour.
    pub fn service_index(&self, service: &str) -> usize {
        self.services.iter().position(|s| s == service).unwrap_or(0)
    }
}

/// The trace that took longest, first by id on a tie (so the choice is stable).
pub fn slowest<'a>(traces: impl IntoIterator<Item = &'a Trace>) -> Option<&'a Trace> {
    traces
        .into_iter()
        .map(|t| (trace_duration_us(t), t))
        .max_by(|(da, a), (db, b)| da.cmp(db).then_with(|| b.trace_id.cmp(&a.trace_id)))
        .map(|(_, t)| t)
}

fn trace_duration_us(trace: &Trace) -> u64 {
    let start = trace.spans.iter().map(|s| s.start_time).min().unwrap_or(0);
    let end = trace
        .spans
        .iter()
        .map(|s| s.start_time.saturating_add(s.duration))
        .max()
        .unwrap_or(start);
    end.saturating_sub(start)
}

/// Trace ids as people paste them: any case, with or without leading zeros
/// (Jaeger prints 64-bit ids as 16 digits, OTLP as 32).
pub fn same_trace_id(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().trim_start_matches('0').to_ascii_lowercase();
    norm(a) == norm(b)
}

/// "2.31 ms", "840 µs", "1.20 s": a span duration for people.
pub fn format_duration_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.2} ms", us as f64 / 1_000.0)
    } else {
        format!("{:.2} s", us as f64 / 1_000_000.0)
    }
}

/// Microseconds since the epoch as RFC 3339 UTC with milliseconds.
pub fn format_start_time(us: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_micros(us);
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::assert::tree::tests::{sandbox_trace, trace};
    use crate::jaeger::model::KeyValue;

    /// The sandbox chain with real-looking timings: each hop inside its parent.
    pub(crate) fn timed_sandbox_trace() -> Trace {
        let mut t = sandbox_trace();
        t.trace_id = "4bf92f3577b34da6".into();
        let timings = [(0, 2_000), (100, 1_800), (300, 1_200), (500, 600)];
        for (span, (offset, duration)) in t.spans.iter_mut().zip(timings) {
            span.start_time = 1_700_000_000_000_000 + offset;
            span.duration = duration;
        }
        t
    }

    #[test]
    fn rows_follow_the_tree_depth_first_with_bars_as_fractions_of_the_trace() {
        let w = Waterfall::of(&timed_sandbox_trace());
        assert_eq!(w.duration_us, 2_000);
        assert_eq!(w.depth, 4);
        assert_eq!(w.services, ["front-proxy", "service1", "service2"]);
        let rows: Vec<(usize, String, f64, f64)> = w
            .rows
            .iter()
            .map(|r| (r.depth, r.label(), r.offset, r.width))
            .collect();
        assert_eq!(
            rows,
            [
                (0, "front-proxy checkAvailability".into(), 0.0, 1.0),
                (1, "service1 checkAvailability".into(), 0.05, 0.9),
                (2, "service1 checkStock".into(), 0.15, 0.6),
                (3, "service2 checkStock".into(), 0.25, 0.3),
            ]
        );
        assert_eq!(w.rows[3].start_offset_us, 500);
        assert_eq!(w.rows[0].kind.as_deref(), Some("client"));
        assert!(w.rows[0].tags.contains(&Tag {
            key: "http.status_code".into(),
            value: "200".into()
        }));
    }

    #[test]
    fn rows_carry_self_time_and_their_stretches_of_the_critical_path() {
        let w = Waterfall::of(&timed_sandbox_trace());
        let stretch = |start_offset_us, duration_us| Stretch {
            start_offset_us,
            duration_us,
        };
        assert_eq!(
            w.rows[0].critical,
            [stretch(0, 100), stretch(1_900, 100)],
            "the proxy before and after service1"
        );
        assert_eq!(w.rows[3].critical, [stretch(500, 600)]);
        let selves: Vec<u64> = w.rows.iter().map(|r| r.self_us).collect();
        assert_eq!(selves, [200, 600, 600, 600]);
        assert_eq!(w.critical_path.duration_us, 2_000);
        let shares: Vec<(&str, u64, f64)> = w
            .critical_path
            .services
            .iter()
            .map(|s| (s.service.as_str(), s.critical_us, s.share))
            .collect();
        assert_eq!(
            shares,
            [
                ("service1", 1_200, 0.6),
                ("service2", 600, 0.3),
                ("front-proxy", 200, 0.1)
            ]
        );
    }

    #[test]
    fn the_summary_names_the_root_and_counts_spans_and_errors() {
        let mut t = timed_sandbox_trace();
        t.spans[3].tags.push(KeyValue::bool("error", true));
        let s = Waterfall::of(&t).summary();
        assert_eq!(s.root, "front-proxy checkAvailability");
        assert_eq!((s.spans, s.errors, s.duration_us), (4, 1, 2_000));
    }

    #[test]
    fn orphans_become_extra_roots_and_a_zero_length_trace_draws_full_bars() {
        let t = trace(&[
            ("a", None, "front-proxy", "checkAvailability", "client"),
            ("c", Some("zz"), "service1", "checkStock", "client"),
        ]);
        let mut t = t;
        for s in &mut t.spans {
            s.start_time = 5;
            s.duration = 0;
        }
        let w = Waterfall::of(&t);
        assert_eq!(w.rows.iter().map(|r| r.depth).collect::<Vec<_>>(), [0, 0]);
        assert!(w.rows.iter().all(|r| r.offset == 0.0 && r.width == 1.0));
    }

    #[test]
    fn a_child_overhanging_its_parent_keeps_its_bar_inside_the_trace() {
        let mut t = timed_sandbox_trace();
        t.spans[3].duration = 10_000;
        let w = Waterfall::of(&t);
        let last = &w.rows[3];
        assert!(last.offset + last.width <= 1.0 + 1e-9, "{last:?}");
    }

    #[test]
    fn the_slowest_trace_wins_and_ids_compare_without_leading_zeros() {
        let fast = timed_sandbox_trace();
        let mut slow = timed_sandbox_trace();
        slow.trace_id = "00000000000000ab".into();
        slow.spans[0].duration = 9_000;
        assert_eq!(slowest([&fast, &slow]).unwrap().trace_id, slow.trace_id);
        assert!(same_trace_id("AB", "00000000000000ab"));
        assert!(!same_trace_id("ab", "abc"));
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(format_duration_us(840), "840 µs");
        assert_eq!(format_duration_us(2_310), "2.31 ms");
        assert_eq!(format_duration_us(1_200_000), "1.20 s");
    }
}
