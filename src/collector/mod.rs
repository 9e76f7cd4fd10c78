//! The embedded collector: a Jaeger stand-in that needs no install.
//!
//! It receives OTLP/HTTP (`otlp`) and Zipkin v2 JSON (`zipkin`, what
//! Envoy's zipkin tracer sends), keeps spans in memory (`store`) and
//! answers Jaeger's query API (`query`, with Jaeger's adjusters in
//! `adjust`) byte for byte as Jaeger v2 does (Go's JSON and text in
//! `go_json` and `go_text`), so assertions read it exactly as they read a
//! real Jaeger; tests/conformance holds it to that against the real binary.
//! The mesh exports to it; the assertions query it. `viewer` serves a small
//! trace viewer for people, drawn by `crate::report::web` over the same
//! query API; `standalone` runs it alone (`tracelab collector`).

pub mod adjust;
pub mod go_json;
pub mod go_text;
pub mod http;
pub mod intake;
pub mod otlp;
pub mod query;
pub mod span;
pub mod standalone;
pub mod store;
pub mod viewer;
pub mod zipkin;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::http::CollectorHandler;
use self::store::Store;

/// Jaeger's memory storage default.
pub const DEFAULT_MAX_TRACES: usize = 100_000;
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct CollectorConfig {
    pub max_traces: usize,
    pub max_body_bytes: usize,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            max_traces: DEFAULT_MAX_TRACES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// A collector serving on one or more listeners until stopped.
pub struct RunningCollector {
    store: Arc<Store>,
    addrs: Vec<SocketAddr>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningCollector {
    /// Serve on already-bound listeners (the caller chose the ports, so a
    /// port in use is reported where it was bound).
    pub fn start(config: &CollectorConfig, listeners: Vec<TcpListener>) -> RunningCollector {
        let store = Arc::new(Store::new(config.max_traces));
        let handler = Arc::new(CollectorHandler {
            store: Arc::clone(&store),
            max_body_bytes: config.max_body_bytes,
        });
        let stop = CancellationToken::new();
        let mut addrs = Vec::new();
        let mut tasks = Vec::new();
        for listener in listeners {
            if let Ok(addr) = listener.local_addr() {
                addrs.push(addr);
            }
            let handler = Arc::clone(&handler);
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                crate::server::serve(listener, handler, stop.cancelled_owned()).await;
            }));
        }
        RunningCollector {
            store,
            addrs,
            stop,
            tasks,
        }
    }

    /// Bind `127.0.0.1:0` and serve there.
    pub async fn start_ephemeral(config: &CollectorConfig) -> std::io::Result<RunningCollector> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Ok(Self::start(config, vec![listener]))
    }

    /// The first listener's address: OTLP and the query API both answer there.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn otlp_traces_url(&self) -> String {
        format!("http://{}/v1/traces", self.addr())
    }

    pub fn max_traces(&self) -> usize {
        self.store.max_traces()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
