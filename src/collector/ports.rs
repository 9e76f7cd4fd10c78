//! The collector's listeners, as Jaeger v2 all-in-one has them: what each
//! one takes, its default port, the flag that moves it, and how ports are
//! planned (Jaeger's defaults for `tracelab collector` and `tracelab up`,
//! free loopback ports for a run).
//!
//! Every TCP listener speaks HTTP/1.1 and HTTP/2 (gRPC is HTTP/2 with
//! `content-type: application/grpc`), so listeners given the same port
//! share one socket and answer for all of them: a run serves every TCP
//! intake and the query API on one free port.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// One of the collector's jobs, each on its own port by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Listener {
    /// Jaeger's query API (`/api/...`, `/api/v3/...`) and the trace viewer.
    Query,
    /// OTLP/gRPC `TraceService/Export`.
    OtlpGrpc,
    /// OTLP/HTTP `POST /v1/traces`.
    OtlpHttp,
    /// Zipkin `POST /api/v2/spans` (and `/api/v1/spans`).
    Zipkin,
    /// Jaeger's gRPC collector API (`jaeger.api_v2.CollectorService`).
    JaegerGrpc,
    /// Jaeger thrift over HTTP, `POST /api/traces`.
    JaegerThriftHttp,
    /// Jaeger agent UDP, compact thrift.
    JaegerCompact,
    /// Jaeger agent UDP, binary thrift.
    JaegerBinary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// HTTP/1.1 and HTTP/2 (gRPC) on one socket.
    Tcp,
    Udp,
}

impl Listener {
    pub const ALL: [Listener; 8] = [
        Listener::Query,
        Listener::OtlpGrpc,
        Listener::OtlpHttp,
        Listener::Zipkin,
        Listener::JaegerGrpc,
        Listener::JaegerThriftHttp,
        Listener::JaegerCompact,
        Listener::JaegerBinary,
    ];

    /// Jaeger v2 all-in-one's port.
    pub fn default_port(self) -> u16 {
        match self {
            Listener::Query => 16686,
            Listener::OtlpGrpc => 4317,
            Listener::OtlpHttp => 4318,
            Listener::Zipkin => 9411,
            Listener::JaegerGrpc => 14250,
            Listener::JaegerThriftHttp => 14268,
            Listener::JaegerCompact => 6831,
            Listener::JaegerBinary => 6832,
        }
    }

    /// The command-line flag that moves it (`tracelab collector`, `up`).
    pub fn flag(self) -> &'static str {
        match self {
            Listener::Query => "--ui-port",
            Listener::OtlpGrpc => "--otlp-grpc-port",
            Listener::OtlpHttp => "--otlp-port",
            Listener::Zipkin => "--zipkin-port",
            Listener::JaegerGrpc => "--jaeger-grpc-port",
            Listener::JaegerThriftHttp => "--jaeger-http-port",
            Listener::JaegerCompact => "--jaeger-compact-port",
            Listener::JaegerBinary => "--jaeger-binary-port",
        }
    }

    pub fn transport(self) -> Transport {
        match self {
            Listener::JaegerCompact | Listener::JaegerBinary => Transport::Udp,
            _ => Transport::Tcp,
        }
    }

    /// What it is, for messages ("the OTLP/gRPC receiver cannot listen ...").
    pub fn title(self) -> &'static str {
        match self {
            Listener::Query => "the trace viewer",
            Listener::OtlpGrpc => "the OTLP/gRPC receiver",
            Listener::OtlpHttp => "the OTLP/HTTP receiver",
            Listener::Zipkin => "the Zipkin receiver",
            Listener::JaegerGrpc => "the Jaeger gRPC receiver",
            Listener::JaegerThriftHttp => "the Jaeger thrift HTTP receiver",
            Listener::JaegerCompact => "the Jaeger agent (compact thrift, UDP)",
            Listener::JaegerBinary => "the Jaeger agent (binary thrift, UDP)",
        }
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// Listeners that share one socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedSocket {
    pub transport: Transport,
    /// 0: a free one.
    pub port: u16,
    pub listeners: Vec<Listener>,
}

/// Where the collector listens: an address and its sockets. Listeners with
/// nothing registered to serve them (see [`super::intake`]) are skipped
/// when binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortPlan {
    pub ip: IpAddr,
    pub sockets: Vec<PlannedSocket>,
}

impl PortPlan {
    /// Each listener on the port given (0: a free one of its own);
    /// listeners of one transport given the same non-zero port share it.
    pub fn new(ip: IpAddr, ports: &BTreeMap<Listener, u16>) -> PortPlan {
        let mut sockets: Vec<PlannedSocket> = Vec::new();
        for (&listener, &port) in ports {
            let transport = listener.transport();
            match sockets
                .iter_mut()
                .find(|s| port != 0 && s.port == port && s.transport == transport)
            {
                Some(socket) => socket.listeners.push(listener),
                None => sockets.push(PlannedSocket {
                    transport,
                    port,
                    listeners: vec![listener],
                }),
            }
        }
        PortPlan { ip, sockets }
    }

    /// Jaeger all-in-one's ports, each moved where `moved` says.
    pub fn jaeger_defaults(ip: IpAddr, moved: &BTreeMap<Listener, u16>) -> PortPlan {
        let ports = Listener::ALL
            .iter()
            .map(|&l| (l, moved.get(&l).copied().unwrap_or(l.default_port())))
            .collect();
        PortPlan::new(ip, &ports)
    }

    /// What a run uses: loopback, every TCP listener on one free port,
    /// each UDP listener on a free port of its own.
    pub fn shared_loopback() -> PortPlan {
        let mut tcp = Vec::new();
        let mut sockets = Vec::new();
        for listener in Listener::ALL {
            match listener.transport() {
                Transport::Tcp => tcp.push(listener),
                Transport::Udp => sockets.push(PlannedSocket {
                    transport: Transport::Udp,
                    port: 0,
                    listeners: vec![listener],
                }),
            }
        }
        sockets.insert(
            0,
            PlannedSocket {
                transport: Transport::Tcp,
                port: 0,
                listeners: tcp,
            },
        );
        PortPlan {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            sockets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaeger_defaults_give_every_listener_its_own_port() {
        let plan = PortPlan::jaeger_defaults(IpAddr::V4(Ipv4Addr::LOCALHOST), &BTreeMap::new());
        assert_eq!(plan.sockets.len(), Listener::ALL.len());
        let ports: Vec<u16> = plan.sockets.iter().map(|s| s.port).collect();
        assert_eq!(ports, [16686, 4317, 4318, 9411, 14250, 14268, 6831, 6832]);
    }

    #[test]
    fn equal_ports_share_a_socket_of_one_transport_and_zero_never_does() {
        let moved = BTreeMap::from([
            (Listener::OtlpHttp, 16686),
            (Listener::OtlpGrpc, 0),
            (Listener::Zipkin, 0),
            // UDP 16686 is another socket than TCP 16686.
            (Listener::JaegerCompact, 16686),
        ]);
        let plan = PortPlan::jaeger_defaults(IpAddr::V4(Ipv4Addr::LOCALHOST), &moved);
        let query = &plan.sockets[0];
        assert_eq!(query.listeners, [Listener::Query, Listener::OtlpHttp]);
        let free: Vec<_> = plan.sockets.iter().filter(|s| s.port == 0).collect();
        assert_eq!(free.len(), 2);
        assert!(
            plan.sockets
                .iter()
                .any(|s| s.transport == Transport::Udp && s.port == 16686)
        );
    }

    #[test]
    fn a_run_serves_every_tcp_listener_on_one_free_port() {
        let plan = PortPlan::shared_loopback();
        assert_eq!(plan.sockets[0].transport, Transport::Tcp);
        assert_eq!(plan.sockets[0].listeners.len(), 6);
        assert!(plan.sockets.iter().all(|s| s.port == 0));
        assert_eq!(plan.sockets.len(), 3);
    }
}
