//! Jaeger query API paths and parameters: every input gets an answer
//! (200, 400 or 404 with Jaeger's envelope), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::query_request(data));
