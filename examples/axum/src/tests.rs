//! The server on a free port, driven by the crate's own async client and by raw requests.

use rfc6455::CloseCode;
use rfc6455::tokio::Message;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Starts the app on 127.0.0.1:0 and returns its address.
async fn start() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, super::app()).await });
    addr
}

/// Writes `request` and returns everything the server answers before it closes.
async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = vec![0; 4096];
    let n = stream.read(&mut response).await.expect("read");
    String::from_utf8_lossy(&response[..n]).into_owned()
}

#[tokio::test]
async fn echoes_and_closes() {
    let addr = start().await;
    let mut ws = rfc6455::tokio::connect(&format!("ws://{addr}/ws"))
        .await
        .expect("handshake");
    ws.send_text("hello, axum").await.expect("send text");
    let text = ws.read().await.expect("read");
    assert_eq!(text, Some(Message::Text("hello, axum".into())));
    let data: Vec<u8> = (0..=255).cycle().take(100_000).collect();
    ws.send_binary(&data).await.expect("send binary");
    assert_eq!(
        ws.read().await.expect("read"),
        Some(Message::Binary(data.into()))
    );
    // Returns once the server's close frame came back: the close handshake is complete.
    ws.close(CloseCode::NORMAL, "bye").await.expect("close");
    assert_eq!(ws.connection().state(), rfc6455::State::Closed);
    assert_eq!(ws.read().await.expect("read after close"), None);
}

#[tokio::test]
async fn serves_the_page() {
    let addr = start().await;
    let response = raw(
        addr,
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("new WebSocket("), "{response}");
}

#[tokio::test]
async fn refuses_bad_upgrades() {
    let addr = start().await;
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nConnection: close\r\n";
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let plain = raw(
        addr,
        "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(plain.starts_with("HTTP/1.1 400 "), "{plain}");
    let old =
        format!("GET /ws HTTP/1.1\r\nHost: a\r\n{upgrade}{key}Sec-WebSocket-Version: 8\r\n\r\n");
    let old = raw(addr, &old).await;
    assert!(old.starts_with("HTTP/1.1 426 "), "{old}");
    assert!(old.contains("sec-websocket-version: 13\r\n"), "{old}");
    let bad_key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n"; // trailing bits set
    let bad_key = format!(
        "GET /ws HTTP/1.1\r\nHost: a\r\n{upgrade}{bad_key}Sec-WebSocket-Version: 13\r\n\r\n"
    );
    let bad_key = raw(addr, &bad_key).await;
    assert!(bad_key.starts_with("HTTP/1.1 400 "), "{bad_key}");
    let post =
        format!("POST /ws HTTP/1.1\r\nHost: a\r\n{upgrade}{key}Sec-WebSocket-Version: 13\r\n\r\n");
    let post = raw(addr, &post).await;
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    let body = format!(
        "GET /ws HTTP/1.1\r\nHost: a\r\n{upgrade}{key}Sec-WebSocket-Version: 13\r\nContent-Length: 5\r\n\r\nhello"
    );
    let body = raw(addr, &body).await;
    assert!(body.starts_with("HTTP/1.1 400 "), "{body}");
}

#[test]
fn accepts_the_rfc_example() {
    let mut headers = axum::http::HeaderMap::new();
    for (name, value) in [
        ("host", "server.example.com"),
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ] {
        headers.insert(name, value.parse().expect("header value"));
    }
    let accept = super::accept_value(axum::http::Version::HTTP_11, &headers).expect("valid");
    assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let http10 = super::accept_value(axum::http::Version::HTTP_10, &headers);
    assert_eq!(http10.map_err(|e| e.status()), Err(505));
}
