//! `tracelab up`: a scenario's topology and the embedded collector (with
//! its trace viewer) kept running, like `docker compose up` in the sandbox,
//! until Ctrl-C or SIGTERM; then the mesh stops (spans flushed) and the
//! collector after it.
//!
//! Components listen on the ports the script fixes (the sandbox's front
//! proxy on 8000); the collector on Jaeger all-in-one's: the viewer and
//! query API on 16686, OTLP/gRPC on 4317, OTLP/HTTP on 4318, Zipkin on
//! 9411, ... Every port can be moved by a flag.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::collector::ports::{Listener, PortPlan};
use crate::collector::{BoundSockets, CollectorConfig, RunningCollector};
use crate::error::Error;
use crate::mesh::telemetry::{DeliveryStats, ExportSettings, OtlpEndpoint, OtlpProtocol};
use crate::mesh::{MeshError, MeshOptions, RunningMesh};
use crate::report::model::{ComponentInfo, LabInfo, LabStopped};
use crate::scenario::{self, Scenario};

#[derive(Debug, Clone)]
pub struct UpOptions {
    pub file: PathBuf,
    /// Every collector listener's port (0 = a free one).
    pub collector_ports: BTreeMap<Listener, u16>,
    /// Components moved to another port (`--port NAME=PORT`, 0 = free).
    pub ports: Vec<(String, u16)>,
    /// `--free-ports`: components the script fixes a port for, and no
    /// `--port` moves, listen on free ones too.
    pub free_ports: bool,
    pub collector: CollectorConfig,
    /// Off (`--no-tracing`): the topology serves without spans.
    pub tracing: bool,
    /// How components and programs export to the collector.
    pub otlp_protocol: OtlpProtocol,
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
    if options.free_ports {
        for component in &mut scenario.components {
            if component.port.is_some() {
                component.port = Some(0);
            }
        }
    }
    move_components(&mut scenario, &options.ports)?;
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let plan = PortPlan::jaeger_defaults(ip, &options.collector_ports);
    let bound = BoundSockets::bind(&plan)
        .await
        .map_err(|e| Error::Infra(e.to_string()))?;
    let collector = RunningCollector::start(&options.collector, bound);
    let viewer = collector.addr();
    let otlp_traces_url = collector.otlp_traces_url();

    let export = match options.otlp_protocol {
        OtlpProtocol::Grpc => OtlpEndpoint::grpc(collector.otlp_grpc_url()),
        http => OtlpEndpoint {
            protocol: http,
            url: otlp_traces_url.clone(),
        },
    };
    let mut mesh_options = MeshOptions::new(ExportSettings {
        zipkin_spans_url: Some(collector.zipkin_spans_url()),
        ..ExportSettings::to(export)
    });
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
        intakes: collector
            .addrs()
            .iter()
            .filter(|(l, _)| !matches!(l, Listener::Query | Listener::OtlpHttp))
            .flat_map(|(l, addr)| crate::collector::standalone::endpoints(*l, *addr))
            .map(|(name, url)| (name.to_string(), url))
            .collect(),
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
