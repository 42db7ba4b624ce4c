//! Every error of the sans-IO core says what happened and, where the caller can act, what to
//! do: each variant's `Display` is checked for the facts it must carry (the value at fault, the
//! limit, the setting to change), that a wrapping error repeats the wrapped one's text, and
//! that no message ends in a full stop or a newline (they are embedded in longer messages).

use std::error::Error;
use std::time::Duration;

use rfc6455::frame::{FrameError, OpCode};
use rfc6455::handshake::{HandshakeError, HeaderError, OptionsError, RequestError, ResponseError};
use rfc6455::{CloseCode, ProtocolError, SendError, TimeoutError};

/// Checks `error`'s message: it holds each of `needles`, and is one clause list without a
/// final full stop or line break.
fn says(error: &dyn Error, needles: &[&str]) {
    let text = error.to_string();
    assert!(!text.is_empty(), "{error:?}: empty message");
    for needle in needles {
        assert!(
            text.contains(needle),
            "{error:?}: {text:?} lacks {needle:?}"
        );
    }
    assert!(
        !text.ends_with('.') && !text.ends_with('\n'),
        "{error:?}: {text:?} ends in a full stop or a newline"
    );
}

#[test]
fn frame_errors_name_the_frame_and_the_rule() {
    let cases: &[(FrameError, &[&str])] = &[
        (FrameError::ReservedOpcode(0x3), &["reserved opcode 0x3"]),
        (
            FrameError::FragmentedControl(OpCode::Ping),
            &["Ping", "without FIN", "must not be fragmented"],
        ),
        (
            FrameError::ControlTooLong(OpCode::Close),
            &["Close", "longer than 125 bytes"],
        ),
        (
            FrameError::LengthTopBitSet,
            &["64-bit", "most significant bit"],
        ),
        (FrameError::NonMinimalLength(5), &["length 5", "minimal"]),
        (
            FrameError::TooLong {
                len: 70_000,
                max: 65_536,
            },
            &["70000", "65536", "max_frame_size"],
        ),
    ];
    for (error, needles) in cases {
        says(error, needles);
    }
}

#[test]
fn protocol_errors_carry_the_frame_error_and_the_close_code() {
    let frame = FrameError::ReservedOpcode(0xB);
    let wrapped = ProtocolError::Frame(frame);
    says(&wrapped, &["invalid frame", &frame.to_string()]);
    assert_eq!(wrapped.close_code(), CloseCode::PROTOCOL_ERROR);
    let too_long = ProtocolError::Frame(FrameError::TooLong { len: 9, max: 8 });
    assert_eq!(too_long.close_code(), CloseCode::MESSAGE_TOO_BIG);

    let cases: &[(ProtocolError, &[&str], CloseCode)] = &[
        (
            ProtocolError::UnmaskedFrame,
            &["unmasked", "clients must mask"],
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            ProtocolError::MaskedFrame,
            &["masked", "servers must not"],
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            ProtocolError::ReservedBits(0b100),
            &["reserved bits 0b100"],
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            ProtocolError::UnexpectedContinuation,
            &["continuation", "no message"],
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            ProtocolError::ExpectedContinuation(OpCode::Text),
            &["new Text message", "fragmented"],
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            ProtocolError::MessageTooLarge {
                size: 2049,
                max: 2048,
            },
            &["2049", "2048", "max_message_size"],
            CloseCode::MESSAGE_TOO_BIG,
        ),
        (
            ProtocolError::InvalidUtf8,
            &["text message", "UTF-8"],
            CloseCode::INVALID_PAYLOAD,
        ),
        (
            ProtocolError::CloseTooShort,
            &["1-byte", "2 bytes"],
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            ProtocolError::InvalidCloseCode(1005),
            &["close code 1005"],
            CloseCode::PROTOCOL_ERROR,
        ),
        (
            ProtocolError::InvalidCloseReason,
            &["close reason", "UTF-8"],
            CloseCode::INVALID_PAYLOAD,
        ),
        (
            ProtocolError::UnexpectedEof,
            &["without a close frame", "1006"],
            CloseCode::ABNORMAL,
        ),
        (
            ProtocolError::Decompression,
            &["compressed", "deflate"],
            CloseCode::INVALID_PAYLOAD,
        ),
    ];
    for (error, needles, code) in cases {
        says(error, needles);
        assert_eq!(error.close_code(), *code, "{error:?}");
    }
}

#[test]
fn send_errors_say_what_to_change() {
    let cases: &[(SendError, &[&str])] = &[
        (SendError::Closed, &["cannot send", "closing or closed"]),
        (SendError::ControlTooLong(126), &["126 bytes", "125"]),
        (
            SendError::InvalidCloseCode(CloseCode::from(1005)),
            &["close code 1005", "use 1000-1003, 1007-1014 or 3000-4999"],
        ),
        (SendError::ReasonTooLong(124), &["124 bytes", "123"]),
        (
            SendError::BufferFull {
                buffered: 70_000,
                cap: 65_536,
            },
            &["70000 bytes", "65536", "write them out first"],
        ),
        (
            SendError::MessageInProgress,
            &["fragmented message", "final fragment"],
        ),
        (SendError::InvalidUtf8, &["text fragments", "UTF-8"]),
    ];
    for (error, needles) in cases {
        says(error, needles);
    }
}

#[test]
fn timeout_errors_say_whether_the_connection_survives() {
    let read = TimeoutError::Read;
    says(&read, &["read deadline", "intact", "read again"]);
    assert!(!read.is_fatal());
    let idle = TimeoutError::PeerUnresponsive(Duration::from_secs(40));
    says(&idle, &["40s", "dead"]);
    assert!(idle.is_fatal());
    let close = TimeoutError::CloseTimeout(Duration::from_millis(1500));
    says(&close, &["1.5s", "close frame", "dropped"]);
    assert!(close.is_fatal());
}

#[test]
fn option_errors_point_at_the_fix() {
    let cases: &[(OptionsError, &[&str])] = &[
        (OptionsError::UrlScheme, &["ws:// or wss://"]),
        (OptionsError::UrlHost, &["host", "[IPv6]"]),
        (OptionsError::UrlPort, &["port", "1 to 65535"]),
        (OptionsError::UrlFragment, &["#fragment", "remove it"]),
        (OptionsError::UrlUserinfo, &["userinfo", "header"]),
        (OptionsError::UrlCharacter, &["percent-encode"]),
        (
            OptionsError::Invalid("an empty subprotocol"),
            &["invalid handshake option: an empty subprotocol"],
        ),
        (
            OptionsError::ProtocolNotOffered("chat".into()),
            &["\"chat\"", "did not offer", "Request::protocols"],
        ),
        (
            OptionsError::ExtensionNotOffered("x-e".into()),
            &["\"x-e\"", "did not offer", "Request::extensions"],
        ),
        (
            OptionsError::ExtensionNotRun("x-e".into()),
            &[
                "\"x-e\"",
                "would not run",
                "Accept::extensions",
                "Accept::deflate",
            ],
        ),
        (
            OptionsError::RefusalStatus(200),
            &["status 200", "3xx, 4xx or 5xx"],
        ),
    ];
    for (error, needles) in cases {
        says(error, needles);
        // Local mistakes are reported as they are, without a prefix blaming a peer.
        let outer = HandshakeError::from(error.clone());
        assert_eq!(outer.to_string(), error.to_string());
        assert_eq!(outer.status(), None);
        assert_eq!(outer.response(), None);
    }
}

#[test]
fn header_errors_name_the_limit_setting() {
    let cases: &[(HeaderError, &[&str])] = &[
        (
            HeaderError::StartLineTooLong { limit: 8192 },
            &["8192", "Limits::max_line_bytes"],
        ),
        (
            HeaderError::HeaderLineTooLong { limit: 8192 },
            &["header line", "Limits::max_line_bytes"],
        ),
        (
            HeaderError::HeadersTooLarge { limit: 65536 },
            &["65536", "Limits::max_header_bytes"],
        ),
        (
            HeaderError::TooManyHeaders { limit: 64 },
            &["64", "Limits::max_headers"],
        ),
        (
            HeaderError::Malformed(httparse::Error::Token),
            &["malformed", "invalid token"],
        ),
        (HeaderError::HttpVersion, &["HTTP/1.0", "use HTTP/1.1"]),
        (HeaderError::NoUpgradeWebsocket, &["Upgrade", "websocket"]),
        (HeaderError::NoConnectionUpgrade, &["Connection", "Upgrade"]),
        (
            HeaderError::InvalidProtocolHeader,
            &["Sec-WebSocket-Protocol", "tokens"],
        ),
        (
            HeaderError::InvalidExtensionHeader,
            &["Sec-WebSocket-Extensions", "9.1"],
        ),
    ];
    for (error, needles) in cases {
        says(error, needles);
        // The same header fault, found on either side, is reported with the side to blame.
        let request = HandshakeError::Request(RequestError::Header(error.clone()));
        says(
            &request,
            &["bad request from the client: ", &error.to_string()],
        );
        let response = HandshakeError::Response(ResponseError::Header(error.clone()));
        says(
            &response,
            &["bad response from the server: ", &error.to_string()],
        );
    }
}

#[test]
fn request_errors_are_answered_with_their_text() {
    let cases: &[(RequestError, &[&str])] = &[
        (
            RequestError::NotHttp(0x16),
            &["0x16", "TLS", "connect with ws://"],
        ),
        (
            RequestError::NotHttp(0x00),
            &["byte 0x00", "not speaking HTTP"],
        ),
        (RequestError::MethodNotGet, &["GET"]),
        (RequestError::MissingHost, &["no Host"]),
        (RequestError::DuplicateHost, &["more than one Host"]),
        (RequestError::MissingKey, &["no Sec-WebSocket-Key"]),
        (
            RequestError::DuplicateKey,
            &["more than one Sec-WebSocket-Key"],
        ),
        (RequestError::InvalidKey, &["base64 of 16 bytes"]),
        (
            RequestError::MissingVersion,
            &["no Sec-WebSocket-Version", "13"],
        ),
        (RequestError::UnsupportedVersion, &["not 13"]),
        (RequestError::HasBody, &["body", "without a body"]),
    ];
    for (error, needles) in cases {
        says(error, needles);
        // The server's answer carries the same text as its body.
        let outer = HandshakeError::Request(error.clone());
        let response = String::from_utf8(outer.response().expect("a request error is answered"))
            .expect("the answer is text");
        let status = outer.status().expect("and has a status");
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status} ")),
            "{response}"
        );
        assert!(
            response.ends_with(&format!("\r\n\r\n{outer}\n")),
            "{response}"
        );
    }
}

#[test]
fn response_errors_name_what_the_server_did() {
    let cases: &[(ResponseError, &[&str])] = &[
        (
            ResponseError::Rejected {
                status: 403,
                headers: Vec::new(),
                body: Vec::new(),
            },
            &["refused", "status 403"],
        ),
        (
            ResponseError::MissingAccept,
            &["no Sec-WebSocket-Accept", "not a WebSocket server"],
        ),
        (
            ResponseError::WrongAccept,
            &["Sec-WebSocket-Accept", "key we sent"],
        ),
        (
            ResponseError::UnofferedProtocol("x".into()),
            &["unoffered subprotocol \"x\""],
        ),
        (
            ResponseError::MultipleProtocols,
            &["more than one subprotocol"],
        ),
        (
            ResponseError::UnofferedExtension("x-e".into()),
            &["unoffered extension \"x-e\""],
        ),
        (
            ResponseError::Truncated,
            &["closed", "middle of the response header"],
        ),
    ];
    for (error, needles) in cases {
        says(error, needles);
        let outer = HandshakeError::Response(error.clone());
        says(
            &outer,
            &["bad response from the server: ", &error.to_string()],
        );
        assert_eq!(outer.status(), None);
    }
}

#[test]
fn local_handshake_failures_say_what_to_do() {
    says(
        &HandshakeError::Rng,
        &["random number generator", "pass your own key"],
    );
    says(
        &HandshakeError::Finished,
        &["already finished", "to the connection"],
    );
}

#[cfg(feature = "deflate")]
#[test]
fn deflate_negotiation_errors_name_the_parameter() {
    use rfc6455::deflate::NegotiationError;
    let cases: &[(NegotiationError, &[&str])] = &[
        (
            NegotiationError::UnknownParameter("x".into()),
            &["\"x\"", "not defined by RFC 7692"],
        ),
        (
            NegotiationError::DuplicateParameter("server_no_context_takeover".into()),
            &["\"server_no_context_takeover\"", "twice"],
        ),
        (
            NegotiationError::InvalidValue("client_max_window_bits".into()),
            &["\"client_max_window_bits\"", "invalid value"],
        ),
        (
            NegotiationError::Unrequested("client_no_context_takeover".into()),
            &["\"client_no_context_takeover\"", "no offer allowed"],
        ),
        (
            NegotiationError::WindowBits8,
            &["8-bit", "offer without client_max_window_bits"],
        ),
        (NegotiationError::Repeated, &["more than once"]),
        (
            NegotiationError::InvalidConfig("level must be 0..=9"),
            &["DeflateConfig", "level must be 0..=9"],
        ),
    ];
    for (error, needles) in cases {
        says(error, needles);
        let options = HandshakeError::Options(OptionsError::Deflate(error.clone()));
        says(
            &options,
            &["invalid permessage-deflate settings: ", &error.to_string()],
        );
        let response = HandshakeError::Response(ResponseError::Deflate(error.clone()));
        says(
            &response,
            &["bad response from the server: ", &error.to_string()],
        );
    }
}

#[test]
fn close_codes_convert_both_ways_and_print_as_numbers() {
    let code = CloseCode::from(4001);
    assert_eq!(u16::from(code), 4001);
    assert_eq!(code.to_string(), "4001");
    assert_eq!(CloseCode::NORMAL.to_string(), "1000");
}
