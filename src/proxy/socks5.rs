//! SOCKS5 ([RFC 1928](https://www.rfc-editor.org/rfc/rfc1928)) with username/password
//! authentication ([RFC 1929](https://www.rfc-editor.org/rfc/rfc1929)): the greeting, the
//! authentication and the CONNECT request, and the proxy's three answers, read a byte at a
//! time into a buffer of at most 262 bytes (the longest reply).

use alloc::vec::Vec;
use core::net::IpAddr;

use super::{Credentials, ProxyError, Target};

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const USER_PASS: u8 = 2;
const NO_ACCEPTABLE: u8 = 0xFF;
const CONNECT: u8 = 1;
const IPV4: u8 = 1;
const DOMAIN: u8 = 3;
const IPV6: u8 = 4;

/// Where the exchange is: which answer is awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The method selection: `VER METHOD`.
    Method,
    /// The RFC 1929 status: `VER STATUS`.
    Auth,
    /// The reply to CONNECT: `VER REP RSV ATYP BND.ADDR BND.PORT`.
    Reply,
}

/// The client side of a SOCKS5 exchange.
#[derive(Debug)]
pub(super) struct Socks5 {
    stage: Stage,
    /// The current answer so far.
    answer: Vec<u8>,
    /// The RFC 1929 request, when credentials are given.
    auth: Option<Vec<u8>>,
    /// The CONNECT request.
    connect: Vec<u8>,
}

impl Socks5 {
    /// The exchange for `target`, and the greeting to write first. With credentials,
    /// username/password is offered besides no authentication.
    pub(super) fn new(
        target: Target<'_>,
        credentials: Option<&Credentials>,
    ) -> Result<(Socks5, Vec<u8>), ProxyError> {
        let connect = connect_request(target)?;
        let auth = credentials.map(auth_request).transpose()?;
        let greeting = match auth {
            Some(_) => alloc::vec![VERSION, 2, NO_AUTH, USER_PASS],
            None => alloc::vec![VERSION, 1, NO_AUTH],
        };
        let socks = Socks5 {
            stage: Stage::Method,
            answer: Vec::new(),
            auth,
            connect,
        };
        Ok((socks, greeting))
    }

    /// Feeds the proxy's bytes; the next request, if one is due, goes to `output`.
    /// `Some(used)` once the CONNECT reply ended at `data[used - 1]`.
    pub(super) fn recv(
        &mut self,
        data: &[u8],
        output: &mut Vec<u8>,
    ) -> Result<Option<usize>, ProxyError> {
        for (i, &byte) in data.iter().enumerate() {
            self.answer.push(byte);
            let Some(next) = self.step()? else {
                continue;
            };
            self.answer.clear();
            match next {
                None => return Ok(Some(i + 1)),
                // Bytes after this answer (sent before our request: out of turn, but
                // harmless) are read as the start of the next one, so no chunking of the
                // input changes the outcome.
                Some((stage, request)) => {
                    self.stage = stage;
                    output.extend_from_slice(&request);
                }
            }
        }
        Ok(None)
    }

    /// Checks the answer so far. `Ok(None)`: incomplete. `Ok(Some(None))`: the CONNECT
    /// reply is complete. `Ok(Some(Some((stage, request))))`: this answer is complete; send
    /// `request` and wait in `stage`.
    #[allow(clippy::type_complexity)]
    fn step(&self) -> Result<Option<Option<(Stage, Vec<u8>)>>, ProxyError> {
        let a = self.answer.as_slice();
        match (self.stage, a) {
            (_, [v]) if *v != VERSION && !(self.stage == Stage::Auth && *v == 1) => {
                Err(ProxyError::Malformed(match self.stage {
                    Stage::Method => {
                        "the answer does not begin with SOCKS version 5: is it a SOCKS5 \
                         proxy? An HTTP proxy needs an http:// URL"
                    }
                    Stage::Auth => "the authentication status is not version 1",
                    Stage::Reply => "the CONNECT reply is not SOCKS version 5",
                }))
            }
            (Stage::Method, [_, method]) => match (*method, &self.auth) {
                (NO_AUTH, _) => Ok(Some(Some((Stage::Reply, self.connect.clone())))),
                (USER_PASS, Some(auth)) => Ok(Some(Some((Stage::Auth, auth.clone())))),
                (NO_ACCEPTABLE, auth) => Err(ProxyError::SocksNoAcceptableMethod {
                    credentials_sent: auth.is_some(),
                }),
                _ => Err(ProxyError::Malformed(
                    "the SOCKS5 proxy chose an authentication method that was not offered",
                )),
            },
            (Stage::Auth, [_, 0]) => Ok(Some(Some((Stage::Reply, self.connect.clone())))),
            (Stage::Auth, [_, status]) => Err(ProxyError::SocksAuthFailed(*status)),
            (Stage::Reply, [_, rep]) if *rep != 0 => Err(ProxyError::SocksReply(*rep)),
            (Stage::Reply, [_, _, _, atyp, rest @ ..]) => {
                let len = match (*atyp, rest) {
                    (IPV4, _) => 4,
                    (IPV6, _) => 16,
                    (DOMAIN, [n, ..]) => 1 + usize::from(*n),
                    (DOMAIN, []) => return Ok(None),
                    _ => {
                        return Err(ProxyError::Malformed(
                            "the CONNECT reply has an unknown address type",
                        ));
                    }
                };
                Ok((rest.len() == len + 2).then_some(None))
            }
            _ => Ok(None),
        }
    }
}

/// `VER CMD RSV ATYP DST.ADDR DST.PORT` for CONNECT to `target`.
fn connect_request(target: Target<'_>) -> Result<Vec<u8>, ProxyError> {
    let mut out = alloc::vec![VERSION, CONNECT, 0];
    let (ip, port) = match target {
        Target::Addr(addr) => (Ok(addr.ip()), addr.port()),
        Target::Name(host, port) => (host.parse::<IpAddr>().map_err(|_| host), port),
    };
    match ip {
        Ok(IpAddr::V4(v4)) => {
            out.push(IPV4);
            out.extend_from_slice(&v4.octets());
        }
        Ok(IpAddr::V6(v6)) => {
            out.push(IPV6);
            out.extend_from_slice(&v6.octets());
        }
        Err(host) => {
            let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
            if host.is_empty() || !host.bytes().all(ok) {
                return Err(ProxyError::InvalidTarget(
                    "the host is empty or not a DNS name or IP address",
                ));
            }
            let len = u8::try_from(host.len()).map_err(|_| {
                ProxyError::InvalidTarget("SOCKS5 cannot send a host name over 255 bytes")
            })?;
            out.push(DOMAIN);
            out.push(len);
            out.extend_from_slice(host.as_bytes());
        }
    }
    out.extend_from_slice(&port.to_be_bytes());
    Ok(out)
}

/// `VER ULEN UNAME PLEN PASSWD` (RFC 1929 section 2).
fn auth_request(c: &Credentials) -> Result<Vec<u8>, ProxyError> {
    let too_long = || ProxyError::InvalidTarget("a SOCKS5 user name or password over 255 bytes");
    let ulen = u8::try_from(c.user.len()).map_err(|_| too_long())?;
    let plen = u8::try_from(c.pass.len()).map_err(|_| too_long())?;
    let mut out = alloc::vec![1, ulen];
    out.extend_from_slice(c.user.as_bytes());
    out.push(plen);
    out.extend_from_slice(c.pass.as_bytes());
    Ok(out)
}
