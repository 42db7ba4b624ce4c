//! The one driving loop of the tokio adapters, over the core's public API only: it reads,
//! writes, arms one timer and calls back in. Every piece of state lives in [`Driver`] (the
//! connection, the stream, where the teardown stands) or in the caller's [`Timer`], never in
//! a future, so a poll that returns `Pending` and is never repeated loses nothing.

use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;
use std::io::{self, IoSlice};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::time::{Instant, Sleep};

use super::Error;
use crate::{Connection, MessageKind, State, Teardown};

/// Where the end of our sending direction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    /// The core has not asked for it.
    No,
    /// The core asked: `poll_shutdown` until it completes.
    Wanted,
    /// Done (or given up on, after an abort).
    Done,
}

/// A connection and its stream, with the clock its deadlines are measured on.
pub(crate) struct Driver<S> {
    pub(crate) stream: S,
    /// Boxed: a `WebSocket` is moved around in users' futures (out of a handshake's
    /// `Result`, into a `serve(ws)` call), and the compiler keeps a slot for each place it
    /// lived; 900 bytes in each of them made an idle connection's task 3.9 KiB.
    pub(crate) conn: Box<Connection>,
    origin: Instant,
    shutdown: Shutdown,
    /// Bytes were written to the stream since its last completed `poll_flush`.
    unflushed: bool,
    /// Time was taken in (`handle_timeout`) since the last read and the last time the timer
    /// fired: a poll after a wake-up that brought nothing new need not read the clock again.
    timed: bool,
    /// How long a send may wait on a stream that takes no bytes (`None`: forever).
    pub(crate) write_timeout: Option<Duration>,
    /// Since when the stream has taken no bytes of a send, and the timer for it.
    write_blocked: Option<(Instant, Pin<Box<Sleep>>)>,
}

impl<S> Driver<S> {
    pub(crate) fn new(stream: S, conn: Connection) -> Driver<S> {
        Driver {
            stream,
            conn: Box::new(conn),
            origin: Instant::now(),
            shutdown: Shutdown::No,
            unflushed: false,
            timed: false,
            write_timeout: None,
            write_blocked: None,
        }
    }

    /// The core's `now`: time since the adapter was made, on tokio's clock (so a paused test
    /// clock works).
    pub(crate) fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Sets the core's read deadline `timeout` from now (`None`: clears it).
    pub(crate) fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        let deadline = timeout.map(|t| self.now().saturating_add(t));
        self.conn.set_read_deadline(deadline);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    /// Writes out everything the connection queued, then flushes the stream (if anything
    /// was written since the last flush: a read calls this for every message).
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.conn.pending_output().is_empty() {
            let written = Pin::new(&mut self.stream).poll_write(cx, self.conn.pending_output());
            match ready!(written) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.unflushed = true;
                    self.conn.consume_output(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// [`poll_write_out`](Self::poll_write_out) for a send: fails with a retryable
    /// `TimedOut` once the stream has taken no bytes for the write timeout (what was not
    /// written stays queued). Reads never use it: a peer that does not read must not fail
    /// our reading.
    pub(crate) fn poll_send_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let queued = self.conn.pending_output().len();
        let written = self.poll_write_out(cx);
        let Some(timeout) = self.write_timeout else {
            return written;
        };
        if written.is_ready() {
            self.write_blocked = None;
            return written;
        }
        let now = Instant::now();
        let progress = self.conn.pending_output().len() < queued;
        let Some(deadline) = now.checked_add(timeout) else {
            return Poll::Pending; // beyond what an Instant holds: never
        };
        let (since, sleep) = match &mut self.write_blocked {
            Some((since, sleep)) => {
                if progress {
                    // Bytes went out: the wait starts again, on the same timer.
                    *since = now;
                    sleep.as_mut().reset(deadline);
                }
                (*since, sleep)
            }
            blocked => {
                let sleep = Box::pin(::tokio::time::sleep_until(deadline));
                let (since, sleep) = blocked.insert((now, sleep));
                (*since, sleep)
            }
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.write_blocked = None;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            alloc::format!(
                "the peer took no bytes for {:?} (write timeout {timeout:?})",
                now.saturating_duration_since(since)
            ),
        )))
    }

    /// Waits until a data message of `len` bytes fits under
    /// [`write_buffer_cap`](crate::Config::write_buffer_cap), writing out what is queued:
    /// the bounded send queue. Always ready once the output is empty (a message larger than
    /// the cap goes into an empty buffer) or the connection no longer sends.
    pub(crate) fn poll_room(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<Result<(), Error>> {
        loop {
            if self.has_room(len) {
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_send_out(cx))?;
        }
    }

    /// Whether a data message of `len` bytes can be queued now without going over the cap.
    pub(crate) fn has_room(&self, len: usize) -> bool {
        let buffered = self.conn.pending_output().len();
        buffered == 0
            || buffered.saturating_add(len) <= self.conn.config().write_buffer_cap
            || self.conn.state() != State::Open
    }

    /// Sends a large message from a server without copying it: one vectored write of header
    /// and payload, and whatever the stream did not take is queued at once, so the frame is
    /// whole in the stream and the output when this returns (never `Pending`). `Ok(false)`:
    /// not applicable; queue the message the ordinary way.
    pub(crate) fn send_unbuffered(
        &mut self,
        cx: &mut Context<'_>,
        kind: MessageKind,
        payload: &[u8],
    ) -> Result<bool, Error> {
        let Some(head) = self.conn.send_unbuffered(kind, payload.len())? else {
            return Ok(false);
        };
        let head = head.as_bytes();
        let slices = [IoSlice::new(head), IoSlice::new(payload)];
        let n = match Pin::new(&mut self.stream).poll_write_vectored(cx, &slices) {
            Poll::Ready(Ok(n)) => {
                self.unflushed = true;
                n
            }
            Poll::Ready(Err(e)) if e.kind() != io::ErrorKind::Interrupted => {
                self.conn.queue_unwritten(head, payload);
                return Err(e.into());
            }
            Poll::Ready(Err(_)) | Poll::Pending => 0,
        };
        let (a, b) = match n.checked_sub(head.len()) {
            None => (head.get(n..).unwrap_or_default(), payload),
            Some(into_payload) => (&[][..], payload.get(into_payload..).unwrap_or_default()),
        };
        if !a.is_empty() || !b.is_empty() {
            self.conn.queue_unwritten(a, b);
        }
        Ok(true)
    }

    /// Carries out the teardown the core decided, if any: `poll_shutdown` for
    /// [`Teardown::EndOutput`]; for [`Teardown::Abort`] one attempt (a generic stream has no
    /// "both ways", and a dead peer must not hold us). Best effort: errors are ignored.
    pub(crate) fn poll_teardown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let abort = match self.conn.poll_teardown() {
            Some(Teardown::Abort) => true,
            Some(_) => {
                self.shutdown = Shutdown::Wanted;
                false
            }
            None => false,
        };
        if abort {
            let _ = Pin::new(&mut self.stream).poll_shutdown(cx);
            self.shutdown = Shutdown::Done;
        }
        if self.shutdown == Shutdown::Wanted {
            let _ = ready!(Pin::new(&mut self.stream).poll_shutdown(cx));
            self.shutdown = Shutdown::Done;
        }
        Poll::Ready(())
    }

    /// Reads once into the connection: bytes, or the end of the stream.
    fn poll_read_once(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut buf = ReadBuf::new(self.conn.recv_buf());
        match ready!(Pin::new(&mut self.stream).poll_read(cx, &mut buf)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Poll::Ready(Ok(())),
            Err(e) => return Poll::Ready(Err(e)),
        }
        let n = buf.filled().len();
        if n == 0 {
            self.conn.recv_eof();
        } else {
            self.conn.recv_filled(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Drives the connection until an event is ready (`Ok(true)`: it waits in the connection
    /// for `next_event`) or the connection is finished (`Ok(false)`).
    ///
    /// The pong or close reply an event queued is written as far as the stream takes it now;
    /// what it does not take stays queued in the connection and goes out with the next call
    /// (a peer that does not read cannot stop us from reading: pongs are coalesced, so the
    /// output stays bounded).
    ///
    /// # Errors
    /// [`Error::Protocol`] when the peer broke the protocol (the close frame is written as far
    /// as the stream takes it), the core's timeouts, and I/O errors.
    pub(crate) fn poll_pump(
        &mut self,
        cx: &mut Context<'_>,
        timer: &mut Timer,
    ) -> Poll<Result<bool, Error>> {
        loop {
            // Buffered input first, as the blocking driver does: time is read in only when
            // nothing is buffered (once per read, not per message, and never skipped for
            // long: the buffered input is at most one read window), not again before the
            // next read unless the timer fired (a deadline that passed fires it), and not
            // while nothing is timed (the bytes heard meanwhile are dated by the next call).
            let step = match self.conn.poll_event() {
                Ok(false) if self.timed || self.conn.poll_timeout().is_none() => Ok(false),
                Ok(false) => {
                    self.timed = true;
                    self.conn
                        .handle_timeout(self.now())
                        .map(|()| false)
                        .map_err(Error::from)
                }
                ready => ready.map_err(Error::Protocol),
            };
            let ready = match step {
                Ok(ready) => ready,
                Err(e) => {
                    // Best effort: the close frame that fails the connection (a timeout
                    // discarded the output); the rest goes out with the next call.
                    if let Poll::Ready(Ok(())) = self.poll_write_out(cx) {
                        let _ = self.poll_teardown(cx);
                    }
                    return Poll::Ready(Err(e));
                }
            };
            // The pong or close reply an event queued, a keepalive ping.
            match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => ready!(self.poll_teardown(cx)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => {}
            }
            if ready {
                return Poll::Ready(Ok(true));
            }
            if self.conn.is_finished() {
                ready!(self.poll_teardown(cx));
                return Poll::Ready(Ok(false));
            }
            if timer
                .poll(cx, self.origin, self.conn.poll_timeout())
                .is_ready()
            {
                self.timed = false;
                continue; // the core says what the time means
            }
            match ready!(self.poll_read_once(cx)) {
                Ok(()) => self.timed = false,
                // After the close handshake the transport may end any way it likes (a peer
                // that resets instead of closing, say): it is the end of the stream.
                Err(_) if self.conn.state() == State::Closed => self.conn.recv_eof(),
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
    }
}

/// One timer, re-armed at the core's next deadline.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    at: Option<Duration>,
}

impl Timer {
    /// Polls the timer armed at `at` (on the clock that starts at `origin`); `None` never
    /// fires.
    fn poll(&mut self, cx: &mut Context<'_>, origin: Instant, at: Option<Duration>) -> Poll<()> {
        let Some(at) = at else {
            return Poll::Pending;
        };
        let Some(deadline) = origin.checked_add(at) else {
            return Poll::Pending; // beyond what an Instant holds: never
        };
        let fired = match &mut self.sleep {
            // Armed for this deadline, or for an earlier one: kept. The keepalive deadline
            // moves with every byte heard, and a reset per message costs a timer update per
            // message; this timer fires early instead, at most once per deadline, and the
            // core, asked again, gives the later one.
            Some(sleep) if self.at.is_some_and(|armed| armed <= at) => sleep.as_mut().poll(cx),
            Some(sleep) => {
                sleep.as_mut().reset(deadline);
                self.at = Some(at);
                sleep.as_mut().poll(cx)
            }
            None => {
                let sleep = self
                    .sleep
                    .insert(Box::pin(::tokio::time::sleep_until(deadline)));
                self.at = Some(at);
                sleep.as_mut().poll(cx)
            }
        };
        if fired.is_ready() {
            // Spent: the next poll re-arms it (cheaper than asking tokio each time whether
            // it has elapsed).
            self.at = None;
        }
        fired
    }
}
