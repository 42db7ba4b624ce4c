//! Header names are case-insensitive
//! ([RFC 9110 section 5.1](https://www.rfc-editor.org/rfc/rfc9110#section-5.1)): every
//! `Sec-WebSocket-*` name, in every case, on both sides, gives the same parsed values.

use super::*;
use alloc::vec::Vec;

/// A name in lower case, UPPER case and mIxEd case (every other letter upper).
fn cases(name: &str) -> [String; 3] {
    let mixed = name
        .chars()
        .enumerate()
        .map(|(i, c)| match i % 2 {
            0 => c.to_ascii_lowercase(),
            _ => c.to_ascii_uppercase(),
        })
        .collect();
    [name.to_ascii_lowercase(), name.to_ascii_uppercase(), mixed]
}

/// `name: value` with `name` in case `which` (0 lower, 1 upper, 2 mixed).
fn line(name: &str, which: usize, value: &str) -> String {
    format!("{}: {value}", cases(name)[which])
}

/// A request whose `Sec-WebSocket-*` names are all in case `which`.
fn request_in_case(which: usize) -> Vec<u8> {
    let lines = [
        line("Sec-WebSocket-Key", which, "dGhlIHNhbXBsZSBub25jZQ=="),
        line("Sec-WebSocket-Version", which, "13"),
        line("Sec-WebSocket-Protocol", which, "chat, superchat"),
        line(
            "Sec-WebSocket-Extensions",
            which,
            "permessage-deflate; client_max_window_bits",
        ),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    req("GET / HTTP/1.1", "Sec-WebSocket", &lines)
}

#[test]
fn the_case_helper_makes_three_distinct_spellings() {
    let spellings = cases("Sec-WebSocket-Key");
    assert_eq!(
        spellings,
        [
            "sec-websocket-key",
            "SEC-WEBSOCKET-KEY",
            "sEc-wEbSoCkEt-kEy"
        ]
    );
}

#[test]
fn server_reads_sec_websocket_names_in_any_case() {
    for which in 0..3 {
        let bytes = request_in_case(which);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let request = server_recv(&bytes).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(request.key(), "dGhlIHNhbXBsZSBub25jZQ==", "{text}");
        assert_eq!(request.protocols(), ["chat", "superchat"], "{text}");
        let names: Vec<&str> = request
            .extensions()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["permessage-deflate"], "{text}");
        let response = request
            .accept(&Accept::new().protocol("superchat"))
            .unwrap();
        let response = String::from_utf8(response).unwrap();
        assert!(response.contains(&format!("\r\nSec-WebSocket-Accept: {ACCEPT}\r\n")));
        assert!(response.contains("\r\nSec-WebSocket-Protocol: superchat\r\n"));
    }
}

/// A version other than 13 or a second key is found whatever the case of its name.
#[test]
fn server_finds_a_bad_version_or_a_second_key_in_any_case() {
    for which in 0..3 {
        let version = set("Sec-WebSocket-Version", "8");
        let version = String::from_utf8(version).unwrap().replace(
            "Sec-WebSocket-Version",
            &cases("Sec-WebSocket-Version")[which],
        );
        assert_eq!(
            server_recv(version.as_bytes()).unwrap_err(),
            HandshakeError::Request(RequestError::UnsupportedVersion),
            "{version}"
        );
        let second = line("Sec-WebSocket-Key", which, "AAAAAAAAAAAAAAAAAAAAAA==");
        assert_eq!(
            server_recv(&add(&second)).unwrap_err(),
            HandshakeError::Request(RequestError::DuplicateKey),
            "{second}"
        );
    }
}

#[cfg(feature = "deflate")]
#[test]
fn server_negotiates_deflate_offered_under_any_case() {
    for which in 0..3 {
        let request = server_recv(&request_in_case(which)).unwrap();
        let accept = Accept::new().deflate(Some(crate::deflate::DeflateConfig::default()));
        let (response, conn) = request
            .accept_connection(&accept, crate::Config::default())
            .unwrap();
        assert!(conn.is_deflate_enabled(), "case {which}");
        let response = String::from_utf8(response).unwrap();
        assert!(
            response.contains("\r\nSec-WebSocket-Extensions: permessage-deflate"),
            "{response}"
        );
    }
}

/// A 101 for [`new_client`] whose `Sec-WebSocket-*` names are all in case `which`, with
/// `accept` as the accept value.
fn response_in_case(which: usize, accept: &str) -> Vec<u8> {
    let lines = [
        line("Sec-WebSocket-Accept", which, accept),
        line("Sec-WebSocket-Protocol", which, "chat"),
        line("Sec-WebSocket-Extensions", which, "permessage-deflate"),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    resp("Sec-WebSocket-Accept", &lines)
}

#[test]
fn client_reads_sec_websocket_names_in_any_case() {
    for which in 0..3 {
        let bytes = response_in_case(which, ACCEPT);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let response = client_recv(&bytes).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(response.protocol(), Some("chat"), "{text}");
        let names: Vec<&str> = response
            .extensions()
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(names, ["permessage-deflate"], "{text}");
        // The accept value is checked, not just found: a wrong one under the same name fails.
        let wrong = response_in_case(which, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert_eq!(
            client_recv(&wrong).unwrap_err(),
            HandshakeError::Response(ResponseError::WrongAccept),
            "{text}"
        );
    }
}

#[cfg(feature = "deflate")]
#[test]
fn client_runs_deflate_accepted_under_any_case() {
    for which in 0..3 {
        let url = Url::parse("ws://example.com/chat").unwrap();
        let options = ClientOptions::new()
            .protocol("chat")
            .deflate(Some(crate::deflate::DeflateConfig::default()));
        let mut client = ClientHandshake::new(&url, &options, KEY).unwrap();
        let bytes = response_in_case(which, ACCEPT);
        let response = client.recv(&bytes).unwrap().expect("a complete response");
        assert!(response.deflate().is_some(), "case {which}");
        assert!(
            response
                .into_connection(crate::Config::default())
                .is_deflate_enabled()
        );
    }
}
