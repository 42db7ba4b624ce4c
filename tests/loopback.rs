//! The blocking adapters over real 127.0.0.1 sockets: our client against our server (each
//! server in its own thread), and hand-written raw peers where a test needs a peer that
//! misbehaves or bytes checked on the wire. Every listener binds port 0.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rfc6455::blocking::{
    self, Acceptor, ClientBuilder, Error, Keepalive, MaybeTlsStream, Message, Reader, Rejection,
    TimeoutControl, WebSocket, Writer,
};
use rfc6455::handshake::{Accept, HandshakeError, OptionsError, RequestError, ResponseError};
use rfc6455::{CloseCode, Config, Connection, MessageKind, ProtocolError, SendError};
use support::frames::{close_payload, masked_frame, unmasked_frame};
use support::raw::{
    REQUEST, RawFrame, assert_switching, raw_accept, raw_client, read_frame, read_whole_head,
    switching_response,
};
use support::{Counting, GUARD, echo, join, spawn_server};

/// Keepalive and close-timeout tests: a ping after this much silence...
const PING_INTERVAL: Duration = Duration::from_millis(100);
/// ...and the peer declared dead after this much.
const IDLE_TIMEOUT: Duration = Duration::from_millis(400);

// ---------------------------------------------------------------- harness

fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// Our client, with a read timeout so that a missing message fails the test.
fn client(addr: SocketAddr) -> ClientBuilder {
    ClientBuilder::new(url(addr)).read_timeout(GUARD)
}

fn connect(addr: SocketAddr) -> WebSocket<MaybeTlsStream> {
    client(addr).connect().expect("client handshake")
}

/// Accepts with the default settings and a guard read timeout.
fn accept(stream: TcpStream) -> WebSocket<TcpStream> {
    let mut ws = blocking::accept(stream).expect("server handshake");
    ws.set_read_timeout(Some(GUARD));
    ws
}

/// An echo server with the default settings.
fn spawn_echo() -> (SocketAddr, JoinHandle<Vec<Message>>) {
    spawn_server(|stream| echo(accept(stream)))
}

/// Valid UTF-8 of exactly `len` bytes, mixing 1-, 2-, 3- and 4-byte characters.
fn text_of_len(len: usize) -> String {
    let pieces = ["a", "é", "€", "😀", "b"];
    let mut text = String::with_capacity(len);
    let mut i = 0;
    while text.len() < len {
        let piece = pieces[i % pieces.len()];
        if text.len() + piece.len() <= len {
            text.push_str(piece);
        } else {
            text.push('z');
        }
        i += 1;
    }
    text
}

/// `len` bytes of a pattern that does not repeat with the mask's period.
fn bytes_of_len(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

// ---------------------------------------------------------------- raw peers

fn is_timeout_kind(e: &Error) -> bool {
    matches!(e, Error::Io(io) if matches!(io.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock))
}

// ---------------------------------------------------------------- 1. data messages

/// RFC 6455 section 5.2: the 7-bit, 16-bit and 64-bit length encodings and their boundaries,
/// text and binary, client to server and back.
#[test]
fn data_messages_of_every_length_encoding_echo_byte_for_byte() {
    const LENGTHS: [usize; 6] = [0, 125, 126, 65535, 65536, 1 << 20];
    let (addr, server) = spawn_echo();
    let mut ws = connect(addr);
    let mut sent = Vec::new();
    for len in LENGTHS {
        let text = text_of_len(len);
        assert_eq!(text.len(), len);
        ws.send_text(&text).expect("send text");
        let echoed = ws.read().expect("read text echo");
        assert!(
            echoed == Some(Message::Text(text.clone())),
            "text of {len} bytes came back different"
        );
        sent.push(Message::Text(text));

        let data = bytes_of_len(len);
        ws.send_binary(&data).expect("send binary");
        let echoed = ws.read().expect("read binary echo");
        assert!(
            echoed == Some(Message::Binary(data.clone().into())),
            "binary of {len} bytes came back different"
        );
        sent.push(Message::Binary(data.into()));
    }
    ws.close(CloseCode::NORMAL, "").expect("close");
    let mut received = join(server);
    assert_eq!(
        received.pop(),
        Some(Message::Close(CloseCode::NORMAL, String::new()))
    );
    assert_eq!(received.len(), sent.len());
    for (got, want) in received.iter().zip(&sent) {
        assert!(
            got == want,
            "the server received a message different from the one sent"
        );
    }
}

// ---------------------------------------------------------------- 2. fragmentation

fn small_fragments() -> Config {
    let mut config = Config::default();
    config.fragment_size = NonZeroUsize::new(1000).expect("non-zero");
    config
}

/// RFC 6455 section 5.4, checked on the wire: a 64 KiB message from a client with
/// `fragment_size` 1000 is 66 masked frames, the first binary, the rest continuations, FIN on
/// the last only.
#[test]
fn client_fragment_size_splits_message_on_the_wire() {
    let data = bytes_of_len(64 * 1024);
    let (addr, server) = spawn_server(|mut stream| {
        raw_accept(&mut stream);
        (0..66)
            .map(|_| read_frame(&mut stream).expect("read frame"))
            .collect::<Vec<_>>()
    });
    let mut ws = client(addr)
        .config(small_fragments())
        .connect()
        .expect("client handshake");
    ws.send_binary(&data).expect("send");
    let frames = join(server);
    let mut assembled = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let last = i == frames.len() - 1;
        assert_eq!(frame.opcode, if i == 0 { 0x2 } else { 0x0 }, "frame {i}");
        assert_eq!(frame.fin, last, "frame {i}");
        assert_eq!(frame.rsv, 0, "frame {i}");
        assert!(frame.masked, "frame {i}");
        assert_eq!(
            frame.payload.len(),
            if last { 536 } else { 1000 },
            "frame {i}"
        );
        assembled.extend_from_slice(&frame.payload);
    }
    assert!(
        assembled == data,
        "fragments do not reassemble to the message"
    );
}

/// The same from a server with `fragment_size` 1000: unmasked frames.
#[test]
fn server_fragment_size_splits_message_on_the_wire() {
    let text = text_of_len(64 * 1024);
    let sent = text.clone();
    let (addr, server) = spawn_server(move |stream| {
        let mut ws = Acceptor::new()
            .config(small_fragments())
            .accept(stream)
            .expect("server handshake");
        ws.send_text(&sent).expect("send");
    });
    let mut stream = raw_client(addr);
    let frames: Vec<_> = (0..66)
        .map(|_| read_frame(&mut stream).expect("read frame"))
        .collect();
    join(server);
    let mut assembled = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let last = i == frames.len() - 1;
        assert_eq!(frame.opcode, if i == 0 { 0x1 } else { 0x0 }, "frame {i}");
        assert_eq!(frame.fin, last, "frame {i}");
        assert!(!frame.masked, "frame {i}");
        assert_eq!(
            frame.payload.len(),
            if last { 536 } else { 1000 },
            "frame {i}"
        );
        assembled.extend_from_slice(&frame.payload);
    }
    assert!(assembled == text.as_bytes(), "fragments do not reassemble");
}

/// Fragmented messages both ways between our client and our server are delivered whole.
#[test]
fn fragmented_messages_are_delivered_whole_both_ways() {
    let text = text_of_len(64 * 1024);
    let data = bytes_of_len(64 * 1024);
    let (addr, server) = spawn_server(|stream| {
        let ws = Acceptor::new()
            .config(small_fragments())
            .accept(stream)
            .expect("server handshake");
        echo(ws)
    });
    let mut ws = client(addr)
        .config(small_fragments())
        .connect()
        .expect("client handshake");
    ws.send_text(&text).expect("send text");
    ws.send_binary(&data).expect("send binary");
    assert!(ws.read().expect("read") == Some(Message::Text(text.clone())));
    assert!(ws.read().expect("read") == Some(Message::Binary(data.clone().into())));
    ws.close(CloseCode::NORMAL, "").expect("close");
    let received = join(server);
    assert_eq!(received.len(), 3);
    assert!(received[0] == Message::Text(text));
    assert!(received[1] == Message::Binary(data.into()));
}

/// `Connection::send_fragment` through `WebSocket::into_parts`: a text message split inside a
/// code point, with a ping between its fragments (RFC 6455 section 5.4), arrives whole after
/// the ping.
#[test]
fn send_fragment_through_into_parts_with_ping_between_fragments() {
    let (addr, server) = spawn_echo();
    let ws = connect(addr);
    let (stream, mut conn): (MaybeTlsStream, Connection) = ws.into_parts();
    let MaybeTlsStream::Plain(mut stream) = stream else {
        panic!("a ws:// connection is plain TCP")
    };
    let text = "héllo wörld";
    let bytes = text.as_bytes();
    // "h" + first byte of "é".
    conn.send_fragment(MessageKind::Text, &bytes[..2], false)
        .expect("first fragment");
    assert_eq!(
        conn.send_text("no"),
        Err(SendError::MessageInProgress),
        "a whole message cannot start inside a fragmented one"
    );
    conn.send_ping(b"between").expect("ping between fragments");
    conn.send_fragment(MessageKind::Text, &bytes[2..7], false)
        .expect("middle fragment");
    conn.send_fragment(MessageKind::Text, &bytes[7..], true)
        .expect("last fragment");
    stream.write_all(conn.pending_output()).expect("write");
    let n = conn.pending_output().len();
    conn.consume_output(n);

    let mut ws =
        WebSocket::from_connection(stream, conn).with_timeout_control(TcpStream::set_read_timeout);
    ws.set_read_timeout(Some(GUARD));
    assert_eq!(
        ws.read().expect("pong"),
        Some(Message::Pong(b"between".to_vec()))
    );
    assert_eq!(ws.read().expect("echo"), Some(Message::Text(text.into())));
    ws.close(CloseCode::NORMAL, "").expect("close");
    assert_eq!(
        join(server),
        [
            Message::Ping(b"between".to_vec()),
            Message::Text(text.into()),
            Message::Close(CloseCode::NORMAL, String::new()),
        ]
    );
}

// ---------------------------------------------------------------- 3. ping and pong

/// RFC 6455 section 5.5.2/5.5.3: each side's ping is answered with a pong carrying its
/// payload, and the ping is still delivered to the application.
#[test]
fn ping_is_answered_with_identical_pong_both_ways() {
    let (addr, server) = spawn_server(|stream| {
        let mut ws = accept(stream);
        assert_eq!(ws.read().expect("ping"), Some(Message::Ping(b"x".to_vec())));
        ws.send_ping(b"from server").expect("send ping");
        assert_eq!(
            ws.read().expect("pong"),
            Some(Message::Pong(b"from server".to_vec()))
        );
        assert_eq!(
            ws.read().expect("close"),
            Some(Message::Close(CloseCode::NORMAL, String::new()))
        );
        assert_eq!(ws.read().expect("end"), None);
    });
    let mut ws = connect(addr);
    ws.send_ping(b"x").expect("send ping");
    assert_eq!(ws.read().expect("pong"), Some(Message::Pong(b"x".to_vec())));
    assert_eq!(
        ws.read().expect("ping"),
        Some(Message::Ping(b"from server".to_vec()))
    );
    ws.close(CloseCode::NORMAL, "").expect("close");
    join(server);
}

// ---------------------------------------------------------------- 4. closing

/// RFC 6455 section 7.1.2: the client starts the close; the server sees the code and reason,
/// then `Ok(None)`; the client's `close` returns once the server ended the TCP connection.
#[test]
fn client_close_is_seen_by_server_then_none() {
    let (addr, server) = spawn_server(|stream| {
        let mut ws = accept(stream);
        let close = ws.read().expect("read close");
        let end = ws.read().expect("read after close");
        let again = ws.read().expect("read again");
        (close, end, again)
    });
    let mut ws = connect(addr);
    let started = Instant::now();
    ws.close(CloseCode::NORMAL, "bye").expect("close");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "close waited {:?}: the server's TCP close was not noticed",
        started.elapsed()
    );
    let (close, end, again) = join(server);
    assert_eq!(close, Some(Message::Close(CloseCode::NORMAL, "bye".into())));
    assert_eq!(end, None);
    assert_eq!(again, None);
    assert_eq!(ws.read().expect("client read after close"), None);
}

/// RFC 6455 section 7.1.3: both ends send a close frame before reading the other's, over
/// loopback. Each reads the other's close with its code, then the end; nothing fails.
#[test]
fn simultaneous_close_both_ways_ends_cleanly_with_each_others_codes() {
    let both_sent = std::sync::Arc::new(std::sync::Barrier::new(2));
    let server_sent = both_sent.clone();
    // Both ends count what they write, to see that each sends one close frame only.
    let (addr, server) = spawn_server(move |stream| {
        stream.set_read_timeout(Some(GUARD)).unwrap();
        let mut ws = Acceptor::new()
            .accept_stream_with(Counting::new(stream), None, |_| Ok(Accept::new()))
            .expect("server handshake");
        let before = ws.get_ref().written;
        ws.send(&Message::Close(CloseCode::GOING_AWAY, "server".into()))
            .expect("server sends its close");
        server_sent.wait();
        let close = ws.read().expect("server reads the client's close");
        let end = ws.read().expect("server reads the end");
        let written = ws.get_ref().written - before;
        (close, end, ws.connection().state(), written)
    });
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    let mut ws = client(addr)
        .connect_on(Counting::new(stream), None)
        .expect("client handshake");
    let before = ws.get_ref().written;
    ws.send(&Message::Close(CloseCode::NORMAL, "client".into()))
        .expect("client sends its close");
    both_sent.wait();
    let close = ws.read().expect("client reads the server's close");
    let end = ws.read().expect("client reads the end");
    let (server_close, server_end, server_state, server_wrote) = join(server);
    // One close frame each: the server's unmasked (2 + 2 + 6 bytes), the client's masked
    // (2 + 4 + 2 + 6): neither answered the other's close with a second one.
    assert_eq!(
        server_wrote, 10,
        "the server wrote more than its close frame"
    );
    assert_eq!(
        ws.get_ref().written - before,
        14,
        "the client wrote more than its close frame"
    );
    assert_eq!(
        server_close,
        Some(Message::Close(CloseCode::NORMAL, "client".into()))
    );
    assert_eq!(
        close,
        Some(Message::Close(CloseCode::GOING_AWAY, "server".into()))
    );
    assert_eq!((end, server_end), (None, None));
    assert_eq!(server_state, rfc6455::State::Closed);
    assert_eq!(ws.connection().state(), rfc6455::State::Closed);
    // close() after the handshake completed has nothing left to do.
    ws.close(CloseCode::NORMAL, "")
        .expect("close after both closes");
}

/// The server starts the close with an application code (4000); the client sees it, echoes
/// it, and then reads `Ok(None)` once the server ended the TCP connection.
#[test]
fn server_close_4000_is_seen_by_client_then_none() {
    let (addr, server) = spawn_server(|stream| {
        let mut ws = accept(stream);
        ws.close(CloseCode(4000), "shutting down")
            .expect("server close");
    });
    let mut ws = connect(addr);
    assert_eq!(
        ws.read().expect("read close"),
        Some(Message::Close(CloseCode(4000), "shutting down".into()))
    );
    let started = Instant::now();
    assert_eq!(ws.read().expect("read after close"), None);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the client waited {:?} for the server's TCP close",
        started.elapsed()
    );
    join(server);
    assert_eq!(ws.read().expect("read again"), None);
}

/// RFC 6455 section 7.1.5: a TCP connection that ends without a close frame is an abnormal
/// closure (1006), reported as `UnexpectedEof`; the server drops here.
#[test]
fn client_reads_unexpected_eof_when_server_drops_tcp() {
    let (addr, server) = spawn_server(|stream| drop(accept(stream)));
    let mut ws = connect(addr);
    join(server);
    let read = ws.read();
    assert!(
        matches!(read, Err(Error::Protocol(ProtocolError::UnexpectedEof))),
        "{read:?}"
    );
    assert_eq!(ws.read().expect("read after the error"), None);
}

/// The same with the client dropping.
#[test]
fn server_reads_unexpected_eof_when_client_drops_tcp() {
    let (addr, server) = spawn_server(|stream| {
        let mut ws = accept(stream);
        let first = ws.read();
        let second = ws.read();
        (first, second)
    });
    drop(connect(addr));
    let (first, second) = join(server);
    assert!(
        matches!(first, Err(Error::Protocol(ProtocolError::UnexpectedEof))),
        "{first:?}"
    );
    assert!(matches!(second, Ok(None)), "{second:?}");
}

/// After our close frame, no data or control frame may be sent (RFC 6455 section 5.5.1).
#[test]
fn sending_after_close_is_refused() {
    let (addr, server) = spawn_echo();
    let mut ws = connect(addr);
    ws.close(CloseCode::NORMAL, "").expect("close");
    for result in [
        ws.send_text("late"),
        ws.send_binary(b"late"),
        ws.send_ping(b"late"),
    ] {
        assert!(
            matches!(result, Err(Error::Send(SendError::Closed))),
            "{result:?}"
        );
    }
    join(server);
}

/// 1005, 1006 and 1015 must never be sent (RFC 6455 section 7.4.1), nor codes outside the
/// registered ranges; the refusal leaves the connection open.
#[test]
fn close_with_unsendable_code_is_refused_and_connection_stays_open() {
    let (addr, server) = spawn_echo();
    let mut ws = connect(addr);
    for code in [1006, 1015, 999, 1004, 2999, 5000] {
        let result = ws.close(CloseCode(code), "");
        assert!(
            matches!(result, Err(Error::Send(SendError::InvalidCloseCode(c))) if c == CloseCode(code)),
            "close({code}): {result:?}"
        );
    }
    ws.send_text("still open")
        .expect("send after refused close");
    assert_eq!(
        ws.read().expect("echo"),
        Some(Message::Text("still open".into()))
    );
    ws.close(CloseCode::NORMAL, "").expect("close");
    assert_eq!(
        join(server),
        [
            Message::Text("still open".into()),
            Message::Close(CloseCode::NORMAL, String::new())
        ]
    );
}

/// A peer that never answers our close: `close` gives up after the close timeout.
#[test]
fn server_close_times_out_when_peer_never_answers() {
    let timeout = Duration::from_millis(300);
    let (addr, server) = spawn_server(move |stream| {
        let mut ws = accept(stream);
        ws.set_close_timeout(timeout);
        let started = Instant::now();
        let result = ws.close(CloseCode::NORMAL, "");
        (result, started.elapsed())
    });
    let stream = raw_client(addr);
    let (result, elapsed) = join(server);
    drop(stream);
    assert!(
        matches!(result, Err(Error::CloseTimeout(t)) if t == timeout),
        "{result:?}"
    );
    assert!(
        elapsed >= timeout && elapsed < Duration::from_secs(2),
        "close gave up after {elapsed:?}"
    );
}

/// Symmetric: a server that never answers our client's close.
#[test]
fn client_close_times_out_when_server_never_answers() {
    let timeout = Duration::from_millis(300);
    let (addr, server) = spawn_server(|mut stream| {
        raw_accept(&mut stream);
        let close = read_frame(&mut stream).expect("close frame");
        (close, stream) // kept open, silent, until joined
    });
    let mut ws = connect(addr);
    ws.set_close_timeout(timeout);
    let started = Instant::now();
    let result = ws.close(CloseCode::NORMAL, "bye");
    let elapsed = started.elapsed();
    let (close, stream) = join(server);
    drop(stream);
    assert_eq!(
        (close.opcode, close.payload),
        (0x8, close_payload(1000, "bye"))
    );
    assert!(
        matches!(result, Err(Error::CloseTimeout(t)) if t == timeout),
        "{result:?}"
    );
    assert!(
        elapsed >= timeout && elapsed < Duration::from_secs(2),
        "close gave up after {elapsed:?}"
    );
}

/// RFC 6455 sections 5.1 and 7.1.7: a server that receives an unmasked frame fails the
/// connection and sends a close frame with 1002 (not just a TCP close); later reads give
/// `Ok(None)`.
#[test]
fn server_receives_unmasked_frame_fails_with_1002_on_the_wire() {
    let (addr, server) = spawn_server(|stream| {
        let mut ws = accept(stream);
        let failed = ws.read();
        let after = ws.read();
        (failed, after)
    });
    let mut stream = raw_client(addr);
    stream
        .write_all(&unmasked_frame(true, 0x1, b"unmasked"))
        .expect("write");
    let close = read_frame(&mut stream).expect("close frame");
    let (failed, after) = join(server);
    assert!(
        matches!(failed, Err(Error::Protocol(ProtocolError::UnmaskedFrame))),
        "{failed:?}"
    );
    assert!(matches!(after, Ok(None)), "{after:?}");
    assert!(!close.masked);
    assert_eq!(
        (close.opcode, close.payload),
        (0x8, close_payload(1002, ""))
    );
}

/// Symmetric: a client that receives a masked frame fails with 1002 and sends it, masked.
#[test]
fn client_receives_masked_frame_fails_with_1002_on_the_wire() {
    let (addr, server) = spawn_server(|mut stream| {
        raw_accept(&mut stream);
        stream
            .write_all(&masked_frame(true, 0x1, b"masked"))
            .expect("write");
        read_frame(&mut stream).expect("close frame")
    });
    let mut ws = connect(addr);
    let failed = ws.read();
    let close = join(server);
    assert!(
        matches!(failed, Err(Error::Protocol(ProtocolError::MaskedFrame))),
        "{failed:?}"
    );
    assert_eq!(ws.read().expect("read after failure"), None);
    assert!(close.masked);
    assert_eq!(
        (close.opcode, close.payload),
        (0x8, close_payload(1002, ""))
    );
}

// ---------------------------------------------------------------- 5. refusal

/// A server's refusal reaches the client with its status and body.
#[test]
fn rejected_handshake_reports_status_and_body_to_client() {
    let (addr, server) = spawn_server(|stream| {
        blocking::accept_with(stream, |_| Err(Rejection::forbidden().body("nope")))
    });
    let result = client(addr).connect();
    let server_result = join(server);
    assert!(
        matches!(server_result, Err(Error::Refused(403))),
        "{server_result:?}"
    );
    let Err(Error::Handshake(HandshakeError::Response(ResponseError::Rejected {
        status,
        body,
        ..
    }))) = result
    else {
        panic!("expected a Rejected handshake error, got {result:?}");
    };
    assert_eq!(status, 403);
    assert_eq!(body, b"nope");
}

// ---------------------------------------------------------------- 6. subprotocols

/// RFC 6455 section 4.2.2: the server selects one of the offered subprotocols and both ends
/// report it.
#[test]
fn subprotocol_chosen_by_server_is_reported_on_both_sides() {
    let (addr, server) = spawn_server(|stream| {
        let ws = blocking::accept_with(stream, |request| {
            assert_eq!(request.protocols(), ["chat", "superchat"]);
            Ok(Accept::new().protocol("superchat"))
        })
        .expect("server handshake");
        let protocol = ws.protocol().map(String::from);
        (protocol, echo(ws))
    });
    let mut ws = client(addr)
        .protocol("chat")
        .protocol("superchat")
        .connect()
        .expect("client handshake");
    assert_eq!(ws.protocol(), Some("superchat"));
    ws.close(CloseCode::NORMAL, "").expect("close");
    let (protocol, _) = join(server);
    assert_eq!(protocol.as_deref(), Some("superchat"));
}

/// A server cannot select a subprotocol the client did not offer: its accept fails locally
/// and no 101 goes out.
#[test]
fn server_selecting_unoffered_subprotocol_fails_locally() {
    let (addr, server) = spawn_server(|stream| {
        blocking::accept_with(stream, |_| Ok(Accept::new().protocol("mqtt")))
    });
    let result = client(addr).protocol("chat").connect();
    let server_result = join(server);
    assert!(
        matches!(
            &server_result,
            Err(Error::Handshake(HandshakeError::Options(OptionsError::ProtocolNotOffered(p)))) if p == "mqtt"
        ),
        "{server_result:?}"
    );
    assert!(
        matches!(
            result,
            Err(Error::Handshake(
                HandshakeError::Response(ResponseError::Truncated)
                    | HandshakeError::Response(ResponseError::Rejected { .. })
            ))
        ),
        "the client must not connect: {result:?}"
    );
}

// ---------------------------------------------------------------- 7. split

fn assert_clone_send_sync<T: Clone + Send + Sync + 'static>() {}
fn assert_send<T: Send + 'static>() {}

/// The message number `i` of the split tests: text and binary alternate, sizes vary.
fn numbered(i: usize) -> Message {
    let body = format!("message {i:04} {}", "x".repeat(i % 300));
    if i.is_multiple_of(2) {
        Message::Text(body)
    } else {
        Message::Binary(body.into_bytes().into())
    }
}

/// A writer thread sends 1000 messages while a reader thread reads the 1000 echoes.
#[test]
fn split_reader_and_writer_run_on_two_threads() {
    const COUNT: usize = 1000;
    let (addr, server) = spawn_echo();
    let (reader, writer) = connect(addr).split().expect("split");
    let writing = {
        let writer = writer.clone();
        thread::spawn(move || {
            for i in 0..COUNT {
                writer.send(&numbered(i)).expect("send");
            }
        })
    };
    let reading = thread::spawn(move || {
        let mut reader: Reader = reader;
        let received: Vec<Message> = (0..COUNT)
            .map(|i| {
                reader
                    .read()
                    .unwrap_or_else(|e| panic!("read {i}: {e:?}"))
                    .expect("a message")
            })
            .collect();
        (reader, received)
    });
    join(writing);
    let (mut reader, received) = join(reading);
    for (i, message) in received.iter().enumerate() {
        assert_eq!(*message, numbered(i), "echo {i}");
    }
    writer.close(CloseCode::NORMAL, "done").expect("close");
    assert!(writer.is_closed());
    let late = writer.send_text("late");
    assert!(
        matches!(late, Err(Error::Send(SendError::Closed))),
        "{late:?}"
    );
    assert_eq!(
        reader.read().expect("close echo"),
        Some(Message::Close(CloseCode::NORMAL, String::new()))
    );
    assert_eq!(reader.read().expect("end"), None);
    let echoed = join(server);
    assert_eq!(echoed.len(), COUNT + 1);
}

/// `Writer` is `Clone + Send + Sync`: four clones send 250 messages each at once, in several
/// fragments each; every message arrives intact and in per-thread order, so no two messages'
/// frames were interleaved.
#[test]
fn writer_clones_on_four_threads_never_interleave_frames() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 250;
    assert_clone_send_sync::<Writer>();
    assert_send::<Reader>();

    let (addr, server) = spawn_echo();
    let mut config = Config::default();
    config.fragment_size = NonZeroUsize::new(512).expect("non-zero");
    let ws = client(addr)
        .config(config)
        .connect()
        .expect("client handshake");
    let (mut reader, writer) = ws.split().expect("split");
    let body = |t: usize, s: usize| {
        let fill = char::from(b'a' + t as u8).to_string();
        format!("{t}:{s}:{}", fill.repeat((s * 37) % 3000 + 1))
    };
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let writer = writer.clone();
            thread::spawn(move || {
                for s in 0..PER_THREAD {
                    writer.send_text(&body(t, s)).expect("send");
                }
            })
        })
        .collect();
    let mut next = [0; THREADS];
    for _ in 0..THREADS * PER_THREAD {
        let message = reader.read().expect("read").expect("a message");
        let Message::Text(text) = message else {
            panic!("expected text, got {message:?}");
        };
        let mut parts = text.splitn(3, ':');
        let t: usize = parts.next().and_then(|p| p.parse().ok()).expect("thread");
        let s: usize = parts.next().and_then(|p| p.parse().ok()).expect("seq");
        assert_eq!(s, next[t], "thread {t}'s messages out of order");
        assert!(text == body(t, s), "message {t}:{s} corrupted");
        next[t] += 1;
    }
    for sender in senders {
        join(sender);
    }
    assert_eq!(next, [PER_THREAD; THREADS]);
    writer.close(CloseCode::NORMAL, "").expect("close");
    assert_eq!(
        reader.read().expect("close echo"),
        Some(Message::Close(CloseCode::NORMAL, String::new()))
    );
    assert_eq!(reader.read().expect("end"), None);
    assert_eq!(join(server).len(), THREADS * PER_THREAD + 1);
}

// ---------------------------------------------------------------- 8. broadcast

/// A server holds the `Writer` of 50 clients in a `Vec` and broadcasts one message, then
/// closes every connection.
#[test]
fn broadcast_reaches_50_clients() {
    const CLIENTS: usize = 50;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local address");
    let server = thread::spawn(move || {
        let mut readers = Vec::new();
        let mut writers: Vec<Writer> = Vec::new();
        for _ in 0..CLIENTS {
            let (stream, _) = listener.accept().expect("accept");
            let (mut reader, writer) = accept(stream).split().expect("split");
            reader.set_read_timeout(Some(GUARD));
            readers.push(reader);
            writers.push(writer);
        }
        for writer in &writers {
            writer.send_text("to everyone").expect("broadcast");
        }
        for writer in &writers {
            writer.close(CloseCode::GOING_AWAY, "bye").expect("close");
        }
        drop(writers);
        // Each connection ends (TCP closed) as soon as its close handshake completes.
        for mut reader in readers {
            assert_eq!(
                reader.read().expect("close echo"),
                Some(Message::Close(CloseCode::GOING_AWAY, String::new()))
            );
            assert_eq!(reader.read().expect("end"), None);
        }
    });
    let started = Instant::now();
    let mut clients: Vec<_> = (0..CLIENTS).map(|_| connect(addr)).collect();
    for (i, ws) in clients.iter_mut().enumerate() {
        assert_eq!(
            ws.read().expect("broadcast"),
            Some(Message::Text("to everyone".into())),
            "client {i}"
        );
        assert_eq!(
            ws.read().expect("close"),
            Some(Message::Close(CloseCode::GOING_AWAY, "bye".into())),
            "client {i}"
        );
        assert_eq!(ws.read().expect("end"), None, "client {i}");
    }
    join(server);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------- 9. keepalive

/// A client that completed the handshake by hand and then goes silent (never answers the
/// pings) is declared dead by the server after the idle timeout, and received pings before
/// that. `split`: the server reads through a split `Reader`.
fn assert_silent_client_declared_dead(split: bool) {
    let (addr, server) = spawn_server(move |stream| {
        let started = Instant::now();
        let ws = Acceptor::new()
            .keepalive(Keepalive::new(PING_INTERVAL, IDLE_TIMEOUT))
            .accept(stream)
            .expect("server handshake");
        let result = if split {
            let (mut reader, _writer) = ws.split().expect("split");
            reader.read()
        } else {
            let mut ws = ws;
            ws.read()
        };
        (result, started.elapsed(), Instant::now())
    });
    let mut stream = raw_client(addr);
    let mut pings = Vec::new();
    loop {
        match read_frame(&mut stream) {
            Ok(frame) => {
                assert_eq!(frame.opcode, 0x9, "only pings are expected: {frame:?}");
                assert!(!frame.masked);
                pings.push((Instant::now(), frame.payload));
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("raw client read: {e}"),
        }
    }
    let (result, elapsed, failed_at) = join(server);
    assert!(
        matches!(result, Err(Error::PeerUnresponsive(t)) if t == IDLE_TIMEOUT),
        "{result:?}"
    );
    assert!(
        elapsed >= IDLE_TIMEOUT && elapsed < Duration::from_secs(3),
        "declared dead after {elapsed:?}"
    );
    let (first_ping, _) = pings.first().expect("at least one ping before giving up");
    assert!(*first_ping < failed_at);
    assert!(pings.iter().all(|(_, payload)| payload == b"keepalive"));
}

#[test]
fn server_keepalive_detects_silent_client() {
    assert_silent_client_declared_dead(false);
}

#[test]
fn split_reader_keepalive_detects_silent_client() {
    assert_silent_client_declared_dead(true);
}

/// The split's promise that "the reader never waits for a writer" must hold for keepalive
/// pings too: with a writer stuck sending to a client that stopped reading (its socket buffers
/// full), the reader still declares the silent client dead at the idle timeout.
#[test]
fn split_reader_keepalive_is_not_blocked_by_a_stuck_writer() {
    // The raw client hangs up after this, which unblocks a stuck writer (and reader).
    let patience = Duration::from_millis(1500);
    let (addr, server) = spawn_server(move |stream| {
        let ws = Acceptor::new()
            .keepalive(Keepalive::new(PING_INTERVAL, IDLE_TIMEOUT))
            .write_timeout(GUARD)
            .accept(stream)
            .expect("server handshake");
        let (mut reader, writer) = ws.split().expect("split");
        let flooding = thread::spawn(move || {
            let data = vec![0x5a; 4 << 20];
            loop {
                if let Err(e) = writer.send_binary(&data) {
                    return e;
                }
            }
        });
        let started = Instant::now();
        let result = reader.read();
        (result, started.elapsed(), flooding)
    });
    // Completes the handshake, then never reads nor writes.
    let stream = raw_client(addr);
    let give_up = Instant::now() + patience;
    while !server.is_finished() && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(10));
    }
    drop(stream);
    let (result, elapsed, flooding) = join(server);
    let flood_error = join(flooding);
    assert!(
        matches!(result, Err(Error::PeerUnresponsive(t)) if t == IDLE_TIMEOUT),
        "{result:?} after {elapsed:?}: the reader waited for the stuck writer \
         (which stopped with {flood_error:?})"
    );
    assert!(elapsed < patience, "declared dead after {elapsed:?}");
}

/// Symmetric: our client declares a silent server dead, after pinging it.
#[test]
fn client_keepalive_detects_silent_server() {
    let (addr, server) = spawn_server(|mut stream| {
        raw_accept(&mut stream);
        let mut pings = 0;
        loop {
            match read_frame(&mut stream) {
                Ok(frame) => {
                    assert_eq!(frame.opcode, 0x9, "only pings are expected: {frame:?}");
                    assert!(frame.masked);
                    assert_eq!(frame.payload, b"keepalive");
                    pings += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break pings,
                Err(e) => panic!("raw server read: {e}"),
            }
        }
    });
    let started = Instant::now();
    let mut ws = client(addr)
        .keepalive(Keepalive::new(PING_INTERVAL, IDLE_TIMEOUT))
        .connect()
        .expect("client handshake");
    let result = ws.read();
    let elapsed = started.elapsed();
    drop(ws);
    let pings = join(server);
    assert!(
        matches!(result, Err(Error::PeerUnresponsive(t)) if t == IDLE_TIMEOUT),
        "{result:?}"
    );
    assert!(
        elapsed >= IDLE_TIMEOUT && elapsed < Duration::from_secs(3),
        "declared dead after {elapsed:?}"
    );
    assert!(pings >= 1, "no ping before giving up");
}

/// A peer that answers the pings stays alive past the idle timeout.
#[test]
fn keepalive_spares_peer_that_answers_pings() {
    let alive_for = Duration::from_secs(1);
    let (addr, server) = spawn_server(move |stream| {
        let mut ws = Acceptor::new()
            .keepalive(Keepalive::new(PING_INTERVAL, IDLE_TIMEOUT))
            .accept(stream)
            .expect("server handshake");
        ws.set_read_timeout(Some(alive_for));
        let started = Instant::now();
        let mut pongs = 0;
        while started.elapsed() < alive_for {
            match ws.read() {
                Ok(Some(Message::Pong(payload))) => {
                    assert_eq!(payload, b"keepalive");
                    pongs += 1;
                }
                Err(e) if e.is_retryable() => {}
                other => panic!("server read after {:?}: {other:?}", started.elapsed()),
            }
        }
        ws.close(CloseCode::NORMAL, "done").expect("server close");
        pongs
    });
    let mut ws = connect(addr);
    let mut pings = 0;
    loop {
        match ws.read().expect("client read") {
            Some(Message::Ping(payload)) => {
                assert_eq!(payload, b"keepalive");
                pings += 1;
            }
            Some(Message::Close(code, reason)) => {
                assert_eq!((code, reason.as_str()), (CloseCode::NORMAL, "done"));
                break;
            }
            other => panic!("client read {other:?}"),
        }
    }
    assert_eq!(ws.read().expect("end"), None);
    let pongs = join(server);
    // Pings every 100 ms for 1 s, each answered.
    assert!(pongs >= 3, "only {pongs} pongs");
    assert!(pings >= pongs, "{pings} pings, {pongs} pongs");
}

// ---------------------------------------------------------------- 10. handshake deadline

/// A client that sends one byte of its request and stalls is dropped at the handshake
/// deadline.
#[test]
fn handshake_deadline_drops_stalled_client() {
    let deadline = Duration::from_millis(300);
    let (addr, server) = spawn_server(move |stream| {
        let started = Instant::now();
        let result = Acceptor::new().handshake_timeout(deadline).accept(stream);
        (result, started.elapsed())
    });
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.write_all(b"G").expect("write");
    let (result, elapsed) = join(server);
    assert!(
        matches!(result, Err(Error::HandshakeTimeout(t)) if t == deadline),
        "{result:?}"
    );
    assert!(
        elapsed >= deadline && elapsed < Duration::from_secs(2),
        "gave up after {elapsed:?}"
    );
}

/// A slowloris client sending a byte every 100 ms never finishes its request: the deadline
/// is for the whole handshake, not reset by each byte.
#[test]
fn handshake_deadline_is_not_reset_by_each_byte() {
    let deadline = Duration::from_millis(300);
    let (addr, server) = spawn_server(move |stream| {
        let started = Instant::now();
        let result = Acceptor::new().handshake_timeout(deadline).accept(stream);
        (result, started.elapsed())
    });
    let mut stream = TcpStream::connect(addr).expect("connect");
    let dribbling = thread::spawn(move || {
        // At most 3 s of dribbling; stops when the server hangs up.
        for &byte in REQUEST.iter().take(30) {
            if stream.write_all(&[byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let (result, elapsed) = join(server);
    assert!(
        matches!(result, Err(Error::HandshakeTimeout(t)) if t == deadline),
        "{result:?}"
    );
    assert!(
        elapsed >= deadline && elapsed < Duration::from_secs(1),
        "gave up after {elapsed:?}"
    );
    join(dribbling);
}

/// Symmetric: a server that reads the request and never answers fails our client's
/// handshake at its deadline.
#[test]
fn client_handshake_deadline_when_server_never_answers() {
    let deadline = Duration::from_millis(300);
    let (addr, server) = spawn_server(|mut stream| {
        stream.set_read_timeout(Some(GUARD)).expect("read timeout");
        read_whole_head(&mut stream);
        stream // kept open, silent, until joined
    });
    let started = Instant::now();
    let result = client(addr).handshake_timeout(deadline).connect();
    let elapsed = started.elapsed();
    drop(join(server));
    assert!(
        matches!(result, Err(Error::HandshakeTimeout(t)) if t == deadline),
        "{result:?}"
    );
    assert!(
        elapsed >= deadline && elapsed < Duration::from_secs(2),
        "gave up after {elapsed:?}"
    );
}

// ---------------------------------------------------------------- 11. pipelining

/// Frames written in the same segment as the request (RFC 6455 section 4.2.1 lets a client
/// send frames right after it) are the server's first messages.
#[test]
fn frames_pipelined_after_the_request_are_delivered_first() {
    let (addr, server) = spawn_server(|stream| {
        let mut ws = accept(stream);
        let first = ws.read().expect("first read");
        let second = ws.read().expect("second read");
        let close = ws.read().expect("close");
        let end = ws.read().expect("end");
        (first, second, close, end)
    });
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(GUARD)).expect("read timeout");
    let mut bytes = REQUEST.to_vec();
    bytes.extend(masked_frame(true, 0x1, "pipelined ✓".as_bytes()));
    bytes.extend(masked_frame(true, 0x2, &[0, 1, 2, 3, 255]));
    stream.write_all(&bytes).expect("write request and frames");
    assert_switching(&read_whole_head(&mut stream));
    stream
        .write_all(&masked_frame(true, 0x8, &close_payload(1000, "")))
        .expect("write close");
    let echo = read_frame(&mut stream).expect("close echo");
    assert_eq!((echo.opcode, echo.payload), (0x8, close_payload(1000, "")));
    let (first, second, close, end) = join(server);
    assert_eq!(first, Some(Message::Text("pipelined ✓".into())));
    assert_eq!(second, Some(Message::Binary(vec![0, 1, 2, 3, 255].into())));
    assert_eq!(
        close,
        Some(Message::Close(CloseCode::NORMAL, String::new()))
    );
    assert_eq!(end, None);
}

/// Symmetric: frames a server writes in the same segment as its 101 are the client's first
/// messages.
#[test]
fn frames_pipelined_after_the_101_are_delivered_first() {
    let (addr, server) = spawn_server(|mut stream| {
        let mut bytes = switching_response(&mut stream);
        bytes.extend(unmasked_frame(true, 0x1, "right away ✓".as_bytes()));
        bytes.extend(unmasked_frame(true, 0x8, &close_payload(1000, "done")));
        stream.write_all(&bytes).expect("write 101 and frames");
        // The server ends the TCP connection once the close handshake is over.
        read_frame(&mut stream).expect("close echo")
    });
    let mut ws = connect(addr);
    assert_eq!(
        ws.read().expect("first read"),
        Some(Message::Text("right away ✓".into()))
    );
    assert_eq!(
        ws.read().expect("close"),
        Some(Message::Close(CloseCode::NORMAL, "done".into()))
    );
    let echo = join(server);
    assert!(echo.masked);
    assert_eq!((echo.opcode, echo.payload), (0x8, close_payload(1000, "")));
    assert_eq!(ws.read().expect("end"), None);
}

// ---------------------------------------------------------------- 12. read timeout

/// A read that times out in the middle of a frame loses nothing: later reads resume and
/// deliver the whole message.
#[test]
fn read_timeout_in_the_middle_of_a_frame_resumes_exactly() {
    let payload = bytes_of_len(1000);
    let (addr, server) = spawn_server(|stream| {
        let mut ws = accept(stream);
        ws.set_read_timeout(Some(Duration::from_millis(50)));
        read_through_timeouts(|| ws.read())
    });
    let mut stream = raw_client(addr);
    let frame = masked_frame(true, 0x2, &payload);
    // Header (2 + 2 length + 4 key) and half the payload.
    let split = 8 + payload.len() / 2;
    stream.write_all(&frame[..split]).expect("first half");
    thread::sleep(Duration::from_millis(200));
    stream.write_all(&frame[split..]).expect("second half");
    let (timeouts, message) = join(server);
    assert!(timeouts >= 1, "no read timed out");
    assert!(
        message == Message::Binary(payload.into()),
        "message corrupted"
    );
}

/// A raw server that sends a binary frame in two halves, 200 ms apart; returns the stream so
/// it stays open until joined.
fn spawn_half_frame_server(payload: Vec<u8>) -> (SocketAddr, JoinHandle<TcpStream>) {
    spawn_server(move |mut stream| {
        raw_accept(&mut stream);
        let frame = unmasked_frame(true, 0x2, &payload);
        // Header (2 + 2 length) and half the payload.
        let split = 4 + payload.len() / 2;
        stream.write_all(&frame[..split]).expect("first half");
        thread::sleep(Duration::from_millis(200));
        stream.write_all(&frame[split..]).expect("second half");
        stream
    })
}

/// Reads with `read` until a message arrives, counting retryable timeouts.
fn read_through_timeouts(
    mut read: impl FnMut() -> Result<Option<Message>, Error>,
) -> (usize, Message) {
    let started = Instant::now();
    let mut timeouts = 0;
    loop {
        match read() {
            Err(e) if e.is_retryable() => {
                assert!(is_timeout_kind(&e), "{e:?}");
                timeouts += 1;
            }
            Ok(Some(message)) => return (timeouts, message),
            other => panic!("read after {:?}: {other:?}", started.elapsed()),
        }
        assert!(started.elapsed() < GUARD, "no message");
    }
}

/// Symmetric: our client's read timeout in the middle of a frame.
#[test]
fn client_read_timeout_in_the_middle_of_a_frame_resumes_exactly() {
    let payload = bytes_of_len(1000);
    let (addr, server) = spawn_half_frame_server(payload.clone());
    let mut ws = connect(addr);
    ws.set_read_timeout(Some(Duration::from_millis(50)));
    let (timeouts, message) = read_through_timeouts(|| ws.read());
    drop(join(server));
    assert!(timeouts >= 1, "no read timed out");
    assert!(
        message == Message::Binary(payload.into()),
        "message corrupted"
    );
}

/// The same through a split `Reader`.
#[test]
fn split_reader_read_timeout_in_the_middle_of_a_frame_resumes_exactly() {
    let payload = bytes_of_len(1000);
    let (addr, server) = spawn_half_frame_server(payload.clone());
    let (mut reader, _writer) = connect(addr).split().expect("split");
    reader.set_read_timeout(Some(Duration::from_millis(50)));
    let (timeouts, message) = read_through_timeouts(|| reader.read());
    drop(join(server));
    assert!(timeouts >= 1, "no read timed out");
    assert!(
        message == Message::Binary(payload.into()),
        "message corrupted"
    );
}

/// `WebSocket::set_read_timeout` and `Reader::set_read_timeout` document "a retryable
/// `TimedOut` error": the kind must not depend on the platform (Linux reports a socket read
/// timeout as `WouldBlock`).
#[test]
fn read_timeout_fails_with_timed_out_kind_as_documented() {
    let timeout = Duration::from_millis(50);
    let (addr, server) = spawn_server(move |stream| {
        let mut ws = accept(stream);
        ws.set_read_timeout(Some(timeout));
        let whole = ws.read();
        let (mut reader, _writer) = ws.split().expect("split");
        reader.set_read_timeout(Some(timeout));
        let split = reader.read();
        (whole, split)
    });
    let ws = connect(addr);
    let (whole, split) = join(server);
    drop(ws);
    for result in [whole, split] {
        assert!(
            matches!(&result, Err(Error::Io(e)) if e.kind() == io::ErrorKind::TimedOut),
            "{result:?}"
        );
        assert!(result.is_err_and(|e| e.is_retryable()));
    }
}

// ---------------------------------------------------------------- 13. close deadline

/// The close timeout of the close-deadline tests.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(200);

/// A raw client that reads and discards everything until the server ends the stream;
/// returns the frames it read.
fn discard_until_eof(stream: &mut TcpStream) -> Vec<RawFrame> {
    let mut frames = Vec::new();
    loop {
        match read_frame(stream) {
            Ok(frame) => frames.push(frame),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return frames,
            Err(e) => panic!("raw client read: {e}"),
        }
    }
}

/// After `Writer::close`, a peer that never answers (it reads and discards) makes the split
/// `Reader` fail with `CloseTimeout`, however long its read timeout; the socket is shut down
/// (the peer reads the end of the stream) and later reads return `Ok(None)`.
#[test]
fn split_reader_close_times_out_after_writer_close_when_peer_never_answers() {
    let (addr, server) = spawn_server(|stream| {
        let (mut reader, writer) = accept(stream).split().expect("split");
        reader.set_read_timeout(Some(GUARD));
        reader.set_close_timeout(CLOSE_TIMEOUT);
        writer.close(CloseCode::NORMAL, "bye").expect("close");
        let first = reader.read();
        let after = reader.read();
        (first, after)
    });
    let mut stream = raw_client(addr);
    let frames = discard_until_eof(&mut stream);
    let (first, after) = join(server);
    assert!(
        matches!(first, Err(Error::CloseTimeout(t)) if t == CLOSE_TIMEOUT),
        "{first:?}"
    );
    assert!(matches!(after, Ok(None)), "{after:?}");
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(
        (frames[0].opcode, &frames[0].payload),
        (0x8, &close_payload(1000, "bye"))
    );
}

/// After `send(Message::Close)`, reads with a read timeout shorter than the close timeout
/// time out (retryably) and then fail with `CloseTimeout`: the close deadline is set by the
/// first read that waits for the peer's close and is not reset by each new read.
#[test]
fn close_deadline_is_not_reset_by_each_read_after_send_close() {
    let (addr, server) = spawn_server(|stream| {
        let mut ws = accept(stream);
        ws.set_close_timeout(CLOSE_TIMEOUT);
        ws.set_read_timeout(Some(CLOSE_TIMEOUT / 4));
        ws.send(&Message::Close(CloseCode::NORMAL, String::new()))
            .expect("send close");
        let mut timeouts = 0;
        // Bounded: a deadline reset by every read would time out forever.
        for _ in 0..200 {
            match ws.read() {
                Err(e) if e.is_retryable() => timeouts += 1,
                other => return (timeouts, other, ws.read(), ws.close(CloseCode::NORMAL, "")),
            }
        }
        panic!("no CloseTimeout after 200 reads");
    });
    let mut stream = raw_client(addr);
    let frames = discard_until_eof(&mut stream);
    let (timeouts, result, after, close) = join(server);
    assert!(timeouts >= 1, "no read timed out before the close deadline");
    assert!(
        matches!(result, Err(Error::CloseTimeout(t)) if t == CLOSE_TIMEOUT),
        "{result:?}"
    );
    assert!(matches!(after, Ok(None)), "{after:?}");
    assert!(close.is_ok(), "{close:?}");
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].opcode, 0x8);
}

// ---------------------------------------------------------------- 14. TCP close order

/// RFC 6455 section 7.1.1: once the close handshake is complete, our server ends the TCP
/// connection at once: the raw client reads the close echo and then the end of the stream,
/// while the server still holds its `WebSocket` (or split `Reader`).
fn assert_server_ends_tcp_after_close_handshake(split: bool) {
    let (addr, server) = spawn_server(move |stream| {
        let ws = accept(stream);
        if split {
            let (mut reader, writer) = ws.split().expect("split");
            let close = reader.read().expect("read close");
            let held: Box<dyn Send> = Box::new((reader, writer));
            (close, held)
        } else {
            let mut ws = ws;
            let close = ws.read().expect("read close");
            let held: Box<dyn Send> = Box::new(ws);
            (close, held)
        }
    });
    let mut stream = raw_client(addr);
    stream
        .write_all(&masked_frame(true, 0x8, &close_payload(1000, "bye")))
        .expect("write close");
    // The echo carries the code, not the reason.
    let echo = read_frame(&mut stream).expect("close echo");
    assert_eq!((echo.opcode, echo.payload), (0x8, close_payload(1000, "")));
    // The server's connection is still alive (the thread's result holds it): only its
    // shutdown can end the stream.
    let mut rest = [0; 16];
    let n = stream.read(&mut rest).expect("read after the close echo");
    assert_eq!(n, 0, "the server did not end the TCP connection");
    let (close, held) = join(server);
    assert_eq!(close, Some(Message::Close(CloseCode::NORMAL, "bye".into())));
    drop(held);
}

#[test]
fn server_ends_tcp_after_close_handshake_with_raw_client() {
    assert_server_ends_tcp_after_close_handshake(false);
}

#[test]
fn split_server_ends_tcp_after_close_handshake_with_raw_client() {
    assert_server_ends_tcp_after_close_handshake(true);
}

/// Our client's `close` against our server completes without error once the server ended
/// the TCP connection, and the client then ends its side: the server reads the end of the
/// stream while the client still holds its `WebSocket` (or split halves).
fn assert_client_close_ends_tcp_both_ways(split: bool) {
    let (addr, server) = spawn_server(|stream| {
        let mut ws = accept(stream);
        let close = ws.read().expect("read close");
        let end = ws.read().expect("read after close");
        let (mut stream, _) = ws.into_parts();
        let mut rest = [0; 16];
        let n = stream
            .read(&mut rest)
            .expect("read after the close handshake");
        (close, end, n)
    });
    let held: Box<dyn Send> = if split {
        let (mut reader, writer) = connect(addr).split().expect("split");
        writer.close(CloseCode::NORMAL, "bye").expect("close");
        assert_eq!(
            reader.read().expect("close echo"),
            Some(Message::Close(CloseCode::NORMAL, String::new()))
        );
        assert_eq!(reader.read().expect("end"), None);
        Box::new((reader, writer))
    } else {
        let mut ws = connect(addr);
        ws.close(CloseCode::NORMAL, "bye").expect("close");
        Box::new(ws)
    };
    let (close, end, n) = join(server);
    assert_eq!(close, Some(Message::Close(CloseCode::NORMAL, "bye".into())));
    assert_eq!(end, None);
    assert_eq!(n, 0, "the client did not end the TCP connection");
    drop(held);
}

#[test]
fn client_close_ends_tcp_both_ways() {
    assert_client_close_ends_tcp_both_ways(false);
}

#[test]
fn split_client_close_ends_tcp_both_ways() {
    assert_client_close_ends_tcp_both_ways(true);
}

// ---------------------------------------------------------------- 15. the 101 response

/// `connect_with_response` shows the headers the server's accept callback added, with the
/// chosen subprotocol; `connect_on_with_response` does the same over a caller's stream.
#[test]
fn connect_with_response_shows_headers_added_by_the_accept_callback() {
    for on_stream in [false, true] {
        let (addr, server) = spawn_server(|stream| {
            let ws = Acceptor::new()
                .accept_with(stream, |request| {
                    assert_eq!(request.protocols(), ["chat".to_string()]);
                    Ok(Accept::new()
                        .protocol("chat")
                        .header("Set-Cookie", "session=42; HttpOnly")
                        .header("X-Backend", "b7"))
                })
                .expect("server handshake");
            echo(ws)
        });
        let builder = client(addr).protocol("chat");
        let (mut ws, response) = if on_stream {
            let stream = TcpStream::connect(addr).expect("connect");
            let control: TimeoutControl<TcpStream> = TcpStream::set_read_timeout;
            builder
                .connect_on_with_response(stream, Some(control))
                .map(|(ws, response)| (ws.into_parts(), response))
                .map(|((stream, conn), response)| {
                    (
                        WebSocket::from_connection(MaybeTlsStream::Plain(stream), conn),
                        response,
                    )
                })
                .expect("client handshake on a stream")
        } else {
            builder.connect_with_response().expect("client handshake")
        };
        assert_eq!(response.status(), 101);
        assert_eq!(response.header("set-cookie"), Some("session=42; HttpOnly"));
        assert!(
            response
                .headers()
                .any(|(name, value)| name == "X-Backend" && value == b"b7"),
            "{response:?}"
        );
        assert_eq!(response.protocol(), Some("chat"));
        assert!(response.leftover().is_empty());
        ws.set_read_timeout(Some(GUARD));
        ws.send_text("after").expect("send");
        assert_eq!(
            ws.read().expect("echo"),
            Some(Message::Text("after".into()))
        );
        ws.close(CloseCode::NORMAL, "").expect("close");
        assert_eq!(join(server)[0], Message::Text("after".into()));
    }
}

// ---------------------------------------------------------------- 16. send_fragment

/// RFC 6455 section 5.4: a text message sent in three fragments (one split inside a code
/// point) with a ping between them arrives as one message, after the ping, through
/// `WebSocket::send_fragment` and through a split `Writer::send_fragment`.
#[test]
fn send_fragment_in_three_with_a_ping_between_arrives_as_one_message() {
    let text = "héllo wörld";
    let bytes = text.as_bytes();
    // "h" + the first byte of "é" | "llo w" with the rest of "é" | "örld".
    let pieces = [&bytes[..2], &bytes[2..7], &bytes[7..]];
    for split in [false, true] {
        let (addr, server) = spawn_echo();
        let ws = connect(addr);
        let (pong, echo) = if split {
            let (mut reader, writer) = ws.split().expect("split");
            writer
                .send_fragment(MessageKind::Text, pieces[0], false)
                .expect("first fragment");
            let refused = writer.send_text("no");
            assert!(
                matches!(refused, Err(Error::Send(SendError::MessageInProgress))),
                "{refused:?}"
            );
            writer.send_ping(b"between").expect("ping");
            writer
                .send_fragment(MessageKind::Binary, pieces[1], false)
                .expect("middle fragment");
            writer
                .send_fragment(MessageKind::Text, pieces[2], true)
                .expect("last fragment");
            let pong = reader.read().expect("pong");
            let echo = reader.read().expect("echo");
            writer.close(CloseCode::NORMAL, "").expect("close");
            assert!(
                matches!(reader.read(), Ok(Some(Message::Close(..)))),
                "close echo"
            );
            (pong, echo)
        } else {
            let mut ws = ws;
            ws.send_fragment(MessageKind::Text, pieces[0], false)
                .expect("first fragment");
            let refused = ws.send_binary(b"no");
            assert!(
                matches!(refused, Err(Error::Send(SendError::MessageInProgress))),
                "{refused:?}"
            );
            ws.send_ping(b"between").expect("ping");
            ws.send_fragment(MessageKind::Text, pieces[1], false)
                .expect("middle fragment");
            ws.send_fragment(MessageKind::Text, pieces[2], true)
                .expect("last fragment");
            let pong = ws.read().expect("pong");
            let echo = ws.read().expect("echo");
            ws.close(CloseCode::NORMAL, "").expect("close");
            (pong, echo)
        };
        assert_eq!(pong, Some(Message::Pong(b"between".to_vec())));
        assert_eq!(echo, Some(Message::Text(text.into())));
        assert_eq!(
            join(server),
            [
                Message::Ping(b"between".to_vec()),
                Message::Text(text.into()),
                Message::Close(CloseCode::NORMAL, String::new()),
            ],
            "split: {split}"
        );
    }
}

/// Text fragments that are not valid UTF-8 together are refused, and nothing of the failing
/// fragment goes out: the message can still be completed.
#[test]
fn send_fragment_refuses_invalid_utf8_and_sends_nothing_of_it() {
    let (addr, server) = spawn_echo();
    let mut ws = connect(addr);
    ws.send_fragment(MessageKind::Text, b"ab", false)
        .expect("first fragment");
    let refused = ws.send_fragment(MessageKind::Text, b"\xff", true);
    assert!(
        matches!(refused, Err(Error::Send(SendError::InvalidUtf8))),
        "{refused:?}"
    );
    ws.send_fragment(MessageKind::Text, b"c", true)
        .expect("last fragment");
    assert_eq!(ws.read().expect("echo"), Some(Message::Text("abc".into())));
    ws.close(CloseCode::NORMAL, "").expect("close");
    assert_eq!(join(server)[0], Message::Text("abc".into()));
}

// ---------------------------------------------------------------- 17. not HTTP

/// A TLS ClientHello sent to a plain server fails the handshake at its first byte with an
/// error that suggests TLS, not at the handshake deadline (which would be `HandshakeTimeout`).
#[test]
fn plain_server_given_a_tls_client_hello_fails_at_once() {
    let (addr, server) = spawn_server(|stream| {
        Acceptor::new()
            .handshake_timeout(Duration::from_secs(5))
            .accept(stream)
    });
    let mut stream = TcpStream::connect(addr).expect("connect");
    // A TLS 1.0 record header (handshake, version 3.1, length 512) and a ClientHello's start.
    stream
        .write_all(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ])
        .expect("write");
    let result = join(server);
    drop(stream);
    let Err(Error::Handshake(e)) = &result else {
        panic!("{result:?}")
    };
    assert_eq!(*e, HandshakeError::Request(RequestError::NotHttp(0x16)));
    assert_eq!(e.status(), Some(400));
    let text = result.as_ref().map(drop).unwrap_err().to_string();
    assert!(text.contains("TLS"), "{text}");
}

// ---------------------------------------------------------------- 18. a request with a body

/// An upgrade request that announces a body is refused by the blocking server with a 400
/// that says so; its body never reaches a connection as frames.
#[test]
fn blocking_server_refuses_a_request_with_a_body_with_400() {
    let (addr, server) = spawn_server(|stream| Acceptor::new().accept(stream));
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(GUARD)).expect("read timeout");
    let head = String::from_utf8(REQUEST.to_vec()).expect("ASCII");
    let request = head.replace("\r\n\r\n", "\r\nContent-Length: 6\r\n\r\n");
    // The body is a valid masked text frame: accepted, it would be read as a message.
    let body = masked_frame(true, 1, b"");
    assert_eq!(body.len(), 6);
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(&body);
    stream.write_all(&bytes).expect("write");
    let result = join(server);
    let Err(Error::Handshake(e)) = &result else {
        panic!("{result:?}")
    };
    assert_eq!(*e, HandshakeError::Request(RequestError::HasBody));
    let answer = read_whole_head(&mut stream);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    assert!(text.contains("body"), "{text}");
}
