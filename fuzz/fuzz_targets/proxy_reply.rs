//! Fuzz target: the proxy answer parsers (HTTP CONNECT, SOCKS5) in any chunking: same outcome,
//! the tunnel opens inside the input, errors stick.
//! The checks live in `tests/fuzz_harness/`, shared with `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::proxy::run(data));
