//! The server's side: validate the request, write the 101
//! ([RFC 6455 section 4.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2)).

use alloc::{string::String, vec::Vec};

use super::{
    BASE64, Extension, Fields, HandshakeError, Head, HeaderError, Limits, OptionsError,
    RequestError, accept_key, extension_names, extensions, has_token, is_tchar, owned, parsed,
    protocols, push_headers, single, values,
};
use base64::Engine as _;

/// A server's opening handshake: reads the client's request.
///
/// Feed every byte read to [`recv`](Self::recv) until it returns the [`Request`], then write
/// the response of [`Request::accept_connection`] and run the connection it gives (or write a
/// [`Rejection`](super::Rejection) to refuse, after checking the origin, path or credentials).
/// If `recv` fails, write [`HandshakeError::response`] and close.
///
/// ```
/// use rfc6455::handshake::{Accept, Limits, ServerHandshake};
///
/// let mut server = ServerHandshake::new(Limits::default());
/// let request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let (first, rest) = request.split_at(30); // any chunking works
/// assert!(server.recv(first)?.is_none());
/// let request = server.recv(rest)?.expect("a complete request");
///
/// let response = request.accept(&Accept::new())?;
/// assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// assert!(response.windows(28).any(|w| w == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
/// # Ok::<(), rfc6455::handshake::HandshakeError>(())
/// ```
#[derive(Debug)]
pub struct ServerHandshake {
    limits: Limits,
    head: Head,
    /// The stream's first byte was seen (and can begin a request).
    started: bool,
    done: bool,
}

impl ServerHandshake {
    /// A handshake that will read one request within `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> ServerHandshake {
        ServerHandshake {
            limits,
            head: Head::default(),
            started: false,
            done: false,
        }
    }

    /// Feeds bytes read from the client, in any chunking.
    ///
    /// `Ok(None)`: more bytes are needed. `Ok(Some(request))`: the header block is complete and
    /// meets every MUST of
    /// [RFC 6455 section 4.2.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.1); bytes
    /// after it are in [`Request::leftover`].
    ///
    /// # Errors
    /// [`HandshakeError::Request`], which carries the [`status`](HandshakeError::status) and
    /// [`response`](HandshakeError::response) to answer with:
    /// - 414 and 431 as soon as a [`Limits`] bound is crossed, before buffering beyond it;
    /// - 400 at once when the first byte cannot begin an HTTP request
    ///   ([`NotHttp`](RequestError::NotHttp): a TLS handshake sent to a plain port, say),
    ///   and for malformed HTTP, a missing or repeated `Host`, no `Upgrade: websocket` or
    ///   `Connection: Upgrade` token, a missing, repeated or invalid `Sec-WebSocket-Key`, or bad
    ///   `Sec-WebSocket-Protocol` / `Sec-WebSocket-Extensions` syntax, and a request that
    ///   announces a body ([`HasBody`](RequestError::HasBody));
    /// - 405 for a method other than GET, 505 for HTTP/1.0;
    /// - 426 unless `Sec-WebSocket-Version` is exactly one `13`.
    ///
    /// After a request or an error, `recv` fails with [`Finished`](HandshakeError::Finished).
    pub fn recv(&mut self, data: &[u8]) -> Result<Option<Request>, HandshakeError> {
        if self.done {
            return Err(HandshakeError::Finished);
        }
        if let (false, Some(&first)) = (self.started, data.first()) {
            // The stream's first byte, checked before anything else whatever the chunking.
            self.started = true;
            if !is_tchar(first) && first != b'\r' && first != b'\n' {
                self.done = true;
                return Err(RequestError::NotHttp(first).into());
            }
        }
        let end = self.head.feed(data, &self.limits);
        if let Ok(None) = end {
            return Ok(None);
        }
        // Complete or failed: either way the handshake is over and its buffer can go.
        self.done = true;
        let head = core::mem::take(&mut self.head);
        let used = end.map_err(RequestError::Header)?.unwrap_or_default();
        parse_request(&head, data.get(used..).unwrap_or_default())
            .map(Some)
            .map_err(HandshakeError::Request)
    }

    #[cfg(test)]
    pub(super) fn head(&self) -> &Head {
        &self.head
    }
}

fn parse_request(head: &Head, rest: &[u8]) -> Result<Request, RequestError> {
    let mut slots = head.header_slots();
    let mut request = httparse::Request::new(&mut slots);
    parsed(request.parse(&head.buf), head.buf.len()).map_err(RequestError::Header)?;
    if request.method != Some("GET") {
        return Err(RequestError::MethodNotGet);
    }
    if request.version != Some(1) {
        return Err(RequestError::Header(HeaderError::HttpVersion));
    }
    let headers = owned(request.headers);
    match single(&headers, "Host") {
        Err(0) => return Err(RequestError::MissingHost),
        Err(_) => return Err(RequestError::DuplicateHost),
        Ok(_) => {}
    }
    if !has_token(&headers, "Upgrade", "websocket") {
        return Err(RequestError::Header(HeaderError::NoUpgradeWebsocket));
    }
    if has_body(&headers) {
        return Err(RequestError::HasBody);
    }
    if !has_token(&headers, "Connection", "upgrade") {
        return Err(RequestError::Header(HeaderError::NoConnectionUpgrade));
    }
    match single(&headers, "Sec-WebSocket-Version") {
        Ok(b"13") => {}
        Err(0) => return Err(RequestError::MissingVersion),
        _ => return Err(RequestError::UnsupportedVersion),
    }
    let key = match single(&headers, "Sec-WebSocket-Key") {
        Ok(key) => key,
        Err(0) => return Err(RequestError::MissingKey),
        Err(_) => return Err(RequestError::DuplicateKey),
    };
    // 16 bytes are 24 base64 characters, room for 18 bytes: exactly 16 must come out.
    let is_16_bytes = key.len() == 24 && BASE64.decode_slice(key, &mut [0; 18]) == Ok(16);
    let key = match core::str::from_utf8(key) {
        Ok(key) if is_16_bytes => String::from(key),
        _ => return Err(RequestError::InvalidKey),
    };
    Ok(Request {
        method: String::from(request.method.unwrap_or_default()),
        uri: String::from(request.path.unwrap_or_default()),
        key,
        protocols: protocols(&headers).map_err(RequestError::Header)?,
        extensions: extensions(&headers).map_err(RequestError::Header)?,
        headers,
        leftover: rest.to_vec(),
    })
}

/// Whether the request announces a body: any `Transfer-Encoding`, or a `Content-Length` other
/// than 0 (an unparsable one included). A GET upgrade has none, and bytes after its header
/// block are frames: a body there would be read as frames.
fn has_body(fields: &[(String, Vec<u8>)]) -> bool {
    let zero = |v: &[u8]| !v.is_empty() && v.iter().all(|&b| b == b'0');
    values(fields, "Transfer-Encoding").next().is_some()
        || values(fields, "Content-Length").any(|v| !zero(v))
}

/// A client's valid opening request, owned.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    uri: String,
    headers: Fields,
    key: String,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    leftover: Vec<u8>,
}

impl Request {
    /// The method: always `GET`.
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as in the request line, such as `/chat?room=1`.
    #[must_use]
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The target's path: [`uri`](Self::uri) without the query (and without `scheme://host`
    /// if the client sent the absolute form).
    #[must_use]
    pub fn path(&self) -> &str {
        let path = self
            .uri
            .split_once('?')
            .map_or(self.uri.as_str(), |(path, _)| path);
        match path.split_once("://") {
            Some((_, rest)) if !path.starts_with('/') => {
                rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/")
            }
            _ => path,
        }
    }

    /// The target's query, after the first `?`.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.uri.split_once('?').map(|(_, query)| query)
    }

    /// The first header called `name` (any case), if its value is UTF-8.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        core::str::from_utf8(values(&self.headers, name).next()?).ok()
    }

    /// Every header as received, in order: name, and value with surrounding whitespace trimmed.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The `Origin` header, which browsers send: check it against the origins allowed to connect
    /// ([RFC 6455 section 10.2](https://www.rfc-editor.org/rfc/rfc6455#section-10.2)) and
    /// refuse others with 403.
    #[must_use]
    pub fn origin(&self) -> Option<&str> {
        self.header("Origin")
    }

    /// The `Sec-WebSocket-Key` value (base64 of 16 bytes).
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subprotocols offered, in the client's order of preference.
    #[must_use]
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extensions offered, in the client's order of preference.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Bytes received after the header block: frames the client sent without waiting for the
    /// response.
    #[must_use]
    pub fn leftover(&self) -> &[u8] {
        &self.leftover
    }

    /// Takes the bytes received after the header block, for the connection to consume first.
    #[must_use]
    pub fn take_leftover(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.leftover)
    }

    /// The 101 response that completes the handshake
    /// ([RFC 6455 section 4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2)), with
    /// the selected subprotocol, the extension answers and extra headers of `accept`, for a
    /// caller that builds and configures its connection itself.
    /// [`accept_connection`](Self::accept_connection) also gives the connection.
    ///
    /// # Errors
    /// [`HandshakeError::Options`]: [`ProtocolNotOffered`](OptionsError::ProtocolNotOffered) or
    /// [`ExtensionNotOffered`](OptionsError::ExtensionNotOffered) for a choice the client did
    /// not offer (the client would fail the connection), and
    /// [`Invalid`](OptionsError::Invalid) for an extension answer that does not parse, a
    /// header that cannot be written as is, or an `Accept::deflate` (which needs the
    /// connection of `accept_connection` to run it).
    pub fn accept(&self, accept: &Accept) -> Result<Vec<u8>, HandshakeError> {
        #[cfg(feature = "deflate")]
        if accept.deflate.is_some() {
            return Err(OptionsError::Invalid(
                "Accept::deflate needs the connection that runs it: use \
                 Request::accept_connection, or answer permessage-deflate yourself",
            )
            .into());
        }
        self.response(accept, None).map_err(HandshakeError::Options)
    }

    /// Accepts the request: the 101 response to write, and the server's connection, ready to
    /// run. The connection has `config`, the permessage-deflate negotiated from
    /// `accept.deflate` (feature `deflate`) when the client offered it acceptably, and the
    /// bytes the client sent after its header block as its first input.
    ///
    /// Write the response before anything the connection puts in its output.
    ///
    /// # Errors
    /// Those of [`accept`](Self::accept), and
    /// [`ExtensionNotRun`](OptionsError::ExtensionNotRun) for an answer in
    /// [`Accept::extensions`]: the connection runs no extension the application answers
    /// itself, so the client would be misled about the frames it gets. Answer the error with
    /// a 500 (nothing was sent yet).
    ///
    /// ```
    /// use rfc6455::handshake::{Accept, Limits, ServerHandshake};
    /// use rfc6455::{Config, Event};
    ///
    /// let mut server = ServerHandshake::new(Limits::default());
    /// let request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\n\r\n\
    ///     \x81\x82\x00\x00\x00\x00hi"; // a first frame, in the same read
    /// let request = server.recv(request)?.expect("a complete request");
    /// let (response, mut conn) = request.accept_connection(&Accept::new(), Config::default())?;
    /// assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    /// assert_eq!(conn.next_event()?, Some(Event::Text("hi")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "std")]
    pub fn accept_connection(
        self,
        accept: &Accept,
        config: crate::Config,
    ) -> Result<(Vec<u8>, crate::Connection), HandshakeError> {
        #[cfg(feature = "deflate")]
        let deflate = match &accept.deflate {
            Some(config) => crate::deflate::server_accept(config, &self.extensions)
                .map_err(OptionsError::Deflate)?,
            None => None,
        };
        #[cfg(not(feature = "deflate"))]
        let deflate: Option<((), String)> = None;
        let response =
            self.response(accept, deflate.as_ref().map(|(_, answer)| answer.as_str()))?;
        // Every answer the application wrote itself names an extension the client offered
        // (checked above) that this connection does not run.
        if let Some(name) = extension_names(&accept.extensions)?.into_iter().next() {
            return Err(OptionsError::ExtensionNotRun(name).into());
        }
        #[cfg(feature = "deflate")]
        let deflate = deflate.map(|(negotiated, _)| negotiated);
        #[cfg(not(feature = "deflate"))]
        let deflate = ();
        Ok((response, self.connection(config, deflate)))
    }

    /// The server's connection with the negotiated extension and the leftover as its first
    /// input. Never inlined, so that the connection and the building of the response do
    /// not share a stack frame: a thread's deepest point stays small (see `scripts/soak.sh`).
    #[cfg(feature = "std")]
    #[inline(never)]
    fn connection(
        &self,
        config: crate::Config,
        #[cfg(feature = "deflate")] deflate: Option<crate::deflate::Negotiated>,
        #[cfg(not(feature = "deflate"))] _deflate: (),
    ) -> crate::Connection {
        let mut conn = crate::Connection::new(crate::Role::Server, config);
        #[cfg(feature = "deflate")]
        if let Some(negotiated) = deflate {
            conn.enable_deflate(negotiated);
        }
        conn.recv(&self.leftover);
        conn
    }

    /// The 101 for `accept`, with `own`, the answer of an extension the handshake negotiated
    /// itself, after the application's answers.
    fn response(&self, accept: &Accept, own: Option<&str>) -> Result<Vec<u8>, OptionsError> {
        // Room for a typical response at once: every buffer outgrown here would be one more
        // small free chunk left in the server thread's allocator cache while it waits.
        let mut out = String::with_capacity(256);
        out.push_str(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: ",
        );
        out.extend(accept_key(self.key.as_bytes()).map(char::from));
        out.push_str("\r\n");
        if let Some(protocol) = &accept.protocol {
            if !self.protocols.contains(protocol) {
                return Err(OptionsError::ProtocolNotOffered(protocol.clone()));
            }
            out.push_str(&alloc::format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
        }
        let names = extension_names(&accept.extensions)?;
        if let Some(name) = names
            .iter()
            .find(|n| !self.extensions.iter().any(|e| &e.name == *n))
        {
            return Err(OptionsError::ExtensionNotOffered(name.clone()));
        }
        let answers: Vec<&str> = accept
            .extensions
            .iter()
            .map(String::as_str)
            .chain(own)
            .collect();
        if !answers.is_empty() {
            let answers = answers.join(", ");
            out.push_str(&alloc::format!("Sec-WebSocket-Extensions: {answers}\r\n"));
        }
        push_headers(&mut out, &accept.headers)?;
        out.push_str("\r\n");
        Ok(out.into_bytes())
    }
}

/// What a server answers in its 101 beyond the mandatory headers.
///
/// ```
/// use rfc6455::handshake::Accept;
/// let accept = Accept::new().protocol("chat.v2").header("Set-Cookie", "session=1");
/// assert_eq!(accept.protocol.as_deref(), Some("chat.v2"));
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Accept {
    /// The subprotocol selected, one of [`Request::protocols`]. Default: none.
    pub protocol: Option<String>,
    /// Extension answers, each a raw `Sec-WebSocket-Extensions` element naming an extension
    /// the client offered, such as `permessage-deflate; server_no_context_takeover`.
    /// Default: none.
    pub extensions: Vec<String>,
    /// Extra headers. Names must be tokens; values must not hold CR, LF or NUL. Default: none.
    pub headers: Vec<(String, String)>,
    /// permessage-deflate: accept the client's first acceptable offer with these settings,
    /// and run it in the connection of [`Request::accept_connection`]. Default: none
    /// (feature `deflate`).
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl Accept {
    /// No subprotocol, extensions or extra headers.
    #[must_use]
    pub fn new() -> Accept {
        Accept::default()
    }

    /// Selects a subprotocol.
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<String>) -> Accept {
        self.protocol = Some(protocol.into());
        self
    }

    /// Adds an extension answer.
    #[must_use]
    pub fn extension(mut self, answer: impl Into<String>) -> Accept {
        self.extensions.push(answer.into());
        self
    }

    /// Adds an extra response header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Accept {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Accepts permessage-deflate offers with `config` (`None`: declines them).
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn deflate(mut self, config: Option<crate::deflate::DeflateConfig>) -> Accept {
        self.deflate = config;
        self
    }
}
