//! `tracelab traces`: its flags, and the search they settle into.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::Mode;
use super::parse::parse_duration;
use crate::config::{self, Config};
use crate::error::Error;
use crate::jaeger::client::TraceQuery;
use crate::traces::{DEFAULT_JAEGER_URL, TracesOptions};

#[derive(Debug, Args)]
pub struct TracesArgs {
    /// Print this trace; without it, search by --service.
    #[arg(value_name = "TRACE_ID")]
    pub trace_id: Option<String>,

    /// Traces with a span of this service.
    #[arg(short, long, required_unless_present = "trace_id")]
    pub service: Option<String>,

    /// ... and of this operation.
    #[arg(short, long)]
    pub operation: Option<String>,

    /// Traces with a span lasting at least this long, e.g. 5ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub min_duration: Option<Duration>,

    /// Traces with a span lasting at most this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_duration: Option<Duration>,

    /// How many traces at most.
    #[arg(short, long, value_name = "N", default_value_t = 20)]
    pub limit: usize,

    /// One line per trace instead of waterfalls.
    #[arg(long)]
    pub list: bool,

    /// Show each span's tags.
    #[arg(short, long)]
    pub verbose: bool,

    /// The Jaeger query API to read [default: http://localhost:16686, where
    /// `tracelab up` serves it].
    #[arg(long, value_name = "URL", env = "TRACELAB_JAEGER_URL")]
    pub jaeger_url: Option<String>,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}
pub(crate) fn traces_mode(args: TracesArgs) -> Result<Mode, Error> {
    let config: Config = config::load(args.config.as_deref())?;
    let jaeger_url = args
        .jaeger_url
        .or(config.collector.jaeger_url)
        .unwrap_or_else(|| DEFAULT_JAEGER_URL.to_string());
    if !jaeger_url.starts_with("http://") {
        return Err(Error::Usage(format!(
            "--jaeger-url {jaeger_url}: give an http:// URL (TLS is not supported)"
        )));
    }
    if args.limit == 0 {
        return Err(Error::Usage("--limit must be at least 1".into()));
    }
    let query = TraceQuery {
        service: args.service.unwrap_or_default(),
        operation: args.operation,
        min_duration: args.min_duration,
        max_duration: args.max_duration,
        limit: Some(args.limit),
        ..TraceQuery::default()
    };
    Ok(Mode::Traces(TracesOptions {
        jaeger_url,
        trace_id: args.trace_id,
        query,
        list: args.list,
        tags: args.verbose,
    }))
}
