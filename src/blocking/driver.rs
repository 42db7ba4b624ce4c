//! The one driving loop of the blocking adapters, over the core's public API only: it reads,
//! writes, arms one timer and calls back in. [`WebSocket`](super::WebSocket) and the split
//! [`Reader`](super::Reader) differ only in how they reach the connection and the socket,
//! which is what [`Link`] abstracts.

use core::ops::DerefMut;
use std::time::Duration;

use super::Error;
use super::timers::Time;
use crate::{Connection, State, Teardown};

/// What the loop needs from a transport.
pub(crate) trait Link {
    /// The connection, borrowed or locked.
    type Conn<'a>: DerefMut<Target = Connection>
    where
        Self: 'a;

    /// The connection; never held across a system call.
    fn conn(&mut self) -> Self::Conn<'_>;

    /// Reads once into the connection (bytes, or the end of the stream), waiting at most
    /// `timeout` (`None`: no limit). A read that times out returns `Ok`: the loop asks the
    /// core what the time means.
    ///
    /// # Errors
    /// I/O errors other than a timeout or an interrupt.
    fn read(&mut self, timeout: Option<Duration>) -> Result<(), Error>;

    /// Writes out the connection's pending output.
    ///
    /// # Errors
    /// I/O errors; on a retryable one, what was not written stays queued.
    fn flush(&mut self) -> Result<(), Error>;

    /// Ends the sending direction ([`Teardown::EndOutput`]). Best effort.
    fn end_output(&mut self);

    /// Shuts the transport down both ways ([`Teardown::Abort`]). Best effort.
    fn abort(&mut self);
}

/// Drives the connection until an event is ready (`Ok(true)`: the pong or close reply it
/// queued is written, and the event waits in the connection for `next_event`) or the
/// connection is finished (`Ok(false)`).
///
/// # Errors
/// [`Error::Protocol`] when the peer broke the protocol (the close frame was written as far
/// as the socket took it), the core's timeouts, and I/O errors.
pub(crate) fn pump<L: Link, T: Time>(link: &mut L, clock: &T) -> Result<bool, Error> {
    loop {
        let polled = link.conn().poll_event();
        match polled {
            Ok(true) => {
                link.flush()?;
                teardown(link);
                return Ok(true);
            }
            Ok(false) => {}
            Err(e) => {
                // Best effort: the close frame that fails the connection.
                let _ = link.flush();
                teardown(link);
                return Err(Error::Protocol(e));
            }
        }
        // Nothing buffered: time in before waiting for more bytes. Once per read, not per
        // message, and never skipped for long: the buffered input is at most one read window.
        let timed = link.conn().handle_timeout(clock.now());
        // A keepalive ping to write, or nothing (a passed deadline discarded the output).
        let flushed = link.flush();
        teardown(link);
        timed?;
        flushed?;
        let timeout = {
            let conn = link.conn();
            if conn.is_finished() {
                return Ok(false);
            }
            conn.poll_timeout()
        };
        if let Err(e) = link.read(timeout.map(|at| clock.until(at))) {
            let mut conn = link.conn();
            // After the close handshake the transport may end any way it likes (a peer that
            // resets instead of closing, say): it is the end of the stream.
            if !matches!(e, Error::Io(_)) || conn.state() != State::Closed {
                return Err(e);
            }
            conn.recv_eof();
        }
    }
}

/// Carries out what the core decided about the transport, if anything.
pub(crate) fn teardown<L: Link>(link: &mut L) {
    let step = link.conn().poll_teardown();
    match step {
        Some(Teardown::EndOutput) => link.end_output(),
        Some(Teardown::Abort) => link.abort(),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
