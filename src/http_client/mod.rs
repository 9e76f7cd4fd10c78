//! The HTTP client tracelab's own requests go through: the traffic
//! generator, the mesh's sidecars calling the next hop, and the backends
//! probing a collector. It knows URLs, never a scenario or the mesh.
//!
//! - [`Client`] (`pool`): a pooled HTTP/1.1 client with a per-call timeout,
//!   for callers that reach many authorities (sidecars, open-model traffic).
//! - [`Connection`] (`connection`): one keep-alive HTTP/1.1 connection, as
//!   load generators (oha, wrk) hold one per worker.
//! - [`Response`] and [`Failure`] (`response`): the answer read whole, or
//!   why none came, classified as Envoy classifies it (503 `UF`, 504 `UT`).
//! - [`new_request_id`] (`request_id`): the `x-request-id` Envoy would make.
//!
//! The mesh adds Envoy's route policy (retries, timeouts) on top
//! (`mesh::upstream`); nothing here depends on it.

mod connection;
mod pool;
mod request_id;
mod response;

pub use self::connection::Connection;
pub use self::pool::Client;
pub use self::request_id::{REQUEST_ID_HEADER, new_request_id};
pub use self::response::{Failure, Response};

/// "error sending request: connection refused" rather than just the outer layer.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
