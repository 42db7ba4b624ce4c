//! Sections 4.1 and 4.2 end to end: the accept key, round trips in any chunking of the
//! header block, and handing over a ready connection.

use super::*;
use crate::Config;
use alloc::string::ToString;

// ---- Section 4.2.2: the accept key.

#[test]
fn accept_key_rfc_4_2_2_example() {
    assert_eq!(&accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), ACCEPT.as_bytes());
    assert_eq!(BASE64.encode(KEY), "dGhlIHNhbXBsZSBub25jZQ==");
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
