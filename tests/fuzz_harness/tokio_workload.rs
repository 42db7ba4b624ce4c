//! Target: operations on a `tokio::WebSocket` over an in-memory stream whose other end is a
//! well-formed peer `Connection`, with reads, sends and closes cancelled after a number of
//! polls the fuzzer picks, and a stream that answers `Pending`, short reads, short writes and
//! `Interrupted` as a tape of input bytes says (past the tape it cooperates).
//!
//! Every future is polled by hand with a no-op waker, on a current-thread runtime whose clock
//! is paused and never advanced: no real time, no timer ever fires, the run is deterministic.
//!
//! Oracles:
//! - nothing panics, and no call fails other than a send refused once a close was queued;
//! - what we write always decodes in the peer: every completed send arrives, a cancelled one
//!   arrives whole or not at all, each at most once and in order; nothing follows our close;
//! - every message and ping the peer sent is read exactly once, whole and in order (a
//!   `close()` discards messages: after one was polled, reads may skip but not reorder);
//! - once both sides close, `close()` completes: both connections are closed, the peer got
//!   our close, a server ended the stream, and `read()` then returns `Ok(None)`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use rfc6455::tokio::{Error, Message, WebSocket};
use rfc6455::{CloseCode, Config, Connection, MessageKind, Role, State, Teardown};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Input, other, role};

/// The runtime every run enters (for the adapter's timers), made once: current-thread, clock
/// paused and never driven.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime")
    })
}

/// The wire and the peer, shared by the mock stream (inside the socket) and the harness.
struct Wire {
    /// The peer's bytes not read yet.
    incoming: VecDeque<u8>,
    /// The peer ended its side: once `incoming` is empty, reads return 0.
    eof: bool,
    /// We ended our side (`poll_shutdown`).
    shut_down: bool,
    /// The behaviour of the next reads and writes; past its end the stream cooperates.
    tape: Vec<u8>,
    at: usize,
    /// The other end, fed everything we write.
    peer: Connection,
}

impl Wire {
    fn next(&mut self) -> Option<u8> {
        let b = self.tape.get(self.at).copied();
        self.at += 1;
        b
    }

    /// Moves the peer's output (its messages, pongs, close echo) onto the wire, and ends
    /// the peer's side once its teardown says so.
    fn peer_output(&mut self) {
        let out = self.peer.pending_output();
        self.incoming.extend(out);
        let n = out.len();
        self.peer.consume_output(n);
        if let Some(Teardown::EndOutput | Teardown::Abort) = self.peer.poll_teardown() {
            self.eof = true;
        }
    }
}

struct Mock(Rc<RefCell<Wire>>);

enum Step {
    Pending,
    Interrupted,
    Limit(usize),
}

impl Mock {
    fn step(&self) -> Step {
        match self.0.borrow_mut().next() {
            None => Step::Limit(usize::MAX),
            Some(b) => match b % 4 {
                0 => Step::Pending,
                1 if b & 0x80 != 0 => Step::Interrupted,
                _ => Step::Limit(usize::from(b / 4) + 1),
            },
        }
    }
}

impl AsyncRead for Mock {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let limit = match self.step() {
            Step::Pending => return Poll::Pending,
            Step::Interrupted => return Poll::Ready(Err(io::ErrorKind::Interrupted.into())),
            Step::Limit(n) => n,
        };
        let mut wire = self.0.borrow_mut();
        wire.peer_output();
        if wire.incoming.is_empty() {
            // Nothing to read: a real stream would wait (nobody wakes us: we poll by hand).
            return if wire.eof {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            };
        }
        let n = limit.min(buf.remaining()).min(wire.incoming.len());
        let bytes: Vec<u8> = wire.incoming.drain(..n).collect();
        buf.put_slice(&bytes);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Mock {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        assert!(!self.0.borrow().shut_down, "a write after the shutdown");
        let limit = match self.step() {
            Step::Pending => return Poll::Pending,
            Step::Interrupted => return Poll::Ready(Err(io::ErrorKind::Interrupted.into())),
            Step::Limit(n) => n,
        };
        let n = limit.min(data.len());
        self.0.borrow_mut().peer.recv(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.step() {
            Step::Pending => Poll::Pending,
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Step::Pending = self.step() {
            return Poll::Pending;
        }
        let mut wire = self.0.borrow_mut();
        if !wire.shut_down {
            wire.shut_down = true;
            wire.peer.recv_eof();
        }
        Poll::Ready(Ok(()))
    }
}

/// More polls than any operation needs once the tape is used up: the stream cooperates then.
const STUCK: usize = 100_000;

/// Polls `fut` at most `polls` times with a no-op waker, then drops it; `None`: cancelled.
/// After each poll the peer takes in what we wrote (see [`World::peer_step`]).
fn drive<F: Future>(fut: F, polls: usize, world: &mut World) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..polls {
        let polled = fut.as_mut().poll(&mut cx);
        world.peer_step();
        if let Poll::Ready(out) = polled {
            return Some(out);
        }
    }
    None
}

/// What the harness knows and expects, beside the socket.
struct World {
    wire: Rc<RefCell<Wire>>,
    /// Our sends, by index: the message, and whether the send completed.
    attempts: Vec<(Message, bool)>,
    /// The indices of our sends the peer received, in order of arrival.
    arrived: Vec<usize>,
    /// The peer received our close.
    peer_got_close: bool,
    /// What the peer sent that we have not read yet.
    expected: VecDeque<Message>,
    /// A `close()` was polled: it discards messages, so reads may skip some.
    discarding: bool,
    /// We read the peer's close.
    read_close: bool,
    /// The peer started the close handshake.
    peer_closed_first: bool,
}

impl World {
    /// The peer decodes what we wrote: valid frames, our sends in order, nothing after our
    /// close.
    fn peer_step(&mut self) {
        let mut wire = self.wire.borrow_mut();
        loop {
            let event = wire.peer.next_event();
            let message = match event {
                Ok(Some(event)) => Message::from(event),
                Ok(None) => break,
                Err(e) => panic!("the peer failed on what we wrote: {e:?}"),
            };
            assert!(!self.peer_got_close, "{message:?} after our close");
            match message {
                Message::Pong(_) => {} // answers to the peer's pings, coalesced
                Message::Close(..) => self.peer_got_close = true,
                message => {
                    let index = tag(&message);
                    let from = self.arrived.last().map_or(0, |&i| i + 1);
                    assert!(
                        index >= from && index < self.attempts.len(),
                        "send {index} arrived out of order or twice (after {from})"
                    );
                    assert!(
                        self.attempts[index].0 == message,
                        "send {index} arrived cut or changed"
                    );
                    for skipped in from..index {
                        assert!(!self.attempts[skipped].1, "completed send {skipped} lost");
                    }
                    self.arrived.push(index);
                }
            }
        }
        wire.peer_output();
    }

    /// A message `read` returned.
    fn got(&mut self, message: Message) {
        if let Message::Pong(_) = message {
            return; // the peer's answers to our pings
        }
        assert!(!self.read_close, "{message:?} read after the close");
        if let Message::Close(..) = message {
            self.read_close = true;
            if !self.peer_closed_first {
                return; // the peer's echo of our close
            }
        }
        loop {
            let want = self
                .expected
                .pop_front()
                .unwrap_or_else(|| panic!("read {message:?}, which the peer did not send"));
            if want == message {
                return;
            }
            assert!(
                self.discarding,
                "read {message:?}, expected {want:?} (lost, cut or out of order)"
            );
        }
    }
}

/// The index a send carries in its first 4 bytes (text: 8 hex digits).
fn tag(message: &Message) -> usize {
    match message {
        Message::Text(text) => usize::from_str_radix(&text[..8], 16).expect("a tagged text"),
        Message::Binary(data) => tagged(data),
        Message::Ping(data) => tagged(data),
        other => panic!("untagged {other:?}"),
    }
}

fn tagged(data: &[u8]) -> usize {
    u32::from_be_bytes(data[..4].try_into().expect("a tagged payload")) as usize
}

/// A payload length: mostly small, at times (two byte values in 256, and at most `BIG` per
/// run: large payloads make runs slow) above the server's copy-free threshold.
fn length(input: &mut Input<'_>, big: &mut usize) -> usize {
    match input.byte() {
        0xFE if *big > 0 => {
            *big -= 1;
            17 * 1024
        }
        0xFF if *big > 0 => {
            *big -= 1;
            23 * 1024
        }
        b => usize::from(b),
    }
}

/// How many large payloads a run may have.
const BIG: usize = 4;

fn binary(index: usize, len: usize, fill: u8) -> Vec<u8> {
    let mut data = (index as u32).to_be_bytes().to_vec();
    data.extend((0..len).map(|i| fill.wrapping_add(i as u8)));
    data
}

fn text(index: usize, len: usize, fill: u8) -> String {
    let mut s = format!("{index:08x}");
    // Multi-byte characters, so short writes cut them.
    s.extend((0..len).map(|i| ['a', 'é', 'κ', '€'][(usize::from(fill) + i) % 4]));
    s
}

pub fn run(data: &[u8]) {
    let _runtime = runtime().enter();
    let mut input = Input::new(data);
    let flags = input.byte();
    let role = role(flags);
    let mut config = Config::default();
    config.max_frame_size = 256 * 1024;
    config.max_message_size = 512 * 1024;
    if flags & 2 != 0 {
        config.write_buffer_cap = 64;
    }
    if flags & 4 != 0 {
        config.fragment_size = 7.try_into().expect("non-zero");
    }
    let borrowed_reads = flags & 8 != 0;
    let tape_len = usize::from(input.byte()) * 4;
    let tape = input.take(tape_len).to_vec();
    let wire = Rc::new(RefCell::new(Wire {
        incoming: VecDeque::new(),
        eof: false,
        shut_down: false,
        tape,
        at: 0,
        peer: Connection::with_seed(other(role), Config::default(), [6; 32]),
    }));
    let conn = Connection::with_seed(role, config, [5; 32]);
    let mut ws = WebSocket::from_connection(Mock(Rc::clone(&wire)), conn);
    let mut world = World {
        wire,
        attempts: Vec::new(),
        arrived: Vec::new(),
        peer_got_close: false,
        expected: VecDeque::new(),
        discarding: false,
        read_close: false,
        peer_closed_first: false,
    };

    let mut big = BIG;
    let mut ops = 0;
    while !input.is_empty() && ops < 200 {
        ops += 1;
        let op = input.byte();
        let polls = usize::from(input.byte() % 32);
        match op % 10 {
            0 | 1 => {
                // The peer sends a message (fragmented, with a ping between, at times).
                let len = length(&mut input, &mut big);
                let fill = input.byte();
                let mut wire = world.wire.borrow_mut();
                let peer = &mut wire.peer;
                let sent = match op % 4 {
                    0 => {
                        let t = text(0, len, fill);
                        peer.send_text(&t).map(|()| vec![Message::Text(t)])
                    }
                    1 => {
                        let b = binary(0, len, fill);
                        peer.send_binary(&b)
                            .map(|()| vec![Message::Binary(b.into())])
                    }
                    2 => {
                        let b = binary(0, len.min(100), fill);
                        peer.send_ping(&b).map(|()| vec![Message::Ping(b)])
                    }
                    _ => {
                        let b = binary(0, len, fill);
                        let (x, y) = b.split_at(b.len() / 2);
                        peer.send_fragment(MessageKind::Binary, x, false)
                            .and_then(|()| peer.send_ping(b"mid"))
                            .and_then(|()| peer.send_fragment(MessageKind::Binary, y, true))
                            .map(|()| {
                                vec![Message::Ping(b"mid".to_vec()), Message::Binary(b.into())]
                            })
                    }
                };
                if let Ok(messages) = sent {
                    world.expected.extend(messages);
                }
                wire.peer_output();
            }
            2 | 3 => {
                // A read, cancelled after `polls` polls.
                let outcome = if borrowed_reads {
                    drive(
                        async { ws.read_event().await.map(|e| e.map(Message::from)) },
                        polls,
                        &mut world,
                    )
                } else {
                    drive(ws.read(), polls, &mut world)
                };
                match outcome {
                    None => {}
                    Some(Ok(Some(message))) => world.got(message),
                    Some(Ok(None)) => {
                        assert!(ws.connection().is_closed(), "Ok(None) on a live socket");
                    }
                    Some(Err(e)) => panic!("read failed: {e:?}"),
                }
            }
            4..=6 => {
                // A send, cancelled after `polls` polls.
                let index = world.attempts.len();
                let len = length(&mut input, &mut big);
                let fill = input.byte();
                let message = match op % 3 {
                    0 => Message::Text(text(index, len, fill)),
                    1 => Message::binary(binary(index, len, fill)),
                    _ => Message::Ping(binary(index, len.min(100), fill)),
                };
                world.attempts.push((message.clone(), false));
                let outcome = match &message {
                    Message::Text(t) => drive(ws.send_text(t), polls, &mut world),
                    Message::Binary(b) => drive(ws.send_binary(b), polls, &mut world),
                    Message::Ping(b) => drive(ws.send_ping(b), polls, &mut world),
                    _ => unreachable!(),
                };
                match outcome {
                    None => {}
                    Some(Ok(())) => {
                        // Written out and flushed: the peer has it.
                        assert_eq!(world.arrived.last(), Some(&index), "completed send lost");
                        world.attempts[index].1 = true;
                    }
                    Some(Err(Error::Send(_))) => {
                        assert_ne!(ws.connection().state(), State::Open, "send refused");
                    }
                    Some(Err(e)) => panic!("send failed: {e:?}"),
                }
            }
            7 => {
                // A fragmented message from us, each fragment sent to the end.
                let index = world.attempts.len();
                let data = binary(index, length(&mut input, &mut big), input.byte());
                let cut = data.len() / 3;
                world
                    .attempts
                    .push((Message::Binary(data.clone().into()), false));
                let pieces = [&data[..cut], &data[cut..2 * cut], &data[2 * cut..]];
                let mut done = true;
                for (i, piece) in pieces.iter().enumerate() {
                    let fin = i == 2;
                    match drive(
                        ws.send_fragment(MessageKind::Binary, piece, fin),
                        STUCK,
                        &mut world,
                    ) {
                        Some(Ok(())) => {}
                        Some(Err(Error::Send(_))) if i == 0 => {
                            assert_ne!(ws.connection().state(), State::Open, "fragment refused");
                            done = false;
                            break;
                        }
                        other => panic!("fragment {i} failed: {other:?}"),
                    }
                }
                if done {
                    assert_eq!(
                        world.arrived.last(),
                        Some(&index),
                        "completed fragments lost"
                    );
                }
                world.attempts[index].1 = done;
            }
            8 => {
                // The peer closes.
                let mut wire = world.wire.borrow_mut();
                if wire.peer.state() == State::Open {
                    wire.peer
                        .close(CloseCode::NORMAL, "peer")
                        .expect("peer close");
                    world
                        .expected
                        .push_back(Message::Close(CloseCode::NORMAL, "peer".into()));
                    world.peer_closed_first = !world.peer_got_close;
                }
                wire.peer_output();
            }
            _ => {
                // We close, cancelled after `polls` polls.
                if polls > 0 {
                    world.discarding = true;
                }
                match drive(ws.close(CloseCode::GOING_AWAY, "bye"), polls, &mut world) {
                    None | Some(Ok(())) => {}
                    Some(Err(e)) => panic!("close failed: {e:?}"),
                }
            }
        }
    }

    // Both sides close, over a stream that cooperates from now on.
    {
        let mut wire = world.wire.borrow_mut();
        wire.tape.clear();
        if wire.peer.state() == State::Open {
            wire.peer
                .close(CloseCode::NORMAL, "peer")
                .expect("peer close");
            world.peer_closed_first = !world.peer_got_close;
        }
        wire.peer_output();
    }
    world.discarding = true;
    match drive(ws.close(CloseCode::GOING_AWAY, "bye"), STUCK, &mut world) {
        Some(Ok(())) => {}
        Some(Err(e)) => panic!("close failed: {e:?}"),
        None => panic!("the close handshake did not complete"),
    }
    assert!(ws.connection().is_closed(), "{:?}", ws.connection().state());
    let wire = world.wire.borrow();
    assert!(world.peer_got_close, "the peer never got our close");
    assert!(wire.peer.is_closed(), "peer: {:?}", wire.peer.state());
    if role == Role::Server {
        assert!(wire.shut_down, "a server did not end the stream");
    }
    for (i, (_, completed)) in world.attempts.iter().enumerate() {
        assert!(
            !completed || world.arrived.contains(&i),
            "completed send {i} never arrived"
        );
    }
    drop(wire);
    match drive(ws.read(), 100, &mut world) {
        Some(Ok(None)) => {}
        other => panic!("a read after the close: {other:?}"),
    }
}
