//! The blocking server side: accept a `TcpStream` (or any stream), optionally deciding on the
//! request in a callback.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::timers::{Keepalive, ShutdownControl, TimeoutControl};
use super::{Error, WebSocket, is_timeout};
use crate::Config;
use crate::handshake::{Accept, Limits, Request, ServerHandshake};

/// The default limit on the whole opening handshake, so a slowloris client cannot hold a
/// thread.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A refusal of the opening handshake, now built and checked by the handshake module.
pub use crate::handshake::Rejection;

/// Accepts a WebSocket connection on a TCP stream with the default settings.
///
/// # Errors
/// [`Error::Handshake`] when the request is not a valid opening handshake (the matching
/// 400/405/426/431/505 response was sent), [`Error::HandshakeTimeout`] after 10 s, and I/O
/// errors.
///
/// ```no_run
/// let listener = std::net::TcpListener::bind("127.0.0.1:9002")?;
/// let (stream, _) = listener.accept()?;
/// let mut ws = rfc6455::blocking::accept(stream)?;
/// while let Some(message) = ws.read()? {
///     println!("{message:?}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept(stream: TcpStream) -> Result<WebSocket<TcpStream>, Error> {
    Acceptor::new().accept(stream)
}

/// Accepts a connection after `decide` saw the request: it returns the [`Accept`] answer
/// (subprotocol, extensions, headers) or a [`Rejection`].
///
/// # Errors
/// As for [`accept`]; a rejection is reported as [`Error::Refused`] after the refusal was
/// sent.
///
/// ```no_run
/// use rfc6455::blocking::{accept_with, Rejection};
/// use rfc6455::handshake::Accept;
///
/// # let stream = std::net::TcpStream::connect("127.0.0.1:9002")?;
/// let ws = accept_with(stream, |request| {
///     if request.origin() != Some("https://example.com") {
///         return Err(Rejection::forbidden().body("forbidden origin"));
///     }
///     let mut accept = Accept::default();
///     accept.protocol = request.protocols().iter().find(|p| *p == "chat").cloned();
///     Ok(accept)
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_with<F>(stream: TcpStream, decide: F) -> Result<WebSocket<TcpStream>, Error>
where
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    Acceptor::new().accept_with(stream, decide)
}

/// Accepts a TLS connection on a TCP stream (feature `tls`) with the default settings: the
/// TLS handshake with `config`, then the opening handshake.
///
/// # Errors
/// As for [`Acceptor::accept_tls`].
///
/// ```no_run
/// use std::sync::Arc;
/// use rfc6455::blocking::{self, rustls};
/// use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
///
/// let certs = CertificateDer::pem_file_iter("cert.pem")?.collect::<Result<Vec<_>, _>>()?;
/// let key = PrivateKeyDer::from_pem_file("key.pem")?;
/// let config = rustls::ServerConfig::builder_with_provider(Arc::new(
///     rustls::crypto::ring::default_provider(),
/// ))
/// .with_safe_default_protocol_versions()?
/// .with_no_client_auth()
/// .with_single_cert(certs, key)?;
/// let config = Arc::new(config);
/// let listener = std::net::TcpListener::bind("127.0.0.1:9443")?;
/// for stream in listener.incoming() {
///     let mut ws = blocking::accept_tls(stream?, Arc::clone(&config))?;
///     while let Some(message) = ws.read()? {
///         println!("{message:?}");
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "tls")]
pub fn accept_tls(
    stream: TcpStream,
    config: alloc::sync::Arc<rustls::ServerConfig>,
) -> Result<WebSocket<super::TlsStream>, Error> {
    Acceptor::new().accept_tls(stream, config)
}

/// A server's default write timeout: with keepalive (on by default in [`Config`]), it makes
/// sure that neither a silent peer nor one that stops reading holds a server thread forever.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings for accepting connections: limits, handshake deadline, timeouts, keepalive.
///
/// The defaults are safe for a server facing untrusted clients: a 10 s handshake deadline,
/// a 30 s write timeout, keepalive pings after 20 s of silence with the peer given up after
/// 40 s, a 5 s close timeout, and the limits of [`Config`] and [`Limits`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Acceptor {
    config: Config,
    limits: Limits,
    handshake_timeout: Duration,
    write_timeout: Option<Duration>,
    /// Overrides `config.keepalive` when set.
    keepalive: Option<Keepalive>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
}

impl Default for Acceptor {
    fn default() -> Acceptor {
        Acceptor::new()
    }
}

impl Acceptor {
    /// The default settings.
    pub fn new() -> Acceptor {
        Acceptor {
            config: Config::default(),
            limits: Limits::default(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            keepalive: None,
            #[cfg(feature = "deflate")]
            deflate: Some(crate::deflate::DeflateConfig::default()),
        }
    }

    /// The connection's limits and behaviour.
    pub fn config(mut self, config: Config) -> Acceptor {
        self.config = config;
        self
    }

    /// The limits on the request's header block.
    pub fn limits(mut self, limits: Limits) -> Acceptor {
        self.limits = limits;
        self
    }

    /// The total time a client has to complete its request (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Acceptor {
        self.handshake_timeout = timeout;
        self
    }

    /// The socket's write timeout after the handshake: a send to a peer that stopped reading
    /// fails with a retryable `TimedOut` error after this long, instead of holding the
    /// thread for as long as the peer likes. Default 30 s ([`DEFAULT_WRITE_TIMEOUT`]).
    pub fn write_timeout(mut self, timeout: Duration) -> Acceptor {
        self.write_timeout = Some(timeout);
        self
    }

    /// Keepalive pings and dead-peer detection, in place of the config's
    /// ([`Config::keepalive`]: a ping after 20 s of silence, the peer given up after 40 s, by
    /// default). `Keepalive::off()` turns it off.
    pub fn keepalive(mut self, keepalive: Keepalive) -> Acceptor {
        self.keepalive = Some(keepalive);
        self
    }

    /// permessage-deflate: accepted per [`DeflateConfig::default`] when a client offers it,
    /// unless set here; `None` declines every offer. The answer is added to the
    /// application's [`Accept`] automatically.
    ///
    /// [`DeflateConfig::default`]: crate::deflate::DeflateConfig
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: Option<crate::deflate::DeflateConfig>) -> Acceptor {
        self.deflate = config;
        self
    }

    /// Accepts every valid request, choosing no subprotocol.
    ///
    /// # Errors
    /// As for [`accept`].
    pub fn accept(&self, stream: TcpStream) -> Result<WebSocket<TcpStream>, Error> {
        self.accept_with(stream, |_| Ok(Accept::default()))
    }

    /// Accepts after `decide` saw the request.
    ///
    /// # Errors
    /// As for [`accept_with`].
    pub fn accept_with<F>(
        &self,
        stream: TcpStream,
        decide: F,
    ) -> Result<WebSocket<TcpStream>, Error>
    where
        F: FnOnce(&Request) -> Result<Accept, Rejection>,
    {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(self.handshake_timeout))?;
        let finish = Finish {
            write_timeout: TcpStream::set_write_timeout,
            shutdown: super::socket::shutdown_tcp,
        };
        let control: TimeoutControl<TcpStream> = TcpStream::set_read_timeout;
        let deadline = deadline_after(self.handshake_timeout);
        self.accept_until(stream, Some(control), Some(finish), decide, deadline)
    }

    /// Accepts a TLS connection (feature `tls`): the TLS handshake with `config`, then the
    /// opening handshake, both within the handshake timeout. Keepalive, timeouts and
    /// [`split`](WebSocket::split) work as over plain TCP.
    ///
    /// # Errors
    /// As for [`accept`], and `Error::Tls` when the TLS handshake fails (a client that does
    /// not trust the certificate, or does not speak TLS).
    #[cfg(feature = "tls")]
    pub fn accept_tls(
        &self,
        stream: TcpStream,
        config: alloc::sync::Arc<rustls::ServerConfig>,
    ) -> Result<WebSocket<super::TlsStream>, Error> {
        self.accept_tls_with(stream, config, |_| Ok(Accept::default()))
    }

    /// Accepts a TLS connection after `decide` saw the request (see [`accept_with`] and
    /// [`accept_tls`](Self::accept_tls)).
    ///
    /// # Errors
    /// As for [`accept_tls`](Self::accept_tls); a rejection is reported as
    /// [`Error::Refused`] after the refusal was sent.
    #[cfg(feature = "tls")]
    pub fn accept_tls_with<F>(
        &self,
        stream: TcpStream,
        config: alloc::sync::Arc<rustls::ServerConfig>,
        decide: F,
    ) -> Result<WebSocket<super::TlsStream>, Error>
    where
        F: FnOnce(&Request) -> Result<Accept, Rejection>,
    {
        let deadline = deadline_after(self.handshake_timeout);
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(self.handshake_timeout))?;
        let stream = super::tls::server(
            stream,
            config,
            far_deadline(deadline),
            self.handshake_timeout,
        )?;
        let control: TimeoutControl<super::TlsStream> = super::TlsStream::set_read_timeout;
        let finish = Finish {
            write_timeout: |stream: &super::TlsStream, timeout| {
                stream.tcp().set_write_timeout(timeout)
            },
            shutdown: super::TlsStream::shutdown_write,
        };
        self.accept_until(stream, Some(control), Some(finish), decide, deadline)
    }

    /// Accepts on any stream. With a `control`, the handshake deadline and the keepalive
    /// work as on TCP; without one, the handshake waits as long as the stream does. To end
    /// the stream after the close handshake, add a [`ShutdownControl`](super::ShutdownControl)
    /// with [`WebSocket::with_shutdown_control`].
    ///
    /// # Errors
    /// As for [`accept_with`].
    pub fn accept_stream_with<S, F>(
        &self,
        stream: S,
        control: Option<TimeoutControl<S>>,
        decide: F,
    ) -> Result<WebSocket<S>, Error>
    where
        S: Read + Write,
        F: FnOnce(&Request) -> Result<Accept, Rejection>,
    {
        let deadline = deadline_after(self.handshake_timeout);
        self.accept_until(stream, control, None, decide, deadline)
    }

    fn accept_until<S, F>(
        &self,
        mut stream: S,
        control: Option<TimeoutControl<S>>,
        finish: Option<Finish<S>>,
        decide: F,
        deadline: Option<Instant>,
    ) -> Result<WebSocket<S>, Error>
    where
        S: Read + Write,
        F: FnOnce(&Request) -> Result<Accept, Rejection>,
    {
        // Two steps that are never on the stack together: reading the request, then opening
        // the connection, whose callers get it finished (write timeout, shutdown) instead of
        // holding copies of it to finish it. A server thread's stack pages, once touched,
        // stay for the life of the connection, so the handshake's deepest point sets what
        // every idle connection costs (see `scripts/soak.sh`).
        let (request, answer) = self.read_request(&mut stream, control, decide, deadline)?;
        self.open(stream, control, finish, request, answer)
    }

    /// Reads the request and answers a failed or refused one.
    #[inline(never)]
    fn read_request<S, F>(
        &self,
        stream: &mut S,
        control: Option<TimeoutControl<S>>,
        decide: F,
        deadline: Option<Instant>,
    ) -> Result<(Request, Accept), Error>
    where
        S: Read + Write,
        F: FnOnce(&Request) -> Result<Accept, Rejection>,
    {
        let mut handshake = ServerHandshake::new(self.limits.clone());
        let read = |data: Option<&[u8]>| match data {
            Some(data) => handshake.recv(data).map_err(Error::Handshake),
            None => Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the client closed the connection during the opening handshake",
            ))),
        };
        let timeout = self.handshake_timeout;
        let request = match read_handshake(stream, control, deadline, timeout, read) {
            Ok(request) => request,
            Err(Error::Handshake(e)) => {
                if let Some(response) = e.response() {
                    let _ = stream.write_all(&response).and_then(|()| stream.flush());
                }
                return Err(Error::Handshake(e));
            }
            Err(e) => return Err(e),
        };
        #[allow(unused_mut)]
        let mut answer = match decide(&request) {
            Ok(accept) => accept,
            Err(no) => {
                stream.write_all(&no.response())?;
                stream.flush()?;
                return Err(Error::Refused(no.status()));
            }
        };
        #[cfg(feature = "deflate")]
        if answer.deflate.is_none() {
            answer.deflate = self.deflate.clone();
        }
        Ok((request, answer))
    }

    /// Writes the 101 for `answer` and hands over the connection.
    #[inline(never)]
    fn open<S: Read + Write>(
        &self,
        mut stream: S,
        control: Option<TimeoutControl<S>>,
        finish: Option<Finish<S>>,
        request: Request,
        answer: Accept,
    ) -> Result<WebSocket<S>, Error> {
        let (response, mut conn) = match request.accept_connection(&answer, self.config.clone()) {
            Ok(accepted) => accepted,
            Err(e) => {
                // The application's answer cannot be sent as is: a server error.
                let _ = stream
                    .write_all(&Rejection::internal_server_error().response())
                    .and_then(|()| stream.flush());
                return Err(Error::Handshake(e));
            }
        };
        stream.write_all(&response)?;
        stream.flush()?;
        if let Some(control) = control {
            control(&stream, None)?;
        }
        if let Some(finish) = finish {
            (finish.write_timeout)(&stream, self.write_timeout)?;
        }
        if let Some(keepalive) = self.keepalive {
            conn.set_keepalive(keepalive);
        }
        // One expression per case: fewer copies of the connection in this frame than a
        // chain of reassignments.
        let ws = WebSocket::from_connection(stream, conn);
        let mut ws = match (control, finish) {
            (Some(control), Some(finish)) => ws
                .with_timeout_control(control)
                .with_shutdown_control(finish.shutdown),
            (Some(control), None) => ws.with_timeout_control(control),
            (None, Some(finish)) => ws.with_shutdown_control(finish.shutdown),
            (None, None) => ws,
        };
        ws.set_protocol(answer.protocol);
        Ok(ws)
    }
}

/// What a server does to a transport it accepted itself once the handshake is done: set the
/// write timeout it keeps from then on, and end the stream after the close handshake.
struct Finish<S> {
    write_timeout: TimeoutControl<S>,
    shutdown: ShutdownControl<S>,
}

impl<S> Clone for Finish<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Finish<S> {}

/// `timeout` from now, or `None` (no deadline) when that is beyond what an [`Instant`] can
/// hold, as for `Duration::MAX`.
pub(super) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// A deadline for code that needs an [`Instant`]: `deadline`, or about a century from now
/// when there is none.
#[cfg(feature = "tls")]
pub(super) fn far_deadline(deadline: Option<Instant>) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let now = Instant::now();
    deadline.or_else(|| now.checked_add(CENTURY)).unwrap_or(now)
}

/// The size of the handshake's reads: a typical request or response in one read.
const HANDSHAKE_READ: usize = 4096;

/// The one handshake reader of both sides: reads from `stream` and hands every chunk to
/// `feed` until it returns a value or fails, and `None` at the end of the stream (where it
/// must fail). With a `control` and a `deadline`, each read waits at most until the
/// deadline, and running out of time is [`Error::HandshakeTimeout`] with `timeout`;
/// without them, the stream's own timeouts apply.
pub(super) fn read_handshake<S: Read, T>(
    stream: &mut S,
    control: Option<TimeoutControl<S>>,
    deadline: Option<Instant>,
    timeout: Duration,
    mut feed: impl FnMut(Option<&[u8]>) -> Result<Option<T>, Error>,
) -> Result<T, Error> {
    let timed = control.zip(deadline);
    // On the heap: on the stack it would be a page that every server thread touches and
    // keeps for the life of its connection. Freed before the connection allocates its
    // receive buffer of the same size, which can then take the same memory.
    let mut buf = alloc::vec![0; HANDSHAKE_READ];
    loop {
        if let Some((control, deadline)) = timed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::HandshakeTimeout(timeout));
            }
            control(stream, Some(left))?;
        }
        let n = match stream.read(&mut buf) {
            Ok(0) => match feed(None)? {
                Some(done) => return Ok(done),
                None => continue,
            },
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) && timed.is_some() => {
                return Err(Error::HandshakeTimeout(timeout));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(done) = feed(Some(buf.get(..n).unwrap_or_default()))? {
            return Ok(done);
        }
    }
}
