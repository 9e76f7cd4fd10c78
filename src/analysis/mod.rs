//! Analyses of traces read back through the Jaeger query API, over its
//! model ([`crate::jaeger::model`]) only: where a trace's time went.
//!
//! - [`critical_path`]: the critical path (as Jaeger UI computes it) and
//!   each span's self time, per trace.
//! - [`span_stats`]: duration and self-time percentiles per span name,
//!   accumulated trace by trace in fixed memory.

pub mod critical_path;
pub mod span_stats;
