//! The async server side: accept a stream, optionally deciding on the request in a callback.

use alloc::boxed::Box;
use alloc::vec;
use core::time::Duration;
use std::io;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::client::{DEFAULT_HANDSHAKE_TIMEOUT, within};
use super::{Error, WebSocket};
use crate::blocking::DEFAULT_WRITE_TIMEOUT;
use crate::handshake::{Accept, Limits, Rejection, Request, ServerHandshake};
use crate::{Config, Keepalive};

/// Accepts a WebSocket connection on a stream (a `tokio::net::TcpStream`, or any
/// `AsyncRead + AsyncWrite + Unpin`) with the default settings of [`Acceptor`].
///
/// # Errors
/// [`Error::Handshake`] when the request is not a valid opening handshake (the matching
/// 400/405/426/431/505 response was sent), [`Error::HandshakeTimeout`] after 10 s, and I/O
/// errors.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9002").await?;
/// loop {
///     let (stream, _) = listener.accept().await?;
///     tokio::spawn(async move {
///         let mut ws = rfc6455::tokio::accept(stream).await?;
///         while let Some(message) = ws.read().await? {
///             ws.send(&message).await?; // an echo; a close is echoed by the library
///         }
///         Ok::<(), rfc6455::tokio::Error>(())
///     });
/// }
/// # }
/// ```
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Result<WebSocket<S>, Error> {
    Acceptor::new().accept(stream).await
}

/// Accepts a TLS connection on a TCP stream (feature `tls`) with the default settings of
/// [`Acceptor`]: the TLS handshake with `config`, then the opening handshake.
///
/// # Errors
/// As for [`Acceptor::accept_tls`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use rfc6455::blocking::rustls;
/// use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
///
/// let chain = CertificateDer::pem_file_iter("cert.pem")?.collect::<Result<Vec<_>, _>>()?;
/// let key = PrivateKeyDer::from_pem_file("key.pem")?;
/// let config = Arc::new(
///     rustls::ServerConfig::builder_with_provider(Arc::new(
///         rustls::crypto::ring::default_provider(),
///     ))
///     .with_safe_default_protocol_versions()?
///     .with_no_client_auth()
///     .with_single_cert(chain, key)?,
/// );
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
/// loop {
///     let (stream, _) = listener.accept().await?;
///     let config = Arc::clone(&config);
///     tokio::spawn(async move {
///         let mut ws = rfc6455::tokio::accept_tls(stream, config).await?;
///         while let Some(message) = ws.read().await? {
///             ws.send(&message).await?;
///         }
///         Ok::<(), rfc6455::tokio::Error>(())
///     });
/// }
/// # }
/// ```
#[cfg(feature = "tls")]
pub async fn accept_tls(
    stream: ::tokio::net::TcpStream,
    config: alloc::sync::Arc<rustls::ServerConfig>,
) -> Result<WebSocket<super::TlsStream<::tokio::net::TcpStream>>, Error> {
    Acceptor::new().accept_tls(stream, config).await
}

/// Accepts a connection after `decide` saw the request: it returns the [`Accept`] answer
/// (subprotocol, extensions, headers) or a [`Rejection`] (checking `Origin`, say).
///
/// # Errors
/// As for [`accept`]; a rejection is reported as [`Error::Refused`] after the refusal was
/// sent.
pub async fn accept_with<S, F>(stream: S, decide: F) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    Acceptor::new().accept_with(stream, decide).await
}

/// Settings for accepting connections: limits, handshake deadline, keepalive, compression.
///
/// The defaults are safe for a server facing untrusted clients: a 10 s handshake deadline,
/// keepalive pings after 20 s of silence with the peer given up after 40 s, a 5 s close
/// timeout, a 30 s write timeout (a peer that stops reading fails a send that waited that
/// long for it, see [`write_timeout`](Self::write_timeout)), and the limits of [`Config`] and
/// [`Limits`].
///
/// ```no_run
/// # async fn run(stream: tokio::net::TcpStream) -> Result<(), rfc6455::tokio::Error> {
/// use rfc6455::handshake::{Accept, Rejection};
/// use rfc6455::tokio::Acceptor;
///
/// let ws = Acceptor::new()
///     .accept_with(stream, |request| {
///         if request.origin() != Some("https://example.com") {
///             return Err(Rejection::forbidden().body("forbidden origin"));
///         }
///         let mut accept = Accept::default();
///         accept.protocol = request.protocols().iter().find(|p| *p == "chat").cloned();
///         Ok(accept)
///     })
///     .await?;
/// # Ok(())
/// # }
/// ```
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

    /// How long a send (and `flush`) may wait on a peer that takes no bytes: it then fails
    /// with a retryable `TimedOut` error ([`Error::is_retryable`]; what was not written stays
    /// queued), instead of holding the task for as long as the peer likes. Each byte the peer
    /// takes starts the wait again. Reads never fail this way. Default 30 s
    /// ([`DEFAULT_WRITE_TIMEOUT`]).
    pub fn write_timeout(mut self, timeout: Duration) -> Acceptor {
        self.write_timeout = Some(timeout);
        self
    }

    /// Lets sends wait for the peer without a limit (see
    /// [`write_timeout`](Self::write_timeout)).
    pub fn no_write_timeout(mut self) -> Acceptor {
        self.write_timeout = None;
        self
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

    /// Keepalive, in place of the config's (see [`Config::keepalive`]).
    pub fn keepalive(mut self, keepalive: Keepalive) -> Acceptor {
        self.keepalive = Some(keepalive);
        self
    }

    /// permessage-deflate: accepted with `DeflateConfig::default()` when a client offers it,
    /// unless set here (or in the callback's [`Accept`]); `None` declines.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: Option<crate::deflate::DeflateConfig>) -> Acceptor {
        self.deflate = config;
        self
    }

    /// Accepts a connection with these settings.
    ///
    /// # Errors
    /// As for [`accept`].
    pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
    ) -> Result<WebSocket<S>, Error> {
        self.accept_with(stream, |_| Ok(Accept::default())).await
    }

    /// Accepts a connection after `decide` saw the request, with these settings.
    ///
    /// # Errors
    /// As for [`accept_with`].
    pub async fn accept_with<S, F>(&self, stream: S, decide: F) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(&Request) -> Result<Accept, Rejection>,
    {
        // Boxed: the handshake's state (request buffer, parser, response, the timer) is about
        // 5 KiB, and a task awaiting it inline would keep that size for the connection's whole
        // life (a future is as large as its largest state). On the heap it is freed once the
        // handshake is done.
        Box::pin(within(
            self.handshake_timeout,
            self.handshake(stream, decide),
        ))
        .await
    }

    /// Accepts a TLS connection (feature `tls`): the TLS handshake with `config`, then the
    /// opening handshake, both within the handshake timeout. Keepalive, timeouts and
    /// [`into_split`](WebSocket::into_split) work as over plain TCP.
    ///
    /// # Errors
    /// As for [`accept`], and `Error::Tls` when the TLS handshake fails (a client that does
    /// not trust the certificate, or does not speak TLS), with advice in its message.
    #[cfg(feature = "tls")]
    pub async fn accept_tls(
        &self,
        stream: ::tokio::net::TcpStream,
        config: alloc::sync::Arc<rustls::ServerConfig>,
    ) -> Result<WebSocket<super::TlsStream<::tokio::net::TcpStream>>, Error> {
        self.accept_tls_with(stream, config, |_| Ok(Accept::default()))
            .await
    }

    /// Accepts a TLS connection after `decide` saw the request (see [`accept_with`] and
    /// [`accept_tls`](Self::accept_tls)).
    ///
    /// # Errors
    /// As for [`accept_tls`](Self::accept_tls); a rejection is reported as
    /// [`Error::Refused`] after the refusal was sent.
    #[cfg(feature = "tls")]
    pub async fn accept_tls_with<F>(
        &self,
        stream: ::tokio::net::TcpStream,
        config: alloc::sync::Arc<rustls::ServerConfig>,
        decide: F,
    ) -> Result<WebSocket<super::TlsStream<::tokio::net::TcpStream>>, Error>
    where
        F: FnOnce(&Request) -> Result<Accept, Rejection>,
    {
        stream.set_nodelay(true)?;
        within(self.handshake_timeout, async {
            let stream = super::tls::server(stream, config).await?;
            self.handshake(stream, decide).await
        })
        .await
    }

    async fn handshake<S, F>(&self, mut stream: S, decide: F) -> Result<WebSocket<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(&Request) -> Result<Accept, Rejection>,
    {
        let mut handshake = ServerHandshake::new(self.limits.clone());
        let mut buf = vec![0; 4096];
        let request = loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the client closed the connection during the opening handshake",
                )));
            }
            match handshake.recv(buf.get(..n).unwrap_or_default()) {
                Ok(Some(request)) => break request,
                Ok(None) => {}
                Err(e) => {
                    if let Some(response) = e.response() {
                        let _ = write_all(&mut stream, &response).await;
                    }
                    return Err(Error::Handshake(e));
                }
            }
        };
        #[allow(unused_mut)]
        let mut answer = match decide(&request) {
            Ok(accept) => accept,
            Err(no) => {
                write_all(&mut stream, &no.response()).await?;
                return Err(Error::Refused(no.status()));
            }
        };
        #[cfg(feature = "deflate")]
        if answer.deflate.is_none() {
            answer.deflate = self.deflate.clone();
        }
        let (response, conn) = match request.accept_connection(&answer, self.config.clone()) {
            Ok(accepted) => accepted,
            Err(e) => {
                // The application's answer cannot be sent as is: a server error.
                let refusal = Rejection::internal_server_error().response();
                let _ = write_all(&mut stream, &refusal).await;
                return Err(Error::Handshake(e));
            }
        };
        write_all(&mut stream, &response).await?;
        let mut ws = WebSocket::from_connection(stream, conn);
        ws.driver.write_timeout = self.write_timeout;
        ws.set_protocol(answer.protocol);
        if let Some(keepalive) = self.keepalive {
            ws.set_keepalive(keepalive);
        }
        Ok(ws)
    }
}

async fn write_all<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}
