//! The blocking adapters against hostile peers: one that trickles, one that never reads, one
//! that goes silent, one that ignores our close. Every deadline is the core's, and every
//! bound here is checked against the wall clock with generous slack (these tests assert
//! that a wait ends, never how fast code runs).

mod support;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rfc6455::blocking::{self, Error, Keepalive, Message, WebSocket};
use rfc6455::{CloseCode, Config, Role, SendError};
use support::frames::{frame_header, masked_frame, unmasked_frame};
use support::raw::{RawFrame, drain_to_eof, raw_accept, raw_client, read_frame};
use support::{GUARD, join, spawn_server};

/// Our server over the first connection, with `setup` applied.
fn our_server<T: Send + 'static>(
    serve: impl FnOnce(WebSocket<TcpStream>) -> T + Send + 'static,
) -> (std::net::SocketAddr, thread::JoinHandle<T>) {
    spawn_server(move |stream| serve(blocking::accept(stream).expect("server handshake")))
}

/// A keepalive that stays out of the way of a test about something else.
fn quiet() -> Keepalive {
    Keepalive::off()
}

#[test]
fn close_times_out_at_the_close_timeout_although_the_peer_keeps_sending_small_frames() {
    let (addr, server) = our_server(|mut ws| {
        ws.set_keepalive(quiet());
        ws.set_close_timeout(Duration::from_millis(500));
        let started = Instant::now();
        let result = ws.close(CloseCode::NORMAL, "bye");
        (result, started.elapsed())
    });
    let mut peer = raw_client(addr);
    // Ignore the close and keep sending small frames, in batches so that the input never
    // pauses long enough for a read to time out, for at most 4 s (until our server hangs up).
    let batch = masked_frame(true, 0x2, b"tick").repeat(4096);
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until && peer.write_all(&batch).is_ok() {}
    let (result, took) = join(server);
    assert!(
        matches!(result, Err(Error::CloseTimeout(d)) if d == Duration::from_millis(500)),
        "{result:?}"
    );
    assert!(took < Duration::from_millis(1500), "close took {took:?}");
}

#[test]
fn read_timeout_bounds_a_trickled_message() {
    let (addr, server) = our_server(|mut ws| {
        ws.set_keepalive(quiet());
        ws.set_read_timeout(Some(Duration::from_millis(500)));
        let started = Instant::now();
        let result = ws.read();
        (result, started.elapsed())
    });
    let mut peer = raw_client(addr);
    // The header of a 1 MiB frame, then one byte every 200 µs.
    peer.write_all(&frame_header(0x2, 1 << 20, true, None))
        .unwrap();
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until && peer.write_all(&[0]).is_ok() {
        thread::sleep(Duration::from_micros(200));
        if server.is_finished() {
            break;
        }
    }
    let (result, took) = join(server);
    match result {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}"),
        other => panic!("expected a read timeout, got {other:?}"),
    }
    assert!(took < Duration::from_millis(1500), "read took {took:?}");
}

#[test]
fn a_read_timed_out_mid_message_resumes_and_loses_nothing() {
    let (addr, server) = our_server(|mut ws| {
        ws.set_keepalive(quiet());
        ws.set_read_timeout(Some(Duration::from_millis(200)));
        let first = ws.read();
        ws.set_read_timeout(Some(GUARD));
        (first, ws.read())
    });
    let mut peer = raw_client(addr);
    let whole = masked_frame(true, 0x1, b"hello, slowly");
    peer.write_all(&whole[..8]).unwrap();
    thread::sleep(Duration::from_millis(600));
    peer.write_all(&whole[8..]).unwrap();
    let (first, second) = join(server);
    assert!(matches!(first, Err(ref e) if e.is_retryable()), "{first:?}");
    assert_eq!(second.unwrap(), Some(Message::Text("hello, slowly".into())));
}

#[test]
fn a_read_timeout_too_long_to_represent_means_no_timeout() {
    let (addr, server) = our_server(|mut ws| {
        ws.set_keepalive(quiet());
        ws.set_read_timeout(Some(Duration::MAX));
        ws.read()
    });
    let mut peer = raw_client(addr);
    thread::sleep(Duration::from_millis(50));
    peer.write_all(&masked_frame(true, 0x1, b"still here"))
        .unwrap();
    assert_eq!(
        join(server).unwrap(),
        Some(Message::Text("still here".into()))
    );
}

#[test]
fn split_reader_blocked_in_read_sees_a_later_writer_close_time_out() {
    let (addr, server) = our_server(|ws| {
        let (mut reader, writer) = ws.split().unwrap();
        reader.set_close_timeout(Duration::from_millis(300));
        // Pings before the close; none after it.
        reader.set_keepalive(Keepalive::new(
            Duration::from_millis(100),
            Duration::from_secs(10),
        ));
        let closer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            let result = writer.close(CloseCode::NORMAL, "done");
            (result, Instant::now())
        });
        let result = reader.read();
        let ended = Instant::now();
        let (closed, closed_at) = join(closer);
        (result, closed, ended.saturating_duration_since(closed_at))
    });
    // A silent peer that never answers the close (it reads, so nothing backs up).
    let mut peer = raw_client(addr);
    let reading = thread::spawn(move || {
        let mut frames = Vec::new();
        while let Ok(frame) = read_frame(&mut peer) {
            frames.push(frame.opcode);
        }
        frames
    });
    let (result, closed, after_close) = join(server);
    closed.unwrap();
    assert!(
        matches!(result, Err(Error::CloseTimeout(d)) if d == Duration::from_millis(300)),
        "{result:?}"
    );
    assert!(
        after_close < Duration::from_millis(1300),
        "the reader ended {after_close:?} after the close"
    );
    let frames = join(reading);
    let close_at = frames.iter().position(|&op| op == 0x8).expect("our close");
    assert!(
        frames[close_at + 1..].iter().all(|&op| op != 0x9),
        "a ping after the close: {frames:?}"
    );
}

#[test]
fn split_reader_reports_the_peer_close_after_its_echo_could_not_be_written_at_first() {
    let (addr, server) = our_server(|ws| {
        ws.get_ref()
            .set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let (mut reader, writer) = ws.split().unwrap();
        reader.set_keepalive(quiet());
        // Fill the socket towards a peer that does not read, until a write times out.
        let chunk = vec![0u8; 256 * 1024];
        let mut sends = 0;
        while writer.send_binary(&chunk).is_ok() {
            sends += 1;
            assert!(sends < 1000, "the peer's window never filled");
        }
        let mut results = Vec::new();
        for _ in 0..50 {
            let result = reader.read();
            let done = !matches!(result, Err(ref e) if e.is_retryable());
            results.push(result);
            if done {
                break;
            }
        }
        results
    });
    let mut peer = raw_client(addr);
    thread::sleep(Duration::from_millis(300));
    peer.write_all(&masked_frame(true, 0x8, &[0x03, 0xe8]))
        .unwrap();
    // Let the reader fail at least once, then start reading.
    thread::sleep(Duration::from_millis(300));
    let draining = thread::spawn(move || drain_to_eof(&mut peer));
    let results = join(server);
    let last = results.last().unwrap();
    assert!(
        matches!(last, Ok(Some(Message::Close(code, _))) if *code == CloseCode::NORMAL),
        "the peer's close was lost: {results:?}"
    );
    assert!(results.len() > 1, "the echo never had to wait: {results:?}");
    let _ = join(draining);
}

#[test]
fn split_writer_keeps_to_the_write_buffer_cap() {
    const MIB: usize = 1 << 20;
    let mut config = Config::default();
    config.write_buffer_cap = MIB;
    let acceptor = blocking::Acceptor::new().config(config);
    let (addr, server) = spawn_server(move |stream| {
        let ws = acceptor.accept(stream).expect("server handshake");
        ws.get_ref()
            .set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let (_reader, writer) = ws.split().unwrap();
        let message = vec![7u8; MIB];
        (0..24)
            .map(|_| writer.send_binary(&message))
            .collect::<Vec<_>>()
    });
    let _peer = raw_client(addr); // never reads
    let results = join(server);
    let full = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Send(SendError::BufferFull { .. }))))
        .count();
    let retryable = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.is_retryable()))
        .count();
    assert!(retryable <= 1, "{results:?}");
    assert!(full >= 18, "{full} BufferFull of 24: {results:?}");
}

#[test]
fn peer_unresponsive_frees_a_writer_blocked_on_the_dead_peer() {
    let (addr, server) = our_server(|ws| {
        let (mut reader, writer) = ws.split().unwrap();
        reader.set_keepalive(Keepalive::new(
            Duration::from_millis(100),
            Duration::from_millis(400),
        ));
        // A writer with no write timeout, stuck once the peer's window is full.
        let stuck = thread::spawn(move || {
            let chunk = vec![0u8; 256 * 1024];
            let mut sent = 0usize;
            let err = loop {
                match writer.send_binary(&chunk) {
                    Ok(()) => sent += 1,
                    Err(e) => break e,
                }
                if sent > 4000 {
                    panic!("a peer that never reads took 1 GiB");
                }
            };
            (err, Instant::now())
        });
        let result = reader.read();
        let detected = Instant::now();
        let (err, freed) = join(stuck);
        (result, err, freed.saturating_duration_since(detected))
    });
    let peer = raw_client(addr); // silent, never reads
    let (result, writer_err, freed_after) = join(server);
    assert!(
        matches!(result, Err(Error::PeerUnresponsive(_))),
        "{result:?}"
    );
    assert!(matches!(writer_err, Error::Io(_)), "{writer_err:?}");
    assert!(
        freed_after < Duration::from_secs(2),
        "the writer stayed blocked for {freed_after:?}"
    );
    drop(peer);
}

#[test]
fn a_protocol_failure_ends_the_tcp_connection_while_writers_are_alive() {
    let (addr, server) = our_server(|ws| {
        let (mut reader, writer) = ws.split().unwrap();
        reader.set_keepalive(quiet());
        let result = reader.read();
        // Hold the writer (and the reader) until the peer has seen the end of the stream.
        thread::sleep(Duration::from_millis(500));
        drop(writer);
        result
    });
    let mut peer = raw_client(addr);
    // An unmasked frame from a client: 1002.
    peer.write_all(&unmasked_frame(true, 0x1, b"unmasked"))
        .unwrap();
    let RawFrame {
        opcode, payload, ..
    } = read_frame(&mut peer).unwrap();
    assert_eq!((opcode, &payload[..2]), (0x8, &1002u16.to_be_bytes()[..]));
    let started = Instant::now();
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).expect("the end of the stream");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "the stream ended only when the writers were dropped"
    );
    assert!(matches!(join(server), Err(Error::Protocol(_))));
}

/// A stream that counts its reads.
struct Counted {
    tcp: TcpStream,
    reads: Arc<AtomicUsize>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.tcp.read(buf)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

#[test]
fn waiting_for_the_peer_close_with_keepalive_on_does_not_poll() {
    let reads = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&reads);
    let (addr, server) = spawn_server(move |mut stream| {
        raw_accept(&mut stream);
        let mut config = Config::default();
        config.keepalive = Keepalive::new(Duration::from_millis(100), Duration::from_secs(10));
        config.close_timeout = Duration::from_secs(1);
        let stream = Counted {
            tcp: stream,
            reads: counter,
        };
        let mut ws = WebSocket::from_stream(stream, Role::Server, config)
            .with_timeout_control(|s, t| s.tcp.set_read_timeout(t));
        ws.close(CloseCode::NORMAL, "")
    });
    let peer = raw_client(addr); // silent
    let result = join(server);
    assert!(matches!(result, Err(Error::CloseTimeout(_))), "{result:?}");
    let reads = reads.load(Ordering::Relaxed);
    assert!(reads <= 10, "{reads} reads in a 1 s close wait");
    drop(peer);
}

#[test]
fn a_server_that_resets_after_the_close_handshake_ends_the_stream_cleanly() {
    let (addr, server) = spawn_server(|mut stream| {
        raw_accept(&mut stream);
        stream
            .write_all(&unmasked_frame(true, 0x8, &[0x03, 0xe8]))
            .unwrap();
        // Never read the client's close reply: closing a socket with unread input resets
        // the connection instead of ending it.
        thread::sleep(Duration::from_millis(200));
        drop(stream);
    });
    let mut ws = blocking::ClientBuilder::new(format!("ws://{addr}/"))
        .read_timeout(GUARD)
        .connect()
        .unwrap();
    assert!(matches!(ws.read(), Ok(Some(Message::Close(code, _))) if code == CloseCode::NORMAL));
    join(server);
    assert!(
        matches!(ws.read(), Ok(None)),
        "the reset after the close handshake is an end"
    );
}
