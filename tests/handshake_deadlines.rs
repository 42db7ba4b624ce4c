//! The blocking adapters' handshake deadlines over real 127.0.0.1 sockets (port 0): the TCP
//! connect counts towards `handshake_timeout`, and no duration, however long, panics.

mod support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rfc6455::CloseCode;
use rfc6455::blocking::{Acceptor, ClientBuilder, Error, Message, TimeoutControl};
use support::{GUARD, listen};

/// A listener that never accepts, with its accept queue filled by connections, so that a new
/// SYN is dropped and a connect to it hangs. `None` if the queue would not fill within 1024
/// connections (a kernel that answers anyway, such as one with a huge backlog).
fn full_listener() -> Option<(TcpListener, Vec<TcpStream>)> {
    let (listener, addr) = listen();
    let mut fillers = Vec::new();
    for _ in 0..1024 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Some((listener, fillers));
            }
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    None
}

#[test]
fn connect_times_out_while_tcp_connect_is_pending() {
    let Some((listener, _fillers)) = full_listener() else {
        panic!("the accept queue did not fill within 1024 connections on this kernel");
    };
    let url = format!("ws://{}/", listener.local_addr().expect("local address"));
    let timeout = Duration::from_secs(1);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let start = Instant::now();
        let result = ClientBuilder::new(url).handshake_timeout(timeout).connect();
        let _ = tx.send((result.map(drop), start.elapsed()));
    });
    // Before the fix, the connect hung for the OS's SYN retries (about two minutes).
    let (result, elapsed) = rx
        .recv_timeout(Duration::from_secs(3))
        .expect("connect() still blocked 3 s into a 1 s handshake timeout");
    assert!(
        matches!(result, Err(Error::HandshakeTimeout(t)) if t == timeout),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
}

#[test]
fn connect_timeout_shorter_than_handshake_timeout_still_applies() {
    let Some((listener, _fillers)) = full_listener() else {
        panic!("the accept queue did not fill within 1024 connections on this kernel");
    };
    let url = format!("ws://{}/", listener.local_addr().expect("local address"));
    let start = Instant::now();
    let result = ClientBuilder::new(url)
        .connect_timeout(Duration::from_millis(300))
        .handshake_timeout(GUARD)
        .connect();
    // One address, timed out by the connect timeout: an I/O timeout, well before the guard.
    assert!(
        matches!(&result, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut),
        "{:?}",
        result.map(drop)
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

/// Runs an echo server on one connection accepted with `acceptor`, in a thread.
fn echo_server(acceptor: Acceptor) -> (SocketAddr, thread::JoinHandle<Result<(), Error>>) {
    let (listener, addr) = listen();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(GUARD))?;
        let mut ws = acceptor.accept(stream)?;
        while let Some(message) = ws.read()? {
            if let Message::Text(text) = message {
                ws.send_text(&text)?;
            }
        }
        Ok(())
    });
    (addr, handle)
}

#[test]
fn duration_max_timeouts_do_not_panic_client_or_server() {
    let (addr, server) = echo_server(
        Acceptor::new()
            .handshake_timeout(Duration::MAX)
            .write_timeout(Duration::MAX),
    );
    let mut ws = ClientBuilder::new(format!("ws://{addr}/"))
        .handshake_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .read_timeout(Duration::MAX)
        .write_timeout(Duration::MAX)
        .connect()
        .expect("a handshake with Duration::MAX timeouts");
    ws.send_text("still here").expect("send");
    assert_eq!(
        ws.read().expect("read"),
        Some(Message::Text("still here".into()))
    );
    ws.close(CloseCode::NORMAL, "").expect("close");
    while ws.read().expect("read until closed").is_some() {}
    server
        .join()
        .expect("server thread")
        .expect("server with Duration::MAX timeouts");
}

#[test]
fn duration_max_handshake_timeout_on_any_stream_does_not_panic() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || -> Result<(), Error> {
        let (stream, _) = listener.accept()?;
        let control: TimeoutControl<TcpStream> = TcpStream::set_read_timeout;
        let mut ws = Acceptor::new()
            .handshake_timeout(Duration::MAX)
            .accept_stream_with(stream, Some(control), |_| {
                Ok(rfc6455::handshake::Accept::new())
            })?;
        ws.set_read_timeout(Some(GUARD));
        while ws.read()?.is_some() {}
        Ok(())
    });
    let stream = TcpStream::connect(addr).expect("connect");
    let control: TimeoutControl<TcpStream> = TcpStream::set_read_timeout;
    let mut ws = ClientBuilder::new(format!("ws://{addr}/"))
        .handshake_timeout(Duration::MAX)
        .connect_on(stream, Some(control))
        .expect("a handshake with a Duration::MAX deadline");
    ws.close(CloseCode::NORMAL, "").expect("close");
    while ws.read().expect("read until closed").is_some() {}
    server.join().expect("server thread").expect("server");
}
