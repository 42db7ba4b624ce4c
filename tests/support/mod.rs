//! What the integration tests share. Every listener binds 127.0.0.1:0.
//!
//! - here: the guard timeout, loopback servers in threads, an echo loop, skipping a test
//!   whose outside tool is missing (never under CI);
//! - [`frames`]: frame bytes built and decoded by hand (any bits, lengths in any form);
//! - [`raw`]: raw peers that speak the handshake and the wire format by hand, to misbehave
//!   on purpose or to check bytes on the wire;
//! - [`seen`]: the events a sans-IO `Connection` makes of its input, owned;
//! - `pki` (feature `tls`): a test CA, its certificates and rustls configurations.
#![allow(dead_code)] // each test file uses a different part

pub mod frames;
#[cfg(feature = "tls")]
pub mod pki;
pub mod raw;
pub mod seen;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rfc6455::blocking::{Message, WebSocket};

/// Skips a test whose outside tool is missing, saying why; under CI (`CI` set and not
/// `false`), where every tool is installed, the test fails instead, so that a skip is never
/// counted as a pass there.
pub fn skip(why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    assert!(
        !ci,
        "CI runs every test, but this one would be skipped: {why}"
    );
    eprintln!("skipped: {why}");
}

/// A bound on every blocking wait, so a bug fails a test instead of hanging it.
pub const GUARD: Duration = Duration::from_secs(10);

/// A listener on 127.0.0.1:0, and its address.
pub fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

/// Binds 127.0.0.1:0 and runs `serve` on the first connection in a thread.
pub fn spawn_server<T, F>(serve: F) -> (SocketAddr, JoinHandle<T>)
where
    T: Send + 'static,
    F: FnOnce(TcpStream) -> T + Send + 'static,
{
    let (listener, addr) = listen();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        serve(stream)
    });
    (addr, handle)
}

/// A stream that counts the bytes read from it and written to it, to check what went over
/// the wire.
pub struct Counting<S> {
    pub inner: S,
    pub read: usize,
    pub written: usize,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Counting<S> {
        Counting {
            inner,
            read: 0,
            written: 0,
        }
    }
}

impl<S: Read> Read for Counting<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n;
        Ok(n)
    }
}

impl<S: Write> Write for Counting<S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Joins a thread, re-raising its panic with its own message.
pub fn join<T>(handle: JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Echoes text and binary messages until the connection is over (with [`GUARD`] as the read
/// timeout); returns what it read. A failed read fails the test.
pub fn echo<S: Read + Write>(mut ws: WebSocket<S>) -> Vec<Message> {
    ws.set_read_timeout(Some(GUARD));
    let mut seen = Vec::new();
    loop {
        match ws.read() {
            Ok(Some(message)) => {
                match &message {
                    Message::Text(text) => ws.send_text(text).expect("echo text"),
                    Message::Binary(data) => ws.send_binary(data).expect("echo binary"),
                    _ => {}
                }
                seen.push(message);
            }
            Ok(None) => return seen,
            Err(e) => panic!("echo server: read failed: {e:?}"),
        }
    }
}
