//! The adapters' clock: keepalive pings, dead-peer detection, read and close deadlines.
//!
//! The sans-IO core has no clock; the blocking adapters keep one here and turn it into the
//! stream's read timeout, so no extra thread is needed.

use std::io;
use std::time::{Duration, Instant};

use super::Error;

/// Sets a stream's read timeout (`None`: block forever), as `TcpStream::set_read_timeout`
/// does. Keepalive, read timeouts, the close timeout and the handshake deadline need one;
/// connections made from a `TcpStream` have it already.
pub type TimeoutControl<S> = fn(&S, Option<Duration>) -> io::Result<()>;

/// Ends a stream's sending direction once the connection is over, as
/// `TcpStream::shutdown(Shutdown::Write)` does (over TLS: a `close_notify` first), so the peer
/// reads the end of the stream while this side still holds it
/// ([RFC 6455 section 7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1)).
///
/// A server calls it as soon as the close handshake completes; a client after the server
/// ended the stream (or the close timeout passed); either side after
/// [`Error::CloseTimeout`]. Connections from `from_tcp`, `accept`, `connect` and the TLS
/// constructors have one already; see
/// [`WebSocket::with_shutdown_control`](super::WebSocket::with_shutdown_control).
pub type ShutdownControl<S> = fn(&mut S) -> io::Result<()>;

/// How long a close waits for the peer's close frame, and a client for the server to end the
/// stream after the close handshake, by default.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Keepalive settings: detect a dead peer without extra threads.
///
/// Both run inside the adapters' `read`: while it waits for input, a ping goes out once the
/// peer has been silent for `ping_interval`, and the read fails with
/// [`Error::PeerUnresponsive`] once it has been silent for `idle_timeout`. Any received byte
/// counts as a sign of life. Both need a stream with a [`TimeoutControl`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Keepalive {
    /// Send a ping after this long without hearing from the peer. Default: never.
    pub ping_interval: Option<Duration>,
    /// Give up on the peer after this long without hearing from it. Default: never.
    pub idle_timeout: Option<Duration>,
}

impl Keepalive {
    /// Pings after `ping_interval` of silence and gives up after `idle_timeout`.
    #[must_use]
    pub fn new(ping_interval: Duration, idle_timeout: Duration) -> Keepalive {
        Keepalive {
            ping_interval: Some(ping_interval),
            idle_timeout: Some(idle_timeout),
        }
    }
}

/// What a timed-out read means.
pub(crate) enum Expired {
    /// Send a keepalive ping, then keep reading.
    Ping,
    /// A timer with nothing to do fired early or spuriously: keep reading.
    Resume,
    /// Give up with this error.
    Fail(Error),
}

#[derive(Debug)]
pub(crate) struct Timers {
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) close_timeout: Duration,
    pub(crate) keepalive: Keepalive,
    last_heard: Instant,
    last_ping: Option<Instant>,
    /// The caller's read timeout for the current call: fail with `TimedOut`, resumable.
    read_deadline: Option<Instant>,
    /// Waiting for the peer's close frame: fail with `CloseTimeout`. Set once, when a read or
    /// a close first waits for the peer's close, and never moved by later calls.
    close_deadline: Option<Instant>,
    /// The OS read timeout last set, to skip the system call when it does not change.
    os_timeout: Option<Option<Duration>>,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            read_timeout: None,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            keepalive: Keepalive::default(),
            last_heard: Instant::now(),
            last_ping: None,
            read_deadline: None,
            close_deadline: None,
            os_timeout: None,
        }
    }

    /// A read call starts: its deadline is the read timeout.
    pub(crate) fn start_read(&mut self) {
        self.read_deadline = self.read_timeout.map(|t| Instant::now() + t);
    }

    /// A close call starts: it ignores the read timeout and waits for the peer's answer until
    /// the close deadline.
    pub(crate) fn start_close(&mut self) {
        self.read_deadline = None;
        self.closing();
    }

    /// We sent a close frame and are about to wait for the peer's: the close deadline starts
    /// now unless it already did.
    pub(crate) fn closing(&mut self) {
        if self.close_deadline.is_none() {
            self.close_deadline = Some(Instant::now() + self.close_timeout);
        }
    }

    /// Bytes arrived from the peer.
    pub(crate) fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    fn ping_due(&self) -> Option<Instant> {
        let since = self
            .last_ping
            .map_or(self.last_heard, |p| p.max(self.last_heard));
        self.keepalive.ping_interval.map(|i| since + i)
    }

    /// Sets the stream's read timeout to wake at the next timer, if it changed.
    pub(crate) fn arm<S>(
        &mut self,
        stream: &S,
        control: Option<TimeoutControl<S>>,
    ) -> io::Result<()> {
        let Some(control) = control else {
            return Ok(());
        };
        let idle = self.keepalive.idle_timeout.map(|t| self.last_heard + t);
        let wake = [
            self.ping_due(),
            idle,
            self.read_deadline,
            self.close_deadline,
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = wake.map(|at| {
            at.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        if self.os_timeout != Some(timeout) {
            control(stream, timeout)?;
            self.os_timeout = Some(timeout);
        }
        Ok(())
    }

    /// Forgets the timeout last set (after something else changed the stream's timeout).
    pub(crate) fn disarm(&mut self) {
        self.os_timeout = None;
    }

    /// The stream's read timed out with `e`: which timer fired?
    pub(crate) fn expired(&mut self, e: io::Error, open: bool) -> Expired {
        let now = Instant::now();
        if let Some(idle) = self.keepalive.idle_timeout {
            if now >= self.last_heard + idle {
                return Expired::Fail(Error::PeerUnresponsive(idle));
            }
        }
        if self.close_deadline.is_some_and(|at| now >= at) {
            return Expired::Fail(Error::CloseTimeout(self.close_timeout));
        }
        if self.read_deadline.is_some_and(|at| now >= at) {
            // One kind on every platform (Unix reports a socket timeout as WouldBlock).
            return Expired::Fail(Error::Io(io::Error::new(io::ErrorKind::TimedOut, e)));
        }
        if open && self.ping_due().is_some_and(|at| now >= at) {
            self.last_ping = Some(now);
            return Expired::Ping;
        }
        Expired::Resume
    }
}
