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
//! - [`http_client`]: the HTTP client the traffic and the mesh's sidecars
//!   send with (it knows URLs, not the mesh).
//! - [`propagation`]: trace-context headers (W3C, B3, Jaeger), read and
//!   written by the mesh's sidecars, written by traffic that starts traces.
//! - [`collector`]: the embedded collector (OTLP in, Jaeger API out).
//! - [`jaeger`]: Jaeger's query API model and client (read side).
//! - [`analysis`]: critical path, self time and span statistics of traces.
//! - [`assert`]: expectations and integrity checks → [`assert::Outcome`]s.
//! - [`report`]: the report model and its renderings.
//! - [`record`]: `tracelab record`, the shapes of judged traces written
//!   as expectations.
//!
//! Around them: [`cli`] (flags → [`cli::Mode`]), [`diff`] (two JSON
//! reports compared), [`config`] (the optional
//! `tracelab.toml`), [`backend`] (embedded collector, a Jaeger it starts, or
//! a running Jaeger), [`run`] (one scenario start to verdict), [`up`] (a
//! topology and the trace viewer kept running), [`serve`] (some components
//! served until stopped, for topologies spread over machines), [`traces`]
//! (traces from a query API, laid out), [`server`] (serving a handler with
//! graceful shutdown), [`signals`] (SIGINT/SIGTERM), [`fuzzing`] (entry
//! points for the fuzz targets), [`suggest`] ("did you mean" for
//! misspelt names), [`error`] (exit codes), [`alloc`] (the
//! binary's allocator, which bounds a script's memory), [`watch`] (the
//! files `run --watch` watches, and when they changed).

pub mod alloc;
pub mod analysis;
pub mod assert;
pub mod backend;
pub mod cli;
pub mod collector;
pub mod config;
pub mod diff;
pub mod error;
pub mod fuzzing;
pub mod http_client;
pub mod jaeger;
pub mod mesh;
pub mod propagation;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod serve;
pub mod server;
pub mod signals;
pub mod suggest;
pub mod traces;
pub mod traffic;
pub mod up;
pub mod watch;

// The unit tests run scripts as the binary does: with memory counted.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: alloc::Counting = alloc::Counting(mimalloc::MiMalloc);

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use error::Error;

use crate::cli::{CheckOptions, Mode, RunOptions};
use crate::report::model::{AbortKind, Aborted};
use crate::report::{Format, RunReport};
use crate::run::{Observer, requested_trace, run_scenario_until, start_backend};
use crate::serve::{ServeOptions, Serving};

/// What the binary does once the command line is understood: the exit code.
pub async fn execute(mode: Mode, observer: Arc<dyn Observer>) -> Result<u8, Error> {
    match mode {
        Mode::Run(options) if options.watch => watch_runs(&options, observer).await,
        Mode::Run(options) => {
            let report = match run_files(&options, observer).await {
                Err(RunError::Load(failed)) => {
                    // CI still gets every report it asked for, saying why.
                    let failures = failed
                        .iter()
                        .map(|(file, e)| report::model::LoadFailure::from_error(file, e))
                        .collect();
                    write_reports(&RunReport::load_failed(failures), &options, false)?;
                    return Err(load_error(failed, options.files.len()));
                }
                Err(RunError::Aborted { report, error }) => {
                    // What finished is reported first; the error says why the rest did not.
                    write_reports(&report, &options, true)?;
                    return Err(error);
                }
                Err(RunError::Other(e)) => return Err(e),
                Ok(report) => report,
            };
            write_reports(&report, &options, true)?;
            if report.interrupted {
                anstream::eprintln!(
                    "tracelab: interrupted: the report covers what ran until the signal"
                );
            }
            Ok(if report.interrupted {
                error::EXIT_INTERRUPTED
            } else if report.passed {
                error::EXIT_PASSED
            } else {
                error::EXIT_FAILED
            })
        }
        Mode::Record(options) => record_scenario(&options, observer).await,
        Mode::Check(options) => {
            check_files(&options)?;
            Ok(error::EXIT_PASSED)
        }
        Mode::Serve(options) => {
            serve_until_signal(&options).await?;
            Ok(error::EXIT_PASSED)
        }
        Mode::Up(options) => {
            let shutdown = watch_signals()?;
            let lab = up::start(&options).await?;
            anstream::print!("{}", report::human::render_lab(lab.info()));
            shutdown.await;
            let stopped = lab.stop().await;
            anstream::print!("{}", report::human::render_lab_stopped(&stopped));
            Ok(error::EXIT_PASSED)
        }
        Mode::Collector(options) => {
            let shutdown = watch_signals()?;
            let collector = collector::standalone::start(&options)
                .await
                .map_err(|e| Error::Infra(e.to_string()))?;
            anstream::print!("{}", collector::standalone::describe(&collector));
            let _ = std::io::Write::flush(&mut std::io::stdout());
            // Datagrams the agent ports drop are said as they fall.
            let mut drops = collector::standalone::DropLog::default();
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {
                        for line in drops.news(&collector) {
                            anstream::eprintln!("{line}");
                        }
                    }
                }
            }
            let held = collector::standalone::stop(collector).await;
            anstream::print!("{}", collector::standalone::describe_stopped(&held));
            Ok(error::EXIT_PASSED)
        }
        Mode::Diff(options) => diff_reports(&options),
        Mode::Traces(options) => {
            let listing = traces::find(&options).await?;
            let text = report::human::render_traces(&listing, options.list, options.tags);
            anstream::print!("{text}");
            Ok(error::EXIT_PASSED)
        }
    }
}

/// `tracelab record`: run the scenario (without the recording it
/// replaces), then write the shapes of the traces it judged, unless the
/// run gives nothing sound to record.
async fn record_scenario(
    options: &cli::RecordOptions,
    observer: Arc<dyn Observer>,
) -> Result<u8, Error> {
    let recorder = Arc::new(record::Recorder::new(observer));
    let mut loaded = None;
    let ran = run_prepared(&options.run, recorder.clone(), |scenarios| {
        for scenario in scenarios.iter_mut() {
            record::without_recording(scenario, &options.out);
        }
        loaded = scenarios.first().cloned();
        Ok(())
    })
    .await;
    let report = match ran {
        Err(RunError::Load(failed)) => return Err(load_error(failed, 1)),
        Err(RunError::Aborted { report, error }) => {
            write_reports(&report, &options.run, true)?;
            return Err(error);
        }
        Err(RunError::Other(e)) => return Err(e),
        Ok(report) => report,
    };
    write_reports(&report, &options.run, true)?;
    let (Some(scenario), Some(ran)) = (loaded, report.scenarios.first()) else {
        return Ok(error::EXIT_INTERRUPTED);
    };
    let blocks = recorder.take(&scenario);
    if let Some(why) = record::refusal(ran, &blocks) {
        anstream::eprintln!("tracelab record: nothing recorded: {why}");
        return Ok(if report.interrupted {
            error::EXIT_INTERRUPTED
        } else {
            error::EXIT_FAILED
        });
    }
    let out = &options.out;
    let import = record::import_name(&scenario.file, out);
    let shown = scenario.file.display().to_string();
    let text = record::render::module(
        &record::render::Source {
            scenario: &shown,
            import: import
                .as_deref()
                .unwrap_or("<a module in the scenario's folder>"),
            command: &format!("tracelab record {shown}"),
        },
        &blocks,
    );
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Infra(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(out, text)
        .map_err(|e| Error::Infra(format!("cannot write {}: {e}", out.display())))?;
    let shapes: usize = blocks.iter().map(|(_, b)| b.shapes.len()).sum();
    let traces: u64 = blocks.iter().map(|(_, b)| b.traces()).sum();
    anstream::println!(
        "recorded {} of {} to {}",
        scenario::model::counted(shapes as u64, "shape"),
        scenario::model::counted(traces, "trace"),
        out.display()
    );
    match &import {
        Some(name) => anstream::println!(
            "  to judge every run by it, add to {shown}: import \"{name}\" as expected;"
        ),
        None => anstream::eprintln!(
            "tracelab record: warning: {} is outside {shown}'s folder, where a scenario imports modules from",
            out.display()
        ),
    }
    if !report.passed {
        anstream::eprintln!(
            "tracelab record: the run's own checks failed (above): review the recording before you keep it"
        );
        return Ok(error::EXIT_FAILED);
    }
    Ok(error::EXIT_PASSED)
}

/// `tracelab serve`: start, say where, serve until SIGINT/SIGTERM, then say
/// whether every span reached the collector.
async fn serve_until_signal(options: &ServeOptions) -> Result<(), Error> {
    let shutdown = watch_signals()?;
    let serving = Serving::start(options).await?;
    anstream::print!("{}", serving.describe());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let delivery = serving
        .run_until(shutdown, |warning| {
            anstream::eprintln!("tracelab: warning: {warning}");
        })
        .await;
    anstream::print!("{}", serve::describe_delivery(&delivery));
    Ok(())
}

fn watch_signals() -> Result<impl std::future::Future<Output = ()>, Error> {
    signals::shutdown_signal()
        .map_err(|e| Error::Infra(format!("cannot watch for SIGINT/SIGTERM: {e}")))
}

/// The terminal report on stdout (stderr when another format takes
/// stdout; none with `terminal` false, when the error says it all), then
/// every `--report` in its place.
fn write_reports(report: &RunReport, options: &RunOptions, terminal: bool) -> Result<(), Error> {
    if terminal {
        let human = report::render(report, Format::Human, options.verbosity);
        if options.reports.iter().any(|r| r.path.is_none()) {
            anstream::eprint!("{human}");
        } else {
            anstream::print!("{human}");
        }
    }
    for target in &options.reports {
        let mut text = report::render(report, target.format, options.verbosity);
        match &target.path {
            None => {
                use std::io::Write as _;
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(|e| Error::Infra(format!("cannot write the report to stdout: {e}")))?;
            }
            Some(path) => {
                if target.format == Format::Human {
                    text = anstream::adapter::strip_str(&text).to_string();
                }
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Error::Infra(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                std::fs::write(path, text).map_err(|e| {
                    Error::Infra(format!("cannot write the report {}: {e}", path.display()))
                })?;
            }
        }
    }
    Ok(())
}

/// Load every scenario first (a broken script stops the run before anything
/// starts), then run them one after another.
///
/// The first SIGINT/SIGTERM winds the run down (saying so on stderr): the
/// scenario running stops its traffic (requests in flight get
/// [`traffic::STOP_GRACE`], then are cut off), flushes its spans and
/// reports what arrived; the ones after it do not run; the report is
/// marked interrupted (exit 130). A second signal ends the run at once,
/// with no report.
///
/// An error part way (a closure that fails while traces are judged, a
/// busy port, a Jaeger that stops) ends the run with
/// [`RunError::Aborted`]: the report of the scenarios that finished, with
/// the error recorded in it, so every report still gets written.
pub async fn run_files(
    options: &RunOptions,
    observer: Arc<dyn Observer>,
) -> Result<RunReport, RunError> {
    run_prepared(options, observer, |_| Ok(())).await
}

/// [`run_files`], with `prepare` given the loaded scenarios before they
/// run (`tracelab record` leaves out the recording it replaces).
pub async fn run_prepared(
    options: &RunOptions,
    observer: Arc<dyn Observer>,
    prepare: impl FnOnce(&mut [scenario::Scenario]) -> Result<(), Error>,
) -> Result<RunReport, RunError> {
    // Listen before anything starts, so no interrupt finds a process
    // started and no handler to stop it.
    let mut signals = signals::Interrupts::new()
        .map_err(|e| Error::Infra(format!("cannot watch for SIGINT/SIGTERM: {e}")))?;
    let mut scenarios = load_all(&options.files, &options.script_limits).map_err(RunError::Load)?;
    prepare(&mut scenarios)?;
    // Dropping a half-started backend kills a started Jaeger.
    let backend = tokio::select! {
        biased;
        () = signals.recv() => return Err(Error::Interrupted.into()),
        backend = start_backend(&options.settings) => backend?,
    };
    let stop = CancellationToken::new();
    // Kept outside the run, so an error that ends it leaves what finished.
    let mut reports = Vec::new();
    let mut running = None;
    let mut shown_trace = None;
    let mut warnings = Vec::new();
    let run_all = async {
        for (i, scenario) in scenarios.iter().enumerate() {
            if stop.is_cancelled() {
                break;
            }
            running = Some(i);
            let observer = Arc::clone(&observer);
            reports.push(
                run_scenario_until(scenario, &backend, &options.settings, observer, &stop).await?,
            );
            running = None;
        }
        if let Some(id) = &options.settings.show_trace {
            match requested_trace(&backend, id).await {
                Ok(Some(shown)) => shown_trace = Some(shown),
                Ok(None) => warnings.push(format!(
                    "--show-trace {id}: the collector has no such trace"
                )),
                Err(e) => warnings.push(format!("--show-trace {id}: {e}")),
            }
        }
        Ok(())
    };
    // A block, so the run is dropped before the backend stops.
    let result = {
        tokio::pin!(run_all);
        loop {
            tokio::select! {
                biased;
                () = signals.recv() => {
                    if stop.is_cancelled() {
                        break Err(Error::Interrupted);
                    }
                    anstream::eprintln!(
                        "tracelab: interrupted: no new requests; those in flight get {} s to finish, \
                         then spans are flushed and what ran is reported (interrupt again to stop at once)",
                        traffic::STOP_GRACE.as_secs()
                    );
                    stop.cancel();
                }
                // A Jaeger that dies mid-run ends the run now, not after the traffic.
                () = backend.died() => {
                    break Err(Error::Infra("Jaeger stopped during the run".into()));
                }
                result = &mut run_all => break result,
            }
        }
    };
    let result = match result {
        Err(Error::Infra(message)) => Err(Error::Infra(backend.explain(message))),
        other => other,
    };
    backend.stop().await;
    let error = match result {
        Ok(()) => None,
        Err(e) => match abort_kind(&e) {
            Some(kind) => Some((e, kind)),
            // A second interrupt stops at once: no report.
            None => return Err(e.into()),
        },
    };
    let mut report = RunReport::new(reports);
    if stop.is_cancelled() {
        report.interrupted = true;
        report.passed = false;
    }
    // Scenarios that never started: after an interrupt, or after the one
    // an error stopped.
    let not_run = scenarios.len() - report.scenarios.len() - usize::from(running.is_some());
    match (&error, running.map(|i| &scenarios[i])) {
        (Some(_), Some(stopped)) if not_run > 0 => report.warnings.push(format!(
            "an error in {} ({}) stopped the run: {not_run} of {} scenarios did not run",
            stopped.name,
            stopped.file.display(),
            scenarios.len()
        )),
        (None, _) if report.interrupted && not_run > 0 => report.warnings.push(format!(
            "interrupted: {not_run} of {} scenarios did not run",
            scenarios.len()
        )),
        _ => {}
    }
    report.warnings.extend(warnings);
    report.shown_trace = shown_trace;
    let Some((error, kind)) = error else {
        return Ok(report);
    };
    // CI still gets the finished scenarios, and what stopped the others.
    let stopped = running.map(|i| &scenarios[i]);
    report.passed = false;
    report.aborted = Some(Aborted {
        scenario: stopped.map(|s| s.name.clone()),
        file: stopped.map(|s| s.file.display().to_string()),
        kind,
        message: error.to_string(),
        not_run,
    });
    Err(RunError::Aborted {
        report: Box::new(report),
        error,
    })
}

/// How an error that stops a run part way is recorded; none for a
/// second interrupt, which ends the run with no report.
fn abort_kind(error: &Error) -> Option<AbortKind> {
    match error {
        Error::Script(_) => Some(AbortKind::Script),
        Error::Usage(_) => Some(AbortKind::Usage),
        Error::Infra(_) => Some(AbortKind::Infra),
        Error::Interrupted => None,
    }
}

/// Why [`run_files`] ended without a report of its own.
#[derive(Debug)]
pub enum RunError {
    /// Scenarios that did not load (nothing started), each with its error.
    Load(Vec<(PathBuf, scenario::LoadError)>),
    /// An error stopped the run part way (exit 2 or 3): the report of the
    /// scenarios that finished, recording it ([`RunReport::aborted`]).
    Aborted {
        report: Box<RunReport>,
        error: Error,
    },
    /// Nothing to report: the backend did not start, or a second
    /// interrupt stopped the run at once.
    Other(Error),
}

impl From<Error> for RunError {
    fn from(e: Error) -> Self {
        RunError::Other(e)
    }
}

/// One load error as it is, several summed up (exit 2 either way).
fn load_error(mut failed: Vec<(PathBuf, scenario::LoadError)>, files: usize) -> Error {
    if failed.len() == 1 {
        return Error::Script(failed.remove(0).1);
    }
    Error::Usage(format!(
        "{} of {files} scenarios have errors:\n{}",
        failed.len(),
        failed
            .iter()
            .map(|(_, e)| format!("  {e}"))
            .collect::<Vec<_>>()
            .join("\n")
    ))
}

/// Load every file without starting anything: `ok` or the error for each
/// (errors on stderr), then exit 2 if any had one.
pub fn check_files(options: &CheckOptions) -> Result<(), Error> {
    let mut failed = 0;
    for file in &options.files {
        match scenario::load::load_with_limits(file, &options.script_limits) {
            Ok(scenario) => anstream::println!(
                "{}: ok ({} components, {}{} traffic blocks, {} expectations)",
                scenario.file.display(),
                scenario.components.len(),
                match scenario.targets.len() {
                    0 => String::new(),
                    n => format!("{}, ", scenario::model::counted(n as u64, "target")),
                },
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

/// Load every file to run; all the broken ones are reported, not just the
/// first. A scenario without traffic is refused here (not in `check`, as
/// `tracelab up` serves such a topology): its run would pass having
/// checked nothing.
fn load_all(
    files: &[PathBuf],
    limits: &scenario::load::Limits,
) -> Result<Vec<scenario::Scenario>, Vec<(PathBuf, scenario::LoadError)>> {
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        match scenario::load::load_with_limits(file, limits) {
            Ok(s) if s.traffic.is_empty() => errors.push((
                file.clone(),
                scenario::LoadError::Script(scenario::ScriptError {
                    file: s.file.clone(),
                    origin: Default::default(),
                    message: "the scenario sends no traffic, so a run would check nothing: \
                              add traffic(...) (tracelab up serves a topology without traffic)"
                        .into(),
                }),
            )),
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push((file.clone(), e)),
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors)
    }
}

/// `tracelab diff`: compare, print (stderr when the JSON takes stdout),
/// write the JSON where asked; exit 1 when something got worse.
fn diff_reports(options: &cli::DiffOptions) -> Result<u8, Error> {
    let compared = diff::diff_files(&options.old, &options.new, &options.thresholds)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let human = report::diff::human(&compared, options.verbose);
    if options.reports.iter().any(|r| r.path.is_none()) {
        anstream::eprint!("{human}");
    } else {
        anstream::print!("{human}");
    }
    for target in &options.reports {
        let text = match target.format {
            Format::Human => anstream::adapter::strip_str(&human).to_string(),
            _ => report::diff::json(&compared),
        };
        match &target.path {
            None => print!("{text}"),
            Some(path) => std::fs::write(path, text).map_err(|e| {
                Error::Infra(format!("cannot write the diff {}: {e}", path.display()))
            })?,
        }
    }
    Ok(if compared.worse > 0 {
        error::EXIT_FAILED
    } else {
        error::EXIT_PASSED
    })
}

/// `tracelab run --watch`: run, then run again whenever a scenario or a
/// module it imports changes, until Ctrl-C; the exit code is the last
/// run's. A broken script or a failed run is reported and watched like a
/// passing one; Ctrl-C during a run ends it as without `--watch` (130).
async fn watch_runs(options: &RunOptions, observer: Arc<dyn Observer>) -> Result<u8, Error> {
    let mut signals = signals::Interrupts::new()
        .map_err(|e| Error::Infra(format!("cannot watch for SIGINT/SIGTERM: {e}")))?;
    loop {
        if options.clear {
            // Clear the screen and scrollback, cursor home.
            anstream::print!("\x1b[2J\x1b[3J\x1b[H");
        }
        // The files as this run reads them: a change made while it runs
        // starts the next one.
        let before = watch::Snapshot::take(&watch::watched_files(&options.files));
        let code = match run_files(options, Arc::clone(&observer)).await {
            Ok(report) => {
                write_reports(&report, options, true)?;
                if report.interrupted {
                    return Ok(error::EXIT_INTERRUPTED);
                }
                if report.passed {
                    error::EXIT_PASSED
                } else {
                    error::EXIT_FAILED
                }
            }
            Err(RunError::Load(failed)) => {
                let failures = failed
                    .iter()
                    .map(|(file, e)| report::model::LoadFailure::from_error(file, e))
                    .collect();
                write_reports(&RunReport::load_failed(failures), options, false)?;
                let e = load_error(failed, options.files.len());
                anstream::eprintln!("tracelab: error: {e}");
                e.exit_code()
            }
            Err(RunError::Aborted { report, error }) => {
                write_reports(&report, options, true)?;
                anstream::eprintln!("tracelab: error: {error}");
                error.exit_code()
            }
            Err(RunError::Other(Error::Interrupted)) => return Ok(error::EXIT_INTERRUPTED),
            Err(RunError::Other(e)) => {
                anstream::eprintln!("tracelab: error: {e}");
                e.exit_code()
            }
        };
        let files = watch::watched_files(&options.files);
        anstream::eprintln!(
            "tracelab: watching {} {} for changes (exit {code} so far; Ctrl-C ends)",
            files.len(),
            if files.len() == 1 { "file" } else { "files" }
        );
        let mut debounce = watch::Debounce::new(before);
        let changed = loop {
            tokio::select! {
                () = signals.recv() => return Ok(code),
                () = tokio::time::sleep(watch::POLL) => {
                    if let Some(changed) = debounce.observe(watch::Snapshot::take(&files)) {
                        break changed;
                    }
                }
            }
        };
        let names: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
        anstream::eprintln!("tracelab: {} changed: running again", names.join(", "));
    }
}
