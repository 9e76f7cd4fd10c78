//! Every way spans come in, each wire format in its own module, all ending
//! in one span model ([`crate::collector::span::StoredSpan`], built by
//! [`otlp::translate`] from OTLP protobuf read in place, [`otlp_wire`])
//! and one store.
//!
//! # Plugging in an intake
//! An intake is a function registered below in [`http_routes`],
//! [`grpc_routes`] or [`udp_routes`], tied to the [`Listener`] whose port
//! it answers on (Jaeger's default ports; see [`crate::collector::ports`]):
//!
//! - HTTP: an [`HttpRoute`]: a path (or `None`: every path the socket
//!   serves no other way, as Jaeger's zipkin receiver answers any path),
//!   and an [`HttpIntake`] function that gets the request and the
//!   [`IntakeContext`]. [`IntakeContext::read_body`] reads the body with
//!   its `Content-Encoding` undone and the size limit held after
//!   decompression; [`IntakeContext::store`] stores translated spans.
//! - gRPC: a [`GrpcRoute`] whose function builds a [`GrpcService`], one
//!   unary method answered by a function ([`grpc_unary::service`]) given
//!   the request message's bytes;
//!   requests are routed by service name, on HTTP/2 with
//!   `content-type: application/grpc`.
//! - UDP: a [`UdpRoute`] whose function gets each datagram; an `Err` drops
//!   it, counted per listener (the standalone collector logs the counts).
//!
//! A listener with nothing registered is not bound. Refusals are
//! [`Refusal`]s: each intake answers them in its protocol's words
//! ([`Refusal::http_status`], [`Refusal::grpc_code`]).

pub mod encoding;
pub mod grpc_unary;
pub mod jaeger_grpc;
pub mod jaeger_http;
pub mod jaeger_model;
pub mod jaeger_thrift;
pub mod jaeger_udp;
pub mod otlp;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod otlp_wire;
pub mod pdata_map;
pub mod zipkin;
pub mod zipkin_http;
pub mod zipkin_proto;
pub mod zipkin_v1;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};

use super::ports::Listener;
use super::span::StoredSpan;
use super::store::Store;
use crate::server::Body;

/// A boxed future borrowing the context, so intakes are plain functions.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An HTTP intake: the whole request in, the whole answer out.
pub type HttpIntake =
    for<'a> fn(Request<Incoming>, &'a IntakeContext) -> BoxFuture<'a, Response<Body>>;

/// A UDP intake: one datagram; `Ok` with the spans stored, `Err` drops it.
pub type UdpIntake = fn(&[u8], &IntakeContext) -> Result<usize, Refusal>;

/// `POST` (or any method) on `path` of a listener.
#[derive(Clone, Copy)]
pub struct HttpRoute {
    pub listener: Listener,
    /// `None`: any path the socket answers no other way.
    pub path: Option<&'static str>,
    /// Only POST reaches the intake (other methods fall through, so a
    /// shared socket's `GET /api/traces` still reaches the query API).
    pub post_only: bool,
    pub handle: HttpIntake,
}

/// A tonic service on a listener's port.
#[derive(Clone, Copy)]
pub struct GrpcRoute {
    pub listener: Listener,
    pub service: fn(Arc<IntakeContext>) -> GrpcService,
}

#[derive(Clone, Copy)]
pub struct UdpRoute {
    pub listener: Listener,
    pub handle: UdpIntake,
}

/// Every HTTP intake, by listener.
pub fn http_routes() -> Vec<HttpRoute> {
    vec![
        HttpRoute {
            listener: Listener::OtlpHttp,
            path: Some("/v1/traces"),
            post_only: false,
            handle: otlp_http::handle,
        },
        HttpRoute {
            listener: Listener::Zipkin,
            path: Some("/api/v2/spans"),
            post_only: false,
            handle: zipkin_http::handle,
        },
        // Jaeger's zipkin receiver answers every path (v1 where the path
        // says `api/v1/spans`); the exact paths serve a shared socket.
        HttpRoute {
            listener: Listener::Zipkin,
            path: Some("/api/v1/spans"),
            post_only: false,
            handle: zipkin_http::handle,
        },
        HttpRoute {
            listener: Listener::Zipkin,
            path: None,
            post_only: false,
            handle: zipkin_http::handle,
        },
        // Zipkin on the OTLP port too, as tracelab has always taken it.
        HttpRoute {
            listener: Listener::OtlpHttp,
            path: Some("/api/v2/spans"),
            post_only: true,
            handle: zipkin_http::handle,
        },
        HttpRoute {
            listener: Listener::OtlpHttp,
            path: Some("/api/v1/spans"),
            post_only: true,
            handle: zipkin_http::handle,
        },
        // POST only: on a shared socket `GET /api/traces` is Jaeger's search.
        HttpRoute {
            listener: Listener::JaegerThriftHttp,
            path: Some("/api/traces"),
            post_only: true,
            handle: jaeger_http::handle,
        },
    ]
}

/// Every gRPC service, by listener.
pub fn grpc_routes() -> Vec<GrpcRoute> {
    vec![
        GrpcRoute {
            listener: Listener::OtlpGrpc,
            service: otlp_grpc::service,
        },
        GrpcRoute {
            listener: Listener::JaegerGrpc,
            service: jaeger_grpc::service,
        },
    ]
}

/// Every UDP intake, by listener.
pub fn udp_routes() -> Vec<UdpRoute> {
    vec![
        UdpRoute {
            listener: Listener::JaegerCompact,
            handle: jaeger_udp::handle_compact,
        },
        UdpRoute {
            listener: Listener::JaegerBinary,
            handle: jaeger_udp::handle_binary,
        },
    ]
}

/// Whether anything answers on the listener's port (the query API always).
pub fn serves(listener: Listener) -> bool {
    listener == Listener::Query
        || http_routes().iter().any(|r| r.listener == listener)
        || grpc_routes().iter().any(|r| r.listener == listener)
        || udp_routes().iter().any(|r| r.listener == listener)
}

/// What every intake shares: the store, the body limit, the counts.
pub struct IntakeContext {
    pub store: Arc<Store>,
    pub max_body_bytes: usize,
    pub stats: IntakeStats,
}

impl IntakeContext {
    pub fn new(store: Arc<Store>, max_body_bytes: usize) -> Self {
        IntakeContext {
            store,
            max_body_bytes,
            stats: IntakeStats::default(),
        }
    }

    /// The whole body with its `Content-Encoding` undone; neither the body
    /// as sent nor as decoded may pass `max_body_bytes` (413).
    pub async fn read_body(&self, request: Request<Incoming>) -> Result<Bytes, Refusal> {
        let encoding = encoding::ContentEncoding::of(request.headers())?;
        let raw = match Limited::new(request.into_body(), self.max_body_bytes)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Refusal::too_large(self.max_body_bytes));
            }
            Err(e) => return Err(Refusal::malformed(format!("could not read the body: {e}"))),
        };
        encoding.decode(raw, self.max_body_bytes)
    }

    /// Keep the spans; every intake stores through here.
    pub fn store(&self, spans: Vec<StoredSpan>) -> Result<usize, Refusal> {
        let n = spans.len();
        self.store.insert(spans);
        Ok(n)
    }
}

/// Why an intake turned a payload away; nothing of it is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub kind: RefusalKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Not a valid payload of its format (HTTP 400, gRPC INVALID_ARGUMENT).
    Malformed,
    /// Over the size limit, sent or decoded (413, RESOURCE_EXHAUSTED).
    TooLarge,
    /// A content type or encoding the intake does not take (415).
    Unsupported,
    /// The collector cannot take spans now; try again (503, UNAVAILABLE).
    Unavailable,
}

impl Refusal {
    pub fn malformed(message: impl Into<String>) -> Self {
        Refusal {
            kind: RefusalKind::Malformed,
            message: message.into(),
        }
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Refusal {
            kind: RefusalKind::Unsupported,
            message: message.into(),
        }
    }

    pub fn too_large(limit: usize) -> Self {
        Refusal {
            kind: RefusalKind::TooLarge,
            message: format!("body larger than the limit of {limit} bytes (--max-body-size)"),
        }
    }

    pub fn http_status(&self) -> u16 {
        match self.kind {
            RefusalKind::Malformed => 400,
            RefusalKind::TooLarge => 413,
            RefusalKind::Unsupported => 415,
            RefusalKind::Unavailable => 503,
        }
    }

    /// The status a gRPC client understands: only UNAVAILABLE is retried.
    pub fn grpc_code(&self) -> tonic::Code {
        match self.kind {
            RefusalKind::Malformed | RefusalKind::Unsupported => tonic::Code::InvalidArgument,
            RefusalKind::TooLarge => tonic::Code::ResourceExhausted,
            RefusalKind::Unavailable => tonic::Code::Unavailable,
        }
    }
}

/// Counts of what UDP listeners received and dropped.
#[derive(Debug, Default)]
pub struct IntakeStats {
    udp: Mutex<BTreeMap<Listener, DatagramCounts>>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DatagramCounts {
    pub received: u64,
    pub dropped: u64,
    /// Why the last dropped datagram was dropped.
    pub last_error: Option<String>,
}

impl IntakeStats {
    pub fn datagram(&self, listener: Listener, result: &Result<usize, Refusal>) {
        let mut udp = self.udp.lock().expect("stats lock");
        let counts = udp.entry(listener).or_default();
        counts.received += 1;
        if let Err(refusal) = result {
            counts.dropped += 1;
            counts.last_error = Some(refusal.message.clone());
        }
    }

    pub fn datagrams(&self) -> BTreeMap<Listener, DatagramCounts> {
        self.udp.lock().expect("stats lock").clone()
    }
}

type GrpcCall =
    dyn Fn(Request<Incoming>) -> BoxFuture<'static, Response<tonic::body::Body>> + Send + Sync;

/// A gRPC service, callable by the collector's front.
#[derive(Clone)]
pub struct GrpcService {
    /// `package.Service`: requests to `/package.Service/Method` go here.
    pub name: &'static str,
    call: Arc<GrpcCall>,
}

impl GrpcService {
    pub fn call(
        &self,
        request: Request<Incoming>,
    ) -> BoxFuture<'static, Response<tonic::body::Body>> {
        (self.call)(request)
    }
}
