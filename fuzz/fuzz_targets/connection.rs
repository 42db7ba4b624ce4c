//! Fuzz target (b) a Connection in either role fed a stream split anywhere: same events and output as unsplit.
//! The checks live in `tests/fuzz_harness/`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::connection::run(data));
