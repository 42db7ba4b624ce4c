//! The close handshake, by direction, and the teardown of the transport it decides
//! ([RFC 6455 section 7](https://www.rfc-editor.org/rfc/rfc6455#section-7)).
//!
//! The phase changes only through the named transitions below.

use super::{Connection, Role, State};

/// What the transport must do now, as [`Connection::poll_teardown`] decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Teardown {
    /// Every byte of output was written: end our sending direction now (TCP
    /// `shutdown(Write)`, after a TLS `close_notify`). The connection is finished.
    ///
    /// Given after the close handshake — at once by a server, by a client once the server
    /// ended the stream or the close timeout passed
    /// ([section 7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1)) — and after a
    /// protocol failure, once its close frame is written
    /// ([section 7.1.7](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.7)).
    EndOutput,
    /// A deadline passed ([`TimeoutError::CloseTimeout`](crate::TimeoutError::CloseTimeout)
    /// or [`TimeoutError::PeerUnresponsive`](crate::TimeoutError::PeerUnresponsive)): shut
    /// the transport down both ways without writing more, so that a writer blocked on the
    /// dead peer is released too. Unwritten output was discarded.
    Abort,
}

/// Where the close handshake stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Phase {
    /// Messages flow both ways.
    #[default]
    Open,
    /// Our close frame is queued or written; the peer's has not come.
    SentClose,
    /// Both close frames were exchanged (ours may still be queued).
    Exchanged,
    /// The peer broke the protocol or the stream ended early: our close frame, if any, is
    /// queued, and input is discarded.
    Failed,
    /// A deadline passed: nothing more is read or written.
    Abandoned,
}

#[derive(Debug, Default)]
pub(super) struct CloseState {
    phase: Phase,
    /// The teardown for the current phase was handed out.
    torn_down: bool,
}

impl CloseState {
    pub(super) fn phase(&self) -> Phase {
        self.phase
    }

    /// Data and control frames may still be queued.
    pub(super) fn can_send(&self) -> bool {
        matches!(self.phase, Phase::Open)
    }

    /// Input is discarded: the peer's close arrived, or the connection failed.
    pub(super) fn discarding(&self) -> bool {
        !matches!(self.phase, Phase::Open | Phase::SentClose)
    }

    /// We queued our close frame first.
    pub(super) fn move_to_sent_close(&mut self) {
        if self.phase == Phase::Open {
            self.phase = Phase::SentClose;
        }
    }

    /// The peer's close frame arrived (our echo is queued, or ours was sent earlier).
    pub(super) fn move_to_exchanged(&mut self) {
        if matches!(self.phase, Phase::Open | Phase::SentClose) {
            self.phase = Phase::Exchanged;
        }
    }

    /// The connection failed on the peer's input.
    pub(super) fn move_to_failed(&mut self) {
        if self.phase != Phase::Abandoned {
            self.phase = Phase::Failed;
        }
    }

    /// A deadline passed: the connection is given up.
    pub(super) fn move_to_abandoned(&mut self) {
        self.phase = Phase::Abandoned;
        self.torn_down = false;
    }
}

impl Connection {
    /// Where the connection stands in the close handshake.
    #[must_use]
    pub fn state(&self) -> State {
        match self.close.phase() {
            Phase::Open => State::Open,
            Phase::SentClose => State::Closing,
            Phase::Exchanged if !self.pending_output().is_empty() => State::Closing,
            Phase::Exchanged => State::Closed,
            Phase::Failed | Phase::Abandoned => State::Failed,
        }
    }

    /// Whether no more frames will be sent or delivered: the close handshake completed or the
    /// connection failed, and no close frame waits in the output.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state(), State::Closed | State::Failed) && self.pending_output().is_empty()
    }

    /// What to do with the transport now, if anything; each step is handed out once. Call it
    /// after writing out the output:
    /// - [`Teardown::EndOutput`]: end our sending direction (TCP `shutdown(Write)`);
    /// - [`Teardown::Abort`]: shut the transport down both ways.
    ///
    /// After either, [`is_finished`](Self::is_finished) is true: stop reading and report the
    /// end of the connection.
    ///
    /// ```
    /// use rfc6455::{CloseCode, Config, Connection, Event, Role, Teardown};
    ///
    /// let mut client = Connection::with_seed(Role::Client, Config::default(), [1; 32]);
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// client.close(CloseCode::NORMAL, "bye")?;
    /// server.recv(client.pending_output());
    /// assert!(matches!(server.next_event()?, Some(Event::Close(_))));
    /// // The server's close reply is still queued: nothing to tear down yet.
    /// assert_eq!(server.poll_teardown(), None);
    /// let n = server.pending_output().len();
    /// server.consume_output(n);
    /// // Written: a server ends the TCP connection first (RFC 6455 section 7.1.1).
    /// assert_eq!(server.poll_teardown(), Some(Teardown::EndOutput));
    /// assert!(server.is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_teardown(&mut self) -> Option<Teardown> {
        if self.close.torn_down {
            return None;
        }
        let step = if self.close.phase() == Phase::Abandoned {
            Teardown::Abort
        } else if self.output_ends() {
            Teardown::EndOutput
        } else {
            return None;
        };
        self.close.torn_down = true;
        Some(step)
    }

    /// Whether the connection is over for the transport: nothing more will be read or
    /// written. An adapter stops reading, carries out [`poll_teardown`](Self::poll_teardown)
    /// and reports the end of the connection (a read returns "no more messages").
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.close.phase() == Phase::Abandoned || self.output_ends()
    }

    /// Whether our sending direction ends now: everything is written and the close
    /// handshake, or the failure, says we are done.
    fn output_ends(&self) -> bool {
        let done = match self.close.phase() {
            Phase::Failed => true,
            Phase::Exchanged => {
                self.role == Role::Server || self.eof || self.timers.eof_wait_over()
            }
            Phase::Open | Phase::SentClose | Phase::Abandoned => false,
        };
        done && self.pending_output().is_empty()
    }

    /// Gives the connection up after a deadline: the output is discarded and nothing more is
    /// read.
    pub(super) fn abandon(&mut self) {
        self.close.move_to_abandoned();
        self.out.clear();
        self.out_pos = 0;
        self.pong_end = None;
        self.pending_pong = None;
        self.ready = None;
        self.frame = None;
        self.rstart = 0;
        self.rend = 0;
        self.rwindow = 0;
    }
}
