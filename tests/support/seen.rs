//! What a sans-IO `Connection` makes of its input: owned events, so that a test compares
//! whole lists, and the ways of feeding it.

use rfc6455::{Connection, Event, ProtocolError};

/// An event, owned, or the error that ended the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
    Error(ProtocolError),
}

impl From<Event<'_>> for Seen {
    fn from(event: Event<'_>) -> Seen {
        match event {
            Event::Text(t) => Seen::Text(t.to_owned()),
            Event::Binary(b) => Seen::Binary(b.to_vec()),
            Event::Ping(b) => Seen::Ping(b.to_vec()),
            Event::Pong(b) => Seen::Pong(b.to_vec()),
            Event::Close(f) => Seen::Close(f.code.0, f.reason.to_owned()),
        }
    }
}

/// Collects events until the connection needs more input; an error is recorded and ends it.
pub fn drain(c: &mut Connection, seen: &mut Vec<Seen>) {
    loop {
        match c.next_event() {
            Ok(Some(e)) => seen.push(Seen::from(e)),
            Ok(None) => return,
            Err(e) => {
                seen.push(Seen::Error(e));
                return;
            }
        }
    }
}

/// Feeds `input` in chunks of `chunk` bytes, collecting events after each chunk (and once
/// more at the end, so empty input is asked too).
pub fn feed(c: &mut Connection, input: &[u8], chunk: usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        c.recv(piece);
        drain(c, &mut seen);
    }
    drain(c, &mut seen);
    seen
}

/// Feeds `input` to two fresh connections from `fresh`, in one chunk and one byte at a time;
/// asserts both give the same events and output, and returns the events and the output.
pub fn one_chunk_and_bytewise(
    mut fresh: impl FnMut() -> Connection,
    input: &[u8],
) -> (Vec<Seen>, Vec<u8>) {
    let mut whole = fresh();
    let seen = feed(&mut whole, input, input.len());
    let mut bytewise = fresh();
    assert_eq!(
        seen,
        feed(&mut bytewise, input, 1),
        "one chunk vs one byte at a time"
    );
    assert_eq!(whole.pending_output(), bytewise.pending_output());
    (seen, whole.pending_output().to_vec())
}
