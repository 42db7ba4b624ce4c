//! Raw deflate per message, as RFC 7692 section 7.2 frames it: each message's compressed data
//! ends with a sync flush whose trailing `00 00 ff ff` is removed by the sender and restored by
//! the receiver.

use alloc::vec::Vec;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::Negotiated;
use crate::error::ProtocolError;

/// The tail of a sync flush, removed from every compressed message.
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The least room to add for decompressed output at a time.
const INFLATE_STEP: usize = 32 * 1024;

/// One connection's compressor and decompressor.
pub(crate) struct Codec {
    compress: Compress,
    decompress: Decompress,
    negotiated: Negotiated,
    /// The end of the compressed data of the message being received.
    tail: Tail,
}

/// The last (up to) four bytes of a message's compressed data, across its frames.
#[derive(Default)]
struct Tail {
    bytes: [u8; 4],
    len: usize,
}

impl Tail {
    fn push(&mut self, input: &[u8]) {
        for &b in input.iter().rev().take(4).rev() {
            self.bytes.copy_within(1.., 0);
            self.bytes[3] = b;
            self.len = (self.len + 1).min(4);
        }
    }

    /// No data, or data that ends with a sync flush's trailer.
    fn at_boundary(&self) -> bool {
        self.len == 0 || (self.len == 4 && self.bytes == TRAILER)
    }
}

impl Codec {
    pub(crate) fn new(negotiated: Negotiated) -> Codec {
        let level = Compression::new(u32::from(negotiated.level.min(9)));
        let bits = negotiated.window_bits.clamp(9, 15);
        Codec {
            compress: Compress::new_with_window_bits(level, false, bits),
            // Any window up to 15 bits decodes a stream made with a smaller one.
            decompress: Decompress::new_with_window_bits(false, 15),
            negotiated,
            tail: Tail::default(),
        }
    }

    /// Whether a whole message of `len` bytes is worth compressing.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.negotiated.threshold
    }

    /// Appends the compressed form of `data` to `out`. With `fin`, the message ends: the
    /// trailer is removed and, without context takeover, the compressor reset.
    pub(crate) fn compress(&mut self, mut data: &[u8], fin: bool, out: &mut Vec<u8>) {
        let start = out.len();
        loop {
            out.reserve(data.len() / 2 + 64);
            let before = self.compress.total_in();
            // A sync flush with output room left over means all input was consumed and
            // flushed; zlib never fails on a valid stream it makes itself.
            let _ = self.compress.compress_vec(data, out, FlushCompress::Sync);
            let used = (self.compress.total_in() - before) as usize;
            data = &data[used.min(data.len())..];
            if data.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if fin {
            if out[start..].ends_with(&TRAILER) {
                out.truncate(out.len() - TRAILER.len());
            } else if out.len() == start {
                // Nothing new since the last sync flush (an empty message, or an empty last
                // fragment), so zlib wrote nothing. The receiver restores the trailer, which
                // is the end of an empty stored block: send the block's header byte (RFC 7692
                // section 7.2.3.6) so the trailer completes it instead of starting a block.
                out.push(0x00);
            }
            if self.negotiated.no_context_takeover {
                self.compress.reset();
            }
        }
    }

    /// Decompresses `input` onto the end of `out`. With `fin`, the trailer is restored and the
    /// message ends.
    ///
    /// # Errors
    /// [`ProtocolError::MessageTooLarge`] as soon as `out` passes `limit`, and
    /// [`ProtocolError::Decompression`] for data that is not valid deflate. Neither the
    /// length nor the capacity of `out` ever passes `limit + 1` (a larger capacity left by
    /// the caller is shrunk first), however far a small input would inflate, in one call or
    /// across a message's frames.
    ///
    /// A message whose compressed data is empty, already ends with the trailer, or ends with
    /// a final block (BFINAL, RFC 7692 section 7.2.3.3), ends at a block boundary: the
    /// trailer is not restored there. Restored, it would be read as the
    /// start of a stored block that swallows the next message; such data comes from senders
    /// whose compressor had nothing to flush at the end of a message.
    pub(crate) fn decompress(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        self.tail.push(input);
        self.inflate(input, out, limit)?;
        if fin {
            if !self.tail.at_boundary() {
                self.inflate(&TRAILER, out, limit)?;
            }
            self.tail = Tail::default();
        }
        Ok(())
    }

    fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        // One byte past the limit is enough to know it was passed: `out` never needs more.
        let most = limit.saturating_add(1);
        if out.capacity() > most {
            // Room left by the caller (an uncompressed message before this one) would be
            // filled before the limit is checked.
            out.shrink_to(most);
        }
        loop {
            if out.len() == out.capacity() {
                grow(out, most);
            }
            let (in_before, out_before) = (self.decompress.total_in(), out.len());
            let status = self
                .decompress
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|_| ProtocolError::Decompression)?;
            if out.len() > limit {
                return Err(ProtocolError::MessageTooLarge {
                    size: out.len() as u64,
                    max: limit,
                });
            }
            let used = (self.decompress.total_in() - in_before) as usize;
            input = &input[used.min(input.len())..];
            if status == Status::StreamEnd {
                // A final block (BFINAL): the stream is over; the next message starts afresh.
                self.decompress.reset(false);
                if input.is_empty() || input == TRAILER {
                    // At the start of a new stream: a block boundary, where a restored
                    // trailer would begin a stored block that swallows the next message.
                    self.tail = Tail::default();
                    return Ok(());
                }
                continue;
            }
            let progressed = used > 0 || out.len() > out_before;
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
            if !progressed && out.len() < out.capacity() {
                return Err(ProtocolError::Decompression);
            }
        }
    }
}

/// Makes room in the full `out` for more output without passing `most` bytes of capacity:
/// doubling (at least one step) as `Vec::reserve` does, but `reserve` would double past the
/// limit, and all of that room is filled before the limit is checked. The last growth takes
/// all the room up to `most` rather than leave less than a step.
fn grow(out: &mut Vec<u8>, most: usize) {
    let mut target = out
        .capacity()
        .saturating_mul(2)
        .max(out.len().saturating_add(INFLATE_STEP));
    if target.saturating_add(INFLATE_STEP) > most {
        target = most;
    }
    out.reserve_exact(target.saturating_sub(out.len()));
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    const LIMIT: usize = 1 << 20;

    fn codec() -> Codec {
        Codec::new(Negotiated {
            level: 9,
            threshold: 0,
            window_bits: 15,
            no_context_takeover: false,
        })
    }

    /// `n` zero bytes compressed as one message, trailer removed.
    fn zeros(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        codec().compress(&vec![0; n], true, &mut out);
        out
    }

    /// Decompresses `input` as one message in `frames` calls into `out`; checks after each
    /// call that `out` never held or had room for more than the limit and one byte.
    fn inflate_in(input: &[u8], frames: usize, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        let mut codec = codec();
        let pieces: Vec<&[u8]> = input.chunks(input.len().div_ceil(frames)).collect();
        for (i, piece) in pieces.iter().enumerate() {
            let result = codec.decompress(piece, i + 1 == pieces.len(), out, LIMIT);
            assert!(out.len() <= LIMIT + 1, "length {}", out.len());
            assert!(out.capacity() <= LIMIT + 1, "capacity {}", out.capacity());
            result?;
        }
        Ok(())
    }

    #[test]
    fn a_message_of_exactly_the_limit_inflates_and_one_byte_more_fails() {
        let mut out = Vec::new();
        inflate_in(&zeros(LIMIT), 1, &mut out).unwrap();
        assert_eq!(out.len(), LIMIT);
        assert!(out.iter().all(|&b| b == 0));

        let mut out = Vec::new();
        let err = inflate_in(&zeros(LIMIT + 1), 3, &mut out).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::MessageTooLarge {
                size: LIMIT as u64 + 1,
                max: LIMIT
            }
        );
    }

    #[test]
    fn a_bomb_never_gets_more_than_the_limit_and_one_byte_of_buffer() {
        let bomb = zeros(8 * LIMIT);
        for frames in [1, 2, 7, 100] {
            // A fresh buffer, and one an earlier message left with more room than the limit.
            for mut out in [Vec::new(), Vec::with_capacity(3 * LIMIT)] {
                let err = inflate_in(&bomb, frames, &mut out).unwrap_err();
                assert!(
                    matches!(err, ProtocolError::MessageTooLarge { max: LIMIT, .. }),
                    "{frames} frames: {err:?}"
                );
            }
        }
    }
}
