//! Target (b): a `Connection`, in the server or the client role, fed an arbitrary byte stream
//! split at points the fuzzer chooses.
//!
//! Oracles: the events and the error equal those of a small reference model of RFC 6455
//! written from the RFC, independently of `Connection` (below); the events, the error and the
//! output bytes equal those of delivering the stream in one piece (and, for short streams,
//! one byte at a time); a failed connection stays failed and
//! its last output frame is a close with the error's code; the output is valid frames that a
//! fresh peer decodes without error into at most one pong per ping and at most one close, last;
//! with auto-pong on, a ping is answered. The split delivery takes owned messages
//! (`next_message`) for some inputs, keeps them, and checks at the end that none changed.

use rfc6455::frame::OpCode;
use rfc6455::{Config, Connection, Event, Message, ProtocolError, Role, State};

use super::{Input, chunks, other, role};

/// What a connection made of a byte stream, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Error(ProtocolError),
}

impl Seen {
    pub fn from_event(event: Event<'_>) -> Seen {
        match event {
            Event::Text(t) => Seen::Text(t.to_owned()),
            Event::Binary(b) => Seen::Binary(b.to_vec()),
            Event::Ping(b) => Seen::Ping(b.to_vec()),
            Event::Pong(b) => Seen::Pong(b.to_vec()),
            Event::Close(f) => Seen::Close(f.code.0, f.reason.to_owned()),
        }
    }

    pub fn from_message(message: &Message) -> Seen {
        match message {
            Message::Text(t) => Seen::Text(t.clone()),
            Message::Binary(b) => Seen::Binary(b.to_vec()),
            Message::Ping(b) => Seen::Ping(b.clone()),
            Message::Pong(b) => Seen::Pong(b.clone()),
            Message::Close(code, reason) => Seen::Close(code.0, reason.clone()),
        }
    }
}

/// How events are taken: borrowed (`next_event`), or owned (`next_message`) and kept until
/// the delivery ends, each with its index in the events seen: a message must not change
/// while later input is read (a large one keeps the receive buffer it arrived in).
pub type Held = Option<Vec<(usize, Message)>>;

/// The outcome of one delivery: events (an error last, if any), final state, output.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub seen: Vec<Seen>,
    pub state: State,
    pub output: Vec<u8>,
}

/// Collects events until the connection needs more input. After an error, checks that the
/// connection stays quiet.
pub fn drain(conn: &mut Connection, seen: &mut Vec<Seen>) {
    drain_into(conn, seen, &mut None);
}

/// As [`drain`], taking owned messages and keeping them in `held` when it is `Some`.
pub fn drain_into(conn: &mut Connection, seen: &mut Vec<Seen>, held: &mut Held) {
    loop {
        let next = match held {
            Some(held) => conn.next_message().map(|message| {
                message.map(|message| {
                    let event = Seen::from_message(&message);
                    held.push((seen.len(), message));
                    event
                })
            }),
            None => conn.next_event().map(|event| event.map(Seen::from_event)),
        };
        match next {
            Ok(Some(event)) => {
                assert!(
                    !matches!(seen.last(), Some(Seen::Close(..) | Seen::Error(_))),
                    "{event:?} after {:?}",
                    seen.last()
                );
                seen.push(event);
            }
            Ok(None) => return,
            Err(error) => {
                assert!(
                    !matches!(seen.last(), Some(Seen::Close(..) | Seen::Error(_))),
                    "{error:?} after {:?}",
                    seen.last()
                );
                assert_eq!(conn.state(), State::Failed);
                seen.push(Seen::Error(error));
                assert_eq!(
                    conn.next_event(),
                    Ok(None),
                    "a failed connection stays quiet"
                );
                return;
            }
        }
    }
}

pub fn config(flags: u8) -> Config {
    let mut config = Config::default();
    config.max_frame_size = if flags & 2 != 0 { 200 } else { 64 * 1024 };
    config.max_message_size = if flags & 4 != 0 { 500 } else { 128 * 1024 };
    config.auto_pong = flags & 8 == 0;
    config
}

/// Delivers `pieces` to a fresh connection, draining events after each, through `recv` or
/// (with `via_buf`) through `recv_buf` + `recv_filled`.
pub fn deliver(role: Role, config: &Config, pieces: &[&[u8]], via_buf: bool, eof: bool) -> Outcome {
    deliver_on(
        Connection::with_seed(role, config.clone(), [7; 32]),
        pieces,
        via_buf,
        eof,
    )
}

/// As [`deliver`], to a connection set up by the caller.
pub fn deliver_on(conn: Connection, pieces: &[&[u8]], via_buf: bool, eof: bool) -> Outcome {
    deliver_as(conn, pieces, via_buf, eof, false)
}

/// As [`deliver_on`], taking owned messages (`next_message`) when `owned`, and checking at
/// the end that every message kept is still what it was when it was taken.
pub fn deliver_as(
    mut conn: Connection,
    pieces: &[&[u8]],
    via_buf: bool,
    eof: bool,
    owned: bool,
) -> Outcome {
    let mut seen = Vec::new();
    let mut held: Held = owned.then(Vec::new);
    for piece in pieces {
        if via_buf {
            let mut rest = *piece;
            while !rest.is_empty() {
                let buf = conn.recv_buf();
                assert!(!buf.is_empty());
                let n = buf.len().min(rest.len());
                buf[..n].copy_from_slice(&rest[..n]);
                conn.recv_filled(n);
                rest = &rest[n..];
            }
        } else {
            conn.recv(piece);
        }
        drain_into(&mut conn, &mut seen, &mut held);
    }
    if pieces.is_empty() {
        drain_into(&mut conn, &mut seen, &mut held);
    }
    if eof {
        conn.recv_eof();
        drain_into(&mut conn, &mut seen, &mut held);
    }
    for (i, message) in held.iter().flatten() {
        assert_eq!(
            Seen::from_message(message),
            seen[*i],
            "message {i} changed after it was taken"
        );
    }
    // Nothing more happens: input after the end is discarded or waits, as before.
    let output = conn.pending_output().to_vec();
    if let Some(Seen::Error(error)) = seen.last() {
        conn.recv(b"\x81\x00\x82\x80\x00\x00\x00\x00");
        assert_eq!(conn.next_event(), Ok(None));
        assert_eq!(
            conn.pending_output(),
            &output[..],
            "a failed connection sends nothing more"
        );
        assert_eq!(conn.send_text("x"), Err(rfc6455::SendError::Closed));
        assert_eq!(conn.state(), State::Failed, "{error:?}");
    }
    Outcome {
        seen,
        state: conn.state(),
        output,
    }
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let role = role(flags);
    let config = config(flags);
    let eof = flags & 16 != 0;
    let via_buf = flags & 32 != 0;
    let sizes = input.chunk_sizes();
    let stream = input.rest();

    let whole = deliver(role, &config, &[stream], false, eof);
    assert_eq!(
        whole.seen,
        model(role, &config, stream, eof),
        "the connection disagrees with the reference model"
    );
    // Owned messages, kept to the end, for some inputs: the same events.
    let owned = flags & 64 != 0;
    let split = deliver_as(
        Connection::with_seed(role, config.clone(), [7; 32]),
        &chunks(stream, &sizes),
        via_buf,
        eof,
        owned,
    );
    assert_eq!(whole, split, "split delivery differs from one piece");
    if stream.len() <= 512 {
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(
            whole,
            deliver(role, &config, &bytewise, !via_buf, eof),
            "one byte at a time differs"
        );
    }
    check_output(role, &config, &whole);
}

/// The output must decode in a fresh peer into the pongs and the close it should hold.
pub fn check_output(role: Role, config: &Config, outcome: &Outcome) {
    let mut peer = Connection::with_seed(other(role), Config::default(), [9; 32]);
    peer.recv(&outcome.output);
    let mut sent = Vec::new();
    drain(&mut peer, &mut sent);
    let pings: Vec<&Vec<u8>> = outcome
        .seen
        .iter()
        .filter_map(|s| match s {
            Seen::Ping(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut pongs = 0;
    for (i, frame) in sent.iter().enumerate() {
        match frame {
            Seen::Pong(payload) => {
                assert!(config.auto_pong, "pong sent with auto_pong off");
                assert!(pings.contains(&payload), "pong {payload:?} answers no ping");
                pongs += 1;
            }
            Seen::Close(code, reason) => {
                assert_eq!(i, sent.len() - 1, "close is the last frame");
                assert!(reason.is_empty());
                match outcome.seen.last() {
                    Some(Seen::Error(e)) => assert_eq!(*code, e.close_code().0),
                    Some(Seen::Close(received, _)) => assert_eq!(code, received),
                    other => panic!("close sent after {other:?}"),
                }
            }
            Seen::Error(e) => panic!("our output is invalid for the peer: {e:?}"),
            other => panic!("a receiving connection sent {other:?}"),
        }
    }
    assert!(pongs <= 1, "pongs are coalesced while unwritten");
    // Liveness: with auto-pong on, a ping is answered. The output is never written here, so
    // the pong in it answers the first ping; later ones wait for that pong to be written
    // (tests/connection.rs checks that the most recent is then answered), or are dropped
    // when the connection fails or closes first.
    if config.auto_pong
        && let Some(first) = pings.first()
    {
        let answered = sent.iter().find_map(|s| match s {
            Seen::Pong(p) => Some(p),
            _ => None,
        });
        assert_eq!(
            answered,
            Some(*first),
            "the first ping is answered: {outcome:?}"
        );
    }
    // A queued close is there exactly when it should be.
    let closed = match outcome.seen.last() {
        Some(Seen::Error(ProtocolError::UnexpectedEof)) => false,
        Some(Seen::Error(_) | Seen::Close(..)) => true,
        _ => false,
    };
    let close_sent =
        !outcome.output.is_empty() && last_opcode(&outcome.output) == Some(OpCode::Close);
    assert_eq!(
        closed, close_sent,
        "close frame queued iff the connection ended: {outcome:?}"
    );
}

/// The opcode of the last complete frame in `bytes`.
fn last_opcode(mut bytes: &[u8]) -> Option<OpCode> {
    use rfc6455::frame::{Decoded, FrameHeader};
    let mut last = None;
    while let Ok(Decoded::Complete(h, n)) = FrameHeader::decode(bytes, u64::MAX) {
        last = Some(h.opcode);
        bytes = bytes.get(n + h.len as usize..)?;
    }
    last
}

/// What RFC 6455 says a receiver of `role` makes of `stream`, frame by frame, with no
/// extension negotiated: the events, then the error that fails the connection, if any.
///
/// Written from the RFC, not from `Connection`: frames are decoded with `FrameHeader::decode`
/// (fuzzed on its own) and everything else is checked here. Text is validated with `std`:
/// it fails as soon as the bytes so far cannot begin valid UTF-8, even in a frame that has
/// not fully arrived.
pub fn model(role: Role, config: &Config, stream: &[u8], eof: bool) -> Vec<Seen> {
    use rfc6455::frame::{Decoded, FrameHeader};
    use rfc6455::mask::apply_mask_bytewise;

    /// `Some(error)` when `text` cannot be the start of valid UTF-8.
    fn broken(text: &[u8]) -> bool {
        matches!(core::str::from_utf8(text), Err(e) if e.error_len().is_some())
    }

    let mut seen = Vec::new();
    // The fragmented message being received: is it text, its payload, its declared size.
    let mut message: Option<(bool, Vec<u8>, u64)> = None;
    let mut rest = stream;
    let fail = |mut seen: Vec<Seen>, e: ProtocolError| {
        seen.push(Seen::Error(e));
        seen
    };
    loop {
        let (header, used) = match FrameHeader::decode(rest, config.max_frame_size as u64) {
            Err(e) => return fail(seen, ProtocolError::Frame(e)),
            Ok(Decoded::Partial(_)) => break,
            Ok(Decoded::Complete(header, used)) => (header, used),
        };
        match (role, header.mask) {
            (Role::Server, None) => return fail(seen, ProtocolError::UnmaskedFrame),
            (Role::Client, Some(_)) => return fail(seen, ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.rsv != 0 {
            return fail(seen, ProtocolError::ReservedBits(header.rsv));
        }
        let data = !header.opcode.is_control();
        match (header.opcode, &message) {
            (OpCode::Continuation, None) => {
                return fail(seen, ProtocolError::UnexpectedContinuation);
            }
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return fail(seen, ProtocolError::ExpectedContinuation(header.opcode));
            }
            _ => {}
        }
        let is_text = match header.opcode {
            OpCode::Text => true,
            OpCode::Continuation => message.as_ref().is_some_and(|m| m.0),
            _ => false,
        };
        let mut so_far: Vec<u8> = match (&message, header.opcode) {
            (Some((_, bytes, _)), OpCode::Continuation) => bytes.clone(),
            _ => Vec::new(),
        };
        if data {
            let before = match header.opcode {
                OpCode::Continuation => message.as_ref().map_or(0, |m| m.2),
                _ => 0,
            };
            let size = before.saturating_add(header.len);
            if size > config.max_message_size as u64 {
                let max = config.max_message_size;
                return fail(seen, ProtocolError::MessageTooLarge { size, max });
            }
        }
        let len = header.len as usize;
        let body = &rest[used..];
        let mut payload = body[..len.min(body.len())].to_vec();
        if let Some(key) = header.mask {
            apply_mask_bytewise(&mut payload, key, 0);
        }
        so_far.extend_from_slice(&payload);
        if payload.len() < len {
            // Incomplete: text already known to be broken fails now.
            if is_text && broken(&so_far) {
                return fail(seen, ProtocolError::InvalidUtf8);
            }
            break;
        }
        rest = &body[len..];
        match header.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if is_text && broken(&so_far) {
                    return fail(seen, ProtocolError::InvalidUtf8);
                }
                if !header.fin {
                    let declared = match header.opcode {
                        OpCode::Continuation => message.as_ref().map_or(0, |m| m.2),
                        _ => 0,
                    } + header.len;
                    message = Some((is_text, so_far, declared));
                    continue;
                }
                message = None;
                if is_text {
                    match String::from_utf8(so_far) {
                        Ok(text) => seen.push(Seen::Text(text)),
                        Err(_) => return fail(seen, ProtocolError::InvalidUtf8),
                    }
                } else {
                    seen.push(Seen::Binary(so_far));
                }
            }
            OpCode::Ping => seen.push(Seen::Ping(payload)),
            OpCode::Pong => seen.push(Seen::Pong(payload)),
            OpCode::Close => {
                let code = match payload[..] {
                    [] => 1005,
                    [_] => return fail(seen, ProtocolError::CloseTooShort),
                    [a, b, ..] => u16::from_be_bytes([a, b]),
                };
                let sendable = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
                if payload.len() >= 2 && !sendable {
                    return fail(seen, ProtocolError::InvalidCloseCode(code));
                }
                let reason = payload.get(2..).unwrap_or_default();
                let Ok(reason) = core::str::from_utf8(reason) else {
                    return fail(seen, ProtocolError::InvalidCloseReason);
                };
                seen.push(Seen::Close(code, reason.to_owned()));
                // Everything after the close is discarded.
                return seen;
            }
        }
    }
    if eof {
        return fail(seen, ProtocolError::UnexpectedEof);
    }
    seen
}
