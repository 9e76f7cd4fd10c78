//! `tracelab diff OLD.json NEW.json`: what changed between two runs' JSON
//! reports, as a plain model ([`ReportDiff`]) that `report::diff` renders.
//!
//! Scenarios pair by name, checks by (check, name, traffic block), traffic
//! blocks by name and spans by (service, operation, kind), repeated keys in
//! order. The diff lists checks whose verdict changed (or that appeared or
//! vanished), the latency percentiles of every traffic block and span name
//! with the change as a ratio (spans also by self time, which points at the
//! span that slowed rather than its callers, which only waited), and spans
//! and services that appeared or vanished.
//!
//! Something is *worse* (exit 1) when a check that passed (or did not
//! exist) fails, or a judged percentile ([`Thresholds::percentiles`]) of a
//! block or span grew past [`Thresholds::max_ratio`] and by at least
//! [`Thresholds::min_delta_ms`]; with [`Thresholds::fail_on_shape_change`],
//! also spans or services that appeared or vanished. Two reports with no
//! scenario in common are an error, not a pass.

pub mod input;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::Serialize;

use self::input::{Outcome, Percentiles, Report, Scenario, SpanStats, Traffic};

/// Bumped when a field of the diff's JSON changes meaning or disappears.
pub const SCHEMA: &str = "tracelab.diff/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pct {
    P50,
    P90,
    P99,
    Max,
}

impl Pct {
    pub const ALL: [Pct; 4] = [Pct::P50, Pct::P90, Pct::P99, Pct::Max];

    pub fn name(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P90 => "p90",
            Pct::P99 => "p99",
            Pct::Max => "max",
        }
    }

    pub fn parse(text: &str) -> Result<Pct, String> {
        Pct::ALL
            .into_iter()
            .find(|p| p.name() == text.trim())
            .ok_or_else(|| format!("{text:?}: use p50, p90, p99 or max"))
    }

    fn of(self, p: &Percentiles) -> f64 {
        match self {
            Pct::P50 => p.p50,
            Pct::P90 => p.p90,
            Pct::P99 => p.p99,
            Pct::Max => p.max,
        }
    }
}

/// When a change counts as worse.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// A percentile this many times the old one or more...
    pub max_ratio: f64,
    /// ...that also grew by at least this many milliseconds is worse.
    pub min_delta_ms: f64,
    /// The percentiles judged (all are shown).
    pub percentiles: Vec<Pct>,
    /// Spans or services that appeared or vanished are worse too.
    pub fail_on_shape_change: bool,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_ratio: 1.5,
            min_delta_ms: 2.0,
            percentiles: vec![Pct::P50, Pct::P90],
            fail_on_shape_change: false,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportDiff {
    pub schema: &'static str,
    pub old: Side,
    pub new: Side,
    pub thresholds: Thresholds,
    /// Scenarios in both reports, in NEW's order.
    pub scenarios: Vec<ScenarioDiff>,
    pub scenarios_appeared: Vec<String>,
    pub scenarios_vanished: Vec<String>,
    /// What the user should know about the comparison itself.
    pub notes: Vec<String>,
    /// Findings past the thresholds: exit 1 when above 0.
    pub worse: usize,
}

/// One of the two reports.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub path: String,
    pub tracelab_version: String,
    pub passed: bool,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioDiff {
    pub name: String,
    pub file: String,
    /// Checks whose verdict changed, or that appeared or vanished.
    pub checks: Vec<CheckChange>,
    pub traffic: Vec<LatencyDiff>,
    /// Worse first, then by how much the first judged percentile grew.
    pub spans: Vec<LatencyDiff>,
    pub services_appeared: Vec<String>,
    pub services_vanished: Vec<String>,
    pub worse: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckChange {
    pub name: String,
    pub traffic: String,
    /// `expectation`, or the integrity check's id.
    pub check: String,
    /// `None`: not in that report.
    pub old: Option<bool>,
    pub new: Option<bool>,
    pub old_observed: Option<String>,
    pub new_observed: Option<String>,
    pub worse: bool,
}

/// A traffic block's or a span name's latency, old beside new.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyDiff {
    /// The block's name, or the span's `service operation (kind)`.
    pub name: String,
    /// `None`: not in that report (the span appeared or vanished).
    pub old: Option<Percentiles>,
    pub new: Option<Percentiles>,
    /// Requests (blocks) or spans (span names) on each side.
    pub old_count: Option<u64>,
    pub new_count: Option<u64>,
    /// Every percentile, when both sides have it.
    pub changes: Vec<PctChange>,
    /// Span names: the self time's percentiles.
    pub self_changes: Vec<PctChange>,
    pub worse: bool,
    /// Span names: a judged self-time percentile grew past the thresholds,
    /// so the time was added in this span, not only below it.
    pub slowed_here: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PctChange {
    pub percentile: Pct,
    pub old_ms: f64,
    pub new_ms: f64,
    /// new / old; `None` when old is 0.
    pub ratio: Option<f64>,
    /// One of [`Thresholds::percentiles`].
    pub judged: bool,
    pub worse: bool,
    pub better: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Input(#[from] input::InputError),
    #[error("{old} and {new} have no scenario in common: nothing to compare")]
    NothingInCommon { old: String, new: String },
}

/// Read both files and compare them.
pub fn diff_files(
    old: &Path,
    new: &Path,
    thresholds: &Thresholds,
) -> Result<ReportDiff, DiffError> {
    let old_report = input::read(old)?;
    let new_report = input::read(new)?;
    diff(
        (&old.display().to_string(), &old_report),
        (&new.display().to_string(), &new_report),
        thresholds,
    )
}

pub fn diff(
    (old_path, old): (&str, &Report),
    (new_path, new): (&str, &Report),
    thresholds: &Thresholds,
) -> Result<ReportDiff, DiffError> {
    let side = |path: &str, r: &Report| Side {
        path: path.to_string(),
        tracelab_version: r.tracelab_version.clone(),
        passed: r.passed,
        interrupted: r.interrupted,
    };
    let mut notes = Vec::new();
    for (which, path, r) in [("OLD", old_path, old), ("NEW", new_path, new)] {
        if r.interrupted {
            notes.push(format!(
                "{which} ({path}) was interrupted: it covers only what ran until the signal"
            ));
        }
        if let Some(aborted) = &r.aborted {
            let at = aborted
                .scenario
                .as_deref()
                .map_or_else(String::new, |s| format!(" at {s:?}"));
            notes.push(format!(
                "{which} ({path}) stopped{at} on an error, and covers only the scenarios before it: {}",
                aborted.message
            ));
        }
    }
    let pairs = paired(&old.scenarios, &new.scenarios, |s| s.name.clone());
    let mut scenarios = Vec::new();
    let mut appeared = Vec::new();
    let mut vanished = Vec::new();
    for (o, n) in pairs {
        match (o, n) {
            (Some(o), Some(n)) => scenarios.push(scenario(o, n, thresholds, &mut notes)),
            (None, Some(n)) => appeared.push(n.name.clone()),
            (Some(o), None) => vanished.push(o.name.clone()),
            (None, None) => {}
        }
    }
    if scenarios.is_empty() {
        return Err(DiffError::NothingInCommon {
            old: old_path.to_string(),
            new: new_path.to_string(),
        });
    }
    let worse = scenarios.iter().map(|s| s.worse).sum();
    Ok(ReportDiff {
        schema: SCHEMA,
        old: side(old_path, old),
        new: side(new_path, new),
        thresholds: thresholds.clone(),
        scenarios,
        scenarios_appeared: appeared,
        scenarios_vanished: vanished,
        notes,
        worse,
    })
}

fn scenario(o: &Scenario, n: &Scenario, t: &Thresholds, notes: &mut Vec<String>) -> ScenarioDiff {
    let checks: Vec<CheckChange> = paired(&o.outcomes, &n.outcomes, check_key)
        .into_iter()
        .filter_map(|(a, b)| check_change(a, b))
        .collect();
    let traffic: Vec<LatencyDiff> = paired(&o.traffic, &n.traffic, |b| b.name.clone())
        .into_iter()
        .map(|(a, b)| block(a, b, t))
        .collect();
    let mut spans = Vec::new();
    let mut services_appeared = Vec::new();
    let mut services_vanished = Vec::new();
    match (&o.spans, &n.spans) {
        (Some(os), Some(ns)) => {
            spans = paired(os, ns, SpanStats::label)
                .into_iter()
                .map(|(a, b)| span(a, b, t))
                .collect();
            spans.sort_by(|a, b| {
                b.worse
                    .cmp(&a.worse)
                    .then(growth(b).total_cmp(&growth(a)))
                    .then(a.name.cmp(&b.name))
            });
            let services = |s: &[SpanStats]| -> BTreeSet<String> {
                s.iter().map(|x| x.service.clone()).collect()
            };
            let (before, after) = (services(os), services(ns));
            services_appeared = after.difference(&before).cloned().collect();
            services_vanished = before.difference(&after).cloned().collect();
        }
        (old_spans, _) => notes.push(format!(
            "{}: {} has no per-span statistics (written by an older tracelab): spans and services not compared",
            n.name,
            if old_spans.is_none() { "OLD" } else { "NEW" }
        )),
    }
    let shape = if t.fail_on_shape_change {
        services_appeared.len()
            + services_vanished.len()
            + spans
                .iter()
                .filter(|s| s.old.is_none() || s.new.is_none())
                .count()
    } else {
        0
    };
    let worse = checks.iter().filter(|c| c.worse).count()
        + traffic.iter().filter(|b| b.worse).count()
        + spans.iter().filter(|s| s.worse).count()
        + shape;
    ScenarioDiff {
        name: n.name.clone(),
        file: n.file.clone(),
        checks,
        traffic,
        spans,
        services_appeared,
        services_vanished,
        worse,
    }
}

fn check_key(o: &Outcome) -> String {
    let check = o.source.check.as_deref().unwrap_or(&o.source.kind);
    format!("{check}\u{0}{}\u{0}{}", o.name, o.traffic)
}

fn check_change(old: Option<&Outcome>, new: Option<&Outcome>) -> Option<CheckChange> {
    let any = new.or(old)?;
    let (o, n) = (old.map(|c| c.passed), new.map(|c| c.passed));
    if o == n {
        return None;
    }
    Some(CheckChange {
        name: any.name.clone(),
        traffic: any.traffic.clone(),
        check: any
            .source
            .check
            .clone()
            .unwrap_or_else(|| any.source.kind.clone()),
        old: o,
        new: n,
        old_observed: old.map(|c| c.observed.clone()),
        new_observed: new.map(|c| c.observed.clone()),
        // Failing now, having passed or not existed.
        worse: n == Some(false),
    })
}

fn block(old: Option<&Traffic>, new: Option<&Traffic>, t: &Thresholds) -> LatencyDiff {
    let name = new.or(old).map(|b| b.name.clone()).unwrap_or_default();
    let (o, n) = (old.map(|b| b.latency_ms), new.map(|b| b.latency_ms));
    let changes = changes(o.as_ref(), n.as_ref(), t);
    LatencyDiff {
        name,
        old: o,
        new: n,
        old_count: old.map(|b| b.requests),
        new_count: new.map(|b| b.requests),
        worse: changes.iter().any(|c| c.worse),
        changes,
        self_changes: Vec::new(),
        slowed_here: false,
    }
}

fn span(old: Option<&SpanStats>, new: Option<&SpanStats>, t: &Thresholds) -> LatencyDiff {
    let name = new.or(old).map(SpanStats::label).unwrap_or_default();
    let (o, n) = (old.map(|s| s.duration_ms), new.map(|s| s.duration_ms));
    let changes = changes(o.as_ref(), n.as_ref(), t);
    let self_changes = self::changes(
        old.map(|s| s.self_ms).as_ref(),
        new.map(|s| s.self_ms).as_ref(),
        t,
    );
    LatencyDiff {
        name,
        old: o,
        new: n,
        old_count: old.map(|s| s.count),
        new_count: new.map(|s| s.count),
        worse: changes.iter().any(|c| c.worse),
        slowed_here: self_changes.iter().any(|c| c.worse),
        changes,
        self_changes,
    }
}

fn changes(old: Option<&Percentiles>, new: Option<&Percentiles>, t: &Thresholds) -> Vec<PctChange> {
    let (Some(old), Some(new)) = (old, new) else {
        return Vec::new();
    };
    Pct::ALL
        .into_iter()
        .map(|p| {
            let (o, n) = (p.of(old), p.of(new));
            let judged = t.percentiles.contains(&p);
            let ratio = (o > 0.0).then(|| n / o);
            PctChange {
                percentile: p,
                old_ms: o,
                new_ms: n,
                ratio,
                judged,
                worse: judged && n - o >= t.min_delta_ms && ratio.is_none_or(|r| r >= t.max_ratio),
                better: judged && o - n >= t.min_delta_ms && n * t.max_ratio <= o,
            }
        })
        .collect()
}

/// How much the first judged percentile grew, for sorting.
fn growth(d: &LatencyDiff) -> f64 {
    d.changes
        .iter()
        .find(|c| c.judged)
        .map(|c| c.ratio.unwrap_or(f64::INFINITY))
        .unwrap_or(0.0)
}

/// Items of both lists paired by key, repeated keys in order: NEW's order,
/// then what only OLD has.
fn paired<'a, T, K: Eq + std::hash::Hash>(
    old: &'a [T],
    new: &'a [T],
    key: impl Fn(&T) -> K,
) -> Vec<(Option<&'a T>, Option<&'a T>)> {
    let mut left: HashMap<K, Vec<usize>> = HashMap::new();
    for (i, item) in old.iter().enumerate().rev() {
        left.entry(key(item)).or_default().push(i);
    }
    let mut used = vec![false; old.len()];
    let mut out: Vec<(Option<&T>, Option<&T>)> = new
        .iter()
        .map(|n| {
            let partner = left.get_mut(&key(n)).and_then(Vec::pop);
            if let Some(i) = partner {
                used[i] = true;
            }
            (partner.map(|i| &old[i]), Some(n))
        })
        .collect();
    out.extend(
        old.iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|(o, _)| (Some(o), None)),
    );
    out
}

#[cfg(test)]
mod tests;
