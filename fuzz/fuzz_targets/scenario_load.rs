//! Scenario scripts: loading any text ends in a scenario or an error with a
//! position, never a panic or a hang (the sandbox limits bound the work).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tracelab::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::scenario_text(data));
