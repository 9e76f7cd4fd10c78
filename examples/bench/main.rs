//! The benchmark harness scripts/bench.sh drives (not a user-facing tool).
//!
//! - `hello`: a bare hyper HTTP/1.1 hello-world, the ceiling of this
//!   machine and the static endpoint the traffic generators share.
//! - `load`: tracelab's own traffic generator (`tracelab::traffic`, the
//!   code a scenario's `traffic(...)` runs) against a URL, closed model.
//! - `ingest`: pre-encoded OTLP/HTTP protobuf batches posted concurrently
//!   to a collector, then read back through its Jaeger query API.
//!
//! Each prints one JSON object on stdout for the script to tabulate.

mod hello;
mod ingest;
mod load;

use clap::{Parser, Subcommand};

// The allocator the tracelab binary uses, so `load` measures its
// generator as it runs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "tracelab's benchmark harness (see scripts/bench.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve `Hello, world!` on 127.0.0.1:PORT until killed.
    Hello {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// tracelab's traffic generator: N requests, C at a time.
    Load(load::LoadArgs),
    /// Post OTLP batches to a collector; time acceptance and read-back.
    Ingest(ingest::IngestArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match cli.command {
            Command::Hello { port } => hello::serve(port).await,
            Command::Load(args) => load::run(args).await,
            Command::Ingest(args) => ingest::run(args).await,
        }
    })
}
