//! Latency statistics per span name (service, operation, kind): how many
//! spans, their duration and self-time percentiles, and their share of the
//! critical path. Traces are added one at a time and each name holds two
//! HDR histograms (3 significant digits: a percentile within 0.1% of the
//! exact value; maxima exact), so memory grows with the number of names,
//! never with the number of traces. `tracelab diff` compares these between
//! two reports.

use std::collections::HashMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::critical_path::{TraceTimes, service_of};
use crate::jaeger::model::Trace;
use crate::traffic::stats::Percentiles;

/// One span name's statistics, as the JSON report carries them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanStats {
    pub service: String,
    pub operation: String,
    /// `client`, `server`, … from the `span.kind` tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Spans of this name in the scenario's traces.
    pub count: u64,
    pub duration_ms: Percentiles,
    /// Duration less the time its children ran.
    pub self_ms: Percentiles,
    /// Its part of all the critical paths' time (0 to 1).
    pub critical_share: f64,
}

impl SpanStats {
    /// "service2 checkStock (server)": the name `diff` matches spans by.
    pub fn label(&self) -> String {
        match &self.kind {
            Some(kind) => format!("{} {} ({kind})", self.service, self.operation),
            None => format!("{} {}", self.service, self.operation),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SpanName {
    service: String,
    operation: String,
    kind: Option<String>,
}

struct Entry {
    count: u64,
    duration_us: Histogram<u64>,
    self_us: Histogram<u64>,
    max_duration_us: u64,
    max_self_us: u64,
    critical_us: u64,
}

impl Default for Entry {
    fn default() -> Self {
        Entry {
            count: 0,
            duration_us: histogram(),
            self_us: histogram(),
            max_duration_us: 0,
            max_self_us: 0,
            critical_us: 0,
        }
    }
}

/// Microseconds, growing with the largest value seen (so a name that only
/// sees short spans stays small).
fn histogram() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("3 significant digits are valid");
    h.auto(true);
    h
}

/// Span statistics accumulated trace by trace.
#[derive(Default)]
pub struct SpanStatsBuilder {
    /// "service\0operation\0kind" → index in `entries`: looked up with a
    /// reused buffer, so a span of a known name allocates nothing.
    index: HashMap<String, usize>,
    entries: Vec<(SpanName, Entry)>,
    key: String,
    critical_us: u64,
}

impl SpanStatsBuilder {
    pub fn add(&mut self, trace: &Trace) {
        self.add_with(trace, &TraceTimes::of(trace));
    }

    /// [`SpanStatsBuilder::add`] for a trace whose times are known.
    pub fn add_with(&mut self, trace: &Trace, times: &TraceTimes) {
        self.critical_us += times.total_critical_us();
        for (i, span) in trace.spans.iter().enumerate() {
            let service = service_of(trace, i);
            let kind = span.kind();
            self.key.clear();
            let _ = write!(
                self.key,
                "{service}\0{}\0{}",
                span.operation_name,
                kind.unwrap_or("")
            );
            let at = match self.index.get(self.key.as_str()) {
                Some(&at) => at,
                None => {
                    let name = SpanName {
                        service: service.to_string(),
                        operation: span.operation_name.clone(),
                        kind: kind.map(str::to_string),
                    };
                    self.entries.push((name, Entry::default()));
                    self.index.insert(self.key.clone(), self.entries.len() - 1);
                    self.entries.len() - 1
                }
            };
            let entry = &mut self.entries[at].1;
            entry.count += 1;
            // Auto-resizing: recording only fails past u64's range.
            let _ = entry.duration_us.record(span.duration);
            let _ = entry.self_us.record(times.self_us[i]);
            entry.max_duration_us = entry.max_duration_us.max(span.duration);
            entry.max_self_us = entry.max_self_us.max(times.self_us[i]);
            entry.critical_us += times.critical_us[i];
        }
    }

    /// Every name seen, by service, operation and kind.
    pub fn finish(&self) -> Vec<SpanStats> {
        let mut sorted: Vec<&(SpanName, Entry)> = self.entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        sorted
            .into_iter()
            .map(|(name, e)| SpanStats {
                service: name.service.clone(),
                operation: name.operation.clone(),
                kind: name.kind.clone(),
                count: e.count,
                duration_ms: percentiles(&e.duration_us, e.max_duration_us),
                self_ms: percentiles(&e.self_us, e.max_self_us),
                critical_share: if self.critical_us == 0 {
                    0.0
                } else {
                    e.critical_us as f64 / self.critical_us as f64
                },
            })
            .collect()
    }
}

fn percentiles(h: &Histogram<u64>, max_us: u64) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let max_ms = max_us as f64 / 1000.0;
    let at = |q: f64| {
        // The bucket's middle, never past the exact maximum.
        let us = h.median_equivalent(h.value_at_quantile(q));
        (us as f64 / 1000.0).min(max_ms)
    };
    Percentiles {
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        max: max_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::critical_path::tests::{fan_out, timed};

    #[test]
    fn each_span_name_gets_its_count_percentiles_and_critical_share() {
        let mut stats = SpanStatsBuilder::default();
        stats.add(&fan_out());
        stats.add(&fan_out());
        let all = stats.finish();
        let by = |label: &str| all.iter().find(|s| s.label() == label).unwrap().clone();
        let api = by("api productPage (server)");
        assert_eq!(api.count, 2);
        assert_eq!(api.duration_ms.p50, 0.09);
        assert_eq!(api.self_ms.max, 0.022);
        assert!((by("pricing getPrice (server)").critical_share - 0.36).abs() < 1e-9);
        assert_eq!(by("catalog getItem (server)").critical_share, 0.0);
        let shares: f64 = all.iter().map(|s| s.critical_share).sum();
        assert!((shares - 1.0).abs() < 1e-9, "{shares}");
    }

    #[test]
    fn percentiles_are_nearest_rank_within_a_tenth_of_a_percent() {
        let mut stats = SpanStatsBuilder::default();
        for ms in 1..=100u64 {
            stats.add(&timed(&[("a", None, "s", "op", "server", 0, ms * 1000)]));
        }
        let s = &stats.finish()[0];
        for (got, want) in [
            (s.duration_ms.p50, 50.0),
            (s.duration_ms.p90, 90.0),
            (s.duration_ms.p99, 99.0),
        ] {
            assert!((got - want).abs() <= want * 0.001, "{got} vs {want}");
        }
        assert_eq!(s.duration_ms.max, 100.0);
        assert_eq!(s.kind.as_deref(), Some("server"));
    }
}
