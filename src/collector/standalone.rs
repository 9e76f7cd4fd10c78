//! `tracelab collector`: the embedded collector on its own, serving until
//! SIGINT/SIGTERM. OTLP/HTTP (and Zipkin v2 JSON) in on one port, Jaeger's
//! query API and the trace viewer on another, on Jaeger's ports by default
//! and on loopback unless told otherwise: a Jaeger stand-in for programs
//! instrumented elsewhere, and the process the benchmarks load.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpListener;

use super::{CollectorConfig, RunningCollector};
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct StandaloneOptions {
    pub bind_ip: IpAddr,
    /// The query API and the trace viewer (Jaeger's 16686).
    pub ui_port: u16,
    /// OTLP/HTTP `POST /v1/traces` and Zipkin `POST /api/v2/spans` (4318).
    pub otlp_port: u16,
    pub collector: CollectorConfig,
}

/// What a stopped collector held, for its last words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub traces: usize,
    pub spans: u64,
    pub evicted_traces: u64,
}

/// Bind both ports (a taken one is exit 3, naming the flag that moves it),
/// then serve.
pub async fn start(options: &StandaloneOptions) -> Result<RunningCollector, Error> {
    let mut listeners = vec![
        bind(
            options.bind_ip,
            options.ui_port,
            "the query API",
            "--ui-port",
        )
        .await?,
    ];
    // Equal non-zero ports share one listener: both answer OTLP and the API.
    if options.otlp_port != options.ui_port || options.otlp_port == 0 {
        listeners.push(
            bind(
                options.bind_ip,
                options.otlp_port,
                "the OTLP receiver",
                "--otlp-port",
            )
            .await?,
        );
    }
    Ok(RunningCollector::start(&options.collector, listeners))
}

/// Bind `ip:port` for one of the collector's jobs; the error names the
/// flag that moves it.
pub async fn bind(ip: IpAddr, port: u16, what: &str, flag: &str) -> Result<TcpListener, Error> {
    let addr = SocketAddr::new(ip, port);
    TcpListener::bind(addr).await.map_err(|e| {
        Error::Infra(match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "{what} cannot listen on {addr}: port {port} is already in use \
                 (a Jaeger, or another tracelab?); choose another with {flag} PORT"
            ),
            _ => format!("{what} cannot listen on {addr}: {e}"),
        })
    })
}

/// Where the collector listens, for the terminal.
pub fn describe(collector: &RunningCollector) -> String {
    let ui = collector.addrs()[0];
    let otlp = *collector.addrs().last().expect("one listener at least");
    let mut out = String::from("tracelab collector is up\n");
    let _ = writeln!(out, "  OTLP/HTTP     http://{otlp}/v1/traces");
    let _ = writeln!(out, "  Zipkin v2     http://{otlp}/api/v2/spans");
    let _ = writeln!(out, "  query API     http://{ui}/api/services");
    let _ = writeln!(out, "  trace viewer  http://{ui}/");
    let _ = writeln!(
        out,
        "  keeps {} traces at most; SIGINT (Ctrl-C) or SIGTERM stops",
        collector.max_traces()
    );
    out
}

/// Stop serving (requests in flight finish) and say what was held.
pub async fn stop(collector: RunningCollector) -> Held {
    let stats = collector.store().stats();
    collector.stop().await;
    Held {
        traces: stats.traces,
        spans: stats.spans,
        evicted_traces: stats.evicted_traces,
    }
}

pub fn describe_stopped(held: &Held) -> String {
    let mut out = format!(
        "stopped: the collector held {} traces ({} spans received)\n",
        held.traces, held.spans
    );
    if held.evicted_traces > 0 {
        let _ = writeln!(
            out,
            "warning: {} older traces were evicted (max traces reached); raise --max-traces",
            held.evicted_traces
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[tokio::test]
    async fn a_taken_port_names_the_flag_that_moves_it() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let options = StandaloneOptions {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ui_port: 0,
            otlp_port: port,
            collector: CollectorConfig::default(),
        };
        let err = start(&options).await.err().expect("the port is taken");
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.to_string().contains(&format!(
                "the OTLP receiver cannot listen on 127.0.0.1:{port}"
            )) && err.to_string().contains("--otlp-port"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn it_listens_on_loopback_unless_told_otherwise() {
        let options = StandaloneOptions {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ui_port: 0,
            otlp_port: 0,
            collector: CollectorConfig::default(),
        };
        let collector = start(&options).await.unwrap();
        assert_eq!(collector.addrs().len(), 2);
        assert!(collector.addrs().iter().all(|a| a.ip().is_loopback()));
        let text = describe(&collector);
        assert!(text.contains("/v1/traces") && text.contains("/api/services"));
        let held = stop(collector).await;
        assert_eq!(held.traces, 0);
    }
}
