//! The tokio adapter over loopback TCP and in-memory duplex streams: handshakes, messages,
//! `Stream`/`Sink`, timers on tokio's (paused) clock, teardown, and the owned halves.
#![cfg(feature = "tokio")]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rfc6455::handshake::{Accept, HandshakeError, Rejection, ResponseError};
use rfc6455::tokio::{self as ws, Acceptor, ClientBuilder, Error, Message, WebSocket};
use rfc6455::{CloseCode, Config, Connection, Event, Keepalive, Role, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/", listener.local_addr().expect("addr"));
    (listener, url)
}

/// An echo server for one connection, through `read`/`send`.
async fn echo_once(listener: TcpListener) -> Result<(), Error> {
    let (stream, _) = listener.accept().await?;
    let mut ws = ws::accept(stream).await?;
    while let Some(message) = ws.read().await? {
        ws.send(&message).await?;
    }
    Ok(())
}

#[tokio::test]
async fn client_and_server_exchange_messages_and_close_cleanly() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(echo_once(listener));
    let mut client = ws::connect(&url).await.expect("connect");
    client.send_text("hello").await.expect("send");
    assert_eq!(
        client.read().await.expect("read"),
        Some(Message::Text("hello".into()))
    );
    // Large enough for the server's copy-free vectored path.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    client.send_binary(&big).await.expect("send big");
    assert_eq!(
        client.read().await.expect("read big"),
        Some(Message::Binary(big.into()))
    );
    client.send_ping(b"p").await.expect("ping");
    assert_eq!(
        client.read().await.expect("pong"),
        Some(Message::Pong(b"p".to_vec()))
    );
    client.close(CloseCode::NORMAL, "bye").await.expect("close");
    assert_eq!(client.connection().state(), State::Closed);
    assert!(client.read().await.expect("after close").is_none());
    server.await.expect("join").expect("server");
}

#[tokio::test]
async fn read_event_borrows_without_copying() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(echo_once(listener));
    let mut client = ws::connect(&url).await.expect("connect");
    for i in 0..10 {
        let text = format!("message {i}");
        client.send_text(&text).await.expect("send");
        match client.read_event().await.expect("read") {
            Some(Event::Text(echo)) => assert_eq!(echo, text),
            other => panic!("unexpected {other:?}"),
        }
    }
    client.close(CloseCode::NORMAL, "").await.expect("close");
    server.await.expect("join").expect("server");
}

#[tokio::test]
async fn accept_callback_refuses_a_foreign_origin_with_403() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        ws::accept_with(stream, |request| {
            if request.origin() != Some("https://good.example") {
                return Err(Rejection::forbidden());
            }
            Ok(Accept::default())
        })
        .await
        .map(|_| ())
    });
    let err = ClientBuilder::new(url)
        .header("Origin", "https://evil.example")
        .connect()
        .await
        .expect_err("refused");
    match err {
        Error::Handshake(HandshakeError::Response(ResponseError::Rejected { status, .. })) => {
            assert_eq!(status, 403);
        }
        other => panic!("unexpected {other}"),
    }
    assert!(matches!(
        server.await.expect("join"),
        Err(Error::Refused(403))
    ));
}

#[tokio::test]
async fn the_server_picks_a_subprotocol_the_client_offered() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut ws = Acceptor::new()
            .accept_with(stream, |request| {
                let chosen = request.protocols().iter().find(|p| *p == "chat").cloned();
                let mut accept = Accept::default();
                accept.protocol = chosen;
                Ok(accept)
            })
            .await?;
        assert_eq!(ws.protocol(), Some("chat"));
        while ws.read().await?.is_some() {}
        Ok::<(), Error>(())
    });
    let mut client = ClientBuilder::new(url)
        .protocol("superchat")
        .protocol("chat")
        .connect()
        .await
        .expect("connect");
    assert_eq!(client.protocol(), Some("chat"));
    client.close(CloseCode::NORMAL, "").await.expect("close");
    server.await.expect("join").expect("server");
}

#[tokio::test]
async fn a_handshake_that_never_completes_times_out() {
    let (listener, _) = listener().await;
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        Acceptor::new()
            .handshake_timeout(Duration::from_millis(100))
            .accept(stream)
            .await
            .map(|_| ())
    });
    let _silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert!(matches!(
        server.await.expect("join"),
        Err(Error::HandshakeTimeout(_))
    ));
}

#[tokio::test]
async fn stream_split_and_forward_echo() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let ws = ws::accept(stream).await?;
        let (sink, stream) = ws.split();
        stream.forward(sink).await
    });
    let mut client = ws::connect(&url).await.expect("connect");
    for i in 0..20 {
        client
            .send(&Message::Text(format!("{i}")))
            .await
            .expect("send");
    }
    for i in 0..20 {
        assert_eq!(
            client.next().await.expect("item").expect("message"),
            Message::Text(format!("{i}"))
        );
    }
    client.close(CloseCode::NORMAL, "").await.expect("close");
    server.await.expect("join").expect("forward");
}

#[tokio::test]
async fn sink_send_all_then_close() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut ws = ws::accept(stream).await?;
        let mut seen = Vec::new();
        while let Some(message) = ws.next().await {
            seen.push(message?);
        }
        Ok::<_, Error>(seen)
    });
    let mut client = ws::connect(&url).await.expect("connect");
    let mut messages =
        futures_util::stream::iter((0..50).map(|i| Ok(Message::Binary(vec![i; 1000].into()))));
    client.send_all(&mut messages).await.expect("send_all");
    SinkExt::close(&mut client).await.expect("close");
    let seen = server.await.expect("join").expect("server");
    assert_eq!(seen.len(), 51);
    for (i, message) in seen.iter().take(50).enumerate() {
        assert_eq!(message, &Message::Binary(vec![i as u8; 1000].into()));
    }
    assert_eq!(seen[50], Message::Close(CloseCode::NORMAL, String::new()));
}

// ---------------------------------------------------------------- over a duplex, raw peer

/// A server `WebSocket` over a duplex, and the raw other end with a sans-IO client.
fn duplex_pair(
    config: Config,
    capacity: usize,
) -> (WebSocket<DuplexStream>, DuplexStream, Connection) {
    let (a, b) = tokio::io::duplex(capacity);
    let ws = WebSocket::from_stream(a, Role::Server, config.clone());
    (ws, b, Connection::with_seed(Role::Client, config, [9; 32]))
}

async fn write_out(stream: &mut DuplexStream, conn: &mut Connection) {
    let out = conn.pending_output().to_vec();
    conn.consume_output(out.len());
    stream.write_all(&out).await.expect("raw write");
}

/// Reads from the raw stream into `conn` until an event, returned owned.
async fn raw_event(stream: &mut DuplexStream, conn: &mut Connection) -> Option<Message> {
    let mut buf = vec![0; 64 * 1024];
    loop {
        if let Some(event) = conn.next_event().expect("valid frames") {
            return Some(Message::from(event));
        }
        let n = stream.read(&mut buf).await.expect("raw read");
        if n == 0 {
            conn.recv_eof();
            return conn.next_event().ok().flatten().map(Message::from);
        }
        conn.recv(&buf[..n]);
    }
}

fn keepalive_config(ping: u64, idle: u64) -> Config {
    let mut config = Config::default();
    config.keepalive = Keepalive::new(Duration::from_secs(ping), Duration::from_secs(idle));
    config
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_a_silent_peer_then_gives_up() {
    let (mut ws, mut raw, mut peer) = duplex_pair(keepalive_config(1, 3), 1 << 16);
    let started = tokio::time::Instant::now();
    let reader = tokio::spawn(async move { ws.read().await });
    // The ping comes after 1 s of silence.
    assert_eq!(
        raw_event(&mut raw, &mut peer).await,
        Some(Message::Ping(b"keepalive".to_vec()))
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    // Never answered: given up after 3 s, and the stream is shut down.
    let err = reader.await.expect("join").expect_err("dead peer");
    assert!(
        matches!(err, Error::PeerUnresponsive(d) if d == Duration::from_secs(3)),
        "{err}"
    );
    assert!(started.elapsed() >= Duration::from_secs(3));
    let mut rest = Vec::new();
    raw.read_to_end(&mut rest).await.expect("eof after abort");
}

#[tokio::test(start_paused = true)]
async fn close_times_out_when_the_peer_never_answers() {
    let mut config = Config::default();
    config.close_timeout = Duration::from_secs(2);
    let (mut ws, mut raw, mut peer) = duplex_pair(config, 1 << 16);
    let started = tokio::time::Instant::now();
    let err = ws
        .close(CloseCode::NORMAL, "bye")
        .await
        .expect_err("no answer");
    assert!(matches!(err, Error::CloseTimeout(_)), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(
        raw_event(&mut raw, &mut peer).await,
        Some(Message::Close(CloseCode::NORMAL, "bye".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn read_timeout_passes_and_nothing_is_lost() {
    let (mut ws, mut raw, mut peer) = duplex_pair(Config::default(), 1 << 16);
    ws.set_read_timeout(Some(Duration::from_millis(500)));
    // Half a frame arrives, then nothing.
    peer.send_text("slow message").expect("send");
    let bytes = peer.pending_output().to_vec();
    peer.consume_output(bytes.len());
    raw.write_all(&bytes[..5]).await.expect("write");
    let err = ws.read().await.expect_err("timed out");
    assert!(err.is_retryable(), "{err}");
    raw.write_all(&bytes[5..]).await.expect("write");
    assert_eq!(
        ws.read().await.expect("read"),
        Some(Message::Text("slow message".into()))
    );
}

#[tokio::test]
async fn a_protocol_error_sends_its_close_code() {
    let (mut ws, mut raw, mut peer) = duplex_pair(Config::default(), 1 << 16);
    // An unmasked frame from a client: 1002.
    raw.write_all(&[0x81, 0x02, b'h', b'i'])
        .await
        .expect("write");
    let err = ws.read().await.expect_err("protocol error");
    assert!(matches!(err, Error::Protocol(_)), "{err}");
    match raw_event(&mut raw, &mut peer).await {
        Some(Message::Close(code, _)) => assert_eq!(code, CloseCode::PROTOCOL_ERROR),
        other => panic!("unexpected {other:?}"),
    }
    assert!(ws.read().await.expect("over").is_none());
}

#[tokio::test]
async fn the_server_ends_the_stream_after_the_close_handshake() {
    let (mut ws, mut raw, mut peer) = duplex_pair(Config::default(), 1 << 16);
    peer.close(CloseCode::NORMAL, "done").expect("close");
    write_out(&mut raw, &mut peer).await;
    assert_eq!(
        ws.read().await.expect("close"),
        Some(Message::Close(CloseCode::NORMAL, "done".into()))
    );
    assert!(ws.read().await.expect("end").is_none());
    assert!(matches!(
        raw_event(&mut raw, &mut peer).await,
        Some(Message::Close(CloseCode::NORMAL, _))
    ));
    // poll_shutdown was called: the raw side reads the end of the stream.
    let mut rest = Vec::new();
    raw.read_to_end(&mut rest).await.expect("eof");
    assert!(rest.is_empty());
}

#[tokio::test]
async fn a_send_waits_for_room_under_the_cap() {
    let mut config = Config::default();
    config.write_buffer_cap = 4096;
    let (mut ws, mut raw, mut peer) = duplex_pair(config, 1024);
    // The peer does not read: the first messages fill the duplex and the queue.
    let mut sent = 0;
    loop {
        let send = ws.send_binary(&[7; 1000]);
        match tokio::time::timeout(Duration::from_millis(50), send).await {
            Ok(result) => {
                result.expect("send");
                sent += 1;
            }
            Err(_) => break,
        }
        assert!(sent < 100, "the send queue is not bounded");
    }
    assert!(ws.connection().pending_output().len() <= 4096 + 1100);
    // The peer reads: everything arrives, whole and in order (the cancelled send queued
    // its message whole, or not at all).
    let pending = tokio::spawn(async move {
        ws.flush().await.expect("flush");
        ws
    });
    let mut got = 0;
    while got < sent {
        assert_eq!(
            raw_event(&mut raw, &mut peer).await,
            Some(Message::Binary(vec![7; 1000].into()))
        );
        got += 1;
    }
    let ws = pending.await.expect("join");
    assert!(ws.connection().pending_output().is_empty());
}

/// Opens a connection through `acceptor` over an in-memory stream of `capacity` bytes each
/// way: the server's `WebSocket` and the client's end of the stream (after the 101).
async fn accepted(acceptor: Acceptor, capacity: usize) -> (WebSocket<DuplexStream>, DuplexStream) {
    let (server, mut client) = tokio::io::duplex(capacity);
    client
        .write_all(
            b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .expect("request");
    let ws = acceptor.accept(server).await.expect("accept");
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(client.read_u8().await.expect("response"));
    }
    assert!(response.starts_with(b"HTTP/1.1 101"));
    (ws, client)
}

#[tokio::test(start_paused = true)]
async fn server_write_timeout_fails_a_blocked_send_and_keeps_what_was_queued() {
    let acceptor = Acceptor::new().write_timeout(Duration::from_secs(2));
    let (mut ws, mut client) = accepted(acceptor, 4096).await;
    let big = vec![7; 256 << 10];
    let started = tokio::time::Instant::now();
    // The client reads nothing: the send (or the flush after it) waits, then gives up.
    let err = async {
        ws.send_binary(&big).await?;
        ws.flush().await
    }
    .await
    .expect_err("the peer reads nothing");
    assert!(
        matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut),
        "{err}"
    );
    assert!(err.is_retryable(), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Retried once the peer reads: the whole frame arrives (2 + 8 header bytes, payload).
    let drain = tokio::spawn(async move {
        let mut got = vec![0; 10 + (256 << 10)];
        client.read_exact(&mut got).await.expect("the whole frame");
        got
    });
    ws.flush().await.expect("flushed once the peer reads");
    let got = drain.await.expect("join");
    assert_eq!(&got[..2], &[0x82, 127]);
    assert!(got[10..].iter().all(|&b| b == 7));
}

#[tokio::test(start_paused = true)]
async fn server_without_write_timeout_waits_for_the_peer() {
    let (mut ws, _client) = accepted(Acceptor::new().no_write_timeout(), 4096).await;
    let big = vec![7; 256 << 10];
    let send = async {
        ws.send_binary(&big).await?;
        ws.flush().await
    };
    // An hour on the paused clock, and the send is still waiting.
    let waited = tokio::time::timeout(Duration::from_secs(3600), send).await;
    assert!(waited.is_err(), "the send ended: {waited:?}");
}

#[tokio::test(start_paused = true)]
async fn server_write_timeout_restarts_while_the_peer_reads_slowly() {
    let acceptor = Acceptor::new().write_timeout(Duration::from_secs(2));
    let (mut ws, mut client) = accepted(acceptor, 4096).await;
    let big = vec![7; 64 << 10];
    // The peer takes 4 KiB every 1.5 s: never 2 s without progress, 24 s in all.
    let drain = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut chunk = vec![0; 4096];
        while got.len() < 10 + (64 << 10) {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let n = client.read(&mut chunk).await.expect("read");
            got.extend_from_slice(&chunk[..n]);
        }
        got
    });
    let started = tokio::time::Instant::now();
    ws.send_binary(&big).await.expect("send");
    ws.flush().await.expect("no 2 s without progress");
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "the peer was slow"
    );
    let got = drain.await.expect("join");
    assert!(got[10..].iter().all(|&b| b == 7));
}

/// What an idle connection costs in a server's task: the `WebSocket` is moved (out of the
/// handshake's `Result`, into the user's `serve(ws)`), and a future keeps a slot for each
/// place it lived, so it must be small; the connection lives in one box beside it. Grown
/// back to 1,120 bytes inline, the soak's server held 5.7 KiB per idle connection instead
/// of 3.5 (`SOAK_ADAPTER=tokio scripts/soak.sh`).
#[cfg(target_pointer_width = "64")]
#[test]
fn an_idle_connection_stays_small() {
    use std::mem::size_of;
    let socket = size_of::<WebSocket<tokio::net::TcpStream>>();
    assert!(socket <= 256, "WebSocket<TcpStream> is {socket} bytes");
    // A server's connection carries no random generator (a client's is boxed).
    let conn = size_of::<Connection>();
    assert!(conn <= 640, "Connection is {conn} bytes");
}

/// A stream that counts `poll_flush` calls, over a `BufWriter` that delivers nothing until
/// flushed.
struct CountFlushes {
    inner: tokio::io::BufWriter<DuplexStream>,
    flushes: usize,
}

impl tokio::io::AsyncRead for CountFlushes {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for CountFlushes {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.flushes += 1;
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Reads flush the stream only after writing to it: not once per message (a cost on every
/// read of a TLS or buffered stream), and always after a pong, which a buffered stream would
/// otherwise hold back.
#[tokio::test]
async fn reads_flush_only_what_they_wrote() {
    let (a, mut raw) = tokio::io::duplex(1 << 20);
    let stream = CountFlushes {
        inner: tokio::io::BufWriter::new(a),
        flushes: 0,
    };
    let mut ws = WebSocket::from_stream(stream, Role::Server, Config::default());
    let mut client = Connection::with_seed(Role::Client, Config::default(), [9; 32]);
    for i in 0..100_u8 {
        client.send_binary(&[i; 20]).expect("send");
    }
    write_out(&mut raw, &mut client).await;
    for i in 0..100_u8 {
        let got = ws.read().await.expect("read");
        assert_eq!(got, Some(Message::binary(vec![i; 20])));
    }
    assert_eq!(
        ws.get_ref().flushes,
        0,
        "nothing was written, so nothing to flush"
    );

    client.send_ping(b"are you there").expect("ping");
    client.send_text("after the ping").expect("send");
    write_out(&mut raw, &mut client).await;
    assert_eq!(
        ws.read().await.expect("read"),
        Some(Message::Ping(b"are you there".to_vec()))
    );
    assert_eq!(ws.get_ref().flushes, 1, "the pong was flushed");
    // The pong reached the peer through the BufWriter.
    assert_eq!(
        raw_event(&mut raw, &mut client).await,
        Some(Message::Pong(b"are you there".to_vec()))
    );
    assert_eq!(
        ws.read().await.expect("read"),
        Some(Message::text("after the ping"))
    );
    assert_eq!(ws.get_ref().flushes, 1);
}

/// A peer that keeps talking is never pinged, however its bytes fall against the timer
/// (armed once, it fires early and is re-armed at the deadline the core gives then); once it
/// goes silent, the ping comes one interval after its last byte, not after the first.
#[tokio::test(start_paused = true)]
async fn keepalive_follows_the_last_byte_heard() {
    let (mut ws, mut raw, mut peer) = duplex_pair(keepalive_config(10, 30), 1 << 16);
    let started = tokio::time::Instant::now();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Ok(Some(message)) = ws.read().await {
            got.push((message, started.elapsed()));
        }
        got
    });
    // A message every 4 s for 40 s: the deadline moves on each.
    for i in 0..10_u8 {
        tokio::time::sleep(Duration::from_secs(4)).await;
        peer.send_binary(&[i]).expect("send");
        write_out(&mut raw, &mut peer).await;
    }
    let last = started.elapsed();
    // Silent from here: the first thing the server sends is the ping, 10 s later.
    assert_eq!(
        raw_event(&mut raw, &mut peer).await,
        Some(Message::Ping(b"keepalive".to_vec()))
    );
    assert_eq!(started.elapsed() - last, Duration::from_secs(10));
    // Answered (the sans-IO peer queued its pong), then closed by the peer.
    write_out(&mut raw, &mut peer).await;
    peer.close(CloseCode::NORMAL, "").expect("close");
    write_out(&mut raw, &mut peer).await;
    let got = reader.await.expect("join");
    let data: Vec<_> = got
        .iter()
        .filter_map(|(m, _)| match m {
            Message::Binary(b) => Some(b[0]),
            _ => None,
        })
        .collect();
    assert_eq!(data, (0..10).collect::<Vec<u8>>());
}
