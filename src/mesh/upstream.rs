//! Calling the next hop: a pooled HTTP/1.1 client with a per-call timeout,
//! failures classified as Envoy classifies them, and Envoy's retry policy
//! (`retry_on: 5xx`: a 5xx answer, a failed connection or a per-try timeout).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::jaeger::client::error_chain;
use crate::scenario::model::UpstreamPolicy;

/// Envoy's route timeout when the scenario sets none.
pub const DEFAULT_ROUTE_TIMEOUT: Duration = Duration::from_secs(15);
/// Envoy's retry back-off: 25 ms base, doubling, at most ten times the base.
const RETRY_BACKOFF_BASE: Duration = Duration::from_millis(25);
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(250);

/// The outcome of a call made under a policy, and how many tries it took.
pub struct Exchange {
    pub result: Result<UpstreamResponse, UpstreamFailure>,
    pub attempts: u32,
}

impl Exchange {
    /// Envoy's response flags for this exchange (`-` when none).
    pub fn flags(&self) -> &'static str {
        match (&self.result, self.attempts > 1) {
            (Err(failure), _) => failure.flag(),
            (Ok(r), true) if r.status >= 500 => "URX",
            _ => "-",
        }
    }

    pub fn status(&self) -> u16 {
        match &self.result {
            Ok(r) => r.status,
            Err(f) => f.status(),
        }
    }
}

pub struct UpstreamResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl UpstreamResponse {
    /// Read `response` whole; a body cut short is a connection failure.
    pub async fn read(
        response: http::Response<hyper::body::Incoming>,
    ) -> Result<UpstreamResponse, UpstreamFailure> {
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
    }
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
            UpstreamResponse::read(response).await
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| UpstreamFailure::Timeout(timeout))?
    }
}

impl Upstream {
    /// `send` under a route's timeout and retry policy: the whole exchange
    /// gets `timeout`, each try `per_try_timeout` (or what is left).
    pub async fn send_with_policy(
        &self,
        authority: &str,
        method: &Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
        policy: &UpstreamPolicy,
    ) -> Exchange {
        let total = policy.timeout.unwrap_or(DEFAULT_ROUTE_TIMEOUT);
        let deadline = Instant::now() + total;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let per_try = policy.per_try_timeout.unwrap_or(total).min(left);
            let mut result = self
                .send(
                    authority,
                    method,
                    path_and_query,
                    headers.clone(),
                    body.clone(),
                    per_try,
                )
                .await;
            let out_of_time = Instant::now() >= deadline;
            if out_of_time && matches!(result, Err(UpstreamFailure::Timeout(_))) {
                // The route's timeout, not a per-try one, ended the exchange.
                result = Err(UpstreamFailure::Timeout(total));
            }
            let retriable = match &result {
                Ok(r) => r.status >= 500,
                Err(_) => true,
            };
            if !retriable || attempts > policy.retries || out_of_time {
                return Exchange { result, attempts };
            }
            let backoff = RETRY_BACKOFF_BASE
                .saturating_mul(1 << (attempts - 1).min(8))
                .min(RETRY_BACKOFF_MAX);
            let left = deadline.saturating_duration_since(Instant::now());
            if backoff >= left {
                return Exchange { result, attempts };
            }
            tokio::time::sleep(backoff).await;
        }
    }
}
