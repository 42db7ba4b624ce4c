use core::arch::aarch64::{
    uint8x16_t, vdupq_n_u32, veorq_u8, vld1q_u8, vreinterpretq_u8_u32, vst1q_u8,
};

/// The key word broadcast to a vector.
///
/// # Safety
///
/// None beyond NEON, which the target has; `unsafe` only because the intrinsics were
/// `unsafe fn`s before Rust 1.87.
#[inline(always)]
unsafe fn splat(word: u32) -> uint8x16_t {
    // SAFETY: NEON is enabled for the target (checked by the `cfg` on this module).
    unsafe { vreinterpretq_u8_u32(vdupq_n_u32(word)) }
}

/// The NEON kernel: 64 bytes per iteration, then 16, with overlapping first and last
/// vectors. Needs `len >= 32`.
///
/// # Safety
///
/// As for [`super::simd::Kernel`] (NEON is enabled for the whole target).
#[inline]
pub(super) unsafe fn mask_neon(src: *const u8, dst: *mut u8, len: usize, rk: [u8; 4]) -> usize {
    if len < 32 {
        return 0;
    }
    let (start, [loop_key, first_key, last_key]) = super::kernel_keys::<16>(dst, len, rk);
    // SAFETY: `len >= 32`, so the last 16 bytes of `src` are in bounds; `vld1q_u8` needs
    // only byte alignment; NEON is enabled for the target. Nothing has been stored yet, so
    // these hold the original bytes even when masking in place.
    let (key, last) = unsafe { (splat(loop_key), vld1q_u8(src.add(len - 16))) };
    let mut i = start;
    if start != 0 {
        // SAFETY: `start < 16`, so `start + 16 < 32 <= len`: the first 16 bytes and the 16
        // at `start` are within both ranges; byte alignment suffices. Both are loaded
        // before either is stored, so in place both hold the original bytes, and the bytes
        // they share get the same value from either store.
        unsafe {
            let first = vld1q_u8(src);
            let a = vld1q_u8(src.add(start));
            vst1q_u8(dst, veorq_u8(first, splat(first_key)));
            vst1q_u8(dst.add(start), veorq_u8(a, key));
        }
        i += 16;
    }
    while len - i >= 64 {
        // SAFETY: `i + 64 <= len`, so the 64 bytes at offset `i` are within both ranges the
        // caller vouched for. `vld1q_u8`/`vst1q_u8` need only byte alignment. All four loads
        // happen before the stores to the same bytes, so masking in place is fine, and
        // otherwise the ranges do not overlap.
        unsafe {
            let s = src.add(i);
            let d = dst.add(i);
            let a = vld1q_u8(s);
            let b = vld1q_u8(s.add(16));
            let c = vld1q_u8(s.add(32));
            let e = vld1q_u8(s.add(48));
            vst1q_u8(d, veorq_u8(a, key));
            vst1q_u8(d.add(16), veorq_u8(b, key));
            vst1q_u8(d.add(32), veorq_u8(c, key));
            vst1q_u8(d.add(48), veorq_u8(e, key));
        }
        i += 64;
    }
    while len - i >= 16 {
        // SAFETY: `i + 16 <= len`, so these 16 bytes are within both ranges; byte alignment
        // suffices; load before store, as above.
        unsafe {
            let a = vld1q_u8(src.add(i));
            vst1q_u8(dst.add(i), veorq_u8(a, key));
        }
        i += 16;
    }
    if i != len {
        // SAFETY: `len >= 16`, so the last 16 bytes of `dst` are in bounds; byte alignment
        // suffices. `last` holds the original bytes and is XORed with the key for its
        // phase, so bytes the loop already did are rewritten with the same values.
        unsafe { vst1q_u8(dst.add(len - 16), veorq_u8(last, splat(last_key))) };
    }
    len
}
