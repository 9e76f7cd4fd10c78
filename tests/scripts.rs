//! Scripts through the binary: `check` / `run` take several files and name
//! every broken one. (Single broken and hostile scripts, each with its exact
//! error, are the corpus in tests/broken_scripts.rs.)

mod common;

use common::*;

#[test]
fn check_reports_every_file_and_fails_if_one_is_wrong() {
    let (_dir, bad) = scratch_scenario(
        "bad.rhai",
        "service(\"a\", #{ routes: [route(\"/\", #{ latency: uniform(\"9ms\", \"1ms\") })] });",
    );
    let out = tracelab(&[
        "check",
        "scenarios/jaeger.rhai",
        path_str(&bad),
        "scenarios/fan-out.rhai",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let text = stdout(&out);
    assert!(text.contains("scenarios/jaeger.rhai: ok"), "{text}");
    assert!(text.contains("scenarios/fan-out.rhai: ok"), "{text}");
    let err = stderr(&out);
    assert!(
        err.contains("bad.rhai:1:49: uniform(\"9ms\", \"1ms\"): the low end is above the high end"),
        "{err}"
    );
    assert!(err.contains("1 of 3 scenarios have errors"), "{err}");
}

#[test]
fn check_accepts_every_shipped_scenario() {
    let files: Vec<String> = scenario_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let out = tracelab(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).matches(": ok (").count(), files.len());
}

#[test]
fn run_names_every_broken_script_before_starting_anything() {
    let (_d1, one) = scratch_scenario("one.rhai", "servic(\"a\");");
    let (_d2, two) = scratch_scenario("two.rhai", "traffic(\"t\", #{ path: \"/\", rate: 5 });");
    let out = tracelab(&[
        "run",
        "scenarios/jaeger.rhai",
        path_str(&one),
        path_str(&two),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty(), "nothing ran: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("2 of 3 scenarios have errors"), "{err}");
    assert!(err.contains("one.rhai:1:1: no function servic"), "{err}");
    assert!(
        err.contains("two.rhai:1:1: traffic(\"t\"): rate needs a duration"),
        "{err}"
    );
}

#[test]
fn run_with_several_scenarios_sums_up() {
    let out = tracelab(&[
        "run",
        "-q",
        "scenarios/jaeger.rhai",
        "scenarios/broken-propagation.rhai",
        "scenarios/error-propagation.rhai",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("PASS 3 of 3 scenarios passed"), "{text}");
}

#[test]
fn run_refuses_a_scenario_without_traffic_that_check_accepts() {
    let (_dir, path) =
        scratch_scenario("idle.rhai", "service(\"a\", #{ routes: [route(\"/\")] });");
    let check = tracelab(&["check", path_str(&path)]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let run = tracelab(&["run", path_str(&path)]);
    assert_eq!(run.status.code(), Some(2), "{}", stdout(&run));
    assert!(stdout(&run).is_empty(), "nothing ran: {}", stdout(&run));
    assert_eq!(
        stderr(&run).trim_end(),
        format!(
            "tracelab: error: {}: the scenario sends no traffic, so a run would check nothing: \
             add traffic(...) (tracelab up serves a topology without traffic)",
            path.display()
        )
    );
}
