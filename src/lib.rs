//! A sans-IO WebSocket ([RFC 6455](https://www.rfc-editor.org/rfc/rfc6455)) implementation:
//! bytes in, events out, bytes to send out — no sockets, no threads and no clocks in the core.
//!
//! The core is three pieces, each usable alone (and without `std`):
//! - [`handshake`]: the HTTP/1.1 Upgrade handshake for both sides, parsed incrementally and in
//!   linear time, with limits;
//! - [`Connection`]: the state machine of sections 5 and 7 — framing, masking, fragmentation,
//!   UTF-8 validation, control frames and the close handshake — and the policy that drives a
//!   connection: every deadline (keepalive, idle, close, read) with time passed in as a value
//!   ([`Connection::poll_timeout`], [`Connection::handle_timeout`]), and when the transport
//!   ends ([`Connection::poll_teardown`]). An adapter reads, writes, arms one timer and calls
//!   back in; see [`Connection`] for the loop;
//! - [`frame`] and [`mask`]: the wire format and SIMD masking;
//! - [`proxy`]: HTTP `CONNECT` and SOCKS5 tunnels for clients behind a proxy, and the proxy
//!   the standard environment variables choose.
//!
//! The [`blocking`] module (feature `std`, on by default) drives them over `std::net`, with
//! one loop over the public API; `examples/nonblocking.rs` is an adapter written as if outside
//! the crate.
//!
//! # The whole flow, in memory
//! ```
//! use rfc6455::handshake::{Accept, ClientHandshake, ClientOptions, Limits, ServerHandshake, Url};
//! use rfc6455::{Config, Connection, Event, Role};
//!
//! // Opening handshake.
//! let url = Url::parse("ws://example.com/chat")?;
//! let mut client_hs = ClientHandshake::new(&url, &ClientOptions::default(), [7; 16])?;
//! let mut server_hs = ServerHandshake::new(Limits::default());
//! let request = server_hs.recv(client_hs.request())?.expect("complete request");
//! let response = request.accept(&Accept::default())?;
//! client_hs.recv(&response)?.expect("valid 101");
//!
//! // Messages: bytes in, events out, bytes out.
//! let mut client = Connection::with_seed(Role::Client, Config::default(), [1; 32]);
//! let mut server = Connection::with_seed(Role::Server, Config::default(), [2; 32]);
//! client.send_text("hello")?;
//! server.recv(client.pending_output());
//! assert_eq!(server.next_event()?, Some(Event::Text("hello")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Over a socket
//! ```no_run
//! let mut ws = rfc6455::blocking::connect("ws://127.0.0.1:9002/")?;
//! ws.send_text("hello")?;
//! println!("{:?}", ws.read()?);
//! # Ok::<(), rfc6455::blocking::Error>(())
//! ```
//!
//! # Features
//! - `std` (default): the [`blocking`] adapters, run-time CPU detection for AVX2 masking and
//!   OS-seeded masking keys ([`Connection::new`]). Without it the crate is `no_std` + `alloc`;
//!   use [`Connection::with_seed`] with a seed from your platform's random source.
//! - `tokio`: the async adapters in `rfc6455::tokio` (client, server, `Stream`/`Sink`,
//!   owned halves for two tasks, cancel-safe reads, a bounded send queue).
//! - `deflate`: permessage-deflate (RFC 7692); `tls`: `wss://` clients and TLS servers in the
//!   blocking adapters, and in the async ones when `tokio` is on as well (no further crate).
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

#[cfg(feature = "std")]
pub mod blocking;
mod config;
mod conn;
mod copy;
#[cfg(feature = "deflate")]
pub mod deflate;
mod error;
mod extension;
pub mod frame;
#[cfg(any(fuzzing, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
pub mod mask;
mod message;
pub mod proxy;
#[cfg(feature = "tokio")]
pub mod tokio;
mod utf8;

pub use config::{Config, DEFAULT_CLOSE_TIMEOUT, Keepalive};
pub use conn::{CloseFrame, Connection, Event, FrameHead, MessageKind, Role, State, Teardown};
pub use error::{ProtocolError, SendError, TimeoutError};
pub use frame::CloseCode;
pub use message::{Message, Payload};

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
