//! The handshake's errors, nested by who caused them: our URL and options, the client's
//! request, the server's response.

use alloc::{format, string::String, vec::Vec};
use core::fmt;

/// Why a handshake failed, on either side, grouped by cause.
///
/// - [`Options`](Self::Options): a bad [`Url`](super::Url), option or answer given locally;
///   fix the calling code.
/// - [`Request`](Self::Request): the client's request, found by a server. A server answers it
///   with [`response`](Self::response) and closes the connection.
/// - [`Response`](Self::Response): the server's response, found by a client, including a
///   refusal ([`ResponseError::Rejected`]).
///
/// ```
/// use rfc6455::handshake::{HandshakeError, Limits, RequestError, ServerHandshake};
/// let mut server = ServerHandshake::new(Limits::default());
/// let err = server.recv(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap_err();
/// assert_eq!(err, HandshakeError::Request(RequestError::MethodNotGet));
/// assert_eq!(err.status(), Some(405));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// A URL, option or answer given locally cannot be used.
    Options(OptionsError),
    /// The client's request breaks
    /// [RFC 6455 section 4.2.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1) or a
    /// [`Limits`](super::Limits) bound.
    Request(RequestError),
    /// The server's response breaks
    /// [RFC 6455 section 4.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.1) or a
    /// [`Limits`](super::Limits) bound, or refuses the upgrade.
    Response(ResponseError),
    /// The operating system's random number generator failed to produce a key.
    Rng,
    /// `recv` was called after the handshake had already succeeded or failed.
    Finished,
}

/// A URL, option or answer given locally that cannot be used: the calling code must change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionsError {
    /// The URL scheme is not `ws` or `wss`.
    UrlScheme,
    /// The URL has no host, or its host is not a DNS name, IPv4 address or `[IPv6]` literal.
    UrlHost,
    /// The URL port is not a number in 1..=65535.
    UrlPort,
    /// The URL has a fragment, which WebSocket URIs must not have
    /// ([RFC 6455 section 3](https://www.rfc-editor.org/rfc/rfc6455#section-3)).
    UrlFragment,
    /// The URL has userinfo (`user:pass@`), which is not supported.
    UrlUserinfo,
    /// The URL's path or query holds a space, control or non-ASCII character.
    UrlCharacter,
    /// A [`ClientOptions`](super::ClientOptions) or [`Accept`](super::Accept) value cannot be
    /// sent; the text says which.
    Invalid(&'static str),
    /// The [`Accept`](super::Accept) selects a subprotocol the client did not offer.
    ProtocolNotOffered(String),
    /// The [`Accept`](super::Accept) answers an extension the client did not offer.
    ExtensionNotOffered(String),
    /// The [`Accept`](super::Accept) answers an extension that the connection made by
    /// [`Request::accept_connection`](super::Request::accept_connection) would not run: the
    /// client would believe it is in use. Extensions the connection runs are negotiated by
    /// the handshake itself (permessage-deflate: [`Accept::deflate`](super::Accept)).
    ExtensionNotRun(String),
    /// A [`Rejection`](super::Rejection) status that is not a refusal: only 300..=599 are.
    RefusalStatus(u16),
    /// The permessage-deflate configuration holds a value out of range.
    #[cfg(feature = "deflate")]
    Deflate(crate::deflate::NegotiationError),
}

/// A header block that breaks HTTP/1.1, a [`Limits`](super::Limits) bound or the upgrade
/// headers both sides send: found in a request by a server, or in a response by a client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The request line (or status line) is longer than `max_line_bytes`.
    StartLineTooLong {
        /// [`Limits::max_line_bytes`](super::Limits::max_line_bytes).
        limit: usize,
    },
    /// A header line is longer than `max_line_bytes`.
    HeaderLineTooLong {
        /// [`Limits::max_line_bytes`](super::Limits::max_line_bytes).
        limit: usize,
    },
    /// The header block is larger than `max_header_bytes`.
    HeadersTooLarge {
        /// [`Limits::max_header_bytes`](super::Limits::max_header_bytes).
        limit: usize,
    },
    /// There are more than `max_headers` header lines.
    TooManyHeaders {
        /// [`Limits::max_headers`](super::Limits::max_headers).
        limit: usize,
    },
    /// The header block is not valid HTTP/1.x.
    Malformed(httparse::Error),
    /// The message is HTTP/1.0; a handshake needs HTTP/1.1.
    HttpVersion,
    /// No `Upgrade` header holds the token `websocket`.
    NoUpgradeWebsocket,
    /// No `Connection` header holds the token `Upgrade`.
    NoConnectionUpgrade,
    /// A `Sec-WebSocket-Protocol` element is not a token.
    InvalidProtocolHeader,
    /// A `Sec-WebSocket-Extensions` header does not follow
    /// [RFC 6455 section 9.1](https://www.rfc-editor.org/rfc/rfc6455#section-9.1).
    InvalidExtensionHeader,
}

/// What is wrong with a client's request, as a server finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The header block breaks HTTP/1.1, a limit or the upgrade headers.
    Header(HeaderError),
    /// The stream's first byte cannot begin an HTTP request: it is neither a token character
    /// (a method's first) nor the CR or LF of an empty line. The client is not speaking HTTP;
    /// this is reported at that byte, without waiting for more. `0x16` begins a TLS
    /// handshake: a `wss://` or `https://` client on a plain port.
    NotHttp(u8),
    /// The method is not `GET`.
    MethodNotGet,
    /// The request has no `Host` header.
    MissingHost,
    /// The request has more than one `Host` header.
    DuplicateHost,
    /// The request has no `Sec-WebSocket-Key` header.
    MissingKey,
    /// The request has more than one `Sec-WebSocket-Key` header.
    DuplicateKey,
    /// `Sec-WebSocket-Key` is not the base64 encoding of 16 bytes.
    InvalidKey,
    /// The request has no `Sec-WebSocket-Version` header.
    MissingVersion,
    /// `Sec-WebSocket-Version` is not exactly one `13`.
    UnsupportedVersion,
    /// The request announces a body: a `Transfer-Encoding` header, or a `Content-Length` other
    /// than 0. An upgrade request has none, and the bytes after its header block are WebSocket
    /// frames, so a body would be read as frames.
    HasBody,
}

/// What is wrong with a server's response, as a client finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The header block breaks HTTP/1.1, a limit or the upgrade headers.
    Header(HeaderError),
    /// The server answered with a status other than 101.
    Rejected {
        /// The response's status code.
        status: u16,
        /// The response's headers, values trimmed.
        headers: Vec<(String, Vec<u8>)>,
        /// The body as received (transfer coding not undone), at most
        /// [`Limits::max_body_bytes`](super::Limits::max_body_bytes).
        body: Vec<u8>,
    },
    /// The 101 response has no `Sec-WebSocket-Accept` header.
    MissingAccept,
    /// `Sec-WebSocket-Accept` is not the value our key calls for.
    WrongAccept,
    /// The server selected a subprotocol the client did not offer.
    UnofferedProtocol(String),
    /// The server selected more than one subprotocol.
    MultipleProtocols,
    /// The server accepted an extension the client did not offer.
    UnofferedExtension(String),
    /// The server's permessage-deflate answer cannot be accepted.
    #[cfg(feature = "deflate")]
    Deflate(crate::deflate::NegotiationError),
    /// The stream ended before the response's header block did.
    Truncated,
}

impl HandshakeError {
    /// The status a server answers a request that failed with this error: 400, or 405 for a
    /// method other than GET, 414 for a long request line, 426 for a missing or unsupported
    /// version, 431 for the other header limits, 505 for HTTP/1.0.
    ///
    /// `None` unless the error is the request's ([`Request`](Self::Request)).
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            HandshakeError::Request(e) => Some(e.status()),
            _ => None,
        }
    }

    /// A complete HTTP/1.1 response for a server to write before closing the connection:
    /// [`status`](Self::status), `Connection: close`, `Content-Length` and this error's text as
    /// a plain-text body. A 405 carries `Allow: GET`; a 426 carries `Sec-WebSocket-Version: 13`
    /// and `Upgrade: websocket`
    /// ([RFC 6455 section 4.4](https://www.rfc-editor.org/rfc/rfc6455#section-4.4)).
    ///
    /// `None` when [`status`](Self::status) is.
    ///
    /// ```
    /// use rfc6455::handshake::{Limits, ServerHandshake};
    /// let mut server = ServerHandshake::new(Limits::default());
    /// let err = server.recv(b"POST / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap_err();
    /// let response = err.response().unwrap();
    /// assert!(response.starts_with(b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"));
    /// ```
    #[must_use]
    pub fn response(&self) -> Option<Vec<u8>> {
        const TEXT: (&str, &str) = ("Content-Type", "text/plain; charset=utf-8");
        let status = self.status()?;
        let headers: &[(&str, &str)] = match status {
            405 => &[("Allow", "GET"), TEXT],
            426 => &[
                ("Sec-WebSocket-Version", "13"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade, close"),
                TEXT,
            ],
            _ => &[TEXT],
        };
        Some(super::refusal::refusal(
            status,
            headers,
            format!("{self}\n").as_bytes(),
        ))
    }
}

impl RequestError {
    /// The status a server answers this request with (see [`HandshakeError::status`]).
    #[must_use]
    pub fn status(&self) -> u16 {
        use HeaderError::*;
        match self {
            RequestError::MethodNotGet => 405,
            RequestError::Header(StartLineTooLong { .. }) => 414,
            RequestError::MissingVersion | RequestError::UnsupportedVersion => 426,
            RequestError::Header(
                HeaderLineTooLong { .. } | HeadersTooLarge { .. } | TooManyHeaders { .. },
            ) => 431,
            RequestError::Header(HttpVersion | Malformed(httparse::Error::Version)) => 505,
            _ => 400,
        }
    }
}

impl From<OptionsError> for HandshakeError {
    fn from(e: OptionsError) -> HandshakeError {
        HandshakeError::Options(e)
    }
}

impl From<RequestError> for HandshakeError {
    fn from(e: RequestError) -> HandshakeError {
        HandshakeError::Request(e)
    }
}

impl From<ResponseError> for HandshakeError {
    fn from(e: ResponseError) -> HandshakeError {
        HandshakeError::Response(e)
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Options(e) => write!(f, "{e}"),
            HandshakeError::Request(e) => write!(f, "bad request from the client: {e}"),
            HandshakeError::Response(e) => write!(f, "bad response from the server: {e}"),
            HandshakeError::Rng => {
                f.write_str("the OS random number generator failed; retry, or pass your own key")
            }
            HandshakeError::Finished => {
                f.write_str("the handshake already finished; hand later bytes to the connection")
            }
        }
    }
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use OptionsError::*;
        let text = match self {
            UrlScheme => "URL scheme must be ws:// or wss://",
            UrlHost => "URL host is missing or not a DNS name, IPv4 or [IPv6] address",
            UrlPort => "URL port must be a number from 1 to 65535",
            UrlFragment => "URL has a #fragment, which WebSocket URLs must not have; remove it",
            UrlUserinfo => "URL userinfo (user@) is not supported; send credentials in a header",
            UrlCharacter => "URL has a space, control or non-ASCII byte; percent-encode it",
            Invalid(what) => return write!(f, "invalid handshake option: {what}"),
            ProtocolNotOffered(p) => {
                return write!(
                    f,
                    "the answer selects subprotocol {p:?}, which the client did not offer; \
                     choose one of Request::protocols or none"
                );
            }
            ExtensionNotOffered(e) => {
                return write!(
                    f,
                    "the answer accepts extension {e:?}, which the client did not offer; \
                     answer only extensions in Request::extensions"
                );
            }
            ExtensionNotRun(e) => {
                return write!(
                    f,
                    "the answer accepts extension {e:?}, which the connection would not run, \
                     so the client would be misled; remove it from Accept::extensions (for \
                     permessage-deflate, set Accept::deflate instead)"
                );
            }
            RefusalStatus(s) => {
                return write!(
                    f,
                    "status {s} is not a refusal; refuse a handshake with a 3xx, 4xx or 5xx status"
                );
            }
            #[cfg(feature = "deflate")]
            Deflate(e) => return write!(f, "invalid permessage-deflate settings: {e}"),
        };
        f.write_str(text)
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use HeaderError::*;
        match self {
            StartLineTooLong { limit } => write!(
                f,
                "request or status line over {limit} bytes (Limits::max_line_bytes)"
            ),
            HeaderLineTooLong { limit } => {
                write!(f, "header line over {limit} bytes (Limits::max_line_bytes)")
            }
            HeadersTooLarge { limit } => write!(
                f,
                "header block over {limit} bytes (Limits::max_header_bytes)"
            ),
            TooManyHeaders { limit } => {
                write!(f, "more than {limit} header lines (Limits::max_headers)")
            }
            Malformed(e) => write!(f, "malformed HTTP header block: {e}"),
            HttpVersion => f.write_str("HTTP/1.0 cannot carry a WebSocket handshake; use HTTP/1.1"),
            NoUpgradeWebsocket => f.write_str("no Upgrade header with the token websocket"),
            NoConnectionUpgrade => f.write_str("no Connection header with the token Upgrade"),
            InvalidProtocolHeader => f.write_str("Sec-WebSocket-Protocol is not a list of tokens"),
            InvalidExtensionHeader => {
                f.write_str("Sec-WebSocket-Extensions breaks RFC 6455 section 9.1")
            }
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RequestError::*;
        let text = match self {
            Header(e) => return write!(f, "{e}"),
            NotHttp(0x16) => {
                "the request begins with byte 0x16, a TLS handshake record: the client is \
                 probably speaking TLS (wss:// or https://) to this plain ws:// port; connect \
                 with ws://, or accept TLS here"
            }
            NotHttp(byte) => {
                return write!(
                    f,
                    "the request begins with byte {byte:#04x}, which cannot begin an HTTP \
                     method: the client is not speaking HTTP"
                );
            }
            MethodNotGet => "a WebSocket handshake must use the GET method",
            MissingHost => "the request has no Host header",
            DuplicateHost => "the request has more than one Host header",
            MissingKey => "the request has no Sec-WebSocket-Key header",
            DuplicateKey => "the request has more than one Sec-WebSocket-Key header",
            InvalidKey => "Sec-WebSocket-Key is not the base64 of 16 bytes",
            MissingVersion => "no Sec-WebSocket-Version header; this server speaks version 13",
            UnsupportedVersion => "Sec-WebSocket-Version is not 13, the only version spoken here",
            HasBody => {
                "the upgrade request announces a body (Transfer-Encoding, or a Content-Length \
                 other than 0), which would be read as WebSocket frames; send the GET without \
                 a body"
            }
        };
        f.write_str(text)
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ResponseError::*;
        let text = match self {
            Header(e) => return write!(f, "{e}"),
            Rejected { status, .. } => {
                return write!(f, "the server refused the upgrade with status {status}");
            }
            MissingAccept => "the 101 has no Sec-WebSocket-Accept: not a WebSocket server",
            WrongAccept => "Sec-WebSocket-Accept does not match the key we sent",
            UnofferedProtocol(p) => {
                return write!(f, "the server chose unoffered subprotocol {p:?}");
            }
            MultipleProtocols => "the server selected more than one subprotocol",
            UnofferedExtension(e) => {
                return write!(f, "the server chose unoffered extension {e:?}");
            }
            #[cfg(feature = "deflate")]
            Deflate(e) => return write!(f, "{e}"),
            Truncated => "the connection closed in the middle of the response header",
        };
        f.write_str(text)
    }
}

impl core::error::Error for HandshakeError {}
impl core::error::Error for OptionsError {}
impl core::error::Error for HeaderError {}
impl core::error::Error for RequestError {}
impl core::error::Error for ResponseError {}
