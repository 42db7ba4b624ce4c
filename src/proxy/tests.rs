//! The proxy exchanges as pure parse/produce steps: the bytes each side sends, and every
//! malformed answer, fed whole and a byte at a time.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::*;
use crate::handshake::HeaderError;

fn tunnel(url: &str, target: Target<'_>) -> Tunnel {
    let proxy = Proxy::parse(url).expect("a valid proxy URL");
    Tunnel::new(&proxy, target, &Limits::default()).expect("a valid target")
}

/// Takes the pending output, as a driver writes it.
fn take(t: &mut Tunnel) -> Vec<u8> {
    let out = t.pending_output().to_vec();
    t.consume_output(out.len());
    out
}

/// Feeds `answer` whole, then to a fresh copy a byte at a time; both must agree.
fn answer(make: impl Fn() -> Tunnel, answer: &[u8]) -> Result<Option<usize>, ProxyError> {
    let mut whole = make();
    take(&mut whole);
    let result = whole.recv(answer);
    let mut split = make();
    take(&mut split);
    let mut bytewise = Ok(None);
    for (i, byte) in answer.iter().enumerate() {
        bytewise = split.recv(core::slice::from_ref(byte));
        match bytewise {
            Ok(Some(used)) => {
                assert_eq!(used, 1);
                bytewise = Ok(Some(i + 1));
                break;
            }
            Ok(None) => {}
            Err(_) => break,
        }
    }
    assert_eq!(
        result, bytewise,
        "chunking changed the outcome of {answer:?}"
    );
    result
}

// ------------------------------------------------------------------ proxy URLs

#[test]
fn proxy_url_forms() {
    let p = Proxy::parse("http://proxy.corp:3128").unwrap();
    assert_eq!(
        (p.kind(), p.host(), p.port()),
        (ProxyKind::Http, "proxy.corp", 3128)
    );
    assert_eq!(p.username(), None);
    let p = Proxy::parse("proxy.corp:3128/").unwrap();
    assert_eq!((p.kind(), p.port()), (ProxyKind::Http, 3128));
    assert_eq!(Proxy::parse("HTTP://p").unwrap().port(), 80);
    let p = Proxy::parse("socks5://[::1]").unwrap();
    assert_eq!(
        (p.kind(), p.host(), p.port()),
        (ProxyKind::Socks5, "::1", 1080)
    );
    assert!(!p.resolves_names());
    let p = Proxy::parse("socks5h://u:p%3Aw%40rd%25@127.0.0.1:1081").unwrap();
    assert_eq!(p.kind(), ProxyKind::Socks5h);
    assert!(p.resolves_names());
    assert_eq!(p.credentials.as_ref().unwrap().pass, "p:w@rd%");
    assert_eq!(p.to_string(), "socks5h://u:***@127.0.0.1:1081");
    assert!(!alloc::format!("{p:?}").contains("w@rd"));
    // A user without a password.
    let p = Proxy::parse("http://alice@p:1").unwrap();
    assert_eq!(p.credentials.unwrap().pass, "");
}

#[test]
fn proxy_url_errors_say_what_is_wrong() {
    for (url, fragment) in [
        ("https://p:1", "not supported"),
        ("socks4://p:1", "SOCKS4"),
        ("ftp://p:1", "scheme"),
        ("http://p:1/path", "no path"),
        ("http://p:0", "port"),
        ("http://p:65536", "port"),
        ("http://p:x", "port"),
        ("http://p:", "port"),
        ("http://", "host"),
        ("http://bad host:1", "host"),
        ("http://[::1:1", "closing ]"),
        ("http://[zz]:1", "IPv6"),
        ("http://u:%zz@p:1", "two hex digits"),
        ("http://u:%ff@p:1", "UTF-8"),
        ("http://:pw@p:1", "empty"),
    ] {
        let err = Proxy::parse(url).unwrap_err();
        assert!(matches!(
            err,
            ProxyError::InvalidUrl {
                from: "the proxy URL",
                ..
            }
        ));
        assert!(err.to_string().contains(fragment), "{url}: {err}");
    }
    let long = "x".repeat(256);
    let err = Proxy::parse(&alloc::format!("socks5://{long}:p@h:1")).unwrap_err();
    assert!(err.to_string().contains("255"), "{err}");
    // HTTP Basic has no such limit.
    assert!(Proxy::parse(&alloc::format!("http://{long}:p@h:1")).is_ok());
}

// ------------------------------------------------------------------ HTTP CONNECT

#[test]
fn connect_request_without_and_with_credentials() {
    let mut t = tunnel("http://p:3128", Target::Name("example.com", 443));
    assert_eq!(
        take(&mut t),
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    );
    assert!(t.pending_output().is_empty());
    // RFC 7617 section 2's example: Aladdin / open sesame.
    let mut t = tunnel(
        "http://Aladdin:open%20sesame@p:3128",
        Target::Name("::1", 9),
    );
    assert_eq!(
        take(&mut t),
        b"CONNECT [::1]:9 HTTP/1.1\r\nHost: [::1]:9\r\n\
          Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
    );
    let addr = SocketAddr::from((Ipv6Addr::LOCALHOST, 80));
    let mut t = tunnel("http://p", Target::Addr(addr));
    assert!(take(&mut t).starts_with(b"CONNECT [::1]:80 HTTP/1.1\r\n"));
}

#[test]
fn connect_target_must_be_a_host() {
    let proxy = Proxy::parse("http://p").unwrap();
    for host in ["", "a b", "a\r\nX: y", "a/b", "a@b"] {
        let err = Tunnel::new(&proxy, Target::Name(host, 1), &Limits::default()).unwrap_err();
        assert!(matches!(err, ProxyError::InvalidTarget(_)), "{host:?}");
    }
}

fn http() -> Tunnel {
    tunnel("http://p:3128", Target::Name("example.com", 443))
}

#[test]
fn connect_2xx_opens_the_tunnel_and_hands_over_the_rest() {
    let ok = b"HTTP/1.1 200 Connection established\r\n\r\n";
    assert_eq!(answer(http, ok), Ok(Some(ok.len())));
    // tinyproxy answers HTTP/1.0, with headers; any 2xx is success; a bare LF is a line end.
    let ok = b"HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n";
    assert_eq!(answer(http, ok), Ok(Some(ok.len())));
    assert_eq!(answer(http, b"HTTP/1.1 204 OK\n\n"), Ok(Some(17)));
    // Bytes after the block are the target's.
    let mut t = http();
    take(&mut t);
    assert_eq!(t.recv(b"HTTP/1.1 200 OK\r\n\r\n\x16\x03"), Ok(Some(19)));
    assert_eq!(t.recv(b"x"), Err(ProxyError::Finished));
    assert_eq!(t.recv_eof(), ProxyError::Finished);
}

#[test]
fn connect_skips_interim_answers() {
    let both = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    assert_eq!(answer(http, both), Ok(Some(both.len())));
    let err = answer(http, b"HTTP/1.1 100 Continue\r\n\r\nSSH-2.0\r\n");
    assert_eq!(err, Err(ProxyError::NotHttp(b'S')));
}

#[test]
fn connect_407_and_401_are_credentials() {
    let err = answer(http, b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
    assert_eq!(
        err,
        Err(ProxyError::AuthRequired {
            status: 407,
            credentials_sent: false
        })
    );
    let with = || tunnel("http://u:wrong@p:3128", Target::Name("example.com", 443));
    let err = answer(
        with,
        b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n\r\n",
    );
    let err = err.unwrap_err();
    assert_eq!(
        err,
        ProxyError::AuthRequired {
            status: 401,
            credentials_sent: true
        }
    );
    assert!(err.to_string().contains("refused the credentials"), "{err}");
}

#[test]
fn connect_other_statuses_carry_the_status_line() {
    for (answer_bytes, status, line) in [
        (
            &b"HTTP/1.1 403 Filtered\r\n\r\n"[..],
            403,
            "HTTP/1.1 403 Filtered",
        ),
        (
            b"HTTP/1.0 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nabc",
            502,
            "HTTP/1.0 502 Bad Gateway",
        ),
        (b"HTTP/1.1 503 \r\n\r\n", 503, "HTTP/1.1 503"),
        (
            b"HTTP/1.1 302 Found\r\nLocation: /\r\n\r\n",
            302,
            "HTTP/1.1 302 Found",
        ),
    ] {
        let err = answer(http, answer_bytes).unwrap_err();
        assert_eq!(
            err,
            ProxyError::Refused {
                status,
                status_line: line.to_string()
            }
        );
        assert!(err.to_string().ends_with(line), "{err}");
    }
    // A 101 to CONNECT makes no sense.
    let err = answer(http, b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    assert!(matches!(err, Err(ProxyError::Malformed(_))));
}

#[test]
fn connect_garbage_answers() {
    // A SOCKS5 proxy's method selection, a TLS alert, an SSH banner: at the first byte.
    assert_eq!(answer(http, b"\x05\xff"), Err(ProxyError::NotHttp(5)));
    assert_eq!(
        answer(http, b"\x15\x03\x01"),
        Err(ProxyError::NotHttp(0x15))
    );
    assert_eq!(
        answer(http, b"HTTX/1.1 200"),
        Err(ProxyError::NotHttp(b'X'))
    );
    assert_eq!(answer(http, b"\r\nSSH"), Err(ProxyError::NotHttp(b'S')));
    // Not a status line, no status code, a bad header.
    for bad in [
        &b"HTTP/1.1\r\n\r\n"[..],
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
    ] {
        let err = answer(http, bad);
        assert!(
            matches!(err, Err(ProxyError::Http(HeaderError::Malformed(_)))),
            "{bad:?}: {err:?}"
        );
    }
    // The end of the stream in the middle.
    let mut t = http();
    take(&mut t);
    assert_eq!(t.recv(b"HTTP/1.1 200 OK\r\n"), Ok(None));
    assert_eq!(t.recv_eof(), ProxyError::Truncated);
    assert_eq!(t.recv(b"\r\n"), Err(ProxyError::Finished));
}

#[test]
fn connect_answer_is_read_under_the_handshake_limits() {
    let limits = Limits {
        max_line_bytes: 32,
        max_header_bytes: 64,
        max_headers: 2,
        ..Limits::default()
    };
    let proxy = Proxy::parse("http://p").unwrap();
    let make = || Tunnel::new(&proxy, Target::Name("h", 1), &limits).unwrap();
    let long_line = alloc::format!("HTTP/1.1 200 {}\r\n\r\n", "x".repeat(40));
    assert_eq!(
        answer(make, long_line.as_bytes()),
        Err(ProxyError::Http(HeaderError::StartLineTooLong {
            limit: 32
        }))
    );
    let many = b"HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n";
    assert_eq!(
        answer(make, many),
        Err(ProxyError::Http(HeaderError::TooManyHeaders { limit: 2 }))
    );
    // An endless header block stops at the limit, not at the end of the stream.
    let endless = b"HTTP/1.1 200 OK\r\nx: 1234567890123456789012\r\ny: 1234567890123456789012\r\n";
    assert_eq!(
        answer(make, endless),
        Err(ProxyError::Http(HeaderError::HeadersTooLarge { limit: 64 }))
    );
}

// ------------------------------------------------------------------ SOCKS5

fn socks_name() -> Tunnel {
    tunnel("socks5h://p", Target::Name("example.com", 443))
}

fn socks_auth() -> Tunnel {
    tunnel(
        "socks5://user:pw@p",
        Target::Addr(SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80))),
    )
}

/// The success reply with a bound IPv4 address.
const REPLY_V4: &[u8] = &[5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90];

#[test]
fn socks5_without_auth_asks_the_proxy_to_resolve_the_name() {
    let mut t = socks_name();
    assert_eq!(take(&mut t), [5, 1, 0]);
    assert_eq!(t.recv(&[5, 0]), Ok(None));
    let mut connect = alloc::vec![5, 1, 0, 3, 11];
    connect.extend_from_slice(b"example.com");
    connect.extend_from_slice(&443u16.to_be_bytes());
    assert_eq!(take(&mut t), connect);
    assert_eq!(t.recv(REPLY_V4), Ok(Some(REPLY_V4.len())));
    assert_eq!(t.recv(&[0]), Err(ProxyError::Finished));
}

#[test]
fn socks5_with_auth_sends_rfc1929_then_an_address() {
    let mut t = socks_auth();
    assert_eq!(take(&mut t), [5, 2, 0, 2]);
    assert_eq!(t.recv(&[5, 2]), Ok(None));
    assert_eq!(take(&mut t), [1, 4, b'u', b's', b'e', b'r', 2, b'p', b'w']);
    assert_eq!(t.recv(&[1, 0]), Ok(None));
    assert_eq!(take(&mut t), [5, 1, 0, 1, 10, 0, 0, 1, 0, 80]);
    // A domain and an IPv6 bound address are read to their end, and what follows is left.
    let mut reply = alloc::vec![5, 0, 0, 3, 4];
    reply.extend_from_slice(b"host\x00\x50tail");
    assert_eq!(t.recv(&reply), Ok(Some(reply.len() - 4)));
    // The proxy may skip authentication even when credentials were offered.
    let mut t = socks_auth();
    take(&mut t);
    assert_eq!(t.recv(&[5, 0]), Ok(None));
    assert_eq!(take(&mut t)[..4], [5, 1, 0, 1]);
    let mut v6 = alloc::vec![5, 0, 0, 4];
    v6.extend_from_slice(&[0; 18]);
    assert_eq!(t.recv(&v6), Ok(Some(22)));
}

#[test]
fn socks5_ip_literal_names_go_as_addresses() {
    let mut t = tunnel("socks5h://p", Target::Name("::1", 7));
    take(&mut t);
    t.recv(&[5, 0]).unwrap();
    let out = take(&mut t);
    assert_eq!(out[..4], [5, 1, 0, 4]);
    assert_eq!(out.len(), 4 + 16 + 2);
    let proxy = Proxy::parse("socks5h://p").unwrap();
    let long = "a".repeat(256);
    let err = Tunnel::new(&proxy, Target::Name(&long, 1), &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("255"), "{err}");
    let err = Tunnel::new(&proxy, Target::Name("a b", 1), &Limits::default()).unwrap_err();
    assert!(matches!(err, ProxyError::InvalidTarget(_)));
}

/// Runs a SOCKS exchange through the method selection (and authentication) to the reply.
fn socks_at_reply() -> Tunnel {
    let mut t = socks_auth();
    take(&mut t);
    t.recv(&[5, 2]).unwrap();
    take(&mut t);
    t.recv(&[1, 0]).unwrap();
    t
}

#[test]
fn socks5_method_selection_errors() {
    assert_eq!(
        answer(socks_name, &[5, 0xFF]),
        Err(ProxyError::SocksNoAcceptableMethod {
            credentials_sent: false
        })
    );
    assert_eq!(
        answer(socks_auth, &[5, 0xFF]),
        Err(ProxyError::SocksNoAcceptableMethod {
            credentials_sent: true
        })
    );
    // Username/password chosen though not offered; GSSAPI; an unassigned method.
    for method in [2, 1, 0x80] {
        let err = answer(socks_name, &[5, method]);
        assert!(
            matches!(err, Err(ProxyError::Malformed(_))),
            "{method}: {err:?}"
        );
    }
    // An HTTP proxy's answer, a SOCKS4 reply: not version 5, at the first byte.
    let err = answer(socks_name, b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap_err();
    assert!(err.to_string().contains("http://"), "{err}");
    assert!(matches!(
        answer(socks_name, &[0, 0x5a]),
        Err(ProxyError::Malformed(_))
    ));
    // Bytes before our next message are the start of the next answer.
    assert_eq!(answer(socks_name, &[5, 0, 5]), Ok(None));
    assert_eq!(
        answer(socks_name, &[5, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 1]),
        Ok(Some(12))
    );
    // The end of the stream.
    let mut t = socks_name();
    take(&mut t);
    assert_eq!(t.recv(&[5]), Ok(None));
    assert_eq!(t.recv_eof(), ProxyError::Truncated);
}

#[test]
fn socks5_authentication_errors() {
    let at_auth = || {
        let mut t = socks_auth();
        take(&mut t);
        t.recv(&[5, 2]).unwrap();
        t
    };
    let err = answer(at_auth, &[1, 1]).unwrap_err();
    assert_eq!(err, ProxyError::SocksAuthFailed(1));
    assert!(err.to_string().contains("user name and password"), "{err}");
    assert_eq!(
        answer(at_auth, &[1, 0xFF]),
        Err(ProxyError::SocksAuthFailed(0xFF))
    );
    // Some servers answer with version 5: accepted.
    assert_eq!(answer(at_auth, &[5, 0]), Ok(None));
    assert!(matches!(
        answer(at_auth, &[2, 0]),
        Err(ProxyError::Malformed(_))
    ));
    assert_eq!(
        answer(at_auth, &[1, 0, 5, 1]),
        Err(ProxyError::SocksReply(1))
    );
}

#[test]
fn socks5_every_reply_code_has_its_own_message() {
    let mut messages = Vec::<String>::new();
    for code in 1..=9u8 {
        let err = answer(socks_at_reply, &[5, code, 0, 1]).unwrap_err();
        assert_eq!(err, ProxyError::SocksReply(code));
        let text = err.to_string();
        assert!(text.contains(&alloc::format!("reply {code}")), "{text}");
        assert!(!messages.contains(&text));
        messages.push(text);
    }
    assert!(messages[4].contains("refused"));
    assert!(messages[8].contains("unassigned"));
}

#[test]
fn socks5_malformed_replies() {
    for bad in [&[4u8, 0][..], &[5, 0, 0, 2], &[5, 0, 0, 0], &[5, 0, 0, 5]] {
        let err = answer(socks_at_reply, bad);
        assert!(
            matches!(err, Err(ProxyError::Malformed(_))),
            "{bad:?}: {err:?}"
        );
    }
    // A reply cut short, at each point.
    for cut in 1..REPLY_V4.len() {
        let mut t = socks_at_reply();
        assert_eq!(t.recv(&REPLY_V4[..cut]), Ok(None));
        assert_eq!(t.recv_eof(), ProxyError::Truncated);
    }
    let mut t = socks_at_reply();
    assert_eq!(t.recv(&[5, 0, 0, 3]), Ok(None));
    assert_eq!(t.recv(&[3, b'a', b'b']), Ok(None));
    assert_eq!(t.recv(&[b'c', 0]), Ok(None));
    assert_eq!(t.recv(&[1]), Ok(Some(1)));
}

// ------------------------------------------------------------------ environment

fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

fn chosen(url: &str, vars: &[(&str, &str)]) -> Option<String> {
    let url = crate::handshake::Url::parse(url).unwrap();
    Proxy::from_env(&url, env(vars))
        .unwrap()
        .map(|p| p.to_string())
}

#[test]
fn env_picks_the_variable_for_the_scheme() {
    let vars = [
        ("HTTPS_PROXY", "http://secure:1"),
        ("http_proxy", "http://plain:2"),
        ("ALL_PROXY", "socks5h://all:3"),
    ];
    assert_eq!(
        chosen("wss://a/", &vars).as_deref(),
        Some("http://secure:1")
    );
    assert_eq!(chosen("ws://a/", &vars).as_deref(), Some("http://plain:2"));
    assert_eq!(chosen("ws://a/", &vars[..1]), None);
    assert_eq!(
        chosen("ws://a/", &[vars[0], vars[2]]).as_deref(),
        Some("socks5h://all:3")
    );
    // Lower case first; empty counts as unset.
    let both = [
        ("https_proxy", "http://lower:1"),
        ("HTTPS_PROXY", "http://upper:1"),
    ];
    assert_eq!(chosen("wss://a/", &both).as_deref(), Some("http://lower:1"));
    let empty = [("https_proxy", " "), ("HTTPS_PROXY", "http://upper:1")];
    assert_eq!(
        chosen("wss://a/", &empty).as_deref(),
        Some("http://upper:1")
    );
    assert_eq!(chosen("wss://a/", &[]), None);
    // httpoxy: a CGI request's Proxy header is not a proxy.
    let cgi = [("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")];
    assert_eq!(chosen("ws://a/", &cgi), None);
}

#[test]
fn env_no_proxy_bypasses_listed_hosts_only() {
    let base = [("all_proxy", "http://p:1")];
    let with = |list: &'static str| [base[0], ("NO_PROXY", list)];
    // Loopback goes through the proxy unless listed.
    assert!(chosen("ws://127.0.0.1:9/", &base).is_some());
    assert!(chosen("ws://localhost:9/", &base).is_some());
    assert_eq!(chosen("ws://127.0.0.1:9/", &with("127.0.0.1")), None);
    assert_eq!(chosen("ws://[::1]:9/", &with("[::1]")), None);
    assert_eq!(chosen("ws://localhost:9/", &with("*")), None);
    assert_eq!(chosen("ws://a.example.com/", &with("example.com")), None);
    assert_eq!(chosen("ws://A.Example.COM/", &with(".example.com")), None);
    assert!(chosen("ws://badexample.com/", &with("example.com")).is_some());
    assert!(chosen("ws://localhost:9/", &with("127.0.0.1")).is_some());
    // A bad proxy URL names its variable, but only when it is used.
    let bad = [("https_proxy", "ftp://x"), ("no_proxy", "skip.me")];
    let url = crate::handshake::Url::parse("wss://a/").unwrap();
    let err = Proxy::from_env(&url, env(&bad)).unwrap_err();
    assert!(matches!(
        err,
        ProxyError::InvalidUrl {
            from: "https_proxy",
            ..
        }
    ));
    assert!(err.to_string().contains("https_proxy"), "{err}");
    let url = crate::handshake::Url::parse("wss://skip.me/").unwrap();
    assert_eq!(Proxy::from_env(&url, env(&bad)), Ok(None));
}

#[test]
fn no_proxy_entries() {
    let list = NoProxy::parse(
        " .a.example , *.b.example\tc.example. 10.0.0.0/8 fd00::/8 ::1 [::2]:80 1.2.3.4:443 d.example:9 bad/host 300.1.1.1/99 *",
    );
    assert!(list.matches("anything", 1));
    let list = NoProxy::parse(
        ".a.example,*.b.example c.example. 10.0.0.0/8 fd00::/8 ::1 [::2]:80 1.2.3.4:443 d.example:9 0.0.0.0/0x",
    );
    for (host, port, want) in [
        ("a.example", 1, true),
        ("x.y.a.example", 1, true),
        ("b.example", 1, true),
        ("x.b.example.", 1, true),
        ("c.example", 1, true),
        ("xa.example", 1, false),
        ("example", 1, false),
        ("10.255.0.1", 1, true),
        ("11.0.0.1", 1, false),
        ("fd12::1", 1, true),
        ("fe80::1", 1, false),
        ("::1", 1, true),
        ("[::1]", 1, true),
        ("::2", 80, true),
        ("::2", 81, false),
        ("1.2.3.4", 443, true),
        ("1.2.3.4", 80, false),
        ("d.example", 9, true),
        ("d.example", 10, false),
        ("127.0.0.1", 1, false),
        ("localhost", 1, false),
    ] {
        assert_eq!(list.matches(host, port), want, "{host}:{port}");
    }
    assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8", 1));
    assert!(!NoProxy::parse("0.0.0.0/0").matches("::1", 1));
    assert!(!NoProxy::parse("").matches("a", 1));
}
