//! The loopback echo servers on tokio: a multi-thread runtime with 2 worker threads and one
//! task per connection, the same setup for each (the process is pinned to one CPU like the
//! thread-per-connection servers, see `echo::serve`).
//!
//! - `tokio-raw`: read into a 64 KiB buffer, write it back: the limit on this runtime;
//! - `rfc6455-tokio`: our async adapter as `examples/tokio_echo_server.rs` uses it
//!   (`accept`, owned `read`, `send_binary`), with the server's default keepalive;
//! - `rfc6455-tokio-nokeepalive`: the same with keepalive off, the work the others do (none
//!   of them has a keepalive). A timer that stays armed makes each park of an idle worker
//!   an `epoll_wait` with a timeout, which costs at one connection, where the worker parks
//!   between every two messages;
//! - `tokio-websockets`: `ServerBuilder::accept`, then `next` and `send` the message back;
//! - `tokio-floor` (on request, `--server tokio-floor`): the least any WebSocket server does
//!   on this runtime, as `floor` does with threads: parse the header, wait for the whole
//!   frame, unmask it and write it back unmasked, no checks;
//! - `fastwebsockets`: the opening handshake answered by hand (fastwebsockets' own needs
//!   hyper), then a `FragmentCollector` (whole messages, UTF-8 checked, as its echo example)
//!   writing each frame back.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether `kind` is one of the servers of this file.
pub fn is_tokio(kind: &str) -> bool {
    matches!(
        kind,
        "tokio-raw"
            | "tokio-floor"
            | "rfc6455-tokio"
            | "rfc6455-tokio-nokeepalive"
            | "tokio-websockets"
            | "fastwebsockets"
    )
}

/// Serves `listener` with server `kind` until the process is killed.
pub fn serve(kind: &str, listener: std::net::TcpListener) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let kind = kind.to_string();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            match kind.as_str() {
                "tokio-raw" => tokio::spawn(raw(stream)),
                "tokio-floor" => tokio::spawn(floor(stream)),
                "rfc6455-tokio" => tokio::spawn(rfc6455(stream, true)),
                "rfc6455-tokio-nokeepalive" => tokio::spawn(rfc6455(stream, false)),
                "tokio-websockets" => tokio::spawn(tokio_websockets(stream)),
                "fastwebsockets" => tokio::spawn(fastwebsockets(stream)),
                other => panic!("unknown server {other:?}"),
            };
        }
    });
}

async fn raw(mut stream: TcpStream) {
    let mut buf = vec![0; 64 << 10];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn floor(stream: TcpStream) {
    let Ok(ws) = rfc6455::tokio::accept(stream).await else {
        return;
    };
    let (mut stream, _) = ws.into_parts();
    let mut buf = vec![0_u8; 256 << 10];
    let mut have = 0;
    loop {
        let (head, len) = loop {
            if let Some(h) = crate::echo::floor_header(&buf[..have]) {
                break h;
            }
            match stream.read(&mut buf[have..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => have += n,
            }
        };
        while have < head + len {
            match stream.read(&mut buf[have..]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => have += n,
            }
        }
        let mut key = [0; 4];
        key.copy_from_slice(&buf[head - 4..head]);
        rfc6455::mask::apply_mask(&mut buf[head..head + len], key, 0);
        let mut out = [0_u8; 10];
        let n = head - 4;
        out[..n].copy_from_slice(&buf[..n]);
        out[1] &= 0x7f;
        let mut bufs = [
            std::io::IoSlice::new(&out[..n]),
            std::io::IoSlice::new(&buf[head..head + len]),
        ];
        let mut slices = &mut bufs[..];
        while !slices.is_empty() {
            match stream.write_vectored(slices).await {
                Ok(0) | Err(_) => return,
                Ok(k) => std::io::IoSlice::advance_slices(&mut slices, k),
            }
        }
        buf.copy_within(head + len..have, 0);
        have -= head + len;
    }
}

async fn rfc6455(stream: TcpStream, keepalive: bool) {
    use rfc6455::tokio::{Acceptor, Message};
    let mut acceptor = Acceptor::new();
    if !keepalive {
        acceptor = acceptor.keepalive(rfc6455::Keepalive::off());
    }
    let Ok(mut ws) = acceptor.accept(stream).await else {
        return;
    };
    loop {
        let sent = match ws.read().await {
            Ok(Some(Message::Binary(data))) => ws.send_binary(&data).await,
            Ok(Some(Message::Text(text))) => ws.send_text(&text).await,
            Ok(Some(_)) => Ok(()),
            Ok(None) | Err(_) => return,
        };
        if sent.is_err() {
            return;
        }
    }
}

async fn tokio_websockets(stream: TcpStream) {
    let Ok((_, mut ws)) = tokio_websockets::ServerBuilder::new().accept(stream).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_binary() || message.is_text()) && ws.send(message).await.is_err() {
            return;
        }
    }
}

async fn fastwebsockets(mut stream: TcpStream) {
    // The request, up to its blank line; the key is the only header the answer depends on.
    let mut request = Vec::new();
    let mut byte = [0; 1];
    while !request.ends_with(b"\r\n\r\n") {
        if stream.read_exact(&mut byte).await.is_err() {
            return;
        }
        request.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&request);
    let Some(key) = text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_string())
    }) else {
        return;
    };
    let accept = rfc6455::handshake::accept_key(key.as_bytes());
    let mut response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: "
        .to_vec();
    response.extend_from_slice(&accept);
    response.extend_from_slice(b"\r\n\r\n");
    if stream.write_all(&response).await.is_err() {
        return;
    }
    let mut ws = fastwebsockets::WebSocket::after_handshake(stream, fastwebsockets::Role::Server);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    let mut ws = fastwebsockets::FragmentCollector::new(ws);
    loop {
        let Ok(frame) = ws.read_frame().await else {
            return;
        };
        let echo = match frame.opcode {
            fastwebsockets::OpCode::Close => return,
            fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary => frame,
            _ => continue,
        };
        if ws.write_frame(echo).await.is_err() {
            return;
        }
    }
}
