//! `wss://` and TLS servers (feature `tls`) over real 127.0.0.1 sockets: our client against
//! our server, certificate failures, timeouts and the split over TLS, and interop with Python
//! `websockets` both ways. Every certificate is made at test time with rcgen; every listener
//! binds port 0.

/// Without the feature, a `wss://` URL fails at once with an error that names it.
#[cfg(not(feature = "tls"))]
#[test]
fn wss_without_the_tls_feature_names_it() {
    let err = rfc6455::blocking::connect("wss://127.0.0.1:1/").expect_err("wss without tls");
    let rfc6455::blocking::Error::Io(io) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(io.kind(), std::io::ErrorKind::Unsupported);
    assert!(err.to_string().contains("`tls` feature"), "{err}");
}

#[cfg(feature = "tls")]
mod support;

#[cfg(feature = "tls")]
mod tls {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, OnceLock, mpsc};
    use std::thread::{self, JoinHandle};
    use std::time::{Duration, Instant};

    use rcgen::CertificateParams;
    use rfc6455::CloseCode;

    use rfc6455::blocking::rustls::{
        self, AlertDescription, CertificateError, ClientConfig, ServerConfig,
    };
    use rfc6455::blocking::{
        self, Acceptor, ClientBuilder, Error, Keepalive, MaybeTlsStream, Message, WebSocket,
    };

    use super::support::frames::{KEY, raw_frame};
    use super::support::raw::{REQUEST, header_value, read_frame};
    use super::support::{GUARD, echo, join, spawn_server};

    use super::support::pki::{Ca, Leaf, pki, provider};

    fn server_config() -> Arc<ServerConfig> {
        static CONFIG: OnceLock<Arc<ServerConfig>> = OnceLock::new();
        Arc::clone(CONFIG.get_or_init(|| pki().1.server_config()))
    }

    fn client_config() -> Arc<ClientConfig> {
        static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        Arc::clone(CONFIG.get_or_init(|| pki().0.client_config()))
    }

    // ------------------------------------------------------------ harness

    /// Our TLS server with the test certificate, echoing until the connection is over;
    /// returns what it read.
    fn spawn_echo_server() -> (SocketAddr, JoinHandle<Vec<Message>>) {
        spawn_server(|stream| {
            let ws = Acceptor::new()
                .accept_tls(stream, server_config())
                .expect("server handshake");
            echo(ws)
        })
    }

    /// Our client for `wss://{host}:{port}/`, trusting the test CA.
    fn client(host: &str, addr: SocketAddr) -> ClientBuilder {
        ClientBuilder::new(format!("wss://{host}:{}/", addr.port()))
            .tls_config(client_config())
            .read_timeout(GUARD)
    }

    fn megabyte() -> Vec<u8> {
        (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect()
    }

    /// Text, binary, 1 MiB and a clean close over `ws`.
    fn exchange(mut ws: WebSocket<MaybeTlsStream>) {
        assert!(ws.get_ref().is_tls());
        ws.send_text("hello over TLS").expect("send text");
        assert_eq!(
            ws.read().expect("read"),
            Some(Message::Text("hello over TLS".into()))
        );
        ws.send_binary(&[0, 1, 2, 255]).expect("send binary");
        assert_eq!(
            ws.read().expect("read"),
            Some(Message::Binary(vec![0, 1, 2, 255].into()))
        );
        let big = megabyte();
        ws.send_binary(&big).expect("send 1 MiB");
        let Some(Message::Binary(back)) = ws.read().expect("read 1 MiB") else {
            panic!("expected the 1 MiB echo")
        };
        assert!(back == big, "1 MiB echo differs");
        ws.close(CloseCode::NORMAL, "done").expect("close");
        assert_eq!(ws.read().expect("read after close"), None);
    }

    fn assert_server_saw_close(seen: &[Message]) {
        assert!(
            matches!(seen.last(), Some(Message::Close(code, reason)) if *code == CloseCode::NORMAL && reason == "done"),
            "{:?}",
            seen.last()
        );
        assert_eq!(seen.len(), 4, "text, binary, 1 MiB, close");
    }

    // ------------------------------------------------------------ our client, our server

    #[test]
    fn wss_text_binary_1mib_and_close() {
        let (addr, server) = spawn_echo_server();
        let ws = client("localhost", addr).connect().expect("wss connect");
        let MaybeTlsStream::Tls(tls) = ws.get_ref() else {
            panic!("a wss:// connection over plain TCP")
        };
        assert!(tls.session().protocol_version().is_some());
        exchange(ws);
        assert_server_saw_close(&join(server));
    }

    #[test]
    fn wss_to_an_ip_address_checks_the_ip_address() {
        let (addr, server) = spawn_echo_server();
        let ws = client("127.0.0.1", addr)
            .connect()
            .expect("wss to 127.0.0.1");
        exchange(ws);
        assert_server_saw_close(&join(server));
    }

    #[test]
    fn wss_to_an_ipv6_address() {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            eprintln!("skipped: no IPv6 loopback");
            return;
        };
        let addr = listener.local_addr().expect("local address");
        let server = thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            echo(
                Acceptor::new()
                    .accept_tls(stream, server_config())
                    .expect("server handshake"),
            )
        });
        let ws = client("[::1]", addr).connect().expect("wss to [::1]");
        exchange(ws);
        assert_server_saw_close(&join(server));
    }

    #[test]
    fn wss_over_tls12() {
        let (addr, server) = spawn_echo_server();
        let config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .expect("TLS 1.2")
            .with_root_certificates(pki().0.roots())
            .with_no_client_auth();
        let ws = client("localhost", addr)
            .tls_config(Arc::new(config))
            .connect()
            .expect("wss over TLS 1.2");
        let MaybeTlsStream::Tls(tls) = ws.get_ref() else {
            panic!("plain")
        };
        assert_eq!(
            tls.session().protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_2)
        );
        exchange(ws);
        assert_server_saw_close(&join(server));
    }

    #[test]
    fn client_certificates_through_a_custom_client_config() {
        let (ca, leaf) = pki();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(ca.roots()),
            provider(),
        )
        .build()
        .expect("client verifier");
        let server_config = Arc::new(
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_client_cert_verifier(verifier)
                .with_single_cert(leaf.chain.clone(), leaf.key_der())
                .expect("server certificate"),
        );
        let identity = ca.issue(&["client.test"]);
        let with_cert = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(ca.roots())
            .with_client_auth_cert(identity.chain.clone(), identity.key_der())
            .expect("client certificate");

        let config = Arc::clone(&server_config);
        let (addr, server) = spawn_server(move |stream| {
            let ws = Acceptor::new()
                .accept_tls(stream, config)
                .expect("mutual TLS");
            let peer = ws.get_ref().session().peer_certificates().map(<[_]>::len);
            (peer, echo(ws))
        });
        let ws = client("localhost", addr)
            .tls_config(Arc::new(with_cert))
            .connect()
            .expect("wss with a client certificate");
        exchange(ws);
        let (peer, seen) = join(server);
        assert_eq!(peer, Some(2), "the client's chain");
        assert_server_saw_close(&seen);

        // Without a certificate, the server refuses; the client hears why.
        let config = Arc::clone(&server_config);
        let (addr, server) = spawn_server(move |stream| Acceptor::new().accept_tls(stream, config));
        let err = client("localhost", addr)
            .connect()
            .expect_err("no client certificate");
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
        let server_err = join(server).expect_err("server refuses");
        assert!(
            matches!(
                server_err,
                Error::Tls(rustls::Error::NoCertificatesPresented)
            ),
            "{server_err:?}"
        );
        assert!(
            server_err.to_string().contains("client certificate"),
            "{server_err}"
        );
    }

    // ------------------------------------------------------------ certificate failures

    /// Runs a TLS server with `leaf` for one connection; returns its accept result.
    fn spawn_tls_server_with(leaf: &Leaf) -> (SocketAddr, JoinHandle<Result<(), Error>>) {
        let config = leaf.server_config();
        spawn_server(move |stream| Acceptor::new().accept_tls(stream, config).map(drop))
    }

    #[test]
    fn a_wrong_host_name_fails_with_a_name_mismatch() {
        let leaf = pki().0.issue(&["other.example"]);
        let (addr, server) = spawn_tls_server_with(&leaf);
        let err = client("localhost", addr)
            .connect()
            .expect_err("name mismatch");
        assert!(
            matches!(
                &err,
                Error::Tls(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("does not name the host"), "{message}");
        // The client told the server why, with an alert.
        let server_err = join(server).expect_err("server sees the refusal");
        assert!(
            matches!(
                server_err,
                Error::Tls(rustls::Error::AlertReceived(
                    AlertDescription::BadCertificate | AlertDescription::CertificateUnknown
                ))
            ),
            "{server_err:?}"
        );
    }

    #[test]
    fn an_untrusted_certificate_fails_with_unknown_issuer() {
        // The default configuration trusts Mozilla's roots, not the test CA.
        let (addr, server) = spawn_echo_server_accepting_failure();
        let err = blocking::connect(&format!("wss://localhost:{}/", addr.port()))
            .expect_err("untrusted certificate");
        assert!(
            matches!(
                &err,
                Error::Tls(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                ))
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("tls_config"), "{message}");
        assert!(matches!(join(server), Err(Error::Tls(_))));

        // Another CA's client configuration: the same.
        let (addr, server) = spawn_echo_server_accepting_failure();
        let stranger = Ca::new("another CA").client_config();
        let err = ClientBuilder::new(format!("wss://localhost:{}/", addr.port()))
            .tls_config(stranger)
            .connect()
            .expect_err("another CA");
        assert!(
            matches!(
                &err,
                Error::Tls(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer
                ))
            ),
            "{err:?}"
        );
        assert!(matches!(join(server), Err(Error::Tls(_))));
    }

    fn spawn_echo_server_accepting_failure() -> (SocketAddr, JoinHandle<Result<(), Error>>) {
        spawn_server(|stream| {
            Acceptor::new()
                .accept_tls(stream, server_config())
                .map(drop)
        })
    }

    #[test]
    fn an_expired_certificate_fails_and_says_so() {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let leaf = pki().0.issue_with(params);
        let (addr, server) = spawn_tls_server_with(&leaf);
        let err = client("localhost", addr).connect().expect_err("expired");
        assert!(
            matches!(
                &err,
                Error::Tls(rustls::Error::InvalidCertificate(
                    CertificateError::Expired | CertificateError::ExpiredContext { .. }
                ))
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("renew"), "{err}");
        let _ = join(server);
    }

    #[test]
    fn wss_to_a_plain_server_says_the_peer_does_not_speak_tls() {
        let (addr, server) = spawn_server(|mut stream| {
            // A plain HTTP server: it answers the ClientHello with a 400, as nginx does.
            let mut hello = [0; 512];
            let _ = stream.read(&mut hello);
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            thread::sleep(Duration::from_millis(200));
        });
        let err = client("localhost", addr)
            .connect()
            .expect_err("TLS to a plain server");
        assert!(matches!(err, Error::Tls(_)), "{err:?}");
        assert!(err.to_string().contains("speaking TLS"), "{err}");
        join(server);
    }

    // ------------------------------------------------------------ timeouts over TLS

    #[test]
    fn the_handshake_deadline_covers_the_tls_handshake() {
        let deadline = Duration::from_millis(300);
        // A server that accepts TCP and never speaks.
        let (addr, server) = spawn_server(|stream| {
            thread::sleep(Duration::from_millis(1500));
            drop(stream);
        });
        let started = Instant::now();
        let err = client("localhost", addr)
            .handshake_timeout(deadline)
            .connect()
            .expect_err("silent server");
        assert!(
            matches!(err, Error::HandshakeTimeout(t) if t == deadline),
            "{err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        join(server);

        // A client that connects and never speaks.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let silent = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (stream, _) = listener.accept().expect("accept");
        let started = Instant::now();
        let err = Acceptor::new()
            .handshake_timeout(deadline)
            .accept_tls(stream, server_config())
            .expect_err("silent client");
        assert!(
            matches!(err, Error::HandshakeTimeout(t) if t == deadline),
            "{err:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        drop(silent);
    }

    #[test]
    fn keepalive_pings_over_tls_and_a_dead_peer_is_detected() {
        // The client pings; the server answers while it reads.
        let (addr, server) = spawn_echo_server();
        let mut ws = client("localhost", addr)
            .keepalive(Keepalive::new(
                Duration::from_millis(100),
                Duration::from_secs(2),
            ))
            .connect()
            .expect("connect");
        assert_eq!(
            ws.read().expect("the pong"),
            Some(Message::Pong(b"keepalive".to_vec()))
        );
        ws.close(CloseCode::NORMAL, "").expect("close");
        drop(ws);
        join(server);

        // The server gives up on a client that completed the handshake, then went silent.
        let (addr, server) = spawn_server(|stream| {
            let mut ws = Acceptor::new()
                .keepalive(Keepalive::new(
                    Duration::from_millis(100),
                    Duration::from_millis(400),
                ))
                .accept_tls(stream, server_config())
                .expect("accept");
            let started = Instant::now();
            (ws.read(), started.elapsed())
        });
        let silent = client("localhost", addr).connect().expect("connect");
        let (result, elapsed) = join(server);
        assert!(
            matches!(result, Err(Error::PeerUnresponsive(_))),
            "{result:?}"
        );
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        drop(silent);
    }

    #[test]
    fn the_close_timeout_works_over_tls() {
        let (addr, server) = spawn_server(|stream| {
            let ws = Acceptor::new()
                .accept_tls(stream, server_config())
                .expect("accept");
            // Never reads: the client's close goes unanswered.
            thread::sleep(Duration::from_millis(1500));
            drop(ws);
        });
        let mut ws = client("localhost", addr).connect().expect("connect");
        ws.set_close_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let result = ws.close(CloseCode::NORMAL, "");
        assert!(matches!(result, Err(Error::CloseTimeout(_))), "{result:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        join(server);
    }

    /// A read that times out in the middle of a TLS record loses nothing. A plain rustls
    /// client sends half of the one record that carries a message, then waits until the
    /// server's reads (20 ms timeout, each reported as it happens) have timed out three times
    /// since, so that reads began and timed out with half a record in the server's session;
    /// then it sends the rest, and the message must arrive whole.
    #[test]
    fn a_read_that_times_out_mid_record_loses_nothing() {
        let (timed_out, timeouts) = mpsc::channel::<Instant>();
        let (addr, server) = spawn_server(move |stream| {
            let mut ws = Acceptor::new()
                .accept_tls(stream, server_config())
                .expect("accept");
            ws.set_read_timeout(Some(Duration::from_millis(20)));
            loop {
                match ws.read() {
                    Ok(Some(Message::Binary(data))) => return data,
                    Ok(other) => panic!("{other:?}"),
                    Err(e) if e.is_retryable() => {
                        let _ = timed_out.send(Instant::now());
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
        });
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(GUARD)).expect("read timeout");
        tcp.set_nodelay(true).expect("nodelay");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let session = rustls::ClientConnection::new(client_config(), name).expect("session");
        let mut tls = rustls::StreamOwned::new(session, tcp);
        tls.write_all(REQUEST).expect("write request");
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tls.read_exact(&mut byte).expect("read 101");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101 "));

        // A masked 10 000-byte binary frame, sealed in one TLS record.
        let message: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let frame = raw_frame(true, 0, 0x2, Some(KEY), &message);
        tls.conn.writer().write_all(&frame).expect("plaintext in");
        let mut record = Vec::new();
        while tls.conn.wants_write() {
            tls.conn.write_tls(&mut record).expect("seal");
        }
        let declared = usize::from(u16::from_be_bytes([record[3], record[4]]));
        assert_eq!(
            (record[0], declared + 5),
            (0x17, record.len()),
            "one application-data record"
        );
        assert!(record.len() > frame.len());

        let (first, rest) = record.split_at(record.len() / 2);
        tls.sock.write_all(first).expect("half the record");
        let half_sent = Instant::now();
        let mut since = 0;
        while since < 3 {
            let at = timeouts
                .recv_timeout(GUARD)
                .expect("the server's read never timed out");
            if at > half_sent {
                since += 1;
            }
        }
        tls.sock.write_all(rest).expect("the rest of the record");
        let data = join(server);
        assert!(data == message, "the message arrived changed");
    }

    // ------------------------------------------------------------ split over TLS

    #[test]
    fn split_over_tls_both_sides() {
        const MESSAGES: usize = 200;
        let (addr, server) = spawn_server(|stream| {
            let ws = Acceptor::new()
                .accept_tls(stream, server_config())
                .expect("accept");
            let (mut reader, writer) = ws.split().expect("server split");
            reader.set_read_timeout(Some(GUARD));
            let mut count = 0;
            while let Some(message) = reader.read().expect("server read") {
                match message {
                    Message::Text(text) => writer.send_text(&text).expect("echo"),
                    Message::Binary(data) => writer.send_binary(&data).expect("echo"),
                    Message::Ping(_) => continue, // the client's keepalive
                    _ => {}
                }
                count += 1;
            }
            count
        });
        let ws = client("localhost", addr).connect().expect("connect");
        let (mut reader, writer) = ws.split().expect("client split");
        reader.set_read_timeout(Some(GUARD));
        reader.set_keepalive(Keepalive::new(
            Duration::from_millis(50),
            Duration::from_secs(5),
        ));
        let sender = thread::spawn(move || {
            for i in 0..MESSAGES {
                if i % 50 == 0 {
                    writer
                        .send_binary(&megabyte()[..100_000 + i])
                        .expect("send big");
                } else {
                    writer.send_text(&format!("message {i}")).expect("send");
                }
            }
            writer
        });
        let mut echoed = 0;
        let mut pongs = 0;
        while echoed < MESSAGES {
            match reader.read().expect("client read") {
                Some(Message::Text(text)) => {
                    assert_eq!(text, format!("message {echoed}"));
                    echoed += 1;
                }
                Some(Message::Binary(data)) => {
                    assert_eq!(data.len(), 100_000 + echoed);
                    echoed += 1;
                }
                Some(Message::Pong(_)) => pongs += 1,
                other => panic!("{other:?}"),
            }
        }
        let writer = join(sender);
        // Keepalive over the split TLS reader: a ping goes out while the peer is quiet.
        thread::sleep(Duration::from_millis(10));
        while pongs == 0 {
            match reader.read().expect("client read") {
                Some(Message::Pong(_)) => pongs += 1,
                other => panic!("{other:?}"),
            }
        }
        writer.close(CloseCode::NORMAL, "done").expect("close");
        loop {
            match reader.read().expect("read the close") {
                Some(Message::Close(code, _)) => assert_eq!(code, CloseCode::NORMAL),
                Some(Message::Pong(_)) => {}
                None => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(join(server), MESSAGES + 1, "messages and the close");
    }

    // ------------------------------------------------------------ closing TLS and TCP

    /// RFC 6455 section 7.1.1 over TLS: once the close handshake is complete, our TLS server
    /// (a `WebSocket`, or a split `Reader`) sends a `close_notify` and ends the TCP connection
    /// at once. A plain rustls client (which reports a TCP end without `close_notify` as an
    /// error) reads the close echo and then the clean end of the stream, while the server
    /// still holds its connection.
    fn assert_tls_server_sends_close_notify_after_close_handshake(split: bool) {
        const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";
        let (addr, server) = spawn_server(move |stream| {
            let mut ws = Acceptor::new()
                .accept_tls(stream, server_config())
                .expect("accept");
            ws.set_read_timeout(Some(GUARD));
            if split {
                let (mut reader, writer) = ws.split().expect("split");
                let close = reader.read().expect("read close");
                let held: Box<dyn Send> = Box::new((reader, writer));
                (close, held)
            } else {
                let close = ws.read().expect("read close");
                let held: Box<dyn Send> = Box::new(ws);
                (close, held)
            }
        });
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(GUARD)).expect("read timeout");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let session = rustls::ClientConnection::new(client_config(), name).expect("session");
        let mut tls = rustls::StreamOwned::new(session, tcp);
        tls.write_all(REQUEST).expect("write request");
        let mut head = Vec::new();
        let mut byte = [0; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tls.read_exact(&mut byte).expect("read 101");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101 "));
        // A masked close frame with code 1000 (a zero key leaves the payload as is).
        tls.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
            .expect("write close");
        let mut echo = [0; 4];
        tls.read_exact(&mut echo).expect("read close echo");
        assert_eq!(echo, [0x88, 0x02, 0x03, 0xe8]);
        let mut rest = [0; 16];
        let end = tls.read(&mut rest);
        assert!(
            matches!(end, Ok(0)),
            "no close_notify before the end: {end:?}"
        );
        let (close, held) = join(server);
        assert_eq!(
            close,
            Some(Message::Close(CloseCode::NORMAL, String::new()))
        );
        drop(held);
    }

    #[test]
    fn tls_server_sends_close_notify_after_close_handshake() {
        assert_tls_server_sends_close_notify_after_close_handshake(false);
    }

    #[test]
    fn split_tls_server_sends_close_notify_after_close_handshake() {
        assert_tls_server_sends_close_notify_after_close_handshake(true);
    }

    /// Our `wss://` client's close (`WebSocket::close`, or `Writer::close` and the split
    /// `Reader`) against our TLS server completes without error after the server ended the
    /// stream, and the client then ends its side: the server reads the end of the stream
    /// while the client still holds its connection.
    fn assert_wss_client_close_ends_the_stream_both_ways(split: bool) {
        let (addr, server) = spawn_server(|stream| {
            let mut ws = Acceptor::new()
                .accept_tls(stream, server_config())
                .expect("accept");
            ws.set_read_timeout(Some(GUARD));
            let close = ws.read().expect("read close");
            let end = ws.read().expect("read after close");
            let (mut stream, _) = ws.into_parts();
            stream.set_read_timeout(Some(GUARD)).expect("read timeout");
            let mut rest = [0; 16];
            let n = stream
                .read(&mut rest)
                .expect("read after the close handshake");
            (close, end, n)
        });
        let ws = client("localhost", addr).connect().expect("connect");
        let held: Box<dyn Send> = if split {
            let (mut reader, writer) = ws.split().expect("split");
            writer.close(CloseCode::NORMAL, "bye").expect("close");
            assert_eq!(
                reader.read().expect("close echo"),
                Some(Message::Close(CloseCode::NORMAL, String::new()))
            );
            assert_eq!(reader.read().expect("end"), None);
            Box::new((reader, writer))
        } else {
            let mut ws = ws;
            ws.close(CloseCode::NORMAL, "bye").expect("close");
            // The client saw the server's end of the stream: a read returns it again at once.
            let mut rest = [0; 16];
            let n = ws
                .get_mut()
                .read(&mut rest)
                .expect("client read after close");
            assert_eq!(n, 0);
            Box::new(ws)
        };
        let (close, end, n) = join(server);
        assert_eq!(close, Some(Message::Close(CloseCode::NORMAL, "bye".into())));
        assert_eq!(end, None);
        assert_eq!(n, 0, "the client did not end the stream");
        drop(held);
    }

    #[test]
    fn wss_client_close_ends_the_stream_both_ways() {
        assert_wss_client_close_ends_the_stream_both_ways(false);
    }

    #[test]
    fn split_wss_client_close_ends_the_stream_both_ways() {
        assert_wss_client_close_ends_the_stream_both_ways(true);
    }

    /// A plain rustls server (a `rustls::ServerConnection` over the accepted `TcpStream`, not
    /// our adapter) on 127.0.0.1:0: it completes the TLS handshake and answers the WebSocket
    /// request by hand, then runs `then` on the TLS stream.
    fn spawn_plain_rustls_server<T, F>(then: F) -> (SocketAddr, JoinHandle<T>)
    where
        T: Send + 'static,
        F: FnOnce(&mut rustls::StreamOwned<rustls::ServerConnection, TcpStream>) -> T
            + Send
            + 'static,
    {
        spawn_server(move |tcp| {
            tcp.set_read_timeout(Some(GUARD)).expect("read timeout");
            let session = rustls::ServerConnection::new(server_config()).expect("session");
            let mut tls = rustls::StreamOwned::new(session, tcp);
            let mut head = Vec::new();
            let mut byte = [0; 1];
            while !head.ends_with(b"\r\n\r\n") {
                tls.read_exact(&mut byte).expect("read the request");
                head.push(byte[0]);
            }
            let head = String::from_utf8(head).expect("ASCII request");
            let key = header_value(&head, "sec-websocket-key");
            let accept = rfc6455::handshake::accept_key(key.as_bytes());
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
                std::str::from_utf8(&accept).expect("base64")
            );
            tls.write_all(response.as_bytes()).expect("write the 101");
            then(&mut tls)
        })
    }

    /// RFC 6455 section 7.1.1 over TLS, for our client: after its close handshake with a
    /// plain rustls server that ended its side first (`close_notify`, then TCP), our `wss://`
    /// client (a `WebSocket`, or a split `Writer` and `Reader`) ends its own side with a
    /// `close_notify`. rustls reports a TCP end without one as `UnexpectedEof`, so the server's
    /// `Ok(0)` proves it came; our own `TlsStream` (as in
    /// `wss_client_close_ends_the_stream_both_ways`) would turn a bare TCP end into `Ok(0)` too.
    fn assert_wss_client_sends_close_notify_to_a_plain_rustls_server(split: bool) {
        let (addr, server) = spawn_plain_rustls_server(|tls| {
            let close = read_frame(tls).expect("read the client's close");
            tls.write_all(&[0x88, 0x02, 0x03, 0xe8])
                .expect("write the close echo");
            tls.conn.send_close_notify();
            tls.flush().expect("flush close_notify");
            tls.sock
                .shutdown(std::net::Shutdown::Write)
                .expect("shut down");
            let mut rest = [0; 16];
            let end = tls.read(&mut rest).map_err(|e| e.kind());
            (close, end)
        });
        let ws = client("localhost", addr).connect().expect("connect");
        let held: Box<dyn Send> = if split {
            let (mut reader, writer) = ws.split().expect("split");
            writer.close(CloseCode::NORMAL, "bye").expect("close");
            assert_eq!(
                reader.read().expect("close echo"),
                Some(Message::Close(CloseCode::NORMAL, String::new()))
            );
            assert_eq!(reader.read().expect("end"), None);
            Box::new((reader, writer))
        } else {
            let mut ws = ws;
            ws.close(CloseCode::NORMAL, "bye").expect("close");
            assert_eq!(ws.read().expect("read after close"), None);
            Box::new(ws)
        };
        let (close, end) = join(server);
        assert_eq!(
            (close.opcode, close.masked, close.payload.as_slice()),
            (0x8, true, &b"\x03\xe8bye"[..])
        );
        assert_eq!(
            end,
            Ok(0),
            "the client ended TCP without a close_notify (rustls says UnexpectedEof)"
        );
        drop(held);
    }

    #[test]
    fn wss_client_sends_close_notify_to_a_plain_rustls_server() {
        assert_wss_client_sends_close_notify_to_a_plain_rustls_server(false);
    }

    #[test]
    fn split_wss_client_sends_close_notify_to_a_plain_rustls_server() {
        assert_wss_client_sends_close_notify_to_a_plain_rustls_server(true);
    }

    /// A TLS stream that ends in the middle of a frame, with or without a `close_notify`, is
    /// an abnormal closure (1006): our client's read fails with `UnexpectedEof`, never a
    /// clean end of the stream.
    #[test]
    fn a_tls_stream_cut_mid_frame_ends_abnormally_1006() {
        for close_notify in [false, true] {
            let (addr, server) = spawn_plain_rustls_server(move |tls| {
                // A binary frame announcing 100 bytes, and 10 of them.
                tls.write_all(&[0x82, 100]).expect("write the header");
                tls.write_all(&[7; 10]).expect("write part of the payload");
                if close_notify {
                    tls.conn.send_close_notify();
                }
                tls.flush().expect("flush");
                tls.sock
                    .shutdown(std::net::Shutdown::Both)
                    .expect("cut the connection");
            });
            let mut ws = client("localhost", addr).connect().expect("connect");
            join(server);
            let err = ws.read().expect_err("a cut stream is not a clean end");
            let is_eof = match &err {
                Error::Protocol(e) => *e == rfc6455::ProtocolError::UnexpectedEof,
                Error::Io(e) => e.kind() == std::io::ErrorKind::UnexpectedEof,
                _ => false,
            };
            assert!(is_eof, "close_notify {close_notify}: {err:?}");
            if let Error::Protocol(e) = &err {
                assert_eq!(e.close_code(), CloseCode::ABNORMAL);
            }
        }
    }

    // ------------------------------------------------------------ Python websockets

    /// A Python with `websockets` (13 or later): the system's, or a virtual environment made
    /// once under the target directory. `None` (the test is skipped) without `python3`.
    fn python() -> Option<PathBuf> {
        static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
        PYTHON
            .get_or_init(|| {
                let check = "import websockets, websockets.sync.server as _; \
                             assert int(websockets.__version__.split('.')[0]) >= 13";
                let works = |python: &Path| {
                    Command::new(python)
                        .args(["-c", check])
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
                };
                let system = PathBuf::from("python3");
                if Command::new(&system).arg("--version").output().is_err() {
                    return None;
                }
                if works(&system) {
                    return Some(system);
                }
                let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-websockets");
                let python = venv.join("bin/python");
                if !works(&python) {
                    let made = Command::new(&system)
                        .args(["-m", "venv"])
                        .arg(&venv)
                        .status()
                        .expect("python3 -m venv");
                    assert!(made.success(), "python3 -m venv {venv:?} failed");
                    let installed = Command::new(&python)
                        .args(["-m", "pip", "install", "--quiet", "websockets>=13"])
                        .status()
                        .expect("pip install websockets");
                    assert!(installed.success(), "pip install websockets failed");
                }
                assert!(works(&python), "websockets does not import in {python:?}");
                Some(python)
            })
            .clone()
    }

    /// A fresh directory for the PEM files a Python peer reads.
    fn pem_dir() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "tls-pems-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("PEM directory");
        dir
    }

    /// Waits for `child` to exit within the guard, killing it otherwise; its output.
    fn finish(mut child: std::process::Child) -> (bool, String, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait for python") {
                let mut out = String::new();
                let mut err = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = s.read_to_string(&mut out);
                }
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut err);
                }
                return (status.success(), out, err);
            }
            if started.elapsed() > GUARD * 3 {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the Python peer did not finish in time");
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    const PY_CLIENT: &str = r#"
import ssl, sys
from websockets.sync.client import connect
ctx = ssl.create_default_context(cafile=sys.argv[1])
big = bytes(i * 7 % 251 for i in range(1 << 20))
with connect(sys.argv[2], ssl=ctx, max_size=None, open_timeout=10, close_timeout=10) as ws:
    ws.send("hello over TLS"); assert ws.recv(timeout=10) == "hello over TLS"
    ws.send(b"\x00\x01\x02\xff"); assert ws.recv(timeout=10) == b"\x00\x01\x02\xff"
    ws.send(big); assert ws.recv(timeout=10) == big
    ws.close(1000, "done")
print("closed", ws.close_code)
"#;

    #[test]
    fn python_websockets_client_to_our_tls_server() {
        let Some(python) = python() else {
            super::support::skip("python3 with websockets is not available");
            return;
        };
        let dir = pem_dir();
        std::fs::write(dir.join("ca.pem"), &pki().0.pem).expect("write CA");
        let (addr, server) = spawn_echo_server();
        let child = Command::new(python)
            .args(["-c", PY_CLIENT])
            .arg(dir.join("ca.pem"))
            .arg(format!("wss://localhost:{}/", addr.port()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python");
        let (ok, out, err) = finish(child);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(ok, "python client failed:\n{out}\n{err}");
        assert!(out.starts_with("closed 1000"), "{out}\n{err}");
        let seen = join(server);
        assert_server_saw_close(&seen);
    }

    const PY_SERVER: &str = r#"
import ssl, sys
from websockets.sync.server import serve
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
def echo(ws):
    for message in ws:
        ws.send(message)
with serve(echo, "127.0.0.1", 0, ssl=ctx, max_size=None) as server:
    print(server.socket.getsockname()[1], flush=True)
    server.serve_forever()
"#;

    #[test]
    fn our_client_to_a_python_websockets_tls_server() {
        let Some(python) = python() else {
            super::support::skip("python3 with websockets is not available");
            return;
        };
        let dir = pem_dir();
        let leaf = &pki().1;
        let chain: String = [leaf.pem.as_str(), &pki().0.pem].concat();
        std::fs::write(dir.join("chain.pem"), chain).expect("write chain");
        std::fs::write(dir.join("key.pem"), leaf.key.serialize_pem()).expect("write key");
        let mut child = Command::new(python)
            .args(["-c", PY_SERVER])
            .arg(dir.join("chain.pem"))
            .arg(dir.join("key.pem"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let port_read = BufReader::new(stdout).read_line(&mut line);
        let port: Option<u16> = line.trim().parse().ok();
        let result = port.map(|port| {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            client("localhost", addr).connect().map(exchange)
        });
        let _ = child.kill();
        let (_, _, err) = finish(child);
        let _ = std::fs::remove_dir_all(&dir);
        let port = port.unwrap_or_else(|| panic!("no port from python ({port_read:?}): {err}"));
        assert!(port > 0);
        result
            .expect("ran")
            .unwrap_or_else(|e| panic!("our client vs python: {e}\n{err}"));
    }
}
