//! Owned messages out: [`Connection::next_message`], and the lending of the receive buffer
//! that lets a large message leave the connection without being copied.
//!
//! A binary message of [`LEND_MIN`] bytes or more that arrived in one frame sits in the
//! receive buffer, unmasked in place. Rather than copy it out, the connection hands the whole
//! buffer to the message's [`Payload`] and goes on with a spare one, keeping a handle on the
//! lent buffer: once the payload is dropped, that buffer is the spare for the next large
//! message. A peer streaming large messages to a reader that drops each before reading the
//! next (an echo server, a consumer) is served by two buffers that take turns, with no copy
//! and no allocation but the handle's. Bytes received after the message (the start of the
//! next frame) move to the new buffer; the read after a large frame stops at that frame's
//! size (`read_hint`), so that with equal frames there are none.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::recv::as_str;
use super::{Connection, MessageKind, READ_CHUNK, Ready, SHRINK_ABOVE};
use crate::error::ProtocolError;
use crate::frame::OpCode;
use crate::message::{Message, Payload};

/// Messages this long or longer are moved out of the connection, not copied.
const LEND_MIN: usize = READ_CHUNK;

/// A receive buffer is lent only when it is at most this many times the message's size, so
/// that a payload never keeps much more memory than its own.
const LEND_RATIO: usize = 4;

impl Connection {
    /// The next message, owned, or `Ok(None)` when more input is needed (or the connection is
    /// done): [`next_event`](Self::next_event) for a caller that keeps what it receives.
    ///
    /// Small messages are copied into memory of their own size. A binary message of 32 KiB or
    /// more is moved out: a fragmented one as the buffer it was assembled in, an unfragmented
    /// one as the receive buffer it arrived in, which the connection takes back for a later
    /// message once the [`Payload`] is dropped (see [`Payload`] for what holding it costs).
    ///
    /// ```
    /// use rfc6455::{Config, Connection, Message, Role};
    ///
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// client.send_text("hello")?;
    /// server.recv(client.pending_output());
    /// assert_eq!(server.next_message()?, Some(Message::text("hello")));
    /// assert_eq!(server.next_message()?, None); // needs more bytes
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As for [`next_event`](Self::next_event).
    pub fn next_message(&mut self) -> Result<Option<Message>, ProtocolError> {
        if !self.poll_event()? {
            return Ok(None);
        }
        Ok(self.take_message())
    }

    /// The event found by [`poll_event`](Self::poll_event), owned.
    fn take_message(&mut self) -> Option<Message> {
        let (s, e) = self.ready_at;
        let message = match self.ready.take()? {
            Ready::Frame(OpCode::Text) => {
                Message::Text(crate::copy::to_string(as_str(&self.rbuf[s..e])))
            }
            Ready::Frame(OpCode::Ping) => Message::Ping(self.rbuf[s..e].to_vec()),
            Ready::Frame(OpCode::Pong) => Message::Pong(self.rbuf[s..e].to_vec()),
            Ready::Frame(_) => Message::Binary(self.lend(s, e)),
            Ready::Assembled(MessageKind::Text) => Message::Text(self.take_assembled_text()),
            Ready::Assembled(MessageKind::Binary) => {
                Message::Binary(Payload::from(self.take_assembled()))
            }
            Ready::Close => Message::Close(self.close_code, as_str(&self.rbuf[s..e]).into()),
        };
        Some(message)
    }

    /// The assembled message's bytes: the assembly buffer itself when the message is large
    /// (the next message starts a new one), a copy of its own size otherwise.
    fn take_assembled(&mut self) -> Vec<u8> {
        if self.msg.len() >= LEND_MIN {
            core::mem::take(&mut self.msg)
        } else {
            self.msg.to_vec()
        }
    }

    fn take_assembled_text(&mut self) -> String {
        if self.msg.len() < LEND_MIN {
            return crate::copy::to_string(as_str(&self.msg));
        }
        // Validated as it was assembled; checking again reads it once, where a copy would
        // read and write it.
        String::from_utf8(core::mem::take(&mut self.msg))
            .unwrap_or_else(|e| as_str(e.as_bytes()).into())
    }

    /// The binary message in `rbuf[start..end]`, lent with the receive buffer when it is large
    /// and fills enough of it, copied otherwise.
    fn lend(&mut self, start: usize, end: usize) -> Payload {
        let len = end - start;
        let after = self.rend - self.rstart;
        if len < LEND_MIN || self.rbuf.len() / LEND_RATIO > len || after > len {
            return Payload::from(crate::copy::to_vec(&self.rbuf[start..end]));
        }
        // The buffer lent last time, back if its payload was dropped.
        let spare = match self.lent.take().map(Arc::try_unwrap) {
            Some(Ok(buf)) if buf.len() <= SHRINK_ABOVE => buf,
            _ => Vec::new(),
        };
        let buf = core::mem::replace(&mut self.rbuf, spare);
        let (from, to) = (self.rstart, self.rend);
        self.rstart = 0;
        self.rend = 0;
        self.rwindow = 0;
        if after > 0 {
            self.reserve_input(after);
            self.rbuf[self.rend..self.rend + after].copy_from_slice(&buf[from..to]);
            self.rend += after;
            self.rwindow = self.rend;
        }
        let buf = Arc::new(buf);
        self.lent = Some(Arc::clone(&buf));
        Payload::lent(buf, start, end)
    }
}

#[cfg(test)]
mod tests;
