//! Target (d): the opening handshake parsers, `ServerHandshake::recv` (requests) and
//! `ClientHandshake::recv` (responses), fed arbitrary bytes in arbitrary chunks.
//!
//! Oracles: the outcome does not depend on the chunking; no byte is lost (a complete header
//! block followed by the leftover, and the chunks not fed, is the input); a finished handshake
//! refuses more input; every error a server can meet has a status and a response to send; a
//! request that is accepted yields a 101 that a client offering the same things accepts; a
//! response that is accepted only selects what was offered.

use rfc6455::handshake::{
    Accept, ClientHandshake, ClientOptions, Extension, HandshakeError, Limits, ResponseError,
    ServerHandshake, Url, accept_key,
};

use super::{Input, chunks};

/// The RFC 6455 section 1.3 sample nonce, the client's key in the response target.
pub const KEY: [u8; 16] = *b"the sample nonce";

pub fn limits(flags: u8) -> Limits {
    let mut limits = Limits::default();
    if flags & 1 != 0 {
        limits.max_line_bytes = 64;
        limits.max_header_bytes = 256;
        limits.max_headers = 6;
        limits.max_body_bytes = 16;
    }
    limits
}

/// A request as parsed, owned, with the bytes after its header block.
#[derive(Debug, PartialEq, Eq)]
struct RequestView {
    method: String,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
    key: String,
    protocols: Vec<String>,
    extensions: Vec<Extension>,
    after: Vec<u8>,
}

/// Feeds the pieces until the handshake completes or fails.
fn serve(
    limits: &Limits,
    pieces: &[&[u8]],
) -> (Result<Option<RequestView>, HandshakeError>, usize) {
    let mut server = ServerHandshake::new(limits.clone());
    for (i, piece) in pieces.iter().enumerate() {
        match server.recv(piece) {
            Ok(None) => {}
            Ok(Some(mut request)) => {
                assert!(matches!(server.recv(b"x"), Err(HandshakeError::Finished)));
                check_accept(&request);
                // The leftover is the rest of this piece, and every later piece follows it.
                let mut after = request.take_leftover();
                assert!(piece.ends_with(&after));
                for later in &pieces[i + 1..] {
                    after.extend_from_slice(later);
                }
                let view = RequestView {
                    method: request.method().to_owned(),
                    uri: request.uri().to_owned(),
                    headers: request
                        .headers()
                        .map(|(n, v)| (n.to_owned(), v.to_vec()))
                        .collect(),
                    key: request.key().to_owned(),
                    protocols: request.protocols().to_vec(),
                    extensions: request.extensions().to_vec(),
                    after,
                };
                return (Ok(Some(view)), i);
            }
            Err(e) => {
                assert!(e.status().is_some(), "a server cannot answer {e:?}");
                let response = e.response().expect("a response for every request error");
                let status = e.status().map(|s| format!("HTTP/1.1 {s} "));
                assert!(
                    response.starts_with(status.as_deref().unwrap_or_default().as_bytes()),
                    "{e:?} answered with {:?}",
                    String::from_utf8_lossy(&response)
                );
                assert!(matches!(server.recv(b"x"), Err(HandshakeError::Finished)));
                return (Err(e), i);
            }
        }
    }
    (Ok(None), pieces.len())
}

/// The 101 for an accepted request must be accepted by a client that offered the same.
fn check_accept(request: &rfc6455::handshake::Request) {
    let mut key = [0; 16];
    let decoded = decode_base64(request.key().as_bytes());
    key.copy_from_slice(
        decoded
            .as_deref()
            .expect("an accepted key is base64 of 16 bytes"),
    );
    assert_eq!(request.method(), "GET");
    let mut answer = Accept::new();
    if let Some(first) = request.protocols().first() {
        answer = answer.protocol(first.clone());
    }
    if let Some(first) = request.extensions().first() {
        answer = answer.extension(first.name.clone());
    }
    let response = request.accept(&answer).expect("accepting what was offered");
    let accept = accept_key(request.key().as_bytes());
    assert!(response.windows(28).any(|w| w == accept));
    // A client with the same key and offers accepts it, when its options can be written.
    let mut options = ClientOptions::new();
    for p in request.protocols() {
        options = options.protocol(p.clone());
    }
    for e in request.extensions() {
        options = options.extension(e.to_string());
    }
    let url = Url::parse("ws://example.com/").expect("a valid URL");
    let Ok(mut client) = ClientHandshake::new(&url, &options, key) else {
        // Repeated subprotocols cannot be offered by our client.
        return;
    };
    let accepted = client
        .recv(&response)
        .expect("our client accepts our 101")
        .expect("the 101 is complete");
    assert_eq!(accepted.protocol(), answer.protocol.as_deref());
    assert!(accepted.leftover().is_empty());
}

/// Standard base64 of exactly 16 bytes, decoded by hand (the root crate's tests have no
/// base64 dependency of their own).
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    if text.len() != 24 || &text[22..] != b"==" {
        return None;
    }
    let mut out = Vec::new();
    for quad in text[..20].chunks(4) {
        let mut n = 0;
        for &c in quad {
            n = n << 6 | value(c)?;
        }
        out.extend_from_slice(&n.to_be_bytes()[1..]);
    }
    let n = value(text[20])? << 18 | value(text[21])? << 12;
    out.push((n >> 16) as u8);
    (out.len() == 16).then_some(out)
}

pub fn run_request(data: &[u8]) {
    let mut input = Input::new(data);
    let limits = limits(input.byte());
    let sizes = input.chunk_sizes();
    let bytes = input.rest();
    let (whole, _) = serve(&limits, &[bytes]);
    let pieces = chunks(bytes, &sizes);
    let (split, _) = serve(&limits, &pieces);
    assert_eq!(whole, split, "the chunking changed the outcome");
    if let Ok(Some(view)) = &whole {
        let block = &bytes[..bytes.len() - view.after.len()];
        assert!(
            block.ends_with(b"\n\n") || block.ends_with(b"\n\r\n"),
            "{block:?}"
        );
        assert!(block.len() <= limits.max_header_bytes);
        check_upgrade_request(view, block);
    }
}

/// An accepted request has everything RFC 6455 section 4.2.1 asks of it: an HTTP/1.1 GET
/// request line, one Host, the websocket upgrade and version 13.
fn check_upgrade_request(view: &RequestView, block: &[u8]) {
    let start = block
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    let line_end = block[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(block.len(), |n| start + n);
    let line = block[start..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&block[start..line_end]);
    assert!(line.starts_with(b"GET "), "request line {line:?}");
    assert!(line.ends_with(b" HTTP/1.1"), "request line {line:?}");
    let values = |name: &str| -> Vec<&[u8]> {
        view.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    };
    let has_token = |name: &str, token: &str| {
        values(name).iter().any(|v| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    assert_eq!(values("Host").len(), 1, "{:?}", view.headers);
    assert!(has_token("Upgrade", "websocket"), "{:?}", view.headers);
    assert!(has_token("Connection", "upgrade"), "{:?}", view.headers);
    let versions = values("Sec-WebSocket-Version");
    assert!(
        versions.len() == 1 && versions[0].trim_ascii() == b"13",
        "{versions:?}"
    );
}

/// A response as parsed, owned.
#[derive(Debug, PartialEq, Eq)]
struct ResponseView {
    headers: Vec<(String, Vec<u8>)>,
    protocol: Option<String>,
    extensions: Vec<Extension>,
    after: Vec<u8>,
}

fn client(flags: u8) -> ClientHandshake {
    let mut options = ClientOptions::new().limits(limits(flags));
    if flags & 2 != 0 {
        options = options.protocol("chat").protocol("superchat");
    }
    if flags & 4 != 0 {
        options = options.extension("permessage-deflate; client_max_window_bits");
    }
    let url = Url::parse("ws://example.com/chat").expect("a valid URL");
    ClientHandshake::new(&url, &options, KEY).expect("valid options")
}

fn connect(flags: u8, pieces: &[&[u8]], eof: bool) -> Result<Option<ResponseView>, HandshakeError> {
    let mut client = client(flags);
    for (i, piece) in pieces.iter().enumerate() {
        match client.recv(piece) {
            Ok(None) => {}
            Ok(Some(response)) => {
                assert_eq!(client.recv(b"x").unwrap_err(), HandshakeError::Finished);
                assert_eq!(response.status(), 101);
                let accept = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
                assert_eq!(
                    response.header("Sec-WebSocket-Accept").map(str::as_bytes),
                    Some(&accept[..])
                );
                if let Some(p) = response.protocol() {
                    assert!(flags & 2 != 0 && (p == "chat" || p == "superchat"), "{p}");
                }
                for e in response.extensions() {
                    assert!(flags & 4 != 0 && e.name == "permessage-deflate", "{e:?}");
                }
                let mut after = response.leftover().to_vec();
                assert!(piece.ends_with(&after));
                for later in &pieces[i + 1..] {
                    after.extend_from_slice(later);
                }
                return Ok(Some(ResponseView {
                    headers: response
                        .headers()
                        .map(|(n, v)| (n.to_owned(), v.to_vec()))
                        .collect(),
                    protocol: response.protocol().map(str::to_owned),
                    extensions: response.extensions().to_vec(),
                    after,
                }));
            }
            Err(e) => {
                if let HandshakeError::Response(ResponseError::Rejected { status, body, .. }) = &e {
                    assert_ne!(*status, 101);
                    assert!(body.len() <= limits(flags).max_body_bytes);
                }
                assert_eq!(client.recv(b"x").unwrap_err(), HandshakeError::Finished);
                return Err(e);
            }
        }
    }
    if eof {
        let e = client.recv_eof();
        assert_eq!(client.recv_eof(), HandshakeError::Finished);
        return Err(e);
    }
    Ok(None)
}

pub fn run_response(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let eof = flags & 8 != 0;
    let sizes = input.chunk_sizes();
    let bytes = input.rest();
    let whole = connect(flags, &[bytes], eof);
    let split = connect(flags, &chunks(bytes, &sizes), eof);
    assert_eq!(whole, split, "the chunking changed the outcome");
    if let Ok(Some(view)) = &whole {
        let block = &bytes[..bytes.len() - view.after.len()];
        assert!(
            block.ends_with(b"\n\n") || block.ends_with(b"\n\r\n"),
            "{block:?}"
        );
    }
}
