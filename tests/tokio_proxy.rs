//! The async client through proxies, over 127.0.0.1 (port 0): hand-written HTTP CONNECT and
//! SOCKS5 proxies that relay to our blocking echo server, and ones that refuse. The same
//! sans-IO exchange as the blocking client's (`tests/proxy.rs`, `scripts/proxy.sh`).
#![cfg(feature = "tokio")]

mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

use rfc6455::blocking::{self, Message};
use rfc6455::proxy::ProxyError;
use rfc6455::tokio::{ClientBuilder, Error};
use support::{GUARD, echo, join, spawn_server};

/// Copies both ways between `a` and `b` until both directions end.
fn relay(a: TcpStream, b: TcpStream) {
    let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    };
    let one = thread::spawn(move || pipe(a, b2));
    pipe(b, a2);
    join(one);
}

/// Reads an HTTP head byte by byte, so nothing after it is consumed.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

async fn round_trip(builder: ClientBuilder) {
    let mut ws = builder.handshake_timeout(GUARD).connect().await.unwrap();
    ws.send_text("through the tunnel").await.unwrap();
    assert_eq!(
        ws.read().await.unwrap(),
        Some(Message::Text("through the tunnel".into()))
    );
    ws.close(rfc6455::CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn http_connect_with_basic_credentials_tunnels_to_the_server() {
    let (target, server) = spawn_server(|s| echo(blocking::accept(s).unwrap()));
    let (proxy, seen) = spawn_server(move |mut client| {
        let head = read_head(&mut client);
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        relay(client, TcpStream::connect(target).unwrap());
        head
    });
    round_trip(
        ClientBuilder::new(format!("ws://example.test:{}/", target.port()))
            .proxy(format!("http://alice:s3cret@{proxy}")),
    )
    .await;
    let head = seen.join().unwrap();
    assert!(
        head.starts_with(&format!(
            "CONNECT example.test:{} HTTP/1.1\r\n",
            target.port()
        )),
        "{head}"
    );
    // alice:s3cret
    assert!(
        head.contains("Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n"),
        "{head}"
    );
    assert_eq!(join(server).len(), 2, "the text, then the close");
}

#[tokio::test]
async fn socks5h_sends_the_host_name_to_the_proxy() {
    let (target, server) = spawn_server(|s| echo(blocking::accept(s).unwrap()));
    let (proxy, seen) = spawn_server(move |mut client| {
        let mut greeting = [0; 3];
        client.read_exact(&mut greeting).unwrap();
        assert_eq!(greeting, [5, 1, 0], "no authentication offered");
        client.write_all(&[5, 0]).unwrap();
        let mut request = [0; 5];
        client.read_exact(&mut request).unwrap();
        assert_eq!(&request[..4], &[5, 1, 0, 3], "CONNECT to a domain name");
        let mut name = vec![0; usize::from(request[4]) + 2];
        client.read_exact(&mut name).unwrap();
        client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).unwrap();
        relay(client, TcpStream::connect(target).unwrap());
        name
    });
    round_trip(
        ClientBuilder::new(format!("ws://ws-target.test:{}/", target.port()))
            .proxy(format!("socks5h://{proxy}")),
    )
    .await;
    let name = seen.join().unwrap();
    assert_eq!(&name[..name.len() - 2], b"ws-target.test");
    assert_eq!(&name[name.len() - 2..], &target.port().to_be_bytes());
    join(server);
}

#[tokio::test]
async fn a_407_says_the_proxy_credentials_are_missing() {
    let (proxy, answered) = spawn_server(|mut client| {
        read_head(&mut client);
        client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    });
    let err = ClientBuilder::new("ws://example.test:9/")
        .proxy(format!("http://{proxy}"))
        .handshake_timeout(GUARD)
        .connect()
        .await
        .expect_err("a 407");
    assert!(
        matches!(
            err,
            Error::Proxy(ProxyError::AuthRequired {
                status: 407,
                credentials_sent: false
            })
        ),
        "{err:?}"
    );
    join(answered);
}

#[tokio::test]
async fn a_proxy_that_is_down_is_unreachable_and_the_environment_can_be_ignored() {
    // A port with nothing listening: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = ClientBuilder::new("ws://example.test:9/")
        .proxy(format!("http://127.0.0.1:{port}"))
        .ignore_proxy_env()
        .handshake_timeout(GUARD)
        .connect()
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, Error::ProxyUnreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}
