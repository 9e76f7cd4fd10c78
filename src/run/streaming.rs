//! Judging while the traffic runs: each request's trace is read back and
//! judged as soon as the mesh's span ledger says the collector holds all
//! of it, then dropped. Memory follows the traces in flight, not the run's
//! length, and the verdict is ready moments after the last answer.
//!
//! The judge is the one the end-of-run path feeds, so the same traces get
//! the same verdict either way; what only the end-of-run search can see
//! (traces a request started that do not carry the edge's trace id) shows
//! here as traces the ledger saw begin and no request claimed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::tally::Tally;
use super::{Gathering, INTERRUPTED_WAIT, Observer, RunSettings};
use crate::assert::Unit;
use crate::assert::stream::{Producer, Ready, Streamer};
use crate::backend::Backend;
use crate::error::Error;
use crate::jaeger::model::Trace;
use crate::mesh::RunningMesh;
use crate::mesh::ledger::TraceState;
use crate::scenario::Scenario;
use crate::scenario::model::{Check, HeaderFormat, Propagation};
use crate::traffic::{self, Admission, Finished, RequestRecord, Retain, RunOptions};

/// How often pending traces are looked at.
const TICK: Duration = Duration::from_millis(20);

/// Requests sent and not yet judged, at most: past that the traffic waits
/// for the judge (its schedule slips, and the run fails saying so), so a
/// rate the mesh's exporters or the collector cannot keep up with holds a
/// bounded backlog, not one that grows for as long as the run lasts.
pub const JUDGE_BACKLOG: usize = 10_000;

/// Can this run judge trace by trace? Only when every span comes from the
/// mesh in this process (its ledger counts them all) and no request is
/// meant to split into several traces.
pub fn streams(scenario: &Scenario, settings: &RunSettings, mesh: &RunningMesh) -> bool {
    !settings.judge_at_end
        && !mesh.has_processes()
        && mesh.peers().is_empty()
        && scenario.targets.is_empty()
        && shares_a_format(scenario)
        && !scenario
            .expectations
            .iter()
            .any(|e| matches!(e.check, Check::BrokenPropagation { .. }))
}

/// Every component reads a format every other writes: no call can lose
/// the context and start a trace the edge's id does not name.
fn shares_a_format(scenario: &Scenario) -> bool {
    let mut common: Option<Vec<HeaderFormat>> = None;
    for c in &scenario.components {
        let Propagation::Formats(formats) = &c.propagation else {
            return false;
        };
        common = Some(match common {
            None => formats.clone(),
            Some(seen) => seen.into_iter().filter(|f| formats.contains(f)).collect(),
        });
    }
    common.is_none_or(|c| !c.is_empty())
}

enum Message {
    Begin(usize),
    Done(usize, RequestRecord),
}

pub async fn drive(
    scenario: &Scenario,
    settings: &RunSettings,
    backend: &Backend,
    mesh: &RunningMesh,
    tally: &mut Tally<'_>,
    observer: Arc<dyn Observer>,
    stop: &CancellationToken,
) -> Result<(Vec<Finished>, Gathering), Error> {
    // The mesh counts each trace's spans from now on: a trace is read once
    // the ledger says the collector holds all of it (untracked, every
    // trace would read as settled at once).
    mesh.track_traces();
    let client = backend.client().map_err(|e| Error::Infra(e.to_string()))?;
    // `--fail-fast` cuts the traffic through its own token, so the run is
    // not mistaken for one the user interrupted.
    let traffic_stop = stop.child_token();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    // Every request holds a place from before it is sent until it is
    // judged; the channel and the pending traces hold no more than that.
    let admission = Admission::new(JUDGE_BACKLOG);

    let traffic = async {
        let mut runs = Vec::new();
        for (index, block) in scenario.traffic.iter().enumerate() {
            if traffic_stop.is_cancelled() {
                break;
            }
            let authority = super::authority_of(scenario, settings, mesh, &block.target)?;
            let _ = tx.send(Message::Begin(index));
            observer.traffic_started(&block.name, block.requests);
            let obs = Arc::clone(&observer);
            let sender = tx.clone();
            let on_done = Arc::new(move |r: &RequestRecord| {
                obs.request_done(r);
                let _ = sender.send(Message::Done(index, r.clone()));
            });
            // Each request goes to the judge: the run keeps only its summary.
            let run = traffic::run_until(
                block,
                &authority,
                on_done,
                &traffic_stop,
                RunOptions {
                    retain: Retain::Summary,
                    admission: Some(admission.clone()),
                    on_sent: Some(super::sent_to(&observer)),
                },
            )
            .await;
            observer.traffic_finished(&block.name);
            runs.push(run);
        }
        observer.phase(&scenario.name, "judging the last traces");
        mesh.flush().await;
        drop(tx);
        Ok::<_, Error>(runs)
    };

    let ledger = MeshLedger(mesh);
    let judging = async {
        let mut streamer = Streamer::new(&client, &ledger, settings.wait.timeout);
        let mut sink = Sink {
            scenario,
            tally: &mut *tally,
            fail_fast: settings.fail_fast,
            traffic_stop: &traffic_stop,
            admission: &admission,
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Message::Begin(block)) => sink.tally.begin(&scenario.traffic[block].name),
                    Some(Message::Done(block, record)) => {
                        streamer.push(block, record, &mut |b, r, t| sink.deliver(b, r, t));
                    }
                    None => break,
                },
                _ = tick.tick() => streamer
                    .poll(&mut |b, r, t| sink.deliver(b, r, t))
                    .await
                    .map_err(read_failed)?,
            }
        }
        // The traffic is done and every span flushed: what is pending now
        // only waits for the collector to store it.
        let drained = Instant::now();
        if stop.is_cancelled() {
            streamer.timeout = streamer.timeout.min(INTERRUPTED_WAIT);
        }
        while streamer.pending() > 0 {
            streamer
                .poll(&mut |b, r, t| sink.deliver(b, r, t))
                .await
                .map_err(read_failed)?;
            if streamer.pending() > 0 {
                tokio::time::sleep(TICK).await;
            }
        }
        Ok::<_, Error>((streamer.stats, drained.elapsed()))
    };
    // The collector gone mid-run ends the judging with an error: stop the
    // traffic too, rather than send the rest of a soak to nothing.
    let judging = async {
        let judged = judging.await;
        if judged.is_err() {
            traffic_stop.cancel();
        }
        judged
    };
    let (runs, judged) = tokio::join!(traffic, judging);
    let (stats, waited) = judged?;
    let runs = runs?;
    Ok((
        runs,
        Gathering {
            complete: stats.incomplete == 0,
            exact: stats.incomplete == 0,
            waited,
            polls: stats.polls as u32,
            untaken: mesh.untaken_traces(),
            incomplete: stats.incomplete,
        },
    ))
}

/// The mesh's span ledger says when each trace is whole.
struct MeshLedger<'a>(&'a RunningMesh);

impl Producer for MeshLedger<'_> {
    fn ready(&self, trace_id: &str) -> Ready {
        match self.0.take_trace(trace_id) {
            TraceState::InFlight => Ready::NotYet,
            TraceState::Delivered(n) => Ready::Spans(n),
            TraceState::Lost { .. } | TraceState::Unknown => Ready::Settled,
        }
    }

    fn gave_up(&self, trace_id: &str) {
        self.0.forget_trace(trace_id);
    }
}

/// Where read traces go: the judge, and `--fail-fast`'s watch on it.
struct Sink<'a, 's> {
    scenario: &'a Scenario,
    tally: &'a mut Tally<'s>,
    fail_fast: bool,
    traffic_stop: &'a CancellationToken,
    admission: &'a Admission,
}

impl Sink<'_, '_> {
    fn deliver(&mut self, block: usize, record: &RequestRecord, trace: Option<Trace>) {
        self.admission.release();
        let traces: Vec<&Trace> = trace.iter().collect();
        self.tally.add(
            &self.scenario.traffic[block].name,
            &Unit {
                record,
                traces: &traces,
                new: &traces,
            },
        );
        if self.fail_fast && self.tally.failed() > 0 {
            self.traffic_stop.cancel();
        }
    }
}

fn read_failed(e: crate::jaeger::client::ClientError) -> Error {
    Error::Infra(format!("reading traces back failed: {e}"))
}
