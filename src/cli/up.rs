//! `tracelab up`: its flags, and the options of the lab it keeps running.

use std::path::PathBuf;

use bytesize::ByteSize;
use clap::Args;

use super::Mode;
use super::collector::{PortArgs, collector_config};
use super::parse::{otlp_protocol, parse_port_override, parse_protocol, parse_size};
use crate::config::{self, Config};
use crate::error::Error;
use crate::up::UpOptions;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The scenario whose topology to start (its traffic is not sent).
    #[arg(value_name = "SCENARIO")]
    pub file: PathBuf,

    #[command(flatten)]
    pub collector_ports: PortArgs,

    /// Move a component to another port (0 picks a free one), e.g.
    /// `--port front-proxy=8080`. Repeatable.
    #[arg(long = "port", value_name = "COMPONENT=PORT", value_parser = parse_port_override)]
    pub ports: Vec<(String, u16)>,

    /// Traces the collector keeps before evicting the oldest.
    #[arg(long, value_name = "N")]
    pub max_traces: Option<usize>,

    /// The largest export body the collector accepts (413 above it).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body_size: Option<ByteSize>,

    /// How components and programs export spans to the collector: grpc,
    /// http/protobuf (the default) or http/json. Also read from
    /// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL.
    #[arg(long, value_name = "PROTOCOL", value_parser = parse_protocol)]
    pub otlp_protocol: Option<crate::mesh::telemetry::OtlpProtocol>,

    /// Switch tracing off: components create and export no spans and pass
    /// no trace context on (to measure what tracing costs).
    #[arg(long)]
    pub no_tracing: bool,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}
pub(crate) fn up_mode(args: UpArgs) -> Result<Mode, Error> {
    let config: Config = config::load(args.config.as_deref())?;
    let collector = collector_config(args.max_traces, args.max_body_size, &config)?;
    Ok(Mode::Up(UpOptions {
        file: args.file,
        collector_ports: args.collector_ports.ports(),
        ports: args.ports,
        free_ports: args.collector_ports.free_ports,
        collector,
        tracing: !args.no_tracing,
        otlp_protocol: otlp_protocol(
            args.otlp_protocol,
            config.collector.otlp_protocol.as_deref(),
        )?,
    }))
}
