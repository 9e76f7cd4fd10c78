//! What a request got: the answer read whole ([`Response`]), or why none
//! came ([`Failure`]), with the status and flag Envoy answers in that case
//! (the mesh's sidecars pass them on; the traffic records the reason).

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;

use super::error_chain;

pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// Read `response` whole; a body cut short is a connection failure.
    pub async fn read(
        response: http::Response<hyper::body::Incoming>,
    ) -> Result<Response, Failure> {
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| Failure::Connect(error_chain(&e)))?
            .to_bytes();
        Ok(Response {
            status,
            headers: parts.headers,
            body,
        })
    }
}

/// Why no response came, with the status and flag Envoy would answer.
#[derive(Debug)]
pub enum Failure {
    /// Could not connect or the connection broke: 503, flag `UF`.
    Connect(String),
    /// No response within the timeout: 504, flag `UT`.
    Timeout(Duration),
}

impl Failure {
    pub fn status(&self) -> u16 {
        match self {
            Failure::Connect(_) => 503,
            Failure::Timeout(_) => 504,
        }
    }

    pub fn flag(&self) -> &'static str {
        match self {
            Failure::Connect(_) => "UF",
            Failure::Timeout(_) => "UT",
        }
    }

    /// The body Envoy sends downstream in this case.
    pub fn body(&self) -> String {
        match self {
            Failure::Connect(reason) => format!(
                "upstream connect error or disconnect/reset before headers. reset reason: {reason}"
            ),
            Failure::Timeout(_) => "upstream request timeout".to_string(),
        }
    }
}
