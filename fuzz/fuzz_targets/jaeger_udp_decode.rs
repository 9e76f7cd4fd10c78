//! Datagrams on Jaeger's UDP agent ports (emitBatch in compact and binary
//! thrift): dropped or stored, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::jaeger_udp_datagram(data));
