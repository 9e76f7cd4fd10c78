//! Calling the next hop: a pooled HTTP/1.1 client with a per-call timeout,
//! failures classified as Envoy classifies them.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::jaeger::client::error_chain;

pub struct UpstreamResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why no response came, with the status and flag Envoy would answer.
#[derive(Debug)]
pub enum UpstreamFailure {
    /// Could not connect or the connection broke: 503, flag `UF`.
    Connect(String),
    /// No response within the timeout: 504, flag `UT`.
    Timeout(Duration),
}

impl UpstreamFailure {
    pub fn status(&self) -> u16 {
        match self {
            UpstreamFailure::Connect(_) => 503,
            UpstreamFailure::Timeout(_) => 504,
        }
    }

    pub fn flag(&self) -> &'static str {
        match self {
            UpstreamFailure::Connect(_) => "UF",
            UpstreamFailure::Timeout(_) => "UT",
        }
    }

    /// The body Envoy sends downstream in this case.
    pub fn body(&self) -> String {
        match self {
            UpstreamFailure::Connect(reason) => format!(
                "upstream connect error or disconnect/reset before headers. reset reason: {reason}"
            ),
            UpstreamFailure::Timeout(_) => "upstream request timeout".to_string(),
        }
    }
}

#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Upstream {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        Upstream {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
        }
    }
}

impl Upstream {
    pub async fn send(
        &self,
        authority: &str,
        method: &Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<UpstreamResponse, UpstreamFailure> {
        let uri = format!("http://{authority}{path_and_query}");
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .body(Full::new(body))
            .map_err(|e| UpstreamFailure::Connect(format!("bad request to {uri}: {e}")))?;
        *request.headers_mut() = headers;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| UpstreamFailure::Connect(error_chain(&e)))?;
            let status = response.status().as_u16();
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| UpstreamFailure::Connect(error_chain(&e)))?
                .to_bytes();
            Ok(UpstreamResponse {
                status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| UpstreamFailure::Timeout(timeout))?
    }
}
