//! Raw peers: the opening handshake and frames read and written by hand over a `TcpStream`,
//! for a peer that misbehaves on purpose or a test that checks bytes on the wire.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use rfc6455::handshake::accept_key;
use rfc6455::mask::apply_mask;

use super::GUARD;

/// The opening handshake of RFC 6455 section 1.3, as a raw client writes it.
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// The `Sec-WebSocket-Accept` that `REQUEST`'s key calls for (RFC 6455 section 1.3).
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A TCP connection to `addr` with [`GUARD`] as its read and write timeouts, and no Nagle
/// delay (a raw peer's small writes go out when written).
pub fn raw_connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream.set_write_timeout(Some(GUARD)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads an HTTP header block byte by byte, so no byte after it is consumed. Stops early at
/// the end of the stream or an error: the caller checks what came.
pub fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads a whole HTTP header block; fails the test if the stream ends first or it is not
/// ASCII.
pub fn read_whole_head(stream: &mut TcpStream) -> String {
    let head = read_head(stream);
    assert!(
        head.ends_with("\r\n\r\n"),
        "incomplete header block: {head:?}"
    );
    assert!(head.is_ascii(), "header block not ASCII: {head:?}");
    head
}

/// Checks a 101 response to [`REQUEST`].
pub fn assert_switching(head: &str) {
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(head.contains(ACCEPT), "{head}");
}

/// A raw client that completed the opening handshake ([`REQUEST`], then a 101 checked with
/// [`assert_switching`]) with the server at `addr`.
pub fn raw_client(addr: SocketAddr) -> TcpStream {
    let mut stream = raw_connect(addr);
    stream.write_all(REQUEST).expect("write request");
    assert_switching(&read_whole_head(&mut stream));
    stream
}

/// A raw server's side of the opening handshake: reads the request and accepts it.
pub fn raw_accept(stream: &mut TcpStream) {
    let response = switching_response(stream);
    stream.write_all(&response).expect("write 101");
}

/// Reads a client's request (with [`GUARD`] as the read timeout) and returns the 101 that
/// accepts it, for a raw server to write.
pub fn switching_response(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(GUARD)).expect("read timeout");
    let head = read_whole_head(stream);
    let key = header_value(&head, "sec-websocket-key");
    let accept = accept_key(key.as_bytes());
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        std::str::from_utf8(&accept).expect("base64")
    )
    .into_bytes()
}

/// The value of header `name` (any case) in a header block; fails the test if it is absent.
pub fn header_value(head: &str, name: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no {name} header in {head:?}"))
}

/// A frame as read off the wire, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

/// Reads one frame off a raw stream.
pub fn read_frame(stream: &mut impl Read) -> io::Result<RawFrame> {
    let mut head = [0; 2];
    stream.read_exact(&mut head)?;
    let len = match head[1] & 0x7f {
        126 => {
            let mut n = [0; 2];
            stream.read_exact(&mut n)?;
            u64::from(u16::from_be_bytes(n))
        }
        127 => {
            let mut n = [0; 8];
            stream.read_exact(&mut n)?;
            u64::from_be_bytes(n)
        }
        n => u64::from(n),
    };
    let masked = head[1] & 0x80 != 0;
    let mut key = [0; 4];
    if masked {
        stream.read_exact(&mut key)?;
    }
    let mut payload = vec![0; usize::try_from(len).expect("frame length fits in usize")];
    stream.read_exact(&mut payload)?;
    if masked {
        apply_mask(&mut payload, key, 0);
    }
    Ok(RawFrame {
        fin: head[0] & 0x80 != 0,
        rsv: (head[0] >> 4) & 0x7,
        opcode: head[0] & 0x0f,
        masked,
        payload,
    })
}

/// Reads and discards everything until the end of the stream (or an error); returns how many
/// bytes came.
pub fn drain_to_eof(stream: &mut impl Read) -> io::Result<usize> {
    let mut total = 0;
    let mut buf = [0; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
