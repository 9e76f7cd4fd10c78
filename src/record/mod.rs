//! `tracelab record`: run a scenario and write the trace shapes it saw as
//! Rhai expectations, a module the scenario imports (snapshot testing, as
//! insta or Jest do it: record, review, keep; a later run that differs
//! fails, naming the span).
//!
//! [`Recorder`] watches the run as an [`Observer`]: each trace, as it is
//! judged, goes into its block's [`shapes::BlockShapes`] (one example and
//! a count per shape), so a soak-length run records in memory that grows
//! with its shapes, not its traces. `volatile` says which tags a recording
//! keeps, `render` writes the module. A run that left nothing to judge,
//! lost spans or may have judged half-arrived traces records nothing.

pub mod render;
pub mod shapes;
pub mod volatile;

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use self::shapes::BlockShapes;
use crate::assert::OutcomeSource;
use crate::jaeger::model::Trace;
use crate::report::model::ScenarioReport;
use crate::run::Observer;
use crate::scenario::Scenario;
use crate::traffic::RequestRecord;

/// Collects the shapes of the traces judged, passing progress on.
pub struct Recorder {
    inner: Arc<dyn Observer>,
    blocks: Mutex<Vec<(String, BlockShapes)>>,
}

impl Recorder {
    pub fn new(inner: Arc<dyn Observer>) -> Recorder {
        Recorder {
            inner,
            blocks: Mutex::default(),
        }
    }

    /// The shapes of every block of `scenario`, in its order (a block
    /// without traces has none).
    pub fn take(&self, scenario: &Scenario) -> Vec<(String, BlockShapes)> {
        let mut seen = std::mem::take(&mut *self.blocks.lock().expect("recorder lock"));
        scenario
            .traffic
            .iter()
            .map(|block| {
                let shapes = seen
                    .iter_mut()
                    .find(|(name, _)| *name == block.name)
                    .map(|(_, s)| std::mem::take(s))
                    .unwrap_or_default();
                (block.name.clone(), shapes)
            })
            .collect()
    }
}

impl Observer for Recorder {
    fn phase(&self, scenario: &str, text: &str) {
        self.inner.phase(scenario, text);
    }
    fn traffic_started(&self, block: &str, requests: u64) {
        self.inner.traffic_started(block, requests);
    }
    fn request_done(&self, record: &RequestRecord) {
        self.inner.request_done(record);
    }
    fn traffic_finished(&self, block: &str) {
        self.inner.traffic_finished(block);
    }
    fn trace_judged(&self, block: &str, trace: &Trace) {
        let mut blocks = self.blocks.lock().expect("recorder lock");
        let index = match blocks.iter().position(|(name, _)| name == block) {
            Some(i) => i,
            None => {
                blocks.push((block.to_string(), BlockShapes::default()));
                blocks.len() - 1
            }
        };
        blocks[index].1.observe(trace);
    }
}

/// Where a scenario's recording goes unless told: `expected/<name>.rhai`
/// in the scenario's folder.
pub fn default_path(scenario: &Path) -> PathBuf {
    let stem = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    scenario
        .parent()
        .unwrap_or(Path::new(""))
        .join("expected")
        .join(format!("{stem}.rhai"))
}

/// How the scenario imports the module at `module` (`expected/checkout`),
/// or `None` when it lies outside the scenario's folder (imports stay
/// inside it).
pub fn import_name(scenario: &Path, module: &Path) -> Option<String> {
    let folder = absolute(scenario.parent().unwrap_or(Path::new("")));
    let relative = absolute(module).strip_prefix(&folder).ok()?.to_path_buf();
    let text = relative.with_extension("").to_string_lossy().into_owned();
    (!text.is_empty()).then_some(text)
}

/// The path made absolute and without `.` or `..`, without touching the
/// file system (the module may not exist yet).
fn absolute(path: &Path) -> PathBuf {
    let joined = match path.is_absolute() {
        true => path.to_path_buf(),
        false => std::env::current_dir().unwrap_or_default().join(path),
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Leave out what the recording at `module` declares: a scenario that
/// imports its previous recording is recorded anew, not judged by it.
/// How many expectations were left out.
pub fn without_recording(scenario: &mut Scenario, module: &Path) -> usize {
    let target = absolute(module);
    let before = scenario.expectations.len();
    scenario.expectations.retain(|e| {
        e.origin
            .module
            .as_deref()
            .is_none_or(|m| absolute(Path::new(m)) != target)
    });
    before - scenario.expectations.len()
}

/// Why this run's traces cannot be recorded, if they cannot: a recording
/// made from nothing, or from traces that may be missing spans, would pass
/// the next run on nothing or fail it on noise.
pub fn refusal(report: &ScenarioReport, blocks: &[(String, BlockShapes)]) -> Option<String> {
    if report.interrupted {
        return Some("the run was interrupted".into());
    }
    if let Some(o) = report.outcomes.iter().find(|o| {
        !o.passed
            && matches!(
                o.source,
                OutcomeSource::Integrity {
                    check: "integrity.judged"
                }
            )
    }) {
        let why = o
            .failures
            .first()
            .map(|f| f.observed.clone())
            .unwrap_or_default();
        return Some(format!(
            "traffic {:?} left nothing to judge: {why}",
            o.traffic
        ));
    }
    if report.delivery.undelivered() > 0 {
        return Some(format!(
            "{} spans did not reach the collector: the traces are missing some",
            report.delivery.undelivered()
        ));
    }
    if report.traces.evicted > 0 {
        return Some("the collector evicted traces of the run (raise --max-traces)".into());
    }
    if !report.traces.complete {
        return Some(
            "the traces may be incomplete (the span count was still changing, or requests lacked traces): run again, or raise --wait-timeout"
                .into(),
        );
    }
    blocks
        .iter()
        .find(|(_, shapes)| shapes.shapes.is_empty())
        .map(|(name, shapes)| match shapes.unrooted {
            0 => format!("traffic {name:?} has no trace to record"),
            n => format!(
                "traffic {name:?} has no trace with a single root span ({n} without), which is what a recording states"
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_goes_beside_the_scenario_and_is_imported_by_its_relative_name() {
        let scenario = Path::new("scenarios/jaeger.rhai");
        let out = default_path(scenario);
        assert_eq!(out, Path::new("scenarios/expected/jaeger.rhai"));
        assert_eq!(
            import_name(scenario, &out).as_deref(),
            Some("expected/jaeger")
        );
        assert_eq!(
            import_name(scenario, Path::new("scenarios/./snap/../rec/j.rhai")).as_deref(),
            Some("rec/j")
        );
        assert_eq!(import_name(scenario, Path::new("elsewhere/j.rhai")), None);
        assert_eq!(
            default_path(Path::new("checkout.rhai")),
            Path::new("expected/checkout.rhai")
        );
    }
}
