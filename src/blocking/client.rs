//! The blocking client: `connect("ws://host:port/path")` and its builder.

use alloc::string::String;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::server::{deadline_after, read_handshake};
use super::timers::{Keepalive, TimeoutControl};
use super::{Error, MaybeTlsStream, WebSocket};
use crate::Config;
use crate::handshake::{ClientHandshake, ClientOptions, Response, Url};

/// The default limit on the whole opening handshake, connection included.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to a `ws://` URL, or a `wss://` one with the `tls` feature (Mozilla's root
/// certificates; `ClientBuilder::tls_config` for others), with the default settings.
///
/// The stream is a [`MaybeTlsStream`] for either scheme, so a URL from configuration works
/// as it is; timeouts, keepalive and [`split`](WebSocket::split) work the same over both.
///
/// # Errors
/// [`Error::Handshake`] for a bad URL or a refused upgrade (with the server's status),
/// [`Error::Io`] when the connection fails (`Unsupported` for a `wss://` URL without the
/// `tls` feature), `Error::Tls` when the server's certificate is refused (untrusted, not
/// valid for the host, expired) or TLS fails otherwise, [`Error::HandshakeTimeout`] after
/// 10 s. Through a proxy (the environment's: see [`ClientBuilder::proxy`]),
/// [`Error::Proxy`] when it refuses the tunnel or does not speak its protocol, and
/// [`Error::ProxyUnreachable`] when it cannot be reached.
///
/// ```no_run
/// let mut ws = rfc6455::blocking::connect("ws://127.0.0.1:9002/")?;
/// ws.send_text("hello")?;
/// # Ok::<(), rfc6455::blocking::Error>(())
/// ```
pub fn connect(url: &str) -> Result<WebSocket<MaybeTlsStream>, Error> {
    ClientBuilder::new(url).connect()
}

/// Settings for a client connection: subprotocols, headers, timeouts, limits.
///
/// ```no_run
/// use std::time::Duration;
/// use rfc6455::blocking::ClientBuilder;
///
/// let ws = ClientBuilder::new("ws://[::1]:9002/chat?room=1")
///     .protocol("chat")
///     .protocol("superchat")
///     .header("Authorization", "Bearer s3cret")
///     .connect_timeout(Duration::from_secs(3))
///     .connect()?;
/// println!("server chose {:?}", ws.protocol());
/// # Ok::<(), rfc6455::blocking::Error>(())
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
    write_timeout: Option<Duration>,
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
            write_timeout: None,
            keepalive: None,
            #[cfg(feature = "deflate")]
            deflate: Some(crate::deflate::DeflateConfig::default()),
            #[cfg(feature = "tls")]
            tls: None,
            proxy: crate::proxy::ProxyChoice::default(),
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

    /// How long to wait for each TCP connection attempt (default: the OS's).
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

    /// The socket's write timeout: a send to a peer that stops reading fails after it.
    pub fn write_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.write_timeout = Some(timeout);
        self
    }

    /// Keepalive pings and dead-peer detection, in place of the config's
    /// ([`Config::keepalive`]: a ping after 20 s of silence, the peer given up after 40 s, by
    /// default). `Keepalive::off()` turns it off.
    pub fn keepalive(mut self, keepalive: Keepalive) -> ClientBuilder {
        self.keepalive = Some(keepalive);
        self
    }

    /// permessage-deflate: offered with [`DeflateConfig::default`] unless set here; `None`
    /// offers no compression.
    ///
    /// [`DeflateConfig::default`]: crate::deflate::DeflateConfig
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: Option<crate::deflate::DeflateConfig>) -> ClientBuilder {
        self.deflate = config;
        self
    }

    /// The TLS configuration for `wss://` URLs (feature `tls`): a private CA's root, client
    /// certificates, another crypto provider. Default: Mozilla's root certificates
    /// (`webpki-roots`), TLS 1.3 and 1.2, ALPN `http/1.1`. The server name sent (SNI) and
    /// checked is the URL's host; an IP address host is checked as an IP address. If the
    /// configuration offers ALPN protocols, offer `http/1.1` only: a server that picks `h2`
    /// would not understand the WebSocket upgrade.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use rfc6455::blocking::{ClientBuilder, rustls};
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
    /// let ws = ClientBuilder::new("wss://internal.example:8443/feed")
    ///     .tls_config(Arc::new(config))
    ///     .connect()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: alloc::sync::Arc<rustls::ClientConfig>) -> ClientBuilder {
        self.tls = Some(config);
        self
    }

    /// Connects through this proxy, whatever the environment says:
    /// `http://[user:password@]host[:port]` (HTTP `CONNECT`, with `Proxy-Authorization:
    /// Basic` when credentials are given), `socks5://…` (SOCKS5, the host name resolved
    /// here) or `socks5h://…` (resolved by the proxy); see
    /// [`Proxy::parse`](crate::proxy::Proxy::parse). `no_proxy` does not apply to it.
    ///
    /// Without this, the proxy comes from the environment (`https_proxy` for `wss://`,
    /// `http_proxy` for `ws://`, `all_proxy`, minus the hosts `no_proxy` lists: see
    /// [`Proxy::from_env`](crate::proxy::Proxy::from_env)) unless
    /// [`ignore_proxy_env`](Self::ignore_proxy_env) is set. For `wss://`, TLS runs inside
    /// the tunnel: the server name sent and checked is the URL's host, not the proxy's.
    /// The proxy's answer is read under the handshake's [`limits`](Self::limits) and
    /// within the [`handshake_timeout`](Self::handshake_timeout).
    ///
    /// ```no_run
    /// use rfc6455::blocking::ClientBuilder;
    ///
    /// let ws = ClientBuilder::new("wss://example.com/feed")
    ///     .proxy("http://alice:s3cret@proxy.corp:3128")
    ///     .connect()?;
    /// # Ok::<(), rfc6455::blocking::Error>(())
    /// ```
    ///
    /// Errors are [`Error::Proxy`] (refused, credentials missing or wrong, not a proxy,
    /// a URL that cannot be used) and [`Error::ProxyUnreachable`].
    pub fn proxy(mut self, url: impl Into<String>) -> ClientBuilder {
        self.proxy.url = Some(url.into());
        self
    }

    /// Connects directly, ignoring the proxy variables (`https_proxy`, `http_proxy`,
    /// `all_proxy`, `no_proxy` and their upper-case forms). A [`proxy`](Self::proxy) given
    /// to the builder is still used.
    pub fn ignore_proxy_env(mut self) -> ClientBuilder {
        self.proxy.env = false;
        self
    }

    /// Resolves the host, connects over TCP (then TLS for `wss://`) and performs the opening
    /// handshake, all within the handshake timeout.
    ///
    /// # Errors
    /// As for [`connect`].
    pub fn connect(self) -> Result<WebSocket<MaybeTlsStream>, Error> {
        self.connect_with_response().map(|(ws, _)| ws)
    }

    /// [`connect`](Self::connect), also returning the server's validated 101 response: its
    /// headers (`Set-Cookie`, a load balancer's backend), the chosen subprotocol and the
    /// accepted extensions. The frames that came with the response are the connection's
    /// already, so the response's [`leftover`](Response::leftover) is empty.
    ///
    /// # Errors
    /// As for [`connect`].
    ///
    /// ```
    /// use rfc6455::blocking::{Acceptor, ClientBuilder};
    /// use rfc6455::handshake::Accept;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let url = format!("ws://{}/", listener.local_addr()?);
    /// let server = std::thread::spawn(move || -> Result<(), rfc6455::blocking::Error> {
    ///     let (stream, _) = listener.accept()?;
    ///     let mut ws = Acceptor::new().accept_with(stream, |_request| {
    ///         Ok(Accept::new().header("Set-Cookie", "session=42; HttpOnly"))
    ///     })?;
    ///     while ws.read()?.is_some() {}
    ///     Ok(())
    /// });
    ///
    /// let (mut ws, response) = ClientBuilder::new(url).connect_with_response()?;
    /// assert_eq!(response.status(), 101);
    /// assert_eq!(response.header("set-cookie"), Some("session=42; HttpOnly"));
    /// ws.close(rfc6455::CloseCode::NORMAL, "")?;
    /// server.join().expect("server thread")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_with_response(self) -> Result<(WebSocket<MaybeTlsStream>, Response), Error> {
        let url = Url::parse(&self.url)?;
        #[cfg(not(feature = "tls"))]
        if url.is_secure() {
            return Err(Error::Io(io::Error::new(
                io::ErrorKind::Unsupported,
                "wss:// URLs need the `tls` feature of rfc6455, which this build does not \
                 include: enable it in Cargo.toml (rfc6455 = { features = [\"tls\"] })",
            )));
        }
        let deadline = deadline_after(self.handshake_timeout);
        let proxy = super::proxy::Settings {
            limits: &self.options.limits,
            timeout: self.handshake_timeout,
            deadline,
        };
        let tcp = self.proxy.connect(&url, &proxy, |host, port| {
            self.tcp_connect(host, port, deadline)
        })?;
        tcp.set_nodelay(true)?;
        tcp.set_write_timeout(Some(self.handshake_timeout))?;
        let stream = match url.is_secure() {
            #[cfg(feature = "tls")]
            true => MaybeTlsStream::from(super::tls::client(
                tcp,
                url.host(),
                self.tls.as_ref(),
                super::server::far_deadline(deadline),
                self.handshake_timeout,
            )?),
            _ => MaybeTlsStream::Plain(tcp),
        };
        let (ws, response) = self.handshake(
            stream,
            &url,
            Some(MaybeTlsStream::set_read_timeout),
            deadline,
        )?;
        ws.get_ref().tcp().set_write_timeout(self.write_timeout)?;
        Ok((
            ws.with_shutdown_control(MaybeTlsStream::shutdown_write),
            response,
        ))
    }

    /// Performs the opening handshake over a stream the caller connected (a TLS stream, a
    /// Unix socket, a proxy tunnel). Without a `control`, the handshake has no deadline
    /// beyond the stream's own timeouts. To end the stream after the close handshake, add a
    /// [`ShutdownControl`](super::ShutdownControl) with
    /// [`WebSocket::with_shutdown_control`].
    ///
    /// # Errors
    /// As for [`connect`].
    pub fn connect_on<S: Read + Write>(
        self,
        stream: S,
        control: Option<TimeoutControl<S>>,
    ) -> Result<WebSocket<S>, Error> {
        self.connect_on_with_response(stream, control)
            .map(|(ws, _)| ws)
    }

    /// [`connect_on`](Self::connect_on), also returning the server's 101 response, as
    /// [`connect_with_response`](Self::connect_with_response) does.
    ///
    /// # Errors
    /// As for [`connect`].
    pub fn connect_on_with_response<S: Read + Write>(
        self,
        stream: S,
        control: Option<TimeoutControl<S>>,
    ) -> Result<(WebSocket<S>, Response), Error> {
        let url = Url::parse(&self.url)?;
        let deadline = control.and_then(|_| deadline_after(self.handshake_timeout));
        self.handshake(stream, &url, control, deadline)
    }

    /// Connects to each address of `host` in turn, every attempt bounded by what is
    /// left of the handshake `deadline` and by the connect timeout, whichever is shorter.
    fn tcp_connect(
        &self,
        host: &str,
        port: u16,
        deadline: Option<Instant>,
    ) -> Result<TcpStream, Error> {
        let timed_out = || Error::HandshakeTimeout(self.handshake_timeout);
        let mut last = None;
        for addr in (host, port).to_socket_addrs()? {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return Err(timed_out());
            }
            let limit = match (left, self.connect_timeout) {
                (Some(left), Some(option)) => Some(left.min(option)),
                (left, option) => left.or(option),
            };
            let attempt = match limit {
                Some(t) => TcpStream::connect_timeout(&addr, t),
                None => TcpStream::connect(addr),
            };
            match attempt {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(timed_out());
        }
        Err(Error::Io(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "the host name resolved to no address",
            )
        })))
    }

    fn handshake<S: Read + Write>(
        &self,
        mut stream: S,
        url: &Url,
        control: Option<TimeoutControl<S>>,
        deadline: Option<Instant>,
    ) -> Result<(WebSocket<S>, Response), Error> {
        #[allow(unused_mut)]
        let mut options = self.options.clone();
        #[cfg(feature = "deflate")]
        {
            options.deflate = self.deflate.clone();
        }
        let mut handshake = ClientHandshake::with_random_key(url, &options)?;
        stream.write_all(handshake.request())?;
        stream.flush()?;
        let timeout = self.handshake_timeout;
        let read = |data: Option<&[u8]>| match data {
            Some(data) => handshake.recv(data).map_err(Error::Handshake),
            None => Err(Error::Handshake(handshake.recv_eof())),
        };
        let mut response = read_handshake(&mut stream, control, deadline, timeout, read)?;
        if let Some(control) = control {
            control(&stream, None)?;
        }
        let protocol = response.protocol().map(String::from);
        let conn = response.take_connection(self.config.clone());
        let mut ws = WebSocket::from_connection(stream, conn);
        if let Some(control) = control {
            ws = ws.with_timeout_control(control);
        }
        ws.set_protocol(protocol);
        // A timeout beyond what an `Instant` can hold is no timeout.
        ws.set_read_timeout(self.read_timeout.filter(|t| deadline_after(*t).is_some()));
        if let Some(keepalive) = self.keepalive {
            ws.set_keepalive(keepalive);
        }
        Ok((ws, response))
    }
}
