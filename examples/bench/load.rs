//! tracelab's traffic generator against any URL: the same code a
//! scenario's closed-model `traffic(...)` block runs (a fresh
//! `x-request-id` per request, a record per request handed to the
//! `on_done` callback and counted into the summary, as a run that judges
//! records as they come keeps them: not at all), without a mesh, so it can
//! be set beside oha on the same endpoint.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracelab::scenario::model::{IntegrityChecks, Origin, Traffic};
use tracelab::traffic::{self, Retain, RunOptions};

#[derive(Args)]
pub struct LoadArgs {
    /// e.g. http://127.0.0.1:8000/trace/1
    #[arg(long)]
    url: String,
    /// Requests in all.
    #[arg(short = 'n', long, default_value_t = 20_000)]
    requests: u64,
    /// Requests in flight (closed model workers).
    #[arg(short = 'c', long, default_value_t = 50)]
    concurrency: usize,
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let rest = args
        .url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("give an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let block = Traffic {
        name: "load".into(),
        target: "bench".into(),
        requests: args.requests,
        concurrency: args.concurrency,
        rate: None,
        method: "GET".into(),
        path: path.to_string(),
        headers: Vec::new(),
        body: String::new(),
        timeout: Duration::from_secs(10),
        trace_context: None,
        integrity: IntegrityChecks::default(),
        origin: Origin::default(),
    };
    let finished = traffic::run_until(
        &block,
        authority,
        Arc::new(|_| {}),
        &CancellationToken::new(),
        RunOptions {
            retain: Retain::Summary,
            ..RunOptions::default()
        },
    )
    .await;
    let summary = finished.summary;
    println!(
        "{}",
        json!({
            "requests": summary.requests,
            "errors": summary.errors,
            "elapsed_s": summary.elapsed_ms / 1000.0,
            "rps": summary.requests_per_second,
            "p50_ms": summary.latency_ms.p50,
            "p99_ms": summary.latency_ms.p99,
        })
    );
    Ok(())
}
