//! The checks behind every fuzz target, shared by `fuzz/fuzz_targets/*.rs` (built by cargo-fuzz
//! on nightly) and by `tests/fuzz_regressions.rs` (which replays the committed corpora on
//! stable), so a replayed input runs through exactly the code the fuzzer ran.
//!
//! Each entry point takes the fuzzer's raw bytes, decodes from them whatever it needs (role,
//! limits, split points, operations) with [`Input`], and panics when an oracle fails. No
//! dependency beyond `rfc6455`, `std` and (for `tokio_workload`) `tokio`, which the root crate
//! has as a dev-dependency: it needs no `arbitrary`.
#![allow(dead_code)]

pub mod connection;
pub mod deflate;
pub mod frame_header;
pub mod handshake;
pub mod mask;
pub mod proxy;
pub mod seeds;
pub mod tokio_workload;
pub mod utf8;
pub mod workload;

/// A harness: takes the fuzzer's bytes, panics when an oracle fails.
pub type Harness = fn(&[u8]);

/// The fuzz targets, by name: the directory names under `fuzz/corpus/` and
/// `fuzz/regressions/`, and the binaries under `fuzz/fuzz_targets/`.
pub const TARGETS: [(&str, Harness); 10] = [
    ("frame_header", frame_header::run),
    ("connection", connection::run),
    ("deflate", deflate::run),
    ("workload", workload::run),
    ("handshake_request", handshake::run_request),
    ("handshake_response", handshake::run_response),
    ("mask", mask::run),
    ("utf8", utf8::run),
    ("proxy_reply", proxy::run),
    ("tokio_workload", tokio_workload::run),
];

/// The role a flags byte's lowest bit selects: 0 server, 1 client.
pub fn role(flags: u8) -> rfc6455::Role {
    if flags & 1 == 0 {
        rfc6455::Role::Server
    } else {
        rfc6455::Role::Client
    }
}

/// The role at the other end of a connection.
pub fn other(role: rfc6455::Role) -> rfc6455::Role {
    match role {
        rfc6455::Role::Client => rfc6455::Role::Server,
        rfc6455::Role::Server => rfc6455::Role::Client,
    }
}

/// Reads structured values off the front of the fuzzer's bytes. Past the end every read
/// yields zeros, so any input decodes to something.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }

    /// A chunk-size pattern: a count byte (0-7) and that many sizes, each 0-255.
    pub fn chunk_sizes(&mut self) -> Vec<usize> {
        let n = usize::from(self.byte() % 8);
        (0..n).map(|_| usize::from(self.byte())).collect()
    }
}

/// Splits `data` into consecutive chunks whose sizes cycle through `sizes` (a size of 0 gives
/// an empty chunk; at most a few are allowed in a row). An empty pattern gives one chunk.
pub fn chunks<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    if sizes.iter().all(|&s| s == 0) {
        return vec![data];
    }
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
        i += 1;
    }
    out
}

/// The split offsets of `chunks(data, sizes)`, for APIs that take offsets.
pub fn split_points(len: usize, sizes: &[usize]) -> Vec<usize> {
    if sizes.iter().all(|&s| s == 0) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < len {
        at = (at + sizes[i % sizes.len()]).min(len);
        out.push(at);
        i += 1;
    }
    out
}
