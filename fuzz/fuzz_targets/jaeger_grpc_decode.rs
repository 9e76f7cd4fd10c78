//! jaeger.api_v2.PostSpansRequest bodies (gRPC on 14250): decoding and
//! translating never panic; what translates can be stored and rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::jaeger_grpc_request(data));
