//! Owned messages out: [`Connection::next_message`], and the lending of the receive buffer
//! that lets a large message leave the connection without being copied.
//!
//! A binary message of [`LEND_MIN`] bytes or more that arrived in one frame sits in the
//! receive buffer, unmasked in place. Rather than copy it out, the connection hands the whole
//! buffer to the message's [`Payload`] and goes on with a spare one, keeping a handle on the
//! lent buffer ([`Other`]). Once the payload is dropped, the next read takes that buffer back
//! and the other one is the spare again: a peer streaming large messages to a reader that
//! drops each before reading the next (an echo server, a consumer) is read into one buffer,
//! as with [`next_event`](Connection::next_event), with no copy and no allocation but the
//! handle's. A reader that keeps its payloads longer is served by new buffers. Bytes received
//! after the message (the start of the next frame) move to the new buffer; the read after a
//! large frame stops 64 bytes past that frame's size (`read_hint`, `READ_PAST`), so that with
//! equal frames there are at most 64, which move back with the lent buffer when it is taken
//! back.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::recv::as_str;
use super::{Connection, MessageKind, READ_CHUNK, READ_PAST, Ready, SHRINK_ABOVE};
use crate::error::ProtocolError;
use crate::frame::OpCode;
use crate::message::{Message, Payload};

/// Messages this long or longer are moved out of the connection, not copied.
const LEND_MIN: usize = READ_CHUNK;

/// The receive buffer's other half.
#[derive(Debug, Default)]
pub(super) enum Other {
    /// None yet, or released.
    #[default]
    None,
    /// A buffer for the next lend to put in place of the one it lends.
    Spare(Vec<u8>),
    /// The buffer last lent, with its payload or back from it (then the only handle).
    Lent(Arc<Vec<u8>>),
}

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
    #[inline]
    pub fn next_message(&mut self) -> Result<Option<Message>, ProtocolError> {
        if !self.poll_event()? {
            return Ok(None);
        }
        Ok(self.take_message())
    }

    /// The event found by [`poll_event`](Self::poll_event), owned. The small cases repeat
    /// what `Message::from(take_event())` does on purpose: going through the borrowed event
    /// measured 10-15% slower for 16-byte messages (the value is copied once more).
    #[inline]
    fn take_message(&mut self) -> Option<Message> {
        let (s, e) = self.ready_at;
        let message = match self.ready.take()? {
            Ready::Frame(OpCode::Text) => {
                Message::Text(crate::copy::to_string(as_str(&self.rbuf[s..e])))
            }
            Ready::Frame(OpCode::Ping) => Message::Ping(self.rbuf[s..e].to_vec()),
            Ready::Frame(OpCode::Pong) => Message::Pong(self.rbuf[s..e].to_vec()),
            Ready::Frame(_) if e - s < LEND_MIN => {
                Message::Binary(Payload::copy_of(&self.rbuf[s..e]))
            }
            Ready::Frame(_) => Message::Binary(self.lend(s, e)),
            Ready::Assembled(MessageKind::Text) => Message::Text(self.take_assembled_text()),
            Ready::Assembled(MessageKind::Binary) => Message::Binary(self.take_assembled()),
            Ready::Close => Message::Close(self.close_code, as_str(&self.rbuf[s..e]).into()),
        };
        Some(message)
    }

    /// The assembled message's bytes: the assembly buffer itself when the message is large
    /// (the next message starts a new one), a copy of its own size otherwise.
    fn take_assembled(&mut self) -> Payload {
        if self.msg.len() >= LEND_MIN {
            Payload::from(core::mem::take(&mut self.msg))
        } else {
            Payload::copy_of(&self.msg)
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

    /// The binary message in `rbuf[start..end]`, of at least [`LEND_MIN`] bytes: lent with the
    /// receive buffer when it fills enough of it, copied otherwise.
    #[inline(never)]
    fn lend(&mut self, start: usize, end: usize) -> Payload {
        let len = end - start;
        let after = self.rend - self.rstart;
        if self.rbuf.len() / LEND_RATIO > len || after > len {
            return Payload::copy_of(&self.rbuf[start..end]);
        }
        let spare = match core::mem::take(&mut self.other) {
            Other::Spare(buf) => buf,
            // Its payload is dropped: reuse it. (Still held: the reader keeps it.)
            Other::Lent(lent) => Arc::try_unwrap(lent).unwrap_or_default(),
            Other::None => Vec::new(),
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
        self.other = Other::Lent(Arc::clone(&buf));
        Payload::lent(buf, start, end)
    }

    /// Before a read into a receive buffer that holds at most [`READ_PAST`] bytes (the start
    /// of the next frame, read with the end of a lent one): takes the lent buffer back if its
    /// payload was dropped, moving those bytes to its front, so that reads keep going to the
    /// buffer that was read last (warm in the cache), and keeps the current one as the spare.
    #[inline]
    pub(super) fn take_back_lent(&mut self) {
        let held = self.rend - self.rstart;
        if held > READ_PAST || !matches!(self.other, Other::Lent(_)) {
            return;
        }
        if let Other::Lent(lent) = core::mem::take(&mut self.other) {
            self.other = match Arc::try_unwrap(lent) {
                Ok(mut buf) if buf.len() <= SHRINK_ABOVE && held <= buf.len() => {
                    buf[..held].copy_from_slice(&self.rbuf[self.rstart..self.rend]);
                    self.rstart = 0;
                    self.rend = held;
                    self.rwindow = held;
                    Other::Spare(core::mem::replace(&mut self.rbuf, buf))
                }
                Ok(_) => Other::None,
                Err(lent) => Other::Lent(lent),
            };
        }
    }
}

#[cfg(test)]
mod tests;
