//! `tracelab run` (and a bare `tracelab FILE...`): its flags, and the run
//! options they settle into (backend, waiting, reports, verbosity).

use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use clap::Args;

use super::Mode;
use super::collector::collector_config;
use super::parse::{
    by_name, otlp_protocol, parse_duration, parse_peer, parse_protocol, parse_size, parse_target,
};
use crate::assert::gather::WaitSettings;
use crate::backend::BackendChoice;
use crate::backend::jaeger_process::JaegerSettings;
use crate::collector::DEFAULT_RELEASE_AFTER;
use crate::config::{self, Config, VerbosityName};
use crate::error::Error;
use crate::report::human::Verbosity;
use crate::report::{Format, ReportTarget};
use crate::run::RunSettings;
use crate::scenario::load::Limits;

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Scenario scripts to run, in order.
    #[arg(value_name = "SCENARIO")]
    pub files: Vec<PathBuf>,

    /// Read traces from this Jaeger query API (port 16686) instead of the
    /// embedded collector. Needs --otlp-endpoint.
    #[arg(long, value_name = "URL", env = "TRACELAB_JAEGER_URL")]
    pub jaeger_url: Option<String>,

    /// Export spans to this OTLP endpoint: OTLP/HTTP (port 4318), e.g.
    /// http://localhost:4318, or OTLP/gRPC (4317) with --otlp-protocol
    /// grpc. Needs --jaeger-url.
    #[arg(long, value_name = "URL", env = "TRACELAB_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// How components and programs export spans: grpc, http/protobuf
    /// (the default) or http/json. Also read from
    /// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL.
    #[arg(long, value_name = "PROTOCOL", value_parser = parse_protocol)]
    pub otlp_protocol: Option<crate::mesh::telemetry::OtlpProtocol>,

    /// Start this Jaeger v2 binary on free loopback ports for the run and
    /// stop it after (scripts/install-jaeger.sh builds one).
    #[arg(long, value_name = "PATH", env = "TRACELAB_JAEGER_BIN")]
    pub jaeger_bin: Option<PathBuf>,

    /// How long to wait for incomplete traces to grow before judging them
    /// (the wait starts over whenever more spans arrive).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_timeout: Option<Duration>,

    /// Stop sending at the first check that has failed for good (an `all`
    /// that met a differing trace, an integrity check that failed), and
    /// report. Works where traces are judged as they complete.
    #[arg(long)]
    pub fail_fast: bool,

    /// How many failing traces or requests each check lists in full
    /// (default: 3 per expectation, 5 per built-in check).
    #[arg(long, value_name = "N")]
    pub failures: Option<usize>,

    /// Gather every trace after the traffic and judge them then, instead of
    /// judging each trace as soon as it is complete (for comparing the two).
    #[arg(long)]
    pub judge_at_end: bool,

    /// Listen on the ports scenarios fix (e.g. the sandbox's 8000) instead
    /// of free ones.
    #[arg(long)]
    pub fixed_ports: bool,

    /// Traces the embedded collector (or a started Jaeger) keeps before
    /// evicting the oldest.
    #[arg(long, value_name = "N")]
    pub max_traces: Option<usize>,

    /// Keep every trace in the embedded collector until the run ends. By
    /// default a trace leaves it 2 s after the run read it by id, so long
    /// runs stay in flat memory (kept anyway with --show-trace).
    #[arg(long)]
    pub keep_traces: bool,

    /// The largest export body the embedded collector accepts (413 above
    /// it), e.g. 16MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body_size: Option<ByteSize>,

    /// Only print failures and the verdict.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also list passing integrity checks, span delivery counts and the
    /// tags of the waterfall's spans.
    #[arg(short, long)]
    pub verbose: bool,

    /// Also write the report as `json` (docs/report.schema.json), `junit`
    /// XML, or `human` (the terminal report, without colour; needs a
    /// PATH), to PATH, or to stdout without one (the terminal report then
    /// goes to stderr). Repeatable. Written even when a scenario fails to
    /// load (exit 2), or an error stops the run part way (exit 2 or 3:
    /// with the scenarios that finished), saying where.
    #[arg(long = "report", value_name = "FORMAT[=PATH]", value_parser = ReportTarget::parse)]
    pub reports: Vec<ReportTarget>,

    /// Draw this trace as a waterfall, read from the collector, instead of
    /// each scenario's slowest.
    #[arg(long, value_name = "TRACE_ID")]
    pub show_trace: Option<String>,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// The size limit of a scenario and its modules together (default
    /// 4MiB); a larger script is refused before it is parsed.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_script_size: Option<ByteSize>,

    /// A component running elsewhere (e.g. `tracelab serve` on another
    /// machine): not started here; traffic and calls go to HOST:PORT.
    /// Repeatable. Needs --jaeger-url and --otlp-endpoint: the collector
    /// the peers export to.
    #[arg(long = "peer", value_name = "NAME=HOST:PORT", value_parser = parse_peer)]
    pub peers: Vec<(String, String)>,

    /// Send the traffic for a scenario's `target(NAME, ...)` to this URL
    /// instead of the one the script gives (e.g. a port picked at start).
    /// Repeatable.
    #[arg(long = "target", value_name = "NAME=URL", value_parser = parse_target)]
    pub targets: Vec<(String, String)>,

    /// After the run, run again whenever a scenario or a module it imports
    /// changes, until Ctrl-C (the exit code is the last run's).
    #[arg(short, long)]
    pub watch: bool,

    /// With --watch: clear the screen before each run.
    #[arg(long, requires = "watch")]
    pub clear: bool,
}
#[derive(Debug)]
pub struct RunOptions {
    pub files: Vec<PathBuf>,
    /// The sandbox scenarios load in (`--max-script-size`).
    pub script_limits: Limits,
    pub settings: RunSettings,
    pub verbosity: Verbosity,
    /// Reports to write besides the terminal one.
    pub reports: Vec<ReportTarget>,
    /// Run again when a scenario or a module it imports changes.
    pub watch: bool,
    /// Clear the screen before each watched run.
    pub clear: bool,
}
pub(crate) fn run_mode(args: RunArgs) -> Result<Mode, Error> {
    if args.files.is_empty() {
        return Err(Error::Usage(
            "no scenario given: try `tracelab scenarios/jaeger.rhai` (see --help)".into(),
        ));
    }
    let to_stdout: Vec<&ReportTarget> = args.reports.iter().filter(|r| r.path.is_none()).collect();
    if to_stdout.len() > 1 {
        return Err(Error::Usage(
            "only one --report can go to stdout: give the others a path, e.g. --report junit=junit.xml"
                .into(),
        ));
    }
    if to_stdout.iter().any(|r| r.format == Format::Human) {
        return Err(Error::Usage(
            "--report human without a path is the default output: give it a path, e.g. --report human=report.txt"
                .into(),
        ));
    }
    let config: Config = config::load(args.config.as_deref())?;
    let mut collector = collector_config(args.max_traces, args.max_body_size, &config)?;
    // A run reads each trace by id once it is complete and keeps only what
    // it judged: the collector may let it go. --show-trace reads one again
    // at the end.
    if !args.keep_traces && args.show_trace.is_none() {
        collector.release_read_traces_after = Some(DEFAULT_RELEASE_AFTER);
    }
    let script_limits = script_limits(args.max_script_size, &config);
    let jaeger_url = args.jaeger_url.or(config.collector.jaeger_url);
    let otlp = args.otlp_endpoint.or(config.collector.otlp_endpoint);
    let jaeger_bin = args.jaeger_bin.or(config.collector.jaeger_bin);
    let protocol = otlp_protocol(
        args.otlp_protocol,
        config.collector.otlp_protocol.as_deref(),
    )?;
    let backend = match (jaeger_url, otlp) {
        (None, None) => match jaeger_bin {
            None => BackendChoice::Embedded(collector),
            Some(bin) => {
                let mut settings = JaegerSettings::new(bin);
                settings.max_traces = collector.max_traces;
                BackendChoice::JaegerBinary(settings)
            }
        },
        (Some(_), _) | (_, Some(_)) if jaeger_bin.is_some() => {
            return Err(Error::Usage(
                "--jaeger-bin starts a Jaeger, --jaeger-url/--otlp-endpoint use a running one: \
                 give one or the other (check TRACELAB_JAEGER_BIN, TRACELAB_JAEGER_URL and tracelab.toml)"
                    .into(),
            ));
        }
        (Some(query_url), Some(otlp_url)) => {
            for (flag, url) in [("--jaeger-url", &query_url), ("--otlp-endpoint", &otlp_url)] {
                if !url.starts_with("http://") {
                    return Err(Error::Usage(format!(
                        "{flag} {url}: give an http:// URL (TLS is not supported)"
                    )));
                }
            }
            BackendChoice::External {
                query_url,
                otlp_url,
                otlp_protocol: protocol,
            }
        }
        (Some(_), None) => {
            return Err(Error::Usage(
                "--jaeger-url needs --otlp-endpoint too: where should spans be exported?".into(),
            ));
        }
        (None, Some(_)) => {
            return Err(Error::Usage(
                "--otlp-endpoint needs --jaeger-url too: where should traces be read from?".into(),
            ));
        }
    };
    let peers = by_name("--peer", args.peers)?;
    let targets = by_name("--target", args.targets)?;
    if !peers.is_empty() && matches!(backend, BackendChoice::Embedded(_)) {
        return Err(Error::Usage(
            "--peer needs --jaeger-url and --otlp-endpoint: peers export their spans to a \
             collector that is not this run's own, and the traces must be read from it"
                .into(),
        ));
    }
    let mut wait = WaitSettings::default();
    match backend {
        BackendChoice::External { .. } => {
            // A real Jaeger batches before storing: poll less often, wait longer.
            wait.poll_interval = Duration::from_millis(300);
            wait.timeout = Duration::from_secs(30);
        }
        // Ours stores at once (no batch processor) but is a real Jaeger.
        BackendChoice::JaegerBinary(_) => wait.timeout = Duration::from_secs(30),
        BackendChoice::Embedded(_) => {}
    }
    if let Some(timeout) = args.wait_timeout.or(config.collector.wait_timeout) {
        wait.timeout = timeout;
    }
    let verbosity = if args.quiet {
        Verbosity::Quiet
    } else if args.verbose {
        Verbosity::Verbose
    } else {
        match config.report.verbosity {
            Some(VerbosityName::Quiet) => Verbosity::Quiet,
            Some(VerbosityName::Verbose) => Verbosity::Verbose,
            _ => Verbosity::Normal,
        }
    };
    Ok(Mode::Run(RunOptions {
        files: args.files,
        script_limits,
        settings: RunSettings {
            backend,
            wait,
            fixed_ports: args.fixed_ports,
            peers,
            show_trace: args.show_trace,
            targets,
            otlp_protocol: protocol,
            judge_at_end: args.judge_at_end,
            fail_fast: args.fail_fast,
            shown: args
                .failures
                .map(crate::assert::Shown::all)
                .unwrap_or_default(),
        },
        verbosity,
        reports: args.reports,
        watch: args.watch,
        clear: args.clear,
    }))
}

/// The scenario sandbox's limits: `--max-script-size` over tracelab.toml's
/// `[scenario] max_script_size` over the default.
pub(crate) fn script_limits(flag: Option<ByteSize>, config: &Config) -> Limits {
    let mut limits = Limits::default();
    if let Some(size) = flag.or(config.scenario.max_script_size) {
        limits.max_script_size = size.as_u64();
    }
    limits
}
