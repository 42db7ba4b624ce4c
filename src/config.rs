//! Connection limits and behaviour, with their defaults and the reasons for them.

use core::num::NonZeroUsize;
use core::time::Duration;

const MIB: usize = 1 << 20;

/// The settings of a [`Connection`](crate::Connection).
///
/// Every field has a documented default; memory bounds follow from them. A connection holds:
/// - a receive buffer: the unconsumed input plus the read window that
///   [`recv_buf`](crate::Connection::recv_buf) offers, up to 128 KiB (not one 32 KiB chunk).
///   When each read follows a [`next_event`](crate::Connection::next_event) that returned
///   `Ok(None)`, as in the blocking adapters, the unconsumed input is at most one incomplete
///   frame: `max_frame_size` bytes and its header. Bytes given to
///   [`recv`](crate::Connection::recv) are all buffered. The buffer grows by doubling, so its
///   capacity can reach about twice what it holds;
/// - `max_message_size` bytes of assembly buffer for a fragmented message;
/// - `write_buffer_cap` (or one message, if larger) of output.
///
/// Buffers grow with the bytes that actually arrive, never with a length a peer declares.
///
/// ```
/// let mut config = rfc6455::Config::default();
/// config.max_message_size = 1 << 20; // like Python websockets
/// assert_eq!(config.max_frame_size, 16 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest frame payload accepted; a longer one fails the connection with 1009 as soon
    /// as its header arrives. Default 16 MiB: tungstenite's default, and the largest single
    /// frame the Autobahn TestSuite sends (cases 9.1.6 and 9.2.6).
    pub max_frame_size: usize,
    /// The largest message accepted, summed over its fragments; the frame that crosses it fails
    /// the connection with 1009 at its header. Default 64 MiB: tungstenite's default, between
    /// Python websockets' 1 MiB (too small for file transfers) and Node ws's 100 MiB.
    pub max_message_size: usize,
    /// Answer each ping with a pong carrying the same payload. Default `true`. When several
    /// pings arrive before a pong could be written, only the latest is answered (RFC 6455
    /// section 5.5.3 allows it), so a ping flood cannot grow the output buffer.
    pub auto_pong: bool,
    /// The largest payload of an outgoing frame: longer messages are sent as several fragments.
    /// Default 16 MiB, so that peers with tungstenite's default frame limit accept every message.
    pub fragment_size: NonZeroUsize,
    /// How many bytes of output may wait unsent before `send_*` refuses a data message with
    /// [`SendError::BufferFull`](crate::SendError::BufferFull). A message is always accepted
    /// into an empty buffer, so the bound is the larger of this cap and one message. Control
    /// frames (pong, close) are always accepted. Default 16 MiB.
    pub write_buffer_cap: usize,
    /// Keepalive pings and dead-peer detection, run by
    /// [`handle_timeout`](crate::Connection::handle_timeout). Default: a ping after 20 s of
    /// silence, and the connection given up with
    /// [`TimeoutError::PeerUnresponsive`](crate::TimeoutError::PeerUnresponsive) after 40 s
    /// of silence (Python websockets' 20 s + 20 s). On by default on both sides, so that
    /// neither a vanished peer nor a half-open TCP connection holds a thread or a task forever.
    pub keepalive: Keepalive,
    /// How long we wait for the peer's close frame after sending ours before giving up with
    /// [`TimeoutError::CloseTimeout`](crate::TimeoutError::CloseTimeout), and how long a
    /// client waits for the server to end the TCP connection after the close handshake
    /// ([RFC 6455 section 7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1)).
    /// Default 5 s ([`DEFAULT_CLOSE_TIMEOUT`]).
    pub close_timeout: Duration,
}

/// The default close timeout: 5 s.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Keepalive settings: detect a dead peer without extra threads. Any received byte counts as a
/// sign of life.
///
/// ```
/// use std::time::Duration;
/// use rfc6455::{Config, Keepalive};
///
/// let mut config = Config::default();
/// config.keepalive = Keepalive::new(Duration::from_secs(5), Duration::from_secs(15));
/// // Or no keepalive at all:
/// config.keepalive = Keepalive::default();
/// assert_eq!(config.keepalive.ping_interval, None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Keepalive {
    /// Send a ping after this long without hearing from the peer (and again every interval
    /// while the silence lasts). `None`: never.
    pub ping_interval: Option<Duration>,
    /// Give up on the peer after this long without hearing from it. `None`: never.
    pub idle_timeout: Option<Duration>,
}

impl Keepalive {
    /// Pings after `ping_interval` of silence and gives up after `idle_timeout`.
    #[must_use]
    pub const fn new(ping_interval: Duration, idle_timeout: Duration) -> Keepalive {
        Keepalive {
            ping_interval: Some(ping_interval),
            idle_timeout: Some(idle_timeout),
        }
    }

    /// No pings and no dead-peer detection (the same as `Keepalive::default()`).
    #[must_use]
    pub const fn off() -> Keepalive {
        Keepalive {
            ping_interval: None,
            idle_timeout: None,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_frame_size: 16 * MIB,
            max_message_size: 64 * MIB,
            auto_pong: true,
            fragment_size: NonZeroUsize::new(16 * MIB).unwrap_or(NonZeroUsize::MIN),
            write_buffer_cap: 16 * MIB,
            keepalive: Keepalive::new(Duration::from_secs(20), Duration::from_secs(40)),
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
        }
    }
}
