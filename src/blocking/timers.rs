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

/// What the driving loop asks of a clock: the core's `now`, and how long a read may wait for
/// a deadline. [`Clock`] in use; one advanced by hand in the driver's tests.
pub(crate) trait Time {
    /// The core's `now`.
    fn now(&self) -> Duration;

    /// How long a read may wait for the core's deadline `at`: at least a millisecond (a zero
    /// read timeout means "none" to the OS).
    fn until(&self, at: Duration) -> Duration {
        at.saturating_sub(self.now()).max(Duration::from_millis(1))
    }
}

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

    /// How long a read may wait for the core's deadline `at` (see [`Time::until`]).
    pub(crate) fn until(&self, at: Duration) -> Duration {
        Time::until(self, at)
    }
}

impl Time for Clock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// The OS read timeout last set on a stream, to skip the system call when it does not change
/// by much. The core's deadlines move with every message received (keepalive counts from
/// the last byte heard), so the exact timeout differs at every read; setting it each time
/// cost a `setsockopt` per message. A timeout within [`slack`] of the one wanted is kept: a
/// read then times out at most that much early (the loop goes round once more and sets the
/// right one) or late.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Armed(Option<Option<Duration>>);

/// How far a set read timeout may be from the one wanted and still be kept: 1/64 of it, at
/// most 10 ms (20 s keepalive: 10 ms; a 100 ms read timeout: 1.5 ms).
fn slack(wanted: Duration) -> Duration {
    (wanted / 64).min(Duration::from_millis(10))
}

impl Armed {
    /// Sets `timeout` through `control` unless it is set already, or nearly.
    pub(crate) fn arm<S>(
        &mut self,
        stream: &S,
        control: TimeoutControl<S>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let close = match (self.0, timeout) {
            (Some(Some(set)), Some(wanted)) => set.abs_diff(wanted) <= slack(wanted),
            (set, _) => set == Some(timeout),
        };
        if !close {
            control(stream, timeout)?;
            self.0 = Some(timeout);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_timeout_is_set_again_only_when_it_moves_by_more_than_the_slack() {
        let calls = core::cell::RefCell::new(Vec::new());
        let control: TimeoutControl<core::cell::RefCell<Vec<Option<Duration>>>> =
            |calls, timeout| {
                calls.borrow_mut().push(timeout);
                Ok(())
            };
        let mut armed = Armed::default();
        let ms = Duration::from_millis;
        for timeout in [
            Some(ms(20_000)),
            Some(ms(19_999)), // kept: 1 ms off
            Some(ms(20_010)), // kept: 10 ms off
            Some(ms(19_989)), // set: 11 ms off
            Some(ms(5_000)),
            None,
            None,
            Some(ms(100)),
            Some(ms(101)), // kept: within 1/64
            Some(ms(102)), // set: 2 ms off 100 ms is over 1/64 of 102 ms
        ] {
            armed.arm(&calls, control, timeout).unwrap();
        }
        assert_eq!(
            calls.into_inner(),
            [
                Some(ms(20_000)),
                Some(ms(19_989)),
                Some(ms(5_000)),
                None,
                Some(ms(100)),
                Some(ms(102)),
            ]
        );
    }
}
