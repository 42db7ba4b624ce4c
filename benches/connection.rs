//! The sans-IO connection: a server decoding client-masked binary messages (read straight into
//! the connection's buffer, unmasked in place, events borrowed), and a client encoding them
//! (header, fresh masking key, masked copy into the output buffer). Messages of 16 B, 1 KiB,
//! 64 KiB and 1 MiB; reported in messages/s and bytes/s.
//!
//! ```text
//! cargo bench --bench connection
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::{Config, Connection, Event, Role};

const SIZES: [(usize, &str); 4] = [
    (16, "16B"),
    (1 << 10, "1KiB"),
    (64 << 10, "64KiB"),
    (1 << 20, "1MiB"),
];

/// How many messages of `len` bytes one iteration handles: about 256 KiB of payload, at least
/// four messages.
fn batch(len: usize) -> usize {
    ((256 << 10) / len).max(4)
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// `count` client-masked binary messages of `len` bytes, as they arrive at a server.
fn client_stream(len: usize, count: usize) -> Vec<u8> {
    let mut client = Connection::with_seed(Role::Client, Config::default(), [5; 32]);
    let data = payload(len);
    let mut wire = Vec::new();
    for _ in 0..count {
        client.send_binary(&data).unwrap();
        wire.extend_from_slice(client.pending_output());
        let n = client.pending_output().len();
        client.consume_output(n);
    }
    wire
}

/// Feeds `wire` to `server` the way a socket read would (into `recv_buf`) and takes every
/// event; returns how many messages came out.
///
/// The "read" copies in 2 KiB pieces: glibc's `memcpy` uses `rep movsb` from 4 KiB up, which
/// on AMD Zen 3 runs 14 times slower when the destination is 1 to 31 bytes past the source
/// modulo 4096, so a plain copy would measure where the buffers happen to lie (see
/// `benches/README.md`).
fn decode_all(server: &mut Connection, wire: &[u8]) -> usize {
    let mut pos = 0;
    let mut seen = 0;
    while pos < wire.len() {
        let buf = server.recv_buf();
        let n = buf.len().min(wire.len() - pos);
        for (d, s) in buf[..n]
            .chunks_mut(2048)
            .zip(wire[pos..pos + n].chunks(2048))
        {
            d.copy_from_slice(s);
        }
        server.recv_filled(n);
        pos += n;
        while let Some(event) = server.next_event().unwrap() {
            match event {
                Event::Binary(data) => {
                    black_box(data);
                }
                _ => unreachable!(),
            }
            seen += 1;
        }
    }
    seen
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("connection/server_decode");
    for (len, name) in SIZES {
        let count = batch(len);
        let wire = client_stream(len, count);
        group.throughput(Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: (count * len) as u64,
        });
        let mut server = Connection::new(Role::Server, Config::default());
        assert_eq!(decode_all(&mut server, &wire), count);
        group.bench_function(name, |b| {
            b.iter(|| decode_all(&mut server, black_box(&wire)));
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("connection/client_encode");
    for (len, name) in SIZES {
        let count = batch(len);
        let data = payload(len);
        group.throughput(Throughput::ElementsAndBytes {
            elements: count as u64,
            bytes: (count * len) as u64,
        });
        let mut client = Connection::with_seed(Role::Client, Config::default(), [6; 32]);
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..count {
                    client.send_binary(black_box(&data)).unwrap();
                    let n = black_box(client.pending_output()).len();
                    client.consume_output(n);
                }
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = decode, encode
}
criterion_main!(benches);
