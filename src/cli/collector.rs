//! `tracelab collector`: its flags, the collector's ports (Jaeger
//! all-in-one's, each movable; `up` has the same flags), and the embedded
//! collector's bounds (`--max-traces`, `--max-body-size`) that `run` and
//! `up` share.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use bytesize::ByteSize;
use clap::Args;

use super::Mode;
use super::parse::parse_size;
use crate::collector::CollectorConfig;
use crate::collector::ports::Listener;
use crate::collector::standalone::StandaloneOptions;
use crate::config::{self, Config};
use crate::error::Error;

/// The collector's listeners, on Jaeger all-in-one's ports unless moved
/// (0 picks a free port; a port in use is exit code 3 naming its flag).
#[derive(Debug, Args)]
pub struct PortArgs {
    /// Port of the Jaeger query API (/api, /api/v3) and the trace viewer
    /// [default: 16686].
    #[arg(long, value_name = "PORT")]
    pub ui_port: Option<u16>,

    /// Port of the OTLP/gRPC receiver (TraceService/Export) [default: 4317].
    #[arg(long, value_name = "PORT")]
    pub otlp_grpc_port: Option<u16>,

    /// Port of the OTLP/HTTP receiver (POST /v1/traces; Zipkin on POST
    /// /api/v2/spans and /api/v1/spans too) [default: 4318].
    #[arg(long, visible_alias = "otlp-http-port", value_name = "PORT")]
    pub otlp_port: Option<u16>,

    /// Port of the Zipkin receiver (v2 JSON or protobuf on /api/v2/spans, v1
    /// JSON on /api/v1/spans) [default: 9411].
    #[arg(long, value_name = "PORT")]
    pub zipkin_port: Option<u16>,

    /// Port of Jaeger's gRPC collector API (jaeger.api_v2.CollectorService)
    /// [default: 14250].
    #[arg(long, value_name = "PORT")]
    pub jaeger_grpc_port: Option<u16>,

    /// Port of Jaeger thrift over HTTP (POST /api/traces) [default: 14268].
    #[arg(long, value_name = "PORT")]
    pub jaeger_http_port: Option<u16>,

    /// UDP port of the Jaeger agent, compact thrift [default: 6831].
    #[arg(long, value_name = "PORT")]
    pub jaeger_compact_port: Option<u16>,

    /// UDP port of the Jaeger agent, binary thrift [default: 6832].
    #[arg(long, value_name = "PORT")]
    pub jaeger_binary_port: Option<u16>,

    /// Put every listener its own flag does not move on a free port (what
    /// scripts and tests want; the ports chosen are printed).
    #[arg(long)]
    pub free_ports: bool,
}

impl PortArgs {
    /// Every listener's port: its flag's, else a free one with
    /// --free-ports, else Jaeger's.
    pub fn ports(&self) -> BTreeMap<Listener, u16> {
        [
            (Listener::Query, self.ui_port),
            (Listener::OtlpGrpc, self.otlp_grpc_port),
            (Listener::OtlpHttp, self.otlp_port),
            (Listener::Zipkin, self.zipkin_port),
            (Listener::JaegerGrpc, self.jaeger_grpc_port),
            (Listener::JaegerThriftHttp, self.jaeger_http_port),
            (Listener::JaegerCompact, self.jaeger_compact_port),
            (Listener::JaegerBinary, self.jaeger_binary_port),
        ]
        .into_iter()
        .map(|(listener, port)| {
            let fallback = if self.free_ports {
                0
            } else {
                listener.default_port()
            };
            (listener, port.unwrap_or(fallback))
        })
        .collect()
    }
}

#[derive(Debug, Args)]
pub struct CollectorArgs {
    #[command(flatten)]
    pub ports: PortArgs,

    /// Address to listen on; 0.0.0.0 to be reachable from other machines.
    #[arg(long, value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,

    /// Traces kept before evicting the oldest.
    #[arg(long, value_name = "N")]
    pub max_traces: Option<usize>,

    /// The largest export body accepted (413 above it), e.g. 16MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body_size: Option<ByteSize>,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}
pub(crate) fn collector_mode(args: CollectorArgs) -> Result<Mode, Error> {
    let config: Config = config::load(args.config.as_deref())?;
    let collector = collector_config(args.max_traces, args.max_body_size, &config)?;
    Ok(Mode::Collector(StandaloneOptions {
        bind_ip: args.bind,
        ports: args.ports.ports(),
        collector,
    }))
}
/// The embedded collector's bounds: flags over `tracelab.toml` over defaults.
pub(crate) fn collector_config(
    max_traces: Option<usize>,
    max_body_size: Option<ByteSize>,
    config: &Config,
) -> Result<CollectorConfig, Error> {
    let mut collector = CollectorConfig::default();
    if let Some(max) = max_traces.or(config.collector.max_traces) {
        if max == 0 {
            return Err(Error::Usage("--max-traces must be at least 1".into()));
        }
        collector.max_traces = max;
    }
    if let Some(size) = max_body_size.or(config.collector.max_body_size) {
        collector.max_body_bytes = usize::try_from(size.as_u64())
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "max body size {size}: give a size above 0 that fits in memory"
                ))
            })?;
    }
    Ok(collector)
}
