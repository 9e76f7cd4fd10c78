//! OTLP/HTTP bodies, protobuf and JSON: decoding never panics, and whatever
//! decodes can be stored and rendered as Jaeger JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::otlp_body(data));
