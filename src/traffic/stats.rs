//! Summaries of a traffic run: latency percentiles, status counts, rate.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::TrafficRun;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrafficSummary {
    pub requests: u64,
    /// Status code (or "no response", or "interrupted": cut off in flight
    /// by Ctrl-C) → count.
    pub statuses: BTreeMap<String, u64>,
    /// Requests without a 2xx/3xx/4xx answer: 5xx or no response.
    pub errors: u64,
    pub requests_per_second: f64,
    pub elapsed_ms: f64,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values` (need not be sorted).
    pub fn of(values: &[Duration]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        let mut sorted: Vec<Duration> = values.to_vec();
        sorted.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Percentiles {
            p50: ms(nearest_rank(&sorted, 50.0)),
            p90: ms(nearest_rank(&sorted, 90.0)),
            p99: ms(nearest_rank(&sorted, 99.0)),
            max: ms(*sorted.last().expect("not empty")),
        }
    }
}

/// The smallest value with at least `pct`% of values at or below it.
pub fn nearest_rank(sorted: &[Duration], pct: f64) -> Duration {
    sorted[nearest_rank_index(sorted.len(), pct)]
}

/// The index of the nearest-rank `pct` percentile in a sorted list of `len`
/// values (`len` > 0).
pub fn nearest_rank_index(len: usize, pct: f64) -> usize {
    let rank = ((pct / 100.0) * len as f64).ceil() as usize;
    rank.clamp(1, len) - 1
}

impl TrafficSummary {
    pub fn of(run: &TrafficRun) -> TrafficSummary {
        let mut statuses = BTreeMap::new();
        let mut errors = 0;
        for record in &run.records {
            let key = match record.status {
                Some(s) => s.to_string(),
                // Cut off by an interrupt: not the target's failure.
                None if record.interrupted => "interrupted".into(),
                None => "no response".into(),
            };
            *statuses.entry(key).or_insert(0) += 1;
            if !record.interrupted && record.status.is_none_or(|s| s >= 500) {
                errors += 1;
            }
        }
        let latencies: Vec<Duration> = run.records.iter().map(|r| r.latency).collect();
        let secs = run.elapsed.as_secs_f64();
        TrafficSummary {
            requests: run.records.len() as u64,
            statuses,
            errors,
            requests_per_second: if secs > 0.0 {
                run.records.len() as f64 / secs
            } else {
                0.0
            },
            elapsed_ms: secs * 1000.0,
            latency_ms: Percentiles::of(&latencies),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::RequestRecord;
    use std::time::SystemTime;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let values: Vec<Duration> = (1..=100).map(ms).collect();
        let p = Percentiles::of(&values);
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));
    }

    #[test]
    fn one_value_is_every_percentile() {
        let p = Percentiles::of(&[ms(7)]);
        assert_eq!((p.p50, p.p99, p.max), (7.0, 7.0, 7.0));
    }

    #[test]
    fn statuses_and_errors_are_counted() {
        let record = |status| RequestRecord {
            request_id: String::new(),
            status,
            latency: ms(1),
            trace_id: None,
            sampled: true,
            error: None,
            interrupted: false,
            sent: None,
        };
        let run = TrafficRun {
            name: "t".into(),
            target: "front".into(),
            records: vec![
                record(Some(200)),
                record(Some(200)),
                record(Some(503)),
                record(None),
            ],
            started: SystemTime::now(),
            elapsed: ms(100),
        };
        let s = TrafficSummary::of(&run);
        assert_eq!(s.statuses["200"], 2);
        assert_eq!(s.statuses["no response"], 1);
        assert_eq!(s.errors, 2);
        assert_eq!(s.requests_per_second, 40.0);
    }
}
