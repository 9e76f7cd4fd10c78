//! The `tracelab` binary: parse the command line, run, map the result to an
//! exit code (see `tracelab --help`).

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use tracelab::cli::{Cli, Mode};
use tracelab::report::human::Verbosity;
use tracelab::report::progress::ProgressBars;
use tracelab::run::{Observer, Silent};

// mimalloc over glibc's malloc: a fifth of the mesh's CPU went to malloc
// and free, and glibc's per-thread arenas bloated the collector's memory
// (docs/benchmarks.md has the numbers). Wrapped to count what a scenario
// script holds: the sandbox's memory limit (tracelab::alloc).
#[global_allocator]
static ALLOCATOR: tracelab::alloc::Counting = tracelab::alloc::Counting(mimalloc::MiMalloc);

fn main() -> ExitCode {
    let mode = match Cli::parse().into_mode() {
        Ok(mode) => mode,
        Err(e) => return fail(&e),
    };
    let quiet = matches!(&mode, Mode::Run(r) if r.verbosity == Verbosity::Quiet);
    let observer: Arc<dyn Observer> = if quiet {
        Arc::new(Silent)
    } else {
        Arc::new(ProgressBars::new())
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            return fail(&tracelab::Error::Infra(format!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    match runtime.block_on(tracelab::execute(mode, observer)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => fail(&e),
    }
}

fn fail(error: &tracelab::Error) -> ExitCode {
    anstream::eprintln!("tracelab: error: {error}");
    ExitCode::from(error.exit_code())
}
