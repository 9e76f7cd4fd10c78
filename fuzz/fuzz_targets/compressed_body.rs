//! HTTP bodies under a `Content-Encoding` (the first byte picks which):
//! decoding never panics and never yields more than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::compressed_body(data));
