//! In-place masking: rfc6455's `apply_mask` against `memcpy` of the same buffer (the ceiling),
//! plain explicit SSE2, AVX2 and (where the CPU has it) AVX-512 loops written here (the
//! references), fastwebsockets' public `unmask`, a copy of tokio-websockets' private masking
//! (its AVX-512 path, where the CPU has it), and the plain byte loop (the floor).
//! tungstenite's masking is private; it is measured inside the decode workloads, as is
//! tokio-websockets' own.

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;

use crate::measure::{Job, median, ratio, rotate, size_name, thread_cpu_secs};
use crate::{Plan, Target};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// The sizes measured unless `--mask-size` names others.
pub const SIZES: [usize; 7] = [16, 125, 1 << 10, 16 << 10, 64 << 10, 1 << 20, 16 << 20];

pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether the CPU has the AVX-512 subsets the AVX-512 reference uses (F and BW).
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The bytes from `i` (a multiple of 4, so the key is at phase 0) to the end of `buf`:
/// 8-byte words, then bytes. The tail of the SSE2 and AVX2 references.
#[inline(always)]
fn mask_tail(buf: &mut [u8], mut i: usize, key: [u8; 4]) {
    let kw = u64::from(u32::from_ne_bytes(key)) * 0x1_0000_0001;
    while i + 8 <= buf.len() {
        let word = u64::from_ne_bytes(buf[i..i + 8].try_into().unwrap()) ^ kw;
        buf[i..i + 8].copy_from_slice(&word.to_ne_bytes());
        i += 8;
    }
    while i < buf.len() {
        buf[i] ^= key[i & 3];
        i += 1;
    }
}

/// A reference: a plain explicit loop over unaligned 16-byte SSE2 vectors (SSE2 is part of
/// the x86-64 baseline, so this one can be inlined), 64 bytes per iteration, then 16, then
/// 8-byte words and bytes.
#[inline]
fn sse2(buf: &mut [u8], key: [u8; 4]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_loadu_si128, _mm_set1_epi32, _mm_storeu_si128, _mm_xor_si128,
        };
        let len = buf.len();
        let p = buf.as_mut_ptr();
        let mut i = 0;
        // SAFETY: every access is within `buf` (`i + width <= len`); unaligned loads and
        // stores are allowed; SSE2 is part of the x86-64 baseline.
        unsafe {
            let k = _mm_set1_epi32(i32::from_ne_bytes(key));
            while i + 64 <= len {
                let q = p.add(i).cast::<__m128i>();
                let a = _mm_loadu_si128(q);
                let b = _mm_loadu_si128(q.add(1));
                let c = _mm_loadu_si128(q.add(2));
                let d = _mm_loadu_si128(q.add(3));
                _mm_storeu_si128(q, _mm_xor_si128(a, k));
                _mm_storeu_si128(q.add(1), _mm_xor_si128(b, k));
                _mm_storeu_si128(q.add(2), _mm_xor_si128(c, k));
                _mm_storeu_si128(q.add(3), _mm_xor_si128(d, k));
                i += 64;
            }
            while i + 16 <= len {
                let q = p.add(i).cast::<__m128i>();
                _mm_storeu_si128(q, _mm_xor_si128(_mm_loadu_si128(q), k));
                i += 16;
            }
        }
        mask_tail(buf, i, key);
    }
    #[cfg(not(target_arch = "x86_64"))]
    rfc6455::mask::apply_mask_bytewise(buf, key, 0);
}

/// A reference: a straightforward explicit AVX2 loop, 128 bytes per iteration, then 32,
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
    }
    mask_tail(buf, i, key);
}

/// A reference: a straightforward explicit AVX-512 loop, 256 bytes per iteration, then 64,
/// then the rest with one masked load and store (AVX-512BW byte masks).
///
/// # Safety
/// The CPU must support AVX-512F and AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn mask_avx512(buf: &mut [u8], key: [u8; 4]) {
    use std::arch::x86_64::{
        __m512i, _mm512_loadu_si512, _mm512_mask_storeu_epi8, _mm512_maskz_loadu_epi8,
        _mm512_set1_epi32, _mm512_storeu_si512, _mm512_xor_si512,
    };
    let len = buf.len();
    let p = buf.as_mut_ptr();
    let k = _mm512_set1_epi32(i32::from_ne_bytes(key));
    let mut i = 0;
    // SAFETY: every full access is within `buf` (`i + 64 <= len`), the masked one touches only
    // the `len - i < 64` bytes left; unaligned access is allowed; the caller guarantees
    // AVX-512F and BW.
    unsafe {
        while i + 256 <= len {
            let q = p.add(i).cast::<__m512i>();
            let a = _mm512_loadu_si512(q);
            let b = _mm512_loadu_si512(q.add(1));
            let c = _mm512_loadu_si512(q.add(2));
            let d = _mm512_loadu_si512(q.add(3));
            _mm512_storeu_si512(q, _mm512_xor_si512(a, k));
            _mm512_storeu_si512(q.add(1), _mm512_xor_si512(b, k));
            _mm512_storeu_si512(q.add(2), _mm512_xor_si512(c, k));
            _mm512_storeu_si512(q.add(3), _mm512_xor_si512(d, k));
            i += 256;
        }
        while i + 64 <= len {
            let q = p.add(i).cast::<__m512i>();
            _mm512_storeu_si512(q, _mm512_xor_si512(_mm512_loadu_si512(q), k));
            i += 64;
        }
        if i < len {
            // `i` is a multiple of 4: the key is at phase 0.
            let m = u64::MAX >> (64 - (len - i));
            let q = p.add(i).cast::<i8>();
            let v = _mm512_maskz_loadu_epi8(m, q);
            _mm512_mask_storeu_epi8(q, m, _mm512_xor_si512(v, k));
        }
    }
}

/// tokio-websockets 0.13.3's masking on a CPU with AVX-512F, copied from its private
/// `mask::frame` (`src/mask.rs`, MIT licence): the bytes before the first 64-byte aligned
/// address and after the last whole aligned vector go through its fallback (8-byte aligned
/// words, bytes one at a time before and after them), the rest through aligned AVX-512 XORs.
/// Its AVX2 and SSE2 paths are the same with narrower vectors.
#[cfg(target_arch = "x86_64")]
mod tokio_websockets_copy {
    use std::arch::x86_64::{__m512i, _mm512_set1_epi32, _mm512_xor_si512};

    fn rotate_mask(key: &mut [u8; 4], offset: usize) {
        *key = u32::from_be_bytes(*key)
            .rotate_left((offset % key.len()) as u32 * u8::BITS)
            .to_be_bytes();
    }

    fn one_byte_at_once(key: &mut [u8; 4], input: &mut [u8]) {
        for (index, byte) in input.iter_mut().enumerate() {
            *byte ^= key[index % key.len()];
        }
        rotate_mask(key, input.len());
    }

    fn fallback_frame(key: &mut [u8; 4], input: &mut [u8]) {
        // SAFETY: any bit pattern is a valid `u64`.
        let (prefix, aligned_data, suffix) = unsafe { input.align_to_mut::<u64>() };
        if !prefix.is_empty() {
            one_byte_at_once(key, prefix);
        }
        if !aligned_data.is_empty() {
            let masking_key = u64::from(u32::from_ne_bytes(*key));
            let mask = (masking_key << u32::BITS) | masking_key;
            for block in aligned_data {
                *block ^= mask;
            }
        }
        if !suffix.is_empty() {
            one_byte_at_once(key, suffix);
        }
    }

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn frame_avx512(key: &mut [u8; 4], input: &mut [u8]) {
        // SAFETY: any bit pattern is a valid `__m512i`; AVX-512F as the caller guarantees.
        unsafe {
            let (prefix, aligned_data, suffix) = input.align_to_mut::<__m512i>();
            if !prefix.is_empty() {
                fallback_frame(key, prefix);
            }
            if !aligned_data.is_empty() {
                let mask = _mm512_set1_epi32(i32::from_ne_bytes(*key));
                for block in aligned_data {
                    *block = _mm512_xor_si512(*block, mask);
                }
            }
            if !suffix.is_empty() {
                fallback_frame(key, suffix);
            }
        }
    }
}

/// The tokio-websockets copy as a safe function, for a CPU known to have AVX-512F and BW.
fn tokio_websockets_avx512(buf: &mut [u8], key: [u8; 4]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: only called after `has_avx512()` returned true (see `impls`).
    unsafe {
        tokio_websockets_copy::frame_avx512(&mut { key }, buf)
    }
    #[cfg(not(target_arch = "x86_64"))]
    rfc6455::mask::apply_mask_bytewise(buf, key, 0);
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

/// The AVX-512 reference as a safe function, for a CPU known to have AVX-512F and BW.
fn avx512(buf: &mut [u8], key: [u8; 4]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: only called after `has_avx512()` returned true (see `run` and `check`).
    unsafe {
        mask_avx512(buf, key)
    }
    #[cfg(not(target_arch = "x86_64"))]
    rfc6455::mask::apply_mask_bytewise(buf, key, 0);
}

/// A 64-byte aligned region of `len` bytes at offset `off` (0 or 1) inside `storage`.
fn region(storage: &mut [u8], off: usize, len: usize) -> &mut [u8] {
    let start = storage.as_ptr().align_offset(64) + off;
    &mut storage[start..start + len]
}

/// The operation rates (per second of the thread's CPU time) of a job's runs, in order.
type CpuRates = Rc<RefCell<Vec<f64>>>;

/// Runs `n` operations with `f` and logs their rate per second of this thread's CPU time.
#[inline(always)]
fn cpu_timed(log: &CpuRates, n: u64, f: impl FnOnce()) {
    let start = thread_cpu_secs();
    f();
    let secs = (thread_cpu_secs() - start).max(1e-9);
    log.borrow_mut().push(n as f64 / secs);
}

/// A job masking `len` bytes at alignment offset `off` with `f`, `n` times.
fn mask_job(
    f: impl Fn(&mut [u8], [u8; 4]) + 'static,
    len: usize,
    off: usize,
    log: CpuRates,
) -> Box<dyn Job + 'static> {
    let mut storage = vec![0x5a_u8; len + 128];
    Box::new(move |n: u64| {
        let buf = region(&mut storage, off, len);
        cpu_timed(&log, n, || {
            for _ in 0..n {
                f(black_box(&mut *buf), black_box(KEY));
            }
        });
    })
}

fn memcpy_job(len: usize, off: usize, log: CpuRates) -> Box<dyn Job + 'static> {
    let mut dst = vec![0_u8; len + 128];
    let mut src = vec![0x5a_u8; len + 128];
    Box::new(move |n: u64| {
        let d = region(&mut dst, off, len);
        let s = &*region(&mut src, 0, len);
        cpu_timed(&log, n, || {
            for _ in 0..n {
                black_box(&mut *d).copy_from_slice(black_box(s));
            }
        });
    })
}

/// The implementations measured, in table order: rfc6455 first, then the ceiling, the
/// references and peers, and the floor last.
enum Impl {
    Rfc6455,
    Memcpy,
    Sse2,
    Avx2,
    Avx512,
    TokioWebsockets,
    Fastwebsockets,
    Bytewise,
}

impl Impl {
    fn name(&self) -> &'static str {
        match self {
            Impl::Rfc6455 => "rfc6455",
            Impl::Memcpy => "memcpy",
            Impl::Sse2 => "SSE2 loop",
            Impl::Avx2 => "AVX2 loop",
            Impl::Avx512 => "AVX-512 loop",
            Impl::TokioWebsockets => "tokio-websockets AVX-512 (copy)",
            Impl::Fastwebsockets => "fastwebsockets::unmask",
            Impl::Bytewise => "byte loop",
        }
    }

    /// Whether rfc6455 must be at least as fast as the fastest of these (the targets).
    fn is_reference(&self) -> bool {
        matches!(self, Impl::Sse2 | Impl::Avx2 | Impl::Fastwebsockets)
    }

    /// The job masking `len` bytes at offset `off`, or for `memcpy` copying them, logging
    /// the rate of each run to `log`. Each closure is its own type, so every masking function
    /// is inlined into its job's loop where it can be.
    fn job(&self, len: usize, off: usize, log: CpuRates) -> Box<dyn Job + 'static> {
        match self {
            Impl::Rfc6455 => mask_job(
                |b, k| {
                    rfc6455::mask::apply_mask(b, k, 0);
                },
                len,
                off,
                log,
            ),
            Impl::Memcpy => memcpy_job(len, off, log),
            Impl::Sse2 => mask_job(sse2, len, off, log),
            Impl::Avx2 => mask_job(avx2, len, off, log),
            Impl::Avx512 => mask_job(avx512, len, off, log),
            Impl::TokioWebsockets => mask_job(tokio_websockets_avx512, len, off, log),
            Impl::Fastwebsockets => mask_job(fastwebsockets::unmask, len, off, log),
            Impl::Bytewise => mask_job(
                |b, k| {
                    rfc6455::mask::apply_mask_bytewise(b, k, 0);
                },
                len,
                off,
                log,
            ),
        }
    }
}

/// What this CPU can run: the AVX-512 columns only with AVX-512F and BW.
fn impls() -> Vec<Impl> {
    let mut impls = vec![Impl::Rfc6455, Impl::Memcpy, Impl::Sse2, Impl::Avx2];
    if has_avx512() {
        impls.extend([Impl::Avx512, Impl::TokioWebsockets]);
    }
    impls.extend([Impl::Fastwebsockets, Impl::Bytewise]);
    impls
}

/// Checks every implementation against the byte loop once, so the table compares like with
/// like.
fn check(impls: &[Impl]) {
    for len in [
        0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 125, 127, 128, 129, 255, 256, 257,
        1000, 4099,
    ] {
        for off in 0..4 {
            let original: Vec<u8> = (0..len + 8).map(|i| (i * 13 + 1) as u8).collect();
            let mut expected = original.clone();
            rfc6455::mask::apply_mask_bytewise(&mut expected[off..off + len], KEY, 0);
            type MaskFn = fn(&mut [u8], [u8; 4]);
            for i in impls {
                let f: MaskFn = match i {
                    Impl::Memcpy | Impl::Bytewise => continue,
                    Impl::Rfc6455 => |b, k| {
                        rfc6455::mask::apply_mask(b, k, 0);
                    },
                    Impl::Sse2 => sse2,
                    Impl::Avx2 => avx2,
                    Impl::Avx512 => avx512,
                    Impl::TokioWebsockets => tokio_websockets_avx512,
                    Impl::Fastwebsockets => fastwebsockets::unmask,
                };
                let mut got = original.clone();
                f(&mut got[off..off + len], KEY);
                assert_eq!(got, expected, "{}: len {len} off {off}", i.name());
            }
        }
    }
}

/// Measures every size in `sizes` (the table's [`SIZES`] if empty).
pub fn run(plan: Plan, sizes: &[usize]) -> Vec<Target> {
    if !has_avx2() {
        println!("\n## In-place masking: skipped (the AVX2 reference needs a CPU with AVX2)");
        return Vec::new();
    }
    let impls = impls();
    check(&impls);
    println!(
        "\n## In-place masking (GB/s; in brackets: rfc6455 / other, median of per-trial ratios)\n"
    );
    let names: Vec<&str> = impls.iter().map(Impl::name).collect();
    println!("| size | offset | {} |", names.join(" | "));
    println!("|---|---|{}", "---:|".repeat(impls.len()));
    let sizes = if sizes.is_empty() { &SIZES[..] } else { sizes };
    let mut targets = Vec::new();
    for &len in sizes {
        for off in [0, 1] {
            let logs: Vec<CpuRates> = impls.iter().map(|_| CpuRates::default()).collect();
            let mut jobs: Vec<Box<dyn Job>> = impls
                .iter()
                .zip(&logs)
                .map(|(i, log)| i.job(len, off, log.clone()))
                .collect();
            let mut plan = plan;
            if len >= 1 << 20 {
                // Fewer, longer calls: keep the time per batch.
                plan.trials = plan.trials.min(5);
            }
            // `rotate` runs the trials (after the calibration runs) and times them on the
            // wall clock; each job's last `plan.trials` runs are those trials, in order, and
            // their rates per second of CPU time leave out the time this thread spent
            // waiting for a CPU on a busy machine.
            rotate(&mut jobs, plan);
            let rates: Vec<Vec<f64>> = logs
                .iter()
                .map(|log| {
                    let log = log.borrow();
                    log[log.len() - plan.trials..].to_vec()
                })
                .collect();
            let gbs = |i: usize| median(&rates[i]) * len as f64 / 1e9;
            let mut row = format!(
                "| {} | {} | {:.1}",
                size_name(len),
                if off == 0 { "aligned" } else { "+1" },
                gbs(0)
            );
            for i in 1..impls.len() {
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
                targets.push(Target::at_least(
                    format!("masking {at} >= 0.9x memcpy"),
                    r,
                    0.9,
                ));
            }
            // The fastest of the SSE2 and AVX2 references and every peer, per trial.
            let best: Vec<f64> = (0..plan.trials)
                .map(|t| {
                    impls
                        .iter()
                        .zip(&rates)
                        .filter(|(i, _)| i.is_reference())
                        .map(|(_, r)| r[t])
                        .fold(0.0, f64::max)
                })
                .collect();
            let r = ratio(&rates[0], &best);
            targets.push(Target::at_least(
                format!("masking {at} >= fastest of SSE2 and AVX2 loops and peers"),
                r,
                1.0,
            ));
            // Not a target of the issue, but worth seeing next to them: the AVX-512 columns.
            for (k, i) in impls.iter().enumerate() {
                if matches!(i, Impl::Avx512 | Impl::TokioWebsockets) {
                    let r = ratio(&rates[0], &rates[k]);
                    targets.push(Target::at_least(
                        format!("masking {at} >= {}", i.name()),
                        r,
                        1.0,
                    ));
                }
            }
        }
    }
    targets
}
