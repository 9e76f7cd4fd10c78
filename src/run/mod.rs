//! One scenario, start to verdict: backend → mesh → traffic → flush →
//! gather → assertions → report model. Whatever fails, the mesh and the
//! collector are stopped (spans flushed) before the error is returned.
//!
//! Traces are judged as they complete while the traffic runs (`streaming`)
//! wherever the mesh can vouch for each trace's spans, and otherwise all
//! at once after the traffic (`at_end`); both feed one judge (`tally`).
//!
//! A run told to stop (Ctrl-C: [`run_scenario_until`]) sends no more
//! requests, gives those in flight [`traffic::STOP_GRACE`] to finish (then
//! cuts them off: their traces are not read back nor judged), flushes,
//! gathers what arrived (waiting less) and reports it, marked interrupted.
//!
//! The report model gets everything its renderers draw (the waterfall of
//! the slowest trace, expected-beside-actual trees of failed shapes) here,
//! so renderers never query a collector.

mod at_end;
mod streaming;
mod tally;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use self::tally::Tally;
use crate::assert::gather::WaitSettings;
use crate::assert::judge::Judge;
use crate::assert::{self, Outcome, OutcomeSource, Shown};
use crate::backend::{Backend, BackendChoice};
use crate::error::Error;
use crate::jaeger::model::Trace;
use crate::mesh::telemetry::{DeliveryStats, ExportSettings, OtlpProtocol};
use crate::mesh::{MeshError, MeshOptions, RunningMesh};
use crate::report::compare::TreeComparison;
use crate::report::model::{
    CollectorInfo, ComponentInfo, ScenarioReport, ShownReason, ShownTrace, TraceStats,
    TrafficReport,
};
use crate::report::waterfall::Waterfall;
use crate::scenario::Scenario;
use crate::scenario::model::Check;
use crate::traffic::{self, RequestRecord};

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
    /// Gather every trace once the traffic is done, even where the run
    /// could judge each trace as it completes (`--judge-at-end`).
    pub judge_at_end: bool,
    /// Stop the traffic at the first check that has failed for good
    /// (`--fail-fast`; only where traces are judged as they complete).
    pub fail_fast: bool,
    /// How many failures each check lists (`--failures`).
    pub shown: Shown,
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
            judge_at_end: false,
            fail_fast: false,
            shown: Shown::default(),
        }
    }
}

/// The traffic's `on_sent`, telling `observer`.
fn sent_to(observer: &Arc<dyn Observer>) -> Arc<dyn Fn() + Send + Sync> {
    let observer = Arc::clone(observer);
    Arc::new(move || observer.request_sent())
}

/// Progress events, for a progress bar; the run itself never prints.
pub trait Observer: Send + Sync {
    fn phase(&self, _scenario: &str, _text: &str) {}
    fn traffic_started(&self, _block: &str, _requests: u64) {}
    /// A request left (before its answer).
    fn request_sent(&self) {}
    fn request_done(&self, _record: &RequestRecord) {}
    fn traffic_finished(&self, _block: &str) {}
    /// A trace of `block` was judged (each once; `tracelab record` reads
    /// their shapes here).
    fn trace_judged(&self, _block: &str, _trace: &crate::jaeger::model::Trace) {}
    /// Traces judged so far, and checks already failed for good.
    fn judged(&self, _traces: u64, _failed: usize) {}
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

    let components = components(scenario, settings, &mesh);
    let mut tally = Tally::new(Judge::new(scenario, settings.shown), Arc::clone(&observer));
    let streaming = streaming::streams(scenario, settings, &mesh);
    let result = if streaming {
        streaming::drive(
            scenario,
            settings,
            backend,
            &mesh,
            &mut tally,
            Arc::clone(&observer),
            stop,
        )
        .await
    } else {
        at_end::drive(
            scenario,
            settings,
            backend,
            &mut mesh,
            &mut tally,
            Arc::clone(&observer),
            stop,
        )
        .await
    };
    let delivery = mesh.stop().await;
    let evicted = backend.evicted_traces() - evicted_before;
    let info = CollectorInfo {
        kind: backend.kind().to_string(),
        query_url: backend.query_url(),
        otlp_traces_url: export.url.clone(),
        otlp_protocol: export.protocol,
    };
    let (finished, gathering) = result?;
    let interrupted = stop.is_cancelled();
    let planned: u64 = scenario.traffic.iter().map(|t| t.requests).sum();
    let sent: u64 = finished.iter().map(|f| f.summary.requests).sum();
    let count_of = |status: &str| -> u64 {
        finished
            .iter()
            .filter_map(|f| f.summary.statuses.get(status))
            .sum()
    };
    let failed_fast = !interrupted && tally.failed() > 0 && settings.fail_fast && sent < planned;
    let Tally {
        judge,
        spans,
        slowest,
        trace_ids,
        traces: trace_count,
        span_count,
        ..
    } = tally;
    let verdict = judge.finish();
    let mut outcomes = verdict.outcomes;
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
    for run in finished.iter().map(|f| &f.run) {
        if total.undelivered() > 0 {
            outcomes.push(assert::integrity::delivered_to_the_collector(
                &run.name,
                total.undelivered(),
                total.ended,
            ));
        }
        if evicted > 0 && !gathering.exact {
            outcomes.push(assert::integrity::kept_by_the_collector(
                &run.name,
                evicted,
                backend.max_search_depth(),
            ));
        }
    }
    // An open model that fell behind its schedule sent another traffic
    // than the script's (unless the run was cut short on purpose).
    if !interrupted && !failed_fast {
        for f in &finished {
            let slipped = scenario
                .traffic
                .iter()
                .find(|t| t.name == f.run.name)
                .zip(f.summary.schedule.as_ref())
                .and_then(|(block, schedule)| {
                    assert::integrity::kept_its_schedule(block, schedule)
                });
            outcomes.extend(slipped);
        }
    }
    // Streaming reads each request's trace by the id the edge gave; traces
    // the mesh began that no request claimed mean propagation broke
    // somewhere (unless some request never said its trace: no response).
    let all_answered = count_of("no response") == 0 && count_of("interrupted") == 0;
    if gathering.untaken > 0
        && all_answered
        && let Some(run) = finished
            .iter()
            .map(|f| &f.run)
            .find(|r| assert::integrity_checks(scenario, &r.name).propagation)
    {
        outcomes.push(assert::integrity::unclaimed_traces(
            &run.name,
            gathering.untaken,
        ));
    }
    let mut warnings = Vec::new();
    if interrupted || failed_fast {
        let cut = count_of("interrupted");
        let why = if failed_fast {
            "stopped at the first failed check (--fail-fast)"
        } else {
            "interrupted"
        };
        // Blocks that never began have no checks in the report: say so,
        // rather than let their absence read as nothing to report.
        let never: Vec<&str> = scenario
            .traffic
            .iter()
            .filter(|t| !finished.iter().any(|f| f.run.name == t.name))
            .map(|t| t.name.as_str())
            .collect();
        let why = match never.as_slice() {
            [] => why.to_string(),
            names => format!(
                "{why}; traffic {} never began and its checks were not judged",
                names.join(", ")
            ),
        };
        warnings.push(match cut {
            0 => format!(
                "{why}: {sent} of {planned} requests sent; the checks judged what arrived from them"
            ),
            n => format!(
                "{why}: {sent} of {planned} requests sent, {n} of them cut off in flight after {} s \
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
    if gathering.incomplete > 0 {
        warnings.push(format!(
            "{} traces were judged before all their spans reached the collector: {:.0} s after \
             their request was answered, spans of them were still queued in the mesh's exporters \
             or the collector (the mesh or the collector could not keep up with the traffic's \
             rate: lower it, or raise --wait-timeout); their checks judged what had arrived",
            gathering.incomplete,
            settings.wait.timeout.as_secs_f64()
        ));
    } else if !gathering.complete {
        warnings.push(format!(
            "traces may be incomplete: the span count was still changing or requests lacked traces after {:.1} s",
            gathering.waited.as_secs_f64()
        ));
    }
    let passed = !interrupted && outcomes.iter().all(|o| o.passed);
    let shown_trace = match settings.show_trace {
        Some(_) => None,
        None => slowest.as_ref().map(|t| ShownTrace {
            reason: ShownReason::Slowest,
            waterfall: Waterfall::of(t),
        }),
    };
    let comparisons = comparisons(scenario, &outcomes, &verdict.kept);
    let mut trace_ids = trace_ids;
    Ok(ScenarioReport {
        name: scenario.name.clone(),
        file: scenario.file.display().to_string(),
        collector: info,
        components,
        traffic: finished
            .iter()
            .map(|f| TrafficReport {
                name: f.run.name.clone(),
                target: f.run.target.clone(),
                summary: f.summary.clone(),
                trace_ids: trace_ids.remove(&f.run.name).unwrap_or_default(),
            })
            .collect(),
        traces: TraceStats {
            traces: trace_count,
            spans: span_count as usize,
            complete: gathering.complete,
            evicted,
            waited_ms: gathering.waited.as_secs_f64() * 1000.0,
            polls: gathering.polls,
            incomplete: gathering.incomplete,
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

/// How the run's traces were read back.
pub(crate) struct Gathering {
    /// Every request's traces were whole when judged (else the wait ran out).
    pub complete: bool,
    /// The traces judged held exactly the spans delivered.
    pub exact: bool,
    /// From the end of the traffic to the last trace read.
    pub waited: Duration,
    pub polls: u32,
    /// Streaming: traces the mesh began that no request claimed.
    pub untaken: usize,
    /// Streaming: traces judged before they were whole (their wait ran out).
    pub incomplete: u64,
}

/// Where a block's requests go: its target's URL (or `--target`'s), or
/// the component's listen address.
fn authority_of(
    scenario: &Scenario,
    settings: &RunSettings,
    mesh: &RunningMesh,
    target: &str,
) -> Result<String, Error> {
    Ok(match scenario.target(target) {
        Some(target) => settings
            .targets
            .get(&target.name)
            .unwrap_or(&target.authority)
            .clone(),
        None => mesh
            .authority_of(target)
            .ok_or_else(|| Error::Infra(format!("{target} is not running")))?
            .to_string(),
    })
}

/// What the report lists as the run's components.
fn components(
    scenario: &Scenario,
    settings: &RunSettings,
    mesh: &RunningMesh,
) -> Vec<ComponentInfo> {
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
    mesh.endpoints()
        .iter()
        .map(ComponentInfo::from)
        .chain(peers)
        .chain(targets)
        .collect()
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
    kept: &HashMap<String, Trace>,
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
                let trace = kept.get(f.trace_id.as_deref()?)?;
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
