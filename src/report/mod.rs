//! Reports: the report model (`model`, plain data) and its renderings,
//! chosen by [`Format`]. The run builds the model; only the binary's edge
//! chooses a renderer.
//!
//! `waterfall` lays out one trace and `compare` lines up an expected tree
//! with an actual one; the terminal (`human`) and the web viewer (`web`)
//! draw the same layouts. `trace_compare` merges two traces' waterfalls
//! for the viewer's side-by-side page. `diff` renders `tracelab diff`'s
//! model ([`crate::diff`]). `json` and `junit` are for CI; `progress` shows
//! progress on stderr while a run goes on.

pub mod compare;
pub mod diff;
#[cfg(test)]
pub(crate) mod fixture;
pub mod human;
pub mod json;
pub mod junit;
pub mod model;
pub mod progress;
pub mod trace_compare;
pub mod waterfall;
pub mod web;

pub use model::{RunReport, ScenarioReport};

use std::path::PathBuf;

use self::human::Verbosity;

/// An output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The terminal report, coloured when the output is a terminal.
    Human,
    /// `tracelab.report/v1` JSON (docs/report.schema.json).
    Json,
    /// JUnit XML, one testcase per check.
    Junit,
}

/// Where a `--report FORMAT[=PATH]` goes: a file, or stdout without a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTarget {
    pub format: Format,
    pub path: Option<PathBuf>,
}

impl ReportTarget {
    /// `json`, `json=out/report.json`, `junit=junit.xml`.
    pub fn parse(text: &str) -> Result<ReportTarget, String> {
        let (name, path) = match text.split_once('=') {
            Some((name, path)) if !path.is_empty() => (name, Some(PathBuf::from(path))),
            Some((name, _)) => return Err(format!("{name}=: give a path after `=`")),
            None => (text, None),
        };
        let format = match name {
            "json" => Format::Json,
            "junit" => Format::Junit,
            "human" => Format::Human,
            other => {
                return Err(format!(
                    "unknown report format {other:?}: use json[=PATH], junit[=PATH] or human[=PATH]"
                ));
            }
        };
        Ok(ReportTarget { format, path })
    }
}

/// The report in one format.
pub fn render(report: &RunReport, format: Format, verbosity: Verbosity) -> String {
    match format {
        Format::Human => human::render(report, verbosity),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
    }
}
