//! Local misuse: options that fail before anything is sent, answers the client did not ask for.

use super::*;

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
    let ok = request
        .accept(
            &Accept::new()
                .protocol("chat")
                .extension("permessage-deflate"),
        )
        .unwrap();
    let ok = String::from_utf8(ok).unwrap();
    assert!(
        ok.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{ok}"
    );
    assert!(ok.contains("\r\nSec-WebSocket-Protocol: chat\r\n"), "{ok}");
    assert!(
        ok.contains("\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"),
        "{ok}"
    );
}
