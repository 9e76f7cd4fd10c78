//! Sending the same payload to one of Jaeger's receivers and to the
//! embedded collector's matching intake: HTTP with any headers, UDP
//! datagrams, and gRPC `PostSpans`, then waiting until both hold a trace.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use tracelab::collector::intake::jaeger_grpc::{
    POST_SPANS_PATH, PostSpansRequest, PostSpansResponse,
};
use tracelab::collector::ports::Listener;
use tracelab::http_client::Client;

use crate::harness::{Answer, Pair};

/// A gRPC call's outcome: `Ok` or the status code and message.
pub type GrpcOutcome = Result<(), (tonic::Code, String)>;

impl Pair {
    /// Jaeger's port for the receiver that plays `listener`'s part.
    pub fn jaeger_port(&self, listener: Listener) -> u16 {
        let ports = self.jaeger.ports();
        match listener {
            Listener::OtlpHttp => ports.otlp_http,
            Listener::OtlpGrpc => ports.otlp_grpc,
            Listener::Zipkin => ports.zipkin,
            Listener::JaegerGrpc => ports.jaeger_grpc,
            Listener::JaegerThriftHttp => ports.jaeger_thrift_http,
            Listener::JaegerCompact => ports.jaeger_compact,
            Listener::JaegerBinary => ports.jaeger_binary,
            Listener::Query => ports.query_http,
        }
    }

    fn embedded_addr(&self, listener: Listener) -> std::net::SocketAddr {
        self.embedded
            .addr_of(listener)
            .unwrap_or_else(|| panic!("the embedded collector serves no {listener}"))
    }

    /// POST `body` with `headers` to `path` of both `listener`s.
    pub async fn post_to(
        &self,
        listener: Listener,
        path: &str,
        headers: &[(&'static str, &str)],
        body: &[u8],
    ) -> (Answer, Answer) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        let jaeger = format!("127.0.0.1:{}", self.jaeger_port(listener));
        let embedded = self.embedded_addr(listener).to_string();
        let body = Bytes::copy_from_slice(body);
        (
            send(&jaeger, path, map.clone(), body.clone()).await,
            send(&embedded, path, map, body).await,
        )
    }

    /// The same datagram to both `listener`s (UDP: nothing answers).
    pub fn send_datagram(&self, listener: Listener, datagram: &[u8]) {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let jaeger = ("127.0.0.1", self.jaeger_port(listener));
        socket.send_to(datagram, jaeger).unwrap();
        socket
            .send_to(datagram, self.embedded_addr(listener))
            .unwrap();
    }

    /// `PostSpans` to both gRPC collector APIs, gzip-compressed or not.
    pub async fn post_spans(
        &self,
        request: &PostSpansRequest,
        gzip: bool,
    ) -> (GrpcOutcome, GrpcOutcome) {
        let jaeger = format!(
            "http://127.0.0.1:{}",
            self.jaeger_port(Listener::JaegerGrpc)
        );
        let embedded = format!("http://{}", self.embedded_addr(Listener::JaegerGrpc));
        (
            post_spans(&jaeger, request.clone(), gzip).await,
            post_spans(&embedded, request.clone(), gzip).await,
        )
    }

    /// Wait until both show at least `spans` spans for the trace (UDP and
    /// Jaeger's pipeline store asynchronously).
    pub async fn wait_for_both(&self, trace_id: &str, spans: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let count = |answer: &Answer| {
            answer
                .json()
                .and_then(|v| v["data"][0]["spans"].as_array().map(Vec::len))
                .unwrap_or(0)
        };
        loop {
            let (jaeger, embedded) = self.get(&format!("/api/traces/{trace_id}")).await;
            if count(&jaeger) >= spans && count(&embedded) >= spans {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "trace {trace_id}: Jaeger shows {} spans, the embedded collector {}, not {spans}",
                count(&jaeger),
                count(&embedded)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn send(authority: &str, path: &str, headers: HeaderMap, body: Bytes) -> Answer {
    let response = Client::default()
        .send(
            authority,
            &Method::POST,
            path,
            headers,
            body,
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{authority}{path}: {}", e.body()));
    Answer::of(response)
}

async fn post_spans(url: &str, request: PostSpansRequest, gzip: bool) -> GrpcOutcome {
    let channel = tonic::transport::Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut grpc = tonic::client::Grpc::new(channel);
    if gzip {
        // Jaeger's gRPC server answers a gzip request gzip-compressed.
        grpc = grpc
            .send_compressed(tonic::codec::CompressionEncoding::Gzip)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    }
    grpc.ready().await.unwrap();
    let codec: tonic_prost::ProstCodec<PostSpansRequest, PostSpansResponse> =
        tonic_prost::ProstCodec::default();
    grpc.unary(
        tonic::Request::new(request),
        http::uri::PathAndQuery::from_static(POST_SPANS_PATH),
        codec,
    )
    .await
    .map(|_| ())
    .map_err(|status| (status.code(), status.message().to_string()))
}
