//! Target `proxy_reply`: the proxy answer parsers behind `Tunnel::recv`, HTTP CONNECT and
//! SOCKS5 (with or without username/password), fed arbitrary bytes in arbitrary chunks.
//!
//! Oracles: the outcome (the offset where the tunnel opened, or the error) does not depend on
//! the chunking; the tunnel opens within the input, an HTTP answer at the end of a header
//! block no larger than the limits allow per answer; a finished exchange refuses more input;
//! the end of the stream before the answer is complete is `Truncated`; every error has a
//! message.

use rfc6455::handshake::Limits;
use rfc6455::proxy::{Proxy, ProxyError, Target, Tunnel};

use super::{Input, chunks};

/// The proxies a flags byte selects (bits 0-1), and small limits (bit 2).
pub fn tunnel(flags: u8) -> (Tunnel, Limits) {
    let url = match flags & 3 {
        0 => "http://proxy:3128",
        1 => "http://user:pass@proxy:3128",
        2 => "socks5h://proxy:1080",
        _ => "socks5h://user:pass@proxy:1080",
    };
    let mut limits = Limits::default();
    if flags & 4 != 0 {
        limits.max_line_bytes = 64;
        limits.max_header_bytes = 256;
        limits.max_headers = 6;
    }
    let proxy = Proxy::parse(url).expect("a valid proxy URL");
    let tunnel =
        Tunnel::new(&proxy, Target::Name("example.com", 443), &limits).expect("a valid target");
    (tunnel, limits)
}

/// Feeds the pieces, writing output as a driver would; the outcome with absolute offsets.
fn drive(flags: u8, pieces: &[&[u8]]) -> Result<Option<usize>, ProxyError> {
    let (mut tunnel, _) = tunnel(flags);
    let mut offset = 0;
    for piece in pieces {
        let n = tunnel.pending_output().len();
        tunnel.consume_output(n);
        match tunnel.recv(piece) {
            Ok(None) => offset += piece.len(),
            Ok(Some(used)) => {
                assert!(used <= piece.len());
                assert_eq!(tunnel.recv(b"x"), Err(ProxyError::Finished));
                return Ok(Some(offset + used));
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                assert_eq!(tunnel.recv(b"x"), Err(ProxyError::Finished));
                return Err(e);
            }
        }
    }
    assert_eq!(tunnel.recv_eof(), ProxyError::Truncated);
    Ok(None)
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let sizes = input.chunk_sizes();
    let bytes = input.rest();
    let whole = drive(flags, &[bytes]);
    let split = drive(flags, &chunks(bytes, &sizes));
    assert_eq!(whole, split, "the chunking changed the outcome");
    if let Ok(Some(end)) = whole {
        let answer = &bytes[..end];
        if flags & 2 == 0 {
            assert!(answer.ends_with(b"\n\n") || answer.ends_with(b"\n\r\n"));
        } else {
            // Method selection, (authentication,) and a reply of 7 (an empty domain) to
            // 262 bytes.
            assert!(
                answer.len() >= 2 + 7 && answer.len() <= 2 + 2 + 262,
                "{answer:?}"
            );
        }
    }
}
