//! The async client: `connect("ws://host:port/path").await` and its builder.

use alloc::string::String;
use alloc::vec;
use core::time::Duration;
use std::io;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ::tokio::net::TcpStream;

use super::{Error, MaybeTlsStream, WebSocket};
use crate::handshake::{ClientHandshake, ClientOptions, Response, Url};
use crate::{Config, Keepalive};

/// The default limit on the whole opening handshake, connection included: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to a `ws://` URL, or a `wss://` one with the `tls` feature (Mozilla's root
/// certificates; `ClientBuilder::tls_config` for others), with the default settings (see
/// [`ClientBuilder`]).
///
/// The stream is a [`MaybeTlsStream`] for either scheme, so a URL from configuration works
/// with both.
///
/// # Errors
/// [`Error::Handshake`] for a bad URL or a refused upgrade (with the server's status),
/// [`Error::Io`] when the connection fails (`Unsupported` for a `wss://` URL without the
/// `tls` feature), `Error::Tls` when the server's certificate is refused (untrusted, not
/// valid for the host, expired) or the TLS handshake fails otherwise, with advice in its
/// message, [`Error::HandshakeTimeout`] after 10 s (TCP, TLS and WebSocket handshakes
/// together).
///
/// ```no_run
/// # async fn run() -> Result<(), rfc6455::tokio::Error> {
/// let mut ws = rfc6455::tokio::connect("ws://127.0.0.1:9002/").await?;
/// ws.send_text("hello").await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<WebSocket<MaybeTlsStream>, Error> {
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
    #[cfg(feature = "tls")]
    tls: Option<alloc::sync::Arc<rustls::ClientConfig>>,
    proxy: crate::proxy::ProxyChoice,
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
            #[cfg(feature = "tls")]
            tls: None,
            proxy: crate::proxy::ProxyChoice::default(),
        }
    }

    /// Connects through this proxy, whatever the environment says, as
    /// [`blocking::ClientBuilder::proxy`](crate::blocking::ClientBuilder::proxy) does:
    /// `http://[user:password@]host[:port]` (HTTP `CONNECT`), `socks5://…` or
    /// `socks5h://…` (the host name resolved by the proxy).
    ///
    /// Without this, the proxy comes from the environment (`https_proxy` for `wss://`,
    /// `http_proxy` for `ws://`, `all_proxy`, minus the hosts `no_proxy` lists) unless
    /// [`ignore_proxy_env`](Self::ignore_proxy_env) is set. For `wss://`, TLS runs inside the
    /// tunnel, checked against the URL's host. The proxy's answer is read under the
    /// handshake's limits and within the handshake timeout.
    ///
    /// Errors are [`Error::Proxy`] and [`Error::ProxyUnreachable`].
    pub fn proxy(mut self, url: impl Into<String>) -> ClientBuilder {
        self.proxy.url = Some(url.into());
        self
    }

    /// Connects directly, ignoring the proxy variables. A [`proxy`](Self::proxy) given to
    /// the builder is still used.
    pub fn ignore_proxy_env(mut self) -> ClientBuilder {
        self.proxy.env = false;
        self
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

    /// The TLS configuration for `wss://` URLs (feature `tls`): a private CA's root, client
    /// certificates, another crypto provider. The default is the blocking adapters' (see
    /// [`blocking::ClientBuilder::tls_config`](crate::blocking::ClientBuilder::tls_config)):
    /// Mozilla's root certificates (`webpki-roots`), TLS 1.3 and 1.2, ALPN `http/1.1`. The
    /// server name sent (SNI) and checked is the URL's host. If the configuration offers ALPN
    /// protocols, offer `http/1.1` only.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use rfc6455::blocking::rustls;
    /// use rfc6455::tokio::ClientBuilder;
    ///
    /// let ca = std::fs::read("ca.der")?;
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.add(ca.into())?;
    /// let config = rustls::ClientConfig::builder_with_provider(Arc::new(
    ///     rustls::crypto::ring::default_provider(),
    /// ))
    /// .with_safe_default_protocol_versions()?
    /// .with_root_certificates(roots)
    /// .with_no_client_auth();
    /// let ws = ClientBuilder::new("wss://localhost:9443/")
    ///     .tls_config(Arc::new(config))
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: alloc::sync::Arc<rustls::ClientConfig>) -> ClientBuilder {
        self.tls = Some(config);
        self
    }

    /// Resolves the host, connects over TCP (then TLS for `wss://`) and performs the opening
    /// handshake, all within the handshake timeout.
    ///
    /// # Errors
    /// As for [`connect`].
    pub async fn connect(self) -> Result<WebSocket<MaybeTlsStream>, Error> {
        self.connect_with_response().await.map(|(ws, _)| ws)
    }

    /// [`connect`](Self::connect), also returning the server's validated 101 response (its
    /// headers, the chosen subprotocol, the accepted extensions).
    ///
    /// # Errors
    /// As for [`connect`].
    pub async fn connect_with_response(
        self,
    ) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
        let url = Url::parse(&self.url)?;
        #[cfg(not(feature = "tls"))]
        if url.is_secure() {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::Unsupported,
                "wss:// URLs need the `tls` feature of rfc6455, which this build does not \
                 include: enable it in Cargo.toml (rfc6455 = { features = [\"tokio\", \"tls\"] })",
            )));
        }
        let timeout = self.handshake_timeout;
        within(timeout, async {
            let tcp = match self.proxy.proxy(&url)? {
                None => self.tcp_connect(url.host(), url.port()).await?,
                Some(proxy) => {
                    let mut tcp = self
                        .tcp_connect(proxy.host(), proxy.port())
                        .await
                        .map_err(|e| super::proxy::unreachable(&proxy, e))?;
                    super::proxy::tunnel(&mut tcp, &proxy, &url, &self.options.limits).await?;
                    tcp
                }
            };
            tcp.set_nodelay(true)?;
            let stream = match url.is_secure() {
                #[cfg(feature = "tls")]
                true => MaybeTlsStream::from(
                    super::tls::client(tcp, url.host(), self.tls.as_ref()).await?,
                ),
                _ => MaybeTlsStream::Plain(tcp),
            };
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

    /// Connects to each address of `host` in turn, each attempt bounded by the connect
    /// timeout.
    async fn tcp_connect(&self, host: &str, port: u16) -> Result<TcpStream, Error> {
        let mut last = None;
        for addr in ::tokio::net::lookup_host((host, port)).await? {
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
