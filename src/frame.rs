//! Frame headers, opcodes and close codes: the wire format of
//! [RFC 6455 section 5.2](https://www.rfc-editor.org/rfc/rfc6455#section-5.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! Decoding checks what a header alone can tell: reserved opcodes, control frames that are
//! fragmented or longer than 125 bytes, a 64-bit length with its top bit set, a length that is
//! not in its minimal form, and a length over the caller's limit. Checks that need connection
//! state (masking direction, negotiated RSV bits, fragmentation order) live in the connection.
//!
//! **Non-minimal lengths.** RFC 6455 says "the minimal number of bytes MUST be used to encode
//! the length". We never send a non-minimal length and we reject one on receive with
//! [`FrameError::NonMinimalLength`] (close code 1002), as wsproto does. Accepting them would give
//! a frame two encodings, which makes "encode then decode is the identity" false and hides
//! broken peers; no conforming sender produces them.

use core::fmt;

/// The largest encoded frame header: 2 bytes, an 8-byte length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame
/// ([section 5.5](https://www.rfc-editor.org/rfc/rfc6455#section-5.5)).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode ([section 5.2](https://www.rfc-editor.org/rfc/rfc6455#section-5.2)).
///
/// The reserved opcodes 3-7 and 0xB-0xF have no variant: decoding them is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OpCode {
    /// 0x0: a continuation of a fragmented message.
    Continuation = 0x0,
    /// 0x1: the first frame of a text message.
    Text = 0x1,
    /// 0x2: the first frame of a binary message.
    Binary = 0x2,
    /// 0x8: a close frame.
    Close = 0x8,
    /// 0x9: a ping.
    Ping = 0x9,
    /// 0xA: a pong.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for a reserved one.
    #[must_use]
    pub const fn from_u8(value: u8) -> Option<OpCode> {
        Some(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Whether this is a control opcode (close, ping, pong).
    #[must_use]
    pub const fn is_control(self) -> bool {
        self as u8 & 0x8 != 0
    }
}

/// The RSV1 bit (used by permessage-deflate), as it sits in [`FrameHeader::rsv`].
pub const RSV1: u8 = 0b100;
/// The RSV2 bit, as it sits in [`FrameHeader::rsv`].
pub const RSV2: u8 = 0b010;
/// The RSV3 bit, as it sits in [`FrameHeader::rsv`].
pub const RSV3: u8 = 0b001;

/// A decoded or to-be-encoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// The three reserved bits, RSV1 as `0b100` down to RSV3 as `0b001`.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every frame a client sends.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub len: u64,
}

/// The result of decoding from a buffer that may hold only part of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Decoded<T> {
    /// Decoded a value from the first `usize` bytes of the input.
    Complete(T, usize),
    /// The input ends early: at least this many more bytes are needed.
    Partial(usize),
}

/// A frame header that breaks RFC 6455 on its own, whatever the connection state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The opcode is one of the reserved values 3-7 or 0xB-0xF.
    ReservedOpcode(u8),
    /// A control frame without FIN: control frames must not be fragmented.
    FragmentedControl(OpCode),
    /// A control frame whose payload is longer than 125 bytes.
    ControlTooLong(OpCode),
    /// A 64-bit length with its most significant bit set.
    LengthTopBitSet,
    /// A length encoded in more bytes than needed (see the module docs for the policy).
    NonMinimalLength(u64),
    /// A payload length over the receiver's limit.
    TooLong {
        /// The declared payload length.
        len: u64,
        /// The limit it exceeds.
        max: u64,
    },
}

impl FrameError {
    /// The close code to fail the connection with: 1009 for [`FrameError::TooLong`], 1002 for
    /// the rest.
    #[must_use]
    pub const fn close_code(&self) -> CloseCode {
        match self {
            FrameError::TooLong { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedOpcode(op) => {
                write!(
                    f,
                    "frame uses reserved opcode {op:#x}, which no extension was negotiated for"
                )
            }
            FrameError::FragmentedControl(op) => {
                write!(
                    f,
                    "{op:?} frame without FIN: control frames must not be fragmented"
                )
            }
            FrameError::ControlTooLong(op) => {
                write!(
                    f,
                    "{op:?} frame longer than 125 bytes: control frames are limited to 125"
                )
            }
            FrameError::LengthTopBitSet => {
                f.write_str("64-bit frame length has its most significant bit set")
            }
            FrameError::NonMinimalLength(len) => write!(
                f,
                "frame length {len} is not encoded in the minimal number of bytes"
            ),
            FrameError::TooLong { len, max } => write!(
                f,
                "frame of {len} bytes exceeds the limit of {max} bytes (raise max_frame_size to accept it)"
            ),
        }
    }
}

impl core::error::Error for FrameError {}

impl FrameHeader {
    /// Decodes a header from the start of `buf`, rejecting payloads longer than `max_len`.
    ///
    /// Never panics and never allocates. Errors are reported at the earliest byte that shows
    /// them, so a bad opcode fails after one byte even if the rest of the header is missing.
    ///
    /// # Errors
    /// A [`FrameError`] for a header that no connection state could make valid.
    ///
    /// # Examples
    /// The unmasked "Hello" text frame of
    /// [section 5.7](https://www.rfc-editor.org/rfc/rfc6455#section-5.7):
    /// ```
    /// use rfc6455::frame::{Decoded, FrameHeader, OpCode};
    ///
    /// let frame = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    /// let Decoded::Complete(header, used) = FrameHeader::decode(&frame, 1 << 20)? else {
    ///     unreachable!()
    /// };
    /// assert_eq!((header.opcode, header.fin, header.len, used), (OpCode::Text, true, 5, 2));
    /// assert_eq!(FrameHeader::decode(&frame[..1], 1 << 20)?, Decoded::Partial(1));
    /// # Ok::<(), rfc6455::frame::FrameError>(())
    /// ```
    #[inline]
    pub fn decode(buf: &[u8], max_len: u64) -> Result<Decoded<FrameHeader>, FrameError> {
        let Some(&b0) = buf.first() else {
            return Ok(Decoded::Partial(2));
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x7;
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(FrameError::ReservedOpcode(b0 & 0x0F))?;
        if opcode.is_control() && !fin {
            return Err(FrameError::FragmentedControl(opcode));
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(Decoded::Partial(1));
        };
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if opcode.is_control() && usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(FrameError::ControlTooLong(opcode));
        }
        let ext: usize = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let header_len = 2 + ext + if masked { 4 } else { 0 };
        let missing = Decoded::Partial(header_len.saturating_sub(buf.len()));
        let len = match len7 {
            126 => {
                let Some(&[a, b]) = buf.get(2..4) else {
                    return Ok(missing);
                };
                let len = u64::from(u16::from_be_bytes([a, b]));
                if len < 126 {
                    return Err(FrameError::NonMinimalLength(len));
                }
                len
            }
            127 => {
                let Some(&[a, b, c, d, e, f, g, h]) = buf.get(2..10) else {
                    return Ok(missing);
                };
                let len = u64::from_be_bytes([a, b, c, d, e, f, g, h]);
                if len >> 63 != 0 {
                    return Err(FrameError::LengthTopBitSet);
                }
                if len <= u64::from(u16::MAX) {
                    return Err(FrameError::NonMinimalLength(len));
                }
                len
            }
            short => u64::from(short),
        };
        if len > max_len {
            return Err(FrameError::TooLong { len, max: max_len });
        }
        let mask = if masked {
            let Some(&[a, b, c, d]) = buf.get(2 + ext..header_len) else {
                return Ok(missing);
            };
            Some([a, b, c, d])
        } else {
            None
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            len,
        };
        Ok(Decoded::Complete(header, header_len))
    }

    /// The encoded length of this header: 2 to 14 bytes.
    #[must_use]
    pub const fn encoded_len(&self) -> usize {
        let ext = if self.len < 126 {
            0
        } else if self.len <= u16::MAX as u64 {
            2
        } else {
            8
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Encodes this header into `out` with the minimal length form and returns how many bytes
    /// of `out` it used.
    ///
    /// The caller is responsible for a header that makes sense (a length under 2^63, a control
    /// frame of at most 125 bytes); encoding does not check it.
    ///
    /// # Examples
    /// ```
    /// use rfc6455::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
    ///
    /// let header = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Binary, mask: None, len: 256 };
    /// let mut out = [0; MAX_HEADER_LEN];
    /// let n = header.encode(&mut out);
    /// assert_eq!(&out[..n], &[0x82, 0x7E, 0x01, 0x00]);
    /// ```
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x7) << 4) | self.opcode as u8;
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = 2;
        if self.len < 126 {
            out[1] = mask_bit | self.len as u8;
        } else if let Ok(len) = u16::try_from(self.len) {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&len.to_be_bytes());
            n = 4;
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.len.to_be_bytes());
            n = 10;
        }
        if let Some(key) = self.mask {
            out[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

/// A close status code ([section 7.4](https://www.rfc-editor.org/rfc/rfc6455#section-7.4)).
///
/// An open newtype: any `u16` can be held, and [`CloseCode::is_sendable`] tells whether it may
/// go on the wire. 1005, 1006 and 1015 are reported locally but never sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure; the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutting down, page navigated away).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: the endpoint cannot accept this type of data.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present in the close frame (local only, never sent).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection closed without a close frame (local only, never sent).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data was inconsistent with its type (invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message or frame was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client needed an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (temporary overload).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway got an invalid response from upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed (local only, never sent).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may appear in a close frame on the wire: 1000-1003, 1007-1014 (the
    /// IANA registry; 1012-1014 were registered after RFC 6455) and 3000-4999 (libraries,
    /// frameworks and applications). Received codes outside this set fail with 1002.
    #[must_use]
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> CloseCode {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_LIMIT: u64 = u64::MAX;

    fn complete(buf: &[u8]) -> (FrameHeader, usize) {
        match FrameHeader::decode(buf, NO_LIMIT) {
            Ok(Decoded::Complete(h, n)) => (h, n),
            other => panic!("expected a complete header, got {other:?}"),
        }
    }

    fn round_trip(header: FrameHeader) {
        let mut out = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut out);
        assert_eq!(n, header.encoded_len());
        assert_eq!(complete(&out[..n]), (header, n));
        // Every strict prefix is partial, and says how many bytes are at least missing.
        for cut in 0..n {
            match FrameHeader::decode(&out[..cut], NO_LIMIT) {
                Ok(Decoded::Partial(need)) => assert!(need >= 1 && cut + need <= n, "{cut} {need}"),
                other => panic!("prefix of {cut} bytes: {other:?}"),
            }
        }
    }

    fn header(opcode: OpCode, len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            len,
        }
    }

    #[test]
    fn rfc_5_7_single_frame_unmasked_text() {
        let frame = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (h, n) = complete(&frame);
        assert_eq!(h, header(OpCode::Text, 5, None));
        assert_eq!(&frame[n..], b"Hello");
        let mut out = [0; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        assert_eq!(&out[..n], &frame[..2]);
    }

    #[test]
    fn rfc_5_7_single_frame_masked_text() {
        let frame = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = complete(&frame);
        assert_eq!(h, header(OpCode::Text, 5, Some([0x37, 0xfa, 0x21, 0x3d])));
        let mut payload = frame[n..].to_vec();
        crate::mask::apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(payload, b"Hello");
        let mut out = [0; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        assert_eq!(&out[..n], &frame[..6]);
    }

    #[test]
    fn rfc_5_7_fragmented_unmasked_text() {
        let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
        let second = [0x80, 0x02, 0x6c, 0x6f];
        let (h1, n1) = complete(&first);
        assert_eq!((h1.fin, h1.opcode, h1.len), (false, OpCode::Text, 3));
        let (h2, n2) = complete(&second);
        assert_eq!((h2.fin, h2.opcode, h2.len), (true, OpCode::Continuation, 2));
        assert_eq!([&first[n1..], &second[n2..]].concat(), b"Hello");
    }

    #[test]
    fn rfc_5_7_ping_and_masked_pong() {
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        assert_eq!(complete(&ping).0, header(OpCode::Ping, 5, None));
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, used) = complete(&pong);
        assert_eq!(h, header(OpCode::Pong, 5, Some([0x37, 0xfa, 0x21, 0x3d])));
        let mut out = [0; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        assert_eq!(&out[..n], &pong[..used]);
    }

    #[test]
    fn rfc_5_7_256_bytes_and_64_kib_binary() {
        assert_eq!(
            complete(&[0x82, 0x7E, 0x01, 0x00]),
            (header(OpCode::Binary, 256, None), 4)
        );
        let big = [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
        assert_eq!(complete(&big), (header(OpCode::Binary, 65536, None), 10));
    }

    #[test]
    fn every_length_boundary_round_trips() {
        for len in [
            0,
            1,
            125,
            126,
            127,
            65535,
            65536,
            (1 << 32) + 5,
            (1 << 63) - 1,
        ] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for opcode in [OpCode::Binary, OpCode::Text, OpCode::Continuation] {
                    round_trip(header(opcode, len, mask));
                }
            }
        }
        for len in [0, 125] {
            for opcode in [OpCode::Close, OpCode::Ping, OpCode::Pong] {
                round_trip(header(opcode, len, Some([9, 9, 9, 9])));
            }
        }
    }

    #[test]
    fn length_forms_are_minimal() {
        let form = |len| header(OpCode::Binary, len, None).encoded_len();
        assert_eq!(
            [form(125), form(126), form(65535), form(65536)],
            [2, 4, 4, 10]
        );
    }

    #[test]
    fn rsv_bits_and_fin_round_trip() {
        for rsv in 0..8 {
            for fin in [false, true] {
                round_trip(FrameHeader {
                    fin,
                    rsv,
                    opcode: OpCode::Binary,
                    mask: None,
                    len: 3,
                });
            }
        }
    }

    #[test]
    fn reserved_opcodes_fail_after_one_byte() {
        for op in (3..=7).chain(0xB..=0xF) {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op], NO_LIMIT),
                Err(FrameError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn fragmented_control_frames_fail() {
        for (byte, op) in [
            (0x08, OpCode::Close),
            (0x09, OpCode::Ping),
            (0x0A, OpCode::Pong),
        ] {
            assert_eq!(
                FrameHeader::decode(&[byte], NO_LIMIT),
                Err(FrameError::FragmentedControl(op))
            );
        }
    }

    #[test]
    fn control_frames_over_125_bytes_fail() {
        for len7 in [126, 127] {
            assert_eq!(
                FrameHeader::decode(&[0x89, len7], NO_LIMIT),
                Err(FrameError::ControlTooLong(OpCode::Ping))
            );
        }
    }

    #[test]
    fn top_bit_of_64_bit_length_fails() {
        let mut frame = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            FrameHeader::decode(&frame, NO_LIMIT),
            Err(FrameError::LengthTopBitSet)
        );
        frame[2] = 0xFF;
        assert_eq!(
            FrameHeader::decode(&frame, NO_LIMIT),
            Err(FrameError::LengthTopBitSet)
        );
    }

    #[test]
    fn non_minimal_lengths_fail() {
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7E, 0x00, 0x7D], NO_LIMIT),
            Err(FrameError::NonMinimalLength(125))
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7E, 0x00, 0x00], NO_LIMIT),
            Err(FrameError::NonMinimalLength(0))
        );
        let eight = |len: u64| {
            let mut f = [0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0];
            f[2..].copy_from_slice(&len.to_be_bytes());
            FrameHeader::decode(&f, NO_LIMIT)
        };
        assert_eq!(eight(65535), Err(FrameError::NonMinimalLength(65535)));
        assert_eq!(eight(5), Err(FrameError::NonMinimalLength(5)));
        assert!(matches!(eight(65536), Ok(Decoded::Complete(_, 10))));
        assert_eq!(
            FrameError::NonMinimalLength(5).close_code(),
            CloseCode::PROTOCOL_ERROR
        );
    }

    #[test]
    fn length_over_limit_fails_before_the_mask_arrives() {
        // 2^32 + 5 with the mask bit set but no mask key yet: the limit fails first.
        let frame = [0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 5];
        let err = FrameHeader::decode(&frame, 1 << 20).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooLong {
                len: (1 << 32) + 5,
                max: 1 << 20
            }
        );
        assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
        // At the limit is fine.
        let at = [0x82, 0x7E, 0x01, 0x00];
        assert!(matches!(
            FrameHeader::decode(&at, 256),
            Ok(Decoded::Complete(_, 4))
        ));
        assert!(matches!(
            FrameHeader::decode(&at, 255),
            Err(FrameError::TooLong { len: 256, max: 255 })
        ));
    }

    #[test]
    fn partial_headers_say_what_is_missing() {
        assert_eq!(FrameHeader::decode(&[], NO_LIMIT), Ok(Decoded::Partial(2)));
        assert_eq!(
            FrameHeader::decode(&[0x82], NO_LIMIT),
            Ok(Decoded::Partial(1))
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0xFF, 0], NO_LIMIT),
            Ok(Decoded::Partial(11))
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x85, 1, 2], NO_LIMIT),
            Ok(Decoded::Partial(2))
        );
    }

    #[test]
    fn close_codes_on_the_wire() {
        let sendable: [u16; 17] = [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4500, 4999,
        ];
        for code in sendable {
            assert!(CloseCode(code).is_sendable(), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(code).is_sendable(), "{code}");
        }
    }

    /// Payload lengths in each of the three forms of section 5.2, their boundaries (125/126,
    /// 65535/65536, the largest) more often than chance would draw them.
    fn lengths() -> impl proptest::strategy::Strategy<Value = u64> {
        proptest::prop_oneof![
            0u64..=125,
            126u64..=65535,
            65536u64..(1 << 63),
            proptest::sample::select(&[0, 125, 126, 65535, 65536, (1u64 << 63) - 1][..]),
        ]
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "checks the test strategy, not the crate: nothing for Miri to find there, and minutes of drawing under it"
    )]
    fn the_length_strategy_draws_every_form_and_boundary() {
        use proptest::strategy::{Strategy as _, ValueTree as _};
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let drawn: alloc::vec::Vec<u64> = (0..400)
            .map(|_| lengths().new_tree(&mut runner).unwrap().current())
            .collect();
        for (what, hit) in [
            ("7-bit", drawn.iter().any(|&n| n <= 125)),
            ("16-bit", drawn.iter().any(|&n| (126..=65535).contains(&n))),
            ("64-bit", drawn.iter().any(|&n| n > 65535)),
        ] {
            assert!(hit, "no {what} length drawn");
        }
        for boundary in [125, 126, 65535, 65536] {
            assert!(drawn.contains(&boundary), "{boundary} never drawn");
        }
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..20), max in proptest::num::u64::ANY) {
            let _ = FrameHeader::decode(&bytes, max);
        }

        #[test]
        fn encode_then_decode_is_identity(
            fin in proptest::bool::ANY,
            rsv in 0u8..8,
            op in proptest::sample::select(&[0u8, 1, 2, 8, 9, 10][..]),
            len in lengths(),
            mask in proptest::option::of(proptest::array::uniform4(proptest::num::u8::ANY)),
        ) {
            let opcode = OpCode::from_u8(op).unwrap();
            let len = if opcode.is_control() { len % 126 } else { len };
            let fin = fin || opcode.is_control();
            let header = FrameHeader { fin, rsv, opcode, mask, len };
            round_trip(header);
            // The shortest length form (section 5.2): 7 bits, then 16, then 64.
            let form = match len {
                0..=125 => 0,
                126..=65535 => 2,
                _ => 8,
            };
            let masked = if mask.is_some() { 4 } else { 0 };
            proptest::prop_assert_eq!(header.encoded_len(), 2 + form + masked, "len {}", len);
        }
    }
}
