//! The command line: clap options as typed, then [`Mode`], the one value the
//! rest of tracelab reads (flags > environment > `tracelab.toml` > defaults).
//!
//! One file per subcommand holds its flags and the function that settles
//! them into options: `run`, `serve`, `up`, `collector`, `traces`, `diff`,
//! `record`; `parse` has the value parsers they share.

mod collector;
mod diff;
mod parse;
mod record;
mod run;
mod serve;
mod traces;
mod up;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::collector::standalone::StandaloneOptions;
use crate::error::Error;
use crate::serve::ServeOptions;
use crate::traces::TracesOptions;
use crate::up::UpOptions;

pub use self::collector::CollectorArgs;
pub use self::diff::{DiffArgs, DiffOptions};
pub use self::record::{RecordArgs, RecordOptions};
pub use self::run::{RunArgs, RunOptions};
pub use self::serve::ServeArgs;
pub use self::traces::TracesArgs;
pub use self::up::UpArgs;

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
  tracelab diff main.json report.json     what got slower or started failing since main's run
  tracelab record scenarios/jaeger.rhai   write the trace shapes a run saw as expectations
                                          (scenarios/expected/jaeger.rhai) to import
  tracelab run --jaeger-bin \"$(scripts/install-jaeger.sh)\" scenarios/jaeger.rhai
                                          the same against a real Jaeger v2
  tracelab run --jaeger-url http://localhost:16686 \\
               --otlp-endpoint http://localhost:4318 scenarios/jaeger.rhai
  tracelab run --otlp-protocol grpc scenarios/jaeger-flask.rhai
                                          export over OTLP/gRPC (the app too)
  tracelab collector                      a Jaeger stand-in on 4317, 4318, 9411, 16686

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
    /// Run the embedded collector alone until Ctrl-C: OTLP (gRPC and
    /// HTTP) and Zipkin in, Jaeger's query API and the trace viewer out,
    /// on Jaeger all-in-one's ports.
    Collector(CollectorArgs),
    /// Compare two JSON reports: checks that changed, latency per traffic
    /// block and span name, spans and services that came or went; exit 1
    /// when something got worse.
    #[command(long_about = diff::DIFF_ABOUT, after_help = diff::DIFF_EXAMPLES)]
    Diff(DiffArgs),
    /// Run a scenario and write the trace shapes it saw as expectations
    /// (expected/<name>.rhai beside it) for the scenario to import.
    Record(RecordArgs),
}
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Scenario scripts to validate.
    #[arg(value_name = "SCENARIO", required = true)]
    pub files: Vec<PathBuf>,

    /// The size limit of a scenario and its modules together (default
    /// 4MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse::parse_size)]
    pub max_script_size: Option<bytesize::ByteSize>,

    /// Defaults file (else $TRACELAB_CONFIG, else ./tracelab.toml).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
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
    Diff(DiffOptions),
    Record(RecordOptions),
}
#[derive(Debug)]
pub struct CheckOptions {
    pub files: Vec<PathBuf>,
    pub script_limits: crate::scenario::load::Limits,
}
impl Cli {
    pub fn into_mode(self) -> Result<Mode, Error> {
        match self.command {
            Some(Command::Check(args)) => {
                let config = crate::config::load(args.config.as_deref())?;
                Ok(Mode::Check(CheckOptions {
                    files: args.files,
                    script_limits: run::script_limits(args.max_script_size, &config),
                }))
            }
            Some(Command::Run(args)) => run::run_mode(args),
            Some(Command::Serve(args)) => serve::serve_mode(args),
            Some(Command::Up(args)) => up::up_mode(args),
            Some(Command::Traces(args)) => traces::traces_mode(args),
            Some(Command::Collector(args)) => collector::collector_mode(args),
            Some(Command::Diff(args)) => diff::diff_mode(args),
            Some(Command::Record(args)) => record::record_mode(args),
            None => {
                if let Some(hint) = misspelt_command(&self.run.files) {
                    return Err(Error::Usage(hint));
                }
                run::run_mode(self.run)
            }
        }
    }
}

/// A bare `tracelab rnu x.rhai`: the first "scenario" is no file but a
/// command's name, misspelt.
fn misspelt_command(files: &[std::path::PathBuf]) -> Option<String> {
    let first = files.first()?.to_str()?;
    if std::path::Path::new(first).exists() || first.contains(['/', '.']) {
        return None;
    }
    let cli = <Cli as clap::CommandFactory>::command();
    let name = crate::suggest::nearest(first, cli.get_subcommands().map(|c| c.get_name()))?;
    Some(format!(
        "no scenario or command {first:?}: did you mean `tracelab {name}`? (see --help)"
    ))
}

#[cfg(test)]
mod tests;
