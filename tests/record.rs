//! `tracelab record` round trips: every scenario in `scenarios/` is
//! recorded, then run against its recording (it passes), then run with its
//! topology changed (a hop renamed; for the system tested from outside, a
//! service renamed) and the recording fails it, naming the span that
//! differs. And the command itself: where it writes, that it replaces its
//! own recording rather than being judged by it, and that a run with
//! nothing sound to record writes nothing.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::shop::{AppConfig, start_targets_with};
use common::{path_str, stderr, stdout};
use tracelab::record::{Recorder, refusal, render};
use tracelab::report::model::ScenarioReport;
use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};
use tracelab::scenario::model::{Action, Scenario, Step};

/// A copy of `scenarios/` to record into, with `examples/` beside it as in
/// the repository (scenarios start `../examples/flask-service/run.sh`).
fn scenarios_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("scenarios");
    copy_dir(&common::root().join("scenarios"), &copy);
    std::os::unix::fs::symlink(common::root().join("examples"), dir.path().join("examples"))
        .unwrap();
    (dir, copy)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Rename one hop: the first call a service makes, else the first route a
/// proxy forwards. Its spans are then named "renamedHop".
fn rename_a_hop(scenario: &mut Scenario) -> bool {
    for component in &mut scenario.components {
        for route in &mut component.routes {
            if let Action::Respond(handler) = &mut route.action
                && let Some(step) = handler.steps.first_mut()
            {
                let call = match step {
                    Step::Call(call) => call,
                    Step::Parallel(calls) => &mut calls[0],
                };
                call.operation = Some("renamedHop".into());
                return true;
            }
        }
    }
    for component in &mut scenario.components {
        for route in &mut component.routes {
            if matches!(route.action, Action::Forward { .. }) {
                route.operation = Some("renamedHop".into());
                return true;
            }
        }
    }
    false
}

fn text(report: &ScenarioReport) -> String {
    common::render(report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_records_passes_against_its_recording_and_fails_it_once_its_topology_changes()
 {
    let (_dir, copy) = scenarios_copy();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&copy)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    let settings = RunSettings::embedded();
    let backend = start_backend(&settings).await.unwrap();
    let otlp = backend.otlp_traces_url();
    let mut recorded = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let scenario = tracelab::scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
        let external = !scenario.targets.is_empty();
        if (common::uses_flask_example(&scenario) || external)
            && !common::flask_example_ready(&format!("recording {name}"))
        {
            continue;
        }

        // Record.
        let (systems, moved) = start_targets_with(&scenario, &otlp, AppConfig::default());
        let mut settings = settings.clone();
        settings.targets = moved;
        let recorder = Arc::new(Recorder::new(Arc::new(Silent)));
        let report = run_scenario(&scenario, &backend, &settings, recorder.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            report.passed,
            "{name} must pass to be recorded:\n{}",
            text(&report)
        );
        let blocks = recorder.take(&scenario);
        assert_eq!(refusal(&report, &blocks), None, "{name}");
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let module = copy.join("expected").join(format!("{stem}.rhai"));
        std::fs::create_dir_all(module.parent().unwrap()).unwrap();
        let import = format!("expected/{stem}");
        let command = format!("tracelab record {name}");
        let source = render::Source {
            scenario: &name,
            import: &import,
            command: &command,
        };
        std::fs::write(&module, render::module(&source, &blocks)).unwrap();
        let shapes: usize = blocks.iter().map(|(_, b)| b.shapes.len()).sum();

        // Import the recording: the same system passes it.
        let mut script = std::fs::read_to_string(file).unwrap();
        script.push_str(&format!("\nimport \"{import}\" as expected;\n"));
        std::fs::write(file, &script).unwrap();
        let with_recording = tracelab::scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
        let report = run_scenario(&with_recording, &backend, &settings, Arc::new(Silent))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let judged: Vec<_> = report
            .outcomes
            .iter()
            .filter(|o| o.name.starts_with("recorded: "))
            .collect();
        assert_eq!(judged.len(), shapes, "{name}: one check per shape");
        assert!(
            report.passed,
            "{name} against its recording:\n{}",
            text(&report)
        );
        drop(systems);

        // Change the topology: the recording fails, naming the span.
        let mut changed = with_recording.clone();
        let (systems, moved) = if external {
            let renamed = AppConfig {
                service_name: "shop-renamed",
                ..AppConfig::default()
            };
            start_targets_with(&changed, &otlp, renamed)
        } else {
            assert!(rename_a_hop(&mut changed), "{name}: nothing to rename");
            start_targets_with(&changed, &otlp, AppConfig::default())
        };
        let mut settings = settings.clone();
        settings.targets = moved;
        let report = run_scenario(&changed, &backend, &settings, Arc::new(Silent))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        drop(systems);
        assert!(
            !report.passed,
            "{name} with a hop renamed passed its recording"
        );
        let renamed = if external {
            "shop-renamed"
        } else {
            "renamedHop"
        };
        let failure = report
            .outcomes
            .iter()
            .filter(|o| o.name.starts_with("recorded: ") && !o.passed)
            .flat_map(|o| &o.failures)
            .find(|f| {
                f.span.is_some()
                    && format!("{} {}", f.observed, f.span.as_deref().unwrap_or(""))
                        .contains(renamed)
            })
            .unwrap_or_else(|| {
                panic!(
                    "{name}: no recorded check names the renamed span:\n{}",
                    text(&report)
                )
            });
        assert!(
            failure.span.as_deref().is_some_and(|s| s.contains(" [")),
            "{name}: the span is named with its id: {failure:?}"
        );
        recorded.push(name);
    }
    backend.stop().await;
    common::notice(&format!(
        "recorded and round-tripped: {}",
        recorded.join(", ")
    ));
    assert!(recorded.len() >= 9, "{recorded:?}");
}

/// `tracelab record` (the binary) in a copy of scenarios/.
fn record(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tracelab"))
        .arg("record")
        .args(args)
        .current_dir(common::root())
        .env("NO_COLOR", "1")
        .env_remove("TRACELAB_JAEGER_BIN")
        .env_remove("TRACELAB_CONFIG")
        .output()
        .unwrap()
}

#[test]
fn the_record_command_writes_beside_the_scenario_and_replaces_its_own_recording() {
    let (_dir, copy) = scenarios_copy();
    let scenario = copy.join("jaeger.rhai");
    let out = record(&["-q", path_str(&scenario)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let module = copy.join("expected/jaeger.rhai");
    let first = std::fs::read_to_string(&module).unwrap();
    assert!(
        stdout(&out).contains(&format!(
            "recorded 1 shape of 10 traces to {}",
            module.display()
        )),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("import \"expected/jaeger\" as expected;"),
        "{}",
        stdout(&out)
    );
    assert!(first.contains("#{ exactly: 10, name: \"recorded: sandbox shape 1 of 1"));
    assert!(!first.contains("guid:x-request-id"), "ids are left out");
    let again = record(&["-q", path_str(&scenario)]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(
        std::fs::read_to_string(&module).unwrap(),
        first,
        "the same system records the same file"
    );

    // Imported, then the topology changes: recording again replaces the
    // old recording instead of failing on it.
    let mut script = std::fs::read_to_string(&scenario).unwrap();
    script.push_str("\nimport \"expected/jaeger\" as expected;\n");
    // The call's operation only: the scenario's own pattern still says checkStock.
    let changed = script.replacen(
        "operation: \"checkStock\"",
        "operation: \"checkInventory\"",
        1,
    );
    std::fs::write(&scenario, changed).unwrap();
    let run = common::tracelab(&["run", "-q", path_str(&scenario)]);
    assert_eq!(
        run.status.code(),
        Some(1),
        "the old recording fails the change"
    );
    let out = record(&["-q", path_str(&scenario)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the scenario's own pattern still says checkStock: {}",
        stdout(&out)
    );
    let second = std::fs::read_to_string(&module).unwrap();
    assert!(second.contains("\"checkInventory\"") && !second.contains("\"checkStock\""));
    assert!(
        stderr(&out).contains("the run's own checks failed (above): review the recording"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains("recorded: sandbox shape"),
        "the replaced recording is not judged: {}",
        stdout(&out)
    );
    // --out elsewhere in the folder.
    let other = copy.join("snapshots/sandbox.rhai");
    let out = record(&[
        "-q",
        "--out",
        path_str(&other),
        path_str(&copy.join("fan-out.rhai")),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(other.is_file());
    assert!(stdout(&out).contains("import \"snapshots/sandbox\" as expected;"));
}

#[test]
fn a_run_with_nothing_sound_to_record_writes_nothing() {
    let (_dir, copy) = scenarios_copy();
    // Every request is refused at the edge: nothing answered, no trace.
    let scenario = copy.join("nothing.rhai");
    std::fs::write(
        &scenario,
        format!(
            "target(\"shop\", \"http://127.0.0.1:{}\");\ntraffic(\"t\", #{{ path: \"/\", requests: 2 }});\n",
            common::closed_port()
        ),
    )
    .unwrap();
    let out = record(&["-q", path_str(&scenario)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tracelab record: nothing recorded: traffic \"t\" left nothing to judge: none of the 2 requests was answered"),
        "{}",
        stderr(&out)
    );
    assert!(!copy.join("expected/nothing.rhai").exists());
}
