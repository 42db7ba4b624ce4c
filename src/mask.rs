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
//!   in safe code that the compiler turns into SSE2 (NEON on AArch64) vector XORs, the bytes
//!   after the last whole 16 with at most one 8-, 4-, 2- and 1-byte piece each.
//! * Buffers of 256 bytes or more go to an explicit SIMD kernel: AVX2 when the CPU has it
//!   (detected once, at run time, with the `std` feature) or SSE2 (always present) on x86-64,
//!   NEON on AArch64. The kernels store whole vectors at aligned addresses and do the unaligned
//!   bytes at either end with one overlapping vector each, so there is no byte-by-byte head or
//!   tail.
//! * Any other target uses the word loop for everything; it is entirely safe code.
//!
//! The `unsafe` is confined to the kernels (raw-pointer vector loads and stores), their
//! dispatch, and [`extend_masked`] writing into spare capacity. The tests compare every path
//! with [`apply_mask_bytewise`], and pass under Miri, which interprets the SSE2, AVX2 (with
//! `-C target-feature=+avx2`) and NEON (`--target aarch64-unknown-linux-gnu`) kernels too.

use alloc::vec::Vec;
use core::mem::MaybeUninit;

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

/// The key rotated so that byte 0 is the one for phase `phase`: a buffer masked with `key` from
/// `phase` is masked with the result from phase 0.
#[inline(always)]
fn rotate_key(key: [u8; 4], phase: usize) -> [u8; 4] {
    // Little-endian regardless of the target: byte `i` sits at bits `8 * i`, so rotating right by
    // `8 * phase` bits moves byte `phase` to position 0.
    u32::from_le_bytes(key)
        .rotate_right(((phase & 3) * 8) as u32)
        .to_le_bytes()
}

/// The key (rotated to phase 0) repeated over a native-endian 64-bit word, so that XORing a word
/// loaded with `from_ne_bytes` masks 8 bytes from phase 0.
#[inline(always)]
fn word_key(rk: [u8; 4]) -> u64 {
    // The two halves are equal, so the result is the same for either byte order.
    u64::from(u32::from_ne_bytes(rk)) * 0x1_0000_0001
}

/// Whether the portable loop first steps to an 8-byte-aligned address, byte by byte. Not needed
/// where unaligned word access is as fast as aligned (it would only add a byte loop), needed on
/// targets where an unaligned `u64` access is split into byte accesses.
const ALIGN_WORDS: bool = !cfg!(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "aarch64"
));

/// The portable path: masks `buf` from phase 0 of the (already rotated) key `rk`, 8 bytes at a
/// time. Safe code only: this is what runs for short buffers everywhere, and for all buffers on
/// targets without a SIMD kernel.
///
/// The bytes after the last whole word are not done one by one: the last 8 bytes are read
/// before anything is written, and written back last, XORed with the key for their phase,
/// rewriting the bytes they share with the last whole word with the values these already have.
/// Buffers of 4 to 7 bytes get the same treatment with two 4-byte words.
///
/// With `ALIGN`, the bytes before the first 8-byte boundary are done one by one first.
#[inline(always)]
fn mask_words<const ALIGN: bool>(buf: &mut [u8], rk: [u8; 4]) {
    if ALIGN {
        let head = buf.as_ptr().align_offset(8).min(buf.len());
        let (head_bytes, rest) = buf.split_at_mut(head);
        mask_bytes(head_bytes, rk);
        mask_words::<false>(rest, rotate_key(rk, head));
        return;
    }
    let len = buf.len();
    if len >= 8 {
        let last = read_u64(&buf[len - 8..]);
        let k64 = word_key(rk);
        let mut words = buf.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&(read_u64(word) ^ k64).to_ne_bytes());
        }
        if !words.into_remainder().is_empty() {
            // The last 8 bytes start at phase `(len - 8) % 4 == len % 4`.
            let last = last ^ word_key(rotate_key(rk, len));
            buf[len - 8..].copy_from_slice(&last.to_ne_bytes());
        }
    } else if len >= 4 {
        let last = read_u32(&buf[len - 4..]);
        let first = read_u32(buf) ^ u32::from_ne_bytes(rk);
        buf[..4].copy_from_slice(&first.to_ne_bytes());
        // The last 4 bytes start at phase `(len - 4) % 4 == len % 4`.
        let last = last ^ u32::from_ne_bytes(rotate_key(rk, len));
        buf[len - 4..].copy_from_slice(&last.to_ne_bytes());
    } else {
        mask_bytes(buf, rk);
    }
}

/// The inline path for buffers of 17 bytes to [`SIMD_MIN_LEN`] on targets with a SIMD kernel
/// (16 bytes are two words of [`mask_words`]); correct for any length. Masks `buf` from phase 0
/// of the (already rotated) key `rk`, 16 bytes at a time, in safe code: the four 4-byte lanes
/// of each 16 are XORed with the key word, which the compiler turns into one unaligned vector
/// load, XOR and store (SSE2 on x86-64, NEON on AArch64).
///
/// The bytes after the last whole 16 are done with [`mask_pieces`], which never writes a byte
/// twice. An overlapping last vector (as in [`mask_words`]) is one store instead of up to four,
/// but measured slower when the same buffer is masked again and again: the next call's load of
/// the last whole 16 waits for the overlapping store to leave the store buffer (store-to-load
/// forwarding fails on a partial overlap). In the comparison program (`benches/compare`), 125 B
/// aligned: 15 GB/s with the overlapping vector, 24.6 with the pieces.
#[inline(always)]
fn mask_vectors(buf: &mut [u8], rk: [u8; 4]) {
    let k32 = u32::from_ne_bytes(rk);
    let mut vectors = buf.chunks_exact_mut(16);
    for vector in &mut vectors {
        for lane in vector.chunks_exact_mut(4) {
            let masked = read_u32(lane) ^ k32;
            lane.copy_from_slice(&masked.to_ne_bytes());
        }
    }
    mask_pieces(vectors.into_remainder(), rk);
}

/// Masks `buf` (fewer than 16 bytes) from phase 0 of the rotated key `rk` with at most one 8-,
/// 4-, 2- and 1-byte piece, in that order, none overlapping another.
#[inline(always)]
fn mask_pieces(buf: &mut [u8], rk: [u8; 4]) {
    debug_assert!(buf.len() < 16);
    let mut rest = buf;
    if rest.len() >= 8 {
        let (piece, tail) = rest.split_at_mut(8);
        piece.copy_from_slice(&(read_u64(piece) ^ word_key(rk)).to_ne_bytes());
        rest = tail;
    }
    if rest.len() >= 4 {
        let (piece, tail) = rest.split_at_mut(4);
        piece.copy_from_slice(&(read_u32(piece) ^ u32::from_ne_bytes(rk)).to_ne_bytes());
        rest = tail;
    }
    // Every piece so far was a multiple of 4 bytes long: the key is still at phase 0.
    let mut rk = rk;
    if rest.len() >= 2 {
        let (piece, tail) = rest.split_at_mut(2);
        piece[0] ^= rk[0];
        piece[1] ^= rk[1];
        rest = tail;
        rk = rotate_key(rk, 2);
    }
    if let Some(byte) = rest.first_mut() {
        *byte ^= rk[0];
    }
}

/// Masks `buf` byte by byte from phase 0 of the rotated key (used for fewer than 8 bytes).
#[inline(always)]
fn mask_bytes(buf: &mut [u8], rk: [u8; 4]) {
    for (byte, k) in buf.iter_mut().zip(rk.iter().cycle()) {
        *byte ^= k;
    }
}

/// The first 8 bytes of `bytes` as a native-endian word.
#[inline(always)]
fn read_u64(bytes: &[u8]) -> u64 {
    u64::from_ne_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ])
}

/// The first 4 bytes of `bytes` as a native-endian word.
#[inline(always)]
fn read_u32(bytes: &[u8]) -> u32 {
    u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Portable copy-and-mask: writes `src[i] ^ rk[i % 4]` to every `dst[i]`, 8 bytes at a time,
/// the bytes after the last whole word with one overlapping word. `dst` and `src` have the same
/// length.
#[inline(always)]
fn mask_copy_words(dst: &mut [MaybeUninit<u8>], src: &[u8], rk: [u8; 4]) {
    debug_assert_eq!(dst.len(), src.len());
    let len = dst.len().min(src.len());
    if len < 8 {
        for ((out, byte), k) in dst.iter_mut().zip(src).zip(rk.iter().cycle()) {
            out.write(byte ^ k);
        }
        return;
    }
    let k64 = word_key(rk);
    let mut dst_words = dst.chunks_exact_mut(8);
    for (d, s) in (&mut dst_words).zip(src.chunks_exact(8)) {
        write_u64(d, read_u64(s) ^ k64);
    }
    if !dst_words.into_remainder().is_empty() {
        // The last 8 bytes start at phase `(len - 8) % 4 == len % 4`.
        let last = read_u64(&src[len - 8..]) ^ word_key(rotate_key(rk, len));
        write_u64(&mut dst[len - 8..], last);
    }
}

/// Writes `word` to the first 8 bytes of `out`, native-endian.
#[inline(always)]
fn write_u64(out: &mut [MaybeUninit<u8>], word: u64) {
    for (o, b) in out.iter_mut().zip(word.to_ne_bytes()) {
        o.write(b);
    }
}

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

/// A SIMD kernel: writes `src[i] ^ rk[i % 4]` to `dst[i]` for every `i < len` and returns
/// `len`, or, if `len` is shorter than two vectors, touches nothing and returns 0.
///
/// The main loop stores whole vectors at vector-aligned addresses of `dst`, from the first
/// aligned one on. The bytes before it and after the last whole vector are done with one
/// unaligned vector at the start and one ending at `len`, overlapping bytes the loop does, with
/// the key shifted to match. Both are loaded before anything is stored (so that in place they
/// hold the original bytes), so the overlapped bytes are rewritten with the values they already
/// have.
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
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
))]
type Kernel = unsafe fn(src: *const u8, dst: *mut u8, len: usize, rk: [u8; 4]) -> usize;

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
mod x86 {
    /// The SSE2 kernel (SSE2 is part of the x86-64 baseline): 64 bytes per iteration, then 16,
    /// with overlapping first and last vectors. Needs `len >= 32`.
    ///
    /// # Safety
    ///
    /// As for [`super::Kernel`].
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
    /// As for [`super::Kernel`]; in particular the CPU must support AVX2.
    #[cfg(any(feature = "std", target_feature = "avx2", test))]
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
}

/// The AArch64 kernel.
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[allow(unsafe_code)]
mod arm {
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
    /// As for [`super::Kernel`] (NEON is enabled for the whole target).
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
}

/// Picks the kernel for this CPU and runs it on slices.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
))]
#[allow(unsafe_code)]
mod simd {
    use super::Kernel;
    use core::mem::MaybeUninit;

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
        super::arm::mask_neon
    }

    /// The AVX2 kernel, when AVX2 is enabled for the whole target at compile time.
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
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

    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2"), feature = "std"))]
    pub(super) use detect::kernel;

    /// Run-time selection between AVX2 and SSE2, made once.
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2"), feature = "std"))]
    mod detect {
        use super::Kernel;
        use crate::mask::x86::{mask_avx2, mask_sse2};
        use core::sync::atomic::{AtomicPtr, Ordering};

        /// The chosen kernel, as a type-erased [`Kernel`]; [`resolve`] until the first call.
        /// Only ever holds a `Kernel` whose CPU features are present.
        static KERNEL: AtomicPtr<()> = AtomicPtr::new(resolve as Kernel as *mut ());

        /// The kernel to call: the chosen one, or [`resolve`], which chooses, stores and calls.
        #[inline(always)]
        pub(in crate::mask) fn kernel() -> Kernel {
            let p = KERNEL.load(Ordering::Relaxed);
            // SAFETY: `KERNEL` only ever holds `Kernel` function pointers (`resolve`,
            // `mask_sse2`, or `mask_avx2` once AVX2 was detected) cast to `*mut ()`, so this
            // turns it back into the same function pointer type.
            unsafe { core::mem::transmute::<*mut (), Kernel>(p) }
        }

        /// Detects the CPU's features, stores the best kernel for later calls, and runs it.
        ///
        /// # Safety
        ///
        /// As for [`Kernel`].
        unsafe fn resolve(src: *const u8, dst: *mut u8, len: usize, rk: [u8; 4]) -> usize {
            let chosen: Kernel = if std::is_x86_feature_detected!("avx2") {
                mask_avx2
            } else {
                mask_sse2
            };
            KERNEL.store(chosen as *mut (), Ordering::Relaxed);
            // SAFETY: the caller upholds the pointer contract, and `chosen` needs at most AVX2,
            // which was just detected if it is `mask_avx2`.
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
mod tests {
    extern crate std;

    use super::*;
    use alloc::{format, vec};
    use std::vec::Vec;

    /// The buffer lengths tried exhaustively: all up to 300 (past `SIMD_MIN_LEN`). Miri is
    /// slow, so under it: all up to 36 (past one AVX2 vector, every tail of the inline 16-byte
    /// loop) and a few around and past the kernels' minimum of two vectors, the 64-byte loops
    /// and `SIMD_MIN_LEN`.
    fn lengths() -> Vec<usize> {
        if cfg!(miri) {
            (0..=36)
                .chain([47, 63, 64, 65, 71, 100, 131, 255, 256])
                .collect()
        } else {
            (0..=300).collect()
        }
    }

    /// The start offsets (alignments) tried: 0 to 31, fewer under Miri.
    fn offsets() -> Vec<usize> {
        if cfg!(miri) {
            vec![0, 1, 2, 3, 7, 13]
        } else {
            (0..=31).collect()
        }
    }

    /// Test keys: one from RFC 6455, one with the top bit set in some bytes but not others
    /// (only the first under Miri).
    fn keys() -> &'static [[u8; 4]] {
        const KEYS: [[u8; 4]; 2] = [[0x37, 0xfa, 0x21, 0x3d], [0x01, 0x80, 0xff, 0x5a]];
        if cfg!(miri) { &KEYS[..1] } else { &KEYS }
    }

    /// Longest length and largest offset in [`lengths`] and [`offsets`].
    const MAX_LEN: usize = if cfg!(miri) { 256 } else { 300 };
    const MAX_OFFSET: usize = 31;

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
                    for offset in offsets() {
                        let end = offset + len;
                        buf.copy_from_slice(&guard);
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
                    for offset in offsets() {
                        let src_offset = (offset * 7 + 3) % (MAX_OFFSET + 1);
                        source[src_offset..src_offset + len].copy_from_slice(&content[..len]);
                        let src = &source[src_offset..src_offset + len];
                        let end = offset + len;
                        buf.copy_from_slice(&guard);
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
    unsafe fn check_kernel(name: &str, kernel: Kernel, min_len: usize) {
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
            let done =
                unsafe { kernel(src.as_ptr(), dst.as_mut_ptr(), len, rotate_key(key, phase)) };
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
        // The inline 16-byte loop, normally taken from 16 to `SIMD_MIN_LEN` bytes, at every
        // length.
        check_against_bytewise("inline vectors", &|buf, key, phase| {
            mask_vectors(buf, rotate_key(key, phase));
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

    #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
    #[test]
    fn neon_exhaustive() {
        // SAFETY: NEON is enabled for the target.
        unsafe { check_kernel("neon", arm::mask_neon, 32) };
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
        let original = pattern(if cfg!(miri) { 40 } else { MAX_LEN }, 5);
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
}
