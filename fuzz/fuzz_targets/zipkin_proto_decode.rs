//! Zipkin v2 protobuf bodies (ListOfSpans): decoding and translating never
//! panic; what translates can be stored and rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::zipkin_proto_body(data));
