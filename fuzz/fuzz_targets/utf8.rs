//! Fuzz target (f) the incremental UTF-8 validator against std::str::from_utf8, failing fast.
//! The checks live in `tests/fuzz_harness/`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::utf8::run(data));
