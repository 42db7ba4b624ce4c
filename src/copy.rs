//! Copying large byte slices in pieces, to keep `memcpy` off `rep movsb`: received messages
//! into owned ones and into the assembly buffer, payloads into the output buffer.
//!
//! glibc's `memcpy` moves 4 KiB or more (8 KiB on AVX-512 machines) with `rep movsb`. On AMD
//! Zen 3 that instruction runs an order of magnitude slower when the destination starts 1 to
//! 31 bytes past the source modulo 4096 (measured: 64 KiB in 23 µs instead of 1.7 µs), and
//! where the allocator puts a new `Vec` decides that by luck: it made an echo server's CPU per
//! 64 KiB message 2x that of a raw TCP echo. Below the threshold `memcpy` uses vector moves,
//! which do not mind, so large copies go in 2 KiB pieces; the extra calls cost about 1%.

use alloc::string::String;
use alloc::vec::Vec;

/// The largest piece handed to `memcpy` at once: under every `rep movsb` threshold.
const PIECE: usize = 2048;

/// Appends `data` to `out`, as `extend_from_slice` does.
#[inline]
pub(crate) fn extend(out: &mut Vec<u8>, data: &[u8]) {
    if data.len() <= PIECE {
        out.extend_from_slice(data);
        return;
    }
    out.reserve(data.len());
    for piece in data.chunks(PIECE) {
        out.extend_from_slice(piece);
    }
}

/// `data.to_vec()`.
pub(crate) fn to_vec(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    extend(&mut out, data);
    out
}

/// `String::from(text)`, cut at character boundaries.
pub(crate) fn to_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while rest.len() > PIECE {
        // A character is at most 4 bytes: one of the 4 positions up to PIECE is a boundary.
        let mut at = PIECE;
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        let (piece, tail) = rest.split_at(at);
        out.push_str(piece);
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn copies_are_exact() {
        // 64 KiB is what an echo server copies most; Miri stops at a few pieces.
        let largest = if cfg!(miri) { 3 * PIECE + 7 } else { 65536 };
        for len in [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 7, largest] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            assert_eq!(to_vec(&data), data);
            let mut out = vec![9];
            extend(&mut out, &data);
            assert_eq!(out[0], 9);
            assert_eq!(&out[1..], &data[..]);
        }
        // Multi-byte characters straddling every piece boundary.
        for pad in 0..4 {
            let text: String =
                "x".repeat(pad) + &"é€😀".repeat(if cfg!(miri) { 300 } else { 2000 });
            assert_eq!(to_string(&text), text);
        }
    }
}
