//! Proxy URLs: `scheme://[user[:password]@]host[:port][/]`.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Credentials, Proxy, ProxyKind};

/// Parses a proxy URL; the error says what is wrong.
pub(super) fn parse(url: &str) -> Result<Proxy, &'static str> {
    let url = url.trim();
    let (kind, rest) = match url.split_once("://") {
        None => (ProxyKind::Http, url),
        Some((scheme, rest)) => {
            let kind = match scheme.to_ascii_lowercase().as_str() {
                "http" => ProxyKind::Http,
                "socks5" => ProxyKind::Socks5,
                "socks5h" => ProxyKind::Socks5h,
                "https" => {
                    return Err(
                        "https:// (TLS to the proxy) is not supported; use http://, \
                                which still carries wss:// end-to-end encrypted",
                    );
                }
                "socks4" | "socks4a" => return Err("SOCKS4 is not supported; use socks5://"),
                _ => return Err("the scheme must be http://, socks5:// or socks5h://"),
            };
            (kind, rest)
        }
    };
    let authority = match rest.strip_suffix('/') {
        Some(a) => a,
        None => rest,
    };
    if authority.contains(['/', '?', '#']) {
        return Err("a proxy URL has no path, query or fragment");
    }
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    let credentials = match userinfo {
        None => None,
        Some(userinfo) => {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let user = decode(user)?;
            let pass = decode(pass)?;
            if user.is_empty() {
                return Err("the user name before @ is empty");
            }
            if kind != ProxyKind::Http && (user.len() > 255 || pass.len() > 255) {
                return Err("a SOCKS5 user name or password is longer than 255 bytes");
            }
            Some(Credentials { user, pass })
        }
    };
    let (host, after) = match hostport.strip_prefix('[') {
        Some(literal) => {
            let (ip, after) = literal
                .split_once(']')
                .ok_or("an IPv6 literal lacks its closing ]")?;
            ip.parse::<core::net::Ipv6Addr>()
                .map_err(|_| "the [IPv6] host is not an IPv6 address")?;
            (ip, after)
        }
        None => hostport.split_at(hostport.find(':').unwrap_or(hostport.len())),
    };
    let dns = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':');
    if host.is_empty() || !host.bytes().all(dns) {
        return Err("the host is missing or not a DNS name, IPv4 address or [IPv6] literal");
    }
    let port = match after {
        "" if kind == ProxyKind::Http => 80,
        "" => 1080,
        _ => {
            let digits = after
                .strip_prefix(':')
                .ok_or("unexpected text after the host")?;
            let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            match digits.parse::<u16>() {
                Ok(port) if valid && port != 0 => port,
                _ => return Err("the port must be a number from 1 to 65535"),
            }
        }
    };
    Ok(Proxy {
        kind,
        host: String::from(host),
        port,
        credentials,
    })
}

/// Percent-decodes a user name or password, which must then be UTF-8.
fn decode(s: &str) -> Result<String, &'static str> {
    const BAD: &str = "a % in the user name or password is not followed by two hex digits";
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hex = |b: Option<u8>| b.and_then(|b| char::from(b).to_digit(16));
        let (hi, lo) = (hex(bytes.next()).ok_or(BAD)?, hex(bytes.next()).ok_or(BAD)?);
        // Two hex digits make at most 255.
        out.push(u8::try_from(hi * 16 + lo).map_err(|_| BAD)?);
    }
    String::from_utf8(out).map_err(|_| "the decoded user name or password is not UTF-8")
}
