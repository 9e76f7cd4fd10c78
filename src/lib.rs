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
//! `tracelab.toml`), [`backend`] (embedded collector, a Jaeger it starts, or
//! a running Jaeger),
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
    // Listen before anything starts, so no interrupt finds a process
    // started and no handler to stop it.
    let mut interrupt = Interrupt::listen();
    let scenarios = load_all(&options.files)?;
    // Dropping a half-started backend kills a started Jaeger.
    let backend = tokio::select! {
        biased;
        _ = interrupt.recv() => return Err(Error::Interrupted),
        backend = start_backend(&options.settings) => backend?,
    };
    let run_all = async {
        let mut reports = Vec::new();
        for scenario in &scenarios {
            let observer = Arc::clone(&observer);
            reports.push(run_scenario(scenario, &backend, &options.settings, observer).await?);
        }
        Ok(reports)
    };
    let result = tokio::select! {
        biased;
        _ = interrupt.recv() => Err(Error::Interrupted),
        // A Jaeger that dies mid-run ends the run now, not after the traffic.
        () = backend.died() => Err(Error::Infra("Jaeger stopped during the run".into())),
        result = run_all => result,
    };
    let result = match result {
        Err(Error::Infra(message)) => Err(Error::Infra(backend.explain(message))),
        other => other,
    };
    backend.stop().await;
    result.map(RunReport::new)
}

/// Ctrl-C or SIGTERM: stop what was started before exiting.
struct Interrupt {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Interrupt {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Interrupt {
                signals: signal(SignalKind::interrupt())
                    .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                    .ok(),
            }
        }
        #[cfg(not(unix))]
        Interrupt {}
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        match &mut self.signals {
            Some((int, term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

pub fn check_files(options: &CheckOptions) -> Result<(), Error> {
    for scenario in load_all(&options.files)? {
        anstream::println!(
            "{}: ok ({} components, {} traffic blocks, {} expectations)",
            scenario.file.display(),
            scenario.components.len(),
            scenario.traffic.len(),
            scenario.expectations.len()
        );
    }
    Ok(())
}

fn load_all(files: &[PathBuf]) -> Result<Vec<scenario::Scenario>, Error> {
    files
        .iter()
        .map(|f| scenario::load(f).map_err(Error::from))
        .collect()
}
