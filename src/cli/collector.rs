//! `tracelab collector`: its flags, and the embedded collector's bounds
//! (`--max-traces`, `--max-body-size`) that `run` and `up` share.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use bytesize::ByteSize;
use clap::Args;

use super::Mode;
use super::parse::parse_size;
use crate::collector::CollectorConfig;
use crate::collector::standalone::StandaloneOptions;
use crate::config::{self, Config};
use crate::error::Error;
use crate::up::{DEFAULT_OTLP_PORT, DEFAULT_UI_PORT};

#[derive(Debug, Args)]
pub struct CollectorArgs {
    /// Port of the Jaeger query API and the trace viewer.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_UI_PORT)]
    pub ui_port: u16,

    /// Port of the OTLP/HTTP receiver (POST /v1/traces; Zipkin v2 JSON on
    /// POST /api/v2/spans).
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_OTLP_PORT)]
    pub otlp_port: u16,

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
        ui_port: args.ui_port,
        otlp_port: args.otlp_port,
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
