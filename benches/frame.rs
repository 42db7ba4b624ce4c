//! Frame header decode and encode, for the three length forms (7-bit, 16-bit, 64-bit), masked
//! (as a server receives them) and unmasked (as a server sends them).
//!
//! ```text
//! cargo bench --bench frame
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::frame::{Decoded, FrameHeader, MAX_HEADER_LEN, OpCode};

/// Headers of a 16 B, a 1 KiB and a 1 MiB binary frame, masked and not.
fn headers() -> Vec<(String, FrameHeader)> {
    let mut all = Vec::new();
    for (len, name) in [(16, "16B"), (1024, "1KiB"), (1 << 20, "1MiB")] {
        for (mask, masked) in [(Some([1, 2, 3, 4]), "masked"), (None, "unmasked")] {
            let header = FrameHeader {
                fin: true,
                rsv: 0,
                opcode: OpCode::Binary,
                mask,
                len,
            };
            all.push((format!("{name}/{masked}"), header));
        }
    }
    all
}

fn decode(c: &mut Criterion) {
    for (name, header) in headers() {
        let mut wire = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut wire);
        let wire = &wire[..n];
        let mut group = c.benchmark_group("frame/decode");
        group.throughput(Throughput::Bytes(n as u64));
        group.bench_function(&name, |b| {
            b.iter(|| match FrameHeader::decode(black_box(wire), 16 << 20) {
                Ok(Decoded::Complete(h, used)) => (h, used),
                _ => unreachable!(),
            });
        });
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    for (name, header) in headers() {
        let mut group = c.benchmark_group("frame/encode");
        group.throughput(Throughput::Bytes(header.encoded_len() as u64));
        let mut out = [0; MAX_HEADER_LEN];
        group.bench_function(&name, |b| {
            b.iter(|| black_box(&header).encode(black_box(&mut out)));
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600));
    targets = decode, encode
}
criterion_main!(benches);
