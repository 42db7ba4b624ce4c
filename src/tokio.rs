//! Async adapters for tokio (feature `tokio`): a client, a server side, a connection type over
//! any `AsyncRead + AsyncWrite + Unpin` stream with `Stream` and `Sink`, and owned halves for
//! two tasks. The same sans-IO core as the [`blocking`](crate::blocking) adapters, driven by
//! one thin loop over its public API (`src/tokio/driver.rs`): read, write, arm one timer at
//! [`Connection::poll_timeout`](crate::Connection::poll_timeout), carry out
//! [`Connection::poll_teardown`](crate::Connection::poll_teardown).
//!
//! With the `tls` feature as well, [`connect`] takes `wss://` URLs and `Acceptor::accept_tls`
//! serves TLS, with the same rustls configuration types as the blocking adapters
//! ([`blocking::rustls`](crate::blocking::rustls)) and the same advice in
//! `Error::Tls`.
//!
//! Every method is cancel-safe (see [`WebSocket`]), and the send queue is bounded by
//! [`Config::write_buffer_cap`](crate::Config::write_buffer_cap).
//!
//! ```no_run
//! use rfc6455::tokio::{self as ws, Message};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // A client.
//! let mut client = ws::connect("ws://127.0.0.1:9002/chat").await?;
//! client.send_text("hello").await?;
//! while let Some(message) = client.read().await? {
//!     println!("{message:?}");
//! }
//!
//! // A server: one task per connection, echoing every message.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9002").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let mut ws = ws::accept(stream).await?;
//!         while let Some(message) = ws.read().await? {
//!             match message {
//!                 Message::Text(text) => ws.send_text(&text).await?,
//!                 Message::Binary(data) => ws.send_binary(&data).await?,
//!                 _ => {} // pings are answered and closes echoed automatically
//!             }
//!         }
//!         Ok::<(), ws::Error>(())
//!     });
//! }
//! # }
//! ```

mod client;
mod driver;
mod proxy;
mod server;
mod socket;
mod split;
mod tls;

/// The default write timeout of a server [`Acceptor`]: 30 s, as the blocking one's.
pub use crate::blocking::DEFAULT_WRITE_TIMEOUT;
pub use client::{ClientBuilder, DEFAULT_HANDSHAKE_TIMEOUT, connect};
#[cfg(feature = "tls")]
pub use server::accept_tls;
pub use server::{Acceptor, accept, accept_with};
pub use socket::WebSocket;
pub use split::{Reader, Writer};
pub use tls::MaybeTlsStream;
#[cfg(feature = "tls")]
pub use tls::TlsStream;

/// What can go wrong: the same error as the blocking adapters'.
pub use crate::blocking::Error;
/// An owned message: the same type as the blocking adapters'.
pub use crate::blocking::Message;
pub use crate::handshake::Rejection;
