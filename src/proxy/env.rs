//! The proxy the standard environment variables choose: `https_proxy`, `http_proxy`,
//! `all_proxy` and the `no_proxy` list, read through a lookup function so the choice is a
//! pure function (and testable without touching the process's environment). With `std`,
//! also the adapters' choice between a builder's proxy and the process's environment.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;

use super::{Proxy, ProxyError};
use crate::handshake::Url;

/// Which proxy an adapter's client uses: the one given to its builder, else the
/// environment's unless that is ignored. Held by the blocking and the tokio `ClientBuilder`.
#[cfg(feature = "std")]
#[derive(Clone, Debug)]
pub(crate) struct ProxyChoice {
    /// `ClientBuilder::proxy`.
    pub(crate) url: Option<String>,
    /// Whether to read the proxy variables (unless `url` is set).
    pub(crate) env: bool,
}

#[cfg(feature = "std")]
impl Default for ProxyChoice {
    fn default() -> ProxyChoice {
        ProxyChoice {
            url: None,
            env: true,
        }
    }
}

#[cfg(feature = "std")]
impl ProxyChoice {
    /// The proxy for `url`, if any.
    pub(crate) fn proxy(&self, url: &Url) -> Result<Option<Proxy>, ProxyError> {
        match &self.url {
            Some(proxy) => Proxy::parse(proxy).map(Some),
            None if self.env => Proxy::from_env(url, |name| std::env::var(name).ok()),
            None => Ok(None),
        }
    }
}

impl Proxy {
    /// The proxy the environment chooses for `url`, with `var` looking a variable up
    /// (`|name| std::env::var(name).ok()` for the process's own).
    ///
    /// - `wss://` URLs use `https_proxy`, `ws://` URLs `http_proxy`; either falls back to
    ///   `all_proxy`. Each name is looked up in lower case first, then in upper case
    ///   (`HTTPS_PROXY`); an empty value counts as unset. `HTTP_PROXY` in upper case is
    ///   ignored when `REQUEST_METHOD` is set: in a CGI program a client's `Proxy:` header
    ///   arrives as `HTTP_PROXY` (httpoxy), as curl and Python also guard against.
    /// - `no_proxy` (or `NO_PROXY`) lists the hosts to reach directly; see [`NoProxy`].
    ///   Nothing is bypassed unless listed, loopback included.
    ///
    /// ```
    /// use rfc6455::handshake::Url;
    /// use rfc6455::proxy::Proxy;
    ///
    /// let env = |name: &str| match name {
    ///     "HTTPS_PROXY" => Some("http://proxy.corp:3128".to_string()),
    ///     "NO_PROXY" => Some("localhost,.internal".to_string()),
    ///     _ => None,
    /// };
    /// let proxy = Proxy::from_env(&Url::parse("wss://example.com/")?, env)?;
    /// assert_eq!(proxy.map(|p| p.to_string()).as_deref(), Some("http://proxy.corp:3128"));
    /// assert_eq!(Proxy::from_env(&Url::parse("wss://db.internal/")?, env)?, None);
    /// assert_eq!(Proxy::from_env(&Url::parse("ws://example.com/")?, env)?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ProxyError::InvalidUrl`] naming the variable whose value cannot be parsed (see
    /// [`Proxy::parse`]).
    pub fn from_env(
        url: &Url,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Proxy>, ProxyError> {
        let set = |name: &'static str| var(name).filter(|v| !v.trim().is_empty());
        let cgi = set("REQUEST_METHOD").is_some();
        let names: &[&'static str] = if url.is_secure() {
            &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
        } else if cgi {
            &["http_proxy", "all_proxy", "ALL_PROXY"]
        } else {
            &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        };
        let Some((name, value)) = names.iter().find_map(|&n| set(n).map(|v| (n, v))) else {
            return Ok(None);
        };
        let no_proxy = set("no_proxy").or_else(|| set("NO_PROXY"));
        if no_proxy.is_some_and(|list| NoProxy::parse(&list).matches(url.host(), url.port())) {
            return Ok(None);
        }
        super::url::parse(&value)
            .map(Some)
            .map_err(|why| ProxyError::InvalidUrl { from: name, why })
    }
}

/// A `no_proxy` list: the hosts to reach directly rather than through the proxy.
///
/// Entries are separated by commas or whitespace and compared case-insensitively:
/// - `*` alone: every host;
/// - a domain, with or without a leading `.` (or `*.`): that name and every name under it
///   (`example.com` and `.example.com` both match `example.com` and `a.example.com`, not
///   `badexample.com`);
/// - an IP address (`127.0.0.1`, `::1`, `[::1]`) or a CIDR block (`10.0.0.0/8`): a URL whose
///   host is such an address (names are not resolved to be compared);
/// - any of these with `:port`: only that port.
///
/// Entries that are none of these are ignored. Nothing else is bypassed: not `localhost`,
/// not loopback addresses, unless listed.
///
/// ```
/// use rfc6455::proxy::NoProxy;
/// let list = NoProxy::parse(".corp.example, 10.0.0.0/8, ::1, localhost:9002");
/// assert!(list.matches("git.corp.example", 443));
/// assert!(list.matches("10.1.2.3", 80));
/// assert!(list.matches("::1", 80));
/// assert!(list.matches("localhost", 9002));
/// assert!(!list.matches("localhost", 9003));
/// assert!(!list.matches("127.0.0.1", 80));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    entries: Vec<(Pattern, Option<u16>)>,
}

/// One `no_proxy` entry, without its port.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    /// A domain, lower case, without leading or trailing dots.
    Domain(String),
    /// An address block: the address and the prefix length (32 or 128 for one address).
    Net(IpAddr, u8),
}

impl NoProxy {
    /// Parses a list as `no_proxy` holds it.
    #[must_use]
    pub fn parse(list: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for entry in list.split(|c: char| c == ',' || c.is_whitespace()) {
            if entry == "*" {
                out.all = true;
            } else if let Some(parsed) = parse_entry(entry) {
                out.entries.push(parsed);
            }
        }
        out
    }

    /// Whether `host` (as a URL holds it: an IPv6 literal with or without brackets) on
    /// `port` is to be reached directly.
    #[must_use]
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches([']', '.']);
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|(pattern, p)| {
            p.is_none_or(|p| p == port)
                && match (pattern, ip) {
                    (Pattern::Net(net, bits), Some(ip)) => in_block(ip, *net, *bits),
                    (Pattern::Domain(domain), None) => {
                        let len = host.len();
                        host.eq_ignore_ascii_case(domain)
                            || (len > domain.len()
                                && host.get(len - domain.len() - 1..).is_some_and(|tail| {
                                    tail.starts_with('.') && tail[1..].eq_ignore_ascii_case(domain)
                                }))
                    }
                    _ => false,
                }
        })
    }
}

/// One entry, without `*`; `None` when it is none of the forms [`NoProxy`] knows.
fn parse_entry(entry: &str) -> Option<(Pattern, Option<u16>)> {
    if entry.is_empty() {
        return None;
    }
    // An IP address or block, alone.
    if let Some(net) = parse_net(entry) {
        return Some((net, None));
    }
    // `[v6]`, `[v6]:port`, `name:port`, `v4:port`.
    let (host, port) = match entry.strip_prefix('[') {
        Some(rest) => {
            let (ip, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?.parse().ok()?),
            };
            return Some((Pattern::Net(ip.parse().ok()?, 128), port));
        }
        None => match entry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse::<u16>().ok()?)),
            None => (entry, None),
        },
    };
    if let Some(net) = parse_net(host) {
        return Some((net, port));
    }
    let domain = host
        .strip_prefix("*.")
        .unwrap_or(host)
        .trim_start_matches('.')
        .trim_end_matches('.');
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if domain.is_empty() || !domain.bytes().all(ok) {
        return None;
    }
    Some((Pattern::Domain(domain.to_ascii_lowercase()), port))
}

/// `addr` or `addr/bits`.
fn parse_net(text: &str) -> Option<Pattern> {
    let (addr, bits) = match text.split_once('/') {
        Some((addr, bits)) => (addr, Some(bits.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let ip = addr.parse::<IpAddr>().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some(Pattern::Net(ip, bits))
}

/// Whether `ip` is in the block `net/bits` (of the same family).
fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    // `bits` is at most `width`, so the shift is at most 128; 128 means every address.
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}
