//! [`WebSocket`]: a [`Connection`] driven over a blocking `Read + Write` stream.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use alloc::string::String;

use super::driver::{self, Link};
use super::timers::{Armed, Clock, Keepalive, ShutdownControl, TimeoutControl};
use super::{Error, Message, is_timeout};
use crate::conn::{Connection, Event, MessageKind, Role, State};
use crate::frame::CloseCode;

/// Messages from this size up are sent by a server without copying them (a vectored write).
const UNBUFFERED_MIN: usize = 16 * 1024;

/// A WebSocket connection over a blocking stream `S`.
///
/// Reads drive the connection: [`read`](Self::read) (owned messages) or
/// [`read_event`](Self::read_event) (borrowed, no allocation) answer pings, complete the close
/// handshake and run the keepalive timers. Sends queue a frame and write it out before
/// returning. When a read or write fails with `WouldBlock`, `TimedOut` or `Interrupted`
/// ([`Error::is_retryable`]), nothing is lost: a partly received frame stays buffered and
/// unwritten bytes stay queued, and the next call resumes exactly.
///
/// ```no_run
/// use rfc6455::blocking::{Message, WebSocket};
/// use rfc6455::{Config, Role};
///
/// // Any Read + Write stream, after a handshake done elsewhere.
/// let stream = std::net::TcpStream::connect("127.0.0.1:9002")?;
/// let mut ws = WebSocket::from_stream(stream, Role::Client, Config::default());
/// ws.send_text("hi")?;
/// if let Some(Message::Text(reply)) = ws.read()? {
///     println!("{reply}");
/// }
/// ws.close(rfc6455::CloseCode::NORMAL, "bye")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WebSocket<S> {
    stream: S,
    conn: Connection,
    timeouts: Option<TimeoutControl<S>>,
    shutdown: Option<ShutdownControl<S>>,
    clock: Clock,
    armed: Armed,
    read_timeout: Option<Duration>,
    protocol: Option<String>,
}

impl<S: core::fmt::Debug> core::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocket")
            .field("stream", &self.stream)
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl WebSocket<TcpStream> {
    /// A connection over a TCP stream whose handshake is already done, with timeouts
    /// available and the TCP connection shut down after the close handshake.
    #[must_use]
    pub fn from_tcp(stream: TcpStream, role: Role, config: crate::Config) -> WebSocket<TcpStream> {
        WebSocket::from_stream(stream, role, config)
            .with_timeout_control(TcpStream::set_read_timeout)
            .with_shutdown_control(shutdown_tcp)
    }
}

impl<S: Read + Write> WebSocket<S> {
    /// A connection over `stream`, whose opening handshake is already done.
    #[must_use]
    pub fn from_stream(stream: S, role: Role, config: crate::Config) -> WebSocket<S> {
        WebSocket::from_connection(stream, Connection::new(role, config))
    }

    /// A connection over `stream` driving `conn`, which may already hold received bytes.
    #[must_use]
    pub fn from_connection(stream: S, conn: Connection) -> WebSocket<S> {
        WebSocket {
            stream,
            conn,
            timeouts: None,
            shutdown: None,
            clock: Clock::new(),
            armed: Armed::default(),
            read_timeout: None,
            protocol: None,
        }
    }

    /// Gives the adapter a way to set the stream's read timeout, enabling keepalive, read
    /// timeouts and the close timeout on streams that are not a `TcpStream`.
    #[must_use]
    pub fn with_timeout_control(mut self, control: TimeoutControl<S>) -> WebSocket<S> {
        self.timeouts = Some(control);
        self
    }

    /// Gives the adapter a way to end the stream's sending direction when the connection is
    /// over (see [`ShutdownControl`]), for streams that are not a `TcpStream`: without one,
    /// the stream ends only when it is dropped.
    #[must_use]
    pub fn with_shutdown_control(mut self, control: ShutdownControl<S>) -> WebSocket<S> {
        self.shutdown = Some(control);
        self
    }

    /// Makes [`read`](Self::read) fail with a retryable `TimedOut` error when no message
    /// arrives within `timeout` of the call (`None`: wait forever, the default). The timeout
    /// bounds the whole call, however slowly the bytes of a message trickle in; nothing is
    /// lost when it passes. Needs a [`TimeoutControl`]. A timeout too long to represent
    /// means no timeout.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// How long we wait for the peer's close frame after sending ours (default 5 s), and how
    /// long a client waits for the server to end the stream after the close handshake.
    ///
    /// The wait starts when [`close`](Self::close), or a [`read`](Self::read) after
    /// [`send`](Self::send)ing a [`Message::Close`], first waits for the peer's close; later
    /// reads, and bytes that keep arriving, do not move it. When it passes, the read or close
    /// fails with [`Error::CloseTimeout`], the stream is shut down (see [`ShutdownControl`])
    /// and later reads return `Ok(None)`. Needs a [`TimeoutControl`]. The same as
    /// [`Config::close_timeout`](crate::Config::close_timeout).
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.conn.set_close_timeout(timeout);
    }

    /// Turns keepalive pings and dead-peer detection on or off (on by default: see
    /// [`Config::keepalive`](crate::Config::keepalive)). Needs a [`TimeoutControl`].
    pub fn set_keepalive(&mut self, keepalive: Keepalive) {
        self.conn.set_keepalive(keepalive);
    }

    /// The subprotocol chosen in the opening handshake, if any.
    #[must_use]
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    pub(crate) fn set_protocol(&mut self, protocol: Option<String>) {
        self.protocol = protocol;
    }

    /// The sans-IO connection, for its state and configuration.
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The stream.
    #[must_use]
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutably. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream and the connection, with any buffered input and unsent output.
    #[must_use]
    pub fn into_parts(self) -> (S, Connection) {
        (self.stream, self.conn)
    }

    pub(crate) fn into_split_parts(self) -> SplitParts<S> {
        SplitParts {
            stream: self.stream,
            conn: self.conn,
            clock: self.clock,
            read_timeout: self.read_timeout,
        }
    }

    // ------------------------------------------------------------ reading

    /// The next message, or `Ok(None)` once the connection is over: after the close
    /// handshake (the [`Message::Close`] is returned first) or after an error was returned.
    ///
    /// After the close handshake a server shuts the stream down at once, and a client first
    /// waits for the server to end it, for at most the close timeout
    /// ([RFC 6455 section 7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1)).
    ///
    /// # Errors
    /// [`Error::Protocol`] when the peer broke the protocol (the close frame was sent),
    /// [`Error::Io`] when the stream failed (retryable ones resume), the keepalive and read
    /// timeout errors, and [`Error::CloseTimeout`] when we sent a close frame and the peer's
    /// did not arrive within the close timeout (see
    /// [`set_close_timeout`](Self::set_close_timeout)).
    #[inline]
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        if !self.pump()? {
            return Ok(None);
        }
        Ok(self.conn.next_message()?)
    }

    /// Like [`read`](Self::read), but the event borrows the connection's buffers: no
    /// allocation per message once the buffers have grown to the message sizes in use.
    ///
    /// # Errors
    /// As for [`read`](Self::read).
    pub fn read_event(&mut self) -> Result<Option<Event<'_>>, Error> {
        if !self.pump()? {
            return Ok(None);
        }
        Ok(self.conn.next_event()?)
    }

    /// Drives the connection until an event is ready (`true`) or the connection is over.
    fn pump(&mut self) -> Result<bool, Error> {
        let deadline = self.read_timeout.map(|t| self.clock.after(t));
        self.conn.set_read_deadline(deadline);
        let clock = self.clock;
        let found = driver::pump(self, &clock);
        self.conn.set_read_deadline(None);
        found
    }

    // ------------------------------------------------------------ writing

    /// Sends a text message and writes it out.
    ///
    /// # Errors
    /// [`Error::Send`] when the connection refuses the message (closing, buffer full);
    /// [`Error::Io`] when writing fails. On a retryable I/O error the message is queued:
    /// call [`flush`](Self::flush) later, do not send it again.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        if self.try_unbuffered(MessageKind::Text, text.as_bytes())? {
            return Ok(());
        }
        self.conn.send_text(text)?;
        self.flush()
    }

    /// Sends a binary message and writes it out.
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.try_unbuffered(MessageKind::Binary, data)? {
            return Ok(());
        }
        self.conn.send_binary(data)?;
        self.flush()
    }

    /// A large message from a server goes out as a vectored write of header and payload,
    /// without copying the payload into the output buffer. `Ok(false)`: not applicable.
    fn try_unbuffered(&mut self, kind: MessageKind, payload: &[u8]) -> Result<bool, Error> {
        if payload.len() < UNBUFFERED_MIN {
            return Ok(false);
        }
        let Some(head) = self.conn.send_unbuffered(kind, payload.len())? else {
            return Ok(false);
        };
        let head = head.as_bytes();
        let total = head.len() + payload.len();
        let mut written = 0;
        while written < total {
            let (a, b) = match written.checked_sub(head.len()) {
                None => (&head[written..], payload),
                Some(into_payload) => (&payload[into_payload..], &[][..]),
            };
            match self
                .stream
                .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
            {
                Ok(0) => {
                    self.conn.queue_unwritten(a, b);
                    return Err(Error::Io(io::ErrorKind::WriteZero.into()));
                }
                Ok(k) => written += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Keep the frame whole: what was not written goes out with the next flush.
                    self.conn.queue_unwritten(a, b);
                    return Err(Error::Io(e));
                }
            }
        }
        self.stream.flush()?;
        Ok(true)
    }

    /// Sends a ping and writes it out.
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text); a payload over 125 bytes is refused.
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), Error> {
        self.conn.send_ping(data)?;
        self.flush()
    }

    /// Sends a pong and writes it out.
    ///
    /// # Errors
    /// As for [`send_ping`](Self::send_ping).
    pub fn send_pong(&mut self, data: &[u8]) -> Result<(), Error> {
        self.conn.send_pong(data)?;
        self.flush()
    }

    /// Sends one fragment of a message
    /// ([RFC 6455 section 5.4](https://www.rfc-editor.org/rfc/rfc6455#section-5.4)) and writes
    /// it out: the first call starts a message of `kind`, later calls continue it (their
    /// `kind` is ignored), and `fin` ends it. Pings and pongs may be sent between fragments;
    /// other messages are refused until the last fragment. Text fragments may split a code
    /// point; together they must be valid UTF-8. See [`Connection::send_fragment`].
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text),
    /// [`SendError::MessageInProgress`](crate::SendError::MessageInProgress) for a whole
    /// message sent in the middle of a fragmented one, and
    /// [`SendError::InvalidUtf8`](crate::SendError::InvalidUtf8) when the text fragments are not valid UTF-8 (nothing of the failing fragment is sent).
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        self.conn.send_fragment(kind, data, fin)?;
        self.flush()
    }

    /// Sends any [`Message`]; a [`Message::Close`] starts the close handshake without waiting
    /// for the answer: the next [`read`](Self::read)s deliver what the peer still sends, then
    /// its close, and fail with [`Error::CloseTimeout`] if that does not come within the close
    /// timeout.
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text).
    pub fn send(&mut self, message: &Message) -> Result<(), Error> {
        match message {
            Message::Text(text) => self.conn.send_text(text)?,
            Message::Binary(data) => self.conn.send_binary(data)?,
            Message::Ping(data) => self.conn.send_ping(data)?,
            Message::Pong(data) => self.conn.send_pong(data)?,
            Message::Close(code, reason) => self.conn.close(*code, reason)?,
        }
        self.flush()
    }

    /// Writes out everything queued.
    ///
    /// # Errors
    /// [`Error::Io`]; on a retryable one, what was not written stays queued.
    pub fn flush(&mut self) -> Result<(), Error> {
        write_out(&mut self.stream, &mut self.conn)?;
        Ok(())
    }

    /// Closes the connection: sends a close frame (unless one was sent), then reads until the
    /// peer's close arrives, discarding messages, for at most the close timeout (counted from
    /// the first wait for it, if a [`read`](Self::read) already waited). Returns `Ok(())` once
    /// the close handshake completed (or the peer had already closed), with the stream shut
    /// down as [`read`](Self::read) describes, and at once when an earlier call already
    /// failed with [`Error::CloseTimeout`].
    ///
    /// # Errors
    /// [`Error::CloseTimeout`] when the peer does not answer in time (needs a
    /// [`TimeoutControl`]), [`Error::Send`] for a code that may not be sent, and I/O errors.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.conn.state() == State::Open {
            self.conn.close(code, reason)?;
        }
        // The close timeout bounds the wait, not the read timeout.
        self.conn.set_read_deadline(None);
        let clock = self.clock;
        while driver::pump(self, &clock)? {
            let _ = self.conn.next_event();
        }
        Ok(())
    }
}

/// What a [`WebSocket`] hands to its split halves.
pub(crate) struct SplitParts<S> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    pub(crate) clock: Clock,
    pub(crate) read_timeout: Option<Duration>,
}

impl<S: Read + Write> Link for WebSocket<S> {
    type Conn<'a>
        = &'a mut Connection
    where
        Self: 'a;

    fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn read(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        if let Some(control) = self.timeouts {
            self.armed.arm(&self.stream, control, timeout)?;
        }
        match self.stream.read(self.conn.recv_buf()) {
            Ok(0) => self.conn.recv_eof(),
            Ok(n) => self.conn.recv_filled(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The timer fired: the core says what it means.
            Err(e) if is_timeout(&e) && self.timeouts.is_some() => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        WebSocket::flush(self)
    }

    fn end_output(&mut self) {
        if let Some(shutdown) = self.shutdown {
            let _ = shutdown(&mut self.stream);
        }
    }

    fn abort(&mut self) {
        self.end_output();
    }
}

/// The [`ShutdownControl`] of a `TcpStream`: `shutdown(Shutdown::Write)`.
pub(crate) fn shutdown_tcp(stream: &mut TcpStream) -> io::Result<()> {
    stream.shutdown(Shutdown::Write)
}

/// Writes the connection's pending output to `stream` until it is empty.
pub(crate) fn write_out<W: Write>(stream: &mut W, conn: &mut Connection) -> io::Result<()> {
    while !conn.pending_output().is_empty() {
        match stream.write(conn.pending_output()) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => conn.consume_output(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    stream.flush()
}
