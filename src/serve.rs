//! `tracelab serve`: some components of a scenario as long-running servers,
//! one machine's share of a topology spread over several, as the sandbox's
//! docker-compose spreads it over containers.
//!
//! Components not served here are peers, reached at `host:port`; spans go
//! to the OTLP endpoint given. It reads the scenario and starts the
//! [`crate::mesh`]; it never sends traffic or judges traces (`tracelab run`
//! with `--peer` does that). Shutdown is an argument: requests drain and
//! spans are flushed before [`Serving::run_until`] returns.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::mesh::telemetry::{DeliveryStats, ExportSettings, OtlpEndpoint};
use crate::mesh::{Endpoint, MeshOptions, RunningMesh};
use crate::run::mesh_error;
use crate::scenario::{self, Scenario};

/// How often a running server checks whether exports started failing.
const EXPORT_WATCH_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub file: PathBuf,
    /// Components to serve; every one that is not a peer when empty.
    pub only: Vec<String>,
    /// Components served elsewhere: name → `host:port`.
    pub peers: HashMap<String, String>,
    /// Listen ports that win over the scenario's: name → port (0 = free one).
    pub ports: HashMap<String, u16>,
    pub bind_ip: IpAddr,
    /// Where spans go: OTLP/HTTP's traces URL, or an OTLP/gRPC server.
    pub otlp: OtlpEndpoint,
    /// Off (`--no-tracing`): no spans, no context passed on, nothing
    /// exported (to measure what tracing costs).
    pub tracing: bool,
}

/// Components started and serving, until [`Serving::run_until`] stops them.
pub struct Serving {
    scenario: Scenario,
    mesh: RunningMesh,
    otlp: OtlpEndpoint,
    tracing: bool,
}

impl Serving {
    /// Load the scenario and bind every selected component (a taken port or
    /// a selection that does not fit fails here, before anything serves).
    pub async fn start(options: &ServeOptions) -> Result<Serving, Error> {
        let scenario = scenario::load(&options.file)?;
        let mut mesh_options = MeshOptions::new(ExportSettings::to(options.otlp.clone()));
        mesh_options.only = options.only.clone();
        mesh_options.peers = options.peers.clone();
        mesh_options.ports = options.ports.clone();
        mesh_options.bind_ip = options.bind_ip;
        mesh_options.ephemeral_ports = false;
        mesh_options.tracing = options.tracing;
        let mesh = RunningMesh::start(&scenario, &mesh_options)
            .await
            .map_err(|e| mesh_error(&scenario, e))?;
        if mesh.endpoints().is_empty() {
            mesh.stop().await;
            return Err(Error::Usage(format!(
                "{}: nothing to serve, every component is a --peer",
                scenario.file.display()
            )));
        }
        Ok(Serving {
            scenario,
            mesh,
            otlp: options.otlp.clone(),
            tracing: options.tracing,
        })
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        self.mesh.endpoints()
    }

    /// Serve until `shutdown` fires, telling `on_export_failure` whenever
    /// spans could not be exported since the last look; then drain, flush
    /// and return each component's delivery counts.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
        on_export_failure: impl Fn(String),
    ) -> Vec<(String, DeliveryStats)> {
        tokio::pin!(shutdown);
        let mut lost_before = 0;
        let mut ticker = tokio::time::interval(EXPORT_WATCH_INTERVAL);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticker.tick() => {
                    let total = sum(&self.mesh.delivery());
                    // Refused batches and spans a collector said it rejected.
                    let lost = total.failed + total.rejected;
                    if lost > lost_before {
                        on_export_failure(format!(
                            "{} spans could not be exported to {}{}",
                            lost - lost_before,
                            self.otlp,
                            total.last_error.map(|e| format!(": {e}")).unwrap_or_default()
                        ));
                        lost_before = lost;
                    }
                }
            }
        }
        self.mesh.stop().await
    }

    /// What is served where, for the terminal and the journal.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "serving {} ({})\n",
            self.scenario.name,
            self.scenario.file.display()
        );
        let width = self
            .mesh
            .endpoints()
            .iter()
            .map(|e| e.name.len())
            .chain(self.mesh.peers().iter().map(|(n, _)| n.len()))
            .max()
            .unwrap_or(0);
        for e in self.mesh.endpoints() {
            let _ = writeln!(
                out,
                "  {:width$}  {:7}  listening on {}",
                e.name, e.role, e.addr
            );
        }
        for (name, authority) in self.mesh.peers() {
            let _ = writeln!(out, "  {name:width$}  peer     at {authority}");
        }
        if self.tracing {
            let _ = writeln!(out, "  spans to {}", self.otlp);
        } else {
            out.push_str("  tracing off: no spans\n");
        }
        out.push_str("ready; SIGINT (Ctrl-C) or SIGTERM stops\n");
        out
    }
}

/// One line per component: how many spans it ended and whether they all
/// reached the collector.
pub fn describe_delivery(delivery: &[(String, DeliveryStats)]) -> String {
    let mut out = String::new();
    for (name, stats) in delivery {
        let verdict = if stats.undelivered() == 0 {
            "all delivered".to_string()
        } else {
            format!(
                "{} delivered, {} not{}",
                stats.delivered,
                stats.undelivered(),
                stats
                    .last_error
                    .as_ref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            )
        };
        let _ = writeln!(out, "stopped {name}: {} spans, {verdict}", stats.ended);
    }
    out
}

fn sum(delivery: &[(String, DeliveryStats)]) -> DeliveryStats {
    let mut total = DeliveryStats::default();
    for (_, stats) in delivery {
        total.add(stats);
    }
    total
}
