//! Every scenario shipped in `scenarios/` passes on the embedded collector.
//! Those that start the Flask example app need its Python packages (see
//! `common::flask_example_ready`); TRACELAB_SKIP_PYTHON=1 skips them, saying so.
//! A scenario that tests a system from outside (`target(...)`) gets that
//! system started first, exporting to the same collector
//! (`common::shop::start_targets`), and its targets moved to it.

mod common;

use std::sync::Arc;

use tracelab::run::{RunSettings, Silent, run_scenario, start_backend};

#[tokio::test]
async fn every_scenario_in_the_scenarios_folder_passes_on_the_embedded_collector() {
    let files = common::scenario_files();
    let settings = RunSettings::embedded();
    let backend = start_backend(&settings).await.unwrap();
    let mut failed = Vec::new();
    for file in &files {
        let scenario = tracelab::scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
        if (common::uses_flask_example(&scenario) || !scenario.targets.is_empty())
            && !common::flask_example_ready(&file.display().to_string())
        {
            continue;
        }
        let (_systems, moved) = common::shop::start_targets(&scenario, &backend.otlp_traces_url());
        let mut settings = settings.clone();
        settings.targets = moved;
        let report = run_scenario(&scenario, &backend, &settings, Arc::new(Silent))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if !report.passed {
            let text = tracelab::report::human::render(
                &tracelab::report::RunReport::new(vec![report]),
                tracelab::report::human::Verbosity::Quiet,
            );
            failed.push(text);
        }
    }
    backend.stop().await;
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
