//! Jaeger's query API: its JSON model and a client for it. The embedded
//! collector serves this model; assertions read it through the client.

pub mod client;
pub mod model;

pub use client::{ClientError, JaegerClient, TraceQuery};
