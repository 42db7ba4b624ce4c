//! Section 3: URLs.

use super::*;
use alloc::string::ToString;

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
