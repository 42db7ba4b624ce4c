//! Handshake tests, named by RFC 6455 section where one applies.

use super::*;

/// The RFC's sample key: base64 of "the sample nonce" is `dGhlIHNhbXBsZSBub25jZQ==`.
const KEY: [u8; 16] = *b"the sample nonce";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// A masked "Hello" frame (RFC 6455 section 5.7).
const FRAME: &[u8] = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

const VALID: [&str; 5] = [
    "Host: example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
];

/// A request: `start` line, the valid headers except those named `drop`, then `add`.
fn req(start: &str, drop: &str, add: &[&str]) -> Vec<u8> {
    let kept = VALID
        .iter()
        .filter(|h| drop.is_empty() || !h.starts_with(drop));
    let lines: Vec<&str> = kept.copied().chain(add.iter().copied()).collect();
    format!("{start}\r\n{}\r\n\r\n", lines.join("\r\n")).into_bytes()
}

fn valid_request() -> Vec<u8> {
    req("GET /chat HTTP/1.1", "", &[])
}

/// The valid request with header `name` set to `value` instead.
fn set(name: &str, value: &str) -> Vec<u8> {
    req("GET / HTTP/1.1", name, &[&format!("{name}: {value}")])
}

/// The valid request plus a header line.
fn add(line: &str) -> Vec<u8> {
    req("GET / HTTP/1.1", "", &[line])
}

/// Feeds `data` in chunks of `chunk` bytes until the handshake completes or fails; returns the
/// outcome and the bytes not fed.
fn feed<T>(
    mut recv: impl FnMut(&[u8]) -> Result<Option<T>, HandshakeError>,
    data: &[u8],
    chunk: usize,
) -> (Result<T, HandshakeError>, Vec<u8>) {
    let mut fed = 0;
    for piece in data.chunks(chunk) {
        fed += piece.len();
        match recv(piece) {
            Ok(None) => {}
            Ok(Some(done)) => return (Ok(done), data[fed..].to_vec()),
            Err(e) => return (Err(e), Vec::new()),
        }
    }
    panic!("incomplete after {} bytes", data.len());
}

fn server_recv(data: &[u8]) -> Result<Request, HandshakeError> {
    let mut server = ServerHandshake::new(Limits::default());
    feed(|d| server.recv(d), data, usize::MAX).0
}

fn new_client() -> ClientHandshake {
    let url = Url::parse("ws://example.com/chat").unwrap();
    let options = ClientOptions::new()
        .protocol("chat")
        .extension("permessage-deflate");
    ClientHandshake::new(&url, &options, KEY).unwrap()
}

/// A 101 with the right accept key, plus `add`, for [`new_client`]; without the headers named `drop`.
fn resp(drop: &str, add: &[&str]) -> Vec<u8> {
    let accept = format!("Sec-WebSocket-Accept: {ACCEPT}");
    let base = ["Upgrade: websocket", "Connection: Upgrade", accept.as_str()];
    let kept = base
        .into_iter()
        .filter(|h| drop.is_empty() || !h.starts_with(drop));
    let lines: Vec<&str> = kept.chain(add.iter().copied()).collect();
    format!(
        "HTTP/1.1 101 Switching Protocols\r\n{}\r\n\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

fn client_recv(data: &[u8]) -> Result<Response, HandshakeError> {
    let mut client = new_client();
    feed(|d| client.recv(d), data, usize::MAX).0
}

mod chunking;
mod client;
mod header_case;
mod limits;
mod options;
mod reject;
mod round_trip;
mod server;
mod url;
