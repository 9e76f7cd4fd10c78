//! One scenario, start to verdict: backend → mesh → traffic → flush →
//! gather → assertions → report model. Whatever fails, the mesh and the
//! collector are stopped (spans flushed) before the error is returned.
//!
//! A run told to stop (Ctrl-C: [`run_scenario_until`]) sends no more
//! requests, gives those in flight [`traffic::STOP_GRACE`] to finish (then
//! cuts them off: their traces are not read back nor judged), flushes,
//! gathers what arrived (waiting less) and reports it, marked interrupted.
//!
//! The report model gets everything its renderers draw (the waterfall of
//! the slowest trace, expected-beside-actual trees of failed shapes) here,
//! so renderers never query a collector.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::analysis::span_stats::SpanStatsBuilder;
use crate::assert::gather::{self, Gathered, WaitSettings, Wanted};
use crate::assert::{self, Outcome, OutcomeSource};
use crate::backend::{Backend, BackendChoice};
use crate::error::Error;
use crate::mesh::telemetry::{DeliveryStats, ExportSettings, OtlpProtocol};
use crate::mesh::{MeshError, MeshOptions, RunningMesh};
use crate::report::compare::TreeComparison;
use crate::report::model::{
    CollectorInfo, ComponentInfo, ScenarioReport, ShownReason, ShownTrace, TraceStats,
    TrafficReport,
};
use crate::report::waterfall::{self, Waterfall};
use crate::scenario::Scenario;
use crate::scenario::model::Check;
use crate::traffic::stats::TrafficSummary;
use crate::traffic::{self, RequestRecord, TrafficRun};

#[derive(Debug, Clone)]
pub struct RunSettings {
    pub backend: BackendChoice,
    pub wait: WaitSettings,
    /// Honour ports fixed in scripts; otherwise every component gets a free one.
    pub fixed_ports: bool,
    /// Components that run elsewhere (`--peer NAME=HOST:PORT`): not started
    /// here; traffic and calls go to them. They export to the same collector.
    pub peers: HashMap<String, String>,
    /// Draw this trace (`--show-trace`) instead of each scenario's slowest.
    pub show_trace: Option<String>,
    /// External targets moved elsewhere (`--target NAME=URL`): name →
    /// `host:port`.
    pub targets: HashMap<String, String>,
    /// How the mesh and programs export spans (`--otlp-protocol`).
    pub otlp_protocol: OtlpProtocol,
}

impl RunSettings {
    /// The embedded collector, free ports, default waiting: what tests want.
    pub fn embedded() -> Self {
        RunSettings {
            backend: BackendChoice::Embedded(Default::default()),
            wait: WaitSettings::default(),
            fixed_ports: false,
            peers: HashMap::new(),
            show_trace: None,
            targets: HashMap::new(),
            otlp_protocol: OtlpProtocol::default(),
        }
    }
}

/// Progress events, for a progress bar; the run itself never prints.
pub trait Observer: Send + Sync {
    fn phase(&self, _scenario: &str, _text: &str) {}
    fn traffic_started(&self, _block: &str, _requests: u64) {}
    fn request_done(&self, _record: &RequestRecord) {}
    fn traffic_finished(&self, _block: &str) {}
    /// A trace of `block` was judged (each once; `tracelab record` reads
    /// their shapes here).
    fn trace_judged(&self, _block: &str, _trace: &crate::jaeger::model::Trace) {}
}

/// An observer that ignores everything (tests, `-q`).
pub struct Silent;
impl Observer for Silent {}

/// Start the backend the settings ask for (exit 3 when it cannot be used).
pub async fn start_backend(settings: &RunSettings) -> Result<Backend, Error> {
    Backend::start(&settings.backend)
        .await
        .map_err(|e| Error::Infra(e.to_string()))
}

/// How long an interrupted run waits for the traces of what it sent.
const INTERRUPTED_WAIT: Duration = Duration::from_secs(3);

/// Run one scenario against a started backend; the caller stops the backend
/// (so several scenarios share one, and tests can read it afterwards).
pub async fn run_scenario(
    scenario: &Scenario,
    backend: &Backend,
    settings: &RunSettings,
    observer: Arc<dyn Observer>,
) -> Result<ScenarioReport, Error> {
    run_scenario_until(
        scenario,
        backend,
        settings,
        observer,
        &CancellationToken::new(),
    )
    .await
}

/// [`run_scenario`], wound down early once `stop` is cancelled: the report
/// then covers what was sent and says it was interrupted.
pub async fn run_scenario_until(
    scenario: &Scenario,
    backend: &Backend,
    settings: &RunSettings,
    observer: Arc<dyn Observer>,
    stop: &CancellationToken,
) -> Result<ScenarioReport, Error> {
    let clock = Instant::now();
    if let Some(name) = settings
        .targets
        .keys()
        .find(|name| scenario.target(name).is_none())
    {
        let known: Vec<&str> = scenario.targets.iter().map(|t| t.name.as_str()).collect();
        return Err(Error::Usage(format!(
            "{}: --target {name}: the scenario has no target of that name (targets: {})",
            scenario.file.display(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    observer.phase(&scenario.name, "starting the mesh");
    let export = backend.export_endpoint(settings.otlp_protocol);
    let mut options = MeshOptions::new(ExportSettings {
        zipkin_spans_url: backend.zipkin_spans_url(),
        ..ExportSettings::to(export.clone())
    });
    options.ephemeral_ports = !settings.fixed_ports;
    options.peers = settings.peers.clone();
    let evicted_before = backend.evicted_traces();
    let mut mesh = RunningMesh::start(scenario, &options)
        .await
        .map_err(|e| mesh_error(scenario, e))?;

    let result = drive(
        scenario,
        settings,
        backend,
        &mut mesh,
        Arc::clone(&observer),
        stop,
    )
    .await;
    let delivery = mesh.stop().await;
    let evicted = backend.evicted_traces() - evicted_before;
    let info = CollectorInfo {
        kind: backend.kind().to_string(),
        query_url: backend.query_url(),
        otlp_traces_url: export.url.clone(),
        otlp_protocol: export.protocol,
    };
    let (runs, gathered, components) = result?;
    let interrupted = stop.is_cancelled();

    let mut outcomes = assert::evaluate(scenario, &runs, &gathered);
    for run in &runs {
        for trace in assert::BlockView::new(run, &gathered).traces {
            observer.trace_judged(&run.name, trace);
        }
    }
    // A closure of the script that failed while judging stops the run as
    // a script error would (exit 2), at its place.
    if let Some(failure) = scenario.closure_failure() {
        return Err(Error::Script(crate::scenario::LoadError::Script(
            crate::scenario::ScriptError {
                file: scenario.file.clone(),
                origin: failure.origin,
                message: failure.message,
            },
        )));
    }
    let mut total = DeliveryStats::default();
    for (_, stats) in &delivery {
        total.add(stats);
    }
    // Spans that never reached the collector are missing from the traces
    // judged; evictions cost this run spans unless the traces read back
    // held every span it delivered. Either way its checks judged what was
    // left, so they must not pass alone.
    for run in &runs {
        if total.undelivered() > 0 {
            outcomes.push(assert::integrity::delivered_to_the_collector(
                &run.name,
                total.undelivered(),
                total.ended,
            ));
        }
        if evicted > 0 && !gathered.exact {
            outcomes.push(assert::integrity::kept_by_the_collector(
                &run.name,
                evicted,
                backend.max_search_depth(),
            ));
        }
    }
    let mut warnings = Vec::new();
    if interrupted {
        let sent: usize = runs.iter().map(|r| r.records.len()).sum();
        let planned: u64 = scenario.traffic.iter().map(|t| t.requests).sum();
        let cut = runs
            .iter()
            .flat_map(|r| &r.records)
            .filter(|r| r.interrupted)
            .count();
        warnings.push(match cut {
            0 => format!(
                "interrupted: {sent} of {planned} requests sent; the checks judged what arrived from them"
            ),
            n => format!(
                "interrupted: {sent} of {planned} requests sent, {n} of them cut off in flight after {} s \
                 (not judged); the checks judged what arrived from the others",
                traffic::STOP_GRACE.as_secs()
            ),
        });
    }
    if total.undelivered() > 0 {
        warnings.push(format!(
            "{} of {} spans did not reach the collector, retries included{}",
            total.undelivered(),
            total.ended,
            total
                .last_error
                .as_ref()
                .map(|e| format!(" (last error: {e})"))
                .unwrap_or_default()
        ));
    }
    if evicted > 0 {
        warnings.push(format!(
            "the embedded collector reached its max traces ({}) and evicted the oldest {evicted} times; raise --max-traces",
            backend.max_search_depth()
        ));
    }
    if !gathered.complete {
        warnings.push(format!(
            "traces may be incomplete: the span count was still changing or requests lacked traces after {:.1} s",
            gathered.waited.as_secs_f64()
        ));
    }
    let passed = !interrupted && outcomes.iter().all(|o| o.passed);
    let shown_trace = match settings.show_trace {
        Some(_) => None,
        None => waterfall::slowest(gathered.traces.values()).map(|t| ShownTrace {
            reason: ShownReason::Slowest,
            waterfall: Waterfall::of(t),
        }),
    };
    let comparisons = comparisons(scenario, &outcomes, &gathered);
    let mut spans = SpanStatsBuilder::default();
    for trace in gathered.traces.values() {
        spans.add(trace);
    }
    Ok(ScenarioReport {
        name: scenario.name.clone(),
        file: scenario.file.display().to_string(),
        collector: info,
        components,
        traffic: runs
            .iter()
            .map(|run| TrafficReport {
                name: run.name.clone(),
                target: run.target.clone(),
                summary: TrafficSummary::of(run),
                trace_ids: run
                    .records
                    .iter()
                    .filter_map(|r| r.trace_id.clone().filter(|_| r.sampled))
                    .collect(),
            })
            .collect(),
        traces: TraceStats {
            traces: gathered.traces.len(),
            spans: gathered.spans,
            complete: gathered.complete,
            evicted,
            waited_ms: gathered.waited.as_secs_f64() * 1000.0,
            polls: gathered.polls,
        },
        spans: spans.finish(),
        delivery: total,
        outcomes,
        shown_trace,
        comparisons,
        warnings,
        passed,
        interrupted,
        duration_ms: clock.elapsed().as_secs_f64() * 1000.0,
    })
}

/// A selection that does not fit the scenario is the user's to fix (exit
/// 2); anything else is the machine's (exit 3).
pub fn mesh_error(scenario: &Scenario, error: MeshError) -> Error {
    let text = format!("{}: {error}", scenario.file.display());
    match error {
        MeshError::Topology(_) => Error::Usage(text),
        _ => Error::Infra(text),
    }
}

/// For each failed trace-shape expectation, its pattern beside the first
/// differing trace.
fn comparisons(
    scenario: &Scenario,
    outcomes: &[Outcome],
    gathered: &Gathered,
) -> Vec<TreeComparison> {
    outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.passed)
        .filter_map(|(i, o)| {
            let OutcomeSource::Expectation {
                line,
                column,
                ref module,
            } = o.source
            else {
                return None;
            };
            let expectation = scenario.expectations.iter().find(|e| {
                e.origin.line == line
                    && e.origin.column == column
                    && e.origin.module.as_deref() == module.as_deref()
                    && e.name == o.name
            })?;
            // Other kinds of checks draw no trees.
            let Check::TraceShape { pattern, .. } = &expectation.check else {
                return None;
            };
            o.failures.iter().find_map(|f| {
                let trace = gathered.traces.get(f.trace_id.as_deref()?)?;
                TreeComparison::build(i, pattern, trace, f)
            })
        })
        .collect()
}

/// The trace `--show-trace` names, read from the backend; `Ok(None)` when
/// the collector does not have it.
pub async fn requested_trace(
    backend: &Backend,
    trace_id: &str,
) -> Result<Option<ShownTrace>, Error> {
    let client = backend.client().map_err(|e| Error::Infra(e.to_string()))?;
    let trace = client
        .trace(trace_id.trim())
        .await
        .map_err(|e| Error::Infra(format!("reading trace {trace_id} failed: {e}")))?;
    Ok(trace.map(|t| ShownTrace {
        reason: ShownReason::Requested,
        waterfall: Waterfall::of(&t),
    }))
}

type Driven = (Vec<TrafficRun>, Gathered, Vec<ComponentInfo>);

async fn drive(
    scenario: &Scenario,
    settings: &RunSettings,
    backend: &Backend,
    mesh: &mut RunningMesh,
    observer: Arc<dyn Observer>,
    stop: &CancellationToken,
) -> Result<Driven, Error> {
    let peers = mesh.peers().iter().map(|(name, authority)| ComponentInfo {
        name: name.clone(),
        role: scenario
            .component(name)
            .map(|c| format!("{} peer", c.role))
            .unwrap_or_else(|| "peer".into()),
        address: authority.clone(),
    });
    let targets = scenario.targets.iter().map(|t| ComponentInfo {
        name: t.name.clone(),
        role: "target".into(),
        address: settings
            .targets
            .get(&t.name)
            .unwrap_or(&t.authority)
            .clone(),
    });
    let components = mesh
        .endpoints()
        .iter()
        .map(ComponentInfo::from)
        .chain(peers)
        .chain(targets)
        .collect();

    let mut runs = Vec::new();
    for block in &scenario.traffic {
        if stop.is_cancelled() {
            break;
        }
        let authority = match scenario.target(&block.target) {
            Some(target) => settings
                .targets
                .get(&target.name)
                .unwrap_or(&target.authority)
                .clone(),
            None => mesh
                .authority_of(&block.target)
                .ok_or_else(|| Error::Infra(format!("{} is not running", block.target)))?
                .to_string(),
        };
        observer.traffic_started(&block.name, block.requests);
        let obs = Arc::clone(&observer);
        let on_done = Arc::new(move |r: &RequestRecord| obs.request_done(r));
        let run = traffic::run_until(block, &authority, on_done, stop, traffic::Retain::Records)
            .await
            .run;
        observer.traffic_finished(&block.name);
        runs.push(run);
    }

    observer.phase(&scenario.name, "flushing spans");
    mesh.flush().await;
    // Programs flush their own spans when they stop; stop them before
    // reading traces back, and give their spans time to land.
    let programs = mesh.has_processes();
    if programs {
        observer.phase(&scenario.name, "stopping programs");
        mesh.stop_processes()
            .await
            .map_err(|e| Error::Infra(format!("{}: {e}", scenario.file.display())))?;
    }

    observer.phase(&scenario.name, "reading traces back");
    // Requests an interrupt cut off left traces cut short: not judged.
    let request_ids: HashSet<String> = runs
        .iter()
        .flat_map(|r| r.records.iter().filter(|rec| !rec.interrupted))
        .map(|rec| rec.request_id.clone())
        .collect();
    let sampled_ids: HashSet<String> = runs
        .iter()
        .flat_map(|r| r.records.iter().filter(|rec| rec.sampled))
        .map(|rec| rec.request_id.clone())
        .collect();
    let client = backend.client().map_err(|e| Error::Infra(e.to_string()))?;
    let services = services_to_search(scenario, &client).await?;
    // Traces the traffic started for external targets: their systems'
    // spans are their own, on their own schedule.
    let started: HashMap<String, String> = runs
        .iter()
        .flat_map(|r| r.records.iter().filter(|rec| !rec.interrupted))
        .filter_map(|rec| Some((rec.sent.as_ref()?.trace_id.clone(), rec.request_id.clone())))
        .collect();
    let external = runs.iter().any(|r| scenario.target(&r.target).is_some());
    // A second of slack for clocks that disagree by a little.
    let start_us = runs
        .iter()
        .map(|r| {
            r.started
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros() as u64
        })
        .min()
        .unwrap_or_else(gather::now_us)
        .saturating_sub(1_000_000);
    let trace_ids: Vec<String> = runs
        .iter()
        .flat_map(|r| r.records.iter().filter(|rec| rec.sampled))
        .filter_map(|rec| rec.trace_id.clone())
        .collect();
    let mesh: &RunningMesh = mesh;
    // Programs' and targets' spans are their own: no exact count with them.
    let settled = move || {
        if programs || external {
            None
        } else {
            mesh.settled_spans()
        }
    };
    let wanted = Wanted {
        services: &services,
        request_ids: &request_ids,
        sampled_ids: &sampled_ids,
        start_us,
        max_limit: backend.max_search_depth(),
        settle_always: programs || external,
        trace_ids: &trace_ids,
        settled: &settled,
        started: &started,
    };
    let mut wait = settings.wait.clone();
    for target in &scenario.targets {
        wait.settle = wait.settle.max(target.settle);
    }
    if stop.is_cancelled() {
        wait.timeout = wait.timeout.min(INTERRUPTED_WAIT);
    }
    let mut gathered = if request_ids.is_empty() {
        Gathered {
            complete: true,
            ..Default::default()
        }
    } else {
        gather::gather(&client, &wanted, &wait)
            .await
            .map_err(|e| Error::Infra(format!("reading traces back failed: {e}")))?
    };
    assert::client_span::add(&mut gathered, &runs, scenario, &settings.targets);
    Ok((runs, gathered, components))
}

/// The services whose traces may hold the run's: every component, and
/// what each external target names (every service the query API lists
/// when one names none: its system's services are not known here).
async fn services_to_search(
    scenario: &Scenario,
    client: &crate::jaeger::JaegerClient,
) -> Result<Vec<String>, Error> {
    let mut services: Vec<String> = scenario.components.iter().map(|c| c.name.clone()).collect();
    for target in &scenario.targets {
        services.extend(target.services.iter().cloned());
    }
    if scenario.targets.iter().any(|t| t.services.is_empty()) {
        let listed = client
            .services()
            .await
            .map_err(|e| Error::Infra(format!("listing the collector's services failed: {e}")))?;
        services.extend(listed);
    }
    services.sort();
    services.dedup();
    Ok(services)
}
