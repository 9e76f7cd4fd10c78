//! The embedded collector's HTTP front: OTLP/HTTP ingest on `POST
//! /v1/traces`, Jaeger's query API on `GET /api/...` and the trace viewer's
//! pages (`viewer`) on the other GETs, one handler for all so one port is
//! enough in a run.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use super::otlp::{self, Encoding};
use super::store::Store;
use super::{query, viewer};
use crate::server::{Body, Handler, json, text};

pub struct CollectorHandler {
    pub store: Arc<Store>,
    pub max_body_bytes: usize,
}

impl Handler for CollectorHandler {
    async fn handle(&self, request: Request<Incoming>, _peer: SocketAddr) -> Response<Body> {
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or("").to_string();
        match (request.method(), path.as_str()) {
            (&Method::POST, "/v1/traces") => self.ingest_otlp(request).await,
            (&Method::GET, p) if p.starts_with("/api/") => {
                match query::handle(&self.store, p, &query) {
                    Some(answer) => json(answer.status, answer.body),
                    None => text(404, "404 page not found\n"),
                }
            }
            (&Method::GET, p) => viewer::handle(&self.store, p, &query)
                .unwrap_or_else(|| text(404, "404 page not found\n")),
            _ => text(404, "404 page not found\n"),
        }
    }
}

impl CollectorHandler {
    async fn ingest_otlp(&self, request: Request<Incoming>) -> Response<Body> {
        let content_type = request
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let encoding = match content_type.as_str() {
            "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
            "application/json" => Encoding::Json,
            other => {
                return text(
                    415,
                    format!(
                        "unsupported content type {other:?}: send application/x-protobuf or application/json\n"
                    ),
                );
            }
        };
        let body = match Limited::new(request.into_body(), self.max_body_bytes)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return text(
                    413,
                    format!(
                        "body larger than the limit of {} bytes\n",
                        self.max_body_bytes
                    ),
                );
            }
            Err(e) => return text(400, format!("could not read the body: {e}\n")),
        };
        match otlp::decode(&body, encoding) {
            Ok(spans) => {
                self.store.insert(spans);
                otlp_success(encoding)
            }
            Err(e) => text(400, format!("{e}\n")),
        }
    }
}

/// An empty ExportTraceServiceResponse in the request's encoding.
fn otlp_success(encoding: Encoding) -> Response<Body> {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => (
            "application/x-protobuf",
            ExportTraceServiceResponse::default().encode_to_vec(),
        ),
        Encoding::Json => ("application/json", b"{}".to_vec()),
    };
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
