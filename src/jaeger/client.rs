//! A small client for Jaeger's HTTP query API (port 16686).
//!
//! Assertions read traces only through this client, so the same code works
//! against the embedded collector and against a real Jaeger.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

use super::model::{Envelope, Trace};
use crate::http_client::error_chain;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the Jaeger query API at {url} did not answer: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Jaeger query API answered {status} to {url}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("the Jaeger query API sent JSON tracelab cannot read from {url}: {source}")]
    Decode {
        url: String,
        source: serde_json::Error,
    },
    #[error("{0} is not an http:// URL")]
    BadUrl(String),
}

/// Filters of `GET /api/traces`, as Jaeger's query parser reads them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceQuery {
    pub service: String,
    pub operation: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Microseconds since the epoch.
    pub start_us: Option<u64>,
    pub end_us: Option<u64>,
    pub min_duration: Option<Duration>,
    pub max_duration: Option<Duration>,
    pub limit: Option<usize>,
}

impl TraceQuery {
    pub fn for_service(service: impl Into<String>) -> Self {
        TraceQuery {
            service: service.into(),
            ..Default::default()
        }
    }

    /// The query string, with `tags` as the JSON map the Jaeger UI sends.
    pub fn to_query_string(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("service", &self.service);
        if let Some(op) = &self.operation {
            q.append_pair("operation", op);
        }
        if !self.tags.is_empty() {
            let json = serde_json::to_string(&self.tags).expect("string map serialises");
            q.append_pair("tags", &json);
        }
        if let Some(start) = self.start_us {
            q.append_pair("start", &start.to_string());
        }
        if let Some(end) = self.end_us {
            q.append_pair("end", &end.to_string());
        }
        if let Some(d) = self.min_duration {
            q.append_pair("minDuration", &format!("{}us", d.as_micros()));
        }
        if let Some(d) = self.max_duration {
            q.append_pair("maxDuration", &format!("{}us", d.as_micros()));
        }
        if let Some(limit) = self.limit {
            q.append_pair("limit", &limit.to_string());
        }
        q.finish()
    }
}

/// A query API that does not even accept the connection in this long is
/// not coming: say so in seconds, not after the whole answer's timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct JaegerClient {
    base: String,
    http: Client<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
}

impl JaegerClient {
    /// `base` is the query API root, e.g. `http://127.0.0.1:16686`.
    pub fn new(base: &str) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(ClientError::BadUrl(base));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        Ok(JaegerClient {
            base,
            http: Client::builder(TokioExecutor::new()).build(connector),
            timeout: Duration::from_secs(10),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub async fn services(&self) -> Result<Vec<String>, ClientError> {
        let env: Envelope<Option<Vec<String>>> = self.get_json("/api/services").await?;
        Ok(env.data.unwrap_or_default())
    }

    pub async fn operations(&self, service: &str) -> Result<Vec<String>, ClientError> {
        let path = format!("/api/services/{}/operations", encode_path(service));
        let env: Envelope<Option<Vec<String>>> = self.get_json(&path).await?;
        Ok(env.data.unwrap_or_default())
    }

    pub async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>, ClientError> {
        let path = format!("/api/traces?{}", query.to_query_string());
        let env: Envelope<Option<Vec<Trace>>> = self.get_json(&path).await?;
        Ok(env.data.unwrap_or_default())
    }

    /// The traces with these ids (`GET /api/traces?traceID=...`); ids the
    /// backend does not have are left out.
    pub async fn traces_by_id(&self, ids: &[String]) -> Result<Vec<Trace>, ClientError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = form_urlencoded::Serializer::new(String::new());
        for id in ids {
            q.append_pair("traceID", id);
        }
        let path = format!("/api/traces?{}", q.finish());
        let env: Envelope<Option<Vec<Trace>>> = self.get_json(&path).await?;
        Ok(env.data.unwrap_or_default())
    }

    /// One trace by id; `Ok(None)` when Jaeger answers 404.
    pub async fn trace(&self, trace_id: &str) -> Result<Option<Trace>, ClientError> {
        let path = format!("/api/traces/{}", encode_path(trace_id));
        match self.get_json::<Envelope<Option<Vec<Trace>>>>(&path).await {
            Ok(env) => Ok(env.data.and_then(|mut v| v.pop())),
            Err(ClientError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET a path and return status and body, whatever the status.
    pub async fn get_raw(&self, path_and_query: &str) -> Result<(u16, Bytes), ClientError> {
        let url = format!("{}{}", self.base, path_and_query);
        let uri: hyper::Uri = url.parse().map_err(|_| ClientError::BadUrl(url.clone()))?;
        let unreachable = |reason: String| ClientError::Unreachable {
            url: url.clone(),
            reason,
        };
        let response = tokio::time::timeout(self.timeout, self.http.get(uri))
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| unreachable(connect_failure(&e)))?;
        let status = response.status().as_u16();
        let body = tokio::time::timeout(self.timeout, response.into_body().collect())
            .await
            .map_err(|_| unreachable("the body did not arrive in time".into()))?
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let (status, body) = self.get_raw(path).await?;
        let url = format!("{}{}", self.base, path);
        if status != 200 {
            return Err(ClientError::Status {
                url,
                status,
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        serde_json::from_slice(&body).map_err(|source| ClientError::Decode { url, source })
    }
}

fn encode_path(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Why a request got no answer, in plain words where hyper's are cryptic:
/// its connect timeout surfaces as "deadline has elapsed".
fn connect_failure(e: &hyper_util::client::legacy::Error) -> String {
    let chain = error_chain(e);
    if e.is_connect() && chain.ends_with("deadline has elapsed") {
        format!(
            "tcp connect error: the connection was neither accepted nor refused within {} s",
            CONNECT_TIMEOUT.as_secs()
        )
    } else {
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_string_carries_every_filter_the_jaeger_parser_reads() {
        let mut q = TraceQuery::for_service("front-proxy");
        q.operation = Some("check Availability".into());
        q.tags.insert("http.status_code".into(), "200".into());
        q.start_us = Some(1);
        q.end_us = Some(2);
        q.min_duration = Some(Duration::from_millis(3));
        q.limit = Some(20);
        assert_eq!(
            q.to_query_string(),
            "service=front-proxy&operation=check+Availability\
             &tags=%7B%22http.status_code%22%3A%22200%22%7D&start=1&end=2&minDuration=3000us&limit=20"
        );
    }

    #[test]
    fn a_path_segment_is_percent_encoded() {
        assert_eq!(encode_path("my service/1"), "my%20service%2F1");
    }
}
