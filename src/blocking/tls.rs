//! TLS for the blocking adapters: the stream [`connect`](super::connect) returns
//! ([`MaybeTlsStream`]) and, with the `tls` feature, [`TlsStream`] — a
//! [rustls](https://docs.rs/rustls) session over a `TcpStream`, client or server side.
//!
//! The TLS session is driven by hand rather than through `rustls::StreamOwned` so that
//! - the read timeout of the inner `TcpStream` is the stream's read timeout: keepalive, the
//!   close timeout and the handshake deadline work as over plain TCP, and a timed-out read
//!   loses nothing (rustls keeps a partly received record);
//! - the end of the stream means the same as over plain TCP: a peer that closes TCP without
//!   a TLS `close_notify` ends the stream (`Ok(0)`) instead of failing with `UnexpectedEof`,
//!   since the WebSocket close handshake already tells a clean end from a truncated one;
//! - a split connection ([`WebSocket::split`](super::WebSocket::split)) can share the session
//!   between a reader and writers without holding a lock across a system call (see
//!   [`Layer`]).

use alloc::vec::Vec;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::Error;

/// The stream of a client connection: plain TCP for `ws://`, TLS over TCP for `wss://`
/// (feature `tls`). One type for both, so code that takes a URL from its configuration works
/// with either scheme.
///
/// Reads and writes go through the TLS session when there is one; [`tcp`](Self::tcp) gives
/// the socket for its options (timeouts, `TCP_NODELAY`, addresses). Match on it to reach the
/// TLS session (peer certificates, negotiated protocol version).
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// A `ws://` connection.
    Plain(TcpStream),
    /// A `wss://` connection.
    #[cfg(feature = "tls")]
    Tls(alloc::boxed::Box<TlsStream>),
}

impl MaybeTlsStream {
    /// The TCP socket underneath. Reading or writing it directly corrupts the connection.
    #[must_use]
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.tcp(),
        }
    }

    /// Whether the connection is encrypted (`wss://`).
    #[must_use]
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }

    /// Sets the read timeout of the TCP socket: the
    /// [`TimeoutControl`](super::TimeoutControl) of this stream.
    ///
    /// # Errors
    /// As for `TcpStream::set_read_timeout`.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    /// Ends the sending direction: a TLS `close_notify` (over TLS), then
    /// `shutdown(Shutdown::Write)` of the TCP socket. The
    /// [`ShutdownControl`](super::ShutdownControl) of this stream; reading still works.
    ///
    /// # Errors
    /// When the socket fails to write or shut down.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.shutdown(std::net::Shutdown::Write),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.shutdown_write(),
        }
    }
}

impl From<TcpStream> for MaybeTlsStream {
    fn from(tcp: TcpStream) -> MaybeTlsStream {
        MaybeTlsStream::Plain(tcp)
    }
}

#[cfg(feature = "tls")]
impl From<TlsStream> for MaybeTlsStream {
    fn from(tls: TlsStream) -> MaybeTlsStream {
        MaybeTlsStream::Tls(alloc::boxed::Box::new(tls))
    }
}

impl Read for MaybeTlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.read(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for MaybeTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.write(buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.write_vectored(bufs),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.flush(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.flush(),
        }
    }
}

/// What sits between a split connection's socket and its [`Connection`](crate::Connection):
/// nothing, or a TLS
/// session.
///
/// The session is behind its own mutex, held only for in-memory work (decrypting bytes the
/// reader already read, encrypting frames into the write buffer), never across a system
/// call. Lock order: the write side, then the connection, then the session.
pub(crate) struct Layer {
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Mutex<TlsStream>>,
}

impl Layer {
    /// Plain TCP.
    pub(crate) fn plain() -> Layer {
        Layer {
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Moves `plain` into `out`, encrypted over TLS after any records the session queued
    /// itself (alerts, key updates); returns how much of `plain` was taken (all of it over
    /// plain TCP; over TLS at most the session's buffer, so call again with the rest).
    pub(crate) fn seal(&self, plain: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return lock(tls).seal(plain, out);
        }
        out.extend_from_slice(plain);
        Ok(plain.len())
    }

    /// Appends a TLS `close_notify` to `out` (nothing over plain TCP): the last bytes before
    /// the socket's write side is shut down.
    pub(crate) fn close_notify(&self, out: &mut Vec<u8>) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return lock(tls).close_notify(out);
        }
        let _ = out;
        Ok(())
    }

    /// Hands bytes read from the socket (`None`: the end of the stream) to `deliver`,
    /// decrypted over TLS: plaintext as `Some`, the end of the stream as `None`. `Ok(true)`:
    /// the session queued records to send ([`seal`](Self::seal) with nothing moves them out).
    ///
    /// # Errors
    /// [`Error::Tls`](super::Error) when the peer's records are bad; an alert is queued.
    pub(crate) fn open(
        &self,
        bytes: Option<&[u8]>,
        deliver: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<bool, Error> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return lock(tls).open(bytes, deliver);
        }
        deliver(bytes);
        Ok(false)
    }
}

#[cfg(feature = "tls")]
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing here panics midway through an update, so a poisoned lock is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(feature = "tls")]
pub use with_tls::TlsStream;
#[cfg(all(feature = "tls", feature = "tokio"))]
pub(crate) use with_tls::default_client_config;
#[cfg(feature = "tls")]
pub(crate) use with_tls::{client, server};

#[cfg(feature = "tls")]
mod with_tls {
    use alloc::string::ToString;
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use core::fmt;
    use std::io::{self, IoSlice, Read, Write};
    use std::net::TcpStream;
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

    use super::super::{Error, is_timeout};
    use super::Layer;

    /// A TLS session (client or server side) over a TCP stream: what
    /// [`Acceptor::accept_tls`](crate::blocking::Acceptor::accept_tls) and a `wss://`
    /// [`connect`](crate::blocking::connect) use.
    ///
    /// Reads and writes carry plaintext. A read that times out on the socket fails with the
    /// socket's `WouldBlock` or `TimedOut` and loses nothing; a peer that closes TCP without a
    /// TLS `close_notify` ends the stream (`Ok(0)`), as over plain TCP (the WebSocket close
    /// handshake tells a clean end from a truncated one). Written bytes are encrypted and
    /// queued in the session (at most 64 KiB) and go out with the next write or `flush`.
    ///
    /// Dropping the stream sends a `close_notify` if the socket takes it at once: the socket is
    /// put in non-blocking mode for that, so a drop never blocks.
    pub struct TlsStream {
        tls: rustls::Connection,
        tcp: TcpStream,
    }

    impl fmt::Debug for TlsStream {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("TlsStream")
                .field("tcp", &self.tcp)
                .field("version", &self.tls.protocol_version())
                .field("handshaking", &self.tls.is_handshaking())
                .finish_non_exhaustive()
        }
    }

    impl TlsStream {
        /// A TLS session over `tcp`. The TLS handshake runs with the first read or write; use
        /// it with [`ClientBuilder::connect_on`](crate::blocking::ClientBuilder::connect_on) or
        /// [`Acceptor::accept_stream_with`](crate::blocking::Acceptor::accept_stream_with) and
        /// [`TlsStream::set_read_timeout`] as the timeout control, or let
        /// [`connect`](crate::blocking::connect) and
        /// [`Acceptor::accept_tls`](crate::blocking::Acceptor::accept_tls) set it up.
        #[must_use]
        pub fn new(tls: impl Into<rustls::Connection>, tcp: TcpStream) -> TlsStream {
            TlsStream {
                tls: tls.into(),
                tcp,
            }
        }

        /// The TLS session: peer certificates, negotiated version, cipher suite, ALPN.
        #[must_use]
        pub fn session(&self) -> &rustls::Connection {
            &self.tls
        }

        /// The TCP socket underneath. Reading or writing it directly corrupts the session.
        #[must_use]
        pub fn tcp(&self) -> &TcpStream {
            &self.tcp
        }

        /// Sets the read timeout of the TCP socket: the
        /// [`TimeoutControl`](crate::blocking::TimeoutControl) of this stream.
        ///
        /// # Errors
        /// As for `TcpStream::set_read_timeout`.
        pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
            self.tcp.set_read_timeout(timeout)
        }

        /// Ends the sending direction: sends a TLS `close_notify` (after the handshake), then
        /// shuts down the TCP socket's write side. The
        /// [`ShutdownControl`](crate::blocking::ShutdownControl) of this stream; reading
        /// still works, and the peer reads the end of the stream.
        ///
        /// # Errors
        /// When the socket fails to write or shut down.
        pub fn shutdown_write(&mut self) -> io::Result<()> {
            if !self.tls.is_handshaking() {
                self.tls.send_close_notify();
            }
            self.write_pending()?;
            self.tcp.shutdown(std::net::Shutdown::Write)
        }

        /// [`Layer::close_notify`] over TLS.
        pub(super) fn close_notify(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
            self.tls.send_close_notify();
            while self.tls.wants_write() {
                self.tls.write_tls(out)?;
            }
            Ok(())
        }

        /// Writes every record the session has queued.
        fn write_pending(&mut self) -> io::Result<()> {
            while self.tls.wants_write() {
                match self.tls.write_tls(&mut self.tcp) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        }

        /// Processes the records received so far; on a bad one, sends the alert rustls queued.
        fn process(&mut self) -> Result<(), rustls::Error> {
            self.tls.process_new_packets().map(drop).inspect_err(|_| {
                let _ = self.write_pending();
            })
        }

        /// Runs the TLS handshake to its end, within `deadline` (`timeout` is what it was
        /// set from, for the error).
        fn handshake(&mut self, deadline: Instant, timeout: Duration) -> Result<(), Error> {
            let timed_out = |e: io::Error| {
                if is_timeout(&e) {
                    Error::HandshakeTimeout(timeout)
                } else {
                    Error::from(e)
                }
            };
            loop {
                self.write_pending().map_err(timed_out)?;
                if !self.tls.is_handshaking() {
                    return Ok(());
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::HandshakeTimeout(timeout));
                }
                self.tcp.set_read_timeout(Some(left))?;
                match self.tls.read_tls(&mut self.tcp) {
                    Ok(0) => {
                        return Err(Error::Io(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the peer closed the connection during the TLS handshake: is it speaking \
                             TLS? (a wss:// URL for a ws:// server or port, or the reverse)",
                        )));
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(timed_out(e)),
                }
                self.process().map_err(Error::Tls)?;
            }
        }

        /// [`Layer::seal`] over TLS.
        pub(super) fn seal(&mut self, plain: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
            self.tls.write_tls(out)?;
            // Accepts at most the session's buffer limit.
            let n = if plain.is_empty() {
                0
            } else {
                self.tls.writer().write(plain)?
            };
            while self.tls.wants_write() {
                self.tls.write_tls(out)?;
            }
            Ok(n)
        }

        /// [`Layer::open`] over TLS.
        pub(super) fn open(
            &mut self,
            bytes: Option<&[u8]>,
            deliver: &mut dyn FnMut(Option<&[u8]>),
        ) -> Result<bool, Error> {
            let mut rest = bytes.unwrap_or_default();
            if bytes.is_none() {
                self.tls.read_tls(&mut io::empty())?;
            }
            let mut plain = [0; 16 * 1024];
            loop {
                let before = rest.len();
                if !rest.is_empty() {
                    self.tls.read_tls(&mut rest)?;
                }
                self.tls.process_new_packets().map_err(Error::Tls)?;
                loop {
                    match self.tls.reader().read(&mut plain) {
                        Ok(0) => break deliver(None),
                        Ok(n) => deliver(Some(&plain[..n])),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break deliver(None),
                        Err(e) => return Err(e.into()),
                    }
                }
                // Done, or the session takes no more (after the peer's close_notify).
                if rest.is_empty() || rest.len() == before {
                    return Ok(self.tls.wants_write());
                }
            }
        }
    }

    impl Read for TlsStream {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            loop {
                match self.tls.reader().read(buf) {
                    // Ok(0): the peer's close_notify.
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // TCP closed without close_notify: an end of stream, as over plain TCP.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                // Nothing decrypted yet: send what the session queued (handshake messages,
                // alerts, key updates), then read more records.
                self.write_pending()?;
                self.tls.read_tls(&mut self.tcp)?;
                self.process()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
        }
    }

    impl Write for TlsStream {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        /// One TLS record for all the slices (a frame header and its payload), not one each.
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if self.tls.is_handshaking() {
                self.tls.complete_io(&mut self.tcp)?;
            }
            // Earlier records first: the session's buffer stays bounded, and their errors
            // are reported here.
            self.write_pending()?;
            self.tls.writer().write_vectored(bufs)
        }

        fn flush(&mut self) -> io::Result<()> {
            self.tls.writer().flush()?;
            self.write_pending()?;
            self.tcp.flush()
        }
    }

    impl Drop for TlsStream {
        fn drop(&mut self) {
            if !self.tls.is_handshaking() {
                self.tls.send_close_notify();
            }
            if self.tls.wants_write() && self.tcp.set_nonblocking(true).is_ok() {
                let _ = self.write_pending();
            }
        }
    }

    impl Layer {
        /// TLS over the socket, whose session may already hold received records: their
        /// plaintext goes to `deliver` now.
        pub(crate) fn tls(
            mut stream: TlsStream,
            deliver: &mut dyn FnMut(Option<&[u8]>),
        ) -> Result<Layer, Error> {
            stream.open(Some(&[]), deliver)?;
            Ok(Layer {
                tls: Some(std::sync::Mutex::new(stream)),
            })
        }
    }

    /// The client side: the TLS handshake over `tcp` for `host` (SNI and the name the
    /// certificate is checked against; an IP address is checked as one), within `deadline`.
    pub(crate) fn client(
        tcp: TcpStream,
        host: &str,
        config: Option<&Arc<ClientConfig>>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<TlsStream, Error> {
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                alloc::format!("{host:?} is not a valid TLS server name"),
            ))
        })?;
        let config = match config {
            Some(config) => Arc::clone(config),
            None => default_client_config()?,
        };
        let session = ClientConnection::new(config, name).map_err(Error::Tls)?;
        let mut stream = TlsStream::new(session, tcp);
        stream.handshake(deadline, timeout)?;
        Ok(stream)
    }

    /// The server side: the TLS handshake over `tcp` within `deadline`.
    pub(crate) fn server(
        tcp: TcpStream,
        config: Arc<ServerConfig>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<TlsStream, Error> {
        let session = ServerConnection::new(config).map_err(Error::Tls)?;
        let mut stream = TlsStream::new(session, tcp);
        stream.handshake(deadline, timeout)?;
        Ok(stream)
    }

    /// The client configuration for `wss://` without one of the caller's: Mozilla's root
    /// certificates (`webpki-roots`), the process's default crypto provider (`ring` when none
    /// is installed), TLS 1.3 and 1.2, ALPN `http/1.1`. Built once.
    pub(crate) fn default_client_config() -> Result<Arc<ClientConfig>, Error> {
        static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        if let Some(config) = CONFIG.get() {
            return Ok(Arc::clone(config));
        }
        let provider = CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(Error::Tls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alloc::vec![b"http/1.1".to_vec()];
        Ok(Arc::clone(CONFIG.get_or_init(|| Arc::new(config))))
    }
}
