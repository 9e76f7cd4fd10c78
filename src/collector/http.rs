//! The embedded collector's TCP front: one per socket, HTTP/1.1 and HTTP/2
//! on the same port. gRPC requests (`content-type: application/grpc`) go
//! to the tonic services registered for the socket's listeners, by service
//! name; other requests to the HTTP intake registered for their path, then
//! (on the query listener) Jaeger's query API on `GET /api/...` and the
//! trace viewer's pages on the other GETs, then to a listener's catch-all
//! intake, else 404.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use super::intake::{self, GrpcService, HttpIntake, HttpRoute, IntakeContext};
use super::ports::Listener;
use super::{query, viewer};
use crate::server::{Body, accept_until, text};

/// What one socket answers.
pub struct Front {
    intake: Arc<IntakeContext>,
    routes: Vec<HttpRoute>,
    fallback: Option<HttpIntake>,
    grpc: Vec<GrpcService>,
    query: bool,
}

impl Front {
    /// The intakes registered for `listeners`, and the query API if one
    /// of them is [`Listener::Query`].
    pub fn new(intake: Arc<IntakeContext>, listeners: &[Listener]) -> Front {
        let mine = |l: &Listener| listeners.contains(l);
        let all = intake::http_routes();
        let routes = all
            .iter()
            .filter(|r| mine(&r.listener) && r.path.is_some())
            .copied()
            .collect();
        let fallback = all
            .iter()
            .find(|r| mine(&r.listener) && r.path.is_none())
            .map(|r| r.handle);
        let mut grpc: Vec<GrpcService> = Vec::new();
        for route in intake::grpc_routes() {
            if mine(&route.listener) {
                let service = (route.service)(Arc::clone(&intake));
                if grpc.iter().all(|s| s.name != service.name) {
                    grpc.push(service);
                }
            }
        }
        Front {
            intake,
            routes,
            fallback,
            grpc,
            query: listeners.contains(&Listener::Query),
        }
    }

    pub async fn handle(&self, request: Request<Incoming>) -> Response<tonic::body::Body> {
        if is_grpc(&request) {
            return self.grpc(request).await;
        }
        self.http(request).await.map(tonic::body::Body::new)
    }

    async fn http(&self, request: Request<Incoming>) -> Response<Body> {
        let path = request.uri().path();
        let route = self
            .routes
            .iter()
            .find(|r| r.path == Some(path) && (!r.post_only || request.method() == Method::POST));
        if let Some(route) = route {
            return (route.handle)(request, &self.intake).await;
        }
        if self.query && request.method() == Method::GET {
            let path = path.to_string();
            let query = request.uri().query().unwrap_or("").to_string();
            let store = &self.intake.store;
            if path.starts_with("/api/") {
                return match query::handle(store, &path, &query) {
                    Some(answer) => api_response(answer),
                    None => text(404, "404 page not found\n"),
                };
            }
            if let Some(page) = viewer::handle(store, &path, &query) {
                return page;
            }
        }
        match self.fallback {
            Some(handle) => handle(request, &self.intake).await,
            None => text(404, "404 page not found\n"),
        }
    }

    async fn grpc(&self, request: Request<Incoming>) -> Response<tonic::body::Body> {
        let service = request
            .uri()
            .path()
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        match self.grpc.iter().find(|s| s.name == service) {
            Some(found) => normalise_grpc_status(found.call(request).await),
            None => tonic::Status::unimplemented(format!("unknown service {service} on this port"))
                .into_http(),
        }
    }
}

/// gRPC is HTTP/2 only: an HTTP/1.1 request saying `application/grpc` is
/// an HTTP request with a content type its intake refuses (415).
fn is_grpc(request: &Request<Incoming>) -> bool {
    request.version() == http::Version::HTTP_2
        && request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"))
}

/// tonic answers a message it cannot decode with INTERNAL and a frame over
/// the limit with OUT_OF_RANGE; a client must read both as "this request
/// is wrong, do not retry": INVALID_ARGUMENT and RESOURCE_EXHAUSTED, as
/// every intake's own refusals are.
fn normalise_grpc_status(mut response: Response<tonic::body::Body>) -> Response<tonic::body::Body> {
    let Some(status) = tonic::Status::from_header_map(response.headers()) else {
        return response;
    };
    let message = status.message();
    let replacement = match status.code() {
        tonic::Code::Internal if message.contains("failed to decode Protobuf message") => {
            tonic::Code::InvalidArgument
        }
        tonic::Code::OutOfRange if message.contains("message length too large") => {
            tonic::Code::ResourceExhausted
        }
        _ => return response,
    };
    let headers = response.headers_mut();
    headers.insert("grpc-status", (replacement as i32).into());
    response
}

/// A query API answer; errors carry the header Go's `http.Error` adds.
fn api_response(answer: query::ApiResponse) -> Response<Body> {
    let mut builder = Response::builder()
        .status(answer.status)
        .header("content-type", answer.content_type);
    if answer.nosniff {
        builder = builder.header("x-content-type-options", "nosniff");
    }
    builder
        .body(Full::new(Bytes::from(answer.body)))
        .expect("static response parts are valid")
}

/// Serve `front` on `listener` (HTTP/1.1 and HTTP/2, cleartext) until
/// `shutdown`, then let requests in flight finish.
pub async fn serve(listener: TcpListener, front: Arc<Front>, shutdown: impl Future<Output = ()>) {
    let builder = auto::Builder::new(TokioExecutor::new());
    accept_until(listener, shutdown, move |stream, _peer| {
        let front = Arc::clone(&front);
        let service = service_fn(move |request| {
            let front = Arc::clone(&front);
            async move { Ok::<_, Infallible>(front.handle(request).await) }
        });
        builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned()
    })
    .await;
}
