//! The trace viewer in a real browser: after a run of the sandbox scenario,
//! headless Chromium (Debian's `chromium`, driven by playwright-core from
//! scripts/install-browser-driver.sh) loads the embedded collector's page,
//! finds the sandbox's trace with 4 spans, opens it and its first span's
//! tags; after a run of a fast and a slow request, it ticks both traces,
//! compares them side by side, and opens the slow one's critical path.
//! Its dependency graph draws the sandbox's calls. Screenshots land in
//! target/artifacts/viewer-*.png.
//!
//! Without Chromium, Node or npm this test fails, unless
//! TRACELAB_SKIP_BROWSER=1 says to skip it.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};

/// Chromium and the playwright-core folder, or `None` when the browser
/// tests are switched off.
fn browser() -> Option<(PathBuf, PathBuf)> {
    if skip_browser() {
        common::notice("TRACELAB_SKIP_BROWSER=1: not testing the viewer in a browser");
        return None;
    }
    let chromium = chromium().expect(
        "headless Chromium is needed: scripts/install-browser.sh installs it (as root with \
         apt-get; scripts/test.sh runs it first), else `sudo apt-get install -y chromium`; \
         or set TRACELAB_SKIP_BROWSER=1 to skip this test",
    );
    let driver = playwright_dir()
        .unwrap_or_else(|e| panic!("{e}\n(or set TRACELAB_SKIP_BROWSER=1 to skip this test)"));
    Some((chromium, driver))
}

/// Run a script of tests/browser/ with `env`; what it printed, as JSON.
async fn drive(script: &str, chromium: &Path, driver: &Path, env: &[(&str, String)]) -> Value {
    let mut command = tokio::process::Command::new("node");
    command
        .arg(common::root().join("tests/browser").join(script))
        .env("NODE_PATH", driver.join("node_modules"))
        .env("ARTIFACT_DIR", artifact_dir())
        .env("CHROMIUM", chromium)
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the browser run ends within 2 minutes")
        .expect("node runs (install Node.js, or set TRACELAB_SKIP_BROWSER=1)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed:\n{stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn skip_browser() -> bool {
    std::env::var("TRACELAB_SKIP_BROWSER").is_ok_and(|v| v == "1")
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRACELAB_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// The folder whose node_modules holds playwright-core (installed on first use).
fn playwright_dir() -> Result<PathBuf, String> {
    let script = common::root().join("scripts/install-browser-driver.sh");
    let out = std::process::Command::new(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn artifact_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The sandbox run (and passed) on an embedded collector that keeps its
/// traces, for the viewer to show.
async fn sandbox_on_an_embedded_collector() -> (
    tracelab::backend::Backend,
    tracelab::report::model::ScenarioReport,
) {
    let settings = RunSettings::embedded();
    let backend = start_backend(&settings).await.unwrap();
    let scenario = tracelab::scenario::load(&common::scenario_path("jaeger.rhai")).unwrap();
    let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
        .await
        .unwrap();
    assert!(report.passed, "{}", common::render(&report));
    (backend, report)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_viewer_lists_the_sandbox_trace_with_4_spans_and_opens_it_in_chromium() {
    let Some((chromium, driver)) = browser() else {
        return;
    };
    let (backend, report) = sandbox_on_an_embedded_collector().await;

    let artifacts = artifact_dir();
    for name in ["viewer-search.png", "viewer-trace.png"] {
        let _ = std::fs::remove_file(artifacts.join(name));
    }
    let seen = drive(
        "viewer.cjs",
        &chromium,
        &driver,
        &[
            ("VIEWER_URL", format!("{}/", backend.query_url())),
            ("TRACE_ROOT", "front-proxy checkAvailability".into()),
        ],
    )
    .await;
    backend.stop().await;

    assert!(
        seen["title"].as_str().unwrap().contains("tracelab"),
        "{seen}"
    );
    let results = seen["results"].as_array().unwrap();
    assert_eq!(results.len(), 10, "one entry per request: {seen}");
    for r in results {
        assert_eq!(r["root"], "front-proxy checkAvailability", "{r}");
        assert_eq!(r["spans"], "4 spans", "{r}");
    }
    let sandbox_ids = &report.traffic[0].trace_ids;
    let opened = seen["opened"].as_str().unwrap();
    assert!(
        sandbox_ids
            .iter()
            .any(|id| opened.ends_with(&format!("/trace/{id}"))),
        "{opened} is one of the run's traces"
    );
    let spans: Vec<(String, String)> = seen["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap().to_string(),
                s["operation"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("front-proxy", "checkAvailability"),
        ("service1", "checkAvailability"),
        ("service1", "checkStock"),
        ("service2", "checkStock"),
    ];
    assert_eq!(
        spans,
        expected.map(|(s, o)| (s.to_string(), o.to_string())),
        "the chain, depth first"
    );
    assert_eq!(seen["spans"][0]["bar"], "left:0.000%;width:100.000%");
    let tags: Vec<&str> = seen["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for tag in [
        "span id",
        "http.status_code",
        "guid:x-request-id",
        "component",
    ] {
        assert!(tags.contains(&tag), "{tag} in {tags:?}");
    }
    for name in ["viewer-search.png", "viewer-trace.png"] {
        let png = std::fs::read(artifacts.join(name)).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    }
}

/// A front proxy and an API that reads a database: `/fast` answers at
/// once; `/slow` waits 200 ms in the database and also asks a cache.
const FAST_AND_SLOW: &str = r#"
scenario("a fast and a slow page");
proxy("front", #{ routes: [route("/*", #{ to: "api", operation: "page" })] });
service("api", #{ routes: [
    route("/fast", #{ calls: [request("db", "/query-fast", #{ operation: "query" })] }),
    route("/slow", #{ calls: [
        request("db", "/query-slow", #{ operation: "query" }),
        request("cache", "/lookup", #{ operation: "lookup" }),
    ] }),
] });
service("db", #{ routes: [route("/query-fast"), route("/query-slow", #{ latency: "200ms" })] });
service("cache", #{ routes: [route("/lookup")] });
traffic("fast", #{ requests: 1, path: "/fast" });
traffic("slow", #{ requests: 1, path: "/slow" });
expect_spans("fast", span("*", "*"), #{ count: 4 });
expect_spans("slow", span("*", "*"), #{ count: 6 });
"#;

#[tokio::test(flavor = "multi_thread")]
async fn two_ticked_traces_compare_side_by_side_and_the_slow_ones_critical_path_shows_in_chromium()
{
    let Some((chromium, driver)) = browser() else {
        return;
    };
    let (_dir, file) = common::scratch_scenario("fast-and-slow.rhai", FAST_AND_SLOW);
    let settings = RunSettings::embedded();
    let backend = start_backend(&settings).await.unwrap();
    let scenario = tracelab::scenario::load(&file).unwrap();
    let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
        .await
        .unwrap();
    assert!(report.passed, "{}", common::render(&report));
    let a = report.traffic[0].trace_ids[0].clone();
    let b = report.traffic[1].trace_ids[0].clone();
    for name in ["viewer-compare.png", "viewer-critical-path.png"] {
        let _ = std::fs::remove_file(artifact_dir().join(name));
    }
    let seen = drive(
        "compare.cjs",
        &chromium,
        &driver,
        &[
            (
                "VIEWER_URL",
                format!("{}/?service=front", backend.query_url()),
            ),
            ("TRACE_A", a.clone()),
            ("TRACE_B", b.clone()),
        ],
    )
    .await;
    backend.stop().await;

    // Ticking two results led to the comparison of exactly those two, the
    // older (fast, sent first) as A.
    let url = seen["compareUrl"].as_str().unwrap();
    assert!(url.contains("/compare?"), "{url}");
    assert_eq!(seen["sides"], serde_json::json!([a, b]), "{seen}");
    let rows: Vec<(String, String)> = seen["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap().to_string(),
                r["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("front page", "slower"),
        ("api page", "slower"),
        ("api query", "slower"),
        ("db query", "slower"),
        ("api lookup", "only-b"),
        ("cache lookup", "only-b"),
    ];
    assert_eq!(
        rows,
        expected.map(|(l, c)| (l.to_string(), c.to_string())),
        "{seen}"
    );
    for r in seen["rows"].as_array().unwrap() {
        let only = r["change"].as_str().unwrap().starts_with("only-");
        assert_eq!(
            r["a"].as_bool().unwrap() && r["b"].as_bool().unwrap(),
            !only,
            "a row in one trace has one bar: {r}"
        );
    }
    let badges: Vec<&str> = seen["badges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert_eq!(badges, ["2 only in B", "4 slower in B"]);
    assert!(
        seen["rows"][3]["sign"].as_str().unwrap().starts_with("▲ ×"),
        "{seen}"
    );

    // B's page: a sequential chain, so every span holds part of the path,
    // and the 200 ms in the database is most of it.
    assert!(
        seen["tracePage"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/trace/{b}")),
        "{seen}"
    );
    let critical = seen["critical"].as_array().unwrap();
    assert_eq!(critical.len(), 6, "{seen}");
    for span in critical {
        assert!(
            !span["marks"].as_array().unwrap().is_empty() && span["shown"] == true,
            "every span of the chain is on the path: {span}"
        );
    }
    let first_share = seen["shares"][0].as_str().unwrap();
    assert!(first_share.starts_with("db "), "{seen}");
    let db_percent: f64 = first_share
        .trim_start_matches("db ")
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(
        db_percent >= 50.0,
        "200 ms of the slow trace: {first_share}"
    );
    assert_eq!(
        seen["hiddenAfterToggle"], true,
        "unticking Critical path hides it"
    );
    for name in ["viewer-compare.png", "viewer-critical-path.png"] {
        let png = std::fs::read(artifact_dir().join(name)).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dependency_graph_draws_the_sandbox_calls_in_chromium() {
    let Some((chromium, driver)) = browser() else {
        return;
    };
    let (backend, _report) = sandbox_on_an_embedded_collector().await;

    let _ = std::fs::remove_file(artifact_dir().join("viewer-dependencies.png"));
    let seen = drive(
        "dependencies.cjs",
        &chromium,
        &driver,
        &[("VIEWER_URL", format!("{}/", backend.query_url()))],
    )
    .await;
    backend.stop().await;

    let nodes: Vec<&str> = seen["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["service"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["front-proxy", "service1", "service2"], "{seen}");
    assert!(
        seen["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["width"].as_f64().unwrap() > 50.0 && n["height"].as_f64().unwrap() > 10.0),
        "every node is drawn with a size: {seen}"
    );
    // The sandbox's 10 requests: each hop once per request; service1's
    // server span is the parent of its own client span.
    let edges: Vec<(String, String, String, bool)> = seen["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["parent"].as_str().unwrap().to_string(),
                e["child"].as_str().unwrap().to_string(),
                e["calls"].as_str().unwrap().to_string(),
                e["drawn"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("front-proxy", "service1"),
        ("service1", "service1"),
        ("service1", "service2"),
    ]
    .map(|(p, c)| (p.to_string(), c.to_string(), "10".to_string(), true));
    assert_eq!(edges, expected, "{seen}");
    assert_eq!(seen["rows"].as_array().unwrap().len(), 3, "{seen}");
    assert_eq!(
        seen["lookback"], "1",
        "the look-back control reloads: {seen}"
    );
    let png = std::fs::read(artifact_dir().join("viewer-dependencies.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
}
