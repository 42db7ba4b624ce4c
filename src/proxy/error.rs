//! The proxy exchange's error: a bad proxy URL or target (ours), or a bad answer (the
//! proxy's).

use alloc::string::String;
use core::fmt;

use crate::handshake::HeaderError;

/// Why a proxy could not be used, or refused the tunnel.
///
/// ```
/// use rfc6455::handshake::Limits;
/// use rfc6455::proxy::{Proxy, ProxyError, Target, Tunnel};
///
/// let proxy = Proxy::parse("http://proxy.example:3128")?;
/// let mut tunnel = Tunnel::new(&proxy, Target::Name("example.com", 80), &Limits::default())?;
/// let err = tunnel.recv(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").unwrap_err();
/// assert_eq!(err, ProxyError::AuthRequired { status: 407, credentials_sent: false });
/// assert!(err.to_string().contains("user:password@"));
/// # Ok::<(), ProxyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy URL cannot be used: it came from `from` (a variable such as `https_proxy`,
    /// or "the proxy URL"), and `why` says what is wrong.
    InvalidUrl {
        /// Where the URL came from.
        from: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The target cannot be sent to the proxy; the text says why.
    InvalidTarget(&'static str),
    /// HTTP: the proxy wants credentials, or refused the ones sent: status 407, or 401
    /// (tinyproxy's answer to missing or wrong Basic credentials).
    AuthRequired {
        /// The status, 407 or 401.
        status: u16,
        /// Whether a `Proxy-Authorization` header was sent.
        credentials_sent: bool,
    },
    /// HTTP: the proxy refused the tunnel with another status that is not 2xx.
    Refused {
        /// The status code.
        status: u16,
        /// The status line as received (`HTTP/1.1 403 Filtered`), lossily decoded.
        status_line: String,
    },
    /// HTTP: the answer's header block breaks HTTP/1.x or a
    /// [`Limits`](crate::handshake::Limits) bound.
    Http(HeaderError),
    /// HTTP: the answer does not begin with `HTTP/`; the byte that differs is given. A SOCKS
    /// proxy answers `0x05`, a TLS port `0x15` or `0x16`.
    NotHttp(u8),
    /// SOCKS5: the proxy accepts none of the authentication methods offered (method `0xFF`).
    SocksNoAcceptableMethod {
        /// Whether username/password was among the methods offered.
        credentials_sent: bool,
    },
    /// SOCKS5: the proxy refused the user name and password, with this RFC 1929 status.
    SocksAuthFailed(u8),
    /// SOCKS5: the proxy could not open the connection; the RFC 1928 reply code.
    SocksReply(u8),
    /// The answer does not follow the protocol (a SOCKS5 answer, or an HTTP 101); the text
    /// says what was wrong.
    Malformed(&'static str),
    /// The proxy closed the connection before its answer was complete.
    Truncated,
    /// `recv` was called after the tunnel opened or the exchange failed.
    Finished,
}

impl ProxyError {
    /// The message for a SOCKS5 reply code (RFC 1928 section 6).
    fn socks_reply(code: u8) -> &'static str {
        match code {
            1 => "general SOCKS server failure",
            2 => {
                "connection not allowed by the proxy's rules: ask its administrator to allow \
                  this host and port"
            }
            3 => "network unreachable from the proxy",
            4 => {
                "host unreachable from the proxy: check the host name and that the proxy can \
                  reach it"
            }
            5 => "connection refused by the target: check that the server runs on that port",
            6 => "TTL expired on the way to the target",
            7 => "command not supported: the proxy does not do CONNECT",
            8 => {
                "address type not supported: try socks5h:// to send names, or socks5:// to \
                  send addresses"
            }
            _ => "an unassigned reply code",
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ProxyError::*;
        match self {
            InvalidUrl { from, why } => write!(f, "invalid proxy URL in {from}: {why}"),
            InvalidTarget(why) => write!(f, "cannot ask the proxy for this target: {why}"),
            AuthRequired {
                status,
                credentials_sent: false,
            } => write!(
                f,
                "the proxy requires credentials (HTTP {status}): put them in the proxy URL, \
                 http://user:password@host:port (percent-encode @, : and %)"
            ),
            AuthRequired {
                status,
                credentials_sent: true,
            } => write!(
                f,
                "the proxy refused the credentials (HTTP {status}): check the user name and \
                 password in the proxy URL"
            ),
            Refused { status_line, .. } => {
                write!(f, "the proxy refused the tunnel: {status_line}")
            }
            Http(e) => write!(f, "the proxy's answer is not valid HTTP: {e}"),
            NotHttp(byte) => write!(
                f,
                "the proxy's answer does not begin with HTTP/ (byte {byte:#04x}): is it an \
                 HTTP proxy? A SOCKS5 proxy needs a socks5:// or socks5h:// URL"
            ),
            SocksNoAcceptableMethod {
                credentials_sent: false,
            } => f.write_str(
                "the SOCKS5 proxy requires authentication: put a user name and password in the \
                 proxy URL, socks5://user:password@host:port",
            ),
            SocksNoAcceptableMethod {
                credentials_sent: true,
            } => f.write_str(
                "the SOCKS5 proxy accepts neither no authentication nor username/password",
            ),
            SocksAuthFailed(status) => write!(
                f,
                "the SOCKS5 proxy refused the user name and password (status {status}): check \
                 them in the proxy URL"
            ),
            SocksReply(code) => write!(
                f,
                "the SOCKS5 proxy could not connect (reply {code}): {}",
                ProxyError::socks_reply(*code)
            ),
            Malformed(what) => write!(f, "the proxy's answer is malformed: {what}"),
            Truncated => f.write_str(
                "the proxy closed the connection before its answer was complete: is it the \
                 proxy protocol the URL's scheme says (http:// or socks5://)?",
            ),
            Finished => f.write_str("the proxy exchange already finished"),
        }
    }
}

impl core::error::Error for ProxyError {}
