//! Fuzz target (g) connections with permessage-deflate: any stream split anywhere gives the same
//! events within the limits, and what a deflate sender sends arrives exactly.
//! The checks live in `tests/fuzz_harness/`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::deflate::run(data));
