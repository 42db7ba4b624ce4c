//! The client's side: write the request, validate the response
//! ([RFC 6455 section 4.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.1)).

use alloc::{format, string::String, vec::Vec};

use super::{
    BASE64, Extension, Fields, HandshakeError, Head, HeaderError, Limits, OptionsError,
    ResponseError, Url, accept_key, extension_names, extensions, has_token, owned, parsed,
    protocols, push_headers, single, token, values,
};
use base64::Engine as _;

/// What a client asks for beyond the mandatory headers.
///
/// ```
/// use rfc6455::handshake::ClientOptions;
/// let options = ClientOptions::new()
///     .protocol("chat.v2")
///     .protocol("chat.v1")
///     .extension("permessage-deflate; client_max_window_bits")
///     .header("Origin", "https://example.com");
/// assert_eq!(options.protocols, ["chat.v2", "chat.v1"]);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Subprotocols to offer in `Sec-WebSocket-Protocol`, most preferred first. Each must be a
    /// token, and they must be distinct. Default: none.
    pub protocols: Vec<String>,
    /// Extension offers, each one or more `Sec-WebSocket-Extensions` elements
    /// ([RFC 6455 section 9.1](https://www.rfc-editor.org/rfc/rfc6455#section-9.1)), such as
    /// `permessage-deflate; client_max_window_bits`. Default: none.
    pub extensions: Vec<String>,
    /// Extra headers (`Origin`, `Authorization`, cookies...), written after the mandatory ones.
    /// Names must be tokens; values must not hold CR, LF or NUL. Default: none.
    pub headers: Vec<(String, String)>,
    /// Bounds on the response. Default: [`Limits::default`].
    pub limits: Limits,
    /// permessage-deflate to offer with these settings, after [`extensions`](Self::extensions);
    /// the server's answer is checked by [`ClientHandshake::recv`] and run by
    /// [`Response::into_connection`]. Default: none (feature `deflate`).
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl ClientOptions {
    /// No subprotocols, extensions or extra headers; default limits.
    #[must_use]
    pub fn new() -> ClientOptions {
        ClientOptions::default()
    }

    /// Adds a subprotocol to offer, after those already added.
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<String>) -> ClientOptions {
        self.protocols.push(protocol.into());
        self
    }

    /// Adds an extension offer (a raw `Sec-WebSocket-Extensions` element).
    #[must_use]
    pub fn extension(mut self, offer: impl Into<String>) -> ClientOptions {
        self.extensions.push(offer.into());
        self
    }

    /// Adds an extra request header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ClientOptions {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the bounds on the response.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> ClientOptions {
        self.limits = limits;
        self
    }

    /// Offers permessage-deflate with `config` (`None`: no offer).
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn deflate(mut self, config: Option<crate::deflate::DeflateConfig>) -> ClientOptions {
        self.deflate = config;
        self
    }
}

/// A client's opening handshake: the request to write, and the validation of the response.
///
/// Write [`request`](Self::request), then feed every byte read to [`recv`](Self::recv) until it
/// returns the [`Response`] or an error; at end of stream call [`recv_eof`](Self::recv_eof).
/// [`Response::into_connection`] then gives the connection, with what was negotiated and the
/// bytes that followed the response's header block (already WebSocket frames).
///
/// A full round trip in memory:
///
/// ```
/// use rfc6455::handshake::{Accept, ClientHandshake, ClientOptions, Limits, ServerHandshake, Url};
///
/// let url = Url::parse("ws://example.com/chat")?;
/// let mut client = ClientHandshake::new(&url, &ClientOptions::new().protocol("chat"), [7; 16])?;
/// let mut server = ServerHandshake::new(Limits::default());
///
/// let request = server.recv(client.request())?.expect("a complete request");
/// assert_eq!((request.path(), request.protocols()), ("/chat", &["chat".to_string()][..]));
/// let mut bytes = request.accept(&Accept::new().protocol("chat"))?;
///
/// bytes.extend_from_slice(b"\x81\x02hi"); // a first frame, in the same read
/// let response = client.recv(&bytes)?.expect("a complete response");
/// assert_eq!(response.protocol(), Some("chat"));
/// assert_eq!(response.into_leftover(), b"\x81\x02hi");
/// # Ok::<(), rfc6455::handshake::HandshakeError>(())
/// ```
#[derive(Debug)]
pub struct ClientHandshake {
    request: Vec<u8>,
    accept: [u8; 28],
    protocols: Vec<String>,
    extensions: Vec<String>,
    limits: Limits,
    state: State,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
}

#[derive(Debug)]
enum State {
    Head(Head),
    Body(Refusal),
    Done,
}

/// A non-101 response whose body is being read, up to `want` bytes.
#[derive(Debug)]
struct Refusal {
    status: u16,
    headers: Fields,
    body: Vec<u8>,
    want: usize,
}

impl Refusal {
    fn into_error(self) -> HandshakeError {
        let Refusal {
            status,
            headers,
            body,
            ..
        } = self;
        ResponseError::Rejected {
            status,
            headers,
            body,
        }
        .into()
    }
}

impl ClientHandshake {
    /// Builds the request for `url`. `key` is 16 random bytes, sent base64-encoded as
    /// `Sec-WebSocket-Key`; they must be fresh for each connection and unpredictable
    /// ([RFC 6455 section 4.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.1)), which
    /// [`with_random_key`](Self::with_random_key) takes care of.
    ///
    /// # Errors
    /// [`HandshakeError::Options`]: [`Invalid`](OptionsError::Invalid) if a subprotocol is not
    /// a token or is repeated, an extension offer does not parse or offers permessage-deflate
    /// beside [`ClientOptions::deflate`], or an extra header cannot be written as is;
    /// `Deflate` for a `DeflateConfig` out of range.
    pub fn new(
        url: &Url,
        options: &ClientOptions,
        key: [u8; 16],
    ) -> Result<ClientHandshake, HandshakeError> {
        let protocols = &options.protocols;
        for (i, p) in protocols.iter().enumerate() {
            if token(p.as_bytes()).is_none() || protocols.iter().take(i).any(|q| q == p) {
                return Err(OptionsError::Invalid(
                    "a subprotocol is not a token, or is offered twice",
                )
                .into());
            }
        }
        #[allow(unused_mut)]
        let mut offers = options.extensions.clone();
        #[allow(unused_mut)]
        let mut extensions = extension_names(&offers)?;
        #[cfg(feature = "deflate")]
        if let Some(config) = &options.deflate {
            use crate::deflate::{EXTENSION_NAME, client_offer};
            if extensions.iter().any(|e| e == EXTENSION_NAME) {
                return Err(OptionsError::Invalid(
                    "permessage-deflate is offered both in ClientOptions::extensions and \
                     through ClientOptions::deflate; keep ClientOptions::deflate only",
                )
                .into());
            }
            offers.push(client_offer(config).map_err(OptionsError::Deflate)?);
            extensions.push(EXTENSION_NAME.into());
        }
        let key = BASE64.encode(key);
        let mut request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n",
            url.resource(),
            url.host_header(),
        );
        if !protocols.is_empty() {
            request.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                protocols.join(", ")
            ));
        }
        if !offers.is_empty() {
            let offers = offers.join(", ");
            request.push_str(&format!("Sec-WebSocket-Extensions: {offers}\r\n"));
        }
        push_headers(&mut request, &options.headers)?;
        request.push_str("\r\n");
        Ok(ClientHandshake {
            request: request.into_bytes(),
            accept: accept_key(key.as_bytes()),
            protocols: protocols.clone(),
            extensions,
            limits: options.limits.clone(),
            state: State::Head(Head::default()),
            #[cfg(feature = "deflate")]
            deflate: options.deflate.clone(),
        })
    }

    /// [`new`](Self::new) with a key from the operating system's secure random number generator.
    ///
    /// # Errors
    /// Those of [`new`](Self::new), and [`Rng`](HandshakeError::Rng) if the generator fails.
    #[cfg(feature = "std")]
    pub fn with_random_key(
        url: &Url,
        options: &ClientOptions,
    ) -> Result<ClientHandshake, HandshakeError> {
        use rand::TryRng as _;
        let mut key = [0; 16];
        rand::rngs::SysRng
            .try_fill_bytes(&mut key)
            .map_err(|_| HandshakeError::Rng)?;
        ClientHandshake::new(url, options, key)
    }

    /// The request to write, complete with its final empty line.
    #[must_use]
    pub fn request(&self) -> &[u8] {
        &self.request
    }

    /// Feeds bytes read from the server, in any chunking.
    ///
    /// `Ok(None)`: more bytes are needed. `Ok(Some(response))`: a 101 that passed every check of
    /// [RFC 6455 section 4.1](https://www.rfc-editor.org/rfc/rfc6455#section-4.1) (and, when
    /// [`ClientOptions::deflate`] was offered, of RFC 7692); bytes after it are in
    /// [`Response::leftover`].
    ///
    /// # Errors
    /// [`HandshakeError::Response`] with:
    /// - [`Rejected`](ResponseError::Rejected) for any other status, once its body is complete:
    ///   `Content-Length` bytes, or `max_body_bytes` if that is less or no length is given.
    ///   Nothing beyond `max_body_bytes` is kept.
    /// - [`Header`](ResponseError::Header): a limit or syntax error of the header block, such
    ///   as [`HeadersTooLarge`](HeaderError::HeadersTooLarge), or a 101 that is not HTTP/1.1 or
    ///   lacks `Upgrade: websocket` or `Connection: Upgrade`.
    /// - A missing or wrong `Sec-WebSocket-Accept`, a subprotocol we did not offer or more
    ///   than one, an extension we did not offer (names compared exactly), or a
    ///   permessage-deflate answer that breaks RFC 7692 or our offer (`Deflate`).
    ///
    /// [`Finished`](HandshakeError::Finished) once a response or an error was returned.
    pub fn recv(&mut self, data: &[u8]) -> Result<Option<Response>, HandshakeError> {
        match core::mem::replace(&mut self.state, State::Done) {
            State::Done => Err(HandshakeError::Finished),
            State::Head(mut head) => match head.feed(data, &self.limits).map_err(header)? {
                None => {
                    self.state = State::Head(head);
                    Ok(None)
                }
                Some(used) => self.recv_head(&head, data.get(used..).unwrap_or_default()),
            },
            State::Body(refusal) => self.recv_body(refusal, data),
        }
    }

    /// Reports the end of the stream, and returns the error to report:
    /// [`Truncated`](ResponseError::Truncated) in the middle of the header block, or
    /// [`Rejected`](ResponseError::Rejected) with the body received so far in the middle of a
    /// refusal's body ([`Finished`](HandshakeError::Finished) after the handshake ended).
    #[must_use]
    pub fn recv_eof(&mut self) -> HandshakeError {
        match core::mem::replace(&mut self.state, State::Done) {
            State::Head(_) => ResponseError::Truncated.into(),
            State::Body(refusal) => refusal.into_error(),
            State::Done => HandshakeError::Finished,
        }
    }

    fn recv_head(&mut self, head: &Head, rest: &[u8]) -> Result<Option<Response>, HandshakeError> {
        let mut slots = head.header_slots();
        let mut response = httparse::Response::new(&mut slots);
        parsed(response.parse(&head.buf), head.buf.len()).map_err(header)?;
        let headers = owned(response.headers);
        let status = response.code.unwrap_or_default();
        if status != 101 {
            let max = self.limits.max_body_bytes;
            let want = match status {
                100..=199 | 204 | 304 => 0,
                _ => content_length(&headers).map_or(max, |len| len.min(max)),
            };
            let refusal = Refusal {
                status,
                headers,
                body: Vec::new(),
                want,
            };
            return self.recv_body(refusal, rest);
        }
        self.check_101(response.version, headers, rest)
            .map(Some)
            .map_err(HandshakeError::Response)
    }

    /// The checks of a 101 response, in the order of RFC 6455 section 4.1.
    fn check_101(
        &self,
        version: Option<u8>,
        headers: Fields,
        rest: &[u8],
    ) -> Result<Response, ResponseError> {
        if version != Some(1) {
            return Err(ResponseError::Header(HeaderError::HttpVersion));
        }
        if !has_token(&headers, "Upgrade", "websocket") {
            return Err(ResponseError::Header(HeaderError::NoUpgradeWebsocket));
        }
        if !has_token(&headers, "Connection", "upgrade") {
            return Err(ResponseError::Header(HeaderError::NoConnectionUpgrade));
        }
        match single(&headers, "Sec-WebSocket-Accept") {
            Ok(accept) if accept == self.accept => {}
            Err(0) => return Err(ResponseError::MissingAccept),
            _ => return Err(ResponseError::WrongAccept),
        }
        let mut selected = protocols(&headers).map_err(ResponseError::Header)?;
        if selected.len() > 1 {
            return Err(ResponseError::MultipleProtocols);
        }
        let protocol = selected.pop();
        if let Some(p) = protocol.as_ref().filter(|p| !self.protocols.contains(p)) {
            return Err(ResponseError::UnofferedProtocol(p.clone()));
        }
        let extensions = extensions(&headers).map_err(ResponseError::Header)?;
        if let Some(e) = extensions
            .iter()
            .find(|e| !self.extensions.contains(&e.name))
        {
            return Err(ResponseError::UnofferedExtension(e.name.clone()));
        }
        #[cfg(feature = "deflate")]
        let deflate = match &self.deflate {
            Some(config) => client_deflate(config, &extensions)?,
            None => None,
        };
        Ok(Response {
            headers,
            protocol,
            extensions,
            leftover: rest.to_vec(),
            #[cfg(feature = "deflate")]
            deflate,
        })
    }

    /// Keeps the part of `data` that fits in the refusal's body; fails once it is complete.
    fn recv_body(
        &mut self,
        mut refusal: Refusal,
        data: &[u8],
    ) -> Result<Option<Response>, HandshakeError> {
        let take = refusal
            .want
            .saturating_sub(refusal.body.len())
            .min(data.len());
        refusal
            .body
            .extend_from_slice(data.get(..take).unwrap_or_default());
        if refusal.body.len() >= refusal.want {
            return Err(refusal.into_error());
        }
        self.state = State::Body(refusal);
        Ok(None)
    }
}

fn header(e: HeaderError) -> HandshakeError {
    HandshakeError::Response(ResponseError::Header(e))
}

/// What the server's answers make of our permessage-deflate offer from `config`: `None` if
/// it did not accept it.
#[cfg(feature = "deflate")]
fn client_deflate(
    config: &crate::deflate::DeflateConfig,
    answers: &[Extension],
) -> Result<Option<crate::deflate::Negotiated>, ResponseError> {
    use crate::deflate::{EXTENSION_NAME, NegotiationError, client_accept};
    let mut answers = answers.iter().filter(|e| e.name == EXTENSION_NAME);
    let Some(answer) = answers.next() else {
        return Ok(None);
    };
    if answers.next().is_some() {
        return Err(ResponseError::Deflate(NegotiationError::Repeated));
    }
    client_accept(config, answer)
        .map(Some)
        .map_err(ResponseError::Deflate)
}

/// The first `Content-Length`, if it is a number (saturated to `usize::MAX`).
fn content_length(headers: &[(String, Vec<u8>)]) -> Option<usize> {
    let value = values(headers, "Content-Length").next()?;
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len = core::str::from_utf8(value)
        .ok()?
        .parse::<u64>()
        .unwrap_or(u64::MAX);
    Some(usize::try_from(len).unwrap_or(usize::MAX))
}

/// A server's validated 101 response.
#[derive(Clone, Debug)]
pub struct Response {
    headers: Fields,
    protocol: Option<String>,
    extensions: Vec<Extension>,
    leftover: Vec<u8>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::Negotiated>,
}

impl Response {
    /// The status code: always 101.
    #[must_use]
    pub fn status(&self) -> u16 {
        101
    }

    /// Every header as received, in order: name, and value with surrounding whitespace trimmed.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// The first header called `name` (any case), if its value is UTF-8.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        core::str::from_utf8(values(&self.headers, name).next()?).ok()
    }

    /// The subprotocol the server selected, one of those offered.
    #[must_use]
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The extensions the server accepted, in its order, each one we offered. The extension's
    /// own code must still check the parameters.
    #[must_use]
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// Bytes received after the header block: the first WebSocket frames.
    #[must_use]
    pub fn leftover(&self) -> &[u8] {
        &self.leftover
    }

    /// Takes the bytes received after the header block, for the connection to consume first.
    #[must_use]
    pub fn into_leftover(self) -> Vec<u8> {
        self.leftover
    }

    /// How our compressor runs, if the server accepted our permessage-deflate offer
    /// ([`ClientOptions::deflate`]).
    #[cfg(feature = "deflate")]
    #[must_use]
    pub fn deflate(&self) -> Option<crate::deflate::Negotiated> {
        self.deflate
    }

    /// The client's connection: `config`, the permessage-deflate that was agreed, and the
    /// bytes received after the header block, ready as its first input. Read
    /// [`protocol`](Self::protocol) and the headers first if they are needed.
    ///
    /// Extensions offered as raw [`ClientOptions::extensions`] are not run by the
    /// connection; only [`ClientOptions::deflate`] is.
    #[cfg(feature = "std")]
    #[must_use]
    pub fn into_connection(mut self, config: crate::Config) -> crate::Connection {
        self.take_connection(config)
    }

    /// [`into_connection`](Self::into_connection), keeping the response for its headers:
    /// the leftover bytes move into the connection (and [`leftover`](Self::leftover) is
    /// empty afterwards).
    #[cfg(feature = "std")]
    #[must_use]
    pub fn take_connection(&mut self, config: crate::Config) -> crate::Connection {
        let mut conn = crate::Connection::new(crate::Role::Client, config);
        #[cfg(feature = "deflate")]
        if let Some(negotiated) = self.deflate {
            conn.enable_deflate(negotiated);
        }
        conn.recv(&core::mem::take(&mut self.leftover));
        conn
    }
}
