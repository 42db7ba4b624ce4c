//! [`WebSocket`]: a [`Connection`] driven over an async stream, with `Stream` and `Sink`.

use alloc::string::String;
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::driver::{Driver, Timer};
use super::{Error, Message};
use crate::conn::{Connection, Event, MessageKind, Role, State};
use crate::frame::CloseCode;
use crate::{Config, Keepalive, SendError};

/// Messages from this size up are sent by a server without copying them (a vectored write).
pub(crate) const UNBUFFERED_MIN: usize = 16 * 1024;

/// A WebSocket connection over an async stream `S` (a `TcpStream`, a TLS stream, a Unix
/// socket, an in-memory duplex).
///
/// Reads drive the connection: [`read`](Self::read) (owned messages) or
/// [`read_event`](Self::read_event) (borrowed, no allocation) answer pings, complete the close
/// handshake and run the keepalive, read and close timers on one tokio timer. It is also a
/// [`Stream`](futures_core::Stream) of `Result<Message, Error>` and a
/// [`Sink`](futures_sink::Sink) of [`Message`], for `StreamExt::split`, `forward` and
/// `select!`; [`into_split`](Self::into_split) gives two halves for two tasks.
///
/// # Cancel safety
/// Every method is cancel-safe: all state lives in the connection and in this value, never
/// in a future. A [`read`](Self::read) dropped at any await point loses no byte and no
/// message: the next read resumes exactly. A send dropped while it waits for room in the
/// send queue queued nothing; once it queued its message (whole), dropping it leaves the
/// message queued, and the next send, [`flush`](Self::flush) or read writes it out.
///
/// # Backpressure
/// The send queue is bounded by [`Config::write_buffer_cap`]: a send waits, writing out,
/// until its message fits (a message is always accepted into an empty queue), and
/// `Sink::poll_ready` waits likewise, so a peer that stops reading cannot grow our memory
/// past the cap. While a send waits, nothing is read: use [`into_split`](Self::into_split)
/// to read and write from two tasks.
///
/// The timers need a tokio runtime with time enabled (`enable_all`, `#[tokio::main]`).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use rfc6455::tokio::{Message, WebSocket};
/// use rfc6455::{CloseCode, Config, Role};
///
/// // Any AsyncRead + AsyncWrite + Unpin stream, after a handshake done elsewhere.
/// let stream = tokio::net::TcpStream::connect("127.0.0.1:9002").await?;
/// let mut ws = WebSocket::from_stream(stream, Role::Client, Config::default());
/// ws.send_text("hi").await?;
/// if let Some(Message::Text(reply)) = ws.read().await? {
///     println!("{reply}");
/// }
/// ws.close(CloseCode::NORMAL, "bye").await?;
/// # Ok(())
/// # }
/// ```
pub struct WebSocket<S> {
    pub(crate) driver: Driver<S>,
    timer: Timer,
    read_timeout: Option<Duration>,
    /// A read deadline set by `read_event` is in the connection (left there when that read
    /// was cancelled).
    read_deadline_set: bool,
    protocol: Option<String>,
    /// A message the `Sink` accepted that did not fit in the send queue yet.
    unsent: Option<Message>,
}

impl<S: core::fmt::Debug> core::fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocket")
            .field("stream", &self.driver.stream)
            .field("conn", &self.driver.conn)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// A connection over `stream`, whose opening handshake is already done.
    #[must_use]
    pub fn from_stream(stream: S, role: Role, config: Config) -> WebSocket<S> {
        WebSocket::from_connection(stream, Connection::new(role, config))
    }

    /// A connection over `stream` driving `conn`, which may already hold received bytes (as
    /// the handshake's `Response::into_connection` and `Request::accept_connection` hand it
    /// over).
    #[must_use]
    pub fn from_connection(stream: S, conn: Connection) -> WebSocket<S> {
        WebSocket {
            driver: Driver::new(stream, conn),
            timer: Timer::default(),
            read_timeout: None,
            read_deadline_set: false,
            protocol: None,
            unsent: None,
        }
    }

    /// Makes [`read`](Self::read) fail with a `TimedOut` [`Error::Io`] when no message
    /// arrives within `timeout` of the call (`None`: wait forever, the default). It bounds the
    /// whole call, however slowly the bytes trickle in; nothing is lost when it passes.
    /// (`tokio::time::timeout` around a read works as well: reads are cancel-safe.)
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// How long we wait for the peer's close frame after sending ours (default 5 s), and how
    /// long a client waits for the server to end the stream after the close handshake. See
    /// [`Config::close_timeout`].
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.driver.conn.set_close_timeout(timeout);
    }

    /// Turns keepalive pings and dead-peer detection on or off (on by default: see
    /// [`Config::keepalive`]). They run while the connection is read.
    pub fn set_keepalive(&mut self, keepalive: Keepalive) {
        self.driver.conn.set_keepalive(keepalive);
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
        &self.driver.conn
    }

    /// The stream.
    #[must_use]
    pub fn get_ref(&self) -> &S {
        &self.driver.stream
    }

    /// The stream, mutably. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.driver.stream
    }

    /// The stream and the connection, with any buffered input and unsent output (a message
    /// the `Sink` accepted but could not queue yet is dropped).
    #[must_use]
    pub fn into_parts(self) -> (S, Connection) {
        (self.driver.stream, *self.driver.conn)
    }

    pub(crate) fn into_driver(self) -> (Driver<S>, Option<Duration>, Option<Message>) {
        (self.driver, self.read_timeout, self.unsent)
    }

    // ------------------------------------------------------------ reading

    /// The next message, or `Ok(None)` once the connection is over: after the close
    /// handshake (the [`Message::Close`] is returned first) or after an error was returned.
    /// Pings are answered and the peer's close echoed before the message is returned.
    ///
    /// After the close handshake a server ends the stream at once (`poll_shutdown`), and a
    /// client first waits for the server to end it, for at most the close timeout
    /// ([RFC 6455 section 7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1)).
    ///
    /// Cancel-safe: see [`WebSocket`].
    ///
    /// # Errors
    /// [`Error::Protocol`] when the peer broke the protocol (the close frame was sent),
    /// [`Error::Io`] when the stream failed (a `TimedOut` one after the read timeout is
    /// retryable), [`Error::PeerUnresponsive`] from keepalive, and [`Error::CloseTimeout`]
    /// when we sent a close frame and the peer's did not come within the close timeout.
    pub async fn read(&mut self) -> Result<Option<Message>, Error> {
        if !self.pump().await? {
            return Ok(None);
        }
        Ok(self.driver.conn.next_message()?)
    }

    /// Like [`read`](Self::read), but the event borrows the connection's buffers: no
    /// allocation per message once the buffers have grown to the message sizes in use.
    ///
    /// # Errors
    /// As for [`read`](Self::read).
    pub async fn read_event(&mut self) -> Result<Option<Event<'_>>, Error> {
        if !self.pump().await? {
            return Ok(None);
        }
        Ok(self.driver.conn.next_event()?)
    }

    /// Drives the connection until an event is ready (`true`) or the connection is over.
    /// Cancel-safe: the event stays in the connection until it is taken.
    async fn pump(&mut self) -> Result<bool, Error> {
        self.driver.set_read_timeout(self.read_timeout);
        self.read_deadline_set = self.read_timeout.is_some();
        let found = poll_fn(|cx| self.driver.poll_pump(cx, &mut self.timer)).await;
        self.clear_read_deadline();
        found
    }

    fn clear_read_deadline(&mut self) {
        if core::mem::take(&mut self.read_deadline_set) {
            self.driver.conn.set_read_deadline(None);
        }
    }

    // ------------------------------------------------------------ writing

    /// Sends a text message: waits for room in the send queue, queues it, writes it out.
    ///
    /// # Errors
    /// [`Error::Send`] when the connection refuses the message (closing, invalid
    /// fragment order); [`Error::Io`] when writing fails. Once queued, the message stays
    /// queued whatever happens to this call: do not send it again.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_data(MessageKind::Text, text.as_bytes(), |conn| {
            conn.send_text(text)
        })
        .await
    }

    /// Sends a binary message, as [`send_text`](Self::send_text) does.
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text).
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_data(MessageKind::Binary, data, |conn| conn.send_binary(data))
            .await
    }

    async fn send_data(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        queue: impl FnOnce(&mut Connection) -> Result<(), SendError>,
    ) -> Result<(), Error> {
        let driver = &mut self.driver;
        poll_fn(|cx| driver.poll_room(cx, payload.len())).await?;
        let sent = payload.len() >= UNBUFFERED_MIN
            && poll_fn(|cx| Poll::Ready(driver.send_unbuffered(cx, kind, payload))).await?;
        if !sent {
            queue(&mut driver.conn)?;
        }
        self.flush().await
    }

    /// Sends a ping and writes it out (control frames skip the queue's bound).
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text); a payload over 125 bytes is refused.
    pub async fn send_ping(&mut self, data: &[u8]) -> Result<(), Error> {
        self.driver.conn.send_ping(data)?;
        self.flush().await
    }

    /// Sends a pong and writes it out.
    ///
    /// # Errors
    /// As for [`send_ping`](Self::send_ping).
    pub async fn send_pong(&mut self, data: &[u8]) -> Result<(), Error> {
        self.driver.conn.send_pong(data)?;
        self.flush().await
    }

    /// Sends one fragment of a message
    /// ([RFC 6455 section 5.4](https://www.rfc-editor.org/rfc/rfc6455#section-5.4)): the
    /// first call starts a message of `kind`, later calls continue it, and `fin` ends it. See
    /// [`Connection::send_fragment`].
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text), and the errors of
    /// [`Connection::send_fragment`].
    pub async fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        let driver = &mut self.driver;
        poll_fn(|cx| driver.poll_room(cx, data.len())).await?;
        driver.conn.send_fragment(kind, data, fin)?;
        self.flush().await
    }

    /// Sends any [`Message`]. A [`Message::Close`] starts the close handshake without
    /// waiting for the answer (later reads deliver what the peer still sends, then its
    /// close); once a close was sent or received, another is ignored, so echoing what
    /// [`read`](Self::read) returned is always safe.
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text).
    pub async fn send(&mut self, message: &Message) -> Result<(), Error> {
        match message {
            Message::Text(text) => self.send_text(text).await,
            Message::Binary(data) => self.send_binary(data).await,
            _ => {
                queue_message(&mut self.driver.conn, message)?;
                self.flush().await
            }
        }
    }

    /// Writes out everything queued.
    ///
    /// # Errors
    /// [`Error::Io`]; what was not written stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_send_out(cx)).await?;
        Ok(())
    }

    /// Closes the connection: sends a close frame (unless one was sent), then reads until the
    /// peer's close arrives, discarding messages, for at most the close timeout. Returns
    /// once the close handshake completed and the stream was ended as [`read`](Self::read)
    /// describes (at once when the connection is already over).
    ///
    /// # Errors
    /// [`Error::CloseTimeout`] when the peer does not answer in time, [`Error::Send`] for a
    /// code that may not be sent, and I/O errors.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.driver.conn.state() == State::Open {
            self.driver.conn.close(code, reason)?;
        }
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Drives the connection to its end, discarding messages; the read deadline does not
    /// apply (the close timeout does).
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.read_deadline_set = true;
        self.clear_read_deadline();
        while ready!(self.driver.poll_pump(cx, &mut self.timer))? {
            let _ = self.driver.conn.next_event();
        }
        Poll::Ready(Ok(()))
    }

    /// Queues the message the `Sink` could not queue yet, once it fits.
    fn poll_unsent(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(message) = &self.unsent {
            ready!(self.driver.poll_room(cx, data_len(message)))?;
            let message = self.unsent.take();
            if let Some(message) = message {
                queue_message(&mut self.driver.conn, &message)?;
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The payload length of a data message, for the send queue's bound (0 for control frames,
/// which skip it).
pub(crate) fn data_len(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(data) => data.len(),
        _ => 0,
    }
}

/// Queues `message` in the connection; a close after a close was sent or received is
/// ignored.
pub(crate) fn queue_message(conn: &mut Connection, message: &Message) -> Result<(), SendError> {
    match message {
        Message::Text(text) => conn.send_text(text),
        Message::Binary(data) => conn.send_binary(data),
        Message::Ping(data) => conn.send_ping(data),
        Message::Pong(data) => conn.send_pong(data),
        Message::Close(code, reason) if conn.state() == State::Open => conn.close(*code, reason),
        Message::Close(..) => Ok(()),
    }
}

/// The next message; `None` once the connection is over. A read deadline left by a cancelled
/// [`WebSocket::read`] is cleared: the stream has no read timeout.
impl<S: AsyncRead + AsyncWrite + Unpin> futures_core::Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.clear_read_deadline();
        match ready!(this.driver.poll_pump(cx, &mut this.timer)) {
            Ok(true) => Poll::Ready(
                this.driver
                    .conn
                    .next_message()
                    .map_err(Error::from)
                    .transpose(),
            ),
            Ok(false) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

/// Messages in: `poll_ready` waits for room in the bounded send queue (writing out),
/// `start_send` queues, `poll_flush` writes out, `poll_close` sends a normal close (unless a
/// close was sent or received) and drives the close handshake to its end, discarding what
/// the peer still sends. A [`Message::Close`] after a close is ignored, so
/// `stream.forward(sink)` of an echo ends cleanly.
impl<S: AsyncRead + AsyncWrite + Unpin> futures_sink::Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_unsent(cx))?;
        // Below the high-water mark: there is room for something.
        let cap = this.driver.conn.config().write_buffer_cap;
        if this.driver.conn.pending_output().len() >= cap {
            ready!(this.driver.poll_send_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let this = self.get_mut();
        if this.unsent.is_some() || !this.driver.has_room(data_len(&message)) {
            // Accepted whole; queued by the next poll_ready or poll_flush. (Only possible
            // when poll_ready was skipped, or the message is larger than the room left.)
            if this.unsent.is_none() {
                this.unsent = Some(message);
                return Ok(());
            }
            return Err(Error::Send(SendError::BufferFull {
                buffered: this.driver.conn.pending_output().len(),
                cap: this.driver.conn.config().write_buffer_cap,
            }));
        }
        Ok(queue_message(&mut this.driver.conn, &message)?)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_unsent(cx))?;
        ready!(this.driver.poll_send_out(cx))?;
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        ready!(this.poll_unsent(cx))?;
        if this.driver.conn.state() == State::Open {
            this.driver.conn.close(CloseCode::NORMAL, "")?;
        }
        this.poll_closed(cx)
    }
}
