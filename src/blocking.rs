//! Blocking adapters over `std::io` streams: a client, a server side, a connection type over
//! any `Read + Write` stream, and a reader/writer split of a TCP connection for two threads.
//! With the `tls` feature, `wss://` URLs and TLS servers (`accept_tls`) work the same way.
//!
//! ```no_run
//! use rfc6455::blocking::{self, Message};
//!
//! // A client.
//! let mut ws = blocking::connect("ws://127.0.0.1:9002/chat")?;
//! ws.send_text("hello")?;
//! while let Some(message) = ws.read()? {
//!     println!("{message:?}");
//! }
//!
//! // A server: one thread per connection, echoing every message.
//! let listener = std::net::TcpListener::bind("127.0.0.1:9002")?;
//! for stream in listener.incoming() {
//!     std::thread::spawn(move || -> Result<(), blocking::Error> {
//!         let mut ws = blocking::accept(stream?)?;
//!         while let Some(message) = ws.read()? {
//!             match message {
//!                 Message::Text(text) => ws.send_text(&text)?,
//!                 Message::Binary(data) => ws.send_binary(&data)?,
//!                 _ => {} // pings are answered and closes echoed automatically
//!             }
//!         }
//!         Ok(())
//!     });
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod driver;
mod server;
mod socket;
mod split;
mod timers;
mod tls;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use std::io;
use std::time::Duration;

pub use client::{ClientBuilder, connect};
/// The rustls version the `tls` feature uses, for building its `ClientConfig` and
/// `ServerConfig`.
#[cfg(feature = "tls")]
pub use rustls;
#[cfg(feature = "tls")]
pub use server::accept_tls;
pub use server::{Acceptor, DEFAULT_WRITE_TIMEOUT, Rejection, accept, accept_with};
pub use socket::WebSocket;
pub use split::{Reader, Writer};
pub use timers::{DEFAULT_CLOSE_TIMEOUT, Keepalive, ShutdownControl, TimeoutControl};
pub use tls::MaybeTlsStream;
#[cfg(feature = "tls")]
pub use tls::TlsStream;

use crate::conn::Event;
use crate::frame::CloseCode;
use crate::handshake::HandshakeError;
use crate::{ProtocolError, SendError};

/// An owned message, as [`WebSocket::read`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping (already answered unless auto-pong is off).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer's close frame (already answered); the code is 1005 when it had none.
    Close(CloseCode, String),
}

impl From<Event<'_>> for Message {
    fn from(event: Event<'_>) -> Message {
        match event {
            // Copied in pieces: see `crate::copy`.
            Event::Text(text) => Message::Text(crate::copy::to_string(text)),
            Event::Binary(data) => Message::Binary(crate::copy::to_vec(data)),
            Event::Ping(data) => Message::Ping(data.to_vec()),
            Event::Pong(data) => Message::Pong(data.to_vec()),
            Event::Close(frame) => Message::Close(frame.code, frame.reason.into()),
        }
    }
}

/// What can go wrong in the blocking adapters.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed. `WouldBlock`, `TimedOut` and `Interrupted` leave the connection
    /// intact: call the same method again to resume.
    Io(io::Error),
    /// The opening handshake failed (including a server's refusal, with its status).
    Handshake(HandshakeError),
    /// The peer broke the protocol; a close frame with the matching code was sent.
    Protocol(ProtocolError),
    /// A local call was refused (sending after close, a control payload too long, ...).
    Send(SendError),
    /// The server's application refused the opening handshake with this HTTP status (the
    /// refusal was sent).
    Refused(u16),
    /// TLS failed (feature `tls`): a certificate that is not trusted, not valid for the
    /// host or expired, no common protocol version, a peer that does not speak TLS, ... The
    /// message says what to do about it.
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The opening handshake did not finish within its deadline.
    HandshakeTimeout(Duration),
    /// Keepalive: nothing arrived from the peer for this long; the connection is dead.
    PeerUnresponsive(Duration),
    /// The peer did not answer our close frame within the close timeout.
    CloseTimeout(Duration),
}

impl Error {
    /// Whether the call can be repeated to resume: a timeout, `WouldBlock` or an interrupt,
    /// with the connection state intact.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
        ))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "WebSocket stream error: {e}"),
            Error::Handshake(e) => write!(f, "WebSocket handshake failed: {e}"),
            Error::Protocol(e) => write!(f, "WebSocket protocol error, connection closed: {e}"),
            Error::Send(e) => write!(f, "WebSocket send refused: {e}"),
            Error::Refused(status) => {
                write!(
                    f,
                    "WebSocket handshake refused by the application with HTTP {status}"
                )
            }
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "TLS failed: {e}{}", tls::advice(e)),
            Error::HandshakeTimeout(d) => {
                write!(f, "WebSocket handshake did not complete within {d:?}")
            }
            Error::PeerUnresponsive(d) => write!(
                f,
                "nothing received from the WebSocket peer for {d:?}: the connection is dead"
            ),
            Error::CloseTimeout(d) => {
                write!(
                    f,
                    "WebSocket peer did not answer the close frame within {d:?}"
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Send(e) => Some(e),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// An I/O error that carries a rustls error (from a TLS stream) becomes `Error::Tls`.
    fn from(e: io::Error) -> Error {
        #[cfg(feature = "tls")]
        let e = match tls::rustls_error(e) {
            Ok(tls) => return Error::Tls(tls),
            Err(e) => e,
        };
        Error::Io(e)
    }
}

#[cfg(feature = "tls")]
impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Error {
        Error::Tls(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Error {
        Error::Handshake(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::Protocol(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Error {
        Error::Send(e)
    }
}

/// Whether an I/O error is a timeout or would-block, after which a call may resume.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
