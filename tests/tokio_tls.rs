//! `wss://` clients and TLS servers in the tokio adapter (features `tokio` + `tls`) over real
//! 127.0.0.1 sockets: an echo over TLS 1.3 and 1.2 (whole and split), certificate failures
//! with their advice, a plain server given a `wss://` URL, and the handshake deadline over a
//! silent TLS peer on either side. Every certificate is made at test time with rcgen; every
//! listener binds port 0.
#![cfg(feature = "tokio")]

#[cfg(feature = "tls")]
mod support;

/// Without the `tls` feature, a `wss://` URL fails at once with an error that names it.
#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn wss_without_the_tls_feature_names_it() {
    let err = rfc6455::tokio::connect("wss://127.0.0.1:1/")
        .await
        .expect_err("wss without tls");
    let rfc6455::tokio::Error::Io(io) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(io.kind(), std::io::ErrorKind::Unsupported);
    assert!(err.to_string().contains("`tls` feature"), "{err}");
}

#[cfg(feature = "tls")]
mod tls {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use futures_util::{SinkExt, StreamExt};

    use rfc6455::CloseCode;

    use rfc6455::blocking::rustls::{
        self, AlertDescription, CertificateError, ClientConfig, ServerConfig,
    };
    use rfc6455::tokio::{
        self as ws, Acceptor, ClientBuilder, Error, MaybeTlsStream, Message, TlsStream, WebSocket,
    };
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    /// No test here should come near this; it only turns a hang into a failure.
    const GUARD: Duration = Duration::from_secs(20);

    use super::support::pki::{Ca, pki, provider};

    // ------------------------------------------------------------ harness

    /// Our async TLS server for one connection with `config`: echoes until the connection
    /// is over and returns what it read, or the error that ended it.
    async fn spawn_tls_server(
        config: Arc<ServerConfig>,
    ) -> (SocketAddr, JoinHandle<Result<Vec<Message>, Error>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await?;
            let mut ws = Acceptor::new().accept_tls(stream, config).await?;
            assert!(ws.get_ref().session().protocol_version().is_some());
            let mut seen = Vec::new();
            while let Some(message) = ws.read().await? {
                if !matches!(message, Message::Close(..)) {
                    ws.send(&message).await?;
                }
                seen.push(message);
            }
            Ok(seen)
        });
        (addr, server)
    }

    async fn join<T>(task: JoinHandle<T>) -> T {
        tokio::time::timeout(GUARD, task)
            .await
            .expect("the server task hung")
            .expect("the server task panicked")
    }

    /// Our client for `wss://{host}:{port}/`, trusting the test CA.
    fn client(host: &str, addr: SocketAddr) -> ClientBuilder {
        ClientBuilder::new(format!("wss://{host}:{}/", addr.port()))
            .tls_config(pki().0.client_config())
            .read_timeout(GUARD)
    }

    fn megabyte() -> Vec<u8> {
        (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect()
    }

    /// Text, binary, 1 MiB (several TLS records each way) and a clean close over `ws`.
    async fn exchange(mut ws: WebSocket<MaybeTlsStream>) {
        assert!(ws.get_ref().is_tls());
        ws.send_text("hello over TLS").await.expect("send text");
        assert_eq!(
            ws.read().await.expect("read"),
            Some(Message::Text("hello over TLS".into()))
        );
        ws.send_binary(&[0, 1, 2, 255]).await.expect("send binary");
        assert_eq!(
            ws.read().await.expect("read"),
            Some(Message::Binary(vec![0, 1, 2, 255].into()))
        );
        let big = megabyte();
        ws.send_binary(&big).await.expect("send 1 MiB");
        let Some(Message::Binary(back)) = ws.read().await.expect("read 1 MiB") else {
            panic!("expected the 1 MiB echo")
        };
        assert!(back == big, "1 MiB echo differs");
        ws.close(CloseCode::NORMAL, "done").await.expect("close");
        assert_eq!(ws.read().await.expect("read after close"), None);
    }

    fn assert_server_saw(seen: &[Message], count: usize) {
        assert!(
            matches!(seen.last(), Some(Message::Close(code, reason)) if *code == CloseCode::NORMAL && reason == "done"),
            "{:?}",
            seen.last()
        );
        assert_eq!(seen.len(), count, "{:?}", seen.first());
    }

    // ------------------------------------------------------------ our client, our server

    #[tokio::test]
    async fn wss_echo_text_binary_1mib_and_close() {
        let (addr, server) = spawn_tls_server(pki().1.server_config()).await;
        let ws = client("localhost", addr)
            .connect()
            .await
            .expect("wss connect");
        let MaybeTlsStream::Tls(tls) = ws.get_ref() else {
            panic!("a wss:// connection over plain TCP")
        };
        assert_eq!(
            tls.session().protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        assert_eq!(tls.session().alpn_protocol(), None);
        exchange(ws).await;
        assert_server_saw(&join(server).await.expect("server"), 4);
    }

    #[tokio::test]
    async fn wss_to_an_ip_address_over_tls12() {
        let (addr, server) = spawn_tls_server(pki().1.server_config()).await;
        let config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS12])
            .expect("TLS 1.2")
            .with_root_certificates(pki().0.roots())
            .with_no_client_auth();
        let ws = client("127.0.0.1", addr)
            .tls_config(Arc::new(config))
            .connect()
            .await
            .expect("wss to 127.0.0.1 over TLS 1.2");
        let MaybeTlsStream::Tls(tls) = ws.get_ref() else {
            panic!("plain")
        };
        assert_eq!(
            tls.session().protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_2)
        );
        exchange(ws).await;
        assert_server_saw(&join(server).await.expect("server"), 4);
    }

    /// The owned halves over TLS, each in its own task, through `Sink` and `Stream`: the
    /// writer sends 200 messages while the reader takes their echoes.
    #[tokio::test]
    async fn wss_split_halves_send_and_read_at_once() {
        let (addr, server) = spawn_tls_server(pki().1.server_config()).await;
        let ws = client("localhost", addr)
            .connect()
            .await
            .expect("wss connect");
        let (mut reader, mut writer) = ws.into_split();
        let payload = vec![0x5a; 10_000];
        let sent = payload.clone();
        let sender = tokio::spawn(async move {
            for i in 0..200u32 {
                let mut message = sent.clone();
                message.extend_from_slice(&i.to_be_bytes());
                SinkExt::send(&mut writer, Message::Binary(message.into())).await?;
            }
            Ok::<_, Error>(writer)
        });
        for i in 0..200u32 {
            let message = tokio::time::timeout(GUARD, reader.next())
                .await
                .expect("echo in time")
                .expect("an echo")
                .expect("read");
            let Message::Binary(data) = message else {
                panic!("{message:?}")
            };
            assert_eq!(data.len(), payload.len() + 4);
            assert_eq!(
                data[payload.len()..],
                i.to_be_bytes(),
                "echo {i} out of order"
            );
        }
        let mut writer = sender.await.expect("sender task").expect("sends");
        writer
            .close(CloseCode::NORMAL, "done")
            .await
            .expect("close");
        // The reader takes the server's answer to the close, then the end.
        assert!(
            matches!(
                reader.read().await.expect("read the close"),
                Some(Message::Close(CloseCode::NORMAL, _))
            ),
            "the server's close answer"
        );
        assert!(reader.read().await.expect("read after close").is_none());
        assert_server_saw(&join(server).await.expect("server"), 201);
    }

    /// `connect` of a `ws://` URL gives the same stream type, plain.
    #[tokio::test]
    async fn ws_and_wss_share_the_stream_type() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await?;
            let mut ws = ws::accept(stream).await?;
            while ws.read().await?.is_some() {}
            Ok::<_, Error>(())
        });
        let mut plain: WebSocket<MaybeTlsStream> = ws::connect(&format!("ws://{addr}/"))
            .await
            .expect("ws connect");
        assert!(!plain.get_ref().is_tls());
        assert!(matches!(plain.get_ref(), MaybeTlsStream::Plain(_)));
        plain.close(CloseCode::NORMAL, "").await.expect("close");
        join(server).await.expect("server");
    }

    // ------------------------------------------------------------ certificate failures

    #[tokio::test]
    async fn an_untrusted_certificate_fails_with_unknown_issuer_and_advice() {
        // The default configuration trusts Mozilla's roots, not the test CA.
        let (addr, server) = spawn_tls_server(pki().1.server_config()).await;
        let err = ws::connect(&format!("wss://localhost:{}/", addr.port()))
            .await
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
        // The client told the server, with an alert.
        let server_err = join(server).await.expect_err("server sees the refusal");
        assert!(
            matches!(
                server_err,
                Error::Tls(rustls::Error::AlertReceived(AlertDescription::UnknownCA))
            ),
            "{server_err:?}"
        );
        assert!(
            server_err.to_string().contains("refused our certificate"),
            "{server_err}"
        );

        // Another CA's client configuration: the same.
        let (addr, server) = spawn_tls_server(pki().1.server_config()).await;
        let err = ClientBuilder::new(format!("wss://localhost:{}/", addr.port()))
            .tls_config(Ca::new("another CA").client_config())
            .connect()
            .await
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
        assert!(matches!(join(server).await, Err(Error::Tls(_))));
    }

    #[tokio::test]
    async fn a_wrong_host_name_fails_with_a_name_mismatch_and_advice() {
        let leaf = pki().0.issue(&["other.example"]);
        let (addr, server) = spawn_tls_server(leaf.server_config()).await;
        let err = client("localhost", addr)
            .connect()
            .await
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
        let server_err = join(server).await.expect_err("server sees the refusal");
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

    /// A `wss://` URL for a plain `ws://` server: its HTTP 400 answer to the ClientHello is
    /// not TLS, and the error says so.
    #[tokio::test]
    async fn wss_to_a_plain_server_asks_whether_it_speaks_tls() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await?;
            ws::accept(stream).await.map(drop)
        });
        let err = client("localhost", addr)
            .connect()
            .await
            .expect_err("wss to a ws server");
        assert!(
            matches!(&err, Error::Tls(rustls::Error::InvalidMessage(_))),
            "{err:?}"
        );
        assert!(err.to_string().contains("speaking TLS"), "{err}");
        assert!(matches!(join(server).await, Err(Error::Handshake(_))));
    }

    // ------------------------------------------------------------ the handshake deadline

    /// A server that accepts TCP and never answers the ClientHello: the client's handshake
    /// timeout covers the TLS handshake.
    #[tokio::test]
    async fn the_handshake_deadline_covers_a_silent_tls_server() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            // Reads the ClientHello, answers nothing, and holds the connection open.
            let mut hello = [0; 4096];
            let n = stream.read(&mut hello).await.expect("ClientHello");
            tokio::time::sleep(GUARD).await;
            n
        });
        let deadline = Duration::from_millis(300);
        let started = Instant::now();
        let connecting = client("localhost", addr)
            .handshake_timeout(deadline)
            .connect();
        let err = tokio::time::timeout(GUARD, connecting)
            .await
            .expect("the handshake deadline did not cover the TLS handshake")
            .expect_err("silent server");
        assert!(
            matches!(err, Error::HandshakeTimeout(t) if t == deadline),
            "{err:?}"
        );
        let took = started.elapsed();
        assert!(took >= deadline && took < deadline * 10, "{took:?}");
        server.abort();
    }

    /// A client that connects and sends nothing: `accept_tls` gives up at its deadline.
    #[tokio::test]
    async fn the_handshake_deadline_covers_a_silent_tls_client() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let silent = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (stream, _) = listener.accept().await.expect("accept");
        let deadline = Duration::from_millis(300);
        let started = Instant::now();
        let acceptor = Acceptor::new().handshake_timeout(deadline);
        let err = tokio::time::timeout(GUARD, acceptor.accept_tls(stream, pki().1.server_config()))
            .await
            .expect("the handshake deadline did not cover the TLS handshake")
            .expect_err("silent client");
        assert!(
            matches!(err, Error::HandshakeTimeout(t) if t == deadline),
            "{err:?}"
        );
        assert!(started.elapsed() < deadline * 10, "{:?}", started.elapsed());
        drop(silent);
    }

    /// `TlsStream` is usable by hand over any async stream: a TLS session over an in-memory
    /// duplex pipe, with the WebSocket handshake done through `connect_on`.
    #[tokio::test]
    async fn a_tls_stream_over_a_duplex_pipe_with_connect_on() {
        let (client_io, server_io) = tokio::io::duplex(1024);
        let server = tokio::spawn(async move {
            let session = rustls::ServerConnection::new(pki().1.server_config())?;
            let mut ws = ws::accept(TlsStream::new(session, server_io)).await?;
            let message = ws.read().await?;
            if let Some(message) = &message {
                ws.send(message).await?;
            }
            while ws.read().await?.is_some() {}
            Ok::<_, Error>(message)
        });
        let session = rustls::ClientConnection::new(
            pki().0.client_config(),
            "localhost".try_into().expect("server name"),
        )
        .expect("client session");
        let mut ws = ClientBuilder::new("wss://localhost/")
            .connect_on(TlsStream::new(session, client_io))
            .await
            .expect("connect_on over TLS");
        ws.send_text("through a pipe").await.expect("send");
        assert_eq!(
            ws.read().await.expect("echo"),
            Some(Message::Text("through a pipe".into()))
        );
        ws.close(CloseCode::NORMAL, "").await.expect("close");
        assert_eq!(
            join(server).await.expect("server"),
            Some(Message::Text("through a pipe".into()))
        );
    }
}
