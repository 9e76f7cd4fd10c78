//! The JSON report (`--report json`): the report model as it is, under the
//! versioned schema id [`super::model::SCHEMA`]. `docs/report.schema.json`
//! documents every field; a test validates real output against it.

use super::model::RunReport;

pub fn render(report: &RunReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("the report model serialises");
    text.push('\n');
    text
}
