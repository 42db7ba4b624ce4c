//! Limits, checked at the crossing byte, with linear work.

use super::*;

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
    let mut server = ServerHandshake::new(limits.clone());
    let result = server.recv(&req("GET / HTTP/1.1", "", &[&line(50)]));
    let request = result
        .unwrap()
        .expect("a complete request with a 50-byte line");
    assert_eq!(request.header("X").map(str::len), Some(47));
    let mut server = ServerHandshake::new(limits.clone());
    assert_eq!(
        server
            .recv(&req("GET / HTTP/1.1", "", &[&line(51)]))
            .unwrap_err(),
        HandshakeError::Request(RequestError::Header(HeaderError::HeaderLineTooLong {
            limit: 50
        }))
    );
    limits.max_header_bytes = valid_request().len();
    let mut server = ServerHandshake::new(limits.clone());
    let request = server.recv(&valid_request()).unwrap();
    assert_eq!(
        request
            .expect("a complete request at exactly the limit")
            .uri(),
        "/chat"
    );
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
    // Close to the 64 KiB header limit; an eighth of it under Miri, which is as linear.
    let filler = format!("X: {}", "d".repeat(if cfg!(miri) { 990 } else { 7990 }));
    let bytes = req("GET / HTTP/1.1", "", &[filler.as_str(); 8]);
    assert!(bytes.len() > 64_000 / if cfg!(miri) { 8 } else { 1 } && bytes.len() < 65_536);
    let mut server = ServerHandshake::new(Limits::default());
    let (last, head) = bytes.split_last().unwrap();
    for byte in head {
        assert!(server.recv(&[*byte]).unwrap().is_none());
    }
    assert_eq!(server.head().scanned, head.len());
    assert!(server.recv(&[*last]).unwrap().is_some());
}
