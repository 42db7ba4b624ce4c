//! Section 4.2.1: what the server requires.

use super::*;
use alloc::{string::ToString, vec};

#[test]
fn server_accepts_valid_variants() {
    let lower = [
        "host: h",
        "upgrade: WebSocket",
        "connection: keep-alive, upgrade",
    ];
    let lower = [&lower[..], &VALID[3..]].concat();
    let cases = [
        set("Connection", "keep-alive, Upgrade"),
        req(
            "GET / HTTP/1.1",
            "Connection",
            &["Connection: keep-alive", "Connection: Upgrade"],
        ),
        set("Upgrade", "h2c, websocket"),
        set("Sec-WebSocket-Key", "\t dGhlIHNhbXBsZSBub25jZQ== "),
        format!("GET / HTTP/1.1\r\n{}\r\n\r\n", lower.join("\r\n")).into_bytes(),
        format!("GET / HTTP/1.1\n{}\n\n", VALID.join("\n")).into_bytes(),
        [b"\r\n\n".as_slice(), &valid_request()].concat(),
    ];
    for bytes in cases {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let request = server_recv(&bytes).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(request.key(), "dGhlIHNhbXBsZSBub25jZQ==", "{text}");
        assert_eq!(request.leftover(), b"", "{text}");
    }
    let absolute = server_recv(&req("GET ws://example.com/chat?x=1 HTTP/1.1", "", &[])).unwrap();
    assert_eq!((absolute.path(), absolute.query()), ("/chat", Some("x=1")));
    // An origin-form path with "://" inside it is a path, not an absolute URL.
    let origin = server_recv(&req("GET /to/http://example.com/x?y HTTP/1.1", "", &[])).unwrap();
    assert_eq!(
        (origin.path(), origin.query()),
        ("/to/http://example.com/x", Some("y"))
    );
    let bare = server_recv(&req("GET ws://example.com HTTP/1.1", "", &[])).unwrap();
    assert_eq!(bare.path(), "/");
}

#[test]
fn server_rejects_each_4_2_1_violation_with_its_status() {
    use httparse::Error as H;
    const K: &str = "Sec-WebSocket-Key";
    const V: &str = "Sec-WebSocket-Version";
    #[rustfmt::skip]
    let cases = [
        (req("POST / HTTP/1.1", "", &[]), HandshakeError::Request(RequestError::MethodNotGet), 405),
        (req("get / HTTP/1.1", "", &[]), HandshakeError::Request(RequestError::MethodNotGet), 405),
        (req("GET / HTTP/1.0", "", &[]), HandshakeError::Request(RequestError::Header(HeaderError::HttpVersion)), 505),
        (req("GET / HTTP/2.0", "", &[]), HandshakeError::Request(RequestError::Header(HeaderError::Malformed(H::Version))), 505),
        (req("GET / HTTP/1.1", "Host", &[]), HandshakeError::Request(RequestError::MissingHost), 400),
        (add("Host: other"), HandshakeError::Request(RequestError::DuplicateHost), 400),
        (req("GET / HTTP/1.1", "Upgrade", &[]), HandshakeError::Request(RequestError::Header(HeaderError::NoUpgradeWebsocket)), 400),
        (set("Upgrade", "websocket2"), HandshakeError::Request(RequestError::Header(HeaderError::NoUpgradeWebsocket)), 400),
        (req("GET / HTTP/1.1", "Connection", &[]), HandshakeError::Request(RequestError::Header(HeaderError::NoConnectionUpgrade)), 400),
        (set("Connection", "NotUpgrade"), HandshakeError::Request(RequestError::Header(HeaderError::NoConnectionUpgrade)), 400),
        (set("Connection", "keep-alive"), HandshakeError::Request(RequestError::Header(HeaderError::NoConnectionUpgrade)), 400),
        (req("GET / HTTP/1.1", K, &[]), HandshakeError::Request(RequestError::MissingKey), 400),
        (add("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="), HandshakeError::Request(RequestError::DuplicateKey), 400),
        (set(K, "AAAAAAAAAAAAAAAAAAAA"), HandshakeError::Request(RequestError::InvalidKey), 400), // 15 bytes
        (set(K, "AAAAAAAAAAAAAAAAAAAAAAA="), HandshakeError::Request(RequestError::InvalidKey), 400), // 17 bytes
        (set(K, "!!!!!!!!!!!!!!!!!!!!!!=="), HandshakeError::Request(RequestError::InvalidKey), 400), // not base64
        (set(K, "AAAAAAAAAAAAAAAAAAAAAB=="), HandshakeError::Request(RequestError::InvalidKey), 400), // non-zero padding bits
        (set(K, ""), HandshakeError::Request(RequestError::InvalidKey), 400),
        (req("GET / HTTP/1.1", V, &[]), HandshakeError::Request(RequestError::MissingVersion), 426),
        (set(V, "8"), HandshakeError::Request(RequestError::UnsupportedVersion), 426),
        (set(V, "13, 8"), HandshakeError::Request(RequestError::UnsupportedVersion), 426),
        (add("Sec-WebSocket-Version: 13"), HandshakeError::Request(RequestError::UnsupportedVersion), 426),
        (add("Sec-WebSocket-Protocol: chat, a b"), HandshakeError::Request(RequestError::Header(HeaderError::InvalidProtocolHeader)), 400),
        (add("Sec-WebSocket-Protocol: [chat]"), HandshakeError::Request(RequestError::Header(HeaderError::InvalidProtocolHeader)), 400),
        (add("Sec-WebSocket-Extensions: foo; =1"), HandshakeError::Request(RequestError::Header(HeaderError::InvalidExtensionHeader)), 400),
        (add("Sec-WebSocket-Extensions: foo; a=\"x y\""), HandshakeError::Request(RequestError::Header(HeaderError::InvalidExtensionHeader)), 400),
        (add("Sec-WebSocket-Extensions: foo bar"), HandshakeError::Request(RequestError::Header(HeaderError::InvalidExtensionHeader)), 400),
        (add("Sec-WebSocket-Extensions: foo; a=\"1"), HandshakeError::Request(RequestError::Header(HeaderError::InvalidExtensionHeader)), 400),
        (add("Bad Header: x"), HandshakeError::Request(RequestError::Header(HeaderError::Malformed(H::HeaderName))), 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n".to_vec(), HandshakeError::Request(RequestError::Header(HeaderError::Malformed(H::HeaderValue))), 400),
    ];
    for (bytes, error, status) in cases {
        let text = String::from_utf8_lossy(&bytes);
        let got = server_recv(&bytes).unwrap_err();
        assert_eq!((&got, got.status()), (&error, Some(status)), "{text}");
        let answer = got.response().unwrap();
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut parsed = httparse::Response::new(&mut headers);
        assert!(parsed.parse(&answer).unwrap().is_complete());
        assert_eq!(parsed.code, Some(status));
    }
}

#[test]
fn server_parses_protocol_and_extension_lists() {
    let protocols = [
        "Sec-WebSocket-Protocol: , a,, b ,",
        "Sec-WebSocket-Protocol: c",
    ];
    let request = server_recv(&req("GET / HTTP/1.1", "", &protocols)).unwrap();
    assert_eq!(request.protocols(), ["a", "b", "c"]);
    let extensions = [
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, , x-foo ; a=\"1\";b",
        "Sec-WebSocket-Extensions: y",
    ];
    let request = server_recv(&req("GET / HTTP/1.1", "", &extensions)).unwrap();
    let names: Vec<&str> = request
        .extensions()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["permessage-deflate", "x-foo", "y"]);
    let a = Some("1".to_string());
    assert_eq!(
        request.extensions()[1].params,
        [("a".to_string(), a), ("b".to_string(), None)]
    );
}

#[test]
fn server_426_response_names_version_13_and_405_allows_get() {
    let answer = HandshakeError::Request(RequestError::UnsupportedVersion)
        .response()
        .unwrap();
    let text = String::from_utf8(answer).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
    assert!(text.contains("\r\nUpgrade: websocket\r\n"), "{text}");
    let answer = String::from_utf8(
        HandshakeError::Request(RequestError::MethodNotGet)
            .response()
            .unwrap(),
    )
    .unwrap();
    assert!(answer.contains("\r\nAllow: GET\r\n") && answer.contains("Connection: close"));
}

#[test]
fn errors_only_a_client_or_the_local_side_has_carry_no_status() {
    let rejected = HandshakeError::Response(ResponseError::Rejected {
        status: 403,
        headers: vec![],
        body: vec![],
    });
    for e in [
        HandshakeError::Options(OptionsError::UrlScheme),
        HandshakeError::Finished,
        HandshakeError::Rng,
        HandshakeError::Response(ResponseError::WrongAccept),
        HandshakeError::Response(ResponseError::MultipleProtocols),
        HandshakeError::Response(ResponseError::Truncated),
        rejected,
    ] {
        assert_eq!((e.status(), e.response()), (None, None), "{e}");
    }
}

#[test]
fn server_recv_after_an_error_is_finished() {
    let mut server = ServerHandshake::new(Limits::default());
    assert!(server.recv(b"POST / HTTP/1.1\r\n\r\n").is_err());
    assert_eq!(
        server.recv(&valid_request()).unwrap_err(),
        HandshakeError::Finished
    );
}

/// A TLS ClientHello (record type 0x16) sent to a plain port fails at its first byte with a
/// 400 whose text suggests TLS, however it is chunked, and any other first byte that cannot
/// begin a request fails the same way; leading empty lines are still allowed (RFC 9112
/// section 2.2).
#[test]
fn server_rejects_a_first_byte_that_cannot_begin_a_request_at_once() {
    let client_hello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc];
    for chunk in [1, 3, client_hello.len()] {
        let mut server = ServerHandshake::new(Limits::default());
        let first = server.recv(&client_hello[..chunk]).unwrap_err();
        assert_eq!(
            (&first, first.status()),
            (
                &HandshakeError::Request(RequestError::NotHttp(0x16)),
                Some(400)
            )
        );
        assert!(first.to_string().contains("TLS"), "{first}");
        let answer = first.response().unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
        assert_eq!(server.recv(b"GET").unwrap_err(), HandshakeError::Finished);
    }
    let mut server = ServerHandshake::new(Limits::default());
    assert!(server.recv(b"").unwrap().is_none());
    assert_eq!(
        server.recv(b"\x00GET").unwrap_err(),
        HandshakeError::Request(RequestError::NotHttp(0))
    );
    assert!(
        !HandshakeError::Request(RequestError::NotHttp(0))
            .to_string()
            .contains("TLS")
    );
    let mut server = ServerHandshake::new(Limits::default());
    assert!(server.recv(b"\r\n").unwrap().is_none());
    assert!(server.recv(&valid_request()).unwrap().is_some());
}

/// An upgrade request has no body: bytes after its header block are frames
/// (RFC 6455 section 4.1 sends a bodiless GET). One that announces a body is refused with 400
/// before its body can reach the frame parser; `Content-Length: 0` announces none.
#[test]
fn server_refuses_a_request_that_announces_a_body_with_400() {
    for (line, body) in [
        ("Content-Length: 5", &b"hello"[..]),
        ("content-length: 1", b"\x81"),
        ("Content-Length: x", b""),
        ("Content-Length: 0, 5", b"hello"),
        ("Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n"),
        ("TRANSFER-ENCODING: identity", b""),
    ] {
        let bytes = [add(line), body.to_vec()].concat();
        let error = server_recv(&bytes).unwrap_err();
        assert_eq!(
            (&error, error.status()),
            (&HandshakeError::Request(RequestError::HasBody), Some(400)),
            "{line}"
        );
        let answer = String::from_utf8(error.response().unwrap()).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(answer.contains("body"), "{answer}");
    }
    for line in ["Content-Length: 0", "Content-Length: 00"] {
        let mut request = server_recv(&[add(line), FRAME.to_vec()].concat()).unwrap();
        assert_eq!(request.take_leftover(), FRAME, "{line}");
    }
}
