//! The closed model: `concurrency` workers, each with its own keep-alive
//! connection, sending its next request when its last one answered.
//!
//! The workers run on generator threads of their own (one per core, at
//! most one per worker), each a current-thread tokio runtime with its
//! share of the workers, as oha runs its fixed-count mode: a worker and
//! its connection stay on one thread (no work stealing, no wake-ups
//! handed across threads), and a scenario's load stays off the queues of
//! the runtime that serves its mesh, as a load generator in a process of
//! its own would. Each thread counts its workers' requests into its own
//! summary, merged when they are done.

use std::ops::Range;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::stats::SummaryBuilder;
use super::{RequestRecord, Shared};
use crate::http_client::Connection;

/// Send `requests` with `concurrency` workers; kept records come back
/// worker after worker (each's in the order it sent them), and the
/// requests are counted into `shared.summary`.
pub(super) async fn run(
    shared: Arc<Shared>,
    requests: u64,
    concurrency: usize,
    stop: &CancellationToken,
) -> Vec<RequestRecord> {
    let next = Arc::new(AtomicU64::new(0));
    let workers = concurrency.min(requests as usize).max(1);
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(workers);
    let started: Vec<_> = (0..threads)
        .map(|t| {
            start(
                t,
                Share {
                    shared: Arc::clone(&shared),
                    next: Arc::clone(&next),
                    requests,
                    stop: stop.clone(),
                    workers: t * workers / threads..(t + 1) * workers / threads,
                },
            )
        })
        .collect();
    let mut parts = Vec::with_capacity(workers);
    for share in started {
        if let Ok(done) = share.await {
            parts.extend(done.records);
            shared
                .summary
                .lock()
                .expect("no panic while counting")
                .merge(done.summary);
        }
    }
    parts.sort_unstable_by_key(|(worker, _)| *worker);
    let mut records = Vec::with_capacity(if shared.keep { requests as usize } else { 0 });
    for (_, mut part) in parts {
        records.append(&mut part);
    }
    records
}

/// One generator thread's workers.
#[derive(Clone)]
struct Share {
    shared: Arc<Shared>,
    /// The index of the next request, across all threads.
    next: Arc<AtomicU64>,
    requests: u64,
    stop: CancellationToken,
    /// Their indices among all workers.
    workers: Range<usize>,
}

/// What a thread's workers sent.
struct Done {
    /// Each worker's kept records, with its index.
    records: Vec<(usize, Vec<RequestRecord>)>,
    summary: SummaryBuilder,
}

/// Run `share` on a thread of its own; on the caller's runtime if no
/// thread or runtime can be had (the process is out of them).
fn start(index: usize, share: Share) -> oneshot::Receiver<Done> {
    let (tx, rx) = oneshot::channel();
    let caller = tokio::runtime::Handle::current();
    let on_thread = {
        let (share, caller) = (share.clone(), caller.clone());
        move || match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                let _ = tx.send(runtime.block_on(share.run()));
            }
            Err(_) => on_runtime(&caller, share, tx),
        }
    };
    let spawned = std::thread::Builder::new()
        .name(format!("tracelab-gen-{index}"))
        .spawn(on_thread);
    if spawned.is_ok() {
        return rx;
    }
    // The thread never ran, and took its sender along: a new channel.
    let (tx, rx) = oneshot::channel();
    on_runtime(&caller, share, tx);
    rx
}

/// `share`'s workers as tasks of `runtime`, their results sent to `tx`.
fn on_runtime(runtime: &tokio::runtime::Handle, share: Share, tx: oneshot::Sender<Done>) {
    runtime.spawn(async move {
        let _ = tx.send(share.run().await);
    });
}

impl Share {
    /// Its workers, each a task of the current runtime, until no request
    /// is left or the run is stopped.
    async fn run(self) -> Done {
        // Locked by one thread's tasks only: never contended.
        let summary = Arc::new(Mutex::new(SummaryBuilder::default()));
        let tasks: Vec<_> = self
            .workers
            .clone()
            .map(|worker| {
                let Share {
                    shared,
                    next,
                    requests,
                    stop,
                    ..
                } = self.clone();
                let summary = Arc::clone(&summary);
                tokio::spawn(async move {
                    let mut connection = Connection::new(&shared.authority);
                    // Its own children: waiting on or checking them locks
                    // no mutex every worker shares.
                    let cut = shared.cut.child_token();
                    let mut cut = pin!(cut.cancelled());
                    let stop = stop.child_token();
                    let mut records = Vec::new();
                    while !stop.is_cancelled() && next.fetch_add(1, Ordering::Relaxed) < requests {
                        if let Some(admission) = &shared.admission {
                            tokio::select! {
                                biased;
                                () = stop.cancelled() => break,
                                () = admission.enter() => {}
                            }
                        }
                        let record = shared.send_one(Some(&mut connection), cut.as_mut()).await;
                        summary
                            .lock()
                            .expect("no panic while counting")
                            .add(&record);
                        if shared.keep {
                            records.push(record);
                        }
                    }
                    (worker, records)
                })
            })
            .collect();
        let mut records = Vec::with_capacity(tasks.len());
        for task in tasks {
            if let Ok(part) = task.await {
                records.push(part);
            }
        }
        let summary = std::mem::take(&mut *summary.lock().expect("no panic while counting"));
        Done { records, summary }
    }
}
