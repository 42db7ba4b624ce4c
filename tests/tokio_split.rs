//! The owned halves of the tokio adapter for two tasks: close from either half, a writer
//! blocked on a peer that does not read while the reader answers pings, one half dropped.
#![cfg(feature = "tokio")]

use std::time::Duration;

use rfc6455::tokio::{Message, WebSocket};
use rfc6455::{CloseCode, Config, Connection, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// A server `WebSocket` over a duplex, and the raw other end with a sans-IO client.
fn pair(capacity: usize) -> (WebSocket<DuplexStream>, DuplexStream, Connection) {
    let (a, b) = tokio::io::duplex(capacity);
    let ws = WebSocket::from_stream(a, Role::Server, Config::default());
    (
        ws,
        b,
        Connection::with_seed(Role::Client, Config::default(), [5; 32]),
    )
}

async fn write_out(stream: &mut DuplexStream, conn: &mut Connection) {
    let out = conn.pending_output().to_vec();
    conn.consume_output(out.len());
    stream.write_all(&out).await.expect("raw write");
}

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

async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("no deadlock")
}

#[tokio::test]
async fn close_from_the_writer_while_the_reader_reads() {
    let (ws, mut raw, mut peer) = pair(1 << 16);
    let (mut reader, mut writer) = ws.into_split();
    let reading = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(message) = reader.read().await.expect("read") {
            seen.push(message);
        }
        seen
    });
    writer.send_text("last words").await.expect("send");
    let closing = tokio::spawn(async move { writer.close(CloseCode::NORMAL, "done").await });
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Text("last words".into()))
    );
    // The peer sends one more message, then answers the close.
    peer.send_text("before my close").expect("send");
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Close(CloseCode::NORMAL, "done".into()))
    );
    write_out(&mut raw, &mut peer).await;
    within(closing).await.expect("join").expect("close");
    let seen = within(reading).await.expect("join");
    assert_eq!(
        seen,
        vec![
            Message::Text("before my close".into()),
            Message::Close(CloseCode::NORMAL, String::new()) // the peer's echo
        ]
    );
}

#[tokio::test]
async fn close_from_the_reader() {
    let (ws, mut raw, mut peer) = pair(1 << 16);
    let (mut reader, mut writer) = ws.into_split();
    writer.send_text("hi").await.expect("send");
    let closing = tokio::spawn(async move {
        reader.close(CloseCode::GOING_AWAY, "leaving").await?;
        Ok::<_, rfc6455::tokio::Error>(reader)
    });
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Text("hi".into()))
    );
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Close(CloseCode::GOING_AWAY, "leaving".into()))
    );
    write_out(&mut raw, &mut peer).await;
    let mut reader = within(closing).await.expect("join").expect("close");
    assert!(reader.read().await.expect("over").is_none());
    // The writer sees the connection closed.
    assert!(writer.send_text("too late").await.is_err());
}

#[tokio::test]
async fn the_reader_answers_pings_while_the_writer_waits_on_a_slow_peer() {
    let (ws, mut raw, mut peer) = pair(1024);
    let (mut reader, mut writer) = ws.into_split();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let expected = big.clone();
    let sending = tokio::spawn(async move {
        writer.send_binary(&big).await.expect("send");
        writer
    });
    // The peer does not read, but talks: the reader delivers its messages.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !sending.is_finished(),
        "the writer should wait for the peer"
    );
    peer.send_ping(b"are you there").expect("ping");
    peer.send_text("still here").expect("text");
    write_out(&mut raw, &mut peer).await;
    assert_eq!(
        within(reader.read()).await.expect("read"),
        Some(Message::Ping(b"are you there".to_vec()))
    );
    assert_eq!(
        within(reader.read()).await.expect("read"),
        Some(Message::Text("still here".into()))
    );
    // The peer reads again: the big message, whole, then the pong queued behind it.
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Binary(expected.into()))
    );
    let mut writer = within(sending).await.expect("join");
    // The pong goes out with the next write of either half.
    writer.flush().await.expect("flush");
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Pong(b"are you there".to_vec()))
    );
}

#[tokio::test]
async fn the_reader_writes_its_pong_itself_and_sees_the_writer_dropped() {
    let (ws, mut raw, mut peer) = pair(1 << 16);
    let (mut reader, writer) = ws.into_split();
    peer.send_ping(b"1").expect("ping");
    write_out(&mut raw, &mut peer).await;
    assert_eq!(
        within(reader.read()).await.expect("read"),
        Some(Message::Ping(b"1".to_vec()))
    );
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Pong(b"1".to_vec()))
    );
    drop(writer);
    assert!(!reader.is_writer_alive());
}

#[tokio::test]
async fn with_the_writer_dropped_the_reader_answers_pings_and_the_close() {
    let (ws, mut raw, mut peer) = pair(1 << 16);
    let (mut reader, writer) = ws.into_split();
    drop(writer);
    let reading = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(message) = reader.read().await.expect("read") {
            seen.push(message);
        }
        seen
    });
    peer.send_ping(b"x").expect("ping");
    write_out(&mut raw, &mut peer).await;
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Pong(b"x".to_vec()))
    );
    peer.close(CloseCode::NORMAL, "").expect("close");
    write_out(&mut raw, &mut peer).await;
    assert!(matches!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Close(CloseCode::NORMAL, _))
    ));
    let seen = within(reading).await.expect("join");
    assert_eq!(seen.len(), 2);
    // The server ended the stream.
    let mut rest = Vec::new();
    within(raw.read_to_end(&mut rest)).await.expect("eof");
}

#[tokio::test]
async fn with_the_reader_dropped_the_writer_closes_by_itself() {
    let (ws, mut raw, mut peer) = pair(1 << 16);
    let (reader, mut writer) = ws.into_split();
    drop(reader);
    assert!(!writer.is_reader_alive());
    let closing = tokio::spawn(async move { writer.close(CloseCode::NORMAL, "bye").await });
    // Messages the peer sends meanwhile are discarded.
    peer.send_text("ignored").expect("send");
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Close(CloseCode::NORMAL, "bye".into()))
    );
    write_out(&mut raw, &mut peer).await;
    within(closing).await.expect("join").expect("close");
}

#[tokio::test]
async fn the_writer_close_completes_while_the_reader_is_not_polled() {
    let (ws, mut raw, mut peer) = pair(1 << 16);
    let (mut reader, mut writer) = ws.into_split();
    let closing = tokio::spawn(async move { writer.close(CloseCode::NORMAL, "bye").await });
    assert_eq!(
        within(raw_event(&mut raw, &mut peer)).await,
        Some(Message::Close(CloseCode::NORMAL, "bye".into()))
    );
    write_out(&mut raw, &mut peer).await;
    within(closing).await.expect("join").expect("close");
    // The reader still gets the peer's close, then the end.
    assert!(matches!(
        within(reader.read()).await.expect("read"),
        Some(Message::Close(CloseCode::NORMAL, _))
    ));
    assert!(within(reader.read()).await.expect("end").is_none());
}
