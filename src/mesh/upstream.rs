//! Calling the next hop: the pooled client of `http_client` (failures
//! classified as Envoy classifies them) under Envoy's retry policy
//! (`retry_on: 5xx`: a 5xx answer, a failed connection or a per-try timeout).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::http_client::{Client, Failure, Response};
use crate::scenario::model::UpstreamPolicy;

/// Envoy's route timeout when the scenario sets none.
pub const DEFAULT_ROUTE_TIMEOUT: Duration = Duration::from_secs(15);
/// Envoy's retry back-off: 25 ms base, doubling, at most ten times the base.
const RETRY_BACKOFF_BASE: Duration = Duration::from_millis(25);
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(250);

/// The outcome of a call made under a policy, and how many tries it took.
pub struct Exchange {
    pub result: Result<Response, Failure>,
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

/// The sidecar's client for the next hop: the neutral HTTP client under
/// Envoy's route policy.
#[derive(Clone, Default)]
pub struct Upstream {
    client: Client,
}

impl Upstream {
    /// `Client::send` under a route's timeout and retry policy: the whole exchange
    /// gets `timeout`, each try `per_try_timeout` (or what is left).
    pub async fn send_with_policy(
        &self,
        authority: &str,
        method: &Method,
        path_and_query: &str,
        mut headers: HeaderMap,
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
            // The last try the policy allows takes the headers; only a try
            // that may be retried copies them.
            let try_headers = if attempts > policy.retries {
                std::mem::take(&mut headers)
            } else {
                headers.clone()
            };
            let mut result = self
                .client
                .send(
                    authority,
                    method,
                    path_and_query,
                    try_headers,
                    body.clone(),
                    per_try,
                )
                .await;
            let out_of_time = Instant::now() >= deadline;
            if out_of_time && matches!(result, Err(Failure::Timeout(_))) {
                // The route's timeout, not a per-try one, ended the exchange.
                result = Err(Failure::Timeout(total));
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
