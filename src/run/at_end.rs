//! Judging once the traffic is done: every request's traces are gathered
//! (searched by request id across services, polled until complete), then
//! fed to the judge. For runs whose traces the mesh cannot vouch for trace
//! by trace: programs, peers, external targets, propagation that starts new
//! traces on purpose. These are lab-sized runs; soaks stream (`streaming`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use tokio_util::sync::CancellationToken;

use super::tally::Tally;
use super::{Gathering, INTERRUPTED_WAIT, Observer, RunSettings, sent_to};
use crate::assert::gather::{self, Gathered, Wanted};
use crate::assert::{self, for_each_unit};
use crate::backend::Backend;
use crate::error::Error;
use crate::mesh::RunningMesh;
use crate::scenario::Scenario;
use crate::traffic::{self, Finished, RequestRecord, RunOptions, TrafficRun};

pub async fn drive(
    scenario: &Scenario,
    settings: &RunSettings,
    backend: &Backend,
    mesh: &mut RunningMesh,
    tally: &mut Tally<'_>,
    observer: Arc<dyn Observer>,
    stop: &CancellationToken,
) -> Result<(Vec<Finished>, Gathering), Error> {
    let mut finished = Vec::new();
    for block in &scenario.traffic {
        if stop.is_cancelled() {
            break;
        }
        let authority = super::authority_of(scenario, settings, mesh, &block.target)?;
        observer.traffic_started(&block.name, block.requests);
        let obs = Arc::clone(&observer);
        let on_done = Arc::new(move |r: &RequestRecord| obs.request_done(r));
        let options = RunOptions {
            on_sent: Some(sent_to(&observer)),
            ..RunOptions::default()
        };
        let run = traffic::run_until(block, &authority, on_done, stop, options).await;
        observer.traffic_finished(&block.name);
        finished.push(run);
    }
    let runs: Vec<TrafficRun> = finished.iter().map(|f| f.run.clone()).collect();

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
    let services = super::services_to_search(scenario, &client).await?;
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
        // Peers export on their own schedule too: every trace may still
        // grow after it first appears.
        settle_always: programs || external || !mesh.peers().is_empty(),
        trace_ids: &trace_ids,
        settled: &settled,
        started: &started,
    };
    let mut wait = settings.wait.clone();
    for target in &scenario.targets {
        wait.settle = wait.settle.max(target.settle);
    }
    // A wait shorter than the settle could never see a trace settle: the
    // script's settle says how late a target's spans may come.
    wait.timeout = wait.timeout.max(wait.settle + wait.poll_interval);
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
    for run in &runs {
        tally.begin(&run.name);
        for_each_unit(run, &gathered, |unit| tally.add(&run.name, unit));
    }
    let gathering = Gathering {
        complete: gathered.complete,
        exact: gathered.exact,
        waited: gathered.waited,
        polls: gathered.polls,
        untaken: 0,
        incomplete: 0,
    };
    Ok((finished, gathering))
}
