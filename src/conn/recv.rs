//! The receive path: bytes in, frames parsed and unmasked in place, messages assembled,
//! events out.

use alloc::vec::Vec;

use super::{
    COMPACT_MAX, CloseFrame, Connection, Event, GROW_BELOW, InFrame, MessageKind, READ_ALIGN,
    READ_CHUNK, READ_MAX, READ_MIN, READ_PAST, Ready, Role, SHRINK_ABOVE,
};
use crate::error::ProtocolError;
use crate::frame::{CloseCode, Decoded, FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, RSV1};
use crate::mask::apply_mask;

impl Connection {
    // ---------------------------------------------------------------- bytes in

    /// Hands received bytes to the connection. After the connection failed or closed, input is
    /// discarded.
    pub fn recv(&mut self, data: &[u8]) {
        if self.discarding() || data.is_empty() {
            return;
        }
        self.reserve_input(data.len());
        self.rbuf[self.rend..self.rend + data.len()].copy_from_slice(data);
        self.rend += data.len();
        self.rwindow = self.rend;
        self.timers.heard = true;
    }

    /// Space at the end of the receive buffer for a read to fill directly; report what was
    /// read with [`recv_filled`](Self::recv_filled). The space is never empty.
    ///
    /// It starts at 1 KiB, so that a connection exchanging small messages holds little
    /// receive buffer, and doubles each time a read fills it, up to 128 KiB: the buffer grows
    /// with the bytes that arrive, never with a length the peer declared. It goes back to
    /// 1 KiB when the connection goes idle (see [`shrink_buffers`](Self::shrink_buffers)).
    ///
    /// While a frame of 32 KiB or more is being received, the space ends 64 bytes past where
    /// that frame ends (when the buffer has room for all of it), so that a read of a large
    /// frame does not run far into the next one: the next read then starts at the front of
    /// the buffer after a copy of at most 64 bytes, and still aligned. (Why not exactly at the
    /// frame's end: a read that comes back short of its window tells an edge-triggered
    /// reactor that the socket is drained; one that fills it costs one more read.)
    pub fn recv_buf(&mut self) -> &mut [u8] {
        // Up to READ_ALIGN bytes of the room wanted may go to aligning where the read starts,
        // so that a buffer of READ_MIN bytes serves READ_MIN windows without growing.
        self.reserve_input(self.rwant - READ_ALIGN);
        let room = self.rbuf.len() - self.rend;
        let window = match self.large_frame() {
            // Not when all of it is here (read twice without taking events): never empty.
            Some((_, rest)) if rest > 0 => (rest + READ_PAST).min(room).min(READ_MAX),
            _ => READ_MAX
                .min(room)
                .min(self.read_hint.saturating_add(READ_PAST)),
        };
        self.rwindow = self.rend + window;
        &mut self.rbuf[self.rend..self.rwindow]
    }

    /// Records that `n` bytes of [`recv_buf`](Self::recv_buf) were filled. `n` is clamped to
    /// the space offered.
    pub fn recv_filled(&mut self, n: usize) {
        if self.discarding() {
            return;
        }
        let window = self.rwindow.saturating_sub(self.rend);
        if n >= window && window + READ_ALIGN >= self.rwant {
            // A full window may have left bytes behind in the transport: offer more.
            self.rwant = self.rwant.saturating_mul(2).min(READ_MAX);
        }
        self.rend = self.rend.saturating_add(n).min(self.rwindow.max(self.rend));
        self.timers.heard |= n > 0;
    }

    /// Releases the memory of the receive and assembly buffers while they hold nothing,
    /// keeping none of it, and starts the read window at 1 KiB again: a connection that once
    /// received large messages does not keep their buffers while it waits. The next read
    /// allocates 1 KiB.
    ///
    /// For an adapter to call when the connection goes idle; the connection does it itself
    /// when a keepalive ping goes out (the peer has then been silent for the ping interval).
    /// Calling it between the messages of a busy connection costs an allocation per read.
    /// It does nothing while an event or a partly received message holds the buffers.
    pub fn shrink_buffers(&mut self) {
        if self.ready.is_some() || self.rstart != self.rend || self.msg_kind.is_some() {
            return;
        }
        self.rbuf = Vec::new();
        self.rstart = 0;
        self.rend = 0;
        self.rwindow = 0;
        self.rwant = READ_MIN;
        self.msg = Vec::new();
        self.other = super::message::Other::None;
    }

    /// For a frame of [`READ_CHUNK`] bytes or more being received: where it ends in `rbuf`,
    /// and how many of its bytes have not arrived yet.
    fn large_frame(&self) -> Option<(usize, usize)> {
        let frame = self.frame?;
        // The payload length fits in usize: it passed max_frame_size.
        let len = frame.header.len as usize;
        if len < READ_CHUNK {
            return None;
        }
        let end = self.rstart + frame.header_len + len;
        Some((end, end.saturating_sub(self.rend)))
    }

    /// Records that the stream ended. If the close handshake had not completed, the next
    /// [`next_event`](Self::next_event) reports [`ProtocolError::UnexpectedEof`].
    pub fn recv_eof(&mut self) {
        self.eof = true;
    }

    fn discarding(&self) -> bool {
        self.close.discarding()
    }

    /// Makes room for `extra` bytes after `rend`. Unless an event borrows the buffer,
    /// unconsumed bytes move to the (aligned) front first when there are few of them, or when
    /// the room after them is short, except for much of a large frame in a buffer of less
    /// than a few read windows: that buffer grows instead, as moving would repeat with every
    /// read of such frames.
    pub(super) fn reserve_input(&mut self, extra: usize) {
        if self.ready.is_none() {
            self.take_back_lent();
            if self.rstart == self.rend && self.rbuf.len() > SHRINK_ABOVE {
                self.rbuf = Vec::new();
                self.rstart = 0;
                self.rend = 0;
            }
            let unconsumed = self.rend - self.rstart;
            let front = match self.rbuf.as_ptr().align_offset(READ_ALIGN) {
                a if a < READ_ALIGN && a + unconsumed <= self.rbuf.len() => a,
                _ => 0,
            };
            let short = self.rbuf.len() - self.rend < extra
                && (self.rbuf.len() >= GROW_BELOW || self.large_frame().is_none());
            if self.rstart != front && (unconsumed <= COMPACT_MAX || short) {
                self.rbuf.copy_within(self.rstart..self.rend, front);
                self.rstart = front;
                self.rend = front + unconsumed;
            }
        }
        let need = self.rend.saturating_add(extra);
        if self.rbuf.len() < need {
            // At least double, so that growing costs a constant per byte received.
            let len = need.max(self.rbuf.len().saturating_mul(2)).max(READ_MIN);
            // Zeroed by the allocator (`calloc`), not by writing zeros (`resize`): pages of a
            // fresh allocation stay untouched, and cost no memory, until a read fills them.
            let mut grown = alloc::vec![0; len];
            grown[..self.rend].copy_from_slice(&self.rbuf[..self.rend]);
            self.rbuf = grown;
        }
    }

    // ---------------------------------------------------------------- events out

    /// The next event, or `Ok(None)` when more input is needed (or the connection is done).
    ///
    /// # Errors
    /// A [`ProtocolError`] when the peer broke the protocol. The connection has then failed:
    /// the close frame with [`ProtocolError::close_code`] is queued in the output (except for
    /// an unexpected end of stream), and every later call returns `Ok(None)`.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, ProtocolError> {
        if !self.poll_event()? {
            return Ok(None);
        }
        Ok(self.take_event())
    }

    /// Processes buffered input until an event is ready, without taking it: `Ok(true)` when
    /// one is, and the next [`next_event`](Self::next_event) returns it. An adapter uses it to
    /// write out the pong or close reply that the event queued *before* handing the event
    /// over: if that write fails and is retried, the event is still there.
    ///
    /// # Errors
    /// As for [`next_event`](Self::next_event).
    #[inline]
    pub fn poll_event(&mut self) -> Result<bool, ProtocolError> {
        if self.ready.is_some() {
            return Ok(true);
        }
        if self.discarding() {
            return Ok(false);
        }
        match self.advance() {
            Ok(Some(ready)) => {
                self.ready = Some(ready);
                Ok(true)
            }
            Ok(None) if self.eof => Err(self.fail(ProtocolError::UnexpectedEof)),
            Ok(None) => Ok(false),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The event found by [`poll_event`](Self::poll_event), borrowed from the buffers.
    #[inline]
    fn take_event(&mut self) -> Option<Event<'_>> {
        let (s, e) = self.ready_at;
        let event = match self.ready.take()? {
            Ready::Frame(OpCode::Text) => Event::Text(as_str(&self.rbuf[s..e])),
            Ready::Frame(OpCode::Ping) => Event::Ping(&self.rbuf[s..e]),
            Ready::Frame(OpCode::Pong) => Event::Pong(&self.rbuf[s..e]),
            Ready::Frame(_) => Event::Binary(&self.rbuf[s..e]),
            Ready::Assembled(MessageKind::Text) => Event::Text(as_str(&self.msg)),
            Ready::Assembled(MessageKind::Binary) => Event::Binary(&self.msg),
            Ready::Close => Event::Close(CloseFrame {
                code: self.close_code,
                reason: as_str(&self.rbuf[s..e]),
            }),
        };
        Some(event)
    }

    /// Runs the receive state machine until an event is ready or input runs out.
    fn advance(&mut self) -> Result<Option<Ready>, ProtocolError> {
        loop {
            // Taken, not copied: a frame that completes here is never stored.
            let mut frame = match self.frame.take() {
                Some(frame) => frame,
                None => {
                    let limit = self.config.max_frame_size as u64;
                    let input = &self.rbuf[self.rstart..self.rend];
                    let (header, header_len) = match FrameHeader::decode(input, limit) {
                        Ok(Decoded::Complete(header, used)) => (header, used),
                        Ok(Decoded::Partial(_)) => return Ok(None),
                        Err(e) => return Err(ProtocolError::Frame(e)),
                    };
                    self.check_header(&header)?;
                    InFrame {
                        header,
                        header_len,
                        done: 0,
                        streamed: false,
                    }
                }
            };
            // The payload length fits in usize: it passed max_frame_size.
            let len = frame.header.len as usize;
            let start = self.rstart + frame.header_len;
            let available = (self.rend - start).min(len);
            if available > frame.done {
                self.unmask_and_check(&mut frame, start, available)?;
            }
            if available < len {
                self.frame = Some(frame);
                return Ok(None);
            }
            self.rstart = start + len;
            self.read_hint = if len >= READ_CHUNK {
                frame.header_len + len
            } else {
                usize::MAX
            };
            if let Some(ready) = self.complete_frame(&frame, start, start + len)? {
                return Ok(Some(ready));
            }
        }
    }

    /// Unmasks newly arrived payload bytes in place and validates text as it arrives.
    fn unmask_and_check(
        &mut self,
        frame: &mut InFrame,
        start: usize,
        available: usize,
    ) -> Result<(), ProtocolError> {
        let len = frame.header.len as usize;
        let piece = &mut self.rbuf[start + frame.done..start + available];
        if let Some(key) = frame.header.mask {
            apply_mask(piece, key, frame.done % 4);
        }
        // Compressed text is validated after decompression.
        let text = !self.msg_compressed
            && (frame.header.opcode == OpCode::Text
                || (frame.header.opcode == OpCode::Continuation
                    && self.msg_kind == Some(MessageKind::Text)));
        // A whole unfragmented text frame is validated once, at the end; anything that
        // arrives in pieces or belongs to a fragmented message is validated as it arrives.
        let whole = frame.done == 0 && available == len && frame.header.fin;
        if text && !(whole && frame.header.opcode == OpCode::Text) {
            self.utf8
                .feed(piece)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
            frame.streamed = true;
        }
        frame.done = available;
        Ok(())
    }

    /// Checks a header against the connection state before any of its payload is processed.
    fn check_header(&mut self, header: &FrameHeader) -> Result<(), ProtocolError> {
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        // RSV1 marks a compressed message, on its first frame only (RFC 7692 section 6).
        let starts_message = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        let allowed = if starts_message && self.is_deflate_enabled() {
            RSV1
        } else {
            0
        };
        if header.rsv & !allowed != 0 {
            return Err(ProtocolError::ReservedBits(header.rsv));
        }
        let kind = match header.opcode {
            OpCode::Continuation => {
                if self.msg_kind.is_none() {
                    return Err(ProtocolError::UnexpectedContinuation);
                }
                None
            }
            OpCode::Text => Some(MessageKind::Text),
            OpCode::Binary => Some(MessageKind::Binary),
            _ => return Ok(()),
        };
        if let Some(kind) = kind {
            if self.msg_kind.is_some() {
                return Err(ProtocolError::ExpectedContinuation(header.opcode));
            }
            self.msg_len = 0;
            // The validator holds nothing here: every text message so far ended with
            // `finish`, which fails on an unfinished code point and empties it.
            if self.msg.capacity() > SHRINK_ABOVE {
                self.msg = Vec::new();
            }
            self.msg.clear();
            self.msg_compressed = header.rsv & RSV1 != 0;
            if !header.fin {
                self.msg_kind = Some(kind);
            }
        }
        let size = self.msg_len.saturating_add(header.len);
        if size > self.config.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                size,
                max: self.config.max_message_size,
            });
        }
        self.msg_len = size;
        Ok(())
    }

    /// Acts on a frame whose payload `rbuf[start..end]` is complete and unmasked.
    fn complete_frame(
        &mut self,
        frame: &InFrame,
        start: usize,
        end: usize,
    ) -> Result<Option<Ready>, ProtocolError> {
        let header = &frame.header;
        let payload = &self.rbuf[start..end];
        match header.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation if self.msg_compressed => {
                self.complete_compressed(header, start, end)
            }
            OpCode::Text | OpCode::Binary if header.fin => {
                if header.opcode == OpCode::Text {
                    let valid = if frame.streamed {
                        self.utf8.finish().is_ok()
                    } else {
                        core::str::from_utf8(payload).is_ok()
                    };
                    if !valid {
                        return Err(ProtocolError::InvalidUtf8);
                    }
                }
                self.ready_at = (start, end);
                Ok(Some(Ready::Frame(header.opcode)))
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                crate::copy::extend(&mut self.msg, payload);
                if !header.fin {
                    return Ok(None);
                }
                let kind = self.msg_kind.take().unwrap_or(MessageKind::Binary);
                if kind == MessageKind::Text && self.utf8.finish().is_err() {
                    return Err(ProtocolError::InvalidUtf8);
                }
                Ok(Some(Ready::Assembled(kind)))
            }
            OpCode::Ping => {
                if self.config.auto_pong && self.close.can_send() {
                    let mut data = [0; MAX_CONTROL_PAYLOAD];
                    data[..payload.len()].copy_from_slice(payload);
                    self.queue_pong(&data[..payload.len()]);
                }
                self.ready_at = (start, end);
                Ok(Some(Ready::Frame(OpCode::Ping)))
            }
            OpCode::Pong => {
                self.ready_at = (start, end);
                Ok(Some(Ready::Frame(OpCode::Pong)))
            }
            OpCode::Close => {
                let code = match *payload {
                    [] => CloseCode::NO_STATUS,
                    [_] => return Err(ProtocolError::CloseTooShort),
                    [a, b, ..] => {
                        let code = CloseCode(u16::from_be_bytes([a, b]));
                        if !code.is_sendable() {
                            return Err(ProtocolError::InvalidCloseCode(code.0));
                        }
                        code
                    }
                };
                let reason_start = start + payload.len().min(2);
                if core::str::from_utf8(&self.rbuf[reason_start..end]).is_err() {
                    return Err(ProtocolError::InvalidCloseReason);
                }
                self.msg_kind = None;
                self.msg.clear();
                if self.close.can_send() {
                    // Echo the code (RFC 6455 section 5.5.1); an empty close gets an empty one.
                    let echo = if code == CloseCode::NO_STATUS {
                        None
                    } else {
                        Some(code)
                    };
                    self.queue_close(echo, "");
                }
                self.close.move_to_exchanged();
                self.ready_at = (reason_start, end);
                self.close_code = code;
                Ok(Some(Ready::Close))
            }
        }
    }

    /// Decodes a frame of a compressed message into the assembly buffer through the
    /// extension seam, validating text as it comes out.
    fn complete_compressed(
        &mut self,
        header: &FrameHeader,
        start: usize,
        end: usize,
    ) -> Result<Option<Ready>, ProtocolError> {
        let kind = match header.opcode {
            OpCode::Text => MessageKind::Text,
            OpCode::Binary => MessageKind::Binary,
            _ => self.msg_kind.unwrap_or(MessageKind::Binary),
        };
        let before = self.msg.len();
        let limit = self.config.max_message_size;
        let input = &self.rbuf[start..end];
        self.ext
            .decode(RSV1, input, header.fin, &mut self.msg, limit)?;
        if kind == MessageKind::Text {
            self.utf8
                .feed(&self.msg[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if !header.fin {
            return Ok(None);
        }
        self.msg_kind = None;
        self.msg_compressed = false;
        if kind == MessageKind::Text && self.utf8.finish().is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(Some(Ready::Assembled(kind)))
    }

    /// Fails the connection: queues a close frame with the error's code (unless the stream
    /// ended) and ignores all further input.
    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        if error != ProtocolError::UnexpectedEof && self.close.can_send() {
            self.queue_close(Some(error.close_code()), "");
        }
        self.close.move_to_failed();
        self.frame = None;
        self.msg_kind = None;
        self.rstart = 0;
        self.rend = 0;
        self.rwindow = 0;
        error
    }
}

/// Text that was validated when it was received.
pub(super) fn as_str(bytes: &[u8]) -> &str {
    core::str::from_utf8(bytes).unwrap_or_default()
}
