//! In-place masking throughput: `apply_mask` at every payload size that matters, on an aligned
//! buffer and one byte off, with the ceiling (`memcpy` of the same number of bytes) and the
//! floor (the plain byte loop, `apply_mask_bytewise`) in the same group.
//!
//! ```text
//! cargo bench --bench mask
//! cargo bench --bench mask -- 'mask/1024'    # one size
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::mask::{apply_mask, apply_mask_bytewise};

const SIZES: [(usize, &str); 7] = [
    (16, "16B"),
    (125, "125B"),
    (1 << 10, "1KiB"),
    (16 << 10, "16KiB"),
    (64 << 10, "64KiB"),
    (1 << 20, "1MiB"),
    (16 << 20, "16MiB"),
];

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A 64-byte aligned buffer of `len + 64` bytes, so that `[off..off + len]` is aligned for
/// `off == 0` and one byte past an alignment boundary for `off == 1`.
struct Aligned {
    storage: Vec<u8>,
    start: usize,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let storage: Vec<u8> = (0..len + 128).map(|i| (i * 31 + 7) as u8).collect();
        let start = storage.as_ptr().align_offset(64);
        Aligned { storage, start }
    }

    fn slice(&mut self, off: usize, len: usize) -> &mut [u8] {
        &mut self.storage[self.start + off..self.start + off + len]
    }
}

fn mask(c: &mut Criterion) {
    for (len, name) in SIZES {
        let mut group = c.benchmark_group(format!("mask/{name}"));
        group.throughput(Throughput::Bytes(len as u64));
        if len >= 1 << 20 {
            group.sample_size(10);
        }
        let mut buf = Aligned::new(len);
        let mut src = Aligned::new(len);
        for (off, at) in [(0, "aligned"), (1, "+1")] {
            group.bench_function(format!("apply_mask/{at}"), |b| {
                let buf = buf.slice(off, len);
                b.iter(|| apply_mask(black_box(&mut *buf), black_box(KEY), 0));
            });
        }
        group.bench_function("memcpy", |b| {
            let src = &*src.slice(0, len);
            let dst = buf.slice(0, len);
            b.iter(|| black_box(&mut *dst).copy_from_slice(black_box(src)));
        });
        group.bench_function("bytewise/aligned", |b| {
            let buf = buf.slice(0, len);
            b.iter(|| apply_mask_bytewise(black_box(&mut *buf), black_box(KEY), 0));
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800));
    targets = mask
}
criterion_main!(benches);
