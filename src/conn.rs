//! The sans-IO connection: the state machine of RFC 6455 sections 5 and 7.
//!
//! It owns a receive buffer, an assembly buffer for fragmented messages and an output buffer,
//! and nothing else: no socket, no clock, no thread.

use alloc::vec::Vec;
use core::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::Config;
use crate::frame::{
    CloseCode, Decoded, FrameError, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode, RSV1,
};
use crate::mask::{apply_mask, extend_masked};
use crate::utf8::Utf8Validator;

/// Which end of the connection this is. Only the masking direction differs: a client masks
/// every frame it sends, a server never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the opening handshake.
    Client,
    /// The end that accepted it.
    Server,
}

/// Where the connection stands in the close handshake
/// ([section 7](https://www.rfc-editor.org/rfc/rfc6455#section-7)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's; received messages are still delivered.
    Closing,
    /// Both close frames were exchanged. The server closes the TCP connection now; a client
    /// waits for the server to do so.
    Closed,
    /// The connection failed: a close frame with the error's code was queued (unless the
    /// stream had ended) and all further input is ignored.
    Failed,
}

/// A received close frame, or what stands in for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code; [`CloseCode::NO_STATUS`] (1005) when the frame had no payload.
    pub code: CloseCode,
    /// The reason, validated UTF-8 (possibly empty).
    pub reason: &'a str,
}

/// What the peer sent, borrowed from the connection's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete text message, validated UTF-8.
    Text(&'a str),
    /// A complete binary message.
    Binary(&'a [u8]),
    /// A ping; unless [`Config::auto_pong`] is off, the pong is already queued.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's close frame. When we had not sent one, the echo is already queued.
    Close(CloseFrame<'a>),
}

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

/// The kind of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

/// The frame being received: its header and how much of its payload was unmasked and checked.
#[derive(Clone, Copy, Debug)]
struct InFrame {
    header: FrameHeader,
    header_len: usize,
    /// Payload bytes already unmasked (and UTF-8 checked when text).
    done: usize,
    /// Whether `done` bytes were fed to the UTF-8 validator (false on the whole-frame fast path).
    streamed: bool,
}

/// An event found by `poll`, to be borrowed from the buffers later. What it refers to is
/// kept apart, in `Connection::ready_at` and `Connection::close_code`: a one-byte value moves
/// through return values and `Option`s cheaply, while copying a multi-field value that was
/// just written field by field stalls the CPU (a wide load cannot take its data from
/// narrower pending stores); that stall cost a third of the time per 16-byte message.
#[derive(Clone, Copy, Debug)]
enum Ready {
    /// A message in `rbuf[ready_at]`: text, binary, ping or pong.
    Frame(OpCode),
    /// A message assembled in `msg`.
    Assembled(MessageKind),
    /// A close frame with code `close_code`, and its reason in `rbuf[ready_at]`.
    Close,
}

/// The free space [`Connection::recv_buf`] keeps for a read, at least. Frames this long or
/// longer are large: reads stop where they end.
const READ_CHUNK: usize = 32 * 1024;

/// The largest read window: enough for a 64 KiB message and its header in one read, small
/// enough to stay in the CPU's cache until the payload is unmasked.
const READ_MAX: usize = 128 * 1024;

/// Unconsumed input is moved to the front of the receive buffer when it is at most this long
/// (or when the space after it is short): moving a few bytes costs little, moving most of a
/// large frame doubles the copying.
const COMPACT_MAX: usize = 4 * 1024;

/// A receive buffer short of room for the next read grows, rather than move more than
/// [`COMPACT_MAX`] bytes of a large frame to its front, until it is this long.
const GROW_BELOW: usize = 4 * READ_MAX;

/// Reads start this aligned after a compaction. The kernel copies received bytes with
/// `rep movsb`, which runs an order of magnitude slower (measured on AMD Zen 3: 64 KiB in
/// 23 µs instead of 1.7 µs) when the destination is 1 to 31 bytes past the source modulo
/// 4096; socket buffers are cache-line aligned, so a cache-line aligned destination avoids it.
const READ_ALIGN: usize = 64;

/// Buffers above this capacity are released when they fall empty, so one large message does
/// not pin its memory for the life of the connection.
const SHRINK_ABOVE: usize = 4 << 20;

/// Compact the output buffer once this many sent bytes sit at its front.
const OUT_COMPACT: usize = 64 * 1024;

/// A WebSocket connection after the opening handshake, as a sans-IO state machine.
///
/// Three verbs and one rule:
/// - **bytes in**: [`recv`](Self::recv) (or [`recv_buf`](Self::recv_buf) +
///   [`recv_filled`](Self::recv_filled) to read straight into the connection's buffer), and
///   [`recv_eof`](Self::recv_eof) when the stream ends;
/// - **events out**: [`next_event`](Self::next_event) until it returns `Ok(None)`;
/// - **bytes out**: [`pending_output`](Self::pending_output), then
///   [`consume_output`](Self::consume_output) with what was written;
/// - **the rule**: after any call, drain the output. Pongs, close replies and the close frame
///   that fails a connection are queued there by the calls that cause them.
///
/// ```
/// use rfc6455::{Config, Connection, Event, Role};
///
/// let mut client = Connection::new(Role::Client, Config::default());
/// let mut server = Connection::new(Role::Server, Config::default());
///
/// client.send_text("hello")?;
/// server.recv(client.pending_output());
/// let n = client.pending_output().len();
/// client.consume_output(n);
///
/// assert_eq!(server.next_event()?, Some(Event::Text("hello")));
/// assert_eq!(server.next_event()?, None); // needs more bytes
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    role: Role,
    config: Config,
    state: State,
    /// permessage-deflate, once negotiated.
    #[cfg(feature = "deflate")]
    deflate: Option<alloc::boxed::Box<crate::deflate::codec::Codec>>,
    /// Compressed output of the message being sent, reused between messages.
    #[cfg(feature = "deflate")]
    scratch: Vec<u8>,
    rng: Option<StdRng>,

    // Receive side: `rbuf[rstart..rend]` holds bytes not yet consumed; `rbuf` is initialised
    // (zeros or old input) past `rend` so `recv_buf` can hand out `rbuf[rend..rwindow]`.
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    rwindow: usize,
    eof: bool,
    frame: Option<InFrame>,
    /// The kind of the fragmented message being received, if any.
    msg_kind: Option<MessageKind>,
    /// The message being received is compressed (RSV1 on its first frame).
    msg_compressed: bool,
    msg: Vec<u8>,
    msg_len: u64,
    utf8: Utf8Validator,
    ready: Option<Ready>,
    ready_at: (usize, usize),
    close_code: CloseCode,
    close_received: bool,

    // Send side: `out[out_pos..]` waits to be written.
    out: Vec<u8>,
    out_pos: usize,
    /// End offset in `out` of a queued pong not yet written.
    pong_end: Option<usize>,
    /// The latest ping payload still to be answered, while a pong waits in `out`.
    pending_pong: Option<([u8; MAX_CONTROL_PAYLOAD], u8)>,
    close_sent: bool,
    /// The kind of the fragmented message being sent, if any.
    send_kind: Option<MessageKind>,
    send_utf8: Utf8Validator,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("buffered_input", &(self.rend - self.rstart))
            .field("pending_output", &self.pending_output().len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection in the open state, after a successful opening handshake. A client's
    /// masking keys come from an OS-seeded ChaCha CSPRNG.
    ///
    /// # Panics
    /// If the operating system's random source fails, for a client.
    #[cfg(feature = "std")]
    #[must_use]
    pub fn new(role: Role, config: Config) -> Connection {
        let rng = match role {
            Role::Client => Some(
                StdRng::try_from_rng(&mut rand::rngs::SysRng)
                    .expect("the OS random source failed; cannot create masking keys"),
            ),
            Role::Server => None,
        };
        Connection::with_rng(role, config, rng)
    }

    /// A connection whose masking keys come from a ChaCha CSPRNG seeded with `seed`. Use it
    /// without `std`, with a seed from a hardware source, or in tests for reproducible bytes.
    /// Reusing a seed across connections makes masking keys predictable: never do that in
    /// production.
    #[must_use]
    pub fn with_seed(role: Role, config: Config, seed: [u8; 32]) -> Connection {
        let rng = (role == Role::Client).then(|| StdRng::from_seed(seed));
        Connection::with_rng(role, config, rng)
    }

    fn with_rng(role: Role, config: Config, rng: Option<StdRng>) -> Connection {
        Connection {
            role,
            config,
            state: State::Open,
            #[cfg(feature = "deflate")]
            deflate: None,
            #[cfg(feature = "deflate")]
            scratch: Vec::new(),
            rng,
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            rwindow: 0,
            eof: false,
            frame: None,
            msg_kind: None,
            msg_compressed: false,
            msg: Vec::new(),
            msg_len: 0,
            utf8: Utf8Validator::default(),
            ready: None,
            ready_at: (0, 0),
            close_code: CloseCode::NO_STATUS,
            close_received: false,
            out: Vec::new(),
            out_pos: 0,
            pong_end: None,
            pending_pong: None,
            close_sent: false,
            send_kind: None,
            send_utf8: Utf8Validator::default(),
        }
    }

    /// This end's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the connection stands in the close handshake.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether no more frames will be sent or delivered: the close handshake completed or the
    /// connection failed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed | State::Failed)
    }

    /// Turns on permessage-deflate with the parameters agreed in the opening handshake (see
    /// [`crate::deflate`]): received messages with RSV1 on their first frame are decompressed,
    /// and sent messages of at least the threshold are compressed.
    #[cfg(feature = "deflate")]
    pub fn enable_deflate(&mut self, negotiated: crate::deflate::Negotiated) {
        self.deflate = Some(alloc::boxed::Box::new(crate::deflate::codec::Codec::new(
            negotiated,
        )));
    }

    /// Whether permessage-deflate is on.
    #[must_use]
    pub fn is_deflate_enabled(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        false
    }

    // ---------------------------------------------------------------- bytes in

    /// Hands received bytes to the connection. After the connection failed or closed, input is
    /// discarded.
    pub fn recv(&mut self, data: &[u8]) {
        if self.discarding() || data.is_empty() {
            return;
        }
        self.reserve_input(data.len().max(READ_CHUNK));
        self.rbuf[self.rend..self.rend + data.len()].copy_from_slice(data);
        self.rend += data.len();
        self.rwindow = self.rend;
    }

    /// Space at the end of the receive buffer for a read to fill directly: 32 KiB to 128 KiB,
    /// or at most 128 KiB of what remains of a frame of 32 KiB or more; report what was read
    /// with [`recv_filled`](Self::recv_filled).
    ///
    /// While a frame of 32 KiB or more is being received, the space ends where that frame
    /// ends (when the buffer has room for all of it), so that a read of a large frame does not
    /// run into the next one: the next read then starts at the front of the buffer instead
    /// of after a copy of the bytes it ran into. The space is never empty.
    pub fn recv_buf(&mut self) -> &mut [u8] {
        self.reserve_input(READ_CHUNK);
        let room = self.rbuf.len() - self.rend;
        let window = match self.large_frame() {
            // Not when all of it is here (read twice without taking events): never empty.
            Some((_, rest)) if rest > 0 => rest.min(room).min(READ_MAX),
            _ => READ_MAX.min(room),
        };
        self.rwindow = self.rend + window;
        &mut self.rbuf[self.rend..self.rwindow]
    }

    /// Records that `n` bytes of [`recv_buf`](Self::recv_buf) were filled. `n` is clamped to
    /// the space offered.
    pub fn recv_filled(&mut self, n: usize) {
        if self.discarding() {
            return;
        }
        self.rend = self.rend.saturating_add(n).min(self.rwindow.max(self.rend));
    }

    /// For a frame of [`READ_CHUNK`] bytes or more being received: where it ends in `rbuf`,
    /// and how many of its bytes have not arrived yet.
    fn large_frame(&self) -> Option<(usize, usize)> {
        let frame = self.frame?;
        // The payload length fits in usize: it passed max_frame_size.
        let len = frame.header.len as usize;
        if len < READ_CHUNK {
            return None;
        }
        let end = self.rstart + frame.header_len + len;
        Some((end, end.saturating_sub(self.rend)))
    }

    /// Records that the stream ended. If the close handshake had not completed, the next
    /// [`next_event`](Self::next_event) reports [`ProtocolError::UnexpectedEof`].
    pub fn recv_eof(&mut self) {
        self.eof = true;
    }

    fn discarding(&self) -> bool {
        self.state == State::Failed || self.close_received
    }

    /// Makes room for `extra` bytes after `rend`. Unless an event borrows the buffer,
    /// unconsumed bytes move to the (aligned) front first when there are few of them, or when
    /// the room after them is short, except for much of a large frame in a buffer of less
    /// than a few read windows: that buffer grows instead, as moving would repeat with every
    /// read of such frames.
    fn reserve_input(&mut self, extra: usize) {
        if self.ready.is_none() {
            if self.rstart == self.rend && self.rbuf.len() > SHRINK_ABOVE {
                self.rbuf = Vec::new();
                self.rstart = 0;
                self.rend = 0;
            }
            let unconsumed = self.rend - self.rstart;
            let front = match self.rbuf.as_ptr().align_offset(READ_ALIGN) {
                a if a < READ_ALIGN && a + unconsumed <= self.rbuf.len() => a,
                _ => 0,
            };
            let short = self.rbuf.len() - self.rend < extra
                && (self.rbuf.len() >= GROW_BELOW || self.large_frame().is_none());
            if self.rstart != front && (unconsumed <= COMPACT_MAX || short) {
                self.rbuf.copy_within(self.rstart..self.rend, front);
                self.rstart = front;
                self.rend = front + unconsumed;
            }
        }
        let need = self.rend.saturating_add(extra);
        if self.rbuf.len() < need {
            let grown = need.max(self.rbuf.len().saturating_mul(2));
            self.rbuf.resize(grown, 0);
        }
    }

    // ---------------------------------------------------------------- events out

    /// The next event, or `Ok(None)` when more input is needed (or the connection is done).
    ///
    /// # Errors
    /// A [`ProtocolError`] when the peer broke the protocol. The connection has then failed:
    /// the close frame with [`ProtocolError::close_code`] is queued in the output (except for
    /// an unexpected end of stream), and every later call returns `Ok(None)`.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, ProtocolError> {
        if !self.poll()? {
            return Ok(None);
        }
        Ok(self.take_event())
    }

    /// Processes input until an event is ready; `Ok(true)` when one is.
    #[inline]
    pub(crate) fn poll(&mut self) -> Result<bool, ProtocolError> {
        if self.ready.is_some() {
            return Ok(true);
        }
        if self.discarding() {
            return Ok(false);
        }
        match self.advance() {
            Ok(Some(ready)) => {
                self.ready = Some(ready);
                Ok(true)
            }
            Ok(None) if self.eof && self.state != State::Closed => {
                Err(self.fail(ProtocolError::UnexpectedEof))
            }
            Ok(None) => Ok(false),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The event found by [`poll`](Self::poll), borrowed from the buffers.
    #[inline]
    pub(crate) fn take_event(&mut self) -> Option<Event<'_>> {
        let (s, e) = self.ready_at;
        let event = match self.ready.take()? {
            Ready::Frame(OpCode::Text) => Event::Text(as_str(&self.rbuf[s..e])),
            Ready::Frame(OpCode::Ping) => Event::Ping(&self.rbuf[s..e]),
            Ready::Frame(OpCode::Pong) => Event::Pong(&self.rbuf[s..e]),
            Ready::Frame(_) => Event::Binary(&self.rbuf[s..e]),
            Ready::Assembled(MessageKind::Text) => Event::Text(as_str(&self.msg)),
            Ready::Assembled(MessageKind::Binary) => Event::Binary(&self.msg),
            Ready::Close => Event::Close(CloseFrame {
                code: self.close_code,
                reason: as_str(&self.rbuf[s..e]),
            }),
        };
        Some(event)
    }

    /// Runs the receive state machine until an event is ready or input runs out.
    fn advance(&mut self) -> Result<Option<Ready>, ProtocolError> {
        loop {
            // Taken, not copied: a frame that completes here is never stored.
            let mut frame = match self.frame.take() {
                Some(frame) => frame,
                None => {
                    let limit = self.config.max_frame_size as u64;
                    let input = &self.rbuf[self.rstart..self.rend];
                    let (header, header_len) = match FrameHeader::decode(input, limit) {
                        Ok(Decoded::Complete(header, used)) => (header, used),
                        Ok(Decoded::Partial(_)) => return Ok(None),
                        Err(e) => return Err(ProtocolError::Frame(e)),
                    };
                    self.check_header(&header)?;
                    InFrame {
                        header,
                        header_len,
                        done: 0,
                        streamed: false,
                    }
                }
            };
            // The payload length fits in usize: it passed max_frame_size.
            let len = frame.header.len as usize;
            let start = self.rstart + frame.header_len;
            let available = (self.rend - start).min(len);
            if available > frame.done {
                self.unmask_and_check(&mut frame, start, available)?;
            }
            if available < len {
                self.frame = Some(frame);
                return Ok(None);
            }
            self.rstart = start + len;
            if let Some(ready) = self.complete_frame(&frame, start, start + len)? {
                return Ok(Some(ready));
            }
        }
    }

    /// Unmasks newly arrived payload bytes in place and validates text as it arrives.
    fn unmask_and_check(
        &mut self,
        frame: &mut InFrame,
        start: usize,
        available: usize,
    ) -> Result<(), ProtocolError> {
        let len = frame.header.len as usize;
        let piece = &mut self.rbuf[start + frame.done..start + available];
        if let Some(key) = frame.header.mask {
            apply_mask(piece, key, frame.done % 4);
        }
        // Compressed text is validated after decompression.
        let text = !self.msg_compressed
            && (frame.header.opcode == OpCode::Text
                || (frame.header.opcode == OpCode::Continuation
                    && self.msg_kind == Some(MessageKind::Text)));
        // A whole unfragmented text frame is validated once, at the end; anything that
        // arrives in pieces or belongs to a fragmented message is validated as it arrives.
        let whole = frame.done == 0 && available == len && frame.header.fin;
        if text && !(whole && frame.header.opcode == OpCode::Text) {
            self.utf8
                .feed(piece)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            frame.streamed = true;
        }
        frame.done = available;
        Ok(())
    }

    /// Checks a header against the connection state before any of its payload is processed.
    fn check_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        // RSV1 marks a compressed message, on its first frame only (RFC 7692 section 6).
        let starts_message = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        let allowed = if starts_message && self.is_deflate_enabled() {
            RSV1
        } else {
            0
        };
        if header.rsv & !allowed != 0 {
            return Err(ProtocolError::ReservedBits(header.rsv));
        }
        let kind = match header.opcode {
            OpCode::Continuation => {
                if self.msg_kind.is_none() {
                    return Err(ProtocolError::UnexpectedContinuation);
                }
                None
            }
            OpCode::Text => Some(MessageKind::Text),
            OpCode::Binary => Some(MessageKind::Binary),
            _ => return Ok(()),
        };
        if let Some(kind) = kind {
            if self.msg_kind.is_some() {
                return Err(ProtocolError::ExpectedContinuation(header.opcode));
            }
            self.msg_len = 0;
            self.utf8.reset();
            if self.msg.capacity() > SHRINK_ABOVE {
                self.msg = Vec::new();
            }
            self.msg.clear();
            self.msg_compressed = header.rsv & RSV1 != 0;
            if !header.fin {
                self.msg_kind = Some(kind);
            }
        }
        let size = self.msg_len.saturating_add(header.len);
        if size > self.config.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                size,
                max: self.config.max_message_size,
            });
        }
        self.msg_len = size;
        Ok(())
    }

    /// Acts on a frame whose payload `rbuf[start..end]` is complete and unmasked.
    fn complete_frame(
        &mut self,
        frame: &InFrame,
        start: usize,
        end: usize,
    ) -> Result<Option<Ready>, ProtocolError> {
        let header = &frame.header;
        let payload = &self.rbuf[start..end];
        match header.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation if self.msg_compressed => {
                self.complete_compressed(header, start, end)
            }
            OpCode::Text | OpCode::Binary if header.fin => {
                if header.opcode == OpCode::Text {
                    let valid = if frame.streamed {
                        self.utf8.finish().is_ok()
                    } else {
                        core::str::from_utf8(payload).is_ok()
                    };
                    if !valid {
                        return Err(ProtocolError::InvalidUtf8);
                    }
                }
                self.ready_at = (start, end);
                Ok(Some(Ready::Frame(header.opcode)))
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                crate::copy::extend(&mut self.msg, payload);
                if !header.fin {
                    return Ok(None);
                }
                let kind = self.msg_kind.take().unwrap_or(MessageKind::Binary);
                if kind == MessageKind::Text && self.utf8.finish().is_err() {
                    return Err(ProtocolError::InvalidUtf8);
                }
                Ok(Some(Ready::Assembled(kind)))
            }
            OpCode::Ping => {
                if self.config.auto_pong && !self.close_sent {
                    let mut data = [0; MAX_CONTROL_PAYLOAD];
                    data[..payload.len()].copy_from_slice(payload);
                    self.queue_pong(&data[..payload.len()]);
                }
                self.ready_at = (start, end);
                Ok(Some(Ready::Frame(OpCode::Ping)))
            }
            OpCode::Pong => {
                self.ready_at = (start, end);
                Ok(Some(Ready::Frame(OpCode::Pong)))
            }
            OpCode::Close => {
                let code = match *payload {
                    [] => CloseCode::NO_STATUS,
                    [_] => return Err(ProtocolError::CloseTooShort),
                    [a, b, ..] => {
                        let code = CloseCode(u16::from_be_bytes([a, b]));
                        if !code.is_sendable() {
                            return Err(ProtocolError::InvalidCloseCode(code.0));
                        }
                        code
                    }
                };
                let reason_start = start + payload.len().min(2);
                if core::str::from_utf8(&self.rbuf[reason_start..end]).is_err() {
                    return Err(ProtocolError::InvalidCloseReason);
                }
                self.close_received = true;
                self.msg_kind = None;
                self.msg.clear();
                if !self.close_sent {
                    // Echo the code (RFC 6455 section 5.5.1); an empty close gets an empty one.
                    let echo = if code == CloseCode::NO_STATUS {
                        None
                    } else {
                        Some(code)
                    };
                    self.queue_close(echo, "");
                }
                self.state = State::Closed;
                self.ready_at = (reason_start, end);
                self.close_code = code;
                Ok(Some(Ready::Close))
            }
        }
    }

    /// Decompresses a frame of a compressed message into the assembly buffer, validating
    /// text as it comes out.
    #[cfg(feature = "deflate")]
    fn complete_compressed(
        &mut self,
        header: &FrameHeader,
        start: usize,
        end: usize,
    ) -> Result<Option<Ready>, ProtocolError> {
        let kind = match header.opcode {
            OpCode::Text => MessageKind::Text,
            OpCode::Binary => MessageKind::Binary,
            _ => self.msg_kind.unwrap_or(MessageKind::Binary),
        };
        let Some(codec) = self.deflate.as_mut() else {
            return Err(ProtocolError::ReservedBits(RSV1));
        };
        let before = self.msg.len();
        let limit = self.config.max_message_size;
        codec.decompress(&self.rbuf[start..end], header.fin, &mut self.msg, limit)?;
        if kind == MessageKind::Text {
            self.utf8
                .feed(&self.msg[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if !header.fin {
            return Ok(None);
        }
        self.msg_kind = None;
        self.msg_compressed = false;
        if kind == MessageKind::Text && self.utf8.finish().is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(Some(Ready::Assembled(kind)))
    }

    #[cfg(not(feature = "deflate"))]
    fn complete_compressed(
        &mut self,
        _: &FrameHeader,
        _: usize,
        _: usize,
    ) -> Result<Option<Ready>, ProtocolError> {
        // Unreachable: RSV1 is refused in `check_header` without the extension.
        Err(ProtocolError::ReservedBits(RSV1))
    }

    /// Fails the connection: queues a close frame with the error's code (unless the stream
    /// ended) and ignores all further input.
    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        if error != ProtocolError::UnexpectedEof && !self.close_sent {
            self.queue_close(Some(error.close_code()), "");
        }
        self.state = State::Failed;
        self.frame = None;
        self.msg_kind = None;
        self.rstart = 0;
        self.rend = 0;
        self.rwindow = 0;
        error
    }

    // ---------------------------------------------------------------- bytes out

    /// The bytes waiting to be written to the peer.
    #[must_use]
    pub fn pending_output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as written.
    /// `n` is clamped to what is pending.
    pub fn consume_output(&mut self, n: usize) {
        self.out_pos = self.out_pos.saturating_add(n).min(self.out.len());
        if self.pong_end.is_some_and(|end| end <= self.out_pos) {
            self.pong_end = None;
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        if self.pong_end.is_none() {
            if let Some((data, len)) = self.pending_pong.take() {
                self.queue_pong(&data[..usize::from(len)]);
            }
        }
    }

    /// Sends a text message.
    ///
    /// # Errors
    /// [`SendError::Closed`] after a close was sent, [`SendError::MessageInProgress`] during a
    /// fragmented message, [`SendError::BufferFull`] over the write buffer cap.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(MessageKind::Text, text.as_bytes())
    }

    /// Sends a binary message.
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(MessageKind::Binary, data)
    }

    fn send_message(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        self.check_data_send(data.len())?;
        if self.send_kind.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.write_message_data(kind, data, true, true);
        Ok(())
    }

    /// Sends one fragment of a message: the first call starts a message of `kind`, later calls
    /// continue it (their `kind` is ignored), and `fin` ends it. Text fragments may split a
    /// code point; together they must be valid UTF-8.
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text), and [`SendError::InvalidUtf8`] when text fragments
    /// are not valid UTF-8 (nothing of the failing fragment is queued).
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.check_data_send(data.len())?;
        let first = self.send_kind.is_none();
        let kind = self.send_kind.unwrap_or(kind);
        if kind == MessageKind::Text {
            let mut check = self.send_utf8;
            if first {
                check.reset();
            }
            check.feed(data).map_err(|_| SendError::InvalidUtf8)?;
            if fin {
                check.finish().map_err(|_| SendError::InvalidUtf8)?;
            }
            self.send_utf8 = check;
        }
        self.send_kind = if fin { None } else { Some(kind) };
        self.write_message_data(kind, data, first, fin);
        Ok(())
    }

    /// Writes a message or a fragment of one, compressed when permessage-deflate is on and
    /// the message is worth it. A fragmented message's size is unknown up front, so every
    /// fragmented message is compressed.
    fn write_message_data(&mut self, kind: MessageKind, data: &[u8], first: bool, fin: bool) {
        #[cfg(feature = "deflate")]
        if let Some(codec) = self.deflate.as_mut() {
            let whole = first && fin;
            if !whole || codec.wants(data.len()) {
                let mut compressed = core::mem::take(&mut self.scratch);
                compressed.clear();
                codec.compress(data, fin, &mut compressed);
                self.write_data(kind, &compressed, first, fin, RSV1);
                self.scratch = compressed;
                return;
            }
        }
        self.write_data(kind, data, first, fin, 0);
    }

    /// The zero-copy send path of the blocking adapters: when this is a server with nothing
    /// queued and the message fits one frame, checks the send as `send_*` would and returns the
    /// encoded header; the caller writes it and then the payload itself (a vectored write).
    /// Otherwise `Ok(None)`: use `send_*`.
    #[cfg(feature = "std")]
    pub(crate) fn start_unbuffered(
        &mut self,
        kind: MessageKind,
        len: usize,
    ) -> Result<Option<([u8; MAX_HEADER_LEN], usize)>, SendError> {
        self.check_data_send(len)?;
        if self.send_kind.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if self.rng.is_some()
            || self.is_deflate_enabled()
            || !self.pending_output().is_empty()
            || len > self.config.fragment_size.get()
        {
            return Ok(None);
        }
        let opcode = match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            len: len as u64,
        };
        let mut head = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        Ok(Some((head, n)))
    }

    /// Queues bytes of an unbuffered frame that could not be written, so the next flush
    /// finishes it.
    #[cfg(feature = "std")]
    pub(crate) fn queue_unwritten(&mut self, bytes: &[u8]) {
        self.compact_output();
        self.out.extend_from_slice(bytes);
    }

    fn check_data_send(&self, len: usize) -> Result<(), SendError> {
        if self.close_sent || self.state == State::Failed {
            return Err(SendError::Closed);
        }
        let buffered = self.pending_output().len();
        let cap = self.config.write_buffer_cap;
        if buffered > 0 && buffered.saturating_add(len) > cap {
            return Err(SendError::BufferFull { buffered, cap });
        }
        Ok(())
    }

    /// Frames `data` into fragments of at most `fragment_size` bytes; `rsv` goes on the first
    /// frame of a message.
    fn write_data(&mut self, kind: MessageKind, data: &[u8], first: bool, fin: bool, rsv: u8) {
        let opcode = match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        let size = self.config.fragment_size.get();
        let mut chunks = data.chunks(size).peekable();
        let (mut opcode, mut rsv) = if first {
            (opcode, rsv)
        } else {
            (OpCode::Continuation, 0)
        };
        if chunks.peek().is_none() {
            self.write_frame(opcode, fin, rsv, &[]);
            return;
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            self.write_frame(opcode, fin && last, rsv, chunk);
            (opcode, rsv) = (OpCode::Continuation, 0);
        }
    }

    /// Appends one frame to the output, masked with a fresh key for a client.
    fn write_frame(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        let mask = self.rng.as_mut().map(|rng| {
            let mut key = [0; 4];
            rng.fill_bytes(&mut key);
            key
        });
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            len: payload.len() as u64,
        };
        let mut head = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        self.compact_output();
        self.out.reserve(n + payload.len());
        self.out.extend_from_slice(&head[..n]);
        match mask {
            Some(key) => {
                extend_masked(&mut self.out, payload, key, 0);
            }
            None => crate::copy::extend(&mut self.out, payload),
        }
    }

    fn compact_output(&mut self) {
        if self.out_pos >= OUT_COMPACT && self.out_pos * 2 >= self.out.len() {
            self.out.drain(..self.out_pos);
            self.pong_end = self.pong_end.map(|end| end - self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Sends a ping.
    ///
    /// # Errors
    /// [`SendError::ControlTooLong`] over 125 bytes, [`SendError::Closed`] after a close was
    /// sent.
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.check_control(data.len())?;
        self.write_frame(OpCode::Ping, true, 0, data);
        Ok(())
    }

    /// Sends an unsolicited pong (a unidirectional heartbeat).
    ///
    /// # Errors
    /// As for [`send_ping`](Self::send_ping).
    pub fn send_pong(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.check_control(data.len())?;
        self.write_frame(OpCode::Pong, true, 0, data);
        Ok(())
    }

    fn check_control(&self, len: usize) -> Result<(), SendError> {
        if self.close_sent || self.state == State::Failed {
            return Err(SendError::Closed);
        }
        if len > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong(len));
        }
        Ok(())
    }

    /// Queues a pong, or keeps it as the one to send next if a pong is still unwritten.
    fn queue_pong(&mut self, data: &[u8]) {
        if self.pong_end.is_some() {
            let mut copy = [0; MAX_CONTROL_PAYLOAD];
            copy[..data.len()].copy_from_slice(data);
            self.pending_pong = Some((copy, data.len() as u8));
            return;
        }
        self.write_frame(OpCode::Pong, true, 0, data);
        self.pong_end = Some(self.out.len());
    }

    /// Starts the closing handshake: queues a close frame. Received messages are still
    /// delivered until the peer's close arrives. [`CloseCode::NO_STATUS`] sends a close frame
    /// without a code (and then `reason` must be empty).
    ///
    /// # Errors
    /// [`SendError::Closed`] if a close was already sent, [`SendError::InvalidCloseCode`] for a
    /// code that may not be sent, [`SendError::ReasonTooLong`] over 123 bytes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if self.close_sent || self.state == State::Failed {
            return Err(SendError::Closed);
        }
        let code = if code == CloseCode::NO_STATUS {
            if !reason.is_empty() {
                return Err(SendError::InvalidCloseCode(code));
            }
            None
        } else if code.is_sendable() {
            Some(code)
        } else {
            return Err(SendError::InvalidCloseCode(code));
        };
        if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
            return Err(SendError::ReasonTooLong(reason.len()));
        }
        self.queue_close(code, reason);
        if self.state == State::Open {
            self.state = State::Closing;
        }
        Ok(())
    }

    fn queue_close(&mut self, code: Option<CloseCode>, reason: &str) {
        let mut payload = [0; MAX_CONTROL_PAYLOAD];
        let len = match code {
            Some(code) => {
                payload[..2].copy_from_slice(&code.0.to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
                2 + reason.len()
            }
            None => 0,
        };
        self.pending_pong = None;
        self.write_frame(OpCode::Close, true, 0, &payload[..len]);
        self.close_sent = true;
    }
}

/// Text that was validated when it was received.
fn as_str(bytes: &[u8]) -> &str {
    core::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` client frames of `len` bytes each, payload byte `i` of frame `k` being
    /// `(i + k) as u8`.
    fn client_frames(len: usize, count: usize) -> Vec<u8> {
        let mut client = Connection::with_seed(Role::Client, Config::default(), [1; 32]);
        for k in 0..count {
            let payload: Vec<u8> = (0..len).map(|i| (i + k) as u8).collect();
            client.send_binary(&payload).unwrap();
        }
        client.pending_output().to_vec()
    }

    /// Feeds `wire` through `recv_buf`, filling every window completely (a sender that is
    /// always ahead), and checks every message; returns the largest receive buffer seen.
    fn stream_through_windows(wire: &[u8], len: usize, count: usize) -> usize {
        let mut server = Connection::new(Role::Server, Config::default());
        let (mut pos, mut seen, mut largest) = (0, 0, 0);
        while seen < count {
            match server.next_event().unwrap() {
                Some(Event::Binary(data)) => {
                    assert_eq!(data.len(), len);
                    assert!(data.iter().enumerate().all(|(i, &b)| b == (i + seen) as u8));
                    seen += 1;
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => {
                    let buf = server.recv_buf();
                    assert!(!buf.is_empty());
                    let n = buf.len().min(wire.len() - pos);
                    buf[..n].copy_from_slice(&wire[pos..pos + n]);
                    server.recv_filled(n);
                    pos += n;
                    largest = largest.max(server.rbuf.len());
                }
            }
        }
        largest
    }

    #[test]
    fn read_window_ends_with_a_large_frame() {
        let len = 200 * 1024;
        let wire = client_frames(len, 2);
        let frame_len = wire.len() / 2;
        let mut server = Connection::new(Role::Server, Config::default());
        // The header and a little of the payload.
        server.recv(&wire[..100]);
        assert_eq!(server.next_event(), Ok(None));
        let mut pos = 100;
        while pos < frame_len {
            let window = server.recv_buf().len();
            // Never past the frame's end, never more than READ_MAX at once.
            assert!(
                window <= (frame_len - pos).min(READ_MAX),
                "{window} at {pos}"
            );
            let buf = server.recv_buf();
            let n = buf.len();
            buf.copy_from_slice(&wire[pos..pos + n]);
            server.recv_filled(n);
            pos += n;
            if pos < frame_len {
                assert_eq!(server.next_event(), Ok(None));
            }
        }
        assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d.len() == len));
        assert_eq!(server.next_event(), Ok(None));
        // Nothing of the next frame was read: the next read starts at the aligned front.
        server.recv_buf();
        assert_eq!(server.rstart, server.rend);
        assert_eq!(server.rbuf[server.rend..].as_ptr().addr() % READ_ALIGN, 0);
    }

    #[test]
    fn read_window_is_never_empty_when_reading_without_taking_events() {
        let len = 40 * 1024;
        let wire = client_frames(len, 2);
        let frame_len = wire.len() / 2;
        let mut server = Connection::new(Role::Server, Config::default());
        server.recv(&wire[..100]);
        assert_eq!(server.next_event(), Ok(None));
        // Read the rest of the first frame, then read again before taking the event.
        let mut pos = 100;
        loop {
            let buf = server.recv_buf();
            assert!(!buf.is_empty(), "an empty read window at {pos}");
            let n = buf.len().min(wire.len() - pos);
            buf[..n].copy_from_slice(&wire[pos..pos + n]);
            server.recv_filled(n);
            pos += n;
            if pos == wire.len() {
                break;
            }
        }
        assert!(pos > frame_len);
        for _ in 0..2 {
            assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d.len() == len));
        }
        assert_eq!(server.next_event(), Ok(None));
    }

    #[test]
    fn recv_filled_is_clamped_to_the_window() {
        let mut server = Connection::new(Role::Server, Config::default());
        let window = server.recv_buf().len();
        server.recv_filled(window + 1000);
        assert_eq!(server.rend - server.rstart, window);
        // `recv` does not open a window for `recv_filled`.
        let mut server = Connection::new(Role::Server, Config::default());
        server.recv(&client_frames(3, 1)[..4]);
        server.recv_filled(10);
        assert_eq!(server.rend - server.rstart, 4);
    }

    #[test]
    fn streaming_large_frames_keeps_the_buffer_small() {
        for (len, count) in [(16, 5000), (1000, 300), (40 * 1024, 20), (64 * 1024, 20)] {
            let wire = client_frames(len, count);
            let largest = stream_through_windows(&wire, len, count);
            assert!(
                largest <= 4 * (len + READ_MAX),
                "len {len}: buffer grew to {largest}"
            );
        }
        let len = 1 << 20;
        let largest = stream_through_windows(&client_frames(len, 4), len, 4);
        assert!(largest <= 3 * len, "buffer grew to {largest}");
    }
}
