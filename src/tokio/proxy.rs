//! The async client's way through a proxy: the same choice (the builder's proxy, else the
//! environment's) and the same sans-IO [`Tunnel`] exchange as the blocking client, over a
//! tokio `TcpStream`, inside the handshake deadline. TLS and the WebSocket handshake then
//! run inside the tunnel.

use alloc::string::ToString;
use std::io;

use ::tokio::io::{AsyncReadExt, AsyncWriteExt};
use ::tokio::net::TcpStream;

use super::Error;
use crate::handshake::{Limits, Url};
use crate::proxy::{Proxy, ProxyError, Target, Tunnel};

/// Opens the tunnel to `url`'s host over `tcp`, a connection to `proxy`.
pub(super) async fn tunnel(
    tcp: &mut TcpStream,
    proxy: &Proxy,
    url: &Url,
    limits: &Limits,
) -> Result<(), Error> {
    let resolved;
    let target = if proxy.resolves_names() {
        Target::Name(url.host(), url.port())
    } else {
        resolved = ::tokio::net::lookup_host((url.host(), url.port()))
            .await?
            .next()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "the host name resolved to no address",
                )
            })?;
        Target::Addr(resolved)
    };
    let mut tunnel = Tunnel::new(proxy, target, limits)?;
    // Small reads: nothing after the proxy's answer may be taken from the stream.
    let mut buf = [0; 512];
    loop {
        let output = tunnel.pending_output();
        if !output.is_empty() {
            tcp.write_all(output).await?;
            let n = output.len();
            tunnel.consume_output(n);
        }
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            return Err(Error::Proxy(tunnel.recv_eof()));
        }
        match tunnel.recv(&buf[..n])? {
            Some(used) if used < n => {
                return Err(Error::Proxy(ProxyError::Malformed(
                    "the proxy sent data from the server before the client's first byte, \
                     which a WebSocket (or TLS) server does not do",
                )));
            }
            Some(_) => return Ok(()),
            None => {}
        }
    }
}

/// An I/O error reaching the proxy, named as such.
pub(super) fn unreachable(proxy: &Proxy, e: Error) -> Error {
    match e {
        Error::Io(error) => Error::ProxyUnreachable {
            proxy: proxy.to_string(),
            error,
        },
        e => e,
    }
}
