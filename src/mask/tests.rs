extern crate std;

use super::*;
use alloc::{format, vec};
use std::vec::Vec;

/// The buffer lengths tried exhaustively: all up to 300 (past `SIMD_MIN_LEN` and a few
/// iterations of every kernel's loop), and some longer ones around the 256-byte AVX-512 loop
/// and beyond. Miri is slow, so under it: all up to 36 (past one AVX2 vector, every tail of
/// the inline 16-byte loop) and a few around and past the kernels' minimum of two vectors,
/// the 64-byte loops and `SIMD_MIN_LEN`.
fn lengths() -> Vec<usize> {
    if cfg!(miri) {
        (0..=36)
            .chain([47, 63, 64, 65, 71, 100, 131, 255, 256])
            .collect()
    } else {
        (0..=300)
            .chain([
                319, 320, 321, 383, 447, 511, 512, 513, 575, 1000, 1024, 1087, 4099,
            ])
            .collect()
    }
}

/// The start offsets (alignments) tried: 0 to 63 (every position in a cache line and an
/// AVX-512 vector); under Miri four, one per residue modulo 4 (a key's phase against a
/// 32-bit word) that are also unaligned in three ways for a 64-bit word.
fn offsets() -> Vec<usize> {
    if cfg!(miri) {
        vec![0, 1, 2, 7]
    } else {
        (0..=63).collect()
    }
}

/// Test keys: one from RFC 6455, one with the top bit set in some bytes but not others
/// (only the first under Miri).
fn keys() -> &'static [[u8; 4]] {
    const KEYS: [[u8; 4]; 2] = [[0x37, 0xfa, 0x21, 0x3d], [0x01, 0x80, 0xff, 0x5a]];
    if cfg!(miri) { &KEYS[..1] } else { &KEYS }
}

/// Longest length and largest offset in [`lengths`] and [`offsets`].
const MAX_LEN: usize = if cfg!(miri) { 256 } else { 4099 };
/// The length split at every point by `piecewise_equals_whole`.
const PIECEWISE_LEN: usize = if cfg!(miri) { 40 } else { 300 };
const MAX_OFFSET: usize = 63;

/// Deterministic, non-repeating test bytes.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 7) as u8
        })
        .collect()
}

/// A masking function with the `apply_mask` contract.
type MaskFn<'a> = &'a dyn Fn(&mut [u8], [u8; 4], usize) -> usize;

/// A copy-and-mask function: writes `src` masked to `dst` (same length), returns the phase.
type CopyFn<'a> = &'a dyn Fn(&mut [u8], &[u8], [u8; 4], usize) -> usize;

/// Compares `f` with the byte loop for every length in [`lengths`], start offset in
/// [`offsets`], phase and test key. The slice is part of a larger buffer, so that writes
/// outside it are caught too.
fn check_against_bytewise(name: &str, f: MaskFn<'_>) {
    let content = pattern(MAX_LEN, 7);
    let guard = pattern(MAX_OFFSET + MAX_LEN + 8, 8);
    let mut buf = guard.clone();
    for &key in keys() {
        for len in lengths() {
            for phase in 0..4 {
                let mut expected = content[..len].to_vec();
                let expected_phase = apply_mask_bytewise(&mut expected, key, phase);
                assert_eq!(expected_phase, (phase + len) % 4);
                // Only the part of the buffer this length can reach is reset and checked.
                let (buf, guard) = (
                    &mut buf[..MAX_OFFSET + len + 8],
                    &guard[..MAX_OFFSET + len + 8],
                );
                for offset in offsets() {
                    let end = offset + len;
                    buf.copy_from_slice(guard);
                    buf[offset..end].copy_from_slice(&content[..len]);
                    let got = f(&mut buf[offset..end], key, phase);
                    let at = || format!("{name}: len {len} offset {offset} phase {phase}");
                    assert_eq!(got, expected_phase, "{}", at());
                    assert!(buf[offset..end] == expected[..], "{}", at());
                    assert!(buf[..offset] == guard[..offset], "{}: before", at());
                    assert!(buf[end..] == guard[end..], "{}: after", at());
                }
            }
        }
    }
}

/// Like [`check_against_bytewise`] for a copy-and-mask function, with the source and the
/// destination at different offsets.
fn check_copy_against_bytewise(name: &str, f: CopyFn<'_>) {
    let content = pattern(MAX_LEN, 9);
    let mut source = pattern(MAX_OFFSET + MAX_LEN, 10);
    let guard = pattern(MAX_OFFSET + MAX_LEN + 8, 11);
    let mut buf = guard.clone();
    for &key in keys() {
        for len in lengths() {
            for phase in 0..4 {
                let mut expected = content[..len].to_vec();
                let expected_phase = apply_mask_bytewise(&mut expected, key, phase);
                let (buf, guard) = (
                    &mut buf[..MAX_OFFSET + len + 8],
                    &guard[..MAX_OFFSET + len + 8],
                );
                for offset in offsets() {
                    let src_offset = (offset * 7 + 3) % (MAX_OFFSET + 1);
                    source[src_offset..src_offset + len].copy_from_slice(&content[..len]);
                    let src = &source[src_offset..src_offset + len];
                    let end = offset + len;
                    buf.copy_from_slice(guard);
                    let got = f(&mut buf[offset..end], src, key, phase);
                    let at = || format!("{name}: len {len} offset {offset} phase {phase}");
                    assert_eq!(got, expected_phase, "{}", at());
                    assert!(buf[offset..end] == expected[..], "{}", at());
                    assert!(buf[..offset] == guard[..offset], "{}: before", at());
                    assert!(buf[end..] == guard[end..], "{}: after", at());
                }
            }
        }
    }
}

/// Checks one SIMD kernel directly, in place and copying, against the byte loop: it must
/// mask the whole buffer when it is at least `min_len` bytes (two vectors) long and leave it
/// alone otherwise (the buffer is then masked by the byte loop here).
///
/// # Safety
///
/// The CPU must support the kernel's target features.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
))]
unsafe fn check_kernel(name: &str, kernel: simd::Kernel, min_len: usize) {
    let in_place = |buf: &mut [u8], key: [u8; 4], phase: usize| {
        let len = buf.len();
        let before = buf.to_vec();
        let p = buf.as_mut_ptr();
        // SAFETY: `p` is valid for reads and writes of `len` bytes and `src == dst`; the
        // caller guarantees the CPU features.
        let done = unsafe { kernel(p, p, len, rotate_key(key, phase)) };
        if len >= min_len {
            assert_eq!(done, len, "{name}: len {len}");
        } else {
            assert_eq!(done, 0, "{name}: len {len}");
            assert!(
                buf == &before[..],
                "{name}: short buffer touched, len {len}"
            );
            apply_mask_bytewise(buf, key, phase);
        }
        next_phase(phase, len)
    };
    check_against_bytewise(name, &in_place);

    let copy = |dst: &mut [u8], src: &[u8], key: [u8; 4], phase: usize| {
        let len = src.len();
        let before = dst.to_vec();
        // SAFETY: `src` is valid for reads and `dst` for writes of `len` bytes, and they
        // are distinct buffers; the caller guarantees the CPU features.
        let done = unsafe { kernel(src.as_ptr(), dst.as_mut_ptr(), len, rotate_key(key, phase)) };
        if len >= min_len {
            assert_eq!(done, len, "{name} copy: len {len}");
        } else {
            assert_eq!(done, 0, "{name} copy: len {len}");
            assert!(
                dst == &before[..],
                "{name} copy: short buffer touched, len {len}"
            );
            dst.copy_from_slice(src);
            apply_mask_bytewise(dst, key, phase);
        }
        next_phase(phase, len)
    };
    check_copy_against_bytewise(&format!("{name} copy"), &copy);
}

#[test]
fn rfc_example() {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let mut payload = *b"Hello";
    assert_eq!(apply_mask(&mut payload, key, 0), 1);
    assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    let mut out = vec![0x81, 0x85];
    assert_eq!(extend_masked(&mut out, b"Hello", key, 0), 1);
    assert_eq!(out, [0x81, 0x85, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
}

#[test]
fn phase_is_taken_modulo_4() {
    let key = keys()[0];
    for phase in [4, 5, 6, 7, 1001, usize::MAX - 3, usize::MAX] {
        for len in [0, 3, 16, 64, 130, 300] {
            let original = pattern(len, 3);
            let mut a = original.clone();
            let mut b = original.clone();
            let mut c = original.clone();
            let mut out = Vec::new();
            let expected_phase = ((phase % 4) + len) % 4;
            assert_eq!(apply_mask(&mut a, key, phase), expected_phase);
            assert_eq!(apply_mask_bytewise(&mut b, key, phase), expected_phase);
            assert_eq!(apply_mask_bytewise(&mut c, key, phase % 4), expected_phase);
            assert_eq!(
                extend_masked(&mut out, &original, key, phase),
                expected_phase
            );
            assert_eq!(a, c);
            assert_eq!(b, c);
            assert_eq!(out, c);
        }
    }
}

#[test]
fn bytewise_matches_definition() {
    let key = keys()[0];
    let original = pattern(37, 1);
    for phase in 0..4 {
        let mut buf = original.clone();
        apply_mask_bytewise(&mut buf, key, phase);
        for (i, (&m, &o)) in buf.iter().zip(&original).enumerate() {
            assert_eq!(m, o ^ key[(phase + i) % 4]);
        }
    }
}

#[test]
fn rotate_key_matches_phase() {
    let key = [1, 2, 3, 4];
    assert_eq!(rotate_key(key, 0), [1, 2, 3, 4]);
    assert_eq!(rotate_key(key, 1), [2, 3, 4, 1]);
    assert_eq!(rotate_key(key, 2), [3, 4, 1, 2]);
    assert_eq!(rotate_key(key, 3), [4, 1, 2, 3]);
    assert_eq!(rotate_key(key, 7), [4, 1, 2, 3]);
}

#[test]
fn apply_mask_exhaustive() {
    check_against_bytewise("apply_mask", &apply_mask);
}

#[test]
fn portable_exhaustive() {
    check_against_bytewise("portable", &|buf, key, phase| {
        mask_words::<false>(buf, rotate_key(key, phase));
        next_phase(phase, buf.len())
    });
}

#[test]
fn inline_vectors_exhaustive() {
    // The portable inline 16-byte loop (AArch64's), normally taken from 17 to `SIMD_MIN_LEN`
    // bytes, at every length.
    check_against_bytewise("inline vectors", &|buf, key, phase| {
        portable::mask_vectors(buf, rotate_key(key, phase));
        next_phase(phase, buf.len())
    });
}

#[cfg(target_arch = "x86_64")]
#[test]
fn inline_sse2_exhaustive() {
    // x86-64's inline SSE2 loop, normally taken from 17 to `SIMD_MIN_LEN` bytes, at every
    // length.
    check_against_bytewise("inline sse2", &|buf, key, phase| {
        x86::mask_vectors(buf, rotate_key(key, phase));
        next_phase(phase, buf.len())
    });
}

#[test]
fn portable_aligning_exhaustive() {
    check_against_bytewise("portable aligning", &|buf, key, phase| {
        mask_words::<true>(buf, rotate_key(key, phase));
        next_phase(phase, buf.len())
    });
}

#[test]
fn portable_copy_exhaustive() {
    check_copy_against_bytewise("portable copy", &|dst, src, key, phase| {
        // SAFETY: `u8` and `MaybeUninit<u8>` have the same layout, and only initialised
        // bytes are written through the reborrow.
        let dst = unsafe { &mut *(dst as *mut [u8] as *mut [MaybeUninit<u8>]) };
        mask_copy_words(dst, src, rotate_key(key, phase));
        next_phase(phase, src.len())
    });
}

#[test]
fn simd_path_exhaustive() {
    // The dispatched path, normally taken only from `SIMD_MIN_LEN` bytes on, at every length.
    check_against_bytewise("mask_long", &|buf, key, phase| {
        mask_long(buf, rotate_key(key, phase));
        next_phase(phase, buf.len())
    });
    check_copy_against_bytewise("mask_copy", &|dst, src, key, phase| {
        let rk = rotate_key(key, phase);
        // SAFETY: as in `portable_copy_exhaustive`.
        let dst = unsafe { &mut *(dst as *mut [u8] as *mut [MaybeUninit<u8>]) };
        let done = simd::mask_copy_prefix(dst, src, rk);
        if done != src.len() {
            mask_copy_rest(&mut dst[done..], &src[done..], rk);
        }
        next_phase(phase, src.len())
    });
}

#[cfg(target_arch = "x86_64")]
#[test]
fn sse2_exhaustive() {
    // SAFETY: SSE2 is part of the x86-64 baseline.
    unsafe { check_kernel("sse2", x86::mask_sse2, 32) };
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_exhaustive() {
    if !std::is_x86_feature_detected!("avx2") {
        std::eprintln!("avx2_exhaustive: no AVX2 on this CPU, skipped");
        return;
    }
    // SAFETY: AVX2 was detected just above.
    unsafe { check_kernel("avx2", x86::mask_avx2, 64) };
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_exhaustive() {
    if !std::is_x86_feature_detected!("avx512f") {
        std::eprintln!("avx512_exhaustive: no AVX-512F on this CPU, skipped");
        return;
    }
    // SAFETY: AVX-512F was detected just above.
    unsafe { check_kernel("avx512", x86::mask_avx512, 64) };
}

#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[test]
fn neon_exhaustive() {
    // SAFETY: NEON is enabled for the target.
    unsafe { check_kernel("neon", neon::mask_neon, 32) };
}

#[test]
fn extend_masked_exhaustive() {
    check_copy_against_bytewise("extend_masked", &|dst, src, key, phase| {
        // Appending to existing bytes, with and without spare capacity.
        let mut out = vec![0xAA, 0xBB, 0xCC];
        out.shrink_to_fit();
        let got = extend_masked(&mut out, src, key, phase);
        assert_eq!(out[..3], [0xAA, 0xBB, 0xCC]);

        let mut roomy = Vec::with_capacity(3 + src.len() + 100);
        roomy.extend_from_slice(&[0xAA, 0xBB, 0xCC]);
        assert_eq!(extend_masked(&mut roomy, src, key, phase), got);
        assert_eq!(roomy, out);

        dst.copy_from_slice(&out[3..]);
        got
    });
}

#[test]
fn piecewise_equals_whole() {
    let original = pattern(PIECEWISE_LEN, 5);
    for &key in keys() {
        for phase in 0..4 {
            let mut whole = original.clone();
            let end_phase = apply_mask(&mut whole, key, phase);
            let mut pieces = original.clone();
            let mut out = Vec::with_capacity(original.len());
            for split in 0..=original.len() {
                pieces.copy_from_slice(&original);
                let (a, b) = pieces.split_at_mut(split);
                let mid = apply_mask(a, key, phase);
                assert_eq!(mid, (phase + split) % 4);
                assert_eq!(apply_mask(b, key, mid), end_phase);
                assert!(pieces == whole, "split {split} phase {phase}");

                out.clear();
                let mid = extend_masked(&mut out, &original[..split], key, phase);
                let end = extend_masked(&mut out, &original[split..], key, mid);
                assert_eq!(end, end_phase);
                assert!(out == whole, "extend split {split} phase {phase}");
            }
        }
    }
}

#[test]
fn large_buffer() {
    #[cfg(not(miri))]
    const LEN: usize = (1 << 20) + 7;
    #[cfg(miri)]
    const LEN: usize = 4096 + 7;
    let original = pattern(LEN + 3, 13);
    for (offset, phase) in [(0, 0), (3, 1), (1, 2)] {
        let key = keys()[0];
        let end = offset + LEN;
        let mut expected = original[offset..end].to_vec();
        let p1 = apply_mask_bytewise(&mut expected, key, phase);
        let mut actual = original.clone();
        let p2 = apply_mask(&mut actual[offset..end], key, phase);
        assert_eq!(p1, p2);
        assert!(actual[offset..end] == expected[..]);
        assert!(actual[..offset] == original[..offset]);
        assert!(actual[end..] == original[end..]);

        let mut out = vec![1, 2];
        assert_eq!(
            extend_masked(&mut out, &original[offset..end], key, phase),
            p1
        );
        assert!(out[2..] == expected[..]);
    }
}

/// Property tests (too slow for Miri).
#[cfg(not(miri))]
mod prop {
    use super::super::*;
    use alloc::vec::Vec;
    use proptest::collection::vec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_bytewise(
            data in vec(any::<u8>(), 0..3000),
            key in any::<[u8; 4]>(),
            phase in any::<usize>(),
            offset in 0usize..64,
        ) {
            let offset = offset.min(data.len());
            let mut expected = data.clone();
            let p1 = apply_mask_bytewise(&mut expected[offset..], key, phase);
            let mut actual = data.clone();
            let p2 = apply_mask(&mut actual[offset..], key, phase);
            prop_assert_eq!(p1, p2);
            prop_assert_eq!(&actual, &expected);

            let mut out = Vec::new();
            let p3 = extend_masked(&mut out, &data[offset..], key, phase);
            prop_assert_eq!(p3, p1);
            prop_assert_eq!(&out[..], &expected[offset..]);
        }

        #[test]
        fn masking_twice_is_identity(
            data in vec(any::<u8>(), 0..3000),
            key in any::<[u8; 4]>(),
            phase in any::<usize>(),
        ) {
            let mut buf = data.clone();
            let p1 = apply_mask(&mut buf, key, phase);
            let p2 = apply_mask(&mut buf, key, phase);
            prop_assert_eq!(p1, p2);
            prop_assert_eq!(buf, data);
        }

        #[test]
        fn piecewise_random_splits(
            data in vec(any::<u8>(), 0..3000),
            key in any::<[u8; 4]>(),
            phase in 0usize..4,
            cuts in vec(any::<usize>(), 0..6),
        ) {
            let mut whole = data.clone();
            let end = apply_mask(&mut whole, key, phase);
            let mut points: Vec<usize> =
                cuts.iter().map(|c| c % (data.len() + 1)).collect();
            points.push(0);
            points.push(data.len());
            points.sort_unstable();
            let mut pieces = data.clone();
            let mut p = phase;
            for w in points.windows(2) {
                p = apply_mask(&mut pieces[w[0]..w[1]], key, p);
            }
            prop_assert_eq!(p, end);
            prop_assert_eq!(pieces, whole);
        }
    }
}
