//! Handshake tests, named by RFC 6455 section where one applies.

use super::*;
use crate::Config;
use alloc::{collections::BTreeSet, string::ToString, vec};
use proptest::prelude::*;

/// The RFC's sample key: base64 of "the sample nonce" is `dGhlIHNhbXBsZSBub25jZQ==`.
const KEY: [u8; 16] = *b"the sample nonce";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// A masked "Hello" frame (RFC 6455 section 5.7).
const FRAME: &[u8] = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

const VALID: [&str; 5] = [
    "Host: example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
];

/// A request: `start` line, the valid headers except those named `drop`, then `add`.
fn req(start: &str, drop: &str, add: &[&str]) -> Vec<u8> {
    let kept = VALID
        .iter()
        .filter(|h| drop.is_empty() || !h.starts_with(drop));
    let lines: Vec<&str> = kept.copied().chain(add.iter().copied()).collect();
    format!("{start}\r\n{}\r\n\r\n", lines.join("\r\n")).into_bytes()
}

fn valid_request() -> Vec<u8> {
    req("GET /chat HTTP/1.1", "", &[])
}

/// The valid request with header `name` set to `value` instead.
fn set(name: &str, value: &str) -> Vec<u8> {
    req("GET / HTTP/1.1", name, &[&format!("{name}: {value}")])
}

/// The valid request plus a header line.
fn add(line: &str) -> Vec<u8> {
    req("GET / HTTP/1.1", "", &[line])
}

/// Feeds `data` in chunks of `chunk` bytes until the handshake completes or fails; returns the
/// outcome and the bytes not fed.
fn feed<T>(
    mut recv: impl FnMut(&[u8]) -> Result<Option<T>, HandshakeError>,
    data: &[u8],
    chunk: usize,
) -> (Result<T, HandshakeError>, Vec<u8>) {
    let mut fed = 0;
    for piece in data.chunks(chunk) {
        fed += piece.len();
        match recv(piece) {
            Ok(None) => {}
            Ok(Some(done)) => return (Ok(done), data[fed..].to_vec()),
            Err(e) => return (Err(e), Vec::new()),
        }
    }
    panic!("incomplete after {} bytes", data.len());
}

fn server_recv(data: &[u8]) -> Result<Request, HandshakeError> {
    let mut server = ServerHandshake::new(Limits::default());
    feed(|d| server.recv(d), data, usize::MAX).0
}

fn new_client() -> ClientHandshake {
    let url = Url::parse("ws://example.com/chat").unwrap();
    let options = ClientOptions::new()
        .protocol("chat")
        .extension("permessage-deflate");
    ClientHandshake::new(&url, &options, KEY).unwrap()
}

/// A 101 with the right accept key, plus `add`, for [`new_client`]; without the headers named `drop`.
fn resp(drop: &str, add: &[&str]) -> Vec<u8> {
    let accept = format!("Sec-WebSocket-Accept: {ACCEPT}");
    let base = ["Upgrade: websocket", "Connection: Upgrade", accept.as_str()];
    let kept = base
        .into_iter()
        .filter(|h| drop.is_empty() || !h.starts_with(drop));
    let lines: Vec<&str> = kept.chain(add.iter().copied()).collect();
    format!(
        "HTTP/1.1 101 Switching Protocols\r\n{}\r\n\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

fn client_recv(data: &[u8]) -> Result<Response, HandshakeError> {
    let mut client = new_client();
    feed(|d| client.recv(d), data, usize::MAX).0
}

// ---- Section 4.2.2: the accept key.

#[test]
fn accept_key_rfc_4_2_2_example() {
    assert_eq!(&accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), ACCEPT.as_bytes());
    assert_eq!(BASE64.encode(KEY), "dGhlIHNhbXBsZSBub25jZQ==");
}

// ---- Section 3: URLs.

#[test]
fn url_parses_hosts_ports_and_resources() {
    #[rustfmt::skip]
    let cases = [
        ("ws://example.com", false, "example.com", 80, "/", "example.com"),
        ("WSS://Example.com/", true, "Example.com", 443, "/", "Example.com"),
        ("ws://127.0.0.1:9001/a/b?c=d&e", false, "127.0.0.1", 9001, "/a/b?c=d&e", "127.0.0.1:9001"),
        ("wss://[::1]/x", true, "::1", 443, "/x", "[::1]"),
        ("ws://[2001:db8::7]:8080?q", false, "2001:db8::7", 8080, "/?q", "[2001:db8::7]:8080"),
        ("ws://host:443/", false, "host", 443, "/", "host:443"),
        ("wss://host:80", true, "host", 80, "/", "host:80"),
        ("ws://h:00080", false, "h", 80, "/", "h"),
    ];
    for (s, secure, host, port, resource, host_header) in cases {
        let url = Url::parse(s).unwrap();
        assert_eq!(url.is_secure(), secure, "{s}");
        assert_eq!(
            (url.host(), url.port(), url.resource()),
            (host, port, resource),
            "{s}"
        );
        assert_eq!(url.host_header(), host_header, "{s}");
    }
    assert_eq!(
        Url::parse("ws://[::1]:8000/p?q").unwrap().to_string(),
        "ws://[::1]:8000/p?q"
    );
}

#[test]
fn url_errors() {
    #[rustfmt::skip]
    let cases = [
        ("http://example.com/", HandshakeError::Options(OptionsError::UrlScheme)),
        ("example.com", HandshakeError::Options(OptionsError::UrlScheme)),
        ("ws:/example.com", HandshakeError::Options(OptionsError::UrlScheme)),
        ("ws://", HandshakeError::Options(OptionsError::UrlHost)),
        ("ws:///path", HandshakeError::Options(OptionsError::UrlHost)),
        ("ws://:80/", HandshakeError::Options(OptionsError::UrlHost)),
        ("ws://exa mple.com/", HandshakeError::Options(OptionsError::UrlHost)),
        ("ws://::1/", HandshakeError::Options(OptionsError::UrlHost)),
        ("ws://[::1/", HandshakeError::Options(OptionsError::UrlHost)),
        ("ws://[not-ip]/", HandshakeError::Options(OptionsError::UrlHost)),
        ("ws://[::1]x/", HandshakeError::Options(OptionsError::UrlHost)),
        ("ws://host:0/", HandshakeError::Options(OptionsError::UrlPort)),
        ("ws://host:65536/", HandshakeError::Options(OptionsError::UrlPort)),
        ("ws://host:/", HandshakeError::Options(OptionsError::UrlPort)),
        ("ws://host:+80/", HandshakeError::Options(OptionsError::UrlPort)),
        ("ws://host:8a/", HandshakeError::Options(OptionsError::UrlPort)),
        ("ws://[::1]:99999/", HandshakeError::Options(OptionsError::UrlPort)),
        ("ws://host/#frag", HandshakeError::Options(OptionsError::UrlFragment)),
        ("ws://host#", HandshakeError::Options(OptionsError::UrlFragment)),
        ("ws://user:pw@host/", HandshakeError::Options(OptionsError::UrlUserinfo)),
        ("ws://host/a b", HandshakeError::Options(OptionsError::UrlCharacter)),
        ("ws://host/\u{e9}", HandshakeError::Options(OptionsError::UrlCharacter)),
        ("ws://host/a\r\nX: y", HandshakeError::Options(OptionsError::UrlCharacter)),
    ];
    for (s, error) in cases {
        assert_eq!(Url::parse(s), Err(error), "{s}");
    }
}

// ---- Sections 4.1 and 4.2: round trips.

#[test]
fn client_request_is_accepted_by_server_and_101_by_client_in_any_chunking() {
    let url = Url::parse("ws://example.com:9000/chat?room=1").unwrap();
    let options = ClientOptions::new()
        .protocol("v2.chat")
        .protocol("v1.chat")
        .extension("permessage-deflate; client_max_window_bits")
        .extension("x-test")
        .header("Origin", "http://example.com");
    for chunk in [usize::MAX, 1, 7] {
        let mut client = ClientHandshake::new(&url, &options, KEY).unwrap();
        let mut server = ServerHandshake::new(Limits::default());
        let sent = [client.request(), FRAME].concat();
        let (request, rest) = feed(|d| server.recv(d), &sent, chunk);
        let mut request = request.unwrap();
        assert_eq!(
            [request.take_leftover(), rest].concat(),
            FRAME,
            "chunk {chunk}"
        );
        assert_eq!((request.method(), request.uri()), ("GET", "/chat?room=1"));
        assert_eq!((request.path(), request.query()), ("/chat", Some("room=1")));
        assert_eq!(request.header("host"), Some("example.com:9000"));
        assert_eq!(request.origin(), Some("http://example.com"));
        assert_eq!(request.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(request.protocols(), ["v2.chat", "v1.chat"]);
        let offered: Vec<String> = request.extensions().iter().map(|e| e.to_string()).collect();
        assert_eq!(
            offered,
            ["permessage-deflate; client_max_window_bits", "x-test"]
        );
        assert_eq!(request.headers().count(), 8);

        let accept = Accept::new()
            .protocol("v1.chat")
            .extension("permessage-deflate; client_max_window_bits=15")
            .header("X-Served-By", "test");
        let answer = [request.accept(&accept).unwrap(), FRAME.to_vec()].concat();
        let (response, rest) = feed(|d| client.recv(d), &answer, chunk);
        let response = response.unwrap();
        assert_eq!(
            [response.leftover(), &rest].concat(),
            FRAME,
            "chunk {chunk}"
        );
        assert_eq!(
            (response.status(), response.protocol()),
            (101, Some("v1.chat"))
        );
        assert_eq!(response.header("x-served-by"), Some("test"));
        let ext = &response.extensions()[0];
        assert_eq!(ext.name, "permessage-deflate");
        assert_eq!(
            ext.params,
            [("client_max_window_bits".to_string(), Some("15".to_string()))]
        );
        assert_eq!(client.recv(b"x").unwrap_err(), HandshakeError::Finished);
        assert_eq!(server.recv(b"x").unwrap_err(), HandshakeError::Finished);
    }
}

#[test]
fn leftover_survives_a_header_block_fed_one_byte_at_a_time() {
    let head = valid_request();
    let (last, bytes) = head.split_last().unwrap();
    let mut server = ServerHandshake::new(Limits::default());
    for byte in bytes {
        assert!(server.recv(&[*byte]).unwrap().is_none());
    }
    let request = server.recv(&[&[*last], FRAME].concat()).unwrap().unwrap();
    assert_eq!(request.leftover(), FRAME);

    let head = resp("", &[]);
    let (last, bytes) = head.split_last().unwrap();
    let mut client = new_client();
    for byte in bytes {
        assert!(client.recv(&[*byte]).unwrap().is_none());
    }
    let response = client.recv(&[&[*last], FRAME].concat()).unwrap().unwrap();
    assert_eq!(response.into_leftover(), FRAME);
}

// ---- Section 4.2.1: what the server requires.

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
        let request = server_recv(&bytes);
        assert!(
            request.is_ok(),
            "{request:?}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let absolute = server_recv(&req("GET ws://example.com/chat?x=1 HTTP/1.1", "", &[])).unwrap();
    assert_eq!((absolute.path(), absolute.query()), ("/chat", Some("x=1")));
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

// ---- Limits, checked at the crossing byte, with linear work.

#[test]
fn server_20mb_header_line_fails_at_the_line_cap_without_buffering_beyond_it() {
    let limits = Limits::default();
    let mut server = ServerHandshake::new(limits.clone());
    let prefix = b"GET / HTTP/1.1\r\nX-Big: ";
    assert!(server.recv(prefix).unwrap().is_none());
    let chunk = [b'a'; 1400];
    let mut fed = prefix.len();
    let error = loop {
        assert!(fed < 20_000_000, "no error after 20 MB");
        match server.recv(&chunk) {
            Ok(None) => assert!(server.head().buf.len() <= prefix.len() + limits.max_line_bytes),
            Ok(Some(_)) => panic!("completed"),
            Err(e) => break e,
        }
        fed += chunk.len();
    };
    assert_eq!(
        error,
        HandshakeError::Request(RequestError::Header(HeaderError::HeaderLineTooLong {
            limit: 8192
        }))
    );
    assert_eq!(error.status(), Some(431));
    assert!(fed <= prefix.len() + limits.max_line_bytes + chunk.len());
}

#[test]
fn server_10000_headers_fail_at_the_count_cap() {
    let mut server = ServerHandshake::new(Limits::default());
    assert!(server.recv(b"GET / HTTP/1.1\r\n").unwrap().is_none());
    let mut lines = 0;
    let error = loop {
        lines += 1;
        assert!(lines <= 10_000);
        if let Err(e) = server.recv(b"X: y\r\n") {
            break e;
        }
    };
    assert_eq!((error.status(), lines), (Some(431), 97));
    assert_eq!(
        error,
        HandshakeError::Request(RequestError::Header(HeaderError::TooManyHeaders {
            limit: 96
        }))
    );
    let all = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(10_000));
    assert_eq!(server_recv(all.as_bytes()).unwrap_err(), error);
}

#[test]
fn server_8k_of_empty_list_elements_is_handled() {
    let empties = ", ".repeat(2000);
    let protocol = format!("Sec-WebSocket-Protocol: {empties}chat{empties}");
    let extension = format!("Sec-WebSocket-Extensions: {empties}{empties}");
    assert!(protocol.len() > 8000 && extension.len() > 8000);
    let request = server_recv(&req("GET / HTTP/1.1", "", &[&protocol, &extension])).unwrap();
    assert_eq!(request.protocols(), ["chat"]);
    assert!(request.extensions().is_empty());
}

#[test]
fn limits_apply_at_the_crossing_byte() {
    let long_uri = format!("GET /{} HTTP/1.1", "a".repeat(9000));
    let error = server_recv(&req(&long_uri, "", &[])).unwrap_err();
    assert_eq!(
        (error.clone(), error.status()),
        (
            HandshakeError::Request(RequestError::Header(HeaderError::StartLineTooLong {
                limit: 8192
            })),
            Some(414)
        )
    );

    let big = format!("X: {}", "b".repeat(8000));
    let error = server_recv(&req("GET / HTTP/1.1", "", &[big.as_str(); 9])).unwrap_err();
    assert_eq!(
        (error.clone(), error.status()),
        (
            HandshakeError::Request(RequestError::Header(HeaderError::HeadersTooLarge {
                limit: 65536
            })),
            Some(431)
        )
    );

    let mut limits = Limits {
        max_line_bytes: 50,
        ..Limits::default()
    };
    let line = |n: usize| format!("X: {}", "c".repeat(n - 3)); // n bytes long
    for (len, ok) in [(50, true), (51, false)] {
        let mut server = ServerHandshake::new(limits.clone());
        let result = server.recv(&req("GET / HTTP/1.1", "", &[&line(len)]));
        assert_eq!(result.is_ok(), ok, "{len}-byte line");
    }
    limits.max_header_bytes = valid_request().len();
    let mut server = ServerHandshake::new(limits.clone());
    assert!(server.recv(&valid_request()).is_ok());
    limits.max_header_bytes -= 1;
    let limit = limits.max_header_bytes;
    let mut server = ServerHandshake::new(limits);
    assert_eq!(
        server.recv(&valid_request()).unwrap_err(),
        HandshakeError::Request(RequestError::Header(HeaderError::HeadersTooLarge { limit }))
    );
}

#[test]
fn scanning_64k_fed_one_byte_at_a_time_looks_at_each_byte_once() {
    let filler = format!("X: {}", "d".repeat(7990));
    let bytes = req("GET / HTTP/1.1", "", &[filler.as_str(); 8]);
    assert!(bytes.len() > 64_000 && bytes.len() < 65_536);
    let mut server = ServerHandshake::new(Limits::default());
    let (last, head) = bytes.split_last().unwrap();
    for byte in head {
        assert!(server.recv(&[*byte]).unwrap().is_none());
    }
    assert_eq!(server.head().scanned, head.len());
    assert!(server.recv(&[*last]).unwrap().is_some());
}

// ---- Section 4.1: what the client requires of the response.

#[test]
fn client_accepts_a_valid_101() {
    let response = client_recv(&resp("", &["Sec-WebSocket-Protocol: chat"])).unwrap();
    assert_eq!(response.protocol(), Some("chat"));
    let ext = ["Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"];
    assert_eq!(client_recv(&resp("", &ext)).unwrap().extensions().len(), 1);
    let keep_alive = ["Connection: keep-alive, UPGRADE", "upgrade: WebSocket"];
    assert!(client_recv(&resp("Connection", &keep_alive)).is_ok());
}

#[test]
fn client_rejects_each_4_1_violation() {
    let protocol = |p: &str| format!("Sec-WebSocket-Protocol: {p}");
    let add = |line: &str| resp("", &[line]);
    let http10 = String::from_utf8(resp("", &[]))
        .unwrap()
        .replace("HTTP/1.1", "HTTP/1.0");
    let wrong = "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    #[rustfmt::skip]
    let cases = [
        (resp("Sec-WebSocket-Accept", &[]), HandshakeError::Response(ResponseError::MissingAccept)),
        (resp("Sec-WebSocket-Accept", &[wrong]), HandshakeError::Response(ResponseError::WrongAccept)),
        (add(&format!("Sec-WebSocket-Accept: {ACCEPT}")), HandshakeError::Response(ResponseError::WrongAccept)), // twice
        (add(&protocol("other")), HandshakeError::Response(ResponseError::UnofferedProtocol("other".into()))),
        (add(&protocol("chat, chat")), HandshakeError::Response(ResponseError::MultipleProtocols)),
        (resp("", &[&protocol("chat"), &protocol("chat")]), HandshakeError::Response(ResponseError::MultipleProtocols)),
        (add(&protocol("a b")), HandshakeError::Response(ResponseError::Header(HeaderError::InvalidProtocolHeader))),
        (add("Sec-WebSocket-Extensions: x-unknown"), HandshakeError::Response(ResponseError::UnofferedExtension("x-unknown".into()))),
        (add("Sec-WebSocket-Extensions: permessage-deflate;"), HandshakeError::Response(ResponseError::Header(HeaderError::InvalidExtensionHeader))),
        (resp("Upgrade", &[]), HandshakeError::Response(ResponseError::Header(HeaderError::NoUpgradeWebsocket))),
        (resp("Connection", &["Connection: NotUpgrade"]), HandshakeError::Response(ResponseError::Header(HeaderError::NoConnectionUpgrade))),
        (http10.into_bytes(), HandshakeError::Response(ResponseError::Header(HeaderError::HttpVersion))),
        (b"HTTP/1.1 1O1 OK\r\n\r\n".to_vec(), HandshakeError::Response(ResponseError::Header(HeaderError::Malformed(httparse::Error::Status)))),
    ];
    for (bytes, error) in cases {
        assert_eq!(
            client_recv(&bytes).unwrap_err(),
            error,
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
    let url = Url::parse("ws://h").unwrap();
    let mut plain = ClientHandshake::new(&url, &ClientOptions::new(), KEY).unwrap();
    let chosen = resp("", &[&protocol("chat")]);
    assert_eq!(
        plain.recv(&chosen).unwrap_err(),
        HandshakeError::Response(ResponseError::UnofferedProtocol("chat".into()))
    );
}

#[test]
fn client_returns_a_refusal_once_its_content_length_body_arrived() {
    let mut client = new_client();
    let head = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\nX-Why: origin\r\n\r\nno";
    assert!(client.recv(head).unwrap().is_none());
    let HandshakeError::Response(ResponseError::Rejected {
        status,
        headers,
        body,
    }) = client.recv(b"pe!extra").unwrap_err()
    else {
        panic!("not a refusal");
    };
    assert_eq!((status, body.as_slice()), (403, b"nope!".as_slice()));
    assert!(headers.contains(&("X-Why".to_string(), b"origin".to_vec())));
    assert_eq!(client.recv_eof(), HandshakeError::Finished);

    let no_body = b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";
    assert!(matches!(
        client_recv(no_body),
        Err(HandshakeError::Response(ResponseError::Rejected {
            status: 204,
            ..
        }))
    ));
}

#[test]
fn client_caps_a_huge_refusal_body() {
    for head in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
    ] {
        let mut client = new_client();
        assert!(client.recv(head).unwrap().is_none());
        let chunk = [b'z'; 1400];
        let error = (0..100).find_map(|_| client.recv(&chunk).err()).unwrap();
        let HandshakeError::Response(ResponseError::Rejected {
            status: 200, body, ..
        }) = &error
        else {
            panic!("{error}")
        };
        assert_eq!(body.len(), Limits::default().max_body_bytes);
    }
}

#[test]
fn client_recv_eof_reports_truncation_or_the_partial_refusal() {
    let mut client = new_client();
    assert!(
        client
            .recv(b"HTTP/1.1 101 Switching Protocols\r\nUpgr")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        client.recv_eof(),
        HandshakeError::Response(ResponseError::Truncated)
    );
    assert_eq!(
        client.recv(b"ade: websocket\r\n\r\n").unwrap_err(),
        HandshakeError::Finished
    );

    let mut client = new_client();
    assert!(
        client
            .recv(b"HTTP/1.1 500 Oops\r\n\r\npartial")
            .unwrap()
            .is_none()
    );
    let HandshakeError::Response(ResponseError::Rejected {
        status: 500, body, ..
    }) = client.recv_eof()
    else {
        panic!()
    };
    assert_eq!(body, b"partial");
}

#[test]
fn client_status_line_limit_applies() {
    let line = format!("HTTP/1.1 101 {}\r\n\r\n", "x".repeat(9000));
    let error = client_recv(line.as_bytes()).unwrap_err();
    assert_eq!(
        error,
        HandshakeError::Response(ResponseError::Header(HeaderError::StartLineTooLong {
            limit: 8192
        }))
    );
}

#[test]
fn client_request_has_the_4_1_headers() {
    let url = Url::parse("wss://example.com:8443/chat?x").unwrap();
    let options = ClientOptions::new()
        .protocol("a")
        .protocol("b")
        .extension("e; p=1");
    let client = ClientHandshake::new(&url, &options, KEY).unwrap();
    let expected = "GET /chat?x HTTP/1.1\r\nHost: example.com:8443\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\n\
        Sec-WebSocket-Extensions: e; p=1\r\n\r\n";
    assert_eq!(String::from_utf8_lossy(client.request()), expected);
}

#[cfg(feature = "std")]
#[test]
fn client_random_keys_are_fresh() {
    let url = Url::parse("ws://h").unwrap();
    let a = ClientHandshake::with_random_key(&url, &ClientOptions::new()).unwrap();
    let b = ClientHandshake::with_random_key(&url, &ClientOptions::new()).unwrap();
    assert_ne!(a.request(), b.request());
    let fixed = ClientHandshake::new(&url, &ClientOptions::new(), KEY).unwrap();
    assert_eq!(a.request().len(), fixed.request().len());
}

// ---- Local misuse.

#[test]
fn invalid_options_fail_before_anything_is_sent() {
    let url = Url::parse("ws://h").unwrap();
    let cases = [
        ClientOptions::new().protocol("a b"),
        ClientOptions::new().protocol(""),
        ClientOptions::new().protocol("a").protocol("a"),
        ClientOptions::new().extension("x;"),
        ClientOptions::new().extension("x\r\nEvil: 1"),
        ClientOptions::new().header("X", "a\r\nEvil: 1"),
        ClientOptions::new().header("Bad Name", "v"),
    ];
    for options in cases {
        let error = ClientHandshake::new(&url, &options, KEY).unwrap_err();
        assert!(
            matches!(error, HandshakeError::Options(OptionsError::Invalid(_))),
            "{options:?}"
        );
    }
}

#[test]
fn accept_refuses_choices_the_client_did_not_offer() {
    let offer = [
        "Sec-WebSocket-Protocol: chat",
        "Sec-WebSocket-Extensions: permessage-deflate",
    ];
    let request = server_recv(&req("GET / HTTP/1.1", "", &offer)).unwrap();
    let error = request
        .accept(&Accept::new().protocol("other"))
        .unwrap_err();
    assert_eq!(
        error,
        HandshakeError::Options(OptionsError::ProtocolNotOffered("other".into()))
    );
    let error = request
        .accept(&Accept::new().extension("x-other"))
        .unwrap_err();
    assert_eq!(
        error,
        HandshakeError::Options(OptionsError::ExtensionNotOffered("x-other".into()))
    );
    let error = request
        .accept(&Accept::new().header("X", "\r\n"))
        .unwrap_err();
    assert!(matches!(
        error,
        HandshakeError::Options(OptionsError::Invalid(_))
    ));
    let ok = request.accept(
        &Accept::new()
            .protocol("chat")
            .extension("permessage-deflate"),
    );
    assert!(ok.is_ok());
}

// ---- reject.

#[test]
fn reject_output_parses_with_httparse() {
    for (status, sent, reason) in [(403, 403, "Forbidden"), (599, 599, "")] {
        let bytes = Rejection::new(status)
            .unwrap()
            .header("Content-Type", "text/plain")
            .header("X-Evil", "a\r\nInjected: 1")
            .header("Content-Length", "1")
            .body("body")
            .response();
        let mut slots = [httparse::EMPTY_HEADER; 8];
        let mut response = httparse::Response::new(&mut slots);
        let httparse::Status::Complete(n) = response.parse(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(&bytes[n..], b"body");
        assert_eq!(response.code, Some(sent));
        assert_eq!(response.reason, Some(reason));
        let names: Vec<&str> = response.headers.iter().map(|h| h.name).collect();
        assert_eq!(names, ["Content-Type", "Content-Length", "Connection"]);
        assert_eq!(response.headers[1].value, b"4");
    }
}

#[test]
fn rejection_refuses_statuses_that_are_not_refusals() {
    for status in [0, 100, 101, 200, 204, 299, 600, u16::MAX] {
        assert_eq!(
            Rejection::new(status),
            Err(HandshakeError::Options(OptionsError::RefusalStatus(status))),
        );
    }
    for status in [300, 403, 599] {
        assert_eq!(Rejection::new(status).map(|r| r.status()), Ok(status));
    }
    assert_eq!(Rejection::forbidden().status(), 403);
}

// ---- Any input, any chunking.

/// Up to 600 random bytes, or a valid request and response with a few bytes overwritten.
fn arbitrary_input() -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8);
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        edits.prop_map(|edits| {
            let mut bytes = [valid_request(), resp("", &[])].concat();
            let len = bytes.len();
            for (at, byte) in edits {
                bytes[at % len] = byte;
            }
            bytes
        }),
    ]
}

/// Feeds `data` to a server and a client in pieces of the `sizes` (cycled), then ends it.
fn feed_both_sides(data: &[u8], sizes: &[usize]) {
    let limits = Limits {
        max_line_bytes: 100,
        max_headers: 4,
        ..Limits::default()
    };
    let mut server = ServerHandshake::new(limits.clone());
    let options = ClientOptions::new().protocol("chat").limits(limits);
    let mut client = ClientHandshake::new(&Url::parse("ws://h").unwrap(), &options, KEY).unwrap();
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        if let Err(e) = server.recv(piece) {
            let _ = (e.status(), e.response(), e.to_string());
        }
        let _ = client.recv(piece);
    }
    let _ = client.recv_eof().to_string();
}

/// Feeds `data` cut at `cuts` until the handshake completes; returns it and the bytes not fed.
fn feed_cut<T>(
    mut recv: impl FnMut(&[u8]) -> Result<Option<T>, HandshakeError>,
    data: &[u8],
    cuts: &BTreeSet<usize>,
) -> (T, Vec<u8>) {
    let mut start = 0;
    for end in cuts
        .iter()
        .copied()
        .filter(|&c| c < data.len())
        .chain([data.len()])
    {
        if let Some(done) = recv(&data[start..end]).unwrap() {
            return (done, data[end..].to_vec());
        }
        start = end;
    }
    panic!("incomplete");
}

/// A request and its 101, each followed by a frame and cut at `cuts`, give what they give
/// whole, and the frame arrives intact.
fn round_trip_cut(cuts: &BTreeSet<usize>) {
    let url = Url::parse("ws://example.com/chat?x=1").unwrap();
    let options = ClientOptions::new().protocol("p").extension("x-e; a=\"1\"");
    let mut client = ClientHandshake::new(&url, &options, KEY).unwrap();
    let sent = [client.request(), FRAME].concat();
    let mut whole = server_recv(&sent).unwrap();
    assert_eq!(whole.take_leftover(), FRAME);
    let mut server = ServerHandshake::new(Limits::default());
    let (mut request, rest) = feed_cut(|d| server.recv(d), &sent, cuts);
    assert_eq!([request.take_leftover(), rest].concat(), FRAME);
    assert_eq!(format!("{request:?}"), format!("{whole:?}"));

    let accept = Accept::new().protocol("p").extension("x-e");
    let answer = [request.accept(&accept).unwrap(), FRAME.to_vec()].concat();
    let (response, rest) = feed_cut(|d| client.recv(d), &answer, cuts);
    assert_eq!([response.leftover(), &rest].concat(), FRAME);
    assert_eq!(
        (response.protocol(), response.extensions()[0].name.as_str()),
        (Some("p"), "x-e")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_in_random_chunks_never_panic(
        data in arbitrary_input(),
        sizes in proptest::collection::vec(1usize..64, 1..20),
    ) {
        feed_both_sides(&data, &sizes);
    }

    #[test]
    fn any_split_gives_the_same_handshake_and_loses_no_byte(
        cuts in proptest::collection::btree_set(0usize..260, 0..12),
    ) {
        round_trip_cut(&cuts);
    }
}

// ---- Handing over a ready connection.

#[test]
fn accept_connection_refuses_extension_answers_the_connection_does_not_run() {
    let offer = add("Sec-WebSocket-Extensions: permessage-deflate, x-custom");
    for answer in ["permessage-deflate", "x-custom"] {
        let request = server_recv(&offer).unwrap();
        let result = request.accept_connection(&Accept::new().extension(answer), Config::default());
        assert_eq!(
            result.map(|(bytes, _)| bytes).unwrap_err(),
            HandshakeError::Options(OptionsError::ExtensionNotRun(answer.into()))
        );
    }
    // An answer to an extension the client did not offer is refused as such.
    let request = server_recv(&valid_request()).unwrap();
    let result = request.accept_connection(&Accept::new().extension("x-other"), Config::default());
    assert_eq!(
        result.map(|(bytes, _)| bytes).unwrap_err(),
        HandshakeError::Options(OptionsError::ExtensionNotOffered("x-other".into()))
    );
}

#[cfg(feature = "deflate")]
#[test]
fn accept_connection_runs_the_deflate_it_answers_and_the_client_agrees() {
    let url = Url::parse("ws://example.com/").unwrap();
    let options = ClientOptions::new().deflate(Some(crate::deflate::DeflateConfig::default()));
    let mut client = ClientHandshake::new(&url, &options, KEY).unwrap();
    let request = server_recv(client.request()).unwrap();
    let accept = Accept::new().deflate(Some(crate::deflate::DeflateConfig::default()));
    // Without a connection to run it, a deflate answer is refused.
    assert!(matches!(
        request.accept(&accept),
        Err(HandshakeError::Options(OptionsError::Invalid(_)))
    ));
    let (response, server) = request
        .accept_connection(&accept, Config::default())
        .unwrap();
    assert!(server.is_deflate_enabled());
    let response = client.recv(&response).unwrap().unwrap();
    assert!(response.deflate().is_some());
    assert!(
        response
            .into_connection(Config::default())
            .is_deflate_enabled()
    );
}
