//! One keep-alive HTTP/1.1 connection, as load generators (oha, wrk) hold
//! one per worker (the traffic's closed model): no pool to share and lock per request,
//! and the target sees exactly `concurrency` connections. A connection
//! that fails or times out is dropped and the next request opens another.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{Failure, Response, error_chain};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Connection {
    authority: String,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    /// Not connected yet: the first request connects.
    pub fn new(authority: &str) -> Connection {
        Connection {
            authority: authority.to_string(),
            host: HeaderValue::from_str(authority)
                .unwrap_or_else(|_| HeaderValue::from_static("localhost")),
            sender: None,
        }
    }

    /// Send one request and read the whole answer within `timeout`
    /// (connecting first if needed).
    pub async fn send(
        &mut self,
        method: &Method,
        path: &str,
        mut headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .body(Full::new(body))
            .map_err(|e| Failure::Connect(format!("bad request {path}: {e}")))?;
        headers.insert(http::header::HOST, self.host.clone());
        *request.headers_mut() = headers;
        let exchange = async {
            let sender = self.ready().await?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| Failure::Connect(error_chain(&e)))?;
            Response::read(response).await
        };
        let result = match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout(timeout)),
        };
        if result.is_err() {
            // Its state is unknown: start afresh.
            self.sender = None;
        }
        result
    }

    /// A connection ready for a request, opened if there is none or the
    /// last one closed.
    async fn ready(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, Failure> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.connect().await?);
        }
        let sender = self.sender.as_mut().expect("just connected");
        sender
            .ready()
            .await
            .map_err(|e| Failure::Connect(error_chain(&e)))?;
        Ok(sender)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Failure> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.authority))
            .await
            .map_err(|_| Failure::Connect("connection timeout".into()))?
            .map_err(|e| Failure::Connect(format!("connection failure: {e}")))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Connect(error_chain(&e)))?;
        tokio::spawn(async move {
            // Ends when the peer closes or the sender is dropped.
            let _ = connection.await;
        });
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_failure_and_the_next_try_connects_again() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = closed.local_addr().unwrap().to_string();
        drop(closed);
        let mut connection = Connection::new(&authority);
        for _ in 0..2 {
            let failure = connection
                .send(
                    &Method::GET,
                    "/",
                    HeaderMap::new(),
                    Bytes::new(),
                    Duration::from_secs(5),
                )
                .await
                .err()
                .expect("nothing listens");
            assert!(matches!(failure, Failure::Connect(_)), "{failure:?}");
            assert!(connection.sender.is_none());
        }
    }
}
