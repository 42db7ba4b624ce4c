//! A sans-IO WebSocket (RFC 6455) implementation: bytes in, events out, bytes to send out.
//!
//! (Crate documentation is completed once the connection lands.)
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

#[cfg(feature = "std")]
pub mod blocking;
mod config;
mod conn;
pub mod frame;
pub mod handshake;
pub mod mask;
mod utf8;

pub use config::Config;
pub use conn::{
    CloseFrame, Connection, Event, MessageKind, ProtocolError, Role, SendError, State,
};
pub use frame::CloseCode;
