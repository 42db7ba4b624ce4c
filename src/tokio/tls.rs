//! TLS for the async adapters: the stream [`connect`](super::connect) returns
//! ([`MaybeTlsStream`]) and, with the `tls` feature, [`TlsStream`] — a
//! [rustls](https://docs.rs/rustls) session over any `AsyncRead + AsyncWrite` stream, client or
//! server side.
//!
//! The session is driven by hand over the crate's own `rustls` dependency (the one of the
//! blocking adapters), so `tls` + `tokio` needs no further crate. As in the blocking
//! adapters, a peer that closes TCP without a TLS `close_notify` ends the stream (a read of
//! 0 bytes) instead of failing: the WebSocket close handshake already tells a clean end from
//! a truncated one.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io::{self, IoSlice};

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::TcpStream;

/// The stream of an async client connection: plain TCP for `ws://`, TLS over TCP for
/// `wss://` (feature `tls`). One type for both, so code that takes a URL from its
/// configuration works with either scheme.
///
/// Reads and writes go through the TLS session when there is one; [`tcp`](Self::tcp) gives
/// the socket for its options and addresses. Match on it to reach the TLS session.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// A `ws://` connection.
    Plain(TcpStream),
    /// A `wss://` connection.
    #[cfg(feature = "tls")]
    Tls(alloc::boxed::Box<TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP socket underneath. Reading or writing it directly corrupts the connection.
    #[must_use]
    pub fn tcp(&self) -> &TcpStream {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.get_ref(),
        }
    }

    /// Whether the connection is encrypted (`wss://`).
    #[must_use]
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }
}

impl From<TcpStream> for MaybeTlsStream {
    fn from(tcp: TcpStream) -> MaybeTlsStream {
        MaybeTlsStream::Plain(tcp)
    }
}

#[cfg(feature = "tls")]
impl From<TlsStream<TcpStream>> for MaybeTlsStream {
    fn from(tls: TlsStream<TcpStream>) -> MaybeTlsStream {
        MaybeTlsStream::Tls(alloc::boxed::Box::new(tls))
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => Pin::new(&mut **tls).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => Pin::new(&mut **tls).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => Pin::new(&mut **tls).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => Pin::new(&mut **tls).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(tls) => Pin::new(&mut **tls).poll_shutdown(cx),
        }
    }
}

#[cfg(feature = "tls")]
pub use with_tls::TlsStream;
#[cfg(feature = "tls")]
pub(crate) use with_tls::{client, server};

#[cfg(feature = "tls")]
mod with_tls {
    use alloc::string::ToString;
    use alloc::sync::Arc;
    use core::fmt;
    use core::pin::Pin;
    use core::task::{Context, Poll, ready};
    use std::io::{self, IoSlice, Read, Write};

    use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

    use super::super::Error;

    /// A TLS session (client or server side) over an async stream: what a `wss://`
    /// [`connect`](crate::tokio::connect) and
    /// [`Acceptor::accept_tls`](crate::tokio::Acceptor::accept_tls) use.
    ///
    /// Reads and writes carry plaintext. A peer that closes TCP without a TLS
    /// `close_notify` ends the stream (a read of 0 bytes), as over plain TCP. Written bytes
    /// are encrypted into the session (at most 64 KiB queued) and go out with the next write
    /// or flush; `poll_shutdown` sends a `close_notify` and shuts the stream down. Reads and
    /// writes keep their state in the session, so dropping one before it completes loses
    /// nothing.
    pub struct TlsStream<S> {
        tls: rustls::Connection,
        io: S,
    }

    impl<S: fmt::Debug> fmt::Debug for TlsStream<S> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("TlsStream")
                .field("io", &self.io)
                .field("version", &self.tls.protocol_version())
                .field("handshaking", &self.tls.is_handshaking())
                .finish_non_exhaustive()
        }
    }

    /// A `std::io` view of an async stream for one poll: `Pending` becomes `WouldBlock`.
    struct SyncIo<'a, 'b, S> {
        io: &'a mut S,
        cx: &'a mut Context<'b>,
    }

    impl<S: AsyncRead + Unpin> Read for SyncIo<'_, '_, S> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut buf = ReadBuf::new(buf);
            match Pin::new(&mut *self.io).poll_read(self.cx, &mut buf) {
                Poll::Ready(Ok(())) => Ok(buf.filled().len()),
                Poll::Ready(Err(e)) => Err(e),
                Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
            }
        }
    }

    impl<S: AsyncWrite + Unpin> Write for SyncIo<'_, '_, S> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            match Pin::new(&mut *self.io).poll_write(self.cx, buf) {
                Poll::Ready(done) => done,
                Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
            }
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            match Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs) {
                Poll::Ready(done) => done,
                Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            match Pin::new(&mut *self.io).poll_flush(self.cx) {
                Poll::Ready(done) => done,
                Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
            }
        }
    }

    fn pending_on_would_block<T>(result: io::Result<T>) -> Poll<io::Result<T>> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            done => Poll::Ready(done),
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
        /// A TLS session over `io`. The handshake runs with the first reads and writes;
        /// [`connect`](crate::tokio::connect) and
        /// [`Acceptor::accept_tls`](crate::tokio::Acceptor::accept_tls) run it to its end
        /// within the handshake deadline before the WebSocket handshake.
        #[must_use]
        pub fn new(tls: impl Into<rustls::Connection>, io: S) -> TlsStream<S> {
            TlsStream {
                tls: tls.into(),
                io,
            }
        }

        /// The TLS session: peer certificates, negotiated version, cipher suite, ALPN.
        #[must_use]
        pub fn session(&self) -> &rustls::Connection {
            &self.tls
        }

        /// The stream underneath. Reading or writing it directly corrupts the session.
        #[must_use]
        pub fn get_ref(&self) -> &S {
            &self.io
        }

        /// Writes every record the session queued.
        fn poll_write_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            while self.tls.wants_write() {
                let mut io = SyncIo {
                    io: &mut self.io,
                    cx,
                };
                match ready!(pending_on_would_block(self.tls.write_tls(&mut io))) {
                    Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Ok(_) => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            Poll::Ready(Ok(()))
        }

        /// Reads records into the session and processes them: `Ok(0)` at the end of the
        /// stream. A bad record fails with the rustls error, after its alert was sent if the
        /// stream took it at once.
        fn poll_read_records(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize, Error>> {
            let mut io = SyncIo {
                io: &mut self.io,
                cx,
            };
            let n = ready!(pending_on_would_block(self.tls.read_tls(&mut io)))?;
            if let Err(e) = self.tls.process_new_packets() {
                let _ = self.poll_write_pending(cx);
                return Poll::Ready(Err(Error::Tls(e)));
            }
            Poll::Ready(Ok(n))
        }

        /// Runs the TLS handshake to its end: `Ready(Ok)` once it is done and its last
        /// messages are written.
        fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            loop {
                ready!(self.poll_write_pending(cx))?;
                if !self.tls.is_handshaking() {
                    return Poll::Ready(Ok(()));
                }
                if ready!(self.poll_read_records(cx))? == 0 {
                    return Poll::Ready(Err(Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the connection during the TLS handshake: is it \
                         speaking TLS? (a wss:// URL for a ws:// server or port, or the \
                         reverse)",
                    ))));
                }
            }
        }

        /// Runs the TLS handshake to its end (the caller bounds it with a deadline).
        pub(crate) async fn handshake(&mut self) -> Result<(), Error> {
            core::future::poll_fn(|cx| self.poll_handshake(cx)).await
        }
    }

    /// A rustls error as an `io::Error` that [`Error`]'s `From<io::Error>` turns back into
    /// `Error::Tls`.
    fn into_io(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            Error::Tls(e) => io::Error::new(io::ErrorKind::InvalidData, e),
            other => io::Error::other(other.to_string()),
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            loop {
                match this.tls.reader().read(buf.initialize_unfilled()) {
                    // Ok(0): the peer's close_notify (or an empty buffer).
                    Ok(n) => {
                        buf.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // TCP closed without close_notify: an end of stream, as over plain TCP.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
                // Records the session queued (alerts, key updates) go out when the stream
                // takes them; a full stream does not hold up the read.
                if let Poll::Ready(Err(e)) = this.poll_write_pending(cx) {
                    return Poll::Ready(Err(e));
                }
                ready!(this.poll_read_records(cx)).map_err(into_io)?;
            }
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        /// One TLS record for all the slices (a frame header and its payload), not one each.
        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            // The handshake first (a stream used before it completed, as `connect_on` may):
            // plaintext written before it completes would wait in the session until a read.
            if this.tls.is_handshaking() {
                ready!(this.poll_handshake(cx)).map_err(into_io)?;
            }
            // Earlier records first: the session's buffer stays bounded.
            ready!(this.poll_write_pending(cx))?;
            let n = this.tls.writer().write_vectored(bufs)?;
            // Start sending now; what the stream does not take goes with the next call.
            if let Poll::Ready(Err(e)) = this.poll_write_pending(cx) {
                return Poll::Ready(Err(e));
            }
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            this.tls.writer().flush()?;
            ready!(this.poll_write_pending(cx))?;
            Pin::new(&mut this.io).poll_flush(cx)
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = self.get_mut();
            if !this.tls.is_handshaking() {
                // Queues one alert; repeated polls send nothing more (rustls sends it once).
                this.tls.send_close_notify();
            }
            ready!(this.poll_write_pending(cx))?;
            Pin::new(&mut this.io).poll_shutdown(cx)
        }
    }

    /// The client side: the TLS handshake over `io` for `host` (SNI and the name the
    /// certificate is checked against; an IP address is checked as one). The configuration
    /// without one of the caller's is the blocking adapters' default.
    pub(crate) async fn client<S: AsyncRead + AsyncWrite + Unpin>(
        io: S,
        host: &str,
        config: Option<&Arc<ClientConfig>>,
    ) -> Result<TlsStream<S>, Error> {
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            Error::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                alloc::format!("{host:?} is not a valid TLS server name"),
            ))
        })?;
        let config = match config {
            Some(config) => Arc::clone(config),
            None => crate::blocking::default_tls_client_config()?,
        };
        let session = ClientConnection::new(config, name).map_err(Error::Tls)?;
        let mut stream = TlsStream::new(session, io);
        stream.handshake().await?;
        Ok(stream)
    }

    /// The server side: the TLS handshake over `io` with `config`.
    pub(crate) async fn server<S: AsyncRead + AsyncWrite + Unpin>(
        io: S,
        config: Arc<ServerConfig>,
    ) -> Result<TlsStream<S>, Error> {
        let session = ServerConnection::new(config).map_err(Error::Tls)?;
        let mut stream = TlsStream::new(session, io);
        stream.handshake().await?;
        Ok(stream)
    }
}
