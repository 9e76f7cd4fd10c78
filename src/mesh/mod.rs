//! The running mesh: every component of a scenario as a real HTTP/1.1
//! server on tokio + hyper, each with its own OpenTelemetry tracer.
//!
//! It reads the scenario model, exports spans to the collector over OTLP,
//! and answers the traffic generator. Layout: `component` (the handler),
//! `proxy` and `service` (the two roles), `process` (external programs),
//! `envoy` (span names and tags; the trace headers are
//! [`crate::propagation`]), `seeded` (fault dice and trace ids from the
//! scenario's seed), `telemetry` (a tracer provider per component),
//! `otlp_exporter` and `otlp_encode` (OTLP/HTTP export, spans encoded
//! straight from the SDK's), `partial_success` (what the SDK's exporter is
//! told of rejected spans), `ledger` (which traces the collector holds
//! whole), `upstream` (the HTTP client for the next hop, retries).

pub mod component;
pub mod envoy;
pub mod ledger;
pub mod otlp_encode;
pub mod otlp_exporter;
pub mod partial_success;
pub mod process;
pub mod proxy;
pub mod seeded;
pub mod service;
pub mod telemetry;
pub mod upstream;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::component::{ComponentRuntime, Directory};
use self::process::{ProcessError, RunningProcess};
use self::seeded::{FaultDice, SeededIdGenerator};
use self::telemetry::{DeliveryStats, ExportCounters, ExportSettings, TelemetryError};
use self::upstream::Upstream;
use crate::scenario::model::{Action, Component, Role, Scenario};

#[derive(Debug, Clone)]
pub struct MeshOptions {
    pub export: ExportSettings,
    pub bind_ip: IpAddr,
    /// Start only these components (`tracelab serve --only`); all when empty.
    pub only: Vec<String>,
    /// Components running elsewhere (`--peer`): never started here; calls
    /// to them go to `host:port`.
    pub peers: HashMap<String, String>,
    /// Listen ports that win over the script's and over `ephemeral_ports`.
    pub ports: HashMap<String, u16>,
    /// Ignore fixed ports from the script and pick free ones.
    pub ephemeral_ports: bool,
    /// Off: components create and export no spans and pass no trace
    /// context on (`tracelab up --no-tracing`, to measure what tracing costs).
    pub tracing: bool,
}

impl MeshOptions {
    pub fn new(export: ExportSettings) -> Self {
        MeshOptions {
            export,
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            only: Vec::new(),
            peers: HashMap::new(),
            ports: HashMap::new(),
            ephemeral_ports: true,
            tracing: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("{component} cannot listen on {addr}: {reason}")]
    Bind {
        component: String,
        addr: SocketAddr,
        reason: String,
    },
    #[error(transparent)]
    Telemetry(#[from] TelemetryError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// `--only`, `--peer` or `--port` do not fit the scenario (a usage error).
    #[error("{0}")]
    Topology(String),
}

/// A component as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub role: Role,
    pub addr: SocketAddr,
}

struct Telemetry {
    name: String,
    provider: SdkTracerProvider,
    counters: Arc<ExportCounters>,
}

pub struct RunningMesh {
    endpoints: Vec<Endpoint>,
    /// Components running elsewhere: name → `host:port`, sorted by name.
    peers: Vec<(String, String)>,
    directory: Arc<Directory>,
    telemetry: Vec<Telemetry>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    processes: Vec<RunningProcess>,
    ledger: Arc<ledger::SpanLedger>,
}

impl RunningMesh {
    /// Bind every component first (so a taken port fails before anything
    /// runs), then serve them all.
    pub async fn start(
        scenario: &Scenario,
        options: &MeshOptions,
    ) -> Result<RunningMesh, MeshError> {
        let selected = select(scenario, options)?;

        let mut listeners = Vec::new();
        for component in &selected {
            let port = match options.ports.get(&component.name) {
                Some(&port) => port,
                None if options.ephemeral_ports => 0,
                None => component.port.unwrap_or(0),
            };
            let addr = SocketAddr::new(options.bind_ip, port);
            let listener = TcpListener::bind(addr).await.map_err(|e| MeshError::Bind {
                component: component.name.clone(),
                addr,
                reason: bind_reason(&e, port),
            })?;
            listeners.push(listener);
        }

        let mut directory: Directory = options.peers.clone();
        let mut endpoints = Vec::new();
        for (component, listener) in selected.iter().zip(&listeners) {
            let addr = listener.local_addr().map_err(|e| MeshError::Bind {
                component: component.name.clone(),
                addr: SocketAddr::new(options.bind_ip, 0),
                reason: e.to_string(),
            })?;
            let reachable = if addr.ip().is_unspecified() {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
            } else {
                addr
            };
            directory.insert(component.name.clone(), reachable.to_string());
            endpoints.push(Endpoint {
                name: component.name.clone(),
                role: component.role,
                addr,
            });
        }
        let directory = Arc::new(directory);

        let stop = CancellationToken::new();
        let upstream = Upstream::default();
        let ledger = Arc::new(ledger::SpanLedger::default());
        let mut telemetry = Vec::new();
        let mut tasks = Vec::new();
        let mut programs = Vec::new();
        for ((component, listener), endpoint) in selected.into_iter().zip(listeners).zip(&endpoints)
        {
            if component.role == Role::Process {
                programs.push((component, listener));
                continue;
            }
            let counters = Arc::new(ExportCounters {
                ledger: Arc::clone(&ledger),
                ..ExportCounters::default()
            });
            let provider = if options.tracing {
                Some(telemetry::provider(
                    &component.name,
                    &options.export,
                    component.sampling,
                    SeededIdGenerator::new(scenario.seed, &component.name),
                    Arc::clone(&counters),
                )?)
            } else {
                None
            };
            let runtime = Arc::new(ComponentRuntime {
                node_id: Arc::<str>::from(component.name.as_str()).into(),
                spec: component.clone(),
                tracer: provider.as_ref().map(|p| p.tracer("tracelab")),
                counters: Arc::clone(&counters),
                directory: Arc::clone(&directory),
                upstream: upstream.clone(),
                local_addr: endpoint.addr,
                dice: FaultDice::new(scenario.seed, &component.name, component.routes.len()),
            });
            let token = stop.clone();
            tasks.push(tokio::spawn(async move {
                crate::server::serve(listener, runtime, token.cancelled_owned()).await;
            }));
            if let Some(provider) = provider {
                telemetry.push(Telemetry {
                    name: component.name.clone(),
                    provider,
                    counters,
                });
            }
        }
        let mut peers: Vec<_> = options
            .peers
            .iter()
            .map(|(name, authority)| (name.clone(), authority.clone()))
            .collect();
        peers.sort();
        let mut mesh = RunningMesh {
            endpoints,
            peers,
            directory,
            telemetry,
            stop,
            tasks,
            processes: Vec::new(),
            ledger,
        };
        // Programs start last: whatever they call is already serving.
        if let Err(e) = mesh.start_programs(programs, options).await {
            mesh.stop().await;
            return Err(e);
        }
        Ok(mesh)
    }

    /// Start each program on the port reserved for it, then wait until
    /// every one listens.
    async fn start_programs(
        &mut self,
        programs: Vec<(&Component, TcpListener)>,
        options: &MeshOptions,
    ) -> Result<(), MeshError> {
        let mut peers: Vec<(String, String)> = self
            .directory
            .iter()
            .map(|(name, authority)| (name.clone(), authority.clone()))
            .collect();
        peers.sort();
        let mut timeouts = Vec::new();
        for (component, listener) in programs {
            let program = component
                .program
                .as_ref()
                .expect("a process component has a program");
            let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
            // Free the reserved port just before the program binds it.
            drop(listener);
            let env = process::environment(
                &component.name,
                port,
                &component.propagation,
                component.sampling,
                &options.export,
                &peers,
                &program.env,
            );
            self.processes
                .push(RunningProcess::spawn(&component.name, program, port, &env)?);
            timeouts.push(program.ready_timeout);
        }
        for (process, timeout) in self.processes.iter_mut().zip(timeouts) {
            process.wait_ready(timeout).await?;
        }
        Ok(())
    }

    /// Stop the external programs (they flush their spans on SIGTERM);
    /// an error if one exited on its own during the run.
    pub async fn stop_processes(&mut self) -> Result<(), MeshError> {
        let mut first_error = None;
        for process in self.processes.drain(..) {
            if let Err(e) = process.stop().await {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Whether the mesh runs external programs (their spans arrive on
    /// their own schedule).
    pub fn has_processes(&self) -> bool {
        !self.processes.is_empty()
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Components running elsewhere, by name, with their `host:port`.
    pub fn peers(&self) -> &[(String, String)] {
        &self.peers
    }

    /// `host:port` of a component, started here or a peer.
    pub fn authority_of(&self, name: &str) -> Option<&str> {
        self.directory.get(name).map(String::as_str)
    }

    /// Export every span ended so far; returns delivery counts per component.
    pub async fn flush(&self) -> Vec<(String, DeliveryStats)> {
        let mut waits = Vec::new();
        for t in &self.telemetry {
            let provider = t.provider.clone();
            // force_flush blocks its thread until the batch is exported.
            waits.push(tokio::task::spawn_blocking(move || provider.force_flush()));
        }
        for wait in waits {
            let _ = wait.await;
        }
        self.delivery()
    }

    /// Count spans by trace from now on, for [`RunningMesh::take_trace`]
    /// (until then nothing is counted: nothing would take the entries).
    pub fn track_traces(&self) {
        self.ledger.track();
    }

    /// What the mesh knows of one trace's spans (hex trace id): whether the
    /// collector holds all of them yet. A settled trace leaves the ledger.
    pub fn take_trace(&self, trace_id: &str) -> ledger::TraceState {
        match u128::from_str_radix(trace_id, 16) {
            Ok(id) => self.ledger.take(id),
            Err(_) => ledger::TraceState::Unknown,
        }
    }

    /// The run judged this trace as it was (its wait ran out): late spans
    /// of it are not a trace of their own.
    pub fn forget_trace(&self, trace_id: &str) {
        if let Ok(id) = u128::from_str_radix(trace_id, 16) {
            self.ledger.forget(id);
        }
    }

    /// Traces the mesh began that no request claimed (see
    /// [`ledger::SpanLedger::untaken`]).
    pub fn untaken_traces(&self) -> usize {
        self.ledger.untaken()
    }

    /// How many spans the collector holds from this mesh, when that is
    /// known exactly: every span started here has ended and was delivered,
    /// and no peer adds spans of its own. `None` otherwise (spans still
    /// open or queued, exports that failed, peers). Programs' spans are
    /// not counted: a caller running programs must not rely on this.
    pub fn settled_spans(&self) -> Option<u64> {
        if !self.peers.is_empty() {
            return None;
        }
        self.telemetry
            .iter()
            .map(|t| t.counters.settled())
            .sum::<Option<u64>>()
    }

    pub fn delivery(&self) -> Vec<(String, DeliveryStats)> {
        self.telemetry
            .iter()
            .map(|t| (t.name.clone(), t.counters.snapshot()))
            .collect()
    }

    /// Stop the programs, stop serving (in-flight requests finish), then
    /// flush and shut down every exporter.
    pub async fn stop(mut self) -> Vec<(String, DeliveryStats)> {
        let _ = self.stop_processes().await;
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        let mut waits = Vec::new();
        for t in &self.telemetry {
            let provider = t.provider.clone();
            waits.push(tokio::task::spawn_blocking(move || provider.shutdown()));
        }
        for wait in waits {
            let _ = wait.await;
        }
        self.telemetry
            .iter()
            .map(|t| (t.name.clone(), t.counters.snapshot()))
            .collect()
    }
}

/// The components to start here: the `--only` ones (all when none), minus
/// peers. Every name must exist, and every hop a started component makes
/// must lead to a component started here or to a peer.
fn select<'s>(
    scenario: &'s Scenario,
    options: &MeshOptions,
) -> Result<Vec<&'s Component>, MeshError> {
    let known = || {
        scenario
            .components
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let named = options
        .only
        .iter()
        .map(|n| ("--only", n))
        .chain(options.peers.keys().map(|n| ("--peer", n)))
        .chain(options.ports.keys().map(|n| ("--port", n)));
    for (flag, name) in named {
        if scenario.component(name).is_none() {
            return Err(MeshError::Topology(format!(
                "{flag} {name}: the scenario has no component of that name (components: {})",
                known()
            )));
        }
    }
    if let Some(both) = options.only.iter().find(|n| options.peers.contains_key(*n)) {
        return Err(MeshError::Topology(format!(
            "{both} is given both as --only (start it here) and as --peer (it runs elsewhere)"
        )));
    }
    let selected: Vec<&Component> = scenario
        .components
        .iter()
        .filter(|c| options.only.is_empty() || options.only.contains(&c.name))
        .filter(|c| !options.peers.contains_key(&c.name))
        .collect();
    let started = |name: &str| selected.iter().any(|c| c.name == name);
    if let Some(idle) = options.ports.keys().find(|n| !started(n)) {
        return Err(MeshError::Topology(format!(
            "--port {idle}: {idle} is not started here, so it listens on no port here"
        )));
    }
    let reachable = |name: &str| options.peers.contains_key(name) || started(name);
    for component in &selected {
        if let Some(next) = upstreams(component).find(|n| !reachable(n)) {
            return Err(MeshError::Topology(format!(
                "{} sends requests to {next}, which is neither started here nor a peer: \
                 add --only {next}, or --peer {next}=HOST:PORT where it runs",
                component.name
            )));
        }
    }
    Ok(selected)
}

/// The components a component sends requests to.
fn upstreams(component: &Component) -> impl Iterator<Item = &str> {
    component.routes.iter().flat_map(|route| {
        let next: Vec<&str> = match &route.action {
            Action::Forward { cluster, .. } => vec![cluster.as_str()],
            Action::Respond(handler) => handler
                .steps
                .iter()
                .flat_map(|step| step.calls())
                .map(|call| call.service.as_str())
                .collect(),
        };
        next
    })
}

fn bind_reason(e: &std::io::Error, port: u16) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "port {port} is already in use (another `tracelab up`, or the sandbox's own containers?); \
             stop that program or leave the port out of the scenario to pick a free one"
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!("not allowed to listen on port {port} (ports below 1024 need privileges)")
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/jaeger.rhai");
        crate::scenario::load(&path).expect("the sandbox scenario loads")
    }

    fn options() -> MeshOptions {
        MeshOptions::new(ExportSettings::new("http://127.0.0.1:9/v1/traces"))
    }

    fn names(selected: &[&Component]) -> Vec<String> {
        selected.iter().map(|c| c.name.clone()).collect()
    }

    #[test]
    fn serving_one_component_needs_a_peer_for_each_component_it_calls() {
        let scenario = sandbox();
        let mut options = options();
        options.only = vec!["service1".into()];
        let err = select(&scenario, &options).unwrap_err().to_string();
        assert!(
            err.contains("service1 sends requests to service2")
                && err.contains("--peer service2=HOST:PORT"),
            "{err}"
        );
        options
            .peers
            .insert("service2".into(), "service2:8000".into());
        assert_eq!(names(&select(&scenario, &options).unwrap()), ["service1"]);
    }

    #[test]
    fn peers_are_not_started_and_every_other_component_is() {
        let scenario = sandbox();
        let mut options = options();
        options
            .peers
            .insert("front-proxy".into(), "front:8000".into());
        assert_eq!(
            names(&select(&scenario, &options).unwrap()),
            ["service1", "service2"]
        );
        for name in ["service1", "service2"] {
            options.peers.insert(name.into(), format!("{name}:8000"));
        }
        assert!(select(&scenario, &options).unwrap().is_empty());
    }

    #[test]
    fn a_name_the_scenario_lacks_is_refused_naming_the_components() {
        let scenario = sandbox();
        let mut options = options();
        options.ports.insert("service3".into(), 8000);
        let err = select(&scenario, &options).unwrap_err().to_string();
        assert!(
            err.contains("--port service3: the scenario has no component of that name")
                && err.contains("(components: front-proxy, service1, service2)"),
            "{err}"
        );
    }

    #[test]
    fn a_port_for_a_component_not_started_here_is_refused() {
        let scenario = sandbox();
        let mut options = options();
        options.only = vec!["service2".into()];
        options.ports.insert("service1".into(), 8000);
        let err = select(&scenario, &options).unwrap_err().to_string();
        assert!(
            err.contains("--port service1: service1 is not started here"),
            "{err}"
        );
    }

    #[test]
    fn a_component_cannot_be_both_served_and_a_peer() {
        let scenario = sandbox();
        let mut options = options();
        options.only = vec!["service2".into()];
        options.peers.insert("service2".into(), "h:1".into());
        let err = select(&scenario, &options).unwrap_err().to_string();
        assert!(err.contains("both as --only"), "{err}");
    }

    #[tokio::test]
    async fn a_port_override_wins_over_free_ports_and_peers_are_in_the_directory() {
        let scenario = sandbox();
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let mut options = options();
        options.only = vec!["service1".into()];
        options
            .peers
            .insert("service2".into(), "elsewhere:8000".into());
        options.ports.insert("service1".into(), port);
        let mesh = RunningMesh::start(&scenario, &options).await.unwrap();
        assert_eq!(mesh.endpoints().len(), 1);
        assert_eq!(mesh.endpoints()[0].addr.port(), port);
        assert_eq!(mesh.authority_of("service2"), Some("elsewhere:8000"));
        assert_eq!(
            mesh.peers(),
            [("service2".to_string(), "elsewhere:8000".to_string())]
        );
        mesh.stop().await;
    }
}
