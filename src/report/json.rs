//! The JSON report (`--report json`): the report model as it is, under the
//! versioned schema id [`super::model::SCHEMA`]. `docs/report.schema.json`
//! documents every field; a test validates real output against it.

use super::model::RunReport;

pub fn render(report: &RunReport) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("the report model serialises");
    text.push('\n');
    text
}

/// The published schema, `docs/report.schema.json`.
pub const SCHEMA_JSON: &str = include_str!("../../docs/report.schema.json");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use serde_json::Value;

    fn schema() -> Value {
        serde_json::from_str(SCHEMA_JSON).expect("the schema is JSON")
    }

    /// Paths of schema properties that lack a description.
    fn undocumented(node: &Value, path: &str, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::Object(props)) = map.get("properties") {
                    for (name, prop) in props {
                        let documented =
                            prop.get("description").is_some() || prop.get("$ref").is_some();
                        if !documented {
                            out.push(format!("{path}.{name}"));
                        }
                    }
                }
                for (key, value) in map {
                    undocumented(value, &format!("{path}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    undocumented(item, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_schema_is_a_valid_json_schema_with_every_property_described() {
        let schema = schema();
        jsonschema::meta::validate(&schema).expect("a valid 2020-12 schema");
        let mut missing = Vec::new();
        undocumented(&schema, "", &mut missing);
        assert!(missing.is_empty(), "undocumented: {missing:?}");
        assert_eq!(
            schema["properties"]["schema"]["const"],
            crate::report::model::SCHEMA
        );
    }

    /// `report` as JSON, after checking it against the schema.
    fn valid(report: &crate::report::model::RunReport) -> Value {
        let report: Value = serde_json::from_str(&render(report)).unwrap();
        let validator = jsonschema::validator_for(&schema()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&report)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        report
    }

    #[test]
    fn a_report_with_every_optional_field_validates_against_the_schema() {
        let report = valid(&fixture::run());
        // The fixture does exercise the optional parts.
        let failing = &report["scenarios"][1];
        assert_eq!(
            failing["outcomes"][0]["failures"][0]["pattern_path"],
            serde_json::json!([0, 0, 0])
        );
        assert_eq!(failing["outcomes"][1]["failures"][0]["request_id"], "r-2");
        assert_eq!(failing["delivery"]["last_error"], "connection refused");
        assert_eq!(report["shown_trace"]["reason"], "requested");
    }

    #[test]
    fn a_run_whose_scenarios_did_not_load_validates_and_says_where() {
        let failed =
            crate::report::model::RunReport::load_failed(vec![crate::report::model::LoadFailure {
                file: "s.rhai".into(),
                at: "lib/hops.rhai".into(),
                line: 3,
                column: 5,
                message: "boom".into(),
            }]);
        let report: Value = serde_json::from_str(&render(&failed)).unwrap();
        let validator = jsonschema::validator_for(&schema()).unwrap();
        assert!(validator.is_valid(&report), "{report}");
        assert_eq!(report["load_errors"][0]["at"], "lib/hops.rhai");
        // A run that loaded has no such field at all.
        let ran: Value = serde_json::from_str(&render(&fixture::run())).unwrap();
        assert!(ran.get("load_errors").is_none());
    }

    #[test]
    fn a_run_an_error_stopped_validates_with_the_finished_scenarios_and_the_error() {
        let report = valid(&fixture::aborted());
        assert_eq!(report["passed"], false);
        assert_eq!(report["scenarios"][0]["name"], "jaeger-tracing sandbox");
        assert_eq!(
            report["aborted"],
            serde_json::json!({
                "scenario": "closures",
                "file": "closures.rhai",
                "kind": "script",
                "message": "closures.rhai:11:19: span(\"*\", \"*\"): where: the closure failed",
                "not_run": 1,
            })
        );
        // A run no error stopped has no such field at all.
        let ran: Value = serde_json::from_str(&render(&fixture::run())).unwrap();
        assert!(ran.get("aborted").is_none());
    }

    #[test]
    fn a_field_the_schema_does_not_know_fails_validation() {
        let mut report: Value = serde_json::from_str(&render(&fixture::run())).unwrap();
        report["scenarios"][0]["surprise"] = Value::Bool(true);
        let validator = jsonschema::validator_for(&schema()).unwrap();
        assert!(!validator.is_valid(&report));
    }
}
