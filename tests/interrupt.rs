//! A run stopped by SIGINT or SIGTERM winds down cleanly: no request
//! starts after the signal, every span of those sent reaches the collector,
//! a partial report marked interrupted is printed (and written: the JUnit
//! with an error case for it), and the exit code is 130. The collector is
//! a `tracelab collector` process, so what arrived can be read after the
//! run is gone.

#![cfg(unix)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rustix::process::{Pid, Signal, kill_process};

/// Start an endless sandbox run (200 requests a second for an hour)
/// against the collector, signal it once spans arrive, and check what the
/// report and the collector say.
fn interrupt_a_run(signal: Signal) {
    let collector = CollectorProcess::start();
    let endless = sandbox_with("requests: 10,", "rate: 200, duration: \"1h\",");
    let (dir, scenario) = scratch_scenario("endless.rhai", &endless);
    let json = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");
    let child = Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args([
            "run",
            "--jaeger-url",
            &collector.query,
            "--otlp-endpoint",
            &collector.otlp,
            "--report",
            &format!("json={}", json.display()),
            "--report",
            &format!("junit={}", junit.display()),
            path_str(&scenario),
        ])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("TRACELAB_JAEGER_BIN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Spans flowing means the traffic is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while collector.get("/api/services")["data"]
        .as_array()
        .is_none_or(|s| !s.iter().any(|s| s == "front-proxy"))
    {
        assert!(Instant::now() < deadline, "no spans reached the collector");
        std::thread::sleep(Duration::from_millis(50));
    }
    kill_process(Pid::from_child(&child), signal).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(130), "{text}{}", stderr(&out));

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["passed"], false);
    let scenario = &report["scenarios"][0];
    assert_eq!(scenario["interrupted"], true);
    let sent = scenario["traffic"][0]["requests"].as_u64().unwrap();
    assert!(sent > 0 && sent < 720_000, "{sent}");
    assert!(
        text.contains(&format!(
            "interrupted: {sent} of 720000 requests sent; the checks judged what arrived from them"
        )),
        "{text}"
    );
    assert!(text.contains("INTERRUPTED"), "{text}");
    // A JUnit-only view shows the run red too: the checks judged part of
    // the traffic, and the error case says what was left.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(doc.root_element().attribute("errors"), Some("1"), "{xml}");
    let error = doc
        .descendants()
        .find(|n| n.has_tag_name("error"))
        .expect("an error case");
    assert_eq!(error.attribute("type"), Some("interrupted"));
    assert_eq!(
        error.parent().unwrap().parent().unwrap().attribute("name"),
        Some("jaeger-tracing sandbox"),
        "in the suite of the scenario it cut short"
    );
    assert!(
        error.attribute("message").unwrap().starts_with(&format!(
            "interrupted: {sent} of 720000 requests sent; the checks judged what arrived from them"
        )),
        "{xml}"
    );
    assert!(
        text.contains(&format!("{sent} traces, {} spans", sent * 4)),
        "{text}"
    );

    // Flushed: every span ended was delivered, and the collector has each
    // request's whole trace, and nothing else.
    let delivery = &scenario["delivery"];
    assert_eq!(delivery["ended"], sent * 4, "{delivery}");
    assert_eq!(delivery["delivered"], sent * 4, "{delivery}");
    let stored = collector.get("/api/traces?service=front-proxy&limit=100000");
    let traces = stored["data"].as_array().unwrap();
    assert_eq!(traces.len() as u64, sent, "one trace per request sent");
    for trace in traces {
        assert_eq!(trace["spans"].as_array().unwrap().len(), 4, "{trace}");
    }
}

#[test]
fn sigint_mid_run_stops_the_traffic_flushes_every_span_and_reports_what_ran_with_exit_130() {
    interrupt_a_run(Signal::INT);
}

#[test]
fn sigterm_mid_run_does_the_same() {
    interrupt_a_run(Signal::TERM);
}

/// Ctrl-C with slow requests in flight: it says what it waits for, waits
/// at most the grace (not the traffic's hour-long timeout), counts the
/// requests it cut off as interrupted (not errors, not judged), and the
/// requests answered before pass every check: no spurious failure.
#[test]
fn sigint_with_slow_requests_in_flight_cuts_them_off_after_the_grace_and_judges_only_the_others() {
    let collector = CollectorProcess::start();
    let text = r#"scenario("slow", #{ seed: 5 });
proxy("front", #{ routes: [route("/*", #{ to: "api" })] });
service("api", #{ routes: [route("/", #{ calls: [request("db", "/", #{ timeout: "1h" })] })] });
service("db", #{ routes: [route("/", #{ latency: uniform("1ms", "1h") })] });
traffic("t", #{ rate: 50, duration: "1h", path: "/", timeout: "1h" });
"#;
    let (dir, scenario) = scratch_scenario("slow.rhai", text);
    let json = dir.path().join("report.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .args([
            "run",
            "--jaeger-url",
            &collector.query,
            "--otlp-endpoint",
            &collector.otlp,
            "--report",
            &format!("json={}", json.display()),
            path_str(&scenario),
        ])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("TRACELAB_JAEGER_BIN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A span delivered means a request was answered.
    let deadline = Instant::now() + Duration::from_secs(60);
    while collector.get("/api/services")["data"]
        .as_array()
        .is_none_or(|s| !s.iter().any(|s| s == "front"))
    {
        assert!(Instant::now() < deadline, "no request was answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    kill_process(Pid::from_child(&child), Signal::INT).unwrap();
    // Waiting for the traffic's timeout would take an hour.
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run still waited for its slow requests two minutes after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(130), "{text}{err}");
    assert!(
        err.contains("tracelab: interrupted: no new requests; those in flight get 2 s to finish"),
        "{err}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let scenario = &report["scenarios"][0];
    let traffic = &scenario["traffic"][0];
    let cut = traffic["statuses"]["interrupted"].as_u64().unwrap_or(0);
    let answered = traffic["statuses"]["200"].as_u64().unwrap_or(0);
    assert!(cut > 0 && answered > 0, "{traffic}");
    assert_eq!(
        traffic["errors"], 0,
        "cut-off requests are not errors: {traffic}"
    );
    assert!(
        text.contains(&format!(
            "{cut} of them cut off in flight after 2 s (not judged)"
        )),
        "{text}"
    );
    assert!(
        failed_outcomes(scenario).is_empty(),
        "{text}\n{:#?}",
        failed_outcomes(scenario)
    );
    let judged = scenario["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["source"]["check"] == "integrity.time_window")
        .expect("the time window was checked");
    assert_eq!(
        judged["observed"],
        format!("{answered} of {answered} traces pass"),
        "only the answered requests' traces are judged"
    );
}
