/// The SSE2 kernel (SSE2 is part of the x86-64 baseline): 64 bytes per iteration, then 16,
/// with overlapping first and last vectors. Needs `len >= 32`.
///
/// # Safety
///
/// As for [`super::simd::Kernel`].
#[cfg(any(not(target_feature = "avx2"), test))]
#[inline]
pub(super) unsafe fn mask_sse2(src: *const u8, dst: *mut u8, len: usize, rk: [u8; 4]) -> usize {
    use core::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_set1_epi32, _mm_storeu_si128, _mm_xor_si128,
    };

    if len < 32 {
        return 0;
    }
    let (start, [loop_key, first_key, last_key]) = super::kernel_keys::<16>(dst, len, rk);
    // SAFETY: `len >= 32`, so the last 16 bytes of `src` are in bounds; `loadu` has no
    // alignment requirement; SSE2 is always available on x86-64. Nothing has been stored
    // yet, so these hold the original bytes even when masking in place.
    let (key, last) = unsafe {
        (
            _mm_set1_epi32(loop_key as i32),
            _mm_loadu_si128(src.add(len - 16).cast::<__m128i>()),
        )
    };
    let mut i = start;
    if start != 0 {
        // SAFETY: `start < 16`, so `start + 16 < 32 <= len`: the first 16 bytes and the 16
        // at `start` are within both ranges; unaligned access is allowed. Both are loaded
        // before either is stored, so in place both hold the original bytes, and the bytes
        // they share get the same value from either store.
        unsafe {
            let first = _mm_loadu_si128(src.cast::<__m128i>());
            let a = _mm_loadu_si128(src.add(start).cast::<__m128i>());
            let first = _mm_xor_si128(first, _mm_set1_epi32(first_key as i32));
            _mm_storeu_si128(dst.cast::<__m128i>(), first);
            _mm_storeu_si128(dst.add(start).cast::<__m128i>(), _mm_xor_si128(a, key));
        }
        i += 16;
    }
    while len - i >= 64 {
        // SAFETY: `i + 64 <= len`, so the 64 bytes at offset `i` are within both ranges the
        // caller vouched for. `loadu`/`storeu` allow any alignment. All four loads happen
        // before the stores to the same bytes, so masking in place (`src == dst`) is fine,
        // and otherwise the ranges do not overlap.
        unsafe {
            let s = src.add(i).cast::<__m128i>();
            let d = dst.add(i).cast::<__m128i>();
            let a = _mm_loadu_si128(s);
            let b = _mm_loadu_si128(s.add(1));
            let c = _mm_loadu_si128(s.add(2));
            let e = _mm_loadu_si128(s.add(3));
            _mm_storeu_si128(d, _mm_xor_si128(a, key));
            _mm_storeu_si128(d.add(1), _mm_xor_si128(b, key));
            _mm_storeu_si128(d.add(2), _mm_xor_si128(c, key));
            _mm_storeu_si128(d.add(3), _mm_xor_si128(e, key));
        }
        i += 64;
    }
    while len - i >= 16 {
        // SAFETY: `i + 16 <= len`, so these 16 bytes are within both ranges; unaligned
        // access is allowed; load before store, as above.
        unsafe {
            let a = _mm_loadu_si128(src.add(i).cast::<__m128i>());
            _mm_storeu_si128(dst.add(i).cast::<__m128i>(), _mm_xor_si128(a, key));
        }
        i += 16;
    }
    if i != len {
        // SAFETY: `len >= 16`, so the last 16 bytes of `dst` are in bounds; unaligned stores
        // are allowed. `last` holds the original bytes and is XORed with the key for its
        // phase, so bytes the loop already did are rewritten with the same values.
        unsafe {
            let last = _mm_xor_si128(last, _mm_set1_epi32(last_key as i32));
            _mm_storeu_si128(dst.add(len - 16).cast::<__m128i>(), last);
        }
    }
    len
}

/// The AVX2 kernel: 128 bytes per iteration, then 32, with overlapping first and last
/// vectors. Needs `len >= 64`.
///
/// # Safety
///
/// As for [`super::simd::Kernel`]; in particular the CPU must support AVX2.
#[cfg(any(
    all(
        any(feature = "std", target_feature = "avx2"),
        not(target_feature = "avx512f")
    ),
    test
))]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn mask_avx2(src: *const u8, dst: *mut u8, len: usize, rk: [u8; 4]) -> usize {
    use core::arch::x86_64::{
        __m256i, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256, _mm256_xor_si256,
    };

    if len < 64 {
        return 0;
    }
    let (start, [loop_key, first_key, last_key]) = super::kernel_keys::<32>(dst, len, rk);
    // SAFETY: `len >= 64`, so the last 32 bytes of `src` are in bounds; `loadu` has no
    // alignment requirement; the caller guarantees AVX2. Nothing has been stored yet, so
    // these hold the original bytes even when masking in place.
    let (key, last) = unsafe {
        (
            _mm256_set1_epi32(loop_key as i32),
            _mm256_loadu_si256(src.add(len - 32).cast::<__m256i>()),
        )
    };
    let mut i = start;
    if start != 0 {
        // SAFETY: `start < 32`, so `start + 32 < 64 <= len`: the first 32 bytes and the 32
        // at `start` are within both ranges; unaligned access is allowed; AVX2 as above.
        // Both are loaded before either is stored, so in place both hold the original
        // bytes, and the bytes they share get the same value from either store.
        unsafe {
            let first = _mm256_loadu_si256(src.cast::<__m256i>());
            let a = _mm256_loadu_si256(src.add(start).cast::<__m256i>());
            let first = _mm256_xor_si256(first, _mm256_set1_epi32(first_key as i32));
            _mm256_storeu_si256(dst.cast::<__m256i>(), first);
            _mm256_storeu_si256(dst.add(start).cast::<__m256i>(), _mm256_xor_si256(a, key));
        }
        i += 32;
    }
    while len - i >= 128 {
        // SAFETY: `i + 128 <= len`, so the 128 bytes at offset `i` are within both ranges
        // the caller vouched for. `loadu`/`storeu` allow any alignment. All four loads
        // happen before the stores to the same bytes, so masking in place is fine, and
        // otherwise the ranges do not overlap. AVX2 is guaranteed by the caller.
        unsafe {
            let s = src.add(i).cast::<__m256i>();
            let d = dst.add(i).cast::<__m256i>();
            let a = _mm256_loadu_si256(s);
            let b = _mm256_loadu_si256(s.add(1));
            let c = _mm256_loadu_si256(s.add(2));
            let e = _mm256_loadu_si256(s.add(3));
            _mm256_storeu_si256(d, _mm256_xor_si256(a, key));
            _mm256_storeu_si256(d.add(1), _mm256_xor_si256(b, key));
            _mm256_storeu_si256(d.add(2), _mm256_xor_si256(c, key));
            _mm256_storeu_si256(d.add(3), _mm256_xor_si256(e, key));
        }
        i += 128;
    }
    while len - i >= 32 {
        // SAFETY: `i + 32 <= len`, so these 32 bytes are within both ranges; unaligned
        // access is allowed; load before store, as above; AVX2 as above.
        unsafe {
            let a = _mm256_loadu_si256(src.add(i).cast::<__m256i>());
            _mm256_storeu_si256(dst.add(i).cast::<__m256i>(), _mm256_xor_si256(a, key));
        }
        i += 32;
    }
    if i != len {
        // SAFETY: `len >= 32`, so the last 32 bytes of `dst` are in bounds; unaligned stores
        // are allowed; AVX2 as above. `last` holds the original bytes and is XORed with the
        // key for its phase, so bytes the loop already did are rewritten with the same
        // values.
        unsafe {
            let last = _mm256_xor_si256(last, _mm256_set1_epi32(last_key as i32));
            _mm256_storeu_si256(dst.add(len - 32).cast::<__m256i>(), last);
        }
    }
    len
}

/// The AVX-512 kernel: [`mask_avx2`] with 64-byte vectors in the loop, 256 bytes per
/// iteration, then 64, then one 32; the same 32-byte overlapping first and last vectors, and
/// stores at 32-byte aligned addresses. Needs `len >= 64`.
///
/// Zen 4 splits every 512-bit access into two 256-bit halves, so 32-byte alignment keeps
/// each half within a cache line and the wider vectors only save instructions. Two other
/// layouts measured slower (masking the same buffer again and again, as `benches/compare`
/// does, best of 200 short batches; AMD EPYC Zen 4): 64-byte overlapping first and last
/// vectors with the loop aligned to 64
/// (1 KiB one byte off alignment: 70 GB/s against 100 for this layout and for
/// [`mask_avx2`]), and the bytes before and after the aligned loop done with one masked load
/// and store each (AVX-512BW), which shares no byte between stores (256 B one byte off: 19
/// GB/s against 38). A load of bytes a masked store wrote waits until that store has reached
/// the cache: the masked store cannot forward its data, and the next call loads the same
/// bytes again.
///
/// # Safety
///
/// As for [`super::simd::Kernel`]; in particular the CPU must support AVX-512F (which
/// implies AVX2).
#[cfg(any(feature = "std", target_feature = "avx512f", test))]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn mask_avx512(src: *const u8, dst: *mut u8, len: usize, rk: [u8; 4]) -> usize {
    use core::arch::x86_64::{
        __m256i, __m512i, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256,
        _mm256_xor_si256, _mm512_loadu_si512, _mm512_set1_epi32, _mm512_storeu_si512,
        _mm512_xor_si512,
    };

    if len < 64 {
        return 0;
    }
    let (start, [loop_key, first_key, last_key]) = super::kernel_keys::<32>(dst, len, rk);
    // SAFETY: `len >= 64`, so the last 32 bytes of `src` are in bounds; `loadu` has no
    // alignment requirement; the caller guarantees AVX-512F (which implies AVX2). Nothing
    // has been stored yet, so these hold the original bytes even when masking in place.
    let (key, key256, last) = unsafe {
        (
            _mm512_set1_epi32(loop_key as i32),
            _mm256_set1_epi32(loop_key as i32),
            _mm256_loadu_si256(src.add(len - 32).cast::<__m256i>()),
        )
    };
    let mut i = start;
    if start != 0 {
        // SAFETY: `start < 32`, so `start + 32 < 64 <= len`: the first 32 bytes and the 32
        // at `start` are within both ranges; unaligned access is allowed. Both are loaded
        // before either is stored, so in place both hold the original bytes, and the bytes
        // they share get the same value from either store.
        unsafe {
            let first = _mm256_loadu_si256(src.cast::<__m256i>());
            let a = _mm256_loadu_si256(src.add(start).cast::<__m256i>());
            let first = _mm256_xor_si256(first, _mm256_set1_epi32(first_key as i32));
            _mm256_storeu_si256(dst.cast::<__m256i>(), first);
            _mm256_storeu_si256(
                dst.add(start).cast::<__m256i>(),
                _mm256_xor_si256(a, key256),
            );
        }
        i += 32;
    }
    while len - i >= 256 {
        // SAFETY: `i + 256 <= len`, so the 256 bytes at offset `i` are within both ranges
        // the caller vouched for. `loadu`/`storeu` allow any alignment. Each vector is loaded
        // before it is stored and the four do not overlap, so masking in place is fine, and
        // otherwise the ranges do not overlap.
        unsafe {
            let s = src.add(i).cast::<__m512i>();
            let d = dst.add(i).cast::<__m512i>();
            // Each vector stored right after its load (not four loads, then four stores, as
            // in `mask_avx2`): 1 KiB aligned went from 0.88-0.94x the AVX-512 reference loop
            // of `benches/compare` (which LLVM compiles this way) to 1.00x.
            for k in 0..4 {
                let a = _mm512_loadu_si512(s.add(k));
                _mm512_storeu_si512(d.add(k), _mm512_xor_si512(a, key));
            }
        }
        i += 256;
    }
    while len - i >= 64 {
        // SAFETY: `i + 64 <= len`: within both ranges; load before store, as above.
        unsafe {
            let a = _mm512_loadu_si512(src.add(i).cast::<__m512i>());
            _mm512_storeu_si512(dst.add(i).cast::<__m512i>(), _mm512_xor_si512(a, key));
        }
        i += 64;
    }
    if len - i >= 32 {
        // SAFETY: `i + 32 <= len`: within both ranges; load before store, as above.
        unsafe {
            let a = _mm256_loadu_si256(src.add(i).cast::<__m256i>());
            _mm256_storeu_si256(dst.add(i).cast::<__m256i>(), _mm256_xor_si256(a, key256));
        }
        i += 32;
    }
    if i != len {
        // SAFETY: `len >= 32`, so the last 32 bytes of `dst` are in bounds; unaligned stores
        // are allowed. `last` holds the original bytes and is XORed with the key for its
        // phase, so bytes the loop already did are rewritten with the same values.
        unsafe {
            let last = _mm256_xor_si256(last, _mm256_set1_epi32(last_key as i32));
            _mm256_storeu_si256(dst.add(len - 32).cast::<__m256i>(), last);
        }
    }
    len
}

/// The inline path of [`apply_mask`](super::apply_mask) for 17 bytes to
/// [`SIMD_MIN_LEN`](super::SIMD_MIN_LEN) on x86-64 (correct for any length): masks `buf`
/// from phase 0 of the (already rotated) key `rk` with unaligned SSE2 vectors, 64 bytes per
/// iteration, then 16, and the bytes after the last whole 16 with at most one 8-, 4-, 2- and
/// 1-byte piece ([`mask_pieces`](super::portable::mask_pieces), which never writes a byte
/// twice, see [`mask_vectors`](super::portable::mask_vectors) on why).
///
/// Explicit SSE2 rather than the safe 4-byte-lane loop the compiler vectorises, which is
/// what AArch64 uses: for that one, LLVM emits the odd 16-byte vectors first as a counted
/// loop of its own and unrolls a remainder loop that never runs. Masking the same buffer
/// again and again (as `benches/compare` does; AMD EPYC Zen 4, best of 200 short batches),
/// it was below the SSE2 reference loop of `benches/compare` at multiples of 16 bytes (96 B:
/// 27-29.5 GB/s against 35.4; 112 B 29.5 against 37.6); this loop is level with or ahead of
/// it at every length from 17 to 255 (96 B 35.3, 112 B 41.3, 125 B 33-35.5 where the
/// reference, with its byte-by-byte tail, does 17).
#[inline(always)]
pub(super) fn mask_vectors(buf: &mut [u8], rk: [u8; 4]) {
    use core::arch::x86_64::{
        __m128i, _mm_loadu_si128, _mm_set1_epi32, _mm_storeu_si128, _mm_xor_si128,
    };
    let len = buf.len();
    let p = buf.as_mut_ptr();
    let mut i = 0;
    // SAFETY: every access is within `buf` (`i + width <= len`); unaligned access is allowed;
    // SSE2 is part of the x86-64 baseline.
    unsafe {
        let key = _mm_set1_epi32(u32::from_ne_bytes(rk) as i32);
        while i + 64 <= len {
            let q = p.add(i).cast::<__m128i>();
            let a = _mm_loadu_si128(q);
            let b = _mm_loadu_si128(q.add(1));
            let c = _mm_loadu_si128(q.add(2));
            let d = _mm_loadu_si128(q.add(3));
            _mm_storeu_si128(q, _mm_xor_si128(a, key));
            _mm_storeu_si128(q.add(1), _mm_xor_si128(b, key));
            _mm_storeu_si128(q.add(2), _mm_xor_si128(c, key));
            _mm_storeu_si128(q.add(3), _mm_xor_si128(d, key));
            i += 64;
        }
        while i + 16 <= len {
            let q = p.add(i).cast::<__m128i>();
            _mm_storeu_si128(q, _mm_xor_si128(_mm_loadu_si128(q), key));
            i += 16;
        }
    }
    if let Some(rest) = buf.get_mut(i..)
        && !rest.is_empty()
    {
        super::portable::mask_pieces(rest, rk);
    }
}
