//! The command line: clap options as typed, then [`Mode`], the one value the
//! rest of tracelab reads (flags > environment > `tracelab.toml` > defaults).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use clap::{Args, Parser, Subcommand};

use crate::assert::gather::WaitSettings;
use crate::backend::BackendChoice;
use crate::backend::jaeger_process::JaegerSettings;
use crate::collector::CollectorConfig;
use crate::collector::standalone::StandaloneOptions;
use crate::config::{self, Config, VerbosityName};
use crate::error::Error;
use crate::jaeger::client::TraceQuery;
use crate::report::human::Verbosity;
use crate::report::{Format, ReportTarget};
use crate::run::RunSettings;
use crate::serve::ServeOptions;
use crate::traces::{DEFAULT_JAEGER_URL, TracesOptions};
use crate::up::{DEFAULT_OTLP_PORT, DEFAULT_UI_PORT, UpOptions};

const ABOUT: &str = "Scripted, reproducible distributed-tracing labs";

const LONG_ABOUT: &str = "\
Scripted, reproducible distributed-tracing labs.

A scenario is a Rhai script that declares a topology (a front proxy, services,
who calls whom), the traffic to send, and the trace shapes it expects.
tracelab starts that topology in-process, sends the traffic, exports every
span over OTLP to a Jaeger-compatible collector, reads the traces back through
Jaeger's query API and checks them.

By default spans go to an embedded collector: nothing to install. Give
--jaeger-bin to have tracelab start a real Jaeger v2 for the run, or point
--jaeger-url and --otlp-endpoint at a Jaeger already running.";

const EXAMPLES: &str = "\
Examples:
  tracelab scenarios/jaeger.rhai          run Envoy's Jaeger sandbox, check its traces
  tracelab run scenarios/*.rhai           run several scenarios, sum up
  tracelab check scenarios/*.rhai         validate scripts without running them
  tracelab --report junit=junit.xml --report json=report.json scenarios/*.rhai
                                          also write JUnit and JSON reports for CI
  tracelab up scenarios/jaeger.rhai       keep the sandbox running: curl localhost:8000/trace/1,
                                          then open the trace viewer on http://localhost:16686
  tracelab traces --service front-proxy   print a running `up`'s traces as waterfalls
  tracelab run --jaeger-bin \"$(scripts/install-jaeger.sh)\" scenarios/jaeger.rhai
                                          the same against a real Jaeger v2
  tracelab run --jaeger-url http://localhost:16686 \\
               --otlp-endpoint http://localhost:4318 scenarios/jaeger.rhai

Spread over machines (each `serve` exports to the same Jaeger):
  tracelab serve scenarios/jaeger.rhai --only service2 --bind 0.0.0.0 \\
               --port service2=8000 --otlp-endpoint http://jaeger:4318
  tracelab run scenarios/jaeger.rhai --peer front-proxy=front:8000 ... \\
               --jaeger-url http://jaeger:16686 --otlp-endpoint http://jaeger:4318

Exit codes: 0 all checks passed, 1 a check failed, 2 the script or the
command line is wrong, 3 the infrastructure failed (a port, a collector),
130 interrupted (a Jaeger tracelab started is stopped first).
Scenario language: docs/scenarios.md";

#[derive(Debug, Parser)]
#[command(
    name = "tracelab",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// `tracelab FILE...` is `tracelab run FILE...`.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios and check their traces (the default).
    Run(RunArgs),
    /// Validate scenarios without starting anything.
    Check(CheckArgs),
    /// Serve some components of a scenario until SIGINT/SIGTERM (one
    /// machine's share of a topology spread over several).
    Serve(ServeArgs),
    /// Start a scenario's topology and the trace viewer, and keep them
    /// running until Ctrl-C (like `docker compose up` in the sandbox).
    Up(UpArgs),
    /// Find traces in a Jaeger query API (a running `tracelab up` by
    /// default) and print them as waterfalls.
    Traces(TracesArgs),
    /// Run the embedded collector alone until Ctrl-C: OTLP/HTTP and
    /// Zipkin in, Jaeger's query API and the trace viewer out, on Jaeger's
    /// ports.
    Collector(CollectorArgs),
}

#[derive(Debug, Args, Default)]
pub struct RunArgs {
    /// Scenario scripts to run, in order.
    #[arg(value_name = "SCENARIO")]
    pub files: Vec<PathBuf>,

    /// Read traces from this Jaeger query API (port 16686) instead of the
    /// embedded collector. Needs --otlp-endpoint.
    #[arg(long, value_name = "URL", env = "TRACELAB_JAEGER_URL")]
    pub jaeger_url: Option<String>,

    /// Export spans to this OTLP/HTTP endpoint (port 4318), e.g.
    /// http://localhost:4318. Needs --jaeger-url.
    #[arg(long, value_name = "URL", env = "TRACELAB_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Start this Jaeger v2 binary on free loopback ports for the run and
    /// stop it after (scripts/install-jaeger.sh builds one).
    #[arg(long, value_name = "PATH", env = "TRACELAB_JAEGER_BIN")]
    pub jaeger_bin: Option<PathBuf>,

    /// How long to wait for incomplete traces to grow before judging them
    /// (the wait starts over whenever more spans arrive).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_timeout: Option<Duration>,

    /// Listen on the ports scenarios fix (e.g. the sandbox's 8000) instead
    /// of free ones.
    #[arg(long)]
    pub fixed_ports: bool,

    /// Traces the embedded collector (or a started Jaeger) keeps before
    /// evicting the oldest.
    #[arg(long, value_name = "N")]
    pub max_traces: Option<usize>,

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

    /// Also write the report as `json` (docs/report.schema.json) or `junit`
    /// XML, to PATH, or to stdout without one (the terminal report then
    /// goes to stderr). Repeatable.
    #[arg(long = "report", value_name = "FORMAT[=PATH]", value_parser = ReportTarget::parse)]
    pub reports: Vec<ReportTarget>,

    /// Draw this trace as a waterfall, read from the collector, instead of
    /// each scenario's slowest.
    #[arg(long, value_name = "TRACE_ID")]
    pub show_trace: Option<String>,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// A component running elsewhere (e.g. `tracelab serve` on another
    /// machine): not started here; traffic and calls go to HOST:PORT.
    /// Repeatable. Needs --jaeger-url and --otlp-endpoint: the collector
    /// the peers export to.
    #[arg(long = "peer", value_name = "NAME=HOST:PORT", value_parser = parse_peer)]
    pub peers: Vec<(String, String)>,
}

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

    /// Export spans to this OTLP/HTTP endpoint (port 4318), e.g.
    /// http://jaeger:4318.
    #[arg(long, value_name = "URL", env = "TRACELAB_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario scripts to validate.
    #[arg(value_name = "SCENARIO", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The scenario whose topology to start (its traffic is not sent).
    #[arg(value_name = "SCENARIO")]
    pub file: PathBuf,

    /// Port of the trace viewer and the Jaeger query API.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_UI_PORT)]
    pub ui_port: u16,

    /// Port of the OTLP/HTTP receiver (POST /v1/traces).
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_OTLP_PORT)]
    pub otlp_port: u16,

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

    /// Switch tracing off: components create and export no spans and pass
    /// no trace context on (to measure what tracing costs).
    #[arg(long)]
    pub no_tracing: bool,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

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

fn parse_port_override(text: &str) -> Result<(String, u16), String> {
    let (name, port) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: write COMPONENT=PORT, e.g. front-proxy=8080"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("{port:?} is not a port (0 to 65535)"))?;
    Ok((name.to_string(), port))
}

/// `16MiB`, `512KB`, `1048576`: bytes, as `bytesize` reads them.
fn parse_size(text: &str) -> Result<ByteSize, String> {
    let size: ByteSize = text
        .parse()
        .map_err(|e| format!("{e} (write e.g. 16MiB, 512KB or a number of bytes)"))?;
    if size.as_u64() == 0 {
        return Err("the size must be above 0".into());
    }
    Ok(size)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 500ms, 10s)"))
}

/// `NAME=HOST:PORT` → (name, `host:port`).
fn parse_peer(text: &str) -> Result<(String, String), String> {
    let shape = || format!("{text:?}: write NAME=HOST:PORT, e.g. service2=10.0.0.2:8000");
    let (name, authority) = text.split_once('=').ok_or_else(shape)?;
    let (host, port) = authority.rsplit_once(':').ok_or_else(shape)?;
    if name.is_empty() || host.is_empty() || host.contains('/') {
        return Err(shape());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok((name.to_string(), authority.to_string())),
        _ => Err(format!("{text:?}: {port:?} is not a port (1-65535)")),
    }
}

/// `NAME=PORT` → (name, port).
fn parse_port(text: &str) -> Result<(String, u16), String> {
    let (name, port) = text
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| format!("{text:?}: write NAME=PORT, e.g. service1=8000"))?;
    let port = port
        .parse()
        .map_err(|_| format!("{text:?}: {port:?} is not a port (0-65535)"))?;
    Ok((name.to_string(), port))
}

/// Repeated flags into a map; a name given twice is a usage error.
fn by_name<V>(flag: &str, pairs: Vec<(String, V)>) -> Result<HashMap<String, V>, Error> {
    let mut map = HashMap::new();
    for (name, value) in pairs {
        if map.insert(name.clone(), value).is_some() {
            return Err(Error::Usage(format!("{flag} {name} is given twice")));
        }
    }
    Ok(map)
}

/// What to do, with every default settled.
#[derive(Debug)]
pub enum Mode {
    Run(RunOptions),
    Check(CheckOptions),
    Serve(ServeOptions),
    Up(UpOptions),
    Traces(TracesOptions),
    Collector(StandaloneOptions),
}

#[derive(Debug)]
pub struct RunOptions {
    pub files: Vec<PathBuf>,
    pub settings: RunSettings,
    pub verbosity: Verbosity,
    /// Reports to write besides the terminal one.
    pub reports: Vec<ReportTarget>,
}

#[derive(Debug)]
pub struct CheckOptions {
    pub files: Vec<PathBuf>,
}

impl Cli {
    pub fn into_mode(self) -> Result<Mode, Error> {
        match self.command {
            Some(Command::Check(args)) => Ok(Mode::Check(CheckOptions { files: args.files })),
            Some(Command::Run(args)) => run_mode(args),
            Some(Command::Serve(args)) => serve_mode(args),
            Some(Command::Up(args)) => up_mode(args),
            Some(Command::Traces(args)) => traces_mode(args),
            Some(Command::Collector(args)) => collector_mode(args),
            None => run_mode(self.run),
        }
    }
}

fn serve_mode(args: ServeArgs) -> Result<Mode, Error> {
    let config: Config = config::load(args.config.as_deref())?;
    let otlp = args
        .otlp_endpoint
        .or(config.collector.otlp_endpoint)
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
        otlp_traces_url: crate::backend::otlp_traces_url(&otlp),
    }))
}

fn up_mode(args: UpArgs) -> Result<Mode, Error> {
    let config: Config = config::load(args.config.as_deref())?;
    let collector = collector_config(args.max_traces, args.max_body_size, &config)?;
    Ok(Mode::Up(UpOptions {
        file: args.file,
        ui_port: args.ui_port,
        otlp_port: args.otlp_port,
        ports: args.ports,
        collector,
        tracing: !args.no_tracing,
    }))
}

fn collector_mode(args: CollectorArgs) -> Result<Mode, Error> {
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
fn collector_config(
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

fn traces_mode(args: TracesArgs) -> Result<Mode, Error> {
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

fn run_mode(args: RunArgs) -> Result<Mode, Error> {
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
    let collector = collector_config(args.max_traces, args.max_body_size, &config)?;
    let jaeger_url = args.jaeger_url.or(config.collector.jaeger_url);
    let otlp = args.otlp_endpoint.or(config.collector.otlp_endpoint);
    let jaeger_bin = args.jaeger_bin.or(config.collector.jaeger_bin);
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
        settings: RunSettings {
            backend,
            wait,
            fixed_ports: args.fixed_ports,
            peers,
            show_trace: args.show_trace,
        },
        verbosity,
        reports: args.reports,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Parse as the binary does, minus environment variables (the test
    /// environment may set TRACELAB_JAEGER_BIN).
    fn mode(args: &[&str]) -> Result<Mode, Error> {
        use clap::FromArgMatches;
        let command = Cli::command()
            .mut_args(|a| a.env(None))
            .mut_subcommands(|c| c.mut_args(|a| a.env(None)));
        let matches = command
            .try_get_matches_from(args)
            .map_err(|e| Error::Usage(e.to_string()))?;
        Cli::from_arg_matches(&matches)
            .map_err(|e| Error::Usage(e.to_string()))?
            .into_mode()
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_bare_file_runs_it_with_the_embedded_collector() {
        let Mode::Run(run) = mode(&["tracelab", "scenarios/jaeger.rhai"]).unwrap() else {
            panic!("not a run");
        };
        assert_eq!(run.files, [PathBuf::from("scenarios/jaeger.rhai")]);
        assert!(matches!(run.settings.backend, BackendChoice::Embedded(_)));
    }

    #[test]
    fn check_is_a_subcommand() {
        assert!(matches!(
            mode(&["tracelab", "check", "a.rhai"]).unwrap(),
            Mode::Check(_)
        ));
    }

    #[test]
    fn a_jaeger_url_without_an_otlp_endpoint_is_a_usage_error() {
        let err = mode(&[
            "tracelab",
            "run",
            "--jaeger-url",
            "http://j:16686",
            "a.rhai",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("needs --otlp-endpoint"));
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn no_scenario_is_a_usage_error_that_suggests_one() {
        let err = mode(&["tracelab"]).unwrap_err();
        assert!(err.to_string().contains("scenarios/jaeger.rhai"));
    }

    #[test]
    fn jaeger_bin_starts_a_jaeger_with_the_max_traces_asked_for() {
        let Mode::Run(run) = mode(&[
            "tracelab",
            "--jaeger-bin",
            "/opt/jaeger",
            "--max-traces",
            "50",
            "a.rhai",
        ])
        .unwrap() else {
            panic!("not a run");
        };
        let BackendChoice::JaegerBinary(settings) = run.settings.backend else {
            panic!("not a started Jaeger");
        };
        assert_eq!(settings.bin, PathBuf::from("/opt/jaeger"));
        assert_eq!(settings.max_traces, 50);
    }

    #[test]
    fn jaeger_bin_with_a_jaeger_url_is_a_usage_error() {
        let err = mode(&[
            "tracelab",
            "--jaeger-bin",
            "/opt/jaeger",
            "--jaeger-url",
            "http://j:16686",
            "--otlp-endpoint",
            "http://j:4318",
            "a.rhai",
        ])
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("give one or the other"), "{err}");
    }

    #[test]
    fn a_real_jaeger_gets_slower_polling() {
        let Mode::Run(run) = mode(&[
            "tracelab",
            "--jaeger-url",
            "http://j:16686",
            "--otlp-endpoint",
            "http://j:4318",
            "a.rhai",
        ])
        .unwrap() else {
            panic!("not a run");
        };
        assert!(matches!(
            run.settings.backend,
            BackendChoice::External { .. }
        ));
        assert_eq!(run.settings.wait.timeout, Duration::from_secs(30));
    }

    #[test]
    fn serve_takes_components_peers_ports_and_a_bind_address() {
        let Mode::Serve(serve) = mode(&[
            "tracelab",
            "serve",
            "scenarios/jaeger.rhai",
            "--only",
            "service1",
            "--peer",
            "service2=service2:8000",
            "--port",
            "service1=8000",
            "--bind",
            "0.0.0.0",
            "--otlp-endpoint",
            "http://jaeger:4318",
        ])
        .unwrap() else {
            panic!("not serve");
        };
        assert_eq!(serve.only, ["service1"]);
        assert_eq!(serve.peers["service2"], "service2:8000");
        assert_eq!(serve.ports["service1"], 8000);
        assert_eq!(serve.bind_ip.to_string(), "0.0.0.0");
        assert_eq!(serve.otlp_traces_url, "http://jaeger:4318/v1/traces");
    }

    #[test]
    fn serve_without_an_otlp_endpoint_is_a_usage_error() {
        // clap reads the flag's environment variable; only judge without it.
        if std::env::var_os("TRACELAB_OTLP_ENDPOINT").is_some() {
            return;
        }
        let err = mode(&["tracelab", "serve", "a.rhai"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains("serve needs --otlp-endpoint"),
            "{err}"
        );
    }

    #[test]
    fn a_peer_must_be_name_equals_host_colon_port() {
        assert_eq!(
            parse_peer("service2=10.0.0.2:8000").unwrap(),
            ("service2".to_string(), "10.0.0.2:8000".to_string())
        );
        assert!(parse_peer("[::1]:8000").is_err());
        assert!(parse_peer("service2=10.0.0.2").is_err());
        assert!(parse_peer("=h:1").is_err());
        assert!(parse_peer("s=http://h:1").is_err());
        assert!(parse_peer("s=h:0").unwrap_err().contains("not a port"));
        assert!(parse_peer("s=h:99999").unwrap_err().contains("not a port"));
    }

    #[test]
    fn a_peer_given_twice_is_a_usage_error() {
        let err = mode(&[
            "tracelab",
            "--jaeger-url",
            "http://j:16686",
            "--otlp-endpoint",
            "http://j:4318",
            "--peer",
            "service2=a:1",
            "--peer",
            "service2=b:1",
            "a.rhai",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("--peer service2 is given twice"));
    }

    #[test]
    fn peers_need_an_external_collector() {
        let err = mode(&["tracelab", "--peer", "service2=h:8000", "a.rhai"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains("--peer needs --jaeger-url"),
            "{err}"
        );
    }

    #[test]
    fn reports_are_repeatable_and_only_one_takes_stdout() {
        let Mode::Run(run) = mode(&[
            "tracelab",
            "--report",
            "json",
            "--report",
            "junit=out/junit.xml",
            "--show-trace",
            "abc",
            "a.rhai",
        ])
        .unwrap() else {
            panic!("not a run");
        };
        assert_eq!(
            run.reports,
            [
                ReportTarget {
                    format: Format::Json,
                    path: None
                },
                ReportTarget {
                    format: Format::Junit,
                    path: Some(PathBuf::from("out/junit.xml"))
                },
            ]
        );
        assert_eq!(run.settings.show_trace.as_deref(), Some("abc"));
        let err = mode(&["tracelab", "--report", "human", "a.rhai"]).unwrap_err();
        assert!(err.to_string().contains("give it a path"), "{err}");
        let err = mode(&["tracelab", "--report", "json=", "a.rhai"]).unwrap_err();
        assert!(err.to_string().contains("give a path after `=`"), "{err}");
    }

    #[test]
    fn up_listens_where_the_sandbox_and_jaeger_do_unless_moved() {
        let Mode::Up(up) = mode(&["tracelab", "up", "scenarios/jaeger.rhai"]).unwrap() else {
            panic!("not up");
        };
        assert_eq!((up.ui_port, up.otlp_port), (16686, 4318));
        assert!(up.ports.is_empty());
        let Mode::Up(up) = mode(&[
            "tracelab",
            "up",
            "--port",
            "front-proxy=8080",
            "--ui-port",
            "0",
            "s.rhai",
        ])
        .unwrap() else {
            panic!("not up");
        };
        assert_eq!(up.ports, [("front-proxy".to_string(), 8080)]);
        assert_eq!(up.ui_port, 0);
        let err = mode(&["tracelab", "up", "--port", "front-proxy", "s.rhai"]).unwrap_err();
        assert!(err.to_string().contains("write COMPONENT=PORT"), "{err}");
    }

    #[test]
    fn the_collector_listens_on_loopback_and_jaegers_ports_unless_told() {
        let Mode::Collector(c) = mode(&["tracelab", "collector"]).unwrap() else {
            panic!("not collector");
        };
        assert_eq!((c.ui_port, c.otlp_port), (16686, 4318));
        assert!(c.bind_ip.is_loopback());
        assert_eq!(c.collector.max_body_bytes, 16 * 1024 * 1024);
        let Mode::Collector(c) = mode(&[
            "tracelab",
            "collector",
            "--bind",
            "0.0.0.0",
            "--max-body-size",
            "64KiB",
            "--max-traces",
            "10",
        ])
        .unwrap() else {
            panic!("not collector");
        };
        assert!(c.bind_ip.is_unspecified());
        assert_eq!(c.collector.max_body_bytes, 64 * 1024);
        assert_eq!(c.collector.max_traces, 10);
    }

    #[test]
    fn a_body_size_limit_needs_a_size_above_zero() {
        let Mode::Run(run) = mode(&["tracelab", "--max-body-size", "1000", "a.rhai"]).unwrap()
        else {
            panic!("not a run");
        };
        let BackendChoice::Embedded(config) = run.settings.backend else {
            panic!("not embedded");
        };
        assert_eq!(config.max_body_bytes, 1000);
        for bad in ["0", "lots", "-5"] {
            let err = mode(&["tracelab", "--max-body-size", bad, "a.rhai"]).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn up_can_switch_tracing_off() {
        let Mode::Up(up) = mode(&["tracelab", "up", "s.rhai"]).unwrap() else {
            panic!("not up");
        };
        assert!(up.tracing);
        let Mode::Up(up) = mode(&["tracelab", "up", "--no-tracing", "s.rhai"]).unwrap() else {
            panic!("not up");
        };
        assert!(!up.tracing);
    }

    #[test]
    fn traces_read_a_local_up_by_default() {
        let Mode::Traces(t) = mode(&["tracelab", "traces", "--service", "front-proxy"]).unwrap()
        else {
            panic!("not traces");
        };
        assert_eq!(t.jaeger_url, "http://localhost:16686");
        assert_eq!(t.query.service, "front-proxy");
        assert_eq!(t.query.limit, Some(20));
        assert!(t.trace_id.is_none());
        let Mode::Traces(t) = mode(&[
            "tracelab",
            "traces",
            "--jaeger-url",
            "http://j:16686",
            "--min-duration",
            "2ms",
            "4bf92f3577b34da6",
        ])
        .unwrap() else {
            panic!("not traces");
        };
        assert_eq!(t.trace_id.as_deref(), Some("4bf92f3577b34da6"));
        assert_eq!(t.query.min_duration, Some(Duration::from_millis(2)));
        assert_eq!(t.jaeger_url, "http://j:16686");
    }
}
