//! The core's errors, one enum per cause: the peer broke the protocol ([`ProtocolError`]), a
//! local call was refused ([`SendError`]), or a deadline passed ([`TimeoutError`]).

use core::fmt;
use core::time::Duration;

use crate::frame::{CloseCode, FrameError, OpCode};

/// The peer broke RFC 6455. Each error maps to the close code the connection was failed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame header that is invalid on its own.
    Frame(FrameError),
    /// A server received a frame without a masking key (1002).
    UnmaskedFrame,
    /// A client received a frame with a masking key (1002).
    MaskedFrame,
    /// A frame set RSV bits that no negotiated extension defines (1002).
    ReservedBits(u8),
    /// A continuation frame arrived with no fragmented message in progress (1002).
    UnexpectedContinuation,
    /// A new text or binary frame arrived inside a fragmented message (1002).
    ExpectedContinuation(OpCode),
    /// A message grew past `max_message_size` (1009).
    MessageTooLarge {
        /// The size the message would reach with the frame that crossed the limit.
        size: u64,
        /// The limit.
        max: usize,
    },
    /// A text message is not valid UTF-8 (1007).
    InvalidUtf8,
    /// A close frame with a one-byte payload (1002).
    CloseTooShort,
    /// A close frame with a code that must not be sent (1002).
    InvalidCloseCode(u16),
    /// A close frame whose reason is not valid UTF-8 (1007).
    InvalidCloseReason,
    /// A compressed message (permessage-deflate) that is not valid deflate data (1007).
    Decompression,
    /// The stream ended without a close frame (1006, reported locally and never sent).
    UnexpectedEof,
}

impl ProtocolError {
    /// The close code for this error: 1002, 1007, 1009, or 1006 for
    /// [`ProtocolError::UnexpectedEof`] (which is never sent).
    #[must_use]
    pub const fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::Frame(e) => e.close_code(),
            ProtocolError::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::InvalidUtf8
            | ProtocolError::InvalidCloseReason
            | ProtocolError::Decompression => CloseCode::INVALID_PAYLOAD,
            ProtocolError::UnexpectedEof => CloseCode::ABNORMAL,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Frame(e) => write!(f, "peer sent an invalid frame: {e}"),
            ProtocolError::UnmaskedFrame => {
                f.write_str("client sent an unmasked frame: clients must mask every frame")
            }
            ProtocolError::MaskedFrame => {
                f.write_str("server sent a masked frame: servers must not mask frames")
            }
            ProtocolError::ReservedBits(rsv) => write!(
                f,
                "peer set reserved bits {rsv:#05b} that no negotiated extension defines"
            ),
            ProtocolError::UnexpectedContinuation => {
                f.write_str("peer sent a continuation frame with no message to continue")
            }
            ProtocolError::ExpectedContinuation(op) => write!(
                f,
                "peer started a new {op:?} message before finishing its fragmented one"
            ),
            ProtocolError::MessageTooLarge { size, max } => write!(
                f,
                "peer's message reached {size} bytes, over the limit of {max} (raise max_message_size to accept it)"
            ),
            ProtocolError::InvalidUtf8 => {
                f.write_str("peer sent a text message that is not valid UTF-8")
            }
            ProtocolError::CloseTooShort => {
                f.write_str("peer sent a close frame with a 1-byte payload (a code needs 2 bytes)")
            }
            ProtocolError::InvalidCloseCode(code) => {
                write!(f, "peer sent close code {code}, which must not be sent")
            }
            ProtocolError::InvalidCloseReason => {
                f.write_str("peer sent a close reason that is not valid UTF-8")
            }
            ProtocolError::UnexpectedEof => {
                f.write_str("the stream ended without a close frame (abnormal closure, 1006)")
            }
            ProtocolError::Decompression => {
                f.write_str("peer sent a compressed message that is not valid deflate data")
            }
        }
    }
}

impl core::error::Error for ProtocolError {}

/// A local call the connection cannot carry out. Nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// We already sent a close frame (or the connection failed): no more frames may be sent.
    Closed,
    /// A control frame payload over 125 bytes.
    ControlTooLong(usize),
    /// A close code that may not be sent (1005, 1006, 1015, or outside the valid ranges).
    InvalidCloseCode(CloseCode),
    /// A close reason over 123 bytes, so code and reason exceed 125.
    ReasonTooLong(usize),
    /// The output buffer holds more than `write_buffer_cap` bytes: drain it first.
    BufferFull {
        /// Bytes already waiting.
        buffered: usize,
        /// The configured cap.
        cap: usize,
    },
    /// A fragmented message is in progress: finish it with `send_fragment(.., true)` first.
    MessageInProgress,
    /// Text fragments do not form valid UTF-8.
    InvalidUtf8,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("cannot send: the connection is closing or closed"),
            SendError::ControlTooLong(len) => write!(
                f,
                "control frame payload of {len} bytes is over the limit of 125"
            ),
            SendError::InvalidCloseCode(code) => write!(
                f,
                "close code {code} may not be sent; use 1000-1003, 1007-1014 or 3000-4999"
            ),
            SendError::ReasonTooLong(len) => {
                write!(f, "close reason of {len} bytes is over the limit of 123")
            }
            SendError::BufferFull { buffered, cap } => write!(
                f,
                "{buffered} bytes wait unsent, over the write buffer cap of {cap}: write them out first"
            ),
            SendError::MessageInProgress => f.write_str(
                "a fragmented message is in progress: finish it with a final fragment first",
            ),
            SendError::InvalidUtf8 => f.write_str("text fragments are not valid UTF-8"),
        }
    }
}

impl core::error::Error for SendError {}

/// A deadline held by the connection passed (see
/// [`Connection::handle_timeout`](crate::Connection::handle_timeout)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutError {
    /// The read deadline set with
    /// [`set_read_deadline`](crate::Connection::set_read_deadline) passed. Nothing is lost:
    /// the connection is intact, a partly received message stays buffered, and the deadline
    /// is cleared.
    Read,
    /// Nothing arrived from the peer for this long (the keepalive's `idle_timeout`): the peer
    /// or the path to it is dead. The connection is over; tear the transport down.
    PeerUnresponsive(Duration),
    /// We sent a close frame and the peer's did not arrive within this close timeout. The
    /// connection is over; tear the transport down.
    CloseTimeout(Duration),
}

impl TimeoutError {
    /// Whether the connection is over: true for every variant but [`TimeoutError::Read`].
    #[must_use]
    pub const fn is_fatal(&self) -> bool {
        !matches!(self, TimeoutError::Read)
    }
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutError::Read => f.write_str(
                "no message arrived before the read deadline (the connection is intact: read again to resume)",
            ),
            TimeoutError::PeerUnresponsive(d) => write!(
                f,
                "nothing received from the WebSocket peer for {d:?}: the connection is dead"
            ),
            TimeoutError::CloseTimeout(d) => write!(
                f,
                "WebSocket peer did not answer the close frame within {d:?}; the connection was dropped"
            ),
        }
    }
}

impl core::error::Error for TimeoutError {}
