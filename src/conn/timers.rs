//! Deadlines, with time as an input: keepalive pings, dead-peer detection, the close timeout,
//! the client's wait for the server's end of the stream, and a read deadline.
//!
//! There is no clock here. The caller passes the time as a [`Duration`] since any fixed
//! origin of a monotonic clock (quinn-proto's `handle_timeout(now)` / `poll_timeout()`), so
//! the core stays deterministic and builds without `std`. Deadlines are absolute: bytes that
//! keep arriving never move the close or read deadline.

use core::time::Duration;

use super::Connection;
use super::close::Phase;
use crate::Role;
use crate::config::Keepalive;
use crate::error::TimeoutError;

/// The payload of the keepalive pings.
const KEEPALIVE_PAYLOAD: &[u8] = b"keepalive";

#[derive(Debug, Default)]
pub(super) struct Timers {
    /// The latest time given to `handle_timeout`; `None` before the first call.
    now: Option<Duration>,
    /// Bytes arrived since the last `handle_timeout`.
    pub(super) heard: bool,
    last_heard: Duration,
    last_ping: Option<Duration>,
    read_deadline: Option<Duration>,
    /// Waiting for the peer's close frame (or for our failure's close frame to be taken).
    close_deadline: Option<Duration>,
    /// A client waiting for the server to end the stream after the close handshake.
    eof_deadline: Option<Duration>,
    eof_wait_over: bool,
}

impl Timers {
    pub(super) fn eof_wait_over(&self) -> bool {
        self.eof_wait_over
    }
}

impl Connection {
    /// The next deadline, on the clock of [`handle_timeout`](Self::handle_timeout), or `None`
    /// when nothing is timed. Arm one timer for it and call `handle_timeout` when it fires.
    ///
    /// Before the first `handle_timeout` call, and when a deadline is due to start (a close
    /// was just sent), this is the last time given, or zero: call `handle_timeout` now.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let t = &self.timers;
        let Some(now) = t.now else {
            return Some(Duration::ZERO);
        };
        if self.is_finished() {
            return None;
        }
        let keepalive = self.config.keepalive;
        let phase = self.close.phase();
        let mut next = t.read_deadline;
        let mut add = |at: Option<Duration>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        if phase == Phase::Open {
            add(self.ping_due(keepalive));
        }
        if matches!(phase, Phase::Open | Phase::SentClose) {
            add(keepalive
                .idle_timeout
                .map(|idle| t.last_heard.saturating_add(idle)));
        }
        if self.close_deadline_runs() {
            add(Some(t.close_deadline.unwrap_or(now)));
        }
        if self.eof_wait_runs() {
            add(Some(t.eof_deadline.unwrap_or(now)));
        }
        next
    }

    /// Acts on the time: `now` is a monotonic clock's reading as a duration since any fixed
    /// origin, the same origin for every call (for example `start.elapsed()` of an
    /// `std::time::Instant` taken when the connection was made). Call it when the
    /// [`poll_timeout`](Self::poll_timeout) deadline passes, and after every read (bytes that
    /// arrived count as a sign of life from then).
    ///
    /// It queues a keepalive ping when one is due (drain the output afterwards), starts the
    /// close deadline after a close was sent, ends a client's wait for the server's end of
    /// the stream, and reports a passed deadline.
    ///
    /// # Errors
    /// - [`TimeoutError::Read`]: the read deadline passed; it is cleared and the connection
    ///   is intact.
    /// - [`TimeoutError::CloseTimeout`] and [`TimeoutError::PeerUnresponsive`]: the
    ///   connection is given up ([`State::Failed`](crate::State::Failed)); carry out
    ///   [`poll_teardown`](Self::poll_teardown)'s [`Teardown::Abort`](super::Teardown::Abort).
    ///
    /// ```
    /// use std::time::Duration;
    /// use rfc6455::{CloseCode, Config, Connection, Role, Teardown, TimeoutError};
    ///
    /// let mut config = Config::default();
    /// config.close_timeout = Duration::from_secs(2);
    /// let mut conn = Connection::new(Role::Server, config);
    /// conn.handle_timeout(Duration::ZERO)?; // start the clock
    /// conn.close(CloseCode::NORMAL, "bye")?;
    /// conn.handle_timeout(Duration::from_secs(1))?; // the close deadline starts: 3 s
    /// assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(3)));
    /// // The peer never answers.
    /// assert_eq!(
    ///     conn.handle_timeout(Duration::from_secs(3)),
    ///     Err(TimeoutError::CloseTimeout(Duration::from_secs(2)))
    /// );
    /// assert_eq!(conn.poll_teardown(), Some(Teardown::Abort));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), TimeoutError> {
        let t = &mut self.timers;
        let now = match t.now {
            None => {
                t.last_heard = now;
                now
            }
            // A clock that stepped back is treated as standing still.
            Some(last) => now.max(last),
        };
        t.now = Some(now);
        if core::mem::take(&mut t.heard) {
            t.last_heard = now;
        }
        if self.is_finished() {
            return Ok(());
        }
        let close_timeout = self.config.close_timeout;
        let keepalive = self.config.keepalive;
        if self.close_deadline_runs() && passed(&mut self.timers.close_deadline, now, close_timeout)
        {
            self.abandon();
            return Err(TimeoutError::CloseTimeout(close_timeout));
        }
        if self.eof_wait_runs() && passed(&mut self.timers.eof_deadline, now, close_timeout) {
            // The server never ended the stream: the client ends it (section 7.1.1).
            self.timers.eof_wait_over = true;
            return Ok(());
        }
        let phase = self.close.phase();
        if let Some(idle) = keepalive.idle_timeout {
            let silent = now.saturating_sub(self.timers.last_heard);
            if matches!(phase, Phase::Open | Phase::SentClose) && silent >= idle {
                self.abandon();
                return Err(TimeoutError::PeerUnresponsive(idle));
            }
        }
        if self.timers.read_deadline.is_some_and(|at| now >= at) {
            self.timers.read_deadline = None;
            return Err(TimeoutError::Read);
        }
        if phase == Phase::Open && self.ping_due(keepalive).is_some_and(|at| now >= at) {
            self.timers.last_ping = Some(now);
            // Cannot fail: the connection is open and the payload is short.
            let _ = self.send_ping(KEEPALIVE_PAYLOAD);
            // Silent for a ping interval: idle, so the receive buffers can go.
            self.shrink_buffers();
        }
        Ok(())
    }

    /// Makes [`handle_timeout`](Self::handle_timeout) fail with [`TimeoutError::Read`] once
    /// `deadline` (on its clock) has passed; `None` clears it. Adapters set it when a read
    /// call starts, from their read timeout: it bounds the whole call, however slowly the
    /// bytes trickle in.
    pub fn set_read_deadline(&mut self, deadline: Option<Duration>) {
        self.timers.read_deadline = deadline;
    }

    /// The read deadline, if one is set.
    #[must_use]
    pub fn read_deadline(&self) -> Option<Duration> {
        self.timers.read_deadline
    }

    /// Changes the keepalive settings (see [`Config::keepalive`](crate::Config::keepalive)).
    pub fn set_keepalive(&mut self, keepalive: Keepalive) {
        self.config.keepalive = keepalive;
    }

    /// Changes the close timeout (see
    /// [`Config::close_timeout`](crate::Config::close_timeout)). A close deadline that
    /// already started keeps its time.
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.config.close_timeout = timeout;
    }

    /// When the next keepalive ping is due: an interval after the later of the last byte
    /// heard and the last ping.
    fn ping_due(&self, keepalive: Keepalive) -> Option<Duration> {
        let t = &self.timers;
        let since = t.last_ping.map_or(t.last_heard, |p| p.max(t.last_heard));
        keepalive.ping_interval.map(|i| since.saturating_add(i))
    }

    /// We wait for the peer's close frame, or for the peer to take our failure's close frame.
    fn close_deadline_runs(&self) -> bool {
        match self.close.phase() {
            Phase::SentClose => true,
            Phase::Failed => !self.pending_output().is_empty(),
            _ => false,
        }
    }

    /// A client waits for the server to end the stream after the close handshake.
    fn eof_wait_runs(&self) -> bool {
        self.close.phase() == Phase::Exchanged
            && self.role == Role::Client
            && !self.eof
            && !self.timers.eof_wait_over
    }
}

/// Starts the deadline in `slot` at `timeout` from `now` unless it already runs; whether it
/// has passed.
fn passed(slot: &mut Option<Duration>, now: Duration, timeout: Duration) -> bool {
    now >= *slot.get_or_insert(now.saturating_add(timeout))
}
