//! Fuzz target (d) ServerHandshake::recv in any chunking: same outcome, no byte lost, every error answerable.
//! The checks live in `tests/fuzz_harness/`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::handshake::run_request(data));
