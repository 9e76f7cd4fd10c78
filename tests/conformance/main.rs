//! Conformance: the embedded collector answers Jaeger's query API exactly as
//! a real Jaeger v2 does for the same spans.
//!
//! Each test starts a real Jaeger (the binary scripts/install-jaeger.sh
//! builds) and an embedded collector, sends both the same OTLP (or Zipkin)
//! payloads, asks both the same questions and lists every difference (see
//! `harness`). Without the binary these tests fail unless
//! TRACELAB_SKIP_JAEGER=1.

mod api_v3;
#[path = "../common/mod.rs"]
mod common;
mod harness;
mod intake_pair;
mod intakes;
mod jaeger;
mod jaeger_wire;
mod otlp;
mod refusals;
mod sandbox;
mod search;
mod traces;
mod zipkin;
mod zipkin_formats;

pub use harness::{Compare, Pair};
