//! The JUnit XML report (`--report junit=PATH`), for CI test tabs: one
//! `<testsuite>` per scenario, one `<testcase>` per expectation and per
//! integrity check; a failed check is a `<failure>` whose message is what
//! was observed and whose text lists the failing traces (and, for a shape,
//! the expected tree beside the actual one). What kept checks from being
//! judged is an `<error>`: a scenario that did not load, an error that
//! stopped the run (in a suite for the scenario it stopped), an interrupt.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::human::trees;
use super::model::{Aborted, LoadFailure, RunReport, ScenarioReport};
use crate::assert::{Outcome, OutcomeSource};

/// The suite of what belongs to no scenario: an interrupt between
/// scenarios, an error after the last one.
const RUN_SUITE: &str = "tracelab run";

pub fn render(report: &RunReport) -> String {
    let mut junit = Report::new("tracelab");
    let mut total = 0.0;
    // An interrupt is one error, in the suite of the scenario it cut short.
    let mut interrupt = report.interrupted.then(|| interrupted(report));
    for scenario in &report.scenarios {
        total += scenario.duration_ms;
        let mut suite = suite(scenario);
        if scenario.interrupted
            && let Some(mut case) = interrupt.take()
        {
            case.set_classname(scenario.name.as_str());
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    if let Some(mut case) = interrupt {
        case.set_classname(RUN_SUITE);
        let mut suite = TestSuite::new(RUN_SUITE);
        suite.add_test_case(case);
        junit.add_test_suite(suite);
    }
    if let Some(aborted) = &report.aborted {
        junit.add_test_suite(aborted_suite(aborted, &report.warnings));
    }
    for failure in &report.load_errors {
        junit.add_test_suite(load_failure(failure));
    }
    junit.set_time(Duration::from_secs_f64(total / 1000.0));
    junit
        .to_string()
        .expect("a JUnit report of plain strings serialises")
}

/// A scenario that did not load: a suite named after its file, whose one
/// case errs with `file:line:col: message`.
fn load_failure(f: &LoadFailure) -> TestSuite {
    let mut suite = TestSuite::new(f.file.as_str());
    suite.add_property(Property::new("file", f.file.as_str()));
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_message(f.text());
    status.set_type("script");
    let mut case = TestCase::new("the scenario loads", status);
    case.set_classname(f.file.as_str());
    if f.line > 0 {
        case.add_property(Property::new(
            "source",
            format!("{}:{}:{}", f.at, f.line, f.column),
        ));
    }
    suite.add_test_case(case);
    suite
}

/// An interrupted run's checks judged part of the traffic, or none: an
/// error case, so a view of the JUnit alone does not show it green. Its
/// message is what the run says was cut short (requests not sent, traffic
/// that never began, scenarios that did not run).
fn interrupted(report: &RunReport) -> TestCase {
    let said: Vec<&str> = report
        .scenarios
        .iter()
        .filter(|s| s.interrupted)
        .flat_map(|s| &s.warnings)
        .chain(&report.warnings)
        .map(String::as_str)
        .collect();
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_type("interrupted");
    status.set_message(if said.is_empty() {
        "interrupted by SIGINT/SIGTERM: what did not run was not judged".to_string()
    } else {
        said.join("; ")
    });
    TestCase::new("the run ends without an interrupt", status)
}

/// The scenario an error stopped (or the run, when the error came after
/// the last scenario): one case that errs with the error's kind and text.
fn aborted_suite(a: &Aborted, warnings: &[String]) -> TestSuite {
    let name = a.scenario.as_deref().unwrap_or(RUN_SUITE);
    let mut suite = TestSuite::new(name);
    if let Some(file) = &a.file {
        suite.add_property(Property::new("file", file.as_str()));
    }
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status.set_type(a.kind.as_str());
    status.set_message(a.message.as_str());
    if !warnings.is_empty() {
        status.set_description(warnings.join("\n"));
    }
    let mut case = TestCase::new("the scenario runs to its verdict", status);
    case.set_classname(name);
    suite.add_test_case(case);
    suite
}

fn suite(s: &ScenarioReport) -> TestSuite {
    let mut suite = TestSuite::new(s.name.as_str());
    suite.set_time(Duration::from_secs_f64(s.duration_ms / 1000.0));
    suite.add_property(Property::new("file", s.file.as_str()));
    suite.add_property(Property::new("collector", s.collector.kind.as_str()));
    for (i, o) in s.outcomes.iter().enumerate() {
        suite.add_test_case(case(s, i, o));
    }
    if !s.warnings.is_empty() {
        suite.set_system_err(s.warnings.join("\n"));
    }
    suite
}

fn case(s: &ScenarioReport, index: usize, o: &Outcome) -> TestCase {
    let (name, kind, place) = match &o.source {
        OutcomeSource::Expectation {
            line,
            column,
            module,
        } => (
            o.name.clone(),
            "expectation".to_string(),
            Some(format!(
                "{}:{line}:{column}",
                module.as_deref().unwrap_or(&s.file)
            )),
        ),
        OutcomeSource::Integrity { check } => (
            format!("{} ({})", o.name, o.traffic),
            check.to_string(),
            None,
        ),
    };
    let status = if o.passed {
        TestCaseStatus::success()
    } else {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(o.observed.as_str());
        status.set_type(kind.as_str());
        status.set_description(failure_text(s, index, o, place.as_deref()));
        status
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(format!("{}.{}", s.name, o.traffic));
    if let Some(place) = place {
        case.add_property(Property::new("source", place));
    }
    case
}

/// What the terminal shows under a failed check, without colour.
fn failure_text(s: &ScenarioReport, index: usize, o: &Outcome, place: Option<&str>) -> String {
    let mut lines = Vec::new();
    if let Some(place) = place {
        lines.push(format!("declared at {place}"));
    }
    for f in &o.failures {
        if let Some(at) = f.location() {
            lines.push(at);
        }
        lines.push(format!("  expected: {}", f.expected));
        lines.push(format!("  observed: {}", f.observed));
    }
    if o.failure_count > o.failures.len() {
        lines.push(format!("… and {} more", o.failure_count - o.failures.len()));
    }
    let mut text = lines.join("\n");
    for c in s.comparisons.iter().filter(|c| c.outcome == index) {
        text.push_str("\n\n");
        text.push_str(&anstream::adapter::strip_str(&trees::comparison(c, 0)).to_string());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn one_suite_per_scenario_and_one_case_per_check_with_failures_explained() {
        let xml = render(&fixture::run());
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("tests"), Some("4"));
        assert_eq!(root.attribute("failures"), Some("2"));
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        let names: Vec<_> = suites
            .iter()
            .map(|s| s.attribute("name").unwrap())
            .collect();
        assert_eq!(names, ["jaeger-tracing sandbox", "misspelt"]);
        assert_eq!(suites[1].attribute("time"), Some("0.250"));

        let cases: Vec<_> = suites[1]
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        let case_names: Vec<_> = cases.iter().map(|c| c.attribute("name").unwrap()).collect();
        assert_eq!(
            case_names,
            ["the 4-span chain", "each request is one trace (sandbox)"]
        );
        assert_eq!(cases[0].attribute("classname"), Some("misspelt.sandbox"));

        let failure = cases[0]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(failure.attribute("message"), Some("0 of 2 traces match"));
        assert_eq!(failure.attribute("type"), Some("expectation"));
        let text = failure.text().unwrap();
        assert!(text.starts_with("declared at wrong.rhai:41:1\n"), "{text}");
        assert!(
            text.contains("  observed: no child service2 checkStok (server)"),
            "{text}"
        );
        assert!(
            text.contains(
                "✘       service2 checkStok (server)      ✘       service2 checkStock (server)"
            ),
            "the tree comparison, without colour: {text}"
        );
        assert!(!text.contains('\u{1b}'), "no ANSI escapes: {text}");

        let integrity = cases[1]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap();
        assert_eq!(integrity.attribute("type"), Some("integrity.propagation"));

        let passing: Vec<_> = suites[0]
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert!(
            passing
                .iter()
                .all(|c| !c.children().any(|n| n.has_tag_name("failure")))
        );
    }

    /// The `<error>` cases of a rendered report: (suite, case, type, message).
    fn errors(xml: &str) -> Vec<(String, String, String, String)> {
        let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
        doc.descendants()
            .filter(|n| n.has_tag_name("error"))
            .map(|e| {
                let case = e.parent().unwrap();
                let suite = case.parent().unwrap();
                let attr = |n: roxmltree::Node, a| n.attribute(a).unwrap_or_default().to_string();
                (
                    attr(suite, "name"),
                    attr(case, "name"),
                    attr(e, "type"),
                    attr(e, "message"),
                )
            })
            .collect()
    }

    #[test]
    fn an_error_that_stopped_the_run_is_an_error_case_in_a_suite_for_its_scenario() {
        let xml = render(&fixture::aborted());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(doc.root_element().attribute("errors"), Some("1"));
        assert_eq!(
            errors(&xml),
            [(
                "closures".to_string(),
                "the scenario runs to its verdict".to_string(),
                "script".to_string(),
                "closures.rhai:11:19: span(\"*\", \"*\"): where: the closure failed".to_string(),
            )]
        );
        let error = doc.descendants().find(|n| n.has_tag_name("error")).unwrap();
        assert_eq!(
            error.text(),
            Some(
                "an error in closures (closures.rhai) stopped the run: 1 of 3 scenarios did not run"
            )
        );
        // The scenario that finished is there as it ran.
        let first = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        assert_eq!(first.attribute("name"), Some("jaeger-tracing sandbox"));
        assert_eq!(first.attribute("tests"), Some("2"));
    }

    #[test]
    fn an_interrupted_run_is_one_error_case_saying_what_was_not_judged() {
        let xml = render(&fixture::interrupted());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(doc.root_element().attribute("errors"), Some("1"));
        let found = errors(&xml);
        assert_eq!(found.len(), 1, "{xml}");
        let (suite, case, kind, message) = &found[0];
        assert_eq!(
            suite, "misspelt",
            "in the suite of the scenario it cut short"
        );
        assert_eq!(case, "the run ends without an interrupt");
        assert_eq!(kind, "interrupted");
        assert_eq!(
            message,
            "interrupted: 2 of 10 requests sent; the checks judged what arrived from them; \
             1 of 8 spans did not reach the collector; \
             interrupted: 1 of 3 scenarios did not run"
        );

        // Interrupted between scenarios: the run has a suite of its own.
        let mut between = fixture::interrupted();
        between.scenarios.pop();
        let found = errors(&render(&between));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "tracelab run");
        assert_eq!(found[0].3, "interrupted: 1 of 3 scenarios did not run");
    }
}
