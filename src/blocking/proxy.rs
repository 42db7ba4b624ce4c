//! The blocking client's way through a proxy: which proxy (the builder's, the environment's
//! or none), the TCP connection to it, and the [`Tunnel`] exchange run over that connection
//! within the handshake deadline. TLS and the WebSocket handshake then run inside the tunnel.

use alloc::string::ToString;
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::Error;
use super::server::read_handshake;
use super::timers::TimeoutControl;
use crate::handshake::{Limits, Url};
use crate::proxy::{ProxyChoice, ProxyError, Target, Tunnel};

/// What the proxy step needs from the client's settings.
pub(super) struct Settings<'a> {
    pub(super) limits: &'a Limits,
    pub(super) timeout: Duration,
    pub(super) deadline: Option<Instant>,
}

impl ProxyChoice {
    /// A TCP stream to `url`'s host: direct, or a tunnel through the proxy. `tcp_connect`
    /// connects to a host and port within the deadline.
    pub(super) fn connect(
        &self,
        url: &Url,
        settings: &Settings<'_>,
        tcp_connect: impl Fn(&str, u16) -> Result<TcpStream, Error>,
    ) -> Result<TcpStream, Error> {
        let Some(proxy) = self.proxy(url)? else {
            return tcp_connect(url.host(), url.port());
        };
        let mut tcp = tcp_connect(proxy.host(), proxy.port()).map_err(|e| match e {
            Error::Io(error) => Error::ProxyUnreachable {
                proxy: proxy.to_string(),
                error,
            },
            e => e,
        })?;
        let resolved;
        let target = if proxy.resolves_names() {
            Target::Name(url.host(), url.port())
        } else {
            resolved = (url.host(), url.port())
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        "the host name resolved to no address",
                    )
                })?;
            Target::Addr(resolved)
        };
        let tunnel = Tunnel::new(&proxy, target, settings.limits)?;
        run(&mut tcp, tunnel, settings)?;
        Ok(tcp)
    }
}

/// Runs the exchange: writes what the tunnel has to say, reads the proxy's answers under
/// the deadline, until the tunnel is open.
fn run(tcp: &mut TcpStream, mut tunnel: Tunnel, settings: &Settings<'_>) -> Result<(), Error> {
    let control: TimeoutControl<TcpStream> = TcpStream::set_read_timeout;
    tcp.set_write_timeout(Some(settings.timeout))?;
    loop {
        let output = tunnel.pending_output();
        if !output.is_empty() {
            tcp.write_all(output)?;
            let n = output.len();
            tunnel.consume_output(n);
        }
        let feed = |data: Option<&[u8]>| match data {
            None => Err(Error::Proxy(tunnel.recv_eof())),
            Some(data) => match tunnel.recv(data)? {
                Some(used) if used < data.len() => Err(Error::Proxy(ProxyError::Malformed(
                    "the proxy sent data from the server before the client's first byte, \
                     which a WebSocket (or TLS) server does not do",
                ))),
                Some(_) => Ok(Some(true)),
                None if tunnel.pending_output().is_empty() => Ok(None),
                None => Ok(Some(false)),
            },
        };
        let open = read_handshake(
            tcp,
            Some(control),
            settings.deadline,
            settings.timeout,
            feed,
        )?;
        if open {
            tcp.set_read_timeout(None)?;
            return Ok(());
        }
    }
}
