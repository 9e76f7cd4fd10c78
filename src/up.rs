//! `tracelab up`: a scenario's topology and the embedded collector (with
//! its trace viewer) kept running, like `docker compose up` in the sandbox,
//! until Ctrl-C or SIGTERM; then the mesh stops (spans flushed) and the
//! collector after it.
//!
//! Components listen on the ports the script fixes (the sandbox's front
//! proxy on 8000); the collector on Jaeger's: the viewer and query API on
//! 16686, OTLP/HTTP on 4318. Every port can be moved by a flag.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::collector::standalone::bind;
use crate::collector::{CollectorConfig, RunningCollector};
use crate::error::Error;
use crate::mesh::telemetry::{DeliveryStats, ExportSettings};
use crate::mesh::{MeshError, MeshOptions, RunningMesh};
use crate::report::model::{ComponentInfo, LabInfo, LabStopped};
use crate::scenario::{self, Scenario};

/// Jaeger's query and UI port.
pub const DEFAULT_UI_PORT: u16 = 16686;
/// OTLP/HTTP's standard port.
pub const DEFAULT_OTLP_PORT: u16 = 4318;

#[derive(Debug, Clone)]
pub struct UpOptions {
    pub file: PathBuf,
    pub ui_port: u16,
    pub otlp_port: u16,
    /// Components moved to another port (`--port NAME=PORT`, 0 = free).
    pub ports: Vec<(String, u16)>,
    pub collector: CollectorConfig,
    /// Off (`--no-tracing`): the topology serves without spans.
    pub tracing: bool,
}

pub struct RunningLab {
    mesh: RunningMesh,
    collector: RunningCollector,
    info: LabInfo,
}

/// Load the scenario, bind every port (a taken one is exit 3, naming it),
/// then serve.
pub async fn start(options: &UpOptions) -> Result<RunningLab, Error> {
    let mut scenario = scenario::load(&options.file)?;
    move_components(&mut scenario, &options.ports)?;
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut listeners = vec![bind(ip, options.ui_port, "the trace viewer", "--ui-port").await?];
    // Equal non-zero ports share one listener: both answer OTLP and the API.
    if options.otlp_port != options.ui_port || options.otlp_port == 0 {
        listeners.push(bind(ip, options.otlp_port, "the OTLP receiver", "--otlp-port").await?);
    }
    let collector = RunningCollector::start(&options.collector, listeners);
    let viewer = collector.addrs()[0];
    let otlp = *collector.addrs().last().expect("one listener at least");
    let otlp_traces_url = format!("http://{otlp}/v1/traces");

    let mut mesh_options = MeshOptions::new(ExportSettings::new(otlp_traces_url.clone()));
    mesh_options.ephemeral_ports = false;
    mesh_options.tracing = options.tracing;
    let mesh = match RunningMesh::start(&scenario, &mesh_options).await {
        Ok(mesh) => mesh,
        Err(e) => {
            collector.stop().await;
            // A component's port is taken: name the flag that moves it.
            let moved = match &e {
                MeshError::Bind { component, .. } => Some(component.clone()),
                _ => None,
            };
            return Err(match (crate::run::mesh_error(&scenario, e), moved) {
                (Error::Infra(text), Some(component)) => Error::Infra(format!(
                    "{text}; or move it: --port {component}=PORT (0 picks a free one)"
                )),
                (other, _) => other,
            });
        }
    };
    let components: Vec<ComponentInfo> = mesh.endpoints().iter().map(ComponentInfo::from).collect();
    let try_url = try_url(&scenario, &mesh);
    let info = LabInfo {
        scenario: scenario.name.clone(),
        file: scenario.file.display().to_string(),
        components,
        try_url,
        viewer_url: format!("http://{viewer}/"),
        query_url: format!("http://{viewer}"),
        otlp_traces_url,
    };
    Ok(RunningLab {
        mesh,
        collector,
        info,
    })
}

impl RunningLab {
    pub fn info(&self) -> &LabInfo {
        &self.info
    }

    /// Stop the mesh (in-flight requests finish, spans are flushed to the
    /// collector), then the collector.
    pub async fn stop(self) -> LabStopped {
        let mut delivery = DeliveryStats::default();
        for (_, stats) in self.mesh.stop().await {
            delivery.add(&stats);
        }
        let store = self.collector.store().stats();
        self.collector.stop().await;
        LabStopped {
            delivery,
            traces: store.traces,
            spans: store.spans,
        }
    }
}

fn move_components(scenario: &mut Scenario, ports: &[(String, u16)]) -> Result<(), Error> {
    for (name, port) in ports {
        let known: Vec<&str> = scenario
            .components
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let known = known.join(", ");
        let Some(component) = scenario.components.iter_mut().find(|c| c.name == *name) else {
            return Err(Error::Usage(format!(
                "--port {name}={port}: the scenario has no component {name:?} (components: {known})"
            )));
        };
        component.port = Some(*port);
    }
    Ok(())
}

/// The URL of the first traffic block (the sandbox's `/trace/1` on the
/// front proxy), or the first proxy's root.
fn try_url(scenario: &Scenario, mesh: &RunningMesh) -> Option<String> {
    let (target, path) = match scenario.traffic.first() {
        Some(t) => (t.target.as_str(), t.path.as_str()),
        None => {
            let proxy = scenario
                .components
                .iter()
                .find(|c| c.role == crate::scenario::model::Role::Proxy)?;
            (proxy.name.as_str(), "/")
        }
    };
    let authority = mesh.authority_of(target)?;
    Some(format!("http://{authority}{path}"))
}
