//! Summaries of a traffic run: latency percentiles, status counts, rate.
//!
//! A [`SummaryBuilder`] is fed each request as it finishes and keeps only
//! counts, the first few failures and a latency histogram: fixed memory
//! however many requests a run sends, so a soak-length run need not keep
//! a record per request to report on them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{RequestRecord, TrafficRun};

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
    /// Open model: how well its requests kept to their schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
}

/// How an open-model block kept to its schedule: a request leaves at its
/// time unless it must wait for a place (see [`super::OPEN_MODEL_IN_FLIGHT`]
/// and [`super::Admission`]) or this machine is too busy to send it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Schedule {
    /// The latest any request left after its time.
    pub behind_ms: f64,
    /// Requests that waited for one of the places in flight.
    pub waited_in_flight: u64,
    /// Requests that waited for the judge to catch up.
    pub waited_for_judge: u64,
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
    /// The summary of a run's kept records (latency percentiles as the
    /// [`SummaryBuilder`] gives them: within 0.05% of the exact ones).
    pub fn of(run: &TrafficRun) -> TrafficSummary {
        let mut builder = SummaryBuilder::default();
        for record in &run.records {
            builder.add(record);
        }
        builder.finish(run.elapsed)
    }
}

/// How many failed requests a [`SummaryBuilder`] keeps in full.
pub const FIRST_ERRORS: usize = 10;

/// Numbers failures in the order they were counted, across builders, so
/// merged builders keep the run's first failures (not each one's).
/// Touched on failures only.
static FAILURE_ORDER: AtomicU64 = AtomicU64::new(0);

/// A [`TrafficSummary`] built request by request, in fixed memory.
///
/// Latencies go into an HDR histogram of nanoseconds with 3 significant
/// digits: a value is counted in a bucket at most 1/1024 of it wide, and
/// a percentile is read as its bucket's middle, so it is within 0.05% of
/// the exact nearest-rank percentile (exact below 2048 ns); the maximum is
/// kept exactly. The histogram grows with the largest latency seen (tens
/// of KiB for seconds), not with the number of requests.
///
/// Builders fed side by side (one per generator thread, no lock shared
/// per request) are combined with [`SummaryBuilder::merge`].
pub struct SummaryBuilder {
    requests: u64,
    /// Spelt out only in `finish`: nothing allocated per request.
    by_status: BTreeMap<u16, u64>,
    no_response: u64,
    interrupted: u64,
    errors: u64,
    /// With their place in [`FAILURE_ORDER`].
    first_errors: Vec<(u64, RequestRecord)>,
    latency_ns: Histogram<u64>,
    max: Duration,
    schedule: Option<Schedule>,
}

impl Default for SummaryBuilder {
    fn default() -> Self {
        let mut latency_ns = Histogram::new(3).expect("3 significant digits are valid");
        latency_ns.auto(true);
        SummaryBuilder {
            requests: 0,
            by_status: BTreeMap::new(),
            no_response: 0,
            interrupted: 0,
            errors: 0,
            first_errors: Vec::new(),
            latency_ns,
            max: Duration::ZERO,
            schedule: None,
        }
    }
}

impl SummaryBuilder {
    /// Count one finished request.
    pub fn add(&mut self, record: &RequestRecord) {
        self.requests += 1;
        match record.status {
            Some(status) => *self.by_status.entry(status).or_insert(0) += 1,
            // Cut off by an interrupt: not the target's failure.
            None if record.interrupted => self.interrupted += 1,
            None => self.no_response += 1,
        }
        if !record.interrupted && record.status.is_none_or(|s| s >= 500) {
            self.errors += 1;
            if self.first_errors.len() < FIRST_ERRORS {
                let order = FAILURE_ORDER.fetch_add(1, Ordering::Relaxed);
                self.first_errors.push((order, record.clone()));
            }
        }
        let ns = u64::try_from(record.latency.as_nanos()).unwrap_or(u64::MAX);
        // Auto-resizing: recording only fails past u64's range.
        let _ = self.latency_ns.record(ns);
        self.max = self.max.max(record.latency);
    }

    /// Requests counted so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The first [`FIRST_ERRORS`] requests counted as errors (5xx or no
    /// response), in full.
    pub fn first_errors(&self) -> Vec<RequestRecord> {
        self.first_errors.iter().map(|(_, r)| r.clone()).collect()
    }

    /// Count what `other` counted too; the first errors stay the first
    /// counted by either.
    pub fn merge(&mut self, other: SummaryBuilder) {
        self.requests += other.requests;
        for (status, n) in other.by_status {
            *self.by_status.entry(status).or_insert(0) += n;
        }
        self.no_response += other.no_response;
        self.interrupted += other.interrupted;
        self.errors += other.errors;
        self.first_errors.extend(other.first_errors);
        self.first_errors.sort_unstable_by_key(|(order, _)| *order);
        self.first_errors.truncate(FIRST_ERRORS);
        // Auto-resizing: adding only fails past u64's range.
        let _ = self.latency_ns.add(&other.latency_ns);
        self.max = self.max.max(other.max);
    }

    /// How the open model kept its schedule.
    pub fn set_schedule(&mut self, schedule: Schedule) {
        self.schedule = Some(schedule);
    }

    /// The summary of what was counted, over a run that took `elapsed`.
    pub fn finish(&self, elapsed: Duration) -> TrafficSummary {
        let secs = elapsed.as_secs_f64();
        let mut statuses: BTreeMap<String, u64> = self
            .by_status
            .iter()
            .map(|(status, n)| (status.to_string(), *n))
            .collect();
        for (key, n) in [
            ("no response", self.no_response),
            ("interrupted", self.interrupted),
        ] {
            if n > 0 {
                statuses.insert(key.to_string(), n);
            }
        }
        TrafficSummary {
            requests: self.requests,
            statuses,
            errors: self.errors,
            requests_per_second: if secs > 0.0 {
                self.requests as f64 / secs
            } else {
                0.0
            },
            elapsed_ms: secs * 1000.0,
            latency_ms: self.percentiles(),
            schedule: self.schedule,
        }
    }

    fn percentiles(&self) -> Percentiles {
        if self.latency_ns.is_empty() {
            return Percentiles::default();
        }
        let max_ms = self.max.as_secs_f64() * 1000.0;
        let at = |q: f64| {
            // The bucket's middle, never past the exact maximum.
            let ns = self
                .latency_ns
                .median_equivalent(self.latency_ns.value_at_quantile(q));
            (ns as f64 / 1e6).min(max_ms)
        };
        Percentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: max_ms,
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

    fn answered(latency: Duration, status: Option<u16>) -> RequestRecord {
        RequestRecord {
            request_id: String::new(),
            status,
            latency,
            trace_id: None,
            sampled: false,
            error: None,
            interrupted: false,
            sent: None,
        }
    }

    #[test]
    fn the_builders_percentiles_are_the_exact_ones_within_its_bound() {
        // Latencies from 50 µs to about 3 s, spread unevenly.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let latencies: Vec<Duration> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let exponent = (x % 16) as u32;
                Duration::from_nanos(50_000 + (x >> 40) % (1 << (exponent + 7)) * 1_000)
            })
            .collect();
        let mut builder = SummaryBuilder::default();
        for latency in &latencies {
            builder.add(&answered(*latency, Some(200)));
        }
        let (got, exact) = (
            builder.finish(ms(1)).latency_ms,
            Percentiles::of(&latencies),
        );
        for (got, exact) in [
            (got.p50, exact.p50),
            (got.p90, exact.p90),
            (got.p99, exact.p99),
        ] {
            assert!((got - exact).abs() <= exact * 0.0005, "{got} vs {exact}");
        }
        assert_eq!(got.max, exact.max);
    }

    #[test]
    fn the_builder_counts_as_the_records_would_and_keeps_the_first_errors_whole() {
        let mut builder = SummaryBuilder::default();
        let mut records = Vec::new();
        for i in 0..40u64 {
            let mut record = answered(ms(i % 7), [Some(200), Some(503), None][i as usize % 3]);
            record.request_id = format!("r{i}");
            record.interrupted = i == 38;
            records.push(record);
        }
        for record in &records {
            builder.add(record);
        }
        let run = TrafficRun {
            name: "t".into(),
            target: "front".into(),
            records,
            started: SystemTime::now(),
            elapsed: ms(40),
        };
        let summary = builder.finish(run.elapsed);
        assert_eq!(summary, TrafficSummary::of(&run));
        assert_eq!(summary.requests, 40);
        assert_eq!(summary.statuses["200"], 14);
        assert_eq!(summary.statuses["503"], 13);
        assert_eq!(summary.statuses["no response"], 12);
        assert_eq!(summary.statuses["interrupted"], 1);
        assert_eq!(summary.errors, 25);
        assert_eq!(summary.requests_per_second, 1000.0);
        let first: Vec<String> = builder
            .first_errors()
            .into_iter()
            .map(|r| r.request_id)
            .collect();
        assert_eq!(
            first,
            [
                "r1", "r2", "r4", "r5", "r7", "r8", "r10", "r11", "r13", "r14"
            ]
        );
    }

    #[test]
    fn merged_builders_count_as_one_and_keep_the_first_errors_of_all() {
        let (mut one, mut a, mut b) = (
            SummaryBuilder::default(),
            SummaryBuilder::default(),
            SummaryBuilder::default(),
        );
        for i in 0..60u64 {
            let mut record = answered(ms(i % 11), [Some(200), Some(503), None][i as usize % 3]);
            record.request_id = format!("r{i}");
            one.add(&record);
            // Unevenly split: b sees every failure after its fifth.
            if i % 4 == 0 || i > 20 { &mut b } else { &mut a }.add(&record);
        }
        a.merge(b);
        assert_eq!(a.finish(ms(60)), one.finish(ms(60)));
        assert_eq!(a.first_errors(), one.first_errors());
    }

    #[test]
    fn nothing_counted_is_all_zeros() {
        let summary = SummaryBuilder::default().finish(Duration::ZERO);
        assert_eq!(summary.requests, 0);
        assert!(summary.statuses.is_empty());
        assert_eq!(summary.latency_ms, Percentiles::default());
        assert_eq!(summary.requests_per_second, 0.0);
    }
}
