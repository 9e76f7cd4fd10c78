//! The trace viewer in a real browser: after a run of the sandbox scenario,
//! headless Chromium (Debian's `chromium`, driven by playwright-core from
//! scripts/install-browser-driver.sh) loads the embedded collector's page,
//! finds the sandbox's trace with 4 spans, opens it and its first span's
//! tags; and its dependency graph draws the sandbox's calls. Screenshots
//! land in target/artifacts/viewer-*.png.
//!
//! Without Chromium, Node or npm this test fails, unless
//! TRACELAB_SKIP_BROWSER=1 says to skip it.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};

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

#[tokio::test(flavor = "multi_thread")]
async fn the_viewer_lists_the_sandbox_trace_with_4_spans_and_opens_it_in_chromium() {
    if skip_browser() {
        common::notice("TRACELAB_SKIP_BROWSER=1: not testing the viewer in a browser");
        return;
    }
    let chromium = chromium().expect(
        "headless Chromium is needed: `apt-get install chromium` (as .ci/run does), \
         or set TRACELAB_SKIP_BROWSER=1 to skip this test",
    );
    let driver = playwright_dir()
        .unwrap_or_else(|e| panic!("{e}\n(or set TRACELAB_SKIP_BROWSER=1 to skip this test)"));

    let settings = RunSettings::embedded();
    let backend = start_backend(&settings).await.unwrap();
    let scenario = tracelab::scenario::load(&common::scenario_path("jaeger.rhai")).unwrap();
    let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
        .await
        .unwrap();
    assert!(report.passed);

    let artifacts = artifact_dir();
    for name in ["viewer-search.png", "viewer-trace.png"] {
        let _ = std::fs::remove_file(artifacts.join(name));
    }
    let node = tokio::process::Command::new("node")
        .arg(common::root().join("tests/browser/viewer.cjs"))
        .env("NODE_PATH", driver.join("node_modules"))
        .env("VIEWER_URL", format!("{}/", backend.query_url()))
        .env("ARTIFACT_DIR", &artifacts)
        .env("CHROMIUM", &chromium)
        .env("TRACE_ROOT", "front-proxy checkAvailability")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), node)
        .await
        .expect("the browser run ends within 2 minutes")
        .expect("node runs (install Node.js, or set TRACELAB_SKIP_BROWSER=1)");
    backend.stop().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));

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

#[tokio::test(flavor = "multi_thread")]
async fn the_dependency_graph_draws_the_sandbox_calls_in_chromium() {
    if skip_browser() {
        common::notice("TRACELAB_SKIP_BROWSER=1: not testing the dependency graph in a browser");
        return;
    }
    let chromium = chromium().expect(
        "headless Chromium is needed: `apt-get install chromium` (as .ci/run does), \
         or set TRACELAB_SKIP_BROWSER=1 to skip this test",
    );
    let driver = playwright_dir()
        .unwrap_or_else(|e| panic!("{e}\n(or set TRACELAB_SKIP_BROWSER=1 to skip this test)"));
    let settings = RunSettings::embedded();
    let backend = start_backend(&settings).await.unwrap();
    let scenario = tracelab::scenario::load(&common::scenario_path("jaeger.rhai")).unwrap();
    let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
        .await
        .unwrap();
    assert!(report.passed);

    let artifacts = artifact_dir();
    let _ = std::fs::remove_file(artifacts.join("viewer-dependencies.png"));
    let node = tokio::process::Command::new("node")
        .arg(common::root().join("tests/browser/dependencies.cjs"))
        .env("NODE_PATH", driver.join("node_modules"))
        .env("VIEWER_URL", format!("{}/", backend.query_url()))
        .env("ARTIFACT_DIR", &artifacts)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), node)
        .await
        .expect("the browser run ends within 2 minutes")
        .expect("node runs (install Node.js, or set TRACELAB_SKIP_BROWSER=1)");
    backend.stop().await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser run failed:\n{stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));

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
    let png = std::fs::read(artifacts.join("viewer-dependencies.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
}
