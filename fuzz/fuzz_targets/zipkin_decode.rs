//! Zipkin v2 JSON bodies (`POST /api/v2/spans`): decoding and translating
//! never panic, and whatever translates can be stored and rendered as
//! Jaeger JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::zipkin_body(data));
