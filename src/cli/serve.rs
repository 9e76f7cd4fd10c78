//! `tracelab serve`: its flags, and the options of the components served.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::Args;

use super::Mode;
use super::parse::{by_name, otlp_protocol, parse_peer, parse_port, parse_protocol};
use crate::config::{self, Config};
use crate::error::Error;
use crate::mesh::telemetry::{OtlpEndpoint, OtlpProtocol};
use crate::serve::ServeOptions;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The scenario whose components to serve.
    #[arg(value_name = "SCENARIO")]
    pub file: PathBuf,

    /// Serve this component; repeatable. Every component that is not a
    /// --peer when left out.
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,

    /// Where a component served elsewhere listens, for the requests the
    /// components served here send it. Repeatable.
    #[arg(long = "peer", value_name = "NAME=HOST:PORT", value_parser = parse_peer)]
    pub peers: Vec<(String, String)>,

    /// Listen port of a component, over the scenario's (0 picks a free
    /// one; without either, a free one too). Repeatable.
    #[arg(long = "port", value_name = "NAME=PORT", value_parser = parse_port)]
    pub ports: Vec<(String, u16)>,

    /// Address to listen on; 0.0.0.0 to be reachable from other machines.
    #[arg(long, value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,

    /// Export spans to this OTLP endpoint: OTLP/HTTP (port 4318), e.g.
    /// http://jaeger:4318, or OTLP/gRPC (4317) with --otlp-protocol grpc.
    #[arg(long, value_name = "URL", env = "TRACELAB_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// How spans are exported: grpc, http/protobuf (the default) or
    /// http/json. Also read from OTEL_EXPORTER_OTLP_TRACES_PROTOCOL /
    /// OTEL_EXPORTER_OTLP_PROTOCOL.
    #[arg(long, value_name = "PROTOCOL", value_parser = parse_protocol)]
    pub otlp_protocol: Option<OtlpProtocol>,

    /// Switch tracing off: components create and export no spans and pass
    /// no trace context on (to measure what tracing costs); no
    /// --otlp-endpoint needed.
    #[arg(long)]
    pub no_tracing: bool,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}
pub(crate) fn serve_mode(args: ServeArgs) -> Result<Mode, Error> {
    let config: Config = config::load(args.config.as_deref())?;
    let otlp = args
        .otlp_endpoint
        .or(config.collector.otlp_endpoint)
        // Never exported to: a placeholder for the options' sake.
        .or_else(|| args.no_tracing.then(|| "http://127.0.0.1:4318".to_string()))
        .ok_or_else(|| {
            Error::Usage(
                "serve needs --otlp-endpoint: where should spans be exported? (e.g. http://jaeger:4318)"
                    .into(),
            )
        })?;
    if !otlp.starts_with("http://") {
        return Err(Error::Usage(format!(
            "--otlp-endpoint {otlp}: give an http:// URL (TLS is not supported)"
        )));
    }
    Ok(Mode::Serve(ServeOptions {
        file: args.file,
        only: args.only,
        peers: by_name("--peer", args.peers)?,
        ports: by_name("--port", args.ports)?,
        bind_ip: args.bind,
        otlp: match otlp_protocol(
            args.otlp_protocol,
            config.collector.otlp_protocol.as_deref(),
        )? {
            OtlpProtocol::Grpc => OtlpEndpoint::grpc(otlp),
            http => OtlpEndpoint {
                protocol: http,
                url: crate::backend::otlp_traces_url(&otlp),
            },
        },
        tracing: !args.no_tracing,
    }))
}
