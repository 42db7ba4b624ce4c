//! The blocking client through proxies, over 127.0.0.1 (port 0): hand-written HTTP CONNECT
//! and SOCKS5 proxies that relay to an echo server, and ones that misbehave on purpose, for
//! every named error. Real proxies (tinyproxy, microsocks) run in `scripts/proxy.sh`.

mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rfc6455::blocking::{self, ClientBuilder, Error, Message};
use rfc6455::handshake::{HeaderError, Limits};
use rfc6455::proxy::ProxyError;
use support::{GUARD, echo, join, listen, spawn_server};

/// An echo server for one connection; its address.
fn echo_server() -> (SocketAddr, JoinHandle<Vec<Message>>) {
    spawn_server(|stream| echo(blocking::accept(stream).expect("accept")))
}

/// Copies both ways between `a` and `b` until both directions end.
fn relay(a: TcpStream, b: TcpStream) {
    let (a2, b2) = (a.try_clone().expect("clone"), b.try_clone().expect("clone"));
    let one = thread::spawn(move || pipe(a, b2));
    pipe(b, a2);
    join(one);
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// Reads an HTTP head byte by byte (so nothing after it is consumed).
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).expect("read head") == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).expect("UTF-8 head")
}

fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).expect("read");
    buf
}

/// Sends one text message and checks it comes back; then closes.
fn round_trip(builder: ClientBuilder) {
    let mut ws = builder.handshake_timeout(GUARD).connect().expect("connect");
    ws.send_text("through the tunnel").expect("send");
    let back = ws.read().expect("read");
    assert_eq!(back, Some(Message::Text("through the tunnel".into())));
    ws.close(rfc6455::CloseCode::NORMAL, "").expect("close");
    while ws.read().expect("read to the end").is_some() {}
}

/// A proxy for one connection that does `serve` and returns what it saw.
fn fake<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (String, JoinHandle<T>) {
    let (addr, handle) = spawn_server(serve);
    (addr.to_string(), handle)
}

fn error_through(proxy: &str, url: &str) -> Error {
    ClientBuilder::new(url)
        .proxy(proxy)
        .handshake_timeout(GUARD)
        .connect()
        .expect_err("the proxy must fail the connection")
}

// ------------------------------------------------------------------ HTTP CONNECT

#[test]
fn http_connect_tunnel_with_basic_credentials() {
    let (target, server) = echo_server();
    let (proxy, seen) = fake(move |mut client| {
        let head = read_head(&mut client);
        let upstream = TcpStream::connect(target).expect("connect to target");
        client
            .write_all(b"HTTP/1.0 200 Connection established\r\nProxy-agent: fake\r\n\r\n")
            .expect("answer");
        relay(client, upstream);
        head
    });
    round_trip(
        ClientBuilder::new(format!("ws://{target}/")).proxy(format!("http://al%40ice:pw@{proxy}")),
    );
    let head = join(seen);
    assert!(
        head.starts_with(&format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n")),
        "{head}"
    );
    // base64("al@ice:pw")
    assert!(
        head.contains("Proxy-Authorization: Basic YWxAaWNlOnB3\r\n"),
        "{head}"
    );
    let seen = join(server);
    assert_eq!(seen[0], Message::Text("through the tunnel".into()));
}

fn answering(answer: &'static [u8]) -> (String, JoinHandle<()>) {
    fake(move |mut client| {
        read_head(&mut client);
        let _ = client.write_all(answer);
        // Hold the connection until the client gives up.
        let _ = client.read(&mut [0; 64]);
    })
}

#[test]
fn http_407_and_401_say_credentials() {
    for (answer, status) in [
        (
            &b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n"[..],
            407,
        ),
        (b"HTTP/1.0 401 Unauthorized\r\n\r\n", 401),
    ] {
        let (proxy, handle) = answering(answer);
        let err = error_through(&format!("http://{proxy}"), "ws://example.invalid/");
        assert!(
            matches!(err, Error::Proxy(ProxyError::AuthRequired { status: s, credentials_sent: false }) if s == status),
            "{err:?}"
        );
        assert!(err.to_string().contains("requires credentials"), "{err}");
        join(handle);
    }
    let (proxy, handle) = answering(b"HTTP/1.1 407 Nope\r\n\r\n");
    let err = error_through(&format!("http://u:wrong@{proxy}"), "ws://example.invalid/");
    assert!(err.to_string().contains("refused the credentials"), "{err}");
    join(handle);
}

#[test]
fn http_other_status_is_reported_with_its_status_line() {
    let (proxy, handle) =
        answering(b"HTTP/1.1 403 Filtered by policy\r\nContent-Length: 0\r\n\r\n");
    let err = error_through(&format!("http://{proxy}"), "ws://example.invalid/");
    assert!(
        matches!(&err, Error::Proxy(ProxyError::Refused { status: 403, status_line }) if status_line == "HTTP/1.1 403 Filtered by policy"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("HTTP/1.1 403 Filtered by policy"),
        "{err}"
    );
    join(handle);
}

#[test]
fn http_garbage_truncation_and_limits() {
    let (proxy, handle) = answering(b"SSH-2.0-OpenSSH_9.2\r\n");
    let err = error_through(&format!("http://{proxy}"), "ws://example.invalid/");
    assert!(
        matches!(err, Error::Proxy(ProxyError::NotHttp(b'S'))),
        "{err:?}"
    );
    join(handle);

    let (proxy, handle) = fake(|mut client| {
        read_head(&mut client);
        let _ = client.write_all(b"HTTP/1.1 200 OK\r\n");
    });
    let err = error_through(&format!("http://{proxy}"), "ws://example.invalid/");
    assert!(
        matches!(err, Error::Proxy(ProxyError::Truncated)),
        "{err:?}"
    );
    join(handle);

    // The proxy's answer is read under the builder's limits.
    let (proxy, handle) = fake(|mut client| {
        read_head(&mut client);
        let _ = client.write_all(b"HTTP/1.1 200 OK\r\n");
        let line = format!("X-Filler: {}\r\n", "y".repeat(100));
        for _ in 0..100 {
            if client.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut limits = Limits::default();
    limits.max_header_bytes = 1024;
    let err = ClientBuilder::new("ws://example.invalid/")
        .proxy(format!("http://{proxy}"))
        .limits(limits)
        .connect()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Proxy(ProxyError::Http(HeaderError::HeadersTooLarge {
                limit: 1024
            }))
        ),
        "{err:?}"
    );
    join(handle);

    // Bytes after the 200, before the client said anything, cannot be handed over.
    let (proxy, handle) = answering(b"HTTP/1.1 200 OK\r\n\r\nhello");
    let err = error_through(&format!("http://{proxy}"), "ws://example.invalid/");
    assert!(
        matches!(err, Error::Proxy(ProxyError::Malformed(_))),
        "{err:?}"
    );
    join(handle);
}

#[test]
fn a_silent_proxy_runs_into_the_handshake_deadline() {
    let (proxy, handle) = fake(|mut client| {
        read_head(&mut client);
        let _ = client.read(&mut [0; 64]);
    });
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = ClientBuilder::new("ws://example.invalid/")
        .proxy(format!("http://{proxy}"))
        .handshake_timeout(timeout)
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, Error::HandshakeTimeout(t) if t == timeout),
        "{err:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    join(handle);
}

#[test]
fn a_proxy_that_is_down_is_unreachable() {
    let (listener, addr) = listen();
    drop(listener);
    for scheme in ["http", "socks5", "socks5h"] {
        let start = Instant::now();
        let err = ClientBuilder::new("ws://example.invalid/")
            .proxy(format!("{scheme}://user:secret@{addr}"))
            .handshake_timeout(Duration::from_secs(2))
            .connect()
            .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2));
        let Error::ProxyUnreachable { proxy, error } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(proxy, &format!("{scheme}://user:***@{addr}"));
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        let text = err.to_string();
        assert!(text.contains("could not connect to the proxy"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}

#[test]
fn a_bad_proxy_url_is_named() {
    let err = ClientBuilder::new("ws://example.invalid/")
        .proxy("ftp://p:1")
        .connect()
        .unwrap_err();
    assert!(
        matches!(err, Error::Proxy(ProxyError::InvalidUrl { .. })),
        "{err:?}"
    );
}

// ------------------------------------------------------------------ SOCKS5

/// The SOCKS5 server side up to the reply; returns the requested target as text (a name or
/// an address) and its port. `auth`: the user name and password to require.
fn socks_serve(client: &mut TcpStream, auth: Option<(&str, &str)>, reply: u8) -> (String, u16) {
    let head = read_n(client, 2);
    assert_eq!(head[0], 5);
    let methods = read_n(client, usize::from(head[1]));
    match auth {
        None => client.write_all(&[5, 0]).expect("method"),
        Some((user, pass)) => {
            assert!(methods.contains(&2), "{methods:?}");
            client.write_all(&[5, 2]).expect("method");
            let v = read_n(client, 2);
            let got_user = read_n(client, usize::from(v[1]));
            let plen = read_n(client, 1)[0];
            let got_pass = read_n(client, usize::from(plen));
            let ok = got_user == user.as_bytes() && got_pass == pass.as_bytes();
            client
                .write_all(&[1, if ok { 0 } else { 1 }])
                .expect("auth status");
            if !ok {
                return (String::new(), 0);
            }
        }
    }
    let req = read_n(client, 4);
    assert_eq!(&req[..3], &[5, 1, 0]);
    let host = match req[3] {
        1 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(read_n(client, 4)).unwrap()).to_string(),
        4 => {
            std::net::Ipv6Addr::from(<[u8; 16]>::try_from(read_n(client, 16)).unwrap()).to_string()
        }
        3 => {
            let n = read_n(client, 1)[0];
            String::from_utf8(read_n(client, usize::from(n))).unwrap()
        }
        t => panic!("address type {t}"),
    };
    let port = u16::from_be_bytes(<[u8; 2]>::try_from(read_n(client, 2)).unwrap());
    client
        .write_all(&[5, reply, 0, 1, 127, 0, 0, 1, 0, 0])
        .expect("reply");
    (host, port)
}

#[test]
fn socks5h_sends_the_name_and_socks5_an_address() {
    for (scheme, auth) in [("socks5h", None), ("socks5", Some(("u", "p w")))] {
        let (target, server) = echo_server();
        let (proxy, seen) = fake(move |mut client| {
            let (host, port) = socks_serve(&mut client, auth, 0);
            // The proxy resolves the name itself.
            let upstream = TcpStream::connect((host.as_str(), port)).expect("connect to target");
            relay(client, upstream);
            host
        });
        let creds = auth.map_or(String::new(), |_| "u:p%20w@".to_string());
        round_trip(
            ClientBuilder::new(format!("ws://localhost:{}/", target.port()))
                .proxy(format!("{scheme}://{creds}{proxy}")),
        );
        let host = join(seen);
        if scheme == "socks5h" {
            assert_eq!(host, "localhost");
        } else {
            assert!(host == "127.0.0.1" || host == "::1", "{host}");
        }
        join(server);
    }
}

#[test]
fn socks5_errors_are_named() {
    // Each reply code.
    for code in [1u8, 2, 5, 8] {
        let (proxy, handle) = fake(move |mut client| {
            socks_serve(&mut client, None, code);
        });
        let err = error_through(&format!("socks5h://{proxy}"), "ws://example.invalid/");
        assert!(
            matches!(err, Error::Proxy(ProxyError::SocksReply(c)) if c == code),
            "{err:?}"
        );
        join(handle);
    }
    // A wrong password.
    let (proxy, handle) = fake(|mut client| {
        socks_serve(&mut client, Some(("u", "right")), 0);
    });
    let err = error_through(
        &format!("socks5h://u:wrong@{proxy}"),
        "ws://example.invalid/",
    );
    assert!(
        matches!(err, Error::Proxy(ProxyError::SocksAuthFailed(1))),
        "{err:?}"
    );
    join(handle);
    // No credentials for a proxy that requires them.
    let (proxy, handle) = fake(|mut client| {
        read_n(&mut client, 3);
        let _ = client.write_all(&[5, 0xFF]);
    });
    let err = error_through(&format!("socks5://{proxy}"), "ws://127.0.0.1:1/");
    assert!(
        matches!(
            err,
            Error::Proxy(ProxyError::SocksNoAcceptableMethod {
                credentials_sent: false
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("socks5://user:password@"), "{err}");
    join(handle);
    // An HTTP proxy given a socks5:// URL.
    let (proxy, handle) = fake(|mut client| {
        let _ = client.read(&mut [0; 16]);
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    let err = error_through(&format!("socks5h://{proxy}"), "ws://example.invalid/");
    assert!(
        matches!(err, Error::Proxy(ProxyError::Malformed(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("http://"), "{err}");
    join(handle);
}

// ------------------------------------------------------------------ wss:// in the tunnel

/// TLS runs inside the tunnel: the certificate (for `localhost` only) is checked against the
/// URL's host, not the proxy's address (127.0.0.1), and SNI names the URL's host.
#[cfg(feature = "tls")]
#[test]
fn wss_through_a_proxy_checks_the_target_name() {
    use std::sync::{Arc, Mutex};

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rfc6455::blocking::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rfc6455::blocking::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

    let provider = || Arc::new(rustls::crypto::ring::default_provider());
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).expect("key");
    let server_config = Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .expect("server certificate"),
    );
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_cert.der().to_vec()))
        .expect("root");
    let client_config = Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );

    let sni = Arc::new(Mutex::new(None));
    let seen_sni = Arc::clone(&sni);
    let (target, server) = spawn_server(move |stream| {
        let ws = blocking::accept_tls(stream, server_config).expect("accept TLS");
        let name = match ws.get_ref().session() {
            rustls::Connection::Server(server) => server.server_name().map(String::from),
            rustls::Connection::Client(_) => None,
        };
        *seen_sni.lock().unwrap() = name;
        echo(ws)
    });
    let (proxy, seen) = fake(move |mut client| {
        let head = read_head(&mut client);
        let upstream = TcpStream::connect(target).expect("connect to target");
        client
            .write_all(b"HTTP/1.1 200 OK\r\n\r\n")
            .expect("answer");
        relay(client, upstream);
        head
    });
    round_trip(
        ClientBuilder::new(format!("wss://localhost:{}/", target.port()))
            .proxy(format!("http://{proxy}"))
            .tls_config(client_config),
    );
    assert!(join(seen).starts_with(&format!("CONNECT localhost:{} ", target.port())));
    join(server);
    assert_eq!(sni.lock().unwrap().as_deref(), Some("localhost"));
}
