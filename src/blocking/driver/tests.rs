//! The blocking driving loop against a scripted transport and a clock moved by hand: every
//! deadline the core keeps (keepalive, idle, read, close) turns into the read timeout it
//! should, and what each one ends in (a ping written, an error, the transport torn down) is
//! carried out. No socket and no waiting: a silent peer is a read that "times out" by moving
//! the clock forward by the timeout it was given.

use std::cell::Cell;
use std::collections::VecDeque;
use std::time::Duration;

use super::{Link, pump};
use crate::blocking::Error;
use crate::blocking::timers::Time;
use crate::{CloseCode, Config, Connection, Keepalive, Message, Role};

const S: fn(u64) -> Duration = Duration::from_secs;

/// A clock that moves only when told.
#[derive(Default)]
struct FakeClock(Cell<Duration>);

impl Time for FakeClock {
    fn now(&self) -> Duration {
        self.0.get()
    }
}

/// What the peer does next: bytes after a wait, or the end of the stream.
enum Step {
    Bytes(Duration, Vec<u8>),
    Eof,
}

/// A transport whose reads follow a script, recording what the loop asks of it. A read
/// whose timeout passes before the peer's next bytes (or once the script has run out) moves
/// the clock by that timeout and returns nothing, as a socket's read timeout does.
struct Fake<'c> {
    conn: Connection,
    clock: &'c FakeClock,
    script: VecDeque<Step>,
    /// The timeout of every read, in order.
    reads: Vec<Option<Duration>>,
    /// Everything flushed, with the time it was flushed at.
    wire: Vec<(Duration, Vec<u8>)>,
    ended: usize,
    aborted: usize,
}

impl<'c> Fake<'c> {
    fn new(conn: Connection, clock: &'c FakeClock) -> Fake<'c> {
        Fake {
            conn,
            clock,
            script: VecDeque::new(),
            reads: Vec::new(),
            wire: Vec::new(),
            ended: 0,
            aborted: 0,
        }
    }

    /// The frames flushed so far, as a client reads them, each with its time.
    fn sent(&self) -> Vec<(Duration, Message)> {
        let mut client = Connection::with_seed(Role::Client, Config::default(), [1; 32]);
        let mut out = Vec::new();
        for (at, bytes) in &self.wire {
            client.recv(bytes);
            while let Some(message) = client.next_message().expect("our frames are valid") {
                out.push((*at, message));
            }
        }
        out
    }
}

impl Link for Fake<'_> {
    type Conn<'a>
        = &'a mut Connection
    where
        Self: 'a;

    fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn read(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.reads.push(timeout);
        let advance = |by: Duration| self.clock.0.set(self.clock.0.get() + by);
        match self.script.pop_front() {
            Some(Step::Bytes(after, bytes)) => match timeout {
                Some(t) if t < after => {
                    advance(t);
                    self.script.push_front(Step::Bytes(after - t, bytes));
                }
                _ => {
                    advance(after);
                    self.conn.recv(&bytes);
                }
            },
            Some(Step::Eof) => self.conn.recv_eof(),
            None => advance(timeout.expect("a silent peer and no deadline: blocked for ever")),
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        let out = self.conn.pending_output().to_vec();
        self.conn.consume_output(out.len());
        if !out.is_empty() {
            self.wire.push((self.clock.now(), out));
        }
        Ok(())
    }

    fn end_output(&mut self) {
        self.ended += 1;
    }

    fn abort(&mut self) {
        self.aborted += 1;
    }
}

fn server(keepalive: Keepalive) -> Connection {
    let config = Config {
        keepalive,
        ..Config::default()
    };
    Connection::new(Role::Server, config)
}

/// A client's frame carrying `text`.
fn client_text(text: &str) -> Vec<u8> {
    let mut client = Connection::with_seed(Role::Client, Config::default(), [2; 32]);
    client.send_text(text).expect("send");
    client.pending_output().to_vec()
}

fn client_close(code: CloseCode) -> Vec<u8> {
    let mut client = Connection::with_seed(Role::Client, Config::default(), [3; 32]);
    client.close(code, "").expect("close");
    client.pending_output().to_vec()
}

#[test]
fn a_silent_peer_is_pinged_then_given_up_on_and_the_transport_aborted() {
    let clock = FakeClock::default();
    let mut link = Fake::new(server(Keepalive::new(S(10), S(30))), &clock);
    let err = pump(&mut link, &clock).expect_err("the peer never answers");
    assert!(
        matches!(err, Error::PeerUnresponsive(d) if d == S(30)),
        "{err}"
    );
    // A ping each interval of silence (10 s, 20 s), given up on at 30 s: one read per
    // deadline and no other wake-up.
    assert_eq!(link.reads, [Some(S(10)); 3]);
    let sent = link.sent();
    let pings: Vec<Duration> = sent
        .iter()
        .map(|(at, m)| {
            assert_eq!(m, &Message::Ping(b"keepalive".to_vec()));
            *at
        })
        .collect();
    assert_eq!(pings, [S(10), S(20)]);
    assert_eq!(clock.now(), S(30));
    assert_eq!((link.aborted, link.ended), (1, 0));
}

#[test]
fn a_peer_that_talks_is_never_pinged_and_the_ping_follows_its_last_byte() {
    let clock = FakeClock::default();
    let mut link = Fake::new(server(Keepalive::new(S(10), S(30))), &clock);
    for i in 0..3 {
        link.script
            .push_back(Step::Bytes(S(7), client_text(&format!("m{i}"))));
        assert!(pump(&mut link, &clock).expect("a message"));
        let message = link.conn.next_message().expect("valid");
        assert_eq!(message, Some(Message::Text(format!("m{i}"))));
    }
    assert_eq!(clock.now(), S(21));
    assert!(link.wire.is_empty(), "nothing sent: {:?}", link.sent());
    // Silent from 21 s: pinged 10 s after the last byte and every 10 s on, given up on 30 s
    // after it.
    let err = pump(&mut link, &clock).expect_err("silent");
    assert!(
        matches!(err, Error::PeerUnresponsive(d) if d == S(30)),
        "{err}"
    );
    // Each read waited for the deadline the last byte set, and no more.
    assert_eq!(link.reads, [Some(S(10)); 6]);
    let pings: Vec<Duration> = link.sent().iter().map(|(at, _)| *at).collect();
    assert_eq!(pings, [S(31), S(41)]);
    assert_eq!(clock.now(), S(51));
}

#[test]
fn a_read_deadline_passes_as_a_retryable_timeout_and_keeps_the_connection() {
    let clock = FakeClock::default();
    let mut link = Fake::new(server(Keepalive::off()), &clock);
    link.conn.set_read_deadline(Some(S(5)));
    let err = pump(&mut link, &clock).expect_err("nothing arrives");
    match err {
        Error::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("{other}"),
    }
    assert_eq!(link.reads, [Some(S(5))]);
    assert_eq!((link.aborted, link.ended), (0, 0));
    // The connection goes on: without a deadline the next read waits for ever.
    link.script
        .push_back(Step::Bytes(S(60), client_text("late")));
    assert!(pump(&mut link, &clock).expect("the late message"));
    assert_eq!(link.reads, [Some(S(5)), None]);
}

#[test]
fn our_close_unanswered_times_out_and_aborts() {
    let clock = FakeClock::default();
    let mut link = Fake::new(server(Keepalive::off()), &clock);
    link.conn.set_close_timeout(S(4));
    link.conn.close(CloseCode::NORMAL, "bye").expect("close");
    let err = pump(&mut link, &clock).expect_err("no close comes back");
    assert!(matches!(err, Error::CloseTimeout(d) if d == S(4)), "{err}");
    assert_eq!(link.reads, [Some(S(4))]);
    assert!(
        matches!(&link.sent()[..], [(at, Message::Close(CloseCode::NORMAL, _))] if *at == S(0))
    );
    assert_eq!(link.aborted, 1);
}

#[test]
fn a_server_ends_its_output_when_the_close_handshake_completes() {
    let clock = FakeClock::default();
    let mut link = Fake::new(server(Keepalive::new(S(10), S(30))), &clock);
    link.script
        .push_back(Step::Bytes(S(1), client_close(CloseCode(4000))));
    assert!(pump(&mut link, &clock).expect("the close event"));
    assert_eq!(
        link.conn.next_message().expect("valid"),
        Some(Message::Close(CloseCode(4000), String::new()))
    );
    // The echo went out, then the server ended its sending direction (RFC 6455 7.1.1).
    assert!(matches!(
        &link.sent()[..],
        [(_, Message::Close(CloseCode(4000), _))]
    ));
    assert_eq!((link.ended, link.aborted), (1, 0));
    // The client's end of the stream finishes the connection; no keepalive after the close.
    link.script.push_back(Step::Eof);
    assert!(!pump(&mut link, &clock).expect("finished"));
    assert_eq!(link.sent().len(), 1);
}
