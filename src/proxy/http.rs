//! HTTP `CONNECT` ([RFC 9110 section 9.3.6](https://www.rfc-editor.org/rfc/rfc9110#section-9.3.6)):
//! the request, and the proxy's answer read under the handshake's limits.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{Credentials, ProxyError, Target};
use crate::handshake::{Head, Limits, parsed};

/// Waiting for the answer to a `CONNECT`.
#[derive(Debug)]
pub(super) struct Connect {
    head: Head,
    limits: Limits,
    /// Bytes of `HTTP/` matched so far at the start of the current answer.
    prefix: usize,
    credentials_sent: bool,
}

/// `host:port` as a request target (an IPv6 literal in brackets), checked.
pub(super) fn authority(target: Target<'_>) -> Result<String, ProxyError> {
    match target {
        Target::Addr(addr) => Ok(format!("{addr}")),
        Target::Name(host, port) => {
            let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
            if host.parse::<core::net::Ipv6Addr>().is_ok() {
                Ok(format!("[{host}]:{port}"))
            } else if !host.is_empty() && host.bytes().all(ok) {
                Ok(format!("{host}:{port}"))
            } else {
                Err(ProxyError::InvalidTarget(
                    "the host is empty or not a DNS name or IP address",
                ))
            }
        }
    }
}

impl Connect {
    /// The `CONNECT` request for `target`, and the state that reads its answer.
    pub(super) fn new(
        target: Target<'_>,
        credentials: Option<&Credentials>,
        limits: Limits,
    ) -> Result<(Connect, Vec<u8>), ProxyError> {
        let authority = authority(target)?;
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(c) = credentials {
            let token = BASE64.encode(format!("{}:{}", c.user, c.pass));
            request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        let connect = Connect {
            head: Head::default(),
            limits,
            prefix: 0,
            credentials_sent: credentials.is_some(),
        };
        Ok((connect, request.into_bytes()))
    }

    /// Feeds the answer; `Some(used)` once a 2xx header block ended at `data[used - 1]`.
    pub(super) fn recv(&mut self, data: &[u8]) -> Result<Option<usize>, ProxyError> {
        let mut start = 0;
        loop {
            let rest = data.get(start..).unwrap_or_default();
            // The header block is fed only up to the first byte that cannot start an answer:
            // whichever error comes first in the bytes wins, however they are chunked.
            let bad = self.check_prefix(rest);
            let upto = bad.map_or(rest.len(), |(at, _)| at);
            let Some(used) = self
                .head
                .feed(&rest[..upto], &self.limits)
                .map_err(ProxyError::Http)?
            else {
                return match bad {
                    Some((_, byte)) => Err(ProxyError::NotHttp(byte)),
                    None => Ok(None),
                };
            };
            start += used;
            let head = core::mem::take(&mut self.head);
            if self.status(&head)? >= 200 {
                return Ok(Some(start));
            }
            // An interim answer (100 Continue and the like): the real one follows.
            self.prefix = 0;
        }
    }

    /// Where the answer stops being able to begin with `HTTP/`, and the byte there; empty
    /// lines before it are allowed, as for a WebSocket response.
    fn check_prefix(&mut self, data: &[u8]) -> Option<(usize, u8)> {
        for (at, &byte) in data.iter().enumerate() {
            if self.prefix >= 5 {
                return None;
            }
            if self.prefix == 0 && matches!(byte, b'\r' | b'\n') {
                continue;
            }
            match b"HTTP/".get(self.prefix) {
                Some(&want) if want == byte => self.prefix += 1,
                _ => return Some((at, byte)),
            }
        }
        None
    }

    /// The status of a complete header block: 1xx (interim) and 2xx (the tunnel is open)
    /// pass, the rest fail.
    fn status(&self, head: &Head) -> Result<u16, ProxyError> {
        let mut slots = head.header_slots();
        let mut response = httparse::Response::new(&mut slots);
        parsed(response.parse(&head.buf), head.buf.len()).map_err(ProxyError::Http)?;
        let status = response.code.unwrap_or_default();
        match status {
            101 => Err(ProxyError::Malformed(
                "the proxy answered CONNECT with 101 Switching Protocols",
            )),
            100..=299 => Ok(status),
            401 | 407 => Err(ProxyError::AuthRequired {
                status,
                credentials_sent: self.credentials_sent,
            }),
            _ => Err(ProxyError::Refused {
                status,
                status_line: format!(
                    "HTTP/1.{} {status} {}",
                    response.version.unwrap_or(1),
                    response.reason.unwrap_or_default()
                )
                .trim_end()
                .into(),
            }),
        }
    }
}
