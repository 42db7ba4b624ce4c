//! The opening handshake ([RFC 6455 section 4](https://www.rfc-editor.org/rfc/rfc6455#section-4))
//! for both ends, as a pure parse-and-produce step: bytes in, bytes out, no I/O.
//!
//! - A client builds a [`ClientHandshake`] from a [`Url`] and [`ClientOptions`], writes
//!   [`ClientHandshake::request`], and feeds what it reads to [`ClientHandshake::recv`] until it
//!   gets the validated [`Response`].
//! - A server feeds what it reads to [`ServerHandshake::recv`] until it gets a [`Request`], then
//!   writes the 101 of [`Request::accept_connection`], or refuses with a [`Rejection`] (or
//!   [`HandshakeError::response`] when the request itself was invalid).
//!
//! Both sides then hold a ready [`Connection`](crate::Connection)
//! ([`Response::into_connection`], [`Request::accept_connection`]): the negotiated
//! permessage-deflate is on, and the bytes that arrived after the header block, already
//! WebSocket frames, are in it. An adapter (tokio, an event loop) needs nothing else:
//!
//! ```
//! use rfc6455::handshake::{Accept, ClientHandshake, ClientOptions, Limits, ServerHandshake, Url};
//! use rfc6455::{Config, Event};
//!
//! let url = Url::parse("ws://example.com/chat")?;
//! let mut client = ClientHandshake::new(&url, &ClientOptions::new().protocol("chat"), [7; 16])?;
//! let mut server = ServerHandshake::new(Limits::default());
//!
//! // Server: read the request, answer it, and get its connection.
//! let request = server.recv(client.request())?.expect("a complete request");
//! let (response, mut server_conn) =
//!     request.accept_connection(&Accept::new().protocol("chat"), Config::default())?;
//!
//! // The server greets at once: its frame arrives in the same read as the 101.
//! server_conn.send_text("welcome")?;
//! let mut bytes = response;
//! bytes.extend_from_slice(server_conn.pending_output());
//!
//! // Client: validate the response, and get its connection, the greeting already in it.
//! let response = client.recv(&bytes)?.expect("a complete response");
//! assert_eq!(response.protocol(), Some("chat"));
//! let mut client_conn = response.into_connection(Config::default());
//! assert_eq!(client_conn.next_event()?, Some(Event::Text("welcome")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Parsing policy
//! - Work is linear in the bytes received: each byte is scanned once, when it arrives, and
//!   `httparse` runs once, on the complete header block.
//! - [`Limits`] are checked at the byte that crosses them, and nothing beyond them is buffered.
//! - Lines may end in CRLF or in a bare LF, as `httparse` and
//!   [RFC 9112 section 2.2](https://www.rfc-editor.org/rfc/rfc9112#section-2.2) allow; empty
//!   lines before the start line are skipped (they count towards `max_header_bytes`).
//! - Header values are compared with surrounding whitespace trimmed; token lists (`Upgrade`,
//!   `Connection`, `Sec-WebSocket-Protocol`) are split at commas, and empty elements are skipped.

use alloc::{format, string::String, vec::Vec};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest as _, Sha1};

mod client;
mod error;
mod refusal;
pub(crate) mod reject;
mod server;
#[cfg(test)]
mod tests;
mod url;

pub use client::{ClientHandshake, ClientOptions, Response};
pub use error::{HandshakeError, HeaderError, OptionsError, RequestError, ResponseError};
pub use reject::Rejection;
pub use server::{Accept, Request, ServerHandshake};
pub use url::Url;

// Defined outside the handshake, so that the extensions it negotiates can read it without
// depending on the handshake.
pub use crate::extension::Extension;

/// The GUID appended to the client's key to compute `Sec-WebSocket-Accept`
/// ([RFC 6455 section 1.3](https://www.rfc-editor.org/rfc/rfc6455#section-1.3)).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64(SHA-1(key ++ [`GUID`]))
/// ([RFC 6455 section 4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2)).
///
/// `key` is the header value as sent (the base64 text, not the 16 decoded bytes).
///
/// ```
/// let accept = rfc6455::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(&accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
#[must_use]
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let digest = Sha1::new().chain_update(key).chain_update(GUID).finalize();
    let mut out = [0; 28];
    // 20 bytes always encode to exactly 28 characters, so this cannot fail.
    let _ = BASE64.encode_slice(digest, &mut out);
    out
}

/// Bounds on what a peer may make us buffer during the handshake.
///
/// Each limit is checked at the byte that crosses it, so a peer can make a [`ServerHandshake`]
/// or [`ClientHandshake`] hold at most `max_header_bytes` of header block (plus, for a client
/// reading a refusal, `max_body_bytes` of body), whatever it sends or declares.
///
/// ```
/// let mut limits = rfc6455::handshake::Limits::default();
/// limits.max_header_bytes = 16 * 1024;
/// let server = rfc6455::handshake::ServerHandshake::new(limits);
/// # let _ = server;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The longest single line (request line, status line or header line), terminator excluded.
    /// Default 8 KiB: the request-line minimum that
    /// [RFC 9112 section 3](https://www.rfc-editor.org/rfc/rfc9112#section-3) recommends and
    /// nginx's and Apache's default line limit; browsers' cookies and URLs fit in it.
    /// A longer request line fails with 414, a longer header line with 431.
    pub max_line_bytes: usize,
    /// The largest header block, start line and final empty line included. Default 64 KiB:
    /// eight maximal lines, above what any browser sends, and the most a handshake buffers.
    /// Larger fails with 431.
    pub max_header_bytes: usize,
    /// The most header lines. Default 96: about what nginx and hyper allow (100), three times
    /// what a browser's handshake carries. More fails with 431.
    pub max_headers: usize,
    /// The most body bytes a client keeps from a refusal (a non-101 response), for
    /// [`ResponseError::Rejected`]. Default 4 KiB: enough for an error page's text, and the
    /// client stops reading there instead of waiting for a large body.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line_bytes: 8 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 96,
            max_body_bytes: 4 * 1024,
        }
    }
}

/// Headers as received: name, and value with surrounding whitespace trimmed.
type Fields = Vec<(String, Vec<u8>)>;

/// Finds the end of a header block as its bytes arrive, enforcing [`Limits`] at each byte.
///
/// The scan state (current line length, previous byte, lines seen) carries over between calls,
/// so every byte is looked at exactly once however the input is chunked.
#[derive(Debug, Default)]
pub(crate) struct Head {
    /// The header block so far; never longer than `max_header_bytes`.
    pub(crate) buf: Vec<u8>,
    /// Bytes in the current line so far, LF excluded (a CR before it included).
    line_len: usize,
    /// The last byte of the current line.
    last: u8,
    /// Lines completed: the start line, then one per header.
    lines: usize,
    /// Bytes scanned in total, to test that the work is linear.
    #[cfg(test)]
    scanned: usize,
}

impl Head {
    /// Scans `data`. `Ok(Some(n))`: the block ended at `data[n - 1]` and is complete in `buf`;
    /// `data[n..]` is not part of it. `Ok(None)`: all of `data` was buffered, need more.
    pub(crate) fn feed(
        &mut self,
        data: &[u8],
        limits: &Limits,
    ) -> Result<Option<usize>, HeaderError> {
        for (i, &byte) in data.iter().enumerate() {
            #[cfg(test)]
            {
                self.scanned += 1;
            }
            if self.buf.len() + i >= limits.max_header_bytes {
                return Err(HeaderError::HeadersTooLarge {
                    limit: limits.max_header_bytes,
                });
            }
            if byte != b'\n' {
                self.line_len += 1;
                self.last = byte;
                // A CR right after `max_line_bytes` bytes may still be the line's terminator.
                let allowed = limits
                    .max_line_bytes
                    .saturating_add(usize::from(byte == b'\r'));
                if self.line_len > allowed {
                    let limit = limits.max_line_bytes;
                    return Err(match self.lines {
                        0 => HeaderError::StartLineTooLong { limit },
                        _ => HeaderError::HeaderLineTooLong { limit },
                    });
                }
                continue;
            }
            let empty = self.line_len == 0 || (self.line_len == 1 && self.last == b'\r');
            self.line_len = 0;
            if !empty {
                self.lines += 1;
                if self.lines > limits.max_headers.saturating_add(1) {
                    return Err(HeaderError::TooManyHeaders {
                        limit: limits.max_headers,
                    });
                }
            } else if self.lines > 0 {
                let (block, _) = data.split_at(i + 1);
                self.buf.extend_from_slice(block);
                return Ok(Some(i + 1));
            }
        }
        self.buf.extend_from_slice(data);
        Ok(None)
    }

    /// Room for httparse: one slot per line is at least one per header.
    pub(crate) fn header_slots(&self) -> Vec<httparse::Header<'static>> {
        alloc::vec![httparse::EMPTY_HEADER; self.lines]
    }
}

/// Checks that httparse consumed exactly the block the scanner found (it always does when it
/// succeeds, as both end a block at its first empty line after the start line).
pub(crate) fn parsed(result: httparse::Result<usize>, len: usize) -> Result<(), HeaderError> {
    match result {
        Ok(httparse::Status::Complete(n)) if n == len => Ok(()),
        Ok(_) => Err(HeaderError::Malformed(httparse::Error::NewLine)),
        Err(e) => Err(HeaderError::Malformed(e)),
    }
}

fn owned(headers: &[httparse::Header<'_>]) -> Fields {
    let field = |h: &httparse::Header<'_>| (String::from(h.name), h.value.trim_ascii().to_vec());
    headers.iter().map(field).collect()
}

/// The values of every header called `name` (case-insensitive), in order.
fn values<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> impl Iterator<Item = &'a [u8]> {
    let matches = move |(n, _): &&(String, Vec<u8>)| n.eq_ignore_ascii_case(name);
    fields.iter().filter(matches).map(|(_, v)| v.as_slice())
}

/// The value of the one header called `name`; `Err` with 0 if there is none, 2 if several.
fn single<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Result<&'a [u8], usize> {
    let mut found = values(fields, name);
    match (found.next(), found.next()) {
        (Some(value), None) => Ok(value),
        (None, _) => Err(0),
        (Some(_), Some(_)) => Err(2),
    }
}

/// The non-empty, trimmed elements of the comma-separated lists in every header called `name`.
fn elements<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> impl Iterator<Item = &'a [u8]> {
    values(fields, name)
        .flat_map(|v| v.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|e| !e.is_empty())
}

/// Whether a token list header (`Upgrade`, `Connection`) holds `token`, case-insensitively.
fn has_token(fields: &[(String, Vec<u8>)], name: &str, token: &str) -> bool {
    elements(fields, name).any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
}

/// Every subprotocol in the `Sec-WebSocket-Protocol` headers, which must be tokens.
fn protocols(fields: &[(String, Vec<u8>)]) -> Result<Vec<String>, HeaderError> {
    elements(fields, "Sec-WebSocket-Protocol")
        .map(|p| {
            token(p)
                .map(String::from)
                .ok_or(HeaderError::InvalidProtocolHeader)
        })
        .collect()
}

/// Every element of the `Sec-WebSocket-Extensions` headers.
fn extensions(fields: &[(String, Vec<u8>)]) -> Result<Vec<Extension>, HeaderError> {
    let mut out = Vec::new();
    for value in values(fields, "Sec-WebSocket-Extensions") {
        parse_extensions(value, &mut out).ok_or(HeaderError::InvalidExtensionHeader)?;
    }
    Ok(out)
}

/// Parses one `Sec-WebSocket-Extensions` value into `out`, in one pass:
/// `1#( token *( OWS ";" OWS token [ "=" ( token / quoted-string ) ] ) )`.
fn parse_extensions(value: &[u8], out: &mut Vec<Extension>) -> Option<()> {
    let mut p = Cursor(value);
    loop {
        p.skip_ows();
        if p.0.is_empty() {
            return Some(());
        }
        if p.eat(b',') {
            continue;
        }
        let name = p.token()?;
        let mut params = Vec::new();
        while p.eat(b';') {
            let key = p.token()?;
            let value = if p.eat(b'=') { Some(p.value()?) } else { None };
            params.push((key, value));
        }
        p.skip_ows();
        if !(p.0.is_empty() || p.eat(b',')) {
            return None;
        }
        out.push(Extension { name, params });
    }
}

/// What is left of a header value being parsed.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn skip_ows(&mut self) {
        while let [b' ' | b'\t', rest @ ..] = self.0 {
            self.0 = rest;
        }
    }

    /// Skips whitespace, then consumes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        self.skip_ows();
        match self.0 {
            [first, rest @ ..] if *first == byte => {
                self.0 = rest;
                true
            }
            _ => false,
        }
    }

    fn token(&mut self) -> Option<String> {
        self.skip_ows();
        let len = self
            .0
            .iter()
            .position(|&b| !is_tchar(b))
            .unwrap_or(self.0.len());
        let (t, rest) = self.0.split_at(len);
        self.0 = rest;
        token(t).map(String::from)
    }

    /// A parameter value: a token, or a quoted string whose content is a token.
    fn value(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return self.token();
        }
        let mut unquoted = Vec::new();
        loop {
            match self.0 {
                [b'"', rest @ ..] => {
                    self.0 = rest;
                    return token(&unquoted).map(String::from);
                }
                [b'\\', c, rest @ ..] | [c, rest @ ..] => {
                    unquoted.push(*c);
                    self.0 = rest;
                }
                [] => return None,
            }
        }
    }
}

/// `tchar` of [RFC 9110 section 5.6.2](https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `bytes` as a `&str` if it is a non-empty token.
fn token(bytes: &[u8]) -> Option<&str> {
    let ok = !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b));
    if ok {
        core::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

/// Whether a header can be written as is: a token name, and no CR, LF or NUL in the value.
fn is_valid_header(name: &str, value: &str) -> bool {
    token(name.as_bytes()).is_some() && !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Appends `name: value\r\n` for each header, or fails if one cannot be written as is.
fn push_headers(out: &mut String, headers: &[(String, String)]) -> Result<(), OptionsError> {
    for (name, value) in headers {
        if !is_valid_header(name, value) {
            return Err(OptionsError::Invalid(
                "a header name is not a token, or a header value contains CR, LF or NUL",
            ));
        }
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    Ok(())
}

/// The names of the extensions in a list of raw elements, which must parse.
fn extension_names(raw: &[String]) -> Result<Vec<String>, OptionsError> {
    let mut parsed = Vec::new();
    for element in raw {
        if parse_extensions(element.as_bytes(), &mut parsed).is_none() {
            return Err(OptionsError::Invalid(
                "an extension is not valid Sec-WebSocket-Extensions syntax (RFC 6455 section 9.1)",
            ));
        }
    }
    Ok(parsed.into_iter().map(|e| e.name).collect())
}
