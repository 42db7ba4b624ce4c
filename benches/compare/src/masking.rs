//! In-place masking: rfc6455's `apply_mask` against `memcpy` of the same buffer (the ceiling),
//! an explicit AVX2 loop written here (the reference), fastwebsockets' public `unmask`, and the
//! plain byte loop (the floor). tungstenite's and tokio-websockets' masking functions are
//! private; they are measured inside the decode workloads.

use std::hint::black_box;

use crate::measure::{Job, median, ratio, rotate, size_name};
use crate::{Plan, Target};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const SIZES: [usize; 7] = [16, 125, 1 << 10, 16 << 10, 64 << 10, 1 << 20, 16 << 20];
const NAMES: [&str; 5] = [
    "rfc6455",
    "memcpy",
    "AVX2 loop",
    "fastwebsockets::unmask",
    "byte loop",
];

pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The reference: a straightforward explicit AVX2 loop, 128 bytes per iteration, then 32,
/// then 8-byte words and bytes.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn mask_avx2(buf: &mut [u8], key: [u8; 4]) {
    use std::arch::x86_64::{
        __m256i, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256, _mm256_xor_si256,
    };
    let len = buf.len();
    let p = buf.as_mut_ptr();
    let k = _mm256_set1_epi32(i32::from_ne_bytes(key));
    let mut i = 0;
    // SAFETY (all blocks): every access is within `buf` (`i + width <= len`); unaligned loads
    // and stores are allowed; AVX2 is guaranteed by the caller.
    unsafe {
        while i + 128 <= len {
            let q = p.add(i).cast::<__m256i>();
            let a = _mm256_loadu_si256(q);
            let b = _mm256_loadu_si256(q.add(1));
            let c = _mm256_loadu_si256(q.add(2));
            let d = _mm256_loadu_si256(q.add(3));
            _mm256_storeu_si256(q, _mm256_xor_si256(a, k));
            _mm256_storeu_si256(q.add(1), _mm256_xor_si256(b, k));
            _mm256_storeu_si256(q.add(2), _mm256_xor_si256(c, k));
            _mm256_storeu_si256(q.add(3), _mm256_xor_si256(d, k));
            i += 128;
        }
        while i + 32 <= len {
            let q = p.add(i).cast::<__m256i>();
            _mm256_storeu_si256(q, _mm256_xor_si256(_mm256_loadu_si256(q), k));
            i += 32;
        }
        // `i` is a multiple of 4 here: the key is at phase 0.
        let kw = u64::from(u32::from_ne_bytes(key)) * 0x1_0000_0001;
        while i + 8 <= len {
            let q = p.add(i).cast::<u64>();
            q.write_unaligned(q.read_unaligned() ^ kw);
            i += 8;
        }
        while i < len {
            *p.add(i) ^= key[i & 3];
            i += 1;
        }
    }
}

/// The AVX2 reference as a safe function, for a CPU known to have AVX2.
fn avx2(buf: &mut [u8], key: [u8; 4]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: only called after `has_avx2()` returned true (see `run`).
    unsafe {
        mask_avx2(buf, key)
    }
    #[cfg(not(target_arch = "x86_64"))]
    rfc6455::mask::apply_mask_bytewise(buf, key, 0);
}

/// A 64-byte aligned region of `len` bytes at offset `off` (0 or 1) inside `storage`.
fn region(storage: &mut [u8], off: usize, len: usize) -> &mut [u8] {
    let start = storage.as_ptr().align_offset(64) + off;
    &mut storage[start..start + len]
}

/// A job masking `len` bytes at alignment offset `off` with `f`, `n` times.
fn mask_job(
    f: impl Fn(&mut [u8], [u8; 4]) + 'static,
    len: usize,
    off: usize,
) -> Box<dyn Job + 'static> {
    let mut storage = vec![0x5a_u8; len + 128];
    Box::new(move |n: u64| {
        let buf = region(&mut storage, off, len);
        for _ in 0..n {
            f(black_box(&mut *buf), black_box(KEY));
        }
    })
}

fn memcpy_job(len: usize, off: usize) -> Box<dyn Job + 'static> {
    let mut dst = vec![0_u8; len + 128];
    let mut src = vec![0x5a_u8; len + 128];
    Box::new(move |n: u64| {
        let d = region(&mut dst, off, len);
        let s = &*region(&mut src, 0, len);
        for _ in 0..n {
            black_box(&mut *d).copy_from_slice(black_box(s));
        }
    })
}

/// Checks every implementation against the byte loop once, so the table compares like with
/// like.
fn check() {
    for len in [
        0, 1, 3, 4, 7, 8, 15, 16, 31, 32, 33, 125, 127, 128, 129, 1000, 4099,
    ] {
        for off in 0..4 {
            let original: Vec<u8> = (0..len + 8).map(|i| (i * 13 + 1) as u8).collect();
            let mut expected = original.clone();
            rfc6455::mask::apply_mask_bytewise(&mut expected[off..off + len], KEY, 0);
            type MaskFn = fn(&mut [u8], [u8; 4]);
            let impls: [(&str, MaskFn); 3] = [
                ("rfc6455", |b, k| {
                    rfc6455::mask::apply_mask(b, k, 0);
                }),
                ("AVX2 loop", avx2),
                ("fastwebsockets", fastwebsockets::unmask),
            ];
            for (name, f) in impls {
                let mut got = original.clone();
                f(&mut got[off..off + len], KEY);
                assert_eq!(got, expected, "{name}: len {len} off {off}");
            }
        }
    }
}

pub fn run(plan: Plan) -> Vec<Target> {
    if !has_avx2() {
        println!("\n## In-place masking: skipped (the AVX2 reference needs a CPU with AVX2)");
        return Vec::new();
    }
    check();
    println!(
        "\n## In-place masking (GB/s; in brackets: rfc6455 / other, median of per-trial ratios)\n"
    );
    println!("| size | offset | {} |", NAMES.join(" | "));
    println!("|---|---|{}", "---:|".repeat(NAMES.len()));
    let mut targets = Vec::new();
    for len in SIZES {
        for off in [0, 1] {
            let mut jobs: Vec<Box<dyn Job>> = vec![
                mask_job(
                    |b, k| {
                        rfc6455::mask::apply_mask(b, k, 0);
                    },
                    len,
                    off,
                ),
                memcpy_job(len, off),
                mask_job(avx2, len, off),
                mask_job(fastwebsockets::unmask, len, off),
                mask_job(
                    |b, k| {
                        rfc6455::mask::apply_mask_bytewise(b, k, 0);
                    },
                    len,
                    off,
                ),
            ];
            let mut plan = plan;
            if len >= 1 << 20 {
                // Fewer, longer calls: keep the time per batch.
                plan.trials = plan.trials.min(5);
            }
            let rates = rotate(&mut jobs, plan);
            let gbs = |i: usize| median(&rates[i]) * len as f64 / 1e9;
            let mut row = format!(
                "| {} | {} | {:.1}",
                size_name(len),
                if off == 0 { "aligned" } else { "+1" },
                gbs(0)
            );
            for i in 1..NAMES.len() {
                row += &format!(" | {:.1} ({:.2}x)", gbs(i), ratio(&rates[0], &rates[i]));
            }
            println!("{row} |");

            let at = format!(
                "{} {}",
                size_name(len),
                if off == 0 { "aligned" } else { "+1" }
            );
            if (1 << 10..=16 << 10).contains(&len) {
                let r = ratio(&rates[0], &rates[1]);
                targets.push(Target {
                    what: format!("masking {at} >= 0.9x memcpy"),
                    measured: format!("{r:.2}x"),
                    value: r,
                    goal: 0.9,
                    lower_is_better: false,
                });
            }
            // The fastest of the AVX2 reference and every peer, per trial.
            let best: Vec<f64> = (0..plan.trials)
                .map(|t| rates[2][t].max(rates[3][t]))
                .collect();
            let r = ratio(&rates[0], &best);
            targets.push(Target {
                what: format!("masking {at} >= fastest of AVX2 loop and peers"),
                measured: format!("{r:.2}x"),
                value: r,
                goal: 1.0,
                lower_is_better: false,
            });
        }
    }
    targets
}
