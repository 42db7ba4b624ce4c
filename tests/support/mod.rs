//! What the integration tests share: loopback servers in threads, raw peers that speak the
//! wire format by hand (to misbehave on purpose), and frame builders. Every listener binds
//! 127.0.0.1:0.
#![allow(dead_code)] // each test file uses a different part

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rfc6455::handshake::accept_key;
use rfc6455::mask::apply_mask;

/// A bound on every blocking wait, so a bug fails a test instead of hanging it.
pub const GUARD: Duration = Duration::from_secs(10);

/// The opening handshake of RFC 6455 section 1.3, as a raw client writes it.
pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// The masking key of raw clients' frames.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Binds 127.0.0.1:0 and runs `serve` on the first connection in a thread.
pub fn spawn_server<T, F>(serve: F) -> (SocketAddr, JoinHandle<T>)
where
    T: Send + 'static,
    F: FnOnce(TcpStream) -> T + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        serve(stream)
    });
    (addr, handle)
}

/// Joins a thread, re-raising its panic with its own message.
pub fn join<T>(handle: JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Reads an HTTP header block byte by byte.
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

/// A raw client that completed the opening handshake with the server at `addr`.
pub fn raw_client(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream.set_write_timeout(Some(GUARD)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.write_all(REQUEST).unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    stream
}

/// A raw server's side of the handshake: reads the request and answers 101.
pub fn raw_accept(stream: &mut TcpStream) {
    stream.set_read_timeout(Some(GUARD)).unwrap();
    let head = read_head(stream);
    let key = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_string())
        })
        .expect("a Sec-WebSocket-Key");
    let accept = accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        std::str::from_utf8(&accept).unwrap()
    );
    stream.write_all(response.as_bytes()).unwrap();
}

/// The header of a frame: FIN, the opcode, the length in its shortest form, and the raw
/// client's key when `masked`.
pub fn frame_header(opcode: u8, len: u64, masked: bool) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match len {
        0..=125 => out.push(mask_bit | len as u8),
        126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend((len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend(len.to_be_bytes());
        }
    }
    if masked {
        out.extend(KEY);
    }
    out
}

/// A whole frame, masked with [`KEY`] when `masked` (as a client sends it).
pub fn frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = frame_header(opcode, payload.len() as u64, masked);
    let start = out.len();
    out.extend_from_slice(payload);
    if masked {
        apply_mask(&mut out[start..], KEY, 0);
    }
    out
}

/// A frame read off the wire: opcode and unmasked payload.
pub type RawFrame = (u8, Vec<u8>);

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
    let mut key = None;
    if head[1] & 0x80 != 0 {
        let mut k = [0; 4];
        stream.read_exact(&mut k)?;
        key = Some(k);
    }
    let mut payload = vec![0; len as usize];
    stream.read_exact(&mut payload)?;
    if let Some(k) = key {
        apply_mask(&mut payload, k, 0);
    }
    Ok((head[0] & 0x0f, payload))
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
