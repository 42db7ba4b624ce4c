//! Section 4.1: what the client requires of the response.

use super::*;
use alloc::string::ToString;

#[test]
fn client_accepts_a_valid_101() {
    let response = client_recv(&resp("", &["Sec-WebSocket-Protocol: chat"])).unwrap();
    assert_eq!(response.protocol(), Some("chat"));
    let ext = ["Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"];
    assert_eq!(client_recv(&resp("", &ext)).unwrap().extensions().len(), 1);
    let keep_alive = ["Connection: keep-alive, UPGRADE", "upgrade: WebSocket"];
    let response = client_recv(&resp("Connection", &keep_alive)).unwrap();
    assert_eq!(
        (response.status(), response.protocol(), response.leftover()),
        (101, None, &b""[..])
    );
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
fn client_reads_a_refusal_body_to_the_cap_when_content_length_is_not_digits() {
    // `+5` parses as a number in Rust, but is not a Content-Length (RFC 9110 section 8.6):
    // the body is read to max_body_bytes or the end of the stream, not stopped at 5 bytes.
    let mut client = new_client();
    let head = b"HTTP/1.1 403 Forbidden\r\nContent-Length: +5\r\n\r\nnope!";
    assert!(client.recv(head).unwrap().is_none());
    let HandshakeError::Response(ResponseError::Rejected { body, .. }) = client.recv_eof() else {
        panic!("not a refusal");
    };
    assert_eq!(body, b"nope!");
}

#[test]
fn client_options_limits_apply_to_the_response() {
    let url = Url::parse("ws://example.com/chat").unwrap();
    let limits = Limits {
        max_line_bytes: 40,
        ..Limits::default()
    };
    let options = ClientOptions::new().limits(limits);
    let mut client = ClientHandshake::new(&url, &options, KEY).unwrap();
    let long = format!("HTTP/1.1 101 {}\r\n\r\n", "x".repeat(40));
    assert_eq!(
        client.recv(long.as_bytes()).unwrap_err(),
        HandshakeError::Response(ResponseError::Header(HeaderError::StartLineTooLong {
            limit: 40
        }))
    );
}

#[test]
fn response_headers_are_listed_in_order_with_values_trimmed() {
    let response = client_recv(&resp("", &["X-Server:  rfc6455 ", "x-server: again"])).unwrap();
    let headers: Vec<(&str, &[u8])> = response.headers().collect();
    assert_eq!(
        headers,
        [
            ("Upgrade", &b"websocket"[..]),
            ("Connection", b"Upgrade"),
            ("Sec-WebSocket-Accept", ACCEPT.as_bytes()),
            ("X-Server", b"rfc6455"),
            ("x-server", b"again"),
        ]
    );
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
