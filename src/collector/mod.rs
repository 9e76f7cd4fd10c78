//! The embedded collector: a Jaeger stand-in that needs no install.
//!
//! Spans come in through the intakes of [`intake`] (OTLP/HTTP, OTLP/gRPC,
//! Zipkin, ...), each on its listener's port ([`ports`]: Jaeger all-in-one's
//! by default, one shared free port in a run), served by [`http`] (HTTP/1.1
//! and HTTP/2 on one TCP socket) and [`udp`]. They are kept in memory
//! (`store`) and answered through Jaeger's query API (`query`, with
//! Jaeger's adjusters in `adjust`) byte for byte as Jaeger v2 does (Go's
//! JSON and text in `go_json` and `go_text`), so assertions read it exactly
//! as they read a real Jaeger; tests/conformance holds it to that against
//! the real binary. `viewer` serves a small trace viewer for people, drawn
//! by `crate::report::web` over the same query API; `standalone` runs it
//! alone (`tracelab collector`). The collector knows no scenarios: its
//! errors are its own ([`CollectorError`]).

pub mod adjust;
pub mod api_v3;
pub mod dependencies;
pub mod go_json;
pub mod go_text;
pub mod http;
pub mod intake;
pub mod ports;
pub mod query;
pub mod span;
pub mod standalone;
pub mod store;
pub mod udp;
pub mod viewer;

// Where these lived before the intakes had a folder of their own.
pub use intake::{otlp, zipkin};

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::http::Front;
use self::intake::{DatagramCounts, IntakeContext};
use self::ports::{Listener, PlannedSocket, PortPlan, Transport};
use self::store::Store;

/// Jaeger's memory storage default.
pub const DEFAULT_MAX_TRACES: usize = 100_000;
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How long a run's collector keeps a trace after it was read by id.
pub const DEFAULT_RELEASE_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct CollectorConfig {
    pub max_traces: usize,
    pub max_body_bytes: usize,
    /// Let a trace go this long after it was read by id (`/api/traces/{id}`,
    /// `/api/traces?traceID=...`, `/api/v3/traces/{id}`), unless spans
    /// arrived since. `None` (the default) keeps every trace, as Jaeger
    /// does: `tracelab up`, `tracelab collector` and the viewer need them.
    pub release_read_traces_after: Option<Duration>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            max_traces: DEFAULT_MAX_TRACES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            release_read_traces_after: None,
        }
    }
}

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error(
        "{what} cannot listen on {addr}: port {port} is already in use \
         (a Jaeger, or another tracelab?); choose another with {flag} PORT",
        port = addr.port()
    )]
    PortInUse {
        what: String,
        addr: SocketAddr,
        flag: String,
    },
    #[error("{what} cannot listen on {addr}: {source}")]
    Bind {
        what: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Sockets bound for the collector, not yet served: binding first lets a
/// caller report a taken port before starting anything else.
pub struct BoundSockets {
    sockets: Vec<(Vec<Listener>, BoundSocket)>,
}

enum BoundSocket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

impl BoundSockets {
    /// Bind every planned socket that has something to serve (see
    /// [`intake::serves`]); a taken port names the flag that moves it.
    pub async fn bind(plan: &PortPlan) -> Result<BoundSockets, CollectorError> {
        let mut sockets = Vec::new();
        for planned in &plan.sockets {
            let listeners: Vec<Listener> = planned
                .listeners
                .iter()
                .copied()
                .filter(|l| intake::serves(*l))
                .collect();
            if listeners.is_empty() {
                continue;
            }
            let socket = bind_socket(plan.ip, planned, &listeners).await?;
            sockets.push((listeners, socket));
        }
        Ok(BoundSockets { sockets })
    }
}

async fn bind_socket(
    ip: IpAddr,
    planned: &PlannedSocket,
    listeners: &[Listener],
) -> Result<BoundSocket, CollectorError> {
    let addr = SocketAddr::new(ip, planned.port);
    let bound = match planned.transport {
        Transport::Tcp => TcpListener::bind(addr).await.map(BoundSocket::Tcp),
        Transport::Udp => UdpSocket::bind(addr).await.map(BoundSocket::Udp),
    };
    let what = || {
        listeners
            .iter()
            .map(|l| l.title())
            .collect::<Vec<_>>()
            .join(" and ")
    };
    bound.map_err(|source| match source.kind() {
        std::io::ErrorKind::AddrInUse => CollectorError::PortInUse {
            what: what(),
            addr,
            flag: listeners
                .iter()
                .map(|l| l.flag())
                .collect::<Vec<_>>()
                .join(" or "),
        },
        _ => CollectorError::Bind {
            what: what(),
            addr,
            source,
        },
    })
}

/// A collector serving until stopped.
pub struct RunningCollector {
    intake: Arc<IntakeContext>,
    /// Each served listener's address (listeners sharing a socket share one).
    addrs: BTreeMap<Listener, SocketAddr>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningCollector {
    /// Serve on already-bound sockets.
    pub fn start(config: &CollectorConfig, bound: BoundSockets) -> RunningCollector {
        let store = Arc::new(Store::with_release(
            config.max_traces,
            config.release_read_traces_after,
        ));
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        if let Some(linger) = config.release_read_traces_after {
            tasks.push(tokio::spawn(sweep(
                Arc::clone(&store),
                linger,
                stop.clone(),
            )));
        }
        let intake = Arc::new(IntakeContext::new(store, config.max_body_bytes));
        let udp_routes = intake::udp_routes();
        let mut addrs = BTreeMap::new();
        for (listeners, socket) in bound.sockets {
            let addr = match &socket {
                BoundSocket::Tcp(s) => s.local_addr(),
                BoundSocket::Udp(s) => s.local_addr(),
            };
            if let Ok(addr) = addr {
                addrs.extend(listeners.iter().map(|&l| (l, addr)));
            }
            let shutdown = stop.clone().cancelled_owned();
            match socket {
                BoundSocket::Tcp(tcp) => {
                    let front = Arc::new(Front::new(Arc::clone(&intake), &listeners));
                    tasks.push(tokio::spawn(http::serve(tcp, front, shutdown)));
                }
                BoundSocket::Udp(socket) => {
                    let listener = listeners[0];
                    let route = udp_routes
                        .iter()
                        .find(|r| r.listener == listener)
                        .expect("only served UDP listeners are bound");
                    tasks.push(tokio::spawn(udp::serve(
                        socket,
                        listener,
                        route.handle,
                        Arc::clone(&intake),
                        shutdown,
                    )));
                }
            }
        }
        RunningCollector {
            intake,
            addrs,
            stop,
            tasks,
        }
    }

    /// What a run uses: loopback, every TCP intake and the query API on one
    /// free port, each UDP intake on a free port of its own.
    pub async fn start_ephemeral(
        config: &CollectorConfig,
    ) -> Result<RunningCollector, CollectorError> {
        let bound = BoundSockets::bind(&PortPlan::shared_loopback()).await?;
        Ok(Self::start(config, bound))
    }

    /// Where a listener answers, if it is served.
    pub fn addr_of(&self, listener: Listener) -> Option<SocketAddr> {
        self.addrs.get(&listener).copied()
    }

    /// Every served listener and its address.
    pub fn addrs(&self) -> &BTreeMap<Listener, SocketAddr> {
        &self.addrs
    }

    /// The query API's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr_of(Listener::Query)
            .expect("the query API is always served")
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub fn otlp_traces_url(&self) -> String {
        let addr = self.addr_of(Listener::OtlpHttp).unwrap_or(self.addr());
        format!("http://{addr}/v1/traces")
    }

    /// Zipkin's `POST /api/v2/spans` (on the OTLP/HTTP port if Zipkin's
    /// own is not served).
    pub fn zipkin_spans_url(&self) -> String {
        let addr = self
            .addr_of(Listener::Zipkin)
            .or(self.addr_of(Listener::OtlpHttp))
            .unwrap_or(self.addr());
        format!("http://{addr}/api/v2/spans")
    }

    /// The OTLP/gRPC endpoint, as exporters take it (`http://host:port`).
    pub fn otlp_grpc_url(&self) -> String {
        let addr = self.addr_of(Listener::OtlpGrpc).unwrap_or(self.addr());
        format!("http://{addr}")
    }

    pub fn max_traces(&self) -> usize {
        self.intake.store.max_traces()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.intake.store
    }

    /// Datagrams each UDP listener received and dropped so far.
    pub fn datagrams(&self) -> BTreeMap<Listener, DatagramCounts> {
        self.intake.stats.datagrams()
    }

    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Release read traces as they come due, a few times per linger.
async fn sweep(store: Arc<Store>, linger: Duration, stop: CancellationToken) {
    let period = (linger / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => store.sweep(std::time::Instant::now()),
        }
    }
}
