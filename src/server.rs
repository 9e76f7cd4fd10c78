//! Serving a handler over HTTP/1.1 on a bound listener until shutdown.
//!
//! Every long-running part of tracelab (mesh components, the embedded
//! collector) runs through [`serve`]: it takes its shutdown as an argument,
//! stops accepting when it fires, and drains in-flight requests.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulConnection, GracefulShutdown};
use tokio::net::{TcpListener, TcpStream};

/// Bodies tracelab sends are small and built whole.
pub type Body = Full<Bytes>;

/// How long in-flight requests get to finish once shutdown fires.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

pub trait Handler: Send + Sync + 'static {
    fn handle(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = Response<Body>> + Send;
}

pub async fn serve<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) {
    accept_until(listener, shutdown, move |stream, peer| {
        let handler = Arc::clone(&handler);
        let service = service_fn(move |request| {
            let handler = Arc::clone(&handler);
            async move { Ok::<_, Infallible>(handler.handle(request, peer).await) }
        });
        http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
    })
    .await;
}

/// Accept connections on `listener` until `shutdown`, each served by the
/// connection `connect` makes of it; then stop accepting and give those
/// in flight [`DRAIN_TIMEOUT`] to finish. The one accept loop of every
/// server here, whatever protocols its connections speak.
pub async fn accept_until<C>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    mut connect: impl FnMut(TcpStream, SocketAddr) -> C,
) where
    C: GracefulConnection + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    // Out of file descriptors and the like: back off, keep serving.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let connection = graceful.watch(connect(stream, peer));
                tokio::spawn(async move {
                    // A client hanging up mid-request is not our error to report.
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
}

/// Serve `handler` on a free loopback port until the token is cancelled:
/// the test servers of unit tests. Returns the address it listens on.
#[cfg(test)]
pub async fn serve_on_loopback<H: Handler>(
    handler: Arc<H>,
) -> (SocketAddr, tokio_util::sync::CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound listener's address");
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(serve(listener, handler, stop.clone().cancelled_owned()));
    (addr, stop)
}

/// A plain-text response, for errors and simple replies.
pub fn text(status: u16, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(body.into()))
        .expect("static response parts are valid")
}

pub fn json(status: u16, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
