//! Fuzz target (c) API operations on a blocking::WebSocket over a misbehaving mock stream: what it writes decodes in a fresh peer.
//! The checks live in `tests/fuzz_harness/`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::workload::run(data));
