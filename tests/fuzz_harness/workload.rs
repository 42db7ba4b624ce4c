//! Target (c): arbitrary API operations on a `blocking::WebSocket` over a mock stream whose
//! reads and writes come short, would block, are interrupted or fail, as the fuzzer decides.
//!
//! Oracles:
//! - everything the socket wrote, once flushed through a cooperative stream at the end,
//!   decodes in a fresh peer `Connection` of the opposite role without error, and carries
//!   exactly the messages and pings whose send was accepted, in order (a send that failed
//!   with an I/O error was queued and goes out with a later flush; a refused one never does),
//!   with at most one close, last;
//! - every message read equals the next one the peer sent, whatever the reads did, as long as
//!   the peer's stream is well-formed;
//! - a read fails only with an error the stream gave (never `Interrupted`, which is retried).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};

use rfc6455::blocking::{Error, Message, WebSocket};
use rfc6455::{CloseCode, Config, Connection, MessageKind, State};

use super::connection::{Seen, drain};
use super::{Input, other, role};

/// A stream whose behaviour is scripted by a tape of bytes; past the tape it cooperates.
pub struct Mock {
    /// Bytes the peer sent that were not read yet.
    incoming: VecDeque<u8>,
    /// The peer closed its side: once `incoming` is empty, reads return 0.
    eof: bool,
    /// Everything written.
    pub written: Vec<u8>,
    tape: Vec<u8>,
    at: usize,
}

impl Mock {
    fn next(&mut self) -> Option<u8> {
        let b = self.tape.get(self.at).copied();
        self.at += 1;
        b
    }

    fn no_input(&self) -> io::Result<usize> {
        if self.eof {
            Ok(0)
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

impl Read for Mock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = match self.next() {
            None => usize::MAX,
            Some(b) => match b % 8 {
                0 => return Err(io::ErrorKind::WouldBlock.into()),
                1 => return Err(io::ErrorKind::Interrupted.into()),
                2 => return Err(io::ErrorKind::TimedOut.into()),
                3 => return Err(io::ErrorKind::ConnectionReset.into()),
                _ => usize::from(b / 8) + 1,
            },
        };
        if self.incoming.is_empty() {
            return self.no_input();
        }
        let n = limit.min(buf.len()).min(self.incoming.len());
        for (slot, byte) in buf.iter_mut().zip(self.incoming.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Mock {
    /// How many bytes the next write may take, or its error.
    fn write_limit(&mut self) -> io::Result<usize> {
        match self.next() {
            None => Ok(usize::MAX),
            Some(b) => match b % 8 {
                0 => Err(io::ErrorKind::WouldBlock.into()),
                1 => Err(io::ErrorKind::Interrupted.into()),
                2 => Err(io::ErrorKind::BrokenPipe.into()),
                3 if b & 0x80 != 0 => Ok(0),
                _ => Ok(usize::from(b / 8) * 7 + 1),
            },
        }
    }
}

impl Write for Mock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.write_limit()?.min(buf.len());
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// Writes across the slices, so a short write can end anywhere in header or payload.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut left = self.write_limit()?;
        let mut n = 0;
        for buf in bufs {
            let take = left.min(buf.len());
            self.written.extend_from_slice(&buf[..take]);
            n += take;
            left -= take;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A payload length: mostly under 200 bytes, a few up to 2 KiB, and about one in twenty
/// over the zero-copy threshold (16 KiB) of a server's large sends.
fn length(input: &mut Input<'_>) -> usize {
    match input.byte() {
        b @ 0..=199 => usize::from(b),
        b @ 200..=243 => usize::from(b - 200) * 48 + usize::from(input.byte() % 48),
        b => 16 * 1024 - 8 + usize::from(b - 244) * 1024 + usize::from(input.byte()),
    }
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i as u8).wrapping_mul(31)))
        .collect()
}

/// Valid text of about `len` bytes, with 1- to 4-byte characters.
fn text(len: usize, seed: u8) -> String {
    const PIECES: [&str; 5] = ["a", "é", "€", "😀", " "];
    let mut out = String::new();
    let mut i = usize::from(seed);
    while out.len() < len {
        out.push_str(PIECES[i % PIECES.len()]);
        i += 1;
    }
    out
}

fn close_code(input: &mut Input<'_>) -> CloseCode {
    const CODES: [u16; 8] = [1000, 1001, 1005, 1006, 1011, 3000, 4999, 999];
    let b = input.byte();
    if b < 200 {
        CloseCode(CODES[usize::from(b) % CODES.len()])
    } else {
        CloseCode(input.u16())
    }
}

/// What the peer must see, in order: data messages, pings, and our close.
#[derive(Default)]
struct Expected {
    frames: Vec<Seen>,
    /// The fragmented message being sent.
    fragments: Option<(MessageKind, Vec<u8>)>,
    /// Our explicit close, if accepted.
    close: Option<u16>,
}

/// Whether a send was queued: accepted by the connection, whatever the I/O did.
fn queued(result: &Result<(), Error>) -> bool {
    match result {
        Ok(()) | Err(Error::Io(_)) => true,
        Err(Error::Send(_)) => false,
        Err(other) => panic!("a send failed with {other:?}"),
    }
}

struct Peer {
    /// Produces the bytes the peer sends us.
    conn: Connection,
    /// What the peer sent, still to be read, when its stream is well-formed.
    sent: VecDeque<Message>,
    /// Raw bytes were injected: reads are no longer predictable.
    garbage: bool,
}

impl Peer {
    fn send(&mut self, mock: &mut Mock, message: Message) {
        let result = match &message {
            Message::Text(t) => self.conn.send_text(t),
            Message::Binary(b) => self.conn.send_binary(b),
            Message::Ping(p) => self.conn.send_ping(p),
            Message::Pong(p) => self.conn.send_pong(p),
            Message::Close(code, reason) => self.conn.close(*code, reason),
        };
        if result.is_ok() {
            self.sent.push_back(message);
        }
        let out = self.conn.pending_output();
        mock.incoming.extend(out);
        let n = out.len();
        self.conn.consume_output(n);
    }
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let role = role(flags);
    let mut config = Config::default();
    config.max_frame_size = 64 * 1024;
    config.max_message_size = 128 * 1024;
    if flags & 2 != 0 {
        config.fragment_size = 7.try_into().unwrap();
    }
    if flags & 4 != 0 {
        config.write_buffer_cap = 100;
    }
    let borrowed_reads = flags & 8 != 0;
    let tape_len = usize::from(input.byte()) * 2;
    let tape = input.take(tape_len).to_vec();
    let mock = Mock {
        incoming: VecDeque::new(),
        eof: false,
        written: Vec::new(),
        tape,
        at: 0,
    };
    let conn = Connection::with_seed(role, config, [5; 32]);
    let mut ws = Some(WebSocket::from_connection(mock, conn));
    let mut peer = Peer {
        conn: Connection::with_seed(other(role), Config::default(), [6; 32]),
        sent: VecDeque::new(),
        garbage: false,
    };
    let mut expected = Expected::default();
    // A blocking close reads and drops messages: later reads are not predictable.
    let mut reads_predictable = true;

    let mut ops = 0;
    while !input.is_empty() && ops < 200 {
        ops += 1;
        let ws_ref = ws.as_mut().expect("socket");
        match input.byte() % 14 {
            0 => {
                let t = text(length(&mut input), input.byte());
                let r = ws_ref.send_text(&t);
                if queued(&r) {
                    expected.frames.push(Seen::Text(t));
                }
            }
            1 => {
                let b = bytes(length(&mut input), input.byte());
                let r = ws_ref.send_binary(&b);
                if queued(&r) {
                    expected.frames.push(Seen::Binary(b));
                }
            }
            2 => {
                // A fragment through the sans-IO connection, then a flush.
                let spec = input.byte();
                let kind = if spec & 1 == 0 {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let fin = spec & 2 != 0;
                let len = length(&mut input);
                let payload = if spec & 4 != 0 {
                    // Arbitrary bytes, possibly splitting or breaking UTF-8.
                    input.take(len).to_vec()
                } else {
                    text(len, spec).into_bytes()
                };
                let (mock, mut conn) = ws.take().expect("socket").into_parts();
                let result = conn.send_fragment(kind, &payload, fin);
                let mut socket = WebSocket::from_connection(mock, conn);
                let flushed = result.map_err(Error::Send).and_then(|()| socket.flush());
                ws = Some(socket);
                if queued(&flushed) {
                    let (kind, mut message) =
                        expected.fragments.take().unwrap_or((kind, Vec::new()));
                    message.extend_from_slice(&payload);
                    if fin {
                        expected.frames.push(match kind {
                            MessageKind::Text => Seen::Text(
                                String::from_utf8(message).expect("accepted text is UTF-8"),
                            ),
                            MessageKind::Binary => Seen::Binary(message),
                        });
                    } else {
                        expected.fragments = Some((kind, message));
                    }
                }
            }
            3 => {
                let p = bytes(usize::from(input.byte() % 130), input.byte());
                let r = ws_ref.send_ping(&p);
                if queued(&r) {
                    expected.frames.push(Seen::Ping(p));
                }
            }
            4 => {
                let p = bytes(usize::from(input.byte() % 130), input.byte());
                let _ = queued(&ws_ref.send_pong(&p));
            }
            5 => {
                let code = close_code(&mut input);
                let reason = text(usize::from(input.byte() % 130), 1);
                let r = ws_ref.send(&Message::Close(code, reason));
                if queued(&r) {
                    expected.close = Some(code.0);
                }
            }
            6 => {
                let code = close_code(&mut input);
                let open = ws_ref.connection().state() == State::Open;
                let result = ws_ref.close(code, "");
                reads_predictable = false;
                match result {
                    Err(Error::Send(_)) => assert!(open),
                    _ if open => expected.close = Some(code.0),
                    _ => {}
                }
            }
            7 | 8 => read(ws_ref, &mut peer, borrowed_reads, reads_predictable),
            9 => {
                let _ = ws_ref.flush();
            }
            10 => {
                let mock = ws_ref.get_mut();
                let message = match input.byte() % 5 {
                    0 => Message::Text(text(length(&mut input), 3)),
                    1 => Message::binary(bytes(length(&mut input), 4)),
                    2 => Message::Ping(bytes(usize::from(input.byte() % 126), 5)),
                    3 => Message::Pong(bytes(usize::from(input.byte() % 126), 6)),
                    _ => {
                        Message::Close(CloseCode(1000 + u16::from(input.byte() % 4)), "bye".into())
                    }
                };
                peer.send(mock, message);
            }
            11 => {
                let len = usize::from(input.byte());
                ws_ref.get_mut().incoming.extend(input.take(len));
                peer.garbage = true;
            }
            12 => ws_ref.get_mut().eof = true,
            _ => {
                let message = if input.byte() & 1 == 0 {
                    Message::Text(text(length(&mut input), 7))
                } else {
                    Message::binary(bytes(length(&mut input), 8))
                };
                if queued(&ws_ref.send(&message)) {
                    expected.frames.push(match message {
                        Message::Text(t) => Seen::Text(t),
                        Message::Binary(b) => Seen::Binary(b.into_vec()),
                        _ => unreachable!(),
                    });
                }
            }
        }
    }

    // Flush what is queued through a cooperative stream, and check it all in a fresh peer.
    let mut socket = ws.take().expect("socket");
    let mock = socket.get_mut();
    mock.tape.clear();
    socket
        .flush()
        .expect("a cooperative stream takes everything");
    let (mock, _conn) = socket.into_parts();
    let mut verifier = Connection::with_seed(other(role), Config::default(), [8; 32]);
    verifier.recv(&mock.written);
    let mut seen = Vec::new();
    drain(&mut verifier, &mut seen);
    if let Some(Seen::Error(e)) = seen.last() {
        panic!("the socket wrote invalid frames: {e:?}\n{seen:?}");
    }
    let data: Vec<&Seen> = seen
        .iter()
        .filter(|s| matches!(s, Seen::Text(_) | Seen::Binary(_) | Seen::Ping(_)))
        .collect();
    let want: Vec<&Seen> = expected.frames.iter().collect();
    assert_eq!(data, want, "the peer did not get exactly what was sent");
    let closes: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, Seen::Close(..)))
        .map(|(i, _)| i)
        .collect();
    assert!(closes.len() <= 1, "more than one close: {seen:?}");
    if let Some(&i) = closes.first() {
        assert_eq!(i, seen.len() - 1, "frames after the close: {seen:?}");
    }
    if let Some(code) = expected.close {
        let sent = match seen.last() {
            Some(Seen::Close(c, _)) => *c,
            other => panic!("our close was not sent: {other:?}"),
        };
        assert_eq!(sent, code);
    }
}

/// One read; when the peer's stream is well-formed, the message must be the next it sent.
fn read(ws: &mut WebSocket<Mock>, peer: &mut Peer, borrowed: bool, predictable: bool) {
    let state = ws.connection().state();
    let result = if borrowed {
        ws.read_event().map(|e| e.map(Message::from))
    } else {
        ws.read()
    };
    let check = predictable && !peer.garbage;
    match result {
        Ok(Some(message)) => {
            if check {
                let want = peer.sent.pop_front();
                assert_eq!(
                    Some(&message),
                    want.as_ref(),
                    "read a message the peer did not send"
                );
            }
        }
        Ok(None) => {
            assert!(
                ws.connection().is_closed(),
                "Ok(None) on a live connection: {state:?} -> {:?}",
                ws.connection().state()
            );
        }
        Err(Error::Io(e)) => {
            // Only what the mock failed with comes out; an interrupted call is retried inside.
            use io::ErrorKind::*;
            assert!(
                matches!(
                    e.kind(),
                    WouldBlock | TimedOut | ConnectionReset | BrokenPipe | WriteZero
                ),
                "read failed with an error the stream never gave: {e:?}"
            );
        }
        Err(Error::Protocol(e)) => {
            assert_eq!(ws.connection().state(), State::Failed);
            if check {
                assert_eq!(
                    e,
                    rfc6455::ProtocolError::UnexpectedEof,
                    "the peer was well-formed"
                );
            }
        }
        Err(other) => panic!("read failed with {other:?}"),
    }
}
