//! The send path: frames encoded into the output buffer, the copy-free path for large
//! payloads, pongs and the close frame.

use rand::Rng;

use super::{Connection, MessageKind, OUT_COMPACT};
use crate::error::SendError;
use crate::frame::{CloseCode, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode};
use crate::mask::extend_masked;

/// The encoded header of a frame whose payload the caller writes itself, from
/// [`Connection::send_unbuffered`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHead {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl FrameHead {
    /// The header's bytes (2 to 10 for a server's frame).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for FrameHead {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Connection {
    // ---------------------------------------------------------------- bytes out

    /// The bytes waiting to be written to the peer.
    #[must_use]
    pub fn pending_output(&self) -> &[u8] {
        &self.out[self.out_pos..]
    }

    /// Marks the first `n` bytes of [`pending_output`](Self::pending_output) as written.
    /// `n` is clamped to what is pending.
    pub fn consume_output(&mut self, n: usize) {
        self.out_pos = self.out_pos.saturating_add(n).min(self.out.len());
        if self.pong_end.is_some_and(|end| end <= self.out_pos) {
            self.pong_end = None;
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
        if self.pong_end.is_none()
            && let Some((data, len)) = self.pending_pong.take()
        {
            self.queue_pong(&data[..usize::from(len)]);
        }
    }

    /// Sends a text message.
    ///
    /// # Errors
    /// [`SendError::Closed`] after a close was sent, [`SendError::MessageInProgress`] during a
    /// fragmented message, [`SendError::BufferFull`] over the write buffer cap.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(MessageKind::Text, text.as_bytes())
    }

    /// Sends a binary message.
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(MessageKind::Binary, data)
    }

    fn send_message(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        self.check_data_send(data.len())?;
        if self.send_kind.is_some() {
            return Err(SendError::MessageInProgress);
        }
        self.write_message_data(kind, data, true, true);
        Ok(())
    }

    /// Sends one fragment of a message: the first call starts a message of `kind`, later calls
    /// continue it (their `kind` is ignored), and `fin` ends it. Text fragments may split a
    /// code point; together they must be valid UTF-8.
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text), and [`SendError::InvalidUtf8`] when text fragments
    /// are not valid UTF-8 (nothing of the failing fragment is queued).
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.check_data_send(data.len())?;
        let first = self.send_kind.is_none();
        let kind = self.send_kind.unwrap_or(kind);
        if kind == MessageKind::Text {
            // A copy, kept only if the fragment is valid; empty when a message starts (the
            // last one ended with `finish`).
            let mut check = self.send_utf8;
            check.feed(data).map_err(|_| SendError::InvalidUtf8)?;
            if fin {
                check.finish().map_err(|_| SendError::InvalidUtf8)?;
            }
            self.send_utf8 = check;
        }
        self.send_kind = if fin { None } else { Some(kind) };
        self.write_message_data(kind, data, first, fin);
        Ok(())
    }

    /// Writes a message or a fragment of one, encoded by the extensions when they transform
    /// it (compressed, when permessage-deflate is on and the message is worth it).
    fn write_message_data(&mut self, kind: MessageKind, data: &[u8], first: bool, fin: bool) {
        let mut encoded = core::mem::take(&mut self.scratch);
        match self.ext.encode(data, first, fin, &mut encoded) {
            Some(rsv) => self.write_data(kind, &encoded, first, fin, rsv),
            None => self.write_data(kind, data, first, fin, 0),
        }
        self.scratch = encoded;
    }

    /// The copy-free send path for a large message: checks the send as
    /// [`send_text`](Self::send_text) / [`send_binary`](Self::send_binary) would and, when
    /// the message can go out as one frame written straight from the caller's buffer, returns
    /// that frame's header. It can when this is a server (a client must mask, which copies),
    /// no extension transforms the message, nothing else waits in the output, and the message
    /// is no longer than [`fragment_size`](crate::Config::fragment_size). Otherwise `Ok(None)`:
    /// use `send_text` / `send_binary`.
    ///
    /// With a header, write it and then the payload (one vectored write: header and payload
    /// leave in one system call), with nothing else in between. If the write stops short
    /// (`WouldBlock`, a timeout), hand what was not written to
    /// [`queue_unwritten`](Self::queue_unwritten): the frame is then finished from
    /// [`pending_output`](Self::pending_output) like any other.
    ///
    /// ```
    /// use rfc6455::{Config, Connection, MessageKind, Role};
    ///
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let payload = vec![7u8; 100_000];
    /// let head = server.send_unbuffered(MessageKind::Binary, payload.len())?.expect("a server frame");
    /// assert_eq!(head.as_bytes(), &[0x82, 127, 0, 0, 0, 0, 0, 1, 0x86, 0xa0]);
    /// // Say the socket took the header and 60,000 bytes of payload: the rest is queued.
    /// server.queue_unwritten(&[], &payload[60_000..]);
    /// assert_eq!(server.pending_output().len(), 40_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As for [`send_text`](Self::send_text).
    pub fn send_unbuffered(
        &mut self,
        kind: MessageKind,
        len: usize,
    ) -> Result<Option<FrameHead>, SendError> {
        self.check_data_send(len)?;
        if self.send_kind.is_some() {
            return Err(SendError::MessageInProgress);
        }
        if self.rng.is_some()
            || self.ext.message_rsv() != 0
            || !self.pending_output().is_empty()
            || len > self.config.fragment_size.get()
        {
            return Ok(None);
        }
        let opcode = match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            len: len as u64,
        };
        let mut bytes = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut bytes);
        Ok(Some(FrameHead {
            bytes,
            len: n as u8,
        }))
    }

    /// Queues the unwritten rest of a frame started with
    /// [`send_unbuffered`](Self::send_unbuffered): `head`, what was not written of its header,
    /// and `payload`, what was not written of its payload. The next write of
    /// [`pending_output`](Self::pending_output) finishes the frame. Give it exactly the bytes
    /// that were not written: anything else corrupts the stream.
    pub fn queue_unwritten(&mut self, head: &[u8], payload: &[u8]) {
        self.compact_output();
        self.out.extend_from_slice(head);
        crate::copy::extend(&mut self.out, payload);
    }

    fn check_data_send(&self, len: usize) -> Result<(), SendError> {
        if !self.close.can_send() {
            return Err(SendError::Closed);
        }
        let buffered = self.pending_output().len();
        let cap = self.config.write_buffer_cap;
        if buffered > 0 && buffered.saturating_add(len) > cap {
            return Err(SendError::BufferFull { buffered, cap });
        }
        Ok(())
    }

    /// Frames `data` into fragments of at most `fragment_size` bytes; `rsv` goes on the first
    /// frame of a message.
    fn write_data(&mut self, kind: MessageKind, data: &[u8], first: bool, fin: bool, rsv: u8) {
        let opcode = match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        let size = self.config.fragment_size.get();
        let mut chunks = data.chunks(size).peekable();
        let (mut opcode, mut rsv) = if first {
            (opcode, rsv)
        } else {
            (OpCode::Continuation, 0)
        };
        if chunks.peek().is_none() {
            self.write_frame(opcode, fin, rsv, &[]);
            return;
        }
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            self.write_frame(opcode, fin && last, rsv, chunk);
            (opcode, rsv) = (OpCode::Continuation, 0);
        }
    }

    /// Appends one frame to the output, masked with a fresh key for a client.
    fn write_frame(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        let mask = self.rng.as_mut().map(|rng| {
            let mut key = [0; 4];
            rng.fill_bytes(&mut key);
            key
        });
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            len: payload.len() as u64,
        };
        let mut head = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        self.compact_output();
        self.out.reserve(n + payload.len());
        self.out.extend_from_slice(&head[..n]);
        match mask {
            Some(key) => {
                extend_masked(&mut self.out, payload, key, 0);
            }
            None => crate::copy::extend(&mut self.out, payload),
        }
    }

    fn compact_output(&mut self) {
        if self.out_pos >= OUT_COMPACT && self.out_pos * 2 >= self.out.len() {
            self.out.drain(..self.out_pos);
            self.pong_end = self.pong_end.map(|end| end - self.out_pos);
            self.out_pos = 0;
        }
    }

    /// Sends a ping.
    ///
    /// # Errors
    /// [`SendError::ControlTooLong`] over 125 bytes, [`SendError::Closed`] after a close was
    /// sent.
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.check_control(data.len())?;
        self.write_frame(OpCode::Ping, true, 0, data);
        Ok(())
    }

    /// Sends an unsolicited pong (a unidirectional heartbeat).
    ///
    /// # Errors
    /// As for [`send_ping`](Self::send_ping).
    pub fn send_pong(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.check_control(data.len())?;
        self.write_frame(OpCode::Pong, true, 0, data);
        Ok(())
    }

    fn check_control(&self, len: usize) -> Result<(), SendError> {
        if !self.close.can_send() {
            return Err(SendError::Closed);
        }
        if len > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong(len));
        }
        Ok(())
    }

    /// Queues a pong, or keeps it as the one to send next if a pong is still unwritten.
    pub(super) fn queue_pong(&mut self, data: &[u8]) {
        if self.pong_end.is_some() {
            let mut copy = [0; MAX_CONTROL_PAYLOAD];
            copy[..data.len()].copy_from_slice(data);
            self.pending_pong = Some((copy, data.len() as u8));
            return;
        }
        self.write_frame(OpCode::Pong, true, 0, data);
        self.pong_end = Some(self.out.len());
    }

    /// Starts the closing handshake: queues a close frame. Received messages are still
    /// delivered until the peer's close arrives. [`CloseCode::NO_STATUS`] sends a close frame
    /// without a code (and then `reason` must be empty).
    ///
    /// # Errors
    /// [`SendError::Closed`] if a close was already sent, [`SendError::InvalidCloseCode`] for a
    /// code that may not be sent, [`SendError::ReasonTooLong`] over 123 bytes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if !self.close.can_send() {
            return Err(SendError::Closed);
        }
        let code = if code == CloseCode::NO_STATUS {
            if !reason.is_empty() {
                return Err(SendError::InvalidCloseCode(code));
            }
            None
        } else if code.is_sendable() {
            Some(code)
        } else {
            return Err(SendError::InvalidCloseCode(code));
        };
        if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
            return Err(SendError::ReasonTooLong(reason.len()));
        }
        self.queue_close(code, reason);
        self.close.move_to_sent_close();
        Ok(())
    }

    pub(super) fn queue_close(&mut self, code: Option<CloseCode>, reason: &str) {
        let mut payload = [0; MAX_CONTROL_PAYLOAD];
        let len = match code {
            Some(code) => {
                payload[..2].copy_from_slice(&code.0.to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
                2 + reason.len()
            }
            None => 0,
        };
        self.pending_pong = None;
        self.write_frame(OpCode::Close, true, 0, &payload[..len]);
    }
}
