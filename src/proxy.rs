//! Clients behind proxies, as a pure parse-and-produce step: HTTP `CONNECT`
//! ([RFC 9110 section 9.3.6](https://www.rfc-editor.org/rfc/rfc9110#section-9.3.6)) and
//! SOCKS5 ([RFC 1928](https://www.rfc-editor.org/rfc/rfc1928), with the username/password of
//! [RFC 1929](https://www.rfc-editor.org/rfc/rfc1929)). No I/O, no `std`.
//!
//! - [`Proxy::parse`] reads a proxy URL: `http://[user:pass@]host[:port]`,
//!   `socks5://…` (names resolved by the client) or `socks5h://…` (by the proxy).
//! - [`Proxy::from_env`] picks the proxy the standard variables name for a URL
//!   (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`; see [`NoProxy`]).
//! - A [`Tunnel`] runs the exchange: write [`pending_output`](Tunnel::pending_output), feed
//!   what the proxy answers to [`recv`](Tunnel::recv), and repeat until it says the tunnel is
//!   open. Then TLS (for `wss://`) and the WebSocket handshake run inside the tunnel as they
//!   would over a direct connection.
//!
//! The blocking client does all of this by itself ([`ClientBuilder::proxy`]); an adapter
//! runs the same loop over its own sockets:
//!
//! ```
//! use rfc6455::handshake::Limits;
//! use rfc6455::proxy::{Proxy, Target, Tunnel};
//!
//! let proxy = Proxy::parse("http://alice:s3cret@proxy.example:3128")?;
//! let mut tunnel = Tunnel::new(&proxy, Target::Name("example.com", 443), &Limits::default())?;
//! assert!(tunnel.pending_output().starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
//! let n = tunnel.pending_output().len();
//! tunnel.consume_output(n); // written to the proxy
//!
//! // The proxy's answer, in any chunking.
//! assert_eq!(tunnel.recv(b"HTTP/1.1 200 Connection est")?, None);
//! assert_eq!(tunnel.recv(b"ablished\r\n\r\n")?, Some(12));
//! // The tunnel is open: everything from here on is for example.com.
//! # Ok::<(), rfc6455::proxy::ProxyError>(())
//! ```
//!
//! [`ClientBuilder::proxy`]: https://docs.rs/rfc6455/latest/rfc6455/blocking/struct.ClientBuilder.html#method.proxy

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;

use crate::handshake::Limits;

mod env;
mod error;
mod http;
mod socks5;
#[cfg(test)]
mod tests;
mod url;

pub use env::NoProxy;
#[cfg(feature = "std")]
pub(crate) use env::ProxyChoice;
pub use error::ProxyError;

/// The protocol a proxy speaks, from its URL's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyKind {
    /// `http://`: HTTP `CONNECT`; the proxy resolves the target's name.
    Http,
    /// `socks5://`: SOCKS5, the client resolves the target's name and sends an address.
    Socks5,
    /// `socks5h://`: SOCKS5, the proxy resolves the target's name.
    Socks5h,
}

/// A parsed proxy URL: which protocol, where, and the credentials to present.
///
/// `Debug` and `Display` leave the password out.
///
/// ```
/// use rfc6455::proxy::{Proxy, ProxyKind};
/// let proxy = Proxy::parse("socks5h://bob:p%40ss@10.0.0.1")?;
/// assert_eq!(proxy.kind(), ProxyKind::Socks5h);
/// assert_eq!((proxy.host(), proxy.port()), ("10.0.0.1", 1080));
/// assert_eq!(proxy.username(), Some("bob"));
/// assert_eq!(proxy.to_string(), "socks5h://bob:***@10.0.0.1:1080");
/// # Ok::<(), rfc6455::proxy::ProxyError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    credentials: Option<Credentials>,
}

/// A user name and password, percent-decoded from the URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) pass: String,
}

impl Proxy {
    /// Parses `scheme://[user[:password]@]host[:port][/]`.
    ///
    /// - The scheme is `http` (the default when there is none, as in `proxy.corp:3128`),
    ///   `socks5` or `socks5h`, in any case. `https://` (TLS to the proxy itself) and SOCKS4
    ///   are not supported.
    /// - The port defaults to 80 for `http`, 1080 for SOCKS5.
    /// - The user name and password are percent-decoded (`p%40ss` is `p@ss`) and must be
    ///   UTF-8; for SOCKS5 each must be 1 to 255 bytes (a password may be empty).
    /// - The host is a DNS name, an IPv4 address or a bracketed IPv6 literal.
    ///
    /// # Errors
    /// [`ProxyError::InvalidUrl`] saying what is wrong.
    pub fn parse(url: &str) -> Result<Proxy, ProxyError> {
        url::parse(url).map_err(|why| ProxyError::InvalidUrl {
            from: "the proxy URL",
            why,
        })
    }

    /// The protocol.
    #[must_use]
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// The proxy's host, without brackets for an IPv6 literal: what to connect to.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name presented to the proxy, if any.
    #[must_use]
    pub fn username(&self) -> Option<&str> {
        self.credentials.as_ref().map(|c| c.user.as_str())
    }

    /// Whether the proxy resolves the target's name (`http`, `socks5h`). When `false`
    /// (`socks5`), resolve it yourself and give the [`Tunnel`] a [`Target::Addr`].
    #[must_use]
    pub fn resolves_names(&self) -> bool {
        self.kind != ProxyKind::Socks5
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.kind {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Socks5h => "socks5h",
        };
        write!(f, "{scheme}://")?;
        if let Some(c) = &self.credentials {
            write!(f, "{}:***@", c.user)?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proxy({self})")
    }
}

/// Where the tunnel leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A host name (or an IP address written as text) and a port, for the proxy to resolve.
    Name(&'a str, u16),
    /// An address the client resolved (needed by `socks5://`).
    Addr(SocketAddr),
}

/// One proxy exchange, from the first byte written to the open tunnel.
///
/// The loop: write [`pending_output`](Self::pending_output) (and
/// [`consume_output`](Self::consume_output) what was written), read, [`recv`](Self::recv)
/// what was read; repeat until `recv` returns `Some`. At the end of the stream, report
/// [`recv_eof`](Self::recv_eof)'s error. Read under a deadline: a proxy that never answers
/// is the caller's timer to catch.
///
/// Everything the proxy sends is read under [`Limits`]: the HTTP answer's header block
/// under the same limits as a WebSocket server's response; a SOCKS5 reply is at most 262
/// bytes by construction.
#[derive(Debug)]
pub struct Tunnel {
    state: State,
    output: Vec<u8>,
}

#[derive(Debug)]
enum State {
    Http(http::Connect),
    Socks5(socks5::Socks5),
    Done,
}

impl Tunnel {
    /// Starts the exchange with `proxy` for a tunnel to `target`; the first message is in
    /// [`pending_output`](Self::pending_output).
    ///
    /// # Errors
    /// [`ProxyError::InvalidTarget`] for a host that cannot be sent: empty, holding a space or
    /// control character, or (SOCKS5) longer than 255 bytes.
    pub fn new(proxy: &Proxy, target: Target<'_>, limits: &Limits) -> Result<Tunnel, ProxyError> {
        let creds = proxy.credentials.as_ref();
        let (state, output) = match proxy.kind {
            ProxyKind::Http => {
                let (connect, request) = http::Connect::new(target, creds, limits.clone())?;
                (State::Http(connect), request)
            }
            ProxyKind::Socks5 | ProxyKind::Socks5h => {
                let (socks, greeting) = socks5::Socks5::new(target, creds)?;
                (State::Socks5(socks), greeting)
            }
        };
        Ok(Tunnel { state, output })
    }

    /// The bytes to write to the proxy next (empty when it is the proxy's turn).
    #[must_use]
    pub fn pending_output(&self) -> &[u8] {
        &self.output
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as written.
    pub fn consume_output(&mut self, n: usize) {
        self.output.drain(..n.min(self.output.len()));
    }

    /// Feeds bytes read from the proxy, in any chunking.
    ///
    /// `Ok(None)`: write what [`pending_output`](Self::pending_output) holds (it may be
    /// empty), then read and feed more. `Ok(Some(used))`: the tunnel is open; the first
    /// `used` bytes of `data` were the proxy's, and `data[used..]`, if any, came from the
    /// target.
    ///
    /// # Errors
    /// - HTTP: [`AuthRequired`](ProxyError::AuthRequired) for a 407 (or a 401, which
    ///   some proxies send instead), [`Refused`](ProxyError::Refused) for any other status
    ///   that is not 2xx, [`Http`](ProxyError::Http) for a header block that breaks HTTP/1.x
    ///   or a [`Limits`] bound, [`NotHttp`](ProxyError::NotHttp) for an answer that does
    ///   not begin like one.
    /// - SOCKS5: [`SocksNoAcceptableMethod`](ProxyError::SocksNoAcceptableMethod),
    ///   [`SocksAuthFailed`](ProxyError::SocksAuthFailed),
    ///   [`SocksReply`](ProxyError::SocksReply) for a refused connection, and
    ///   [`Malformed`](ProxyError::Malformed) for an answer that is not SOCKS5.
    /// - [`Finished`](ProxyError::Finished) after the tunnel opened or an error.
    pub fn recv(&mut self, data: &[u8]) -> Result<Option<usize>, ProxyError> {
        let result = match &mut self.state {
            State::Http(connect) => connect.recv(data),
            State::Socks5(socks) => socks.recv(data, &mut self.output),
            State::Done => return Err(ProxyError::Finished),
        };
        if !matches!(result, Ok(None)) {
            self.state = State::Done;
        }
        result
    }

    /// Reports the end of the stream, and returns the error to report:
    /// [`Truncated`](ProxyError::Truncated) (or [`Finished`](ProxyError::Finished) after the
    /// exchange ended).
    #[must_use]
    pub fn recv_eof(&mut self) -> ProxyError {
        match core::mem::replace(&mut self.state, State::Done) {
            State::Done => ProxyError::Finished,
            _ => ProxyError::Truncated,
        }
    }
}
