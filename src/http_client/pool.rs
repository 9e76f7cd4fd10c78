//! A pooled HTTP/1.1 client (hyper-util's) with a per-call timeout: keeps
//! idle connections to every authority it called, for callers that reach
//! many of them or send from many tasks at once.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::Full;
use hyper_util::client::legacy::Client as Pooled;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{Failure, Response, error_chain};

#[derive(Clone, Debug)]
pub struct Client {
    client: Pooled<HttpConnector, Full<Bytes>>,
}

impl Default for Client {
    fn default() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        Client {
            client: Pooled::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(connector),
        }
    }
}

impl Client {
    /// Send one request to `authority` (`host:port`) and read the whole
    /// answer within `timeout`.
    pub async fn send(
        &self,
        authority: &str,
        method: &Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let uri = format!("http://{authority}{path_and_query}");
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .body(Full::new(body))
            .map_err(|e| Failure::Connect(format!("bad request to {uri}: {e}")))?;
        *request.headers_mut() = headers;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| Failure::Connect(error_chain(&e)))?;
            Response::read(response).await
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Failure::Timeout(timeout))?
    }
}
