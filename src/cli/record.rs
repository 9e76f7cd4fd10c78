//! `tracelab record SCENARIO`: its flags (where the recording goes, and the
//! run's own: collector, targets, waiting), settled into [`RecordOptions`]
//! through `run`'s rules.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::Mode;
use super::parse::{parse_duration, parse_peer, parse_target};
use super::run::{RunArgs, RunOptions, run_mode};
use crate::error::Error;

const RECORD_HELP: &str = "\
Runs the scenario as `tracelab run` does, then writes the trace shapes it saw
as Rhai expectations: one expect_traces per distinct shape, an exact tree with
its count. Tags whose values change between runs (ids, addresses, sizes,
times, versions) are left out, URLs keep their path, each root's duration
gets a loose bound. Review the file, keep it beside the scenario and import
it there:

    import \"expected/checkout\" as expected;

Every later run is then judged against the recording: a changed topology
fails, naming the span that differs. Record again after a change you mean
(the expectations of the recording being replaced are not judged while
recording). A run that left nothing to judge, lost spans, or may have read
half-arrived traces records nothing (exit 1).

Examples:
  tracelab record scenarios/jaeger.rhai           writes scenarios/expected/jaeger.rhai
  tracelab record --out scenarios/snap/j.rhai scenarios/jaeger.rhai
  tracelab record --jaeger-url http://localhost:16686 --otlp-endpoint http://localhost:4318 \\
               --target shop=http://localhost:5001 scenarios/external-flask.rhai";

#[derive(Debug, Args)]
#[command(after_help = RECORD_HELP)]
pub struct RecordArgs {
    /// The scenario to run and record.
    #[arg(value_name = "SCENARIO")]
    pub file: PathBuf,

    /// Write the recording here (default: expected/<the scenario file's name>.rhai
    /// in the scenario's folder; a scenario imports only from its folder).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// Read traces from this Jaeger query API instead of the embedded
    /// collector. Needs --otlp-endpoint.
    #[arg(long, value_name = "URL", env = "TRACELAB_JAEGER_URL")]
    pub jaeger_url: Option<String>,

    /// Export spans to this OTLP/HTTP endpoint. Needs --jaeger-url.
    #[arg(long, value_name = "URL", env = "TRACELAB_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Start this Jaeger v2 binary for the run and stop it after.
    #[arg(long, value_name = "PATH", env = "TRACELAB_JAEGER_BIN")]
    pub jaeger_bin: Option<PathBuf>,

    /// How long to wait for incomplete traces to grow before judging them.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_timeout: Option<Duration>,

    /// Send the traffic for a scenario's target(NAME, ...) to this URL.
    #[arg(long = "target", value_name = "NAME=URL", value_parser = parse_target)]
    pub targets: Vec<(String, String)>,

    /// A component running elsewhere: traffic and calls go to HOST:PORT.
    #[arg(long = "peer", value_name = "NAME=HOST:PORT", value_parser = parse_peer)]
    pub peers: Vec<(String, String)>,

    /// Only print failures and the verdict.
    #[arg(short, long)]
    pub quiet: bool,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug)]
pub struct RecordOptions {
    /// The run, of the one scenario.
    pub run: RunOptions,
    /// Where the recording goes.
    pub out: PathBuf,
}

pub(crate) fn record_mode(args: RecordArgs) -> Result<Mode, Error> {
    let out = args
        .out
        .unwrap_or_else(|| crate::record::default_path(&args.file));
    let run = RunArgs {
        files: vec![args.file],
        jaeger_url: args.jaeger_url,
        otlp_endpoint: args.otlp_endpoint,
        jaeger_bin: args.jaeger_bin,
        wait_timeout: args.wait_timeout,
        targets: args.targets,
        peers: args.peers,
        quiet: args.quiet,
        config: args.config,
        ..RunArgs::default()
    };
    Ok(match run_mode(run)? {
        Mode::Run(run) => Mode::Record(RecordOptions { run, out }),
        other => other,
    })
}
