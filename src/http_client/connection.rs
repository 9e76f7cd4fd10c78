//! One keep-alive HTTP/1.1 connection, as load generators (oha, wrk) hold
//! one per worker (the traffic's closed model): no pool to share and lock
//! per request, and the target sees exactly `concurrency` connections. A
//! connection that fails or times out is dropped and the next request
//! opens another.
//!
//! hyper's connection state machine is driven inside [`Connection::send`],
//! alongside the request, not spawned as a task of its own: a request then
//! wakes one task, not two handing it over through a channel (often on
//! different threads), which was a third of the generator's time per
//! request. Between requests nothing polls it; a peer's close that arrived
//! meanwhile is read before the next request, which then connects afresh.

use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{HeaderMap, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{Failure, Response, error_chain};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Driver = http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

pub struct Connection {
    authority: String,
    host: HeaderValue,
    open: Option<Open>,
}

/// A connected socket: where requests go in, and the state machine that
/// writes and reads them.
struct Open {
    sender: SendRequest<Full<Bytes>>,
    /// `None` once it ended (the peer closed, or the connection broke).
    driver: Option<Driver>,
}

impl Connection {
    /// Not connected yet: the first request connects.
    pub fn new(authority: &str) -> Connection {
        Connection {
            authority: authority.to_string(),
            host: HeaderValue::from_str(authority)
                .unwrap_or_else(|_| HeaderValue::from_static("localhost")),
            open: None,
        }
    }

    /// Send one request and read the whole answer within `timeout`
    /// (connecting first if needed).
    pub async fn send(
        &mut self,
        method: &Method,
        path: &str,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let uri: Uri = path
            .parse()
            .map_err(|e| Failure::Connect(format!("bad request {path}: {e}")))?;
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        self.send_request(request, timeout).await
    }

    /// [`Connection::send`] for a request built whole (its URI the path
    /// and query; `Host` is added when missing).
    pub async fn send_request(
        &mut self,
        mut request: Request<Full<Bytes>>,
        timeout: Duration,
    ) -> Result<Response, Failure> {
        if !request.headers().contains_key(http::header::HOST) {
            request
                .headers_mut()
                .insert(http::header::HOST, self.host.clone());
        }
        let exchange = async {
            let open = self.ready().await?;
            open.exchange(request).await
        };
        let result = match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout(timeout)),
        };
        if result.is_err() {
            // Its state is unknown: start afresh.
            self.open = None;
        }
        result
    }

    /// A connection ready for a request, opened if there is none or the
    /// last one ended.
    async fn ready(&mut self) -> Result<&mut Open, Failure> {
        if let Some(open) = &mut self.open {
            open.settle();
        }
        if self.open.as_ref().is_none_or(Open::ended) {
            self.open = Some(self.connect().await?);
        }
        Ok(self.open.as_mut().expect("just connected"))
    }

    async fn connect(&self) -> Result<Open, Failure> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.authority))
            .await
            .map_err(|_| Failure::Connect("connection timeout".into()))?
            .map_err(|e| Failure::Connect(format!("connection failure: {e}")))?;
        let _ = stream.set_nodelay(true);
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Connect(error_chain(&e)))?;
        Ok(Open {
            sender,
            driver: Some(driver),
        })
    }
}

impl Open {
    fn ended(&self) -> bool {
        self.driver.is_none() || self.sender.is_closed()
    }

    /// Let the state machine read what came while nobody polled it (a
    /// close from the peer), without waiting.
    fn settle(&mut self) {
        if let Some(driver) = &mut self.driver
            && driver.now_or_never().is_some()
        {
            self.driver = None;
        }
    }

    /// One request on this connection, driving it until the answer is read
    /// whole.
    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<Response, Failure> {
        let sender = &mut self.sender;
        let work = async {
            sender
                .ready()
                .await
                .map_err(|e| Failure::Connect(error_chain(&e)))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| Failure::Connect(error_chain(&e)))?;
            Response::read(response).await
        };
        tokio::pin!(work);
        let Some(driver) = &mut self.driver else {
            return Err(Failure::Connect("connection closed".into()));
        };
        let ended = tokio::select! {
            biased;
            result = &mut work => return result,
            ended = driver => ended,
        };
        // The connection ended first: dropping it fails what is left of
        // the exchange (or hands over what was read), rather than leaving
        // it waiting.
        self.driver = None;
        match (work.await, ended) {
            (Ok(response), _) => Ok(response),
            (Err(_), Err(e)) => Err(Failure::Connect(error_chain(&e))),
            (Err(failure), Ok(())) => Err(failure),
        }
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
            assert!(connection.open.is_none());
        }
    }
}
