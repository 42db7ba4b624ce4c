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
mod error;
mod proxy;
mod server;
mod socket;
mod split;
mod timers;
mod tls;

pub use client::{ClientBuilder, connect};
pub use error::Error;
use error::is_timeout;
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
#[cfg(all(feature = "tls", feature = "tokio"))]
pub(crate) use tls::default_client_config as default_tls_client_config;

pub use crate::message::{Message, Payload};
