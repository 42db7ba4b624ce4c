//! `ws://` and `wss://` URLs
//! ([RFC 6455 section 3](https://www.rfc-editor.org/rfc/rfc6455#section-3)).

use alloc::{format, string::String};
use core::fmt;

use super::{HandshakeError, OptionsError};

/// A parsed `ws://` or `wss://` URL: what a client needs to connect and to write its request.
///
/// ```
/// use rfc6455::handshake::Url;
/// let url = Url::parse("wss://[::1]:8443/chat?room=1")?;
/// assert!(url.is_secure());
/// assert_eq!((url.host(), url.port()), ("::1", 8443));
/// assert_eq!(url.resource(), "/chat?room=1");
/// assert_eq!(url.host_header(), "[::1]:8443");
/// # Ok::<(), rfc6455::handshake::HandshakeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    secure: bool,
    host: String,
    port: u16,
    resource: String,
}

impl Url {
    /// Parses `scheme://host[:port][/path][?query]`. The scheme (`ws` or `wss`, any case) sets
    /// the default port (80 or 443). The host is a DNS name (ASCII: punycode international
    /// names first), an IPv4 address or a bracketed IPv6 literal. The path defaults to `/`.
    ///
    /// # Errors
    /// [`HandshakeError::Options`] with [`UrlScheme`](OptionsError::UrlScheme), [`UrlHost`](OptionsError::UrlHost) (missing
    /// or invalid), [`UrlPort`](OptionsError::UrlPort) (empty, 0, over 65535, not digits),
    /// [`UrlFragment`](OptionsError::UrlFragment) (any `#`),
    /// [`UrlUserinfo`](OptionsError::UrlUserinfo) (any `@` before the path), and
    /// [`UrlCharacter`](OptionsError::UrlCharacter) for a path or query that cannot go into a
    /// request line as is.
    pub fn parse(s: &str) -> Result<Url, HandshakeError> {
        Url::parse_url(s).map_err(HandshakeError::Options)
    }

    fn parse_url(s: &str) -> Result<Url, OptionsError> {
        let (scheme, rest) = s.split_once("://").ok_or(OptionsError::UrlScheme)?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "ws" => false,
            "wss" => true,
            _ => return Err(OptionsError::UrlScheme),
        };
        if rest.contains('#') {
            return Err(OptionsError::UrlFragment);
        }
        let (authority, resource) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(OptionsError::UrlUserinfo);
        }
        // `after` is what follows the host: "" or ":port".
        let (host, after) = match authority.strip_prefix('[') {
            Some(literal) => {
                let (ip, after) = literal.split_once(']').ok_or(OptionsError::UrlHost)?;
                ip.parse::<core::net::Ipv6Addr>()
                    .map_err(|_| OptionsError::UrlHost)?;
                (ip, after)
            }
            None => {
                let (host, after) =
                    authority.split_at(authority.find(':').unwrap_or(authority.len()));
                let dns =
                    |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
                if host.is_empty() || !host.bytes().all(dns) {
                    return Err(OptionsError::UrlHost);
                }
                (host, after)
            }
        };
        let port = match after {
            "" if secure => 443,
            "" => 80,
            _ => {
                let digits = after.strip_prefix(':').ok_or(OptionsError::UrlHost)?;
                let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
                match digits.parse::<u16>() {
                    Ok(port) if valid && port != 0 => port,
                    _ => return Err(OptionsError::UrlPort),
                }
            }
        };
        if !resource.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(OptionsError::UrlCharacter);
        }
        let resource = match resource.as_bytes().first() {
            Some(b'/') => String::from(resource),
            _ => format!("/{resource}"),
        };
        Ok(Url {
            secure,
            host: String::from(host),
            port,
            resource,
        })
    }

    /// Whether the scheme is `wss` (TLS).
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The host, without brackets for an IPv6 literal: what to resolve or connect to, and the
    /// name to verify a TLS certificate against.
    #[must_use]
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: given, or 80 for `ws` and 443 for `wss`.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path and query (`/chat?room=1`), as the request line carries them.
    #[must_use]
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The `Host` header value: the host (an IPv6 literal in brackets), then `:port` unless the
    /// port is the scheme's default
    /// ([RFC 6455 section 4.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.1)).
    #[must_use]
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match (self.secure, self.port) {
            (false, 80) | (true, 443) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "wss" } else { "ws" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.resource)
    }
}
