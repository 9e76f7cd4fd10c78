//! `tracelab diff` on real reports, through the binary: the sandbox run
//! before and after 30 ms of latency is injected into service2 names
//! service2's span as the one that slowed (its self time grew; its callers
//! only waited) and exits 1; a report against itself exits 0; files that
//! are not reports exit 2.

mod common;

use common::*;
use serde_json::Value;

/// The sandbox's report, and the same scenario's with service2 30 ms slower.
fn before_and_after(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let before = dir.join("before.json");
    let after = dir.join("after.json");
    let out = tracelab(&[
        "-q",
        "--report",
        &format!("json={}", before.display()),
        "scenarios/jaeger.rhai",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let slow = sandbox_with(
        "route(\"/trace/2\", #{",
        "route(\"/trace/2\", #{\n            latency: \"30ms\",",
    );
    let slow_path = dir.join("jaeger-slow.rhai");
    std::fs::write(&slow_path, slow).unwrap();
    let out = tracelab(&[
        "-q",
        "--report",
        &format!("json={}", after.display()),
        path_str(&slow_path),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the checks still pass: {}",
        stderr(&out)
    );
    (before, after)
}

#[test]
fn diff_of_runs_before_and_after_latency_names_the_slowed_span_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = before_and_after(dir.path());
    let json_path = dir.path().join("diff.json");
    let out = tracelab(&[
        "diff",
        path_str(&before),
        path_str(&after),
        "--report",
        &format!("json={}", json_path.display()),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let row = text
        .lines()
        .find(|l| l.contains("service2 checkStock (server)"))
        .unwrap_or_else(|| panic!("no service2 row:\n{text}"));
    assert!(
        row.starts_with("  ✘ service2 checkStock (server)"),
        "{text}"
    );
    assert!(row.ends_with("← slowed here"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("WORSE "), "{text}");
    assert!(
        last.contains("slowed in: service2 checkStock (server)"),
        "{text}"
    );
    // The front proxy's block got slower too: what the users felt.
    assert!(
        text.lines().any(|l| l.starts_with("  ✘ sandbox ")),
        "{text}"
    );

    let diff: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(diff["schema"], "tracelab.diff/v1");
    let spans = diff["scenarios"][0]["spans"].as_array().unwrap();
    assert_eq!(
        spans[0]["name"], "service2 checkStock (server)",
        "largest growth first"
    );
    assert_eq!(spans[0]["slowed_here"], true);
    let p50 = &spans[0]["self_changes"][0];
    assert!(
        p50["new_ms"].as_f64().unwrap() >= 30.0,
        "the injected 30 ms is service2's own time: {p50}"
    );
    assert!(diff["worse"].as_u64().unwrap() >= 2, "{diff}");
}

#[test]
fn a_report_against_itself_is_ok_and_non_reports_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let out = tracelab(&[
        "-q",
        "--report",
        &format!("json={}", report.display()),
        "scenarios/jaeger.rhai",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = tracelab(&[
        "diff",
        path_str(&report),
        path_str(&report),
        "--report",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let diff: Value = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON");
    assert_eq!(diff["worse"], 0);
    assert!(
        stderr(&out).ends_with("OK nothing got worse past the thresholds\n"),
        "{}",
        stderr(&out)
    );

    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let out = tracelab(&["diff", path_str(&report), path_str(&junk)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("junk.json is not a tracelab JSON report: it has no `schema` field"),
        "{}",
        stderr(&out)
    );
    let out = tracelab(&["diff", path_str(&report), "missing.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read missing.json"),
        "{}",
        stderr(&out)
    );
    let out = tracelab(&[
        "diff",
        "--max-ratio",
        "0.5",
        path_str(&report),
        path_str(&report),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("give a ratio above 1"),
        "{}",
        stderr(&out)
    );
}
