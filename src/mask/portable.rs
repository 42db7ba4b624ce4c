//! The key rotation and the portable word loops of [`apply_mask`](super::apply_mask) and
//! [`extend_masked`](super::extend_masked), in safe code only.

use core::mem::MaybeUninit;

/// The key rotated so that byte 0 is the one for phase `phase`: a buffer masked with `key` from
/// `phase` is masked with the result from phase 0.
#[inline(always)]
pub(super) fn rotate_key(key: [u8; 4], phase: usize) -> [u8; 4] {
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
pub(super) fn mask_words<const ALIGN: bool>(buf: &mut [u8], rk: [u8; 4]) {
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

/// The inline path for buffers of 17 bytes to [`SIMD_MIN_LEN`](super::SIMD_MIN_LEN) on
/// AArch64 (16 bytes are two words of [`mask_words`]; x86-64 has an explicit SSE2 loop
/// instead, `x86::mask_vectors`); correct for any length. Masks `buf` from phase 0 of the
/// (already rotated) key `rk`, 16 bytes at a time, in safe code: the four 4-byte lanes of each
/// 16 are XORed with the key word, which the compiler turns into one unaligned vector load,
/// XOR and store (NEON).
///
/// The bytes after the last whole 16 are done with [`mask_pieces`], which never writes a byte
/// twice. An overlapping last vector (as in [`mask_words`]) is one store instead of up to four,
/// but measured slower when the same buffer is masked again and again: the next call's load of
/// the last whole 16 waits for the overlapping store to leave the store buffer (store-to-load
/// forwarding fails on a partial overlap). In the comparison program (`benches/compare`), 125 B
/// aligned: 15 GB/s with the overlapping vector, 24.6 with the pieces.
#[cfg(any(not(target_arch = "x86_64"), test))]
#[inline(always)]
pub(super) fn mask_vectors(buf: &mut [u8], rk: [u8; 4]) {
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
pub(super) fn mask_pieces(buf: &mut [u8], rk: [u8; 4]) {
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
pub(super) fn mask_copy_words(dst: &mut [MaybeUninit<u8>], src: &[u8], rk: [u8; 4]) {
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
