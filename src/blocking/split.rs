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
use std::time::{Duration, Instant};

use super::timers::{Expired, Keepalive, Timers};
use super::tls::Layer;
use super::{Error, MaybeTlsStream, Message, WebSocket, is_timeout};
use crate::conn::{Connection, MessageKind, Role, State};
use crate::frame::CloseCode;

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
    /// TLS).
    fn take_from(&mut self, conn: &mut Connection, layer: &Layer) -> io::Result<()> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        layer.seal(conn, &mut self.buf)
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
    fn send(
        &self,
        queue: impl FnOnce(&mut Connection) -> Result<(), crate::SendError>,
    ) -> Result<(), Error> {
        let mut io = lock(&self.io);
        {
            let mut conn = lock(&self.conn);
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
        let (stream, conn, timers) = self.into_split_parts();
        split_over(stream, Layer::plain(), conn, timers)
    }
}

impl WebSocket<MaybeTlsStream> {
    /// Splits the connection into a [`Reader`] and a [`Writer`], over plain TCP or TLS alike;
    /// see [`WebSocket<TcpStream>::split`] and [`Reader`] for TLS.
    ///
    /// # Errors
    /// When the socket cannot be cloned.
    pub fn split(self) -> io::Result<(Reader, Writer)> {
        let (stream, conn, timers) = self.into_split_parts();
        match stream {
            MaybeTlsStream::Plain(tcp) => split_over(tcp, Layer::plain(), conn, timers),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => split_tls(*tls, conn, timers),
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
        let (stream, conn, timers) = self.into_split_parts();
        split_tls(stream, conn, timers)
    }
}

#[cfg(feature = "tls")]
fn split_tls(
    tls: super::TlsStream,
    mut conn: Connection,
    timers: Timers,
) -> io::Result<(Reader, Writer)> {
    let tcp = tls.tcp().try_clone()?;
    let layer = Layer::tls(tls, &mut conn).map_err(|e| match e {
        Error::Io(e) => e,
        Error::Tls(e) => io::Error::new(io::ErrorKind::InvalidData, e),
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    })?;
    split_over(tcp, layer, conn, timers)
}

/// The reader reads `stream`; the writers write a clone of it.
fn split_over(
    stream: TcpStream,
    layer: Layer,
    conn: Connection,
    timers: Timers,
) -> io::Result<(Reader, Writer)> {
    let write = stream.try_clone()?;
    let shared = Arc::new(Shared {
        conn: Mutex::new(conn),
        io: Mutex::new(WriteSide {
            stream: write,
            buf: Vec::new(),
            pos: 0,
        }),
        flush_wanted: AtomicBool::new(false),
        shutdown_wanted: AtomicBool::new(false),
        layer,
    });
    let reader = Reader {
        stream,
        shared: Arc::clone(&shared),
        buf: alloc::vec![0; READ_SIZE],
        timers,
        ended: false,
        abandoned: false,
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
    timers: Timers,
    /// The write side was ended after the close handshake, or the socket shut down.
    ended: bool,
    /// The close timeout passed: the connection is over although it never reached `Closed`.
    abandoned: bool,
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
    /// the peer's close is echoed as for [`WebSocket::read`].
    ///
    /// # Errors
    /// As for [`WebSocket::read`].
    pub fn read(&mut self) -> Result<Option<Message>, Error> {
        if self.abandoned {
            return Ok(None);
        }
        self.timers.start_read();
        loop {
            let mut conn = lock(&self.shared.conn);
            let polled = conn.poll();
            let message = match polled {
                Ok(true) => conn.take_event().map(Message::from),
                Ok(false) => None,
                Err(e) => {
                    drop(conn);
                    let _ = self.shared.flush_control();
                    return Err(Error::Protocol(e));
                }
            };
            let (state, role) = (conn.state(), conn.role());
            let has_output = !conn.pending_output().is_empty();
            drop(conn);
            if has_output {
                self.shared.flush_control()?;
            }
            if state == State::Closed && role == Role::Server && !self.ended {
                // RFC 6455 section 7.1.1: the server closes the TCP connection first, as soon
                // as the close handshake is complete.
                self.ended = true;
                self.shared.shutdown_when_written();
            }
            if message.is_some() {
                return Ok(message);
            }
            match state {
                State::Failed => return Ok(None),
                State::Closed => {
                    if !self.ended {
                        self.ended = true;
                        self.wait_for_eof();
                        self.shared.shutdown_when_written();
                    }
                    return Ok(None);
                }
                State::Open | State::Closing => self.fill(state)?,
            }
        }
    }

    fn fill(&mut self, state: State) -> Result<(), Error> {
        if state == State::Closing {
            self.timers.closing();
        }
        self.timers
            .arm(&self.stream, Some(TcpStream::set_read_timeout))?;
        match self.stream.read(&mut self.buf) {
            Ok(n) => {
                if n > 0 {
                    self.timers.heard();
                }
                let bytes = (n > 0).then(|| &self.buf[..n]);
                // The connection's lock is released at the end of this statement.
                let opened = self.shared.layer.open(&mut lock(&self.shared.conn), bytes);
                match opened {
                    Ok(false) => {}
                    // TLS queued records of its own: an alert, a key update's answer.
                    Ok(true) => self.shared.flush_control()?,
                    Err(e) => {
                        let _ = self.shared.flush_control();
                        return Err(e);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => match self.timers.expired(e, state == State::Open) {
                Expired::Ping => {
                    // Never wait for a writer: a writer stuck on a dead peer would stall the
                    // very read that is to detect it. The hand-over path only tries the lock.
                    lock(&self.shared.conn).send_ping(b"keepalive")?;
                    self.shared.flush_control()?;
                }
                Expired::Resume => {}
                Expired::Fail(e) => {
                    if matches!(e, Error::CloseTimeout(_)) {
                        // The peer never answered: the connection is over. Both ways, without
                        // waiting for the write lock, so a writer stuck on the peer fails too.
                        self.abandoned = true;
                        self.ended = true;
                        let _ = self.stream.shutdown(Shutdown::Both);
                    }
                    return Err(e);
                }
            },
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// After the close handshake, a client waits (up to the close timeout) for the server to
    /// end the stream.
    fn wait_for_eof(&mut self) {
        if self
            .stream
            .set_read_timeout(Some(self.timers.close_timeout))
            .is_err()
        {
            return;
        }
        self.timers.disarm();
        let started = Instant::now();
        while started.elapsed() < self.timers.close_timeout {
            match self.stream.read(&mut self.buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Makes [`read`](Self::read) fail with a retryable `TimedOut` error when no message
    /// arrives within `timeout`.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) {
        self.timers.read_timeout = timeout;
    }

    /// How long the reader waits for the peer's close frame after ours was sent (default: the
    /// [`WebSocket`]'s, 5 s unless set), and how long a client's reader waits for the server to
    /// end the stream after the close handshake. See [`Reader`]'s closing section.
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.timers.close_timeout = timeout;
    }

    /// Turns keepalive pings and dead-peer detection on or off.
    pub fn set_keepalive(&mut self, keepalive: Keepalive) {
        self.timers.keepalive = keepalive;
    }

    /// A writer for the same connection.
    #[must_use]
    pub fn writer(&self) -> Writer {
        Writer {
            shared: Arc::clone(&self.shared),
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
        self.shared.send(|conn| conn.send_text(text))
    }

    /// Sends a binary message and writes it out.
    ///
    /// # Errors
    /// As for [`WebSocket::send_text`].
    pub fn send_binary(&self, data: &[u8]) -> Result<(), Error> {
        self.shared.send(|conn| conn.send_binary(data))
    }

    /// Sends a ping.
    ///
    /// # Errors
    /// As for [`WebSocket::send_ping`].
    pub fn send_ping(&self, data: &[u8]) -> Result<(), Error> {
        self.shared.send(|conn| conn.send_ping(data))
    }

    /// Sends a pong.
    ///
    /// # Errors
    /// As for [`WebSocket::send_ping`].
    pub fn send_pong(&self, data: &[u8]) -> Result<(), Error> {
        self.shared.send(|conn| conn.send_pong(data))
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
        self.shared.send(|conn| conn.send_fragment(kind, data, fin))
    }

    /// Sends any [`Message`].
    ///
    /// # Errors
    /// As for [`WebSocket::send`].
    pub fn send(&self, message: &Message) -> Result<(), Error> {
        self.shared.send(|conn| match message {
            Message::Text(text) => conn.send_text(text),
            Message::Binary(data) => conn.send_binary(data),
            Message::Ping(data) => conn.send_ping(data),
            Message::Pong(data) => conn.send_pong(data),
            Message::Close(code, reason) => conn.close(*code, reason),
        })
    }

    /// Starts the close handshake. The [`Reader`] sees the peer's answer and then `Ok(None)`,
    /// or fails with [`Error::CloseTimeout`] when the answer does not come within the close
    /// timeout (see [`Reader::set_close_timeout`]).
    ///
    /// # Errors
    /// As for [`WebSocket::close`], without the wait.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.shared.send(|conn| conn.close(code, reason))
    }

    /// Writes out anything left queued by an earlier retryable error.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn flush(&self) -> Result<(), Error> {
        self.shared.send(|_| Ok(()))
    }

    /// Whether the connection is closing or closed: sends will be refused.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.conn).state() != State::Open
    }
}
