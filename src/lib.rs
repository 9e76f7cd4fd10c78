//! tracelab: scripted, reproducible distributed-tracing labs.
//!
//! A Rhai scenario declares a topology (proxies and services, who calls
//! whom), traffic, and the trace shapes it expects. tracelab starts the
//! topology in-process, sends the traffic, exports spans over OTLP to a
//! Jaeger-compatible collector, reads the traces back through Jaeger's query
//! API and judges them.
//!
//! # Layout
//! Data flows one way, top to bottom:
//! - [`scenario`]: Rhai script → [`scenario::Scenario`] (plain data).
//! - [`mesh`]: the scenario's components as HTTP servers with tracers.
//! - [`traffic`]: the requests, with per-request records and statistics.
//! - [`collector`]: the embedded collector (OTLP in, Jaeger API out).
//! - [`jaeger`]: Jaeger's query API model and client (read side).
//! - [`assert`]: expectations and integrity checks → [`assert::Outcome`]s.
//! - [`report`]: the report model and its renderings.
//!
//! Around them: [`cli`] (flags → [`cli::Mode`]), [`config`] (the optional
//! `tracelab.toml`), [`backend`] (embedded collector or a real Jaeger),
//! [`run`] (one scenario start to verdict), [`server`] (serving a handler
//! with graceful shutdown), [`error`] (exit codes).

pub mod assert;
pub mod backend;
pub mod cli;
pub mod collector;
pub mod config;
pub mod error;
pub mod jaeger;
pub mod mesh;
pub mod report;
pub mod run;
pub mod scenario;
pub mod server;
pub mod traffic;

use std::path::PathBuf;
use std::sync::Arc;

pub use error::Error;

use crate::cli::{CheckOptions, Mode, RunOptions};
use crate::report::RunReport;
use crate::run::{Observer, run_scenario, start_backend};

/// What the binary does once the command line is understood: the exit code.
pub async fn execute(mode: Mode, observer: Arc<dyn Observer>) -> Result<u8, Error> {
    match mode {
        Mode::Run(options) => {
            let report = run_files(&options, observer).await?;
            let text = report::human::render(&report, options.verbosity);
            anstream::print!("{text}");
            Ok(if report.passed {
                error::EXIT_PASSED
            } else {
                error::EXIT_FAILED
            })
        }
        Mode::Check(options) => {
            check_files(&options)?;
            Ok(error::EXIT_PASSED)
        }
    }
}

/// Load every scenario first (a broken script stops the run before anything
/// starts), then run them one after another.
pub async fn run_files(
    options: &RunOptions,
    observer: Arc<dyn Observer>,
) -> Result<RunReport, Error> {
    let scenarios = load_all(&options.files)?;
    let backend = start_backend(&options.settings).await?;
    let mut reports = Vec::new();
    for scenario in &scenarios {
        match run_scenario(scenario, &backend, &options.settings, Arc::clone(&observer)).await {
            Ok(report) => reports.push(report),
            Err(e) => {
                backend.stop().await;
                return Err(e);
            }
        }
    }
    backend.stop().await;
    Ok(RunReport::new(reports))
}

/// Load every file without starting anything: `ok` or the error for each
/// (errors on stderr), then exit 2 if any had one.
pub fn check_files(options: &CheckOptions) -> Result<(), Error> {
    let mut failed = 0;
    for file in &options.files {
        match scenario::load(file) {
            Ok(scenario) => anstream::println!(
                "{}: ok ({} components, {} traffic blocks, {} expectations)",
                scenario.file.display(),
                scenario.components.len(),
                scenario.traffic.len(),
                scenario.expectations.len()
            ),
            Err(e) => {
                failed += 1;
                anstream::eprintln!("{e}");
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(Error::Usage(format!(
            "{n} of {} scenarios have errors",
            options.files.len()
        ))),
    }
}

/// Load every file; all the broken ones are reported, not just the first.
fn load_all(files: &[PathBuf]) -> Result<Vec<scenario::Scenario>, Error> {
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match scenario::load(file) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(scenarios),
        1 => Err(Error::Script(errors.remove(0))),
        n => Err(Error::Usage(format!(
            "{n} of {} scenarios have errors:\n{}",
            files.len(),
            errors
                .iter()
                .map(|e| format!("  {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}
