//! Plain HTTP on the node's port: the page at `/`, `/status` for scripts, 404 otherwise.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

use crate::room::{Room, json, json_list};

/// The chat page: the one-node chat page plus an online list, the node's name, and
/// reconnection with backoff and jitter.
const PAGE: &str = include_str!("page.html");

/// The longest a client may take to send its request line or head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The target of the request line (`/`, `/ws?nick=ann`), read with `peek`: the bytes stay
/// in the socket for the WebSocket handshake. `None` if the client left without a request.
///
/// # Errors
/// I/O errors, no request line within 2 KiB, or none within [`HEAD_TIMEOUT`].
pub async fn peek_request_target(stream: &TcpStream) -> io::Result<Option<String>> {
    let peek = async {
        let mut buf = [0; 2048];
        loop {
            let n = stream.peek(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&buf[..end]);
                return Ok(Some(line.split(' ').nth(1).unwrap_or_default().to_owned()));
            }
            if n == buf.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "no HTTP request line",
                ));
            }
            sleep(Duration::from_millis(10)).await; // only part of the line is here yet
        }
    };
    timeout(HEAD_TIMEOUT, peek)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// Answers a plain HTTP request: the page, the node's status as JSON, or 404.
///
/// # Errors
/// I/O errors and a head not complete within [`HEAD_TIMEOUT`].
pub async fn serve(mut stream: TcpStream, target: &str, room: &Room) -> io::Result<()> {
    // Read the whole request head first: closing a socket with unread input resets it.
    let read_head = async {
        let mut head = Vec::new();
        let mut buf = [0; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<(), io::Error>(())
    };
    timeout(HEAD_TIMEOUT, read_head)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))?;
    let status;
    let (code, kind, body) = match target {
        "/" | "/index.html" => ("200 OK", "text/html", PAGE),
        "/status" => {
            status = format!(
                "{{\"node\":{},\"bus\":{},\"local\":{},\"online\":{}}}\n",
                json(room.node()),
                room.is_bus_up(),
                room.local_count(),
                json_list(&room.online())
            );
            ("200 OK", "application/json", status.as_str())
        }
        _ => ("404 Not Found", "text/plain", "not found\n"),
    };
    let response = format!(
        "HTTP/1.1 {code}\r\nContent-Type: {kind}; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Chat-Node: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        room.node()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Decodes `%XX` escapes and `+` in a query value.
pub fn percent_decode(s: &str) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok());
        match (b, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(decoded)) => {
                bytes.push(decoded);
                rest = &tail[2..];
                continue;
            }
            (b'+', _) => bytes.push(b' '),
            (b, _) => bytes.push(b),
        }
        rest = tail;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
