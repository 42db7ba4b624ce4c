//! Fuzz target: operations on a tokio::WebSocket over an in-memory stream to a well-formed peer,
//! with reads, sends and closes cancelled after random numbers of polls and a stream that
//! answers Pending, short reads and short writes: nothing lost, duplicated or cut.
//! The checks live in `tests/fuzz_harness/`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::tokio_workload::run(data));
