//! The async client: `connect("ws://host:port/path").await` and its builder.

use alloc::string::String;
use alloc::vec;
use core::time::Duration;
use std::io;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::TcpStream;

use super::{Error, WebSocket};
use crate::handshake::{ClientHandshake, ClientOptions, Response, Url};
use crate::{Config, Keepalive};

/// The default limit on the whole opening handshake, connection included: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to a `ws://` URL with the default settings (see [`ClientBuilder`]).
///
/// # Errors
/// [`Error::Handshake`] for a bad URL or a refused upgrade (with the server's status),
/// [`Error::Io`] when the connection fails (`Unsupported` for a `wss://` URL: not yet
/// supported by the tokio adapter), [`Error::HandshakeTimeout`] after 10 s.
///
/// ```no_run
/// # async fn run() -> Result<(), rfc6455::tokio::Error> {
/// let mut ws = rfc6455::tokio::connect("ws://127.0.0.1:9002/").await?;
/// ws.send_text("hello").await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<WebSocket<TcpStream>, Error> {
    ClientBuilder::new(url).connect().await
}

/// Settings for an async client connection: subprotocols, headers, timeouts, keepalive,
/// compression.
///
/// ```no_run
/// # async fn run() -> Result<(), rfc6455::tokio::Error> {
/// use std::time::Duration;
/// use rfc6455::tokio::ClientBuilder;
///
/// let ws = ClientBuilder::new("ws://127.0.0.1:9002/chat")
///     .protocol("chat")
///     .header("Authorization", "Bearer s3cret")
///     .connect_timeout(Duration::from_secs(3))
///     .connect()
///     .await?;
/// println!("server chose {:?}", ws.protocol());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct ClientBuilder {
    url: String,
    options: ClientOptions,
    config: Config,
    connect_timeout: Option<Duration>,
    handshake_timeout: Duration,
    read_timeout: Option<Duration>,
    /// Overrides `config.keepalive` when set.
    keepalive: Option<Keepalive>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
}

impl ClientBuilder {
    /// A client for `url` (`ws://host[:port][/path][?query]`).
    pub fn new(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            options: ClientOptions::default(),
            config: Config::default(),
            connect_timeout: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            read_timeout: None,
            keepalive: None,
            #[cfg(feature = "deflate")]
            deflate: Some(crate::deflate::DeflateConfig::default()),
        }
    }

    /// Offers a subprotocol; call again for more, in order of preference.
    pub fn protocol(mut self, protocol: impl Into<String>) -> ClientBuilder {
        self.options = self.options.protocol(protocol);
        self
    }

    /// Offers an extension (one `Sec-WebSocket-Extensions` element).
    pub fn extension(mut self, offer: impl Into<String>) -> ClientBuilder {
        self.options = self.options.extension(offer);
        self
    }

    /// Adds a request header, such as `Authorization` or `Origin`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ClientBuilder {
        self.options = self.options.header(name, value);
        self
    }

    /// The connection's limits and behaviour.
    pub fn config(mut self, config: Config) -> ClientBuilder {
        self.config = config;
        self
    }

    /// The handshake's limits on the server's response.
    pub fn limits(mut self, limits: crate::handshake::Limits) -> ClientBuilder {
        self.options = self.options.limits(limits);
        self
    }

    /// How long to wait for each TCP connection attempt (default: the OS's, within the
    /// handshake timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The limit on the whole opening handshake, from the first connection attempt to the
    /// validated 101 response (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.handshake_timeout = timeout;
        self
    }

    /// The connection's read timeout (see [`WebSocket::set_read_timeout`]).
    pub fn read_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.read_timeout = Some(timeout);
        self
    }

    /// Keepalive pings and dead-peer detection, in place of the config's
    /// ([`Config::keepalive`]: a ping after 20 s of silence, the peer given up after 40 s, by
    /// default). `Keepalive::off()` turns it off.
    pub fn keepalive(mut self, keepalive: Keepalive) -> ClientBuilder {
        self.keepalive = Some(keepalive);
        self
    }

    /// permessage-deflate: offered with `DeflateConfig::default()` unless set here; `None`
    /// offers no compression.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: Option<crate::deflate::DeflateConfig>) -> ClientBuilder {
        self.deflate = config;
        self
    }

    /// Resolves the host, connects over TCP and performs the opening handshake, all within
    /// the handshake timeout.
    ///
    /// # Errors
    /// As for [`connect`].
    pub async fn connect(self) -> Result<WebSocket<TcpStream>, Error> {
        self.connect_with_response().await.map(|(ws, _)| ws)
    }

    /// [`connect`](Self::connect), also returning the server's validated 101 response (its
    /// headers, the chosen subprotocol, the accepted extensions).
    ///
    /// # Errors
    /// As for [`connect`].
    pub async fn connect_with_response(self) -> Result<(WebSocket<TcpStream>, Response), Error> {
        let url = Url::parse(&self.url)?;
        if url.is_secure() {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::Unsupported,
                "wss:// URLs are not supported by the tokio adapter yet: connect a TLS stream \
                 yourself (tokio-rustls) and pass it to ClientBuilder::connect_on",
            )));
        }
        let timeout = self.handshake_timeout;
        within(timeout, async {
            let stream = self.tcp_connect(&url).await?;
            stream.set_nodelay(true)?;
            self.handshake(stream, &url).await
        })
        .await
    }

    /// Performs the opening handshake over a stream the caller connected (a TLS stream, a
    /// Unix socket, a proxy tunnel), within the handshake timeout.
    ///
    /// # Errors
    /// As for [`connect`].
    pub async fn connect_on<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        stream: S,
    ) -> Result<WebSocket<S>, Error> {
        self.connect_on_with_response(stream)
            .await
            .map(|(ws, _)| ws)
    }

    /// [`connect_on`](Self::connect_on), also returning the server's 101 response.
    ///
    /// # Errors
    /// As for [`connect`].
    pub async fn connect_on_with_response<S: AsyncRead + AsyncWrite + Unpin>(
        self,
        stream: S,
    ) -> Result<(WebSocket<S>, Response), Error> {
        let url = Url::parse(&self.url)?;
        within(self.handshake_timeout, self.handshake(stream, &url)).await
    }

    /// Connects to each address of the URL's host in turn, each attempt bounded by the
    /// connect timeout.
    async fn tcp_connect(&self, url: &Url) -> Result<TcpStream, Error> {
        let mut last = None;
        for addr in ::tokio::net::lookup_host((url.host(), url.port())).await? {
            let attempt = TcpStream::connect(addr);
            let attempt = match self.connect_timeout {
                Some(t) => match ::tokio::time::timeout(t, attempt).await {
                    Ok(attempt) => attempt,
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the TCP connection attempt timed out",
                    )),
                },
                None => attempt.await,
            };
            match attempt {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(Error::Io(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "the host name resolved to no address",
            )
        })))
    }

    async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        url: &Url,
    ) -> Result<(WebSocket<S>, Response), Error> {
        #[allow(unused_mut)]
        let mut options = self.options.clone();
        #[cfg(feature = "deflate")]
        {
            options.deflate = self.deflate.clone();
        }
        let mut handshake = ClientHandshake::with_random_key(url, &options)?;
        stream.write_all(handshake.request()).await?;
        stream.flush().await?;
        let mut buf = vec![0; 4096];
        let mut response = loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(Error::Handshake(handshake.recv_eof()));
            }
            if let Some(response) = handshake.recv(buf.get(..n).unwrap_or_default())? {
                break response;
            }
        };
        let protocol = response.protocol().map(String::from);
        let conn = response.take_connection(self.config.clone());
        let mut ws = WebSocket::from_connection(stream, conn);
        ws.set_protocol(protocol);
        ws.set_read_timeout(self.read_timeout);
        if let Some(keepalive) = self.keepalive {
            ws.set_keepalive(keepalive);
        }
        Ok((ws, response))
    }
}

/// Runs a handshake within `timeout`: [`Error::HandshakeTimeout`] when it runs out.
pub(super) async fn within<T>(
    timeout: Duration,
    handshake: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match ::tokio::time::timeout(timeout, handshake).await {
        Ok(done) => done,
        Err(_) => Err(Error::HandshakeTimeout(timeout)),
    }
}
