//! Full duplex from two (or more) threads: a TCP connection split into a [`Reader`] and a
//! cloneable [`Writer`].
//!
//! How they share the connection, over TCP and over TLS, is told on [`Reader`].

use alloc::sync::Arc;
use alloc::vec::Vec;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use super::driver::{self, Link};
use super::socket::SplitParts;
use super::timers::{Armed, Clock, Keepalive};
use super::tls::Layer;
use super::{Error, MaybeTlsStream, Message, WebSocket, is_timeout};
use crate::conn::{Connection, MessageKind, State};
use crate::frame::CloseCode;
use crate::{SendError, TimeoutError};

/// Bytes read from the socket per system call by a [`Reader`].
const READ_SIZE: usize = 64 * 1024;

struct Shared {
    conn: Mutex<Connection>,
    io: Mutex<WriteSide>,
    /// The reader queued output while a writer held `io`.
    flush_wanted: AtomicBool,
    /// The close handshake is complete: end the socket's write side after the last bytes
    /// (with the flush that `flush_wanted` asks for).
    shutdown_wanted: AtomicBool,
    /// A deadline that passed while the reader was not looking (found by the close
    /// watchdog), for the reader to report.
    timed_out: Mutex<Option<TimeoutError>>,
    /// The reader's socket, for shutting it down from a writer's close watchdog.
    socket: TcpStream,
    clock: Clock,
    /// Plain, or the TLS session between the connection and the socket. Last, so that a TLS
    /// session's `close_notify` on drop follows everything written.
    layer: Layer,
}

/// The socket's write half and the bytes taken from the connection but not yet written.
struct WriteSide {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in another thread leaves the data consistent (no lock is held across a call
    // that can panic midway), so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl WriteSide {
    /// Moves everything the connection has queued into the write buffer (encrypted over
    /// TLS), with the records the TLS session queued itself.
    fn take_from(&mut self, conn: &mut Connection, layer: &Layer) -> io::Result<()> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        loop {
            let n = layer.seal(conn.pending_output(), &mut self.buf)?;
            conn.consume_output(n);
            if conn.pending_output().is_empty() {
                return Ok(());
            }
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
    }

    fn write_pending(&mut self) -> io::Result<()> {
        while self.pos < self.buf.len() {
            match self.stream.write(&self.buf[self.pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.pos += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.pos = 0;
        Ok(())
    }
}

impl Shared {
    /// Writes what the connection queued, unless a writer holds the write side: then the
    /// flag tells it to do so when it is done.
    fn flush_control(&self) -> io::Result<()> {
        self.flush_wanted.store(true, Ordering::SeqCst);
        loop {
            let mut io = match self.io.try_lock() {
                Ok(io) => io,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return Ok(()),
            };
            self.flush_wanted.store(false, Ordering::SeqCst);
            io.take_from(&mut lock(&self.conn), &self.layer)?;
            let shutdown = self.shutdown_wanted.swap(false, Ordering::SeqCst);
            if shutdown {
                self.layer.close_notify(&mut io.buf)?;
            }
            io.write_pending()?;
            if shutdown {
                io.stream.shutdown(Shutdown::Write)?;
            }
            drop(io);
            if !self.flush_wanted.load(Ordering::SeqCst) {
                return Ok(());
            }
        }
    }

    /// Ends the socket's write side (after a TLS `close_notify`) once everything queued is
    /// written: now, or by the writer that holds the write side. Best effort: the connection
    /// is over.
    fn shutdown_when_written(&self) {
        self.shutdown_wanted.store(true, Ordering::SeqCst);
        let _ = self.flush_control();
    }

    /// Queues a frame with `queue` and writes it out.
    ///
    /// `data` is the size of a data message (`None` for control frames): bytes left in the
    /// write buffer by an earlier retryable error count against
    /// [`write_buffer_cap`](crate::Config::write_buffer_cap) as the connection's own output
    /// does.
    fn send(
        &self,
        data: Option<usize>,
        queue: impl FnOnce(&mut Connection) -> Result<(), SendError>,
    ) -> Result<(), Error> {
        let mut io = lock(&self.io);
        {
            let mut conn = lock(&self.conn);
            let buffered = (io.buf.len() - io.pos) + conn.pending_output().len();
            let cap = conn.config().write_buffer_cap;
            if let Some(len) = data
                && buffered > 0
                && buffered.saturating_add(len) > cap
                && conn.state() == State::Open
            {
                return Err(Error::Send(SendError::BufferFull { buffered, cap }));
            }
            queue(&mut conn)?;
            io.take_from(&mut conn, &self.layer)?;
        }
        let written = io.write_pending();
        drop(io);
        if self.flush_wanted.load(Ordering::SeqCst) {
            self.flush_control()?;
        }
        Ok(written?)
    }
}

impl WebSocket<TcpStream> {
    /// Splits the connection into a [`Reader`] and a [`Writer`] for use from different
    /// threads at once. The reader keeps answering pings and completes the close handshake;
    /// the writer is `Clone + Send + Sync`, so a broadcast server can hold one per client.
    /// See [`Reader`] for how they share the connection.
    ///
    /// # Errors
    /// When the socket cannot be cloned.
    ///
    /// ```no_run
    /// let ws = rfc6455::blocking::connect("ws://127.0.0.1:9002/")?;
    /// let (mut reader, writer) = ws.split()?;
    /// let ticker = std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         writer.send_text(&format!("tick {i}"))?;
    ///     }
    ///     writer.close(rfc6455::CloseCode::NORMAL, "done")
    /// });
    /// while let Some(message) = reader.read()? {
    ///     println!("{message:?}");
    /// }
    /// ticker.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split(self) -> io::Result<(Reader, Writer)> {
        let parts = self.into_split_parts();
        let stream = parts.stream;
        split_over(
            stream,
            Layer::plain(),
            parts.conn,
            parts.clock,
            parts.read_timeout,
        )
    }
}

impl WebSocket<MaybeTlsStream> {
    /// Splits the connection into a [`Reader`] and a [`Writer`], over plain TCP or TLS alike;
    /// see [`WebSocket<TcpStream>::split`] and [`Reader`] for TLS.
    ///
    /// # Errors
    /// When the socket cannot be cloned.
    pub fn split(self) -> io::Result<(Reader, Writer)> {
        let SplitParts {
            stream,
            conn,
            clock,
            read_timeout,
        } = self.into_split_parts();
        match stream {
            MaybeTlsStream::Plain(tcp) => {
                split_over(tcp, Layer::plain(), conn, clock, read_timeout)
            }
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => split_tls(*tls, conn, clock, read_timeout),
        }
    }
}

#[cfg(feature = "tls")]
impl WebSocket<super::TlsStream> {
    /// Splits a TLS connection into a [`Reader`] and a [`Writer`]; see
    /// [`WebSocket<TcpStream>::split`] and [`Reader`] for how TLS is shared.
    ///
    /// # Errors
    /// When the socket cannot be cloned, or the TLS records already received are bad.
    pub fn split(self) -> io::Result<(Reader, Writer)> {
        let parts = self.into_split_parts();
        split_tls(parts.stream, parts.conn, parts.clock, parts.read_timeout)
    }
}

#[cfg(feature = "tls")]
fn split_tls(
    tls: super::TlsStream,
    mut conn: Connection,
    clock: Clock,
    read_timeout: Option<Duration>,
) -> io::Result<(Reader, Writer)> {
    let tcp = tls.tcp().try_clone()?;
    let layer = Layer::tls(tls, &mut deliver_to(&mut conn)).map_err(|e| match e {
        Error::Io(e) => e,
        Error::Tls(e) => io::Error::new(io::ErrorKind::InvalidData, e),
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    })?;
    split_over(tcp, layer, conn, clock, read_timeout)
}

/// Plaintext (or the end of the stream) from the socket into the connection.
fn deliver_to(conn: &mut Connection) -> impl FnMut(Option<&[u8]>) + '_ {
    |bytes| match bytes {
        Some(bytes) => conn.recv(bytes),
        None => conn.recv_eof(),
    }
}

/// The reader reads `stream`; the writers write a clone of it.
fn split_over(
    stream: TcpStream,
    layer: Layer,
    conn: Connection,
    clock: Clock,
    read_timeout: Option<Duration>,
) -> io::Result<(Reader, Writer)> {
    let write = stream.try_clone()?;
    let socket = stream.try_clone()?;
    let shared = Arc::new(Shared {
        conn: Mutex::new(conn),
        io: Mutex::new(WriteSide {
            stream: write,
            buf: Vec::new(),
            pos: 0,
        }),
        flush_wanted: AtomicBool::new(false),
        shutdown_wanted: AtomicBool::new(false),
        timed_out: Mutex::new(None),
        socket,
        clock,
        layer,
    });
    let reader = Reader {
        stream,
        shared: Arc::clone(&shared),
        buf: alloc::vec![0; READ_SIZE],
        armed: Armed::default(),
        read_timeout,
    };
    Ok((reader, Writer { shared }))
}

/// The receiving half of a split connection. See [`WebSocket::split`].
///
/// # How the halves share the connection
///
/// The [`Connection`] sits behind a mutex that is only ever held for in-memory work (parsing
/// received bytes, framing a message), never across a system call. Socket writes are
/// serialised by a second mutex that owns the write side's buffer. The reader reads from its
/// own clone of the socket without holding either lock, so a writer blocked on a slow peer
/// never stops the reader from draining its socket, and the reader never waits for a writer:
/// its pongs and close replies are written by whichever side next holds the write lock (a
/// flag hands them over when the reader finds a writer mid-write). Write order is frame
/// order: frames are encoded and appended to the write buffer under the same lock.
///
/// ## Over TLS
///
/// A TLS session cannot be cloned like a socket, so a split TLS connection (a `wss://`
/// client's [`MaybeTlsStream`], or a server's `TlsStream`) keeps the session behind a third
/// mutex, and works the same way: the reader reads ciphertext from its clone of the socket
/// without any lock, then decrypts it into the connection under the connection and session
/// locks; writers encrypt frames into the write buffer under the write, connection and
/// session locks, and write them to the socket holding the write lock only. No lock is held
/// across a system call, so a writer blocked on a slow peer never stops the reader, and
/// keepalive, read timeouts and the close handshake behave as over plain TCP. Records the
/// session sends on its own (alerts, key update answers) go out through the same hand-over
/// as pongs. Lock order: write side, connection, session.
///
/// ## Closing
///
/// Once the close handshake completes, a server's reader ends the socket's write side (after
/// a TLS `close_notify`) as soon as the close reply is written; a client's reader first waits
/// for the server to end the stream, for at most the close timeout
/// ([RFC 6455 section 7.1.1](https://www.rfc-editor.org/rfc/rfc6455#section-7.1.1)). After
/// [`Writer::close`], the reader waits at most the close timeout for the peer's close, from
/// the first read that waits for it; then [`read`](Reader::read) fails with
/// [`Error::CloseTimeout`] and the socket is shut down both ways, which also frees a writer
/// blocked on the dead peer.
pub struct Reader {
    stream: TcpStream,
    shared: Arc<Shared>,
    buf: Vec<u8>,
    armed: Armed,
    read_timeout: Option<Duration>,
}

impl core::fmt::Debug for Reader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reader")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// The next message, or `Ok(None)` once the connection is over. Pings are answered and
    /// the peer's close is echoed as for [`WebSocket::read`]; the reply is written before the
    /// message is handed over, so a write that fails (and is retried) loses no message.
    ///
    /// # Errors
    /// As for [`WebSocket::read`].
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        let clock = self.shared.clock;
        let deadline = self.read_timeout.map(|t| clock.after(t));
        lock(&self.shared.conn).set_read_deadline(deadline);
        let found = driver::pump(self, &clock).and_then(|found| self.reported().map(|()| found));
        let mut conn = lock(&self.shared.conn);
        conn.set_read_deadline(None);
        if !found? {
            return Ok(None);
        }
        Ok(conn.next_message()?)
    }

    /// A deadline the close watchdog found passed, reported once.
    fn reported(&self) -> Result<(), Error> {
        match lock(&self.shared.timed_out).take() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Makes [`read`](Self::read) fail with a retryable `TimedOut` error when no message
    /// arrives within `timeout` of the call.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.read_timeout = timeout;
    }

    /// How long the reader waits for the peer's close frame after ours was sent (default: the
    /// [`WebSocket`]'s, 5 s unless set), and how long a client's reader waits for the server to
    /// end the stream after the close handshake. See [`Reader`]'s closing section.
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        lock(&self.shared.conn).set_close_timeout(timeout);
    }

    /// Turns keepalive pings and dead-peer detection on or off.
    pub fn set_keepalive(&mut self, keepalive: Keepalive) {
        lock(&self.shared.conn).set_keepalive(keepalive);
    }

    /// A writer for the same connection.
    #[must_use]
    pub fn writer(&self) -> Writer {
        Writer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Link for Reader {
    type Conn<'a> = MutexGuard<'a, Connection>;

    fn conn(&mut self) -> MutexGuard<'_, Connection> {
        lock(&self.shared.conn)
    }

    fn read(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.armed
            .arm(&self.stream, TcpStream::set_read_timeout, timeout)?;
        let n = match self.stream.read(&mut self.buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted || is_timeout(&e) => {
                return self.reported();
            }
            Err(e) => return Err(e.into()),
        };
        self.reported()?;
        let bytes = (n > 0).then(|| &self.buf[..n]);
        // The connection's lock is released at the end of this statement.
        let opened = self
            .shared
            .layer
            .open(bytes, &mut deliver_to(&mut lock(&self.shared.conn)));
        match opened {
            Ok(false) => Ok(()),
            // TLS queued records of its own: an alert, a key update's answer.
            Ok(true) => Ok(self.shared.flush_control()?),
            Err(e) => {
                let _ = self.shared.flush_control();
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> Result<(), Error> {
        // Never waits for a writer: a writer stuck on a dead peer would stall the very read
        // that is to detect it. The hand-over only tries the write lock.
        Ok(self.shared.flush_control()?)
    }

    fn end_output(&mut self) {
        self.shared.shutdown_when_written();
    }

    fn abort(&mut self) {
        // Both ways, without waiting for the write lock, so a writer stuck on the peer fails
        // too.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

impl Shared {
    /// Runs the core's timers from a writer's thread after it started the close handshake:
    /// the close deadline starts now rather than at the reader's next wake-up. A reader
    /// blocked in a read that would outlast the deadline is woken when it passes by a
    /// watchdog thread, which gives the connection up and shuts the socket down.
    fn start_close_deadline(self: &Arc<Shared>) {
        let deadline = {
            let mut conn = lock(&self.conn);
            if let Err(e) = conn.handle_timeout(self.clock.now()) {
                *lock(&self.timed_out) = Some(e);
            }
            conn.poll_timeout()
        };
        self.carry_out_teardown();
        let Some(deadline) = deadline else {
            return;
        };
        let shared = Arc::clone(self);
        let watchdog = std::thread::Builder::new()
            .name("rfc6455-close-watchdog".into())
            .spawn(move || {
                std::thread::sleep(shared.clock.until(deadline));
                let mut conn = lock(&shared.conn);
                if let Err(e) = conn.handle_timeout(shared.clock.now()) {
                    if e.is_fatal() {
                        *lock(&shared.timed_out) = Some(e);
                    } else {
                        // A read deadline: the reader's own; leave it for the reader.
                        let deadline = shared.clock.now();
                        conn.set_read_deadline(Some(deadline));
                    }
                }
                drop(conn);
                shared.carry_out_teardown();
            });
        // Without a thread, the reader still finds the deadline at its next wake-up.
        drop(watchdog);
    }

    /// What the core decided about the socket, from a writer's or the watchdog's thread.
    fn carry_out_teardown(&self) {
        let step = lock(&self.conn).poll_teardown();
        match step {
            Some(crate::Teardown::EndOutput) => self.shutdown_when_written(),
            Some(crate::Teardown::Abort) => {
                let _ = self.socket.shutdown(Shutdown::Both);
            }
            _ => {}
        }
    }
}

/// The sending half of a split connection: cheap to clone, usable from any thread. See
/// [`WebSocket::split`].
#[derive(Clone)]
pub struct Writer {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Writer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Sends a text message and writes it out. Concurrent sends are written whole, one
    /// after another.
    ///
    /// # Errors
    /// As for [`WebSocket::send_text`].
    pub fn send_text(&self, text: &str) -> Result<(), Error> {
        self.shared
            .send(Some(text.len()), |conn| conn.send_text(text))
    }

    /// Sends a binary message and writes it out.
    ///
    /// # Errors
    /// As for [`WebSocket::send_text`].
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.shared
            .send(Some(data.len()), |conn| conn.send_binary(data))
    }

    /// Sends a ping.
    ///
    /// # Errors
    /// As for [`WebSocket::send_ping`].
    pub fn send_ping(&self, data: &[u8]) -> Result<(), Error> {
        self.shared.send(None, |conn| conn.send_ping(data))
    }

    /// Sends a pong.
    ///
    /// # Errors
    /// As for [`WebSocket::send_ping`].
    pub fn send_pong(&self, data: &[u8]) -> Result<(), Error> {
        self.shared.send(None, |conn| conn.send_pong(data))
    }

    /// Sends one fragment of a message and writes it out, as [`WebSocket::send_fragment`]
    /// does. The fragments of one message go out in order between other writers' frames;
    /// while a fragmented message is in progress, the other writers' data messages are refused
    /// with [`SendError::MessageInProgress`](crate::SendError::MessageInProgress) (pings and
    /// pongs still go out), so send a fragmented message from one thread at a time.
    ///
    /// # Errors
    /// As for [`WebSocket::send_fragment`].
    pub fn send_fragment(&self, kind: MessageKind, data: &[u8], fin: bool) -> Result<(), Error> {
        self.shared
            .send(Some(data.len()), |conn| conn.send_fragment(kind, data, fin))
    }

    /// Sends any [`Message`].
    ///
    /// # Errors
    /// As for [`WebSocket::send`].
    pub fn send(&self, message: &Message) -> Result<(), Error> {
        let data = match message {
            Message::Text(text) => Some(text.len()),
            Message::Binary(data) => Some(data.len()),
            _ => None,
        };
        let closing = matches!(message, Message::Close(..));
        let sent = self.shared.send(data, |conn| match message {
            Message::Text(text) => conn.send_text(text),
            Message::Binary(data) => conn.send_binary(data),
            Message::Ping(data) => conn.send_ping(data),
            Message::Pong(data) => conn.send_pong(data),
            Message::Close(code, reason) => conn.close(*code, reason),
        });
        if closing && !matches!(sent, Err(Error::Send(_))) {
            self.shared.start_close_deadline();
        }
        sent
    }

    /// Starts the close handshake. The [`Reader`] sees the peer's answer and then `Ok(None)`,
    /// or fails with [`Error::CloseTimeout`] when the answer does not come within the close
    /// timeout (see [`Reader::set_close_timeout`]).
    ///
    /// # Errors
    /// As for [`WebSocket::close`], without the wait.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let sent = self.shared.send(None, |conn| conn.close(code, reason));
        if !matches!(sent, Err(Error::Send(_))) {
            self.shared.start_close_deadline();
        }
        sent
    }

    /// Writes out anything left queued by an earlier retryable error.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn flush(&self) -> Result<(), Error> {
        self.shared.send(None, |_| Ok(()))
    }

    /// Whether the connection is closing or closed: sends will be refused.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.conn).state() != State::Open
    }
}
