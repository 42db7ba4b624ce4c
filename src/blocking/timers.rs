//! The adapters' side of time: the clock whose readings go into
//! [`Connection::handle_timeout`](crate::Connection::handle_timeout), and the controls that
//! turn the core's next deadline into a stream's read timeout and its teardown into a
//! shutdown. Every deadline itself lives in the core.

use std::io;
use std::time::{Duration, Instant};

pub use crate::config::{DEFAULT_CLOSE_TIMEOUT, Keepalive};

/// Sets a stream's read timeout (`None`: block forever), as `TcpStream::set_read_timeout`
/// does: how the adapters arm their one timer. Keepalive, read timeouts, the close timeout
/// and the handshake deadline need one; connections made from a `TcpStream` have it already.
pub type TimeoutControl<S> = fn(&S, Option<Duration>) -> io::Result<()>;

/// Ends a stream's sending direction once the connection is over, as
/// `TcpStream::shutdown(Shutdown::Write)` does (over TLS: a `close_notify` first), so the peer
/// reads the end of the stream while this side still holds it
/// ([RFC 6455 section 7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1)).
///
/// The adapters call it when the core's [`poll_teardown`](crate::Connection::poll_teardown)
/// says so: a server as soon as the close handshake completes, a client after the server
/// ended the stream (or the close timeout passed), either side after a protocol failure or
/// a passed deadline. Connections from `from_tcp`, `accept`, `connect` and the TLS
/// constructors have one already; see
/// [`WebSocket::with_shutdown_control`](super::WebSocket::with_shutdown_control).
pub type ShutdownControl<S> = fn(&mut S) -> io::Result<()>;

/// The clock the core's deadlines are measured on: time since the connection's adapter was
/// made.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock(Instant::now())
    }

    /// The core's `now`.
    pub(crate) fn now(&self) -> Duration {
        self.0.elapsed()
    }

    /// `timeout` from now, on the core's clock; saturates instead of overflowing.
    pub(crate) fn after(&self, timeout: Duration) -> Duration {
        self.now().saturating_add(timeout)
    }

    /// How long a read may wait for the core's deadline `at`: at least a millisecond (a zero
    /// read timeout means "none" to the OS).
    pub(crate) fn until(&self, at: Duration) -> Duration {
        at.saturating_sub(self.now()).max(Duration::from_millis(1))
    }
}

/// The OS read timeout last set on a stream, to skip the system call when it does not change.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Armed(Option<Option<Duration>>);

impl Armed {
    /// Sets `timeout` through `control` unless it is already set.
    pub(crate) fn arm<S>(
        &mut self,
        stream: &S,
        control: TimeoutControl<S>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        if self.0 != Some(timeout) {
            control(stream, timeout)?;
            self.0 = Some(timeout);
        }
        Ok(())
    }
}
