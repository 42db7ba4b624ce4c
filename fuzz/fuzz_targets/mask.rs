//! Fuzz target (e) SIMD masking (apply_mask, extend_masked) against the byte loop at any phase and alignment.
//! The checks live in `tests/fuzz_harness/`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::mask::run(data));
