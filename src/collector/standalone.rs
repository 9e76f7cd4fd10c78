//! `tracelab collector`: the embedded collector on its own, serving until
//! SIGINT/SIGTERM. Every intake on its Jaeger all-in-one port (OTLP/gRPC
//! 4317, OTLP/HTTP 4318, Zipkin 9411, ...), Jaeger's query API and the
//! trace viewer on 16686, each movable by a flag, on loopback unless told
//! otherwise: a Jaeger stand-in for programs instrumented elsewhere, and
//! the process the benchmarks load.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::intake;
use super::ports::{Listener, PortPlan};
use super::{BoundSockets, CollectorConfig, CollectorError, RunningCollector};

#[derive(Debug, Clone)]
pub struct StandaloneOptions {
    pub bind_ip: IpAddr,
    /// Listeners moved off Jaeger's default port (0: a free one).
    pub ports: BTreeMap<Listener, u16>,
    pub collector: CollectorConfig,
}

/// What a stopped collector held, for its last words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub traces: usize,
    pub spans: u64,
    pub evicted_traces: u64,
    /// Per UDP listener: datagrams dropped, and why the last one was.
    pub dropped_datagrams: Vec<(Listener, u64, Option<String>)>,
}

/// Bind every port (a taken one names the flag that moves it), then serve.
pub async fn start(options: &StandaloneOptions) -> Result<RunningCollector, CollectorError> {
    let plan = PortPlan::jaeger_defaults(options.bind_ip, &options.ports);
    let bound = BoundSockets::bind(&plan).await?;
    Ok(RunningCollector::start(&options.collector, bound))
}

/// Where each intake listens and what it takes, for the terminal.
pub fn describe(collector: &RunningCollector) -> String {
    let mut out = String::from("tracelab collector is up\n");
    for (listener, addr) in collector.addrs() {
        for (name, url) in endpoints(*listener, *addr) {
            let _ = writeln!(out, "  {name:<16}{url}");
        }
    }
    let _ = writeln!(
        out,
        "  keeps {} traces at most; SIGINT (Ctrl-C) or SIGTERM stops",
        collector.max_traces()
    );
    out
}

/// What a listener answers: a name and a URL for each thing.
pub fn endpoints(listener: Listener, addr: std::net::SocketAddr) -> Vec<(&'static str, String)> {
    match listener {
        Listener::Query => vec![
            ("query API", format!("http://{addr}/api/services")),
            ("trace viewer", format!("http://{addr}/")),
        ],
        Listener::OtlpGrpc => vec![("OTLP/gRPC", format!("http://{addr}"))],
        Listener::OtlpHttp => vec![("OTLP/HTTP", format!("http://{addr}/v1/traces"))],
        Listener::Zipkin => vec![("Zipkin", format!("http://{addr}/api/v2/spans"))],
        Listener::JaegerGrpc => vec![("Jaeger gRPC", format!("http://{addr}"))],
        Listener::JaegerThriftHttp => vec![("Jaeger thrift", format!("http://{addr}/api/traces"))],
        Listener::JaegerCompact => vec![("Jaeger compact", format!("udp://{addr}"))],
        Listener::JaegerBinary => vec![("Jaeger binary", format!("udp://{addr}"))],
    }
}

/// The intakes not served yet, for `--help` and docs.
pub fn unserved() -> Vec<Listener> {
    Listener::ALL
        .into_iter()
        .filter(|l| !intake::serves(*l))
        .collect()
}

/// Stop serving (requests in flight finish) and say what was held.
pub async fn stop(collector: RunningCollector) -> Held {
    let stats = collector.store().stats();
    let dropped_datagrams = collector
        .datagrams()
        .into_iter()
        .filter(|(_, counts)| counts.dropped > 0)
        .map(|(listener, counts)| (listener, counts.dropped, counts.last_error))
        .collect();
    collector.stop().await;
    Held {
        traces: stats.traces,
        spans: stats.spans,
        evicted_traces: stats.evicted_traces,
        dropped_datagrams,
    }
}

/// Says when a UDP listener drops datagrams, as they are dropped: one line
/// per listener per call however many fell in between (a flood of junk
/// is a line a second, not a line a datagram).
#[derive(Debug, Default)]
pub struct DropLog {
    reported: BTreeMap<Listener, u64>,
}

impl DropLog {
    /// Lines for the datagrams dropped since the last call.
    pub fn news(&mut self, collector: &RunningCollector) -> Vec<String> {
        let mut lines = Vec::new();
        for (listener, counts) in collector.datagrams() {
            let reported = self.reported.entry(listener).or_default();
            if counts.dropped > *reported {
                let new = counts.dropped - *reported;
                *reported = counts.dropped;
                lines.push(format!(
                    "tracelab collector: {listener} dropped {new} datagram{} it could not read \
                     ({} dropped, {} received in all){}",
                    if new == 1 { "" } else { "s" },
                    counts.dropped,
                    counts.received,
                    counts
                        .last_error
                        .map(|e| format!("; the last: {e}"))
                        .unwrap_or_default()
                ));
            }
        }
        lines
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
    for (listener, dropped, last_error) in &held.dropped_datagrams {
        let _ = writeln!(
            out,
            "warning: {listener} dropped {dropped} datagrams it could not read{}",
            last_error
                .as_ref()
                .map(|e| format!(" (the last: {e})"))
                .unwrap_or_default()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn all_free() -> BTreeMap<Listener, u16> {
        Listener::ALL.iter().map(|&l| (l, 0)).collect()
    }

    #[tokio::test]
    async fn a_taken_port_names_the_flag_that_moves_it() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let mut ports = all_free();
        ports.insert(Listener::OtlpHttp, port);
        let options = StandaloneOptions {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports,
            collector: CollectorConfig::default(),
        };
        let err = start(&options).await.err().expect("the port is taken");
        assert!(
            err.to_string().contains(&format!(
                "the OTLP/HTTP receiver cannot listen on 127.0.0.1:{port}: port {port} is already in use"
            )) && err.to_string().contains("--otlp-port PORT"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn dropped_datagrams_are_said_once_each_with_the_count_and_the_reason() {
        let options = StandaloneOptions {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: all_free(),
            collector: CollectorConfig::default(),
        };
        let collector = start(&options).await.unwrap();
        let agent = collector.addr_of(Listener::JaegerCompact).unwrap();
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..3 {
            socket.send_to(b"junk", agent).await.unwrap();
        }
        let mut log = DropLog::default();
        let mut lines = Vec::new();
        for _ in 0..500 {
            lines.extend(log.news(&collector));
            let counts = collector.datagrams();
            if counts
                .get(&Listener::JaegerCompact)
                .is_some_and(|c| c.dropped == 3)
            {
                lines.extend(log.news(&collector));
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let said = lines.join("\n");
        assert!(
            said.contains("the Jaeger agent (compact thrift, UDP) dropped"),
            "{said}"
        );
        assert!(
            said.contains("(3 dropped, 3 received in all); the last: "),
            "{said}"
        );
        assert!(log.news(&collector).is_empty(), "nothing new, nothing said");
        let held = stop(collector).await;
        assert_eq!(held.dropped_datagrams[0].1, 3);
    }

    #[tokio::test]
    async fn it_listens_on_loopback_unless_told_otherwise_and_says_where() {
        let options = StandaloneOptions {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: all_free(),
            collector: CollectorConfig::default(),
        };
        let collector = start(&options).await.unwrap();
        for listener in [
            Listener::Query,
            Listener::OtlpGrpc,
            Listener::OtlpHttp,
            Listener::Zipkin,
        ] {
            assert!(collector.addr_of(listener).is_some(), "{listener:?}");
        }
        assert!(collector.addrs().values().all(|a| a.ip().is_loopback()));
        let text = describe(&collector);
        for wanted in ["/v1/traces", "/api/services", "OTLP/gRPC", "/api/v2/spans"] {
            assert!(text.contains(wanted), "{wanted}: {text}");
        }
        let held = stop(collector).await;
        assert_eq!(held.traces, 0);
    }
}
