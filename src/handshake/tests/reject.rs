//! Refusals: what `reject` writes, and the statuses a `Rejection` may carry.

use super::*;

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

#[test]
fn named_refusals_carry_their_status_and_reason_phrase() {
    let named = [
        (Rejection::bad_request(), "400 Bad Request"),
        (Rejection::unauthorized(), "401 Unauthorized"),
        (Rejection::forbidden(), "403 Forbidden"),
        (Rejection::not_found(), "404 Not Found"),
        (
            Rejection::internal_server_error(),
            "500 Internal Server Error",
        ),
        (Rejection::service_unavailable(), "503 Service Unavailable"),
    ];
    let by_number = [
        (301, "Moved Permanently"),
        (302, "Found"),
        (307, "Temporary Redirect"),
        (308, "Permanent Redirect"),
        (405, "Method Not Allowed"),
        (408, "Request Timeout"),
        (414, "URI Too Long"),
        (426, "Upgrade Required"),
        (429, "Too Many Requests"),
        (431, "Request Header Fields Too Large"),
        (501, "Not Implemented"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
        (505, "HTTP Version Not Supported"),
    ]
    .map(|(status, reason)| {
        (
            Rejection::new(status).unwrap(),
            format!("{status} {reason}"),
        )
    });
    for (rejection, line) in named
        .into_iter()
        .map(|(r, l)| (r, l.to_string()))
        .chain(by_number)
    {
        let bytes = rejection.response();
        let start = format!("HTTP/1.1 {line}\r\n");
        assert!(
            bytes.starts_with(start.as_bytes()),
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(line[..3].parse::<u16>().unwrap(), rejection.status());
    }
}

#[test]
fn a_connection_header_given_replaces_connection_close() {
    let count = |bytes: &[u8], header: &str| {
        String::from_utf8_lossy(bytes)
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with(header))
            .count()
    };
    let mine = Rejection::service_unavailable()
        .header("Connection", "keep-alive")
        .response();
    assert_eq!(count(&mine, "connection:"), 1);
    assert!(mine.windows(22).any(|w| w == b"Connection: keep-alive"));
    let plain = Rejection::service_unavailable().response();
    assert_eq!(count(&plain, "connection:"), 1);
    assert!(plain.windows(17).any(|w| w == b"Connection: close"));
    // The 426 a server answers an unsupported version with says both in one header.
    let err = server_recv(&set("Sec-WebSocket-Version", "8")).unwrap_err();
    let answer = err.response().unwrap();
    assert_eq!(count(&answer, "connection:"), 1);
    assert!(
        answer
            .windows(26)
            .any(|w| w == b"Connection: Upgrade, close")
    );
}
