//! Reading a `--report json` file (`tracelab.report/v1`) for `tracelab
//! diff`: only the fields the diff compares, so a report from an older or
//! newer tracelab of the same schema reads as long as those are there
//! (unknown fields are ignored; per-span statistics may be absent).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The report schema this reads.
pub const REPORT_SCHEMA: &str = "tracelab.report/v1";

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a tracelab JSON report: {message} (write one with `tracelab --report json=PATH SCENARIO`)"
    )]
    NotAReport { path: PathBuf, message: String },
    #[error("{path} is a {schema} report; this tracelab compares {REPORT_SCHEMA} reports")]
    Schema { path: PathBuf, schema: String },
}

/// A report as the diff reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Report {
    pub schema: String,
    #[serde(default)]
    pub tracelab_version: String,
    pub scenarios: Vec<Scenario>,
    pub passed: bool,
    #[serde(default)]
    pub interrupted: bool,
    /// The error that stopped the run part way (exit 2 or 3).
    #[serde(default)]
    pub aborted: Option<Aborted>,
}

/// Where and why a run stopped part way.
#[derive(Debug, Clone, Deserialize)]
pub struct Aborted {
    #[serde(default)]
    pub scenario: Option<String>,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub file: String,
    #[serde(default)]
    pub traffic: Vec<Traffic>,
    #[serde(default)]
    pub outcomes: Vec<Outcome>,
    /// `None` in reports written before span statistics existed.
    #[serde(default)]
    pub spans: Option<Vec<SpanStats>>,
    pub passed: bool,
    #[serde(default)]
    pub interrupted: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Traffic {
    pub name: String,
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub errors: u64,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Outcome {
    pub name: String,
    pub source: Source,
    #[serde(default)]
    pub traffic: String,
    pub passed: bool,
    #[serde(default)]
    pub observed: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    /// `expectation` or `integrity`.
    pub kind: String,
    /// The integrity check's id.
    #[serde(default)]
    pub check: Option<String>,
    #[serde(default)]
    pub line: Option<usize>,
    #[serde(default)]
    pub module: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SpanStats {
    pub service: String,
    pub operation: String,
    #[serde(default)]
    pub kind: Option<String>,
    pub count: u64,
    pub duration_ms: Percentiles,
    pub self_ms: Percentiles,
    #[serde(default)]
    pub critical_share: f64,
}

impl SpanStats {
    /// "service2 checkStock (server)".
    pub fn label(&self) -> String {
        match &self.kind {
            Some(kind) => format!("{} {} ({kind})", self.service, self.operation),
            None => format!("{} {}", self.service, self.operation),
        }
    }
}

pub fn read(path: &Path) -> Result<Report, InputError> {
    let bytes = std::fs::read(path).map_err(|source| InputError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &bytes)
}

/// `bytes` as a report; `path` names it in errors.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Report, InputError> {
    let not_a_report = |message: String| InputError::NotAReport {
        path: path.to_path_buf(),
        message,
    };
    // The schema first, so a report of another version says so rather
    // than failing on a field.
    #[derive(Deserialize)]
    struct Head {
        schema: Option<String>,
    }
    let head: Head = serde_json::from_slice(bytes).map_err(|e| not_a_report(e.to_string()))?;
    match head.schema {
        Some(schema) if schema == REPORT_SCHEMA => {}
        Some(schema) => {
            return Err(InputError::Schema {
                path: path.to_path_buf(),
                schema,
            });
        }
        None => return Err(not_a_report("it has no `schema` field".into())),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de)
        .map_err(|e| not_a_report(format!("at {}: {}", e.path(), e.inner())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_report_reads_and_others_are_refused_with_the_reason() {
        let report = crate::report::json::render(&crate::report::fixture::run());
        let read = parse(Path::new("r.json"), report.as_bytes()).unwrap();
        assert_eq!(read.scenarios.len(), 2);
        assert_eq!(read.scenarios[0].spans.as_ref().unwrap().len(), 4);
        assert_eq!(
            read.scenarios[0].outcomes[1].source.check.as_deref(),
            Some("integrity.propagation")
        );

        let err = parse(Path::new("x.json"), b"[1, 2]")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.json is not a tracelab JSON report: "),
            "{err}"
        );
        let err = parse(Path::new("x.json"), br#"{"schema": "tracelab.report/v2"}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "x.json is a tracelab.report/v2 report; this tracelab compares tracelab.report/v1 reports"
        );
        let err = parse(
            Path::new("x.json"),
            br#"{"schema": "tracelab.report/v1", "scenarios": [{"name": 3}], "passed": true}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("at scenarios[0].name: invalid type"), "{err}");
    }

    #[test]
    fn a_report_without_span_statistics_still_reads() {
        let text = br#"{"schema": "tracelab.report/v1", "passed": true, "scenarios": [
            {"name": "s", "passed": true, "traffic": [], "outcomes": []}]}"#;
        let read = parse(Path::new("old.json"), text).unwrap();
        assert!(read.scenarios[0].spans.is_none());
    }
}
