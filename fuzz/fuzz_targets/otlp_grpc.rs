//! OTLP/gRPC messages (what tonic hands the TraceService): decoding never
//! panics, every span is stored or counted as refused (partial success),
//! and what is stored renders as Jaeger JSON and as `/api/v3` OTLP JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::otlp_grpc_message(data));
