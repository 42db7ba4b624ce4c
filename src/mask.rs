//! Payload masking (RFC 6455 §5.3).
//!
//! Every frame a client sends is masked: each payload byte `i` is XORed with byte `i % 4` of a
//! 4-byte key chosen per frame. Masking is its own inverse, so the same functions mask and unmask.
//!
//! Payloads may arrive (or be produced) in pieces, so every function takes a *phase*: the index of
//! the key byte that applies to the first byte of the buffer. Each function returns the phase for
//! the byte after the buffer, to be passed to the next call.
//!
//! # Implementation
//!
//! * Short buffers (the common case: most frames carry a few dozen bytes) are masked inline,
//!   with no function call ([`apply_mask`] is `#[inline(always)]`): up to 16 bytes a 64-bit
//!   word at a time; from 17 to 255 bytes (on targets with a SIMD kernel) 16 bytes at a time,
//!   with explicit unaligned SSE2 vectors on x86-64 and in safe code that the compiler turns
//!   into NEON vector XORs on AArch64, the bytes after the last whole 16 with at most one 8-,
//!   4-, 2- and 1-byte piece each.
//! * Buffers of 256 bytes or more go to an explicit SIMD kernel: AVX-512 (AVX-512F) or AVX2
//!   when the CPU has it (detected once, at run time, with the `std` feature; or enabled for
//!   the target at compile time) or SSE2 (always present) on x86-64, NEON on AArch64. The
//!   kernels store whole vectors at aligned addresses and do the unaligned bytes at either end
//!   with one overlapping vector each, so there is no byte-by-byte head or tail. (Masked
//!   AVX-512 loads and stores for the ends measured slower: see `x86::mask_avx512`.)
//! * Any other target uses the word loop for everything; it is entirely safe code.
//!
//! The `unsafe` is confined to the kernels and the inline SSE2 loop (raw-pointer vector loads
//! and stores), the kernels' dispatch, and [`extend_masked`] writing into spare capacity. The
//! tests compare every path with [`apply_mask_bytewise`], and pass under Miri, which interprets
//! the SSE2 kernel and inline loop, the AVX2 kernel (with `-C target-feature=+avx2`) and the
//! NEON one (`--target aarch64-unknown-linux-gnu`) too.

use alloc::vec::Vec;
use core::mem::MaybeUninit;
#[cfg(not(target_arch = "x86_64"))]
use portable::mask_vectors;
use portable::{mask_copy_words, mask_words, rotate_key};
#[cfg(target_arch = "x86_64")]
use x86::mask_vectors;

/// [`apply_mask`] hands buffers at least this long to the SIMD kernel (where there is one);
/// shorter ones are masked inline. A kernel call costs a fixed few nanoseconds (the call through
/// the function pointer, the alignment arithmetic, the overlapping end vectors), so where the
/// inline 16-byte loop stops paying depends on the alignment. Measured on an x86-64 (Zen 3,
/// AVX2), masking the same buffer again and again: on an aligned buffer the kernel is faster
/// from about 160 bytes, one byte off alignment the inline loop is up to about 320. At 256 B:
/// 41 GB/s inline against 55 through the kernel aligned, 34 against 27 at +1; at 384 B, 44
/// against 69 and 37 against 39.
const SIMD_MIN_LEN: usize = 256;

/// [`extend_masked`] hands buffers at least this long to the SIMD kernel; shorter ones are
/// copied and masked inline by the word loop. At least two vectors of the widest kernel.
const COPY_SIMD_MIN_LEN: usize = 64;

/// Applies (XORs) the 4-byte WebSocket masking key to `buf` in place, starting at byte `phase`
/// of the key (`phase` is taken modulo 4), and returns the phase for the byte after `buf`,
/// i.e. `(phase + buf.len()) % 4`.
///
/// Masking twice is the identity, so this both masks and unmasks. Because of the phase, a
/// payload that arrives in pieces can be unmasked piece by piece: pass the returned phase to the
/// call for the next piece.
///
/// Short buffers are masked inline, 16 or 8 bytes at a time; long ones by the fastest SIMD
/// kernel the CPU supports (chosen once, on first use).
///
/// # Example
///
/// The masked "Hello" frame from RFC 6455 §5.7, unmasked whole and in two pieces:
///
/// ```
/// use rfc6455::mask::apply_mask;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let masked = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
///
/// let mut payload = masked;
/// assert_eq!(apply_mask(&mut payload, key, 0), 1);
/// assert_eq!(&payload, b"Hello");
///
/// let mut payload = masked;
/// let (first, second) = payload.split_at_mut(3);
/// let phase = apply_mask(first, key, 0);
/// assert_eq!(phase, 3);
/// apply_mask(second, key, phase);
/// assert_eq!(&payload, b"Hello");
///
/// // Masking again restores the masked bytes.
/// apply_mask(&mut payload, key, 0);
/// assert_eq!(payload, masked);
/// ```
#[inline(always)]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    let rk = rotate_key(key, phase);
    if !HAS_KERNEL {
        mask_words::<ALIGN_WORDS>(buf, rk);
    } else if buf.len() <= 16 {
        mask_words::<false>(buf, rk);
    } else if buf.len() < SIMD_MIN_LEN {
        mask_vectors(buf, rk);
    } else {
        mask_long(buf, rk);
    }
    next_phase(phase, buf.len())
}

/// Applies the masking key to `buf` one byte at a time; same contract and result as
/// [`apply_mask`].
///
/// This plain byte loop is the reference every fast path is tested against, and the floor the
/// benchmarks compare with.
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], phase: usize) -> usize {
    let phase = phase & 3;
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(phase + i) & 3];
    }
    next_phase(phase, buf.len())
}

/// Appends `src` to `out`, masked with `key` starting at key byte `phase` (taken modulo 4), and
/// returns the phase for the byte after `src`, i.e. `(phase + src.len()) % 4`.
///
/// The bytes are masked as they are copied, in one pass: this equals
/// `out.extend_from_slice(src)` followed by [`apply_mask`] on the appended bytes, without
/// touching the memory twice.
#[inline]
#[allow(unsafe_code)]
pub fn extend_masked(out: &mut Vec<u8>, src: &[u8], key: [u8; 4], phase: usize) -> usize {
    let start = out.len();
    out.reserve(src.len());
    let dst = &mut out.spare_capacity_mut()[..src.len()];
    mask_copy(dst, src, rotate_key(key, phase));
    // SAFETY: `reserve` made room for `src.len()` more bytes, and `mask_copy` initialised every
    // byte of `dst`, which is exactly `out`'s spare capacity `start..start + src.len()`.
    unsafe { out.set_len(start + src.len()) };
    next_phase(phase, src.len())
}

/// `(phase + len) % 4`, without overflow for any `phase`.
#[inline(always)]
fn next_phase(phase: usize, len: usize) -> usize {
    ((phase & 3) + (len & 3)) & 3
}

/// Whether the portable loop first steps to an 8-byte-aligned address, byte by byte. Not needed
/// where unaligned word access is as fast as aligned (it would only add a byte loop), needed on
/// targets where an unaligned `u64` access is split into byte accesses.
const ALIGN_WORDS: bool = !cfg!(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64"
));

mod portable;

/// Writes `src` masked with the rotated key `rk` to `dst` (same length), initialising every
/// byte of `dst`.
#[inline(always)]
fn mask_copy(dst: &mut [MaybeUninit<u8>], src: &[u8], rk: [u8; 4]) {
    debug_assert_eq!(dst.len(), src.len());
    if HAS_KERNEL && src.len() >= COPY_SIMD_MIN_LEN {
        let done = simd::mask_copy_prefix(dst, src, rk);
        if done != src.len() {
            mask_copy_rest(&mut dst[done..], &src[done..], rk);
        }
    } else {
        mask_copy_words(dst, src, rk);
    }
}

/// What a kernel leaves to [`mask_copy`]: all of a buffer shorter than two vectors (which
/// [`COPY_SIMD_MIN_LEN`] keeps from happening). Out of line, to keep the kernel call lean.
#[cold]
#[inline(never)]
fn mask_copy_rest(dst: &mut [MaybeUninit<u8>], src: &[u8], rk: [u8; 4]) {
    mask_copy_words(dst, src, rk);
}

/// The SIMD path of [`apply_mask`], for buffers of [`SIMD_MIN_LEN`] bytes or more: one call to
/// the kernel, through a function pointer where it is chosen at run time.
#[inline(always)]
fn mask_long(buf: &mut [u8], rk: [u8; 4]) {
    let done = simd::mask_prefix(buf, rk);
    if done != buf.len() {
        mask_rest(&mut buf[done..], rk);
    }
}

/// What a kernel leaves to [`mask_long`]: all of a buffer shorter than two vectors (which
/// [`SIMD_MIN_LEN`] keeps from happening). Out of line, to keep the kernel call lean.
#[cold]
#[inline(never)]
fn mask_rest(buf: &mut [u8], rk: [u8; 4]) {
    mask_words::<ALIGN_WORDS>(buf, rk);
}

/// Whether this target has a SIMD kernel (otherwise everything goes through the word loop).
const HAS_KERNEL: bool = cfg!(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
));

/// The key words a kernel with `VECTOR`-byte vectors needs: for the main loop, which starts at
/// the first `VECTOR`-aligned byte of `dst`; for the first vector (phase 0); for the last
/// vector, which starts at `len - VECTOR`. Also that start offset of the loop.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
))]
#[inline(always)]
fn kernel_keys<const VECTOR: usize>(dst: *mut u8, len: usize, rk: [u8; 4]) -> (usize, [u32; 3]) {
    let start = dst.addr().wrapping_neg() & (VECTOR - 1);
    let word = |phase| u32::from_ne_bytes(rotate_key(rk, phase));
    // `VECTOR` is a multiple of 4, so `(len - VECTOR) % 4 == len % 4`.
    (start, [word(start), word(0), word(len)])
}

/// The x86-64 kernels.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86;

/// The AArch64 kernel.
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[allow(unsafe_code)]
mod neon;

/// Picks the kernel for this CPU and runs it on slices.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
))]
#[allow(unsafe_code)]
mod simd {
    use core::mem::MaybeUninit;

    /// A SIMD kernel: writes `src[i] ^ rk[i % 4]` to `dst[i]` for every `i < len` and returns
    /// `len`, or, if `len` is shorter than two vectors (64 bytes for AVX2 and AVX-512, 32 for
    /// SSE2 and NEON), touches nothing and returns 0.
    ///
    /// The main loop stores whole vectors at vector-aligned addresses of `dst`, from the first
    /// aligned one on (32-byte aligned for AVX-512, which ends like AVX2). The bytes before it and
    /// after the last whole vector are done with one unaligned vector at the start and one ending
    /// at `len`, overlapping bytes the loop does, with the key shifted to match. Both are loaded
    /// before anything is stored (so that in place they hold the original bytes), so the
    /// overlapped bytes are rewritten with the values they already have.
    ///
    /// The order of the stores is: the first vector, the first aligned vector (loaded before the
    /// first vector is stored), the rest of the loop, the last vector. It matters when the same
    /// buffer is masked again and again, as benchmarks do: a load that covers only part of an
    /// earlier store still in the store buffer cannot take its data from it and waits until the
    /// store reaches the cache. In this order, the loads of the next call that partially overlap a
    /// store of this one (of the first vector, overlapped by the first aligned vector; of the last
    /// aligned vector, overlapped by the last vector) come a whole call's work after that store.
    /// Storing the first vector after the loop instead put the store right before the next call's
    /// load of the first aligned vector: at 1 KiB one byte off alignment, 54 GB/s instead of 80
    /// (AVX2, Zen 3).
    ///
    /// # Safety
    ///
    /// `src` must be valid for reads and `dst` for writes of `len` bytes; either `src == dst` (in
    /// place) or the two ranges do not overlap. The CPU must support the kernel's target features.
    pub(super) type Kernel =
        unsafe fn(src: *const u8, dst: *mut u8, len: usize, rk: [u8; 4]) -> usize;

    /// Masks `buf` in place with the rotated key `rk` and returns its length, or, if it is
    /// shorter than two vectors, leaves it alone and returns 0.
    #[inline(always)]
    pub(super) fn mask_prefix(buf: &mut [u8], rk: [u8; 4]) -> usize {
        let kernel = kernel();
        let p = buf.as_mut_ptr();
        // SAFETY: `p` is valid for reads and writes of `buf.len()` bytes, and `src == dst`.
        // `kernel()` only returns kernels whose CPU features are present.
        unsafe { kernel(p, p, buf.len(), rk) }
    }

    /// Writes `src[i] ^ rk[i % 4]` to every `dst[i]` and returns the length, or, if it is
    /// shorter than two vectors, writes nothing and returns 0. `dst` and `src` have the same
    /// length.
    #[inline(always)]
    pub(super) fn mask_copy_prefix(dst: &mut [MaybeUninit<u8>], src: &[u8], rk: [u8; 4]) -> usize {
        let len = dst.len().min(src.len());
        let kernel = kernel();
        // SAFETY: `src` is valid for reads and `dst` for writes of `len` bytes (writing to
        // uninitialised `MaybeUninit<u8>` through a `*mut u8` is fine), and a shared and a
        // mutable slice cannot overlap. `kernel()` only returns kernels whose CPU features are
        // present.
        unsafe { kernel(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), len, rk) }
    }

    /// The NEON kernel: NEON is enabled for the whole target.
    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    fn kernel() -> Kernel {
        super::neon::mask_neon
    }

    /// The AVX-512 kernel, when AVX-512F is enabled for the whole target at compile time.
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    #[inline(always)]
    fn kernel() -> Kernel {
        super::x86::mask_avx512
    }

    /// The AVX2 kernel, when AVX2 is enabled for the whole target at compile time and
    /// there is no run-time detection of AVX-512.
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        not(target_feature = "avx512f"),
        not(feature = "std")
    ))]
    #[inline(always)]
    fn kernel() -> Kernel {
        super::x86::mask_avx2
    }

    /// The SSE2 kernel: without `std` there is no run-time feature detection.
    #[cfg(all(
        target_arch = "x86_64",
        not(target_feature = "avx2"),
        not(feature = "std")
    ))]
    #[inline(always)]
    fn kernel() -> Kernel {
        super::x86::mask_sse2
    }

    #[cfg(all(
        target_arch = "x86_64",
        not(target_feature = "avx512f"),
        feature = "std"
    ))]
    pub(super) use detect::kernel;

    /// Run-time selection between AVX-512, AVX2 and SSE2 (those the target does not already
    /// guarantee), made once.
    #[cfg(all(
        target_arch = "x86_64",
        not(target_feature = "avx512f"),
        feature = "std"
    ))]
    mod detect {
        use super::Kernel;
        use crate::mask::x86::{mask_avx2, mask_avx512};
        use core::sync::atomic::{AtomicPtr, Ordering};

        /// The chosen kernel, as a type-erased [`Kernel`]; [`resolve`] until the first call.
        /// Only ever holds a `Kernel` whose CPU features are present.
        static KERNEL: AtomicPtr<()> = AtomicPtr::new(resolve as Kernel as *mut ());

        /// The kernel to call: the chosen one, or [`resolve`], which chooses, stores and calls.
        #[inline(always)]
        pub(in crate::mask) fn kernel() -> Kernel {
            let p = KERNEL.load(Ordering::Relaxed);
            // SAFETY: `KERNEL` only ever holds `Kernel` function pointers (`resolve`, or one
            // that [`choose`] returned) cast to `*mut ()`, so this turns it back into the same
            // function pointer type.
            unsafe { core::mem::transmute::<*mut (), Kernel>(p) }
        }

        /// The best kernel whose CPU features are present.
        fn choose() -> Kernel {
            if std::is_x86_feature_detected!("avx512f") {
                mask_avx512
            } else {
                avx2_or_sse2()
            }
        }

        /// AVX2, which the target guarantees.
        #[cfg(target_feature = "avx2")]
        fn avx2_or_sse2() -> Kernel {
            mask_avx2
        }

        /// AVX2 if the CPU has it, else SSE2 (part of the x86-64 baseline).
        #[cfg(not(target_feature = "avx2"))]
        fn avx2_or_sse2() -> Kernel {
            if std::is_x86_feature_detected!("avx2") {
                mask_avx2
            } else {
                crate::mask::x86::mask_sse2
            }
        }

        /// Detects the CPU's features, stores the best kernel for later calls, and runs it.
        ///
        /// # Safety
        ///
        /// As for [`Kernel`].
        unsafe fn resolve(src: *const u8, dst: *mut u8, len: usize, rk: [u8; 4]) -> usize {
            let chosen = choose();
            KERNEL.store(chosen as *mut (), Ordering::Relaxed);
            // SAFETY: the caller upholds the pointer contract, and `choose` only returns a
            // kernel whose CPU features were just detected (SSE2 is always there).
            unsafe { chosen(src, dst, len, rk) }
        }
    }
}

/// No SIMD kernel on this target: the whole buffer goes through the portable word loop.
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
)))]
mod simd {
    use core::mem::MaybeUninit;

    /// Masks nothing; the caller's word loop does it all.
    #[inline(always)]
    pub(super) fn mask_prefix(_buf: &mut [u8], _rk: [u8; 4]) -> usize {
        0
    }

    /// Copies nothing; the caller's word loop does it all.
    #[inline(always)]
    pub(super) fn mask_copy_prefix(
        _dst: &mut [MaybeUninit<u8>],
        _src: &[u8],
        _rk: [u8; 4],
    ) -> usize {
        0
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests;
