//! The command line: clap options as typed, then [`Mode`], the one value the
//! rest of tracelab reads (flags > environment > `tracelab.toml` > defaults).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::assert::gather::WaitSettings;
use crate::backend::BackendChoice;
use crate::backend::jaeger_process::JaegerSettings;
use crate::collector::CollectorConfig;
use crate::config::{self, Config, VerbosityName};
use crate::error::Error;
use crate::report::human::Verbosity;
use crate::run::RunSettings;

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
  tracelab run --jaeger-bin \"$(scripts/install-jaeger.sh)\" scenarios/jaeger.rhai
                                          the same against a real Jaeger v2
  tracelab run --jaeger-url http://localhost:16686 \\
               --otlp-endpoint http://localhost:4318 scenarios/jaeger.rhai

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

    /// How long to wait for traces to arrive complete before judging them.
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

    /// Only print failures and the verdict.
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also list passing integrity checks and span delivery counts.
    #[arg(short, long)]
    pub verbose: bool,

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

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| format!("{e} (write e.g. 500ms, 10s)"))
}

/// What to do, with every default settled.
#[derive(Debug)]
pub enum Mode {
    Run(RunOptions),
    Check(CheckOptions),
}

#[derive(Debug)]
pub struct RunOptions {
    pub files: Vec<PathBuf>,
    pub settings: RunSettings,
    pub verbosity: Verbosity,
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
            None => run_mode(self.run),
        }
    }
}

fn run_mode(args: RunArgs) -> Result<Mode, Error> {
    if args.files.is_empty() {
        return Err(Error::Usage(
            "no scenario given: try `tracelab scenarios/jaeger.rhai` (see --help)".into(),
        ));
    }
    let config: Config = config::load(args.config.as_deref())?;
    let jaeger_url = args.jaeger_url.or(config.collector.jaeger_url);
    let otlp = args.otlp_endpoint.or(config.collector.otlp_endpoint);
    let jaeger_bin = args.jaeger_bin.or(config.collector.jaeger_bin);
    let mut collector = CollectorConfig::default();
    if let Some(max) = args.max_traces.or(config.collector.max_traces) {
        if max == 0 {
            return Err(Error::Usage("--max-traces must be at least 1".into()));
        }
        collector.max_traces = max;
    }
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
        },
        verbosity,
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
}
