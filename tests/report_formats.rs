//! The CI formats on real runs, through the binary: `--report json=PATH`
//! validates against docs/report.schema.json, `--report junit=PATH` has a
//! testcase per check, both beside the terminal report; `--report json`
//! alone takes stdout and moves the terminal report to stderr; a scenario
//! that does not load (exit 2), or an error that stops the run part way
//! (exit 2 or 3), still gets every report, saying so.

mod common;

use common::*;
use serde_json::Value;

fn schema_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/report.schema.json")).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn assert_valid(report: &Value) {
    let errors: Vec<String> = schema_validator()
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn json_and_junit_files_are_written_beside_the_terminal_report() {
    let wrong = sandbox_with(
        r#"span("service2", "checkStock", #{ kind: "server""#,
        r#"span("service2", "checkStok", #{ kind: "server""#,
    );
    let (dir, wrong_path) = scratch_scenario("wrong.rhai", &wrong);
    let json_path = dir.path().join("out/report.json");
    let junit_path = dir.path().join("out/junit.xml");
    let out = tracelab(&[
        "--report",
        &format!("json={}", json_path.display()),
        "--report",
        &format!("junit={}", junit_path.display()),
        "scenarios/jaeger.rhai",
        path_str(&wrong_path),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("PASS 11 of 11 checks"), "{text}");
    assert!(
        text.contains("FAIL 1 of 2 scenarios passed, 21 of 22 checks"),
        "{text}"
    );

    let report: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_valid(&report);
    assert_eq!(report["schema"], "tracelab.report/v1");
    assert_eq!(report["passed"], false);
    let sandbox = &report["scenarios"][0];
    assert_eq!(sandbox["traffic"][0]["requests"], 10);
    assert_eq!(sandbox["traffic"][0]["statuses"]["200"], 10);
    let trace_ids = sandbox["traffic"][0]["trace_ids"].as_array().unwrap();
    assert_eq!(trace_ids.len(), 10);
    let slowest = &sandbox["shown_trace"]["waterfall"];
    assert!(trace_ids.contains(&slowest["trace_id"]), "{slowest}");
    assert_eq!(slowest["rows"].as_array().unwrap().len(), 4);
    // The sandbox is one chain: its critical path is the whole trace, and
    // every span holds part of it.
    assert_eq!(
        slowest["critical_path"]["duration_us"],
        slowest["duration_us"]
    );
    for row in slowest["rows"].as_array().unwrap() {
        assert!(!row["critical"].as_array().unwrap().is_empty(), "{row}");
    }
    let spans = sandbox["spans"].as_array().unwrap();
    let labels: Vec<String> = spans
        .iter()
        .map(|s| format!("{} {} {}", s["service"], s["operation"], s["kind"]))
        .collect();
    assert_eq!(labels.len(), 4, "{labels:?}");
    assert!(spans.iter().all(|s| s["count"] == 10), "{spans:?}");
    let shares: f64 = spans
        .iter()
        .map(|s| s["critical_share"].as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-6, "{shares}");
    let failed = &report["scenarios"][1]["outcomes"][0];
    assert_eq!(failed["observed"], "0 of 10 traces match");
    assert_eq!(
        failed["failures"][0]["pattern_path"],
        serde_json::json!([0, 0, 0])
    );
    let comparison = &report["scenarios"][1]["comparisons"][0];
    assert_eq!(
        comparison["expected"][3]["label"],
        "service2 checkStok (server)"
    );
    assert_eq!(comparison["expected"][3]["marked"], true);
    assert_eq!(comparison["actual"][3]["marked"], true);

    let xml = std::fs::read_to_string(&junit_path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<_> = doc
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2);
    let cases = |i: usize| {
        suites[i]
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .count()
    };
    assert_eq!((cases(0), cases(1)), (11, 11));
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].attribute("message"),
        Some("0 of 10 traces match")
    );
    assert!(
        failures[0]
            .parent()
            .unwrap()
            .attribute("name")
            .unwrap()
            .starts_with("every sandbox request is the 4-span chain")
    );
}

#[test]
fn json_without_a_path_takes_stdout_and_the_terminal_report_moves_to_stderr() {
    let out = tracelab(&["--report", "json", "scenarios/jaeger.rhai"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    assert_valid(&report);
    assert_eq!(report["passed"], true);
    assert!(
        stderr(&out).contains("PASS 11 of 11 checks"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_script_error_still_writes_every_requested_report_saying_it_failed_to_load() {
    let (dir, broken) = scratch_scenario(
        "broken.rhai",
        "service(\"api\", #{ routes: [route(\"/\")] });\ntraffic(\"t\", #{ path: \"/s x\" });\n",
    );
    let at = |name: &str| dir.path().join(name);
    let out = tracelab(&[
        "--report",
        &format!("json={}", at("out/report.json").display()),
        "--report",
        &format!("junit={}", at("out/junit.xml").display()),
        "--report",
        &format!("human={}", at("out/report.txt").display()),
        "scenarios/jaeger.rhai",
        path_str(&broken),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let place = format!("{}:2:1", broken.display());
    assert!(stderr(&out).contains(&place), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "nothing ran: {}", stdout(&out));

    let report: Value =
        serde_json::from_slice(&std::fs::read(at("out/report.json")).unwrap()).unwrap();
    assert_valid(&report);
    assert_eq!(report["passed"], false);
    assert_eq!(report["scenarios"], serde_json::json!([]));
    let error = &report["load_errors"][0];
    assert_eq!(error["file"], path_str(&broken));
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("traffic(\"t\"): path \"/s x\" is not a request target"),
        "{error}"
    );

    let xml = std::fs::read_to_string(at("out/junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let error = doc
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("the load failure is a JUnit error");
    assert_eq!(error.attribute("type"), Some("script"));
    assert!(
        error.attribute("message").unwrap().starts_with(&place),
        "{xml}"
    );

    let text = std::fs::read_to_string(at("out/report.txt")).unwrap();
    assert!(text.contains(&format!("✘ {place}: traffic")), "{text}");
    assert!(
        text.contains("FAIL 1 scenario did not load; nothing ran"),
        "{text}"
    );

    // A report on stdout is written there.
    let out = tracelab(&["--report", "json", path_str(&broken)]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON");
    assert_valid(&report);
    assert_eq!(report["load_errors"][0]["line"], 2);
}

/// The `<error>` elements of a JUnit file: (suite name, type, message).
fn junit_errors(path: &std::path::Path) -> (Option<String>, Vec<(String, String, String)>) {
    let xml = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let total = doc.root_element().attribute("errors").map(String::from);
    let errors = doc
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .map(|e| {
            let suite = e.parent().unwrap().parent().unwrap();
            (
                suite.attribute("name").unwrap().to_string(),
                e.attribute("type").unwrap().to_string(),
                e.attribute("message").unwrap().to_string(),
            )
        })
        .collect();
    (total, errors)
}

#[test]
fn a_closure_error_at_judge_time_keeps_the_finished_scenarios_in_every_report_with_exit_2() {
    let (dir, judge) = scratch_scenario(
        "judge.rhai",
        "scenario(\"judges badly\");\n\
         service(\"api\", #{ routes: [route(\"/\")] });\n\
         traffic(\"t\", #{ requests: 2, path: \"/\" });\n\
         expect_spans(\"t\", span(\"*\", \"*\", #{ where: |s| s.nope() }), #{ count: 0 });\n",
    );
    let at = |name: &str| dir.path().join(name);
    let out = tracelab(&[
        "--report",
        &format!("json={}", at("out/report.json").display()),
        "--report",
        &format!("junit={}", at("out/junit.xml").display()),
        "scenarios/jaeger.rhai",
        path_str(&judge),
        "scenarios/jaeger.rhai",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let place = format!("{}:4:", judge.display());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("tracelab: error: {place}")) && err.contains("the closure failed"),
        "{err}"
    );
    // The terminal report of what finished comes first, then the error.
    let text = stdout(&out);
    assert!(text.contains("PASS 11 of 11 checks"), "{text}");
    assert!(text.contains(&format!("✘ script error: {place}")), "{text}");
    assert!(
        text.contains("ERROR the run stopped here; this scenario's checks were not judged"),
        "{text}"
    );
    assert!(
        text.contains("ERROR 1 of 3 scenarios passed, 11 of 11 checks"),
        "{text}"
    );

    let report: Value =
        serde_json::from_slice(&std::fs::read(at("out/report.json")).unwrap()).unwrap();
    assert_valid(&report);
    assert_eq!(report["passed"], false);
    assert_eq!(report["interrupted"], false);
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 1, "only the finished one");
    assert_eq!(scenarios[0]["name"], "jaeger-tracing sandbox");
    assert_eq!(scenarios[0]["passed"], true);
    assert_eq!(scenarios[0]["outcomes"].as_array().unwrap().len(), 11);
    let aborted = &report["aborted"];
    assert_eq!(aborted["scenario"], "judges badly");
    assert_eq!(aborted["file"], path_str(&judge));
    assert_eq!(aborted["kind"], "script");
    assert_eq!(aborted["not_run"], 1);
    assert!(
        aborted["message"].as_str().unwrap().starts_with(&place),
        "{aborted}"
    );
    assert!(
        report["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .ends_with("1 of 3 scenarios did not run")),
        "{report}"
    );

    let (total, errors) = junit_errors(&at("out/junit.xml"));
    assert_eq!(total.as_deref(), Some("1"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (suite, kind, message) = &errors[0];
    assert_eq!((suite.as_str(), kind.as_str()), ("judges badly", "script"));
    assert!(message.starts_with(&place), "{message}");
}

#[test]
fn a_port_in_use_in_a_later_scenario_keeps_the_earlier_ones_in_every_report_with_exit_3() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let (dir, free) = scratch_scenario(
        "free.rhai",
        "scenario(\"free\");\n\
         service(\"api\", #{ routes: [route(\"/\")] });\n\
         traffic(\"t\", #{ requests: 2, path: \"/\" });\n",
    );
    let taken = dir.path().join("taken.rhai");
    std::fs::write(
        &taken,
        format!(
            "scenario(\"taken\");\n\
             service(\"api\", #{{ port: {port}, routes: [route(\"/\")] }});\n\
             traffic(\"t\", #{{ requests: 2, path: \"/\" }});\n"
        ),
    )
    .unwrap();
    let json = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");
    let out = tracelab(&[
        "--fixed-ports",
        "--report",
        &format!("json={}", json.display()),
        "--report",
        &format!("junit={}", junit.display()),
        path_str(&free),
        path_str(&taken),
    ]);
    drop(held);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("already in use"), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("✘ infrastructure error: "),
        "{}",
        stdout(&out)
    );

    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_valid(&report);
    assert_eq!(report["passed"], false);
    assert_eq!(report["scenarios"][0]["name"], "free");
    assert_eq!(report["aborted"]["scenario"], "taken");
    assert_eq!(report["aborted"]["kind"], "infra");
    assert_eq!(report["aborted"]["not_run"], 0);
    let message = report["aborted"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("api cannot listen on 127.0.0.1:{port}")),
        "{message}"
    );

    let (total, errors) = junit_errors(&junit);
    assert_eq!(total.as_deref(), Some("1"));
    assert_eq!(errors[0].0, "taken");
    assert_eq!(errors[0].1, "infra");
}

#[test]
fn two_reports_on_stdout_are_a_usage_error() {
    let out = tracelab(&[
        "--report",
        "json",
        "--report",
        "junit",
        "scenarios/jaeger.rhai",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("only one --report can go to stdout"));
    let out = tracelab(&["--report", "yaml", "scenarios/jaeger.rhai"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown report format \"yaml\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn show_trace_with_an_id_the_collector_lacks_warns_and_draws_nothing() {
    let out = tracelab(&["--show-trace", "abc123", "scenarios/jaeger.rhai"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("slowest:"), "{text}");
    assert!(
        text.contains("warning: --show-trace abc123: the collector has no such trace"),
        "{text}"
    );
}

/// A collector that outlives runs (as a real Jaeger does) keeps the first
/// run's traces: the second run draws one of them by id.
#[tokio::test(flavor = "multi_thread")]
async fn show_trace_draws_a_trace_from_an_earlier_run() {
    let collector = tracelab::collector::RunningCollector::start_ephemeral(&Default::default())
        .await
        .unwrap();
    let url = collector.base_url();
    let run = |extra: Vec<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut args = vec![
                "--jaeger-url".to_string(),
                url.clone(),
                "--otlp-endpoint".to_string(),
                url,
            ];
            args.extend(extra);
            args.push("scenarios/jaeger.rhai".into());
            tracelab(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
    };
    let first = run(vec!["--report".into(), "json".into()]).await.unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    let id = report["scenarios"][0]["traffic"][0]["trace_ids"][3]
        .as_str()
        .unwrap()
        .to_string();

    let second = run(vec!["--show-trace".into(), id.clone()]).await.unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let text = stdout(&second);
    assert!(!text.contains("slowest:"), "{text}");
    assert!(
        text.contains(&format!("requested: trace {id} · 4 spans · 3 services")),
        "{text}"
    );
    collector.stop().await;
}
