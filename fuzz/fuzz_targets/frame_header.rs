//! Fuzz target (a) FrameHeader::decode: re-encoding, limits, prefixes.
//! The checks live in `tests/fuzz_harness/`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::frame_header::run(data));
