//! Jaeger thrift over HTTP (a binary-protocol Batch): decoding never panics nor
//! allocates past the input, and whatever decodes can be stored and rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::jaeger_thrift_body(data));
