//! The sans-IO connection: the state machine of RFC 6455 sections 5 and 7.
//!
//! It owns a receive buffer, an assembly buffer for fragmented messages, an output buffer and
//! its deadlines, and nothing else: no socket, no clock, no thread. Its parts:
//! - [`recv`]: bytes in, frames parsed, messages assembled, events out;
//! - [`send`]: frames encoded into the output, the copy-free path, pongs and close frames;
//! - [`close`]: the close handshake by direction, and the teardown it decides;
//! - [`timers`]: keepalive, idle, close and read deadlines, with time passed in;
//! - [`extension`]: the one seam for extensions (permessage-deflate).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::config::Config;
use crate::frame::{CloseCode, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use crate::utf8::Utf8Validator;

mod close;
mod extension;
mod message;
mod recv;
mod send;
#[cfg(test)]
mod tests;
mod timers;

pub use close::Teardown;
pub use send::FrameHead;

/// Which end of the connection this is. Only the masking direction and who ends the TCP
/// connection first differ: a client masks every frame it sends, a server never does; a
/// server ends TCP as soon as the close handshake completes, a client waits for it to.
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
    /// A close frame went one way only, or our close reply is still queued: we sent a close
    /// frame and wait for the peer's (received messages are still delivered), or the peer's
    /// arrived and our reply waits in [`pending_output`](Connection::pending_output).
    Closing,
    /// Both close frames were exchanged and ours is written out: no more frames will be sent
    /// or delivered. See [`Connection::poll_teardown`] for ending the transport.
    Closed,
    /// The connection failed: the peer broke the protocol (a close frame with the error's code
    /// was queued, unless the stream had ended) or a deadline passed. All further input is
    /// ignored.
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

/// The receive and output buffer sizes below are divided by this under Miri, which runs the
/// tests thousands of times slower: the same tests then reach every path of the buffers with
/// messages of a few KiB instead of hundreds. (The first read window stays above the
/// alignment a read may lose, at 128 bytes.)
const SCALE: usize = if cfg!(miri) { 32 } else { 1 };

/// Frames this long or longer are large: reads stop where they end.
const READ_CHUNK: usize = 32 * 1024 / SCALE;

/// The first read window, and the one an idle connection goes back to: enough for the small
/// messages most connections exchange, so that an idle connection holds 1 KiB of receive
/// buffer (`scripts/soak.sh` measures it). The window doubles each time a read fills it, up
/// to [`READ_MAX`]: a connection that receives a 64 KiB message reads it in 1, 2, 4, ... KiB
/// pieces once, and in one read from then on.
const READ_MIN: usize = if SCALE == 1 { 1024 } else { 2 * READ_ALIGN };

/// The largest read window: enough for a 64 KiB message and its header in one read, small
/// enough to stay in the CPU's cache until the payload is unmasked.
const READ_MAX: usize = 128 * 1024 / SCALE;

/// Unconsumed input is moved to the front of the receive buffer when it is at most this long
/// (or when the space after it is short): moving a few bytes costs little, moving most of a
/// large frame doubles the copying.
const COMPACT_MAX: usize = 4 * 1024 / SCALE;

/// A receive buffer short of room for the next read grows, rather than move more than
/// [`COMPACT_MAX`] bytes of a large frame to its front, until it is this long.
const GROW_BELOW: usize = 4 * READ_MAX;

/// Reads start this aligned after a compaction. The kernel copies received bytes with
/// `rep movsb`, which runs an order of magnitude slower (measured on AMD Zen 3: 64 KiB in
/// 23 µs instead of 1.7 µs) when the destination is 1 to 31 bytes past the source modulo
/// 4096; socket buffers are cache-line aligned, so a cache-line aligned destination avoids it.
const READ_ALIGN: usize = 64;

/// A read that ends a large frame (or one of the size `read_hint` expects) is offered this
/// many bytes past the frame's end. When the peer sent nothing more, the read comes back short
/// of its window, which tells an edge-triggered reactor (tokio's, mio's) that the socket is
/// drained; a read that fills its window exactly is followed by one more, which only returns
/// `EAGAIN`: a system call per message. When the peer sent more, at most this much of the
/// next frame comes along, which keeps the next read aligned.
const READ_PAST: usize = READ_ALIGN;

/// Buffers above this capacity are released when they fall empty, so one large message does
/// not pin its memory for the life of the connection.
const SHRINK_ABOVE: usize = (4 << 20) / SCALE;

/// Compact the output buffer once this many sent bytes sit at its front.
const OUT_COMPACT: usize = 64 * 1024 / SCALE;

/// A WebSocket connection after the opening handshake, as a sans-IO state machine.
///
/// Three verbs, one clock and one rule:
/// - **bytes in**: [`recv`](Self::recv) (or [`recv_buf`](Self::recv_buf) +
///   [`recv_filled`](Self::recv_filled) to read straight into the connection's buffer), and
///   [`recv_eof`](Self::recv_eof) when the stream ends;
/// - **events out**: [`next_event`](Self::next_event) until it returns `Ok(None)`;
/// - **bytes out**: [`pending_output`](Self::pending_output), then
///   [`consume_output`](Self::consume_output) with what was written;
/// - **time in**: [`handle_timeout`](Self::handle_timeout) with the current time, whenever
///   [`poll_timeout`](Self::poll_timeout)'s deadline has passed (and after each read: it is
///   cheap). Keepalive pings, dead-peer detection, the close timeout and a read deadline all
///   live here; an adapter arms one timer;
/// - **the rule**: after any call, drain the output, then carry out
///   [`poll_teardown`](Self::poll_teardown). Pongs, close replies and the close frame that
///   fails a connection are queued by the calls that cause them.
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
///
/// # Driving it over a transport
/// The loop every adapter runs, blocking or async, with only this API (`now` is any monotonic
/// clock as a [`Duration`](core::time::Duration) since a fixed origin):
/// ```text
/// loop {
///     conn.handle_timeout(now())?;          // keepalive ping, idle, close and read deadlines
///     if let Some(event) = conn.next_event()? { write out pending_output; deliver event }
///     write out pending_output, consume_output(n)
///     match conn.poll_teardown() {
///         Some(Teardown::EndOutput) => end our sending direction (TCP shutdown(Write))
///         Some(Teardown::Abort) => shut the transport down both ways
///         None => {}
///     }
///     if conn.is_finished() { return end-of-stream }
///     read with a timer armed at conn.poll_timeout(), into recv_buf()/recv_filled(n),
///     or recv_eof() on end of stream
/// }
/// ```
/// `examples/nonblocking.rs` runs this loop over a non-blocking `TcpStream`.
pub struct Connection {
    role: Role,
    config: Config,
    /// The close handshake by direction, and the teardown handed out.
    close: close::CloseState,
    timers: timers::Timers,
    ext: extension::Extensions,
    /// The extensions' output for the message being sent, reused between messages.
    scratch: Vec<u8>,
    /// A client's source of masking keys; boxed, because it is a third of the connection's
    /// size and a server (which may hold many idle connections) has none.
    rng: Option<Box<StdRng>>,

    // Receive side: `rbuf[rstart..rend]` holds bytes not yet consumed; `rbuf` is initialised
    // (zeros or old input) past `rend` so `recv_buf` can hand out `rbuf[rend..rwindow]`.
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    rwindow: usize,
    /// The room `recv_buf` makes for the next read: [`READ_MIN`], doubled by each read that
    /// fills its window, up to [`READ_MAX`].
    rwant: usize,
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
    /// The receive buffer's other half: the buffer last lent to a
    /// [`Payload`](crate::Payload), or that buffer taken back (see `message.rs`).
    other: message::Other,
    /// The size of the last large frame received, header included: the read after it stops
    /// [`READ_PAST`] bytes past it, so that a stream of large frames is read one frame per
    /// read and each can be lent without copying more than those bytes of the next (see
    /// `message.rs`).
    read_hint: usize,

    // Send side: `out[out_pos..]` waits to be written.
    out: Vec<u8>,
    out_pos: usize,
    /// End offset in `out` of a queued pong not yet written.
    pong_end: Option<usize>,
    /// The latest ping payload still to be answered, while a pong waits in `out`.
    pending_pong: Option<([u8; MAX_CONTROL_PAYLOAD], u8)>,
    /// The kind of the fragmented message being sent, if any.
    send_kind: Option<MessageKind>,
    send_utf8: Utf8Validator,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
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
        let rng = rng.map(Box::new);
        Connection {
            role,
            config,
            close: close::CloseState::default(),
            timers: timers::Timers::default(),
            ext: extension::Extensions::default(),
            scratch: Vec::new(),
            rng,
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            rwindow: 0,
            rwant: READ_MIN,
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
            other: message::Other::None,
            read_hint: usize::MAX,
            out: Vec::new(),
            out_pos: 0,
            pong_end: None,
            pending_pong: None,
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
}
