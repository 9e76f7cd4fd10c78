//! The CI formats on real runs, through the binary: `--report json=PATH`
//! validates against docs/report.schema.json, `--report junit=PATH` has a
//! testcase per check, both beside the terminal report; `--report json`
//! alone takes stdout and moves the terminal report to stderr; a scenario
//! that does not load (exit 2) still gets every report, saying so.

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
    assert!(text.contains("PASS 10 of 10 checks"), "{text}");
    assert!(
        text.contains("FAIL 1 of 2 scenarios passed, 19 of 20 checks"),
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
    assert_eq!((cases(0), cases(1)), (10, 10));
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
        stderr(&out).contains("PASS 10 of 10 checks"),
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
