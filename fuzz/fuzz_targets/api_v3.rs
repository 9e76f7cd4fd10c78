//! `/api/v3` requests: every answer is the gateway's JSON with a status
//! it uses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::api_v3_request(data));
