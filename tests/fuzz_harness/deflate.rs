//! Target (g): connections with permessage-deflate negotiated (RFC 7692), in two modes chosen
//! by the first byte.
//!
//! - **Stream**: a receiving connection, in either role, fed an arbitrary byte stream (frames
//!   may set RSV1 and carry any "compressed" data) split at points the fuzzer chooses.
//!   Oracles: the events, the error and the output equal those of delivering the stream in
//!   one piece (and one byte at a time, for short streams); no message is longer than
//!   `max_message_size`, however far its data would inflate; a failed connection stays failed
//!   and its output decodes in a fresh peer as for the `connection` target.
//! - **Round trip**: a sending connection with parameters from the input (level, window bits,
//!   context takeover, threshold, fragment size) sends whole messages, fragmented messages
//!   with pings between fragments, and long repetitive messages; a receiver fed that output
//!   split anywhere delivers exactly those messages and pings, in order.

use rfc6455::deflate::Negotiated;
use rfc6455::{Config, Connection, MessageKind, Role};

use super::connection::{Outcome, Seen, check_output, deliver_on};
use super::{Input, chunks, other, role};

/// At most this many operations per round-trip input.
const MAX_OPS: usize = 64;

/// At most this many bytes of long messages per round-trip input: more than one inflate
/// step (32 KiB), few enough to keep the fuzzer fast (zlib slides its hash table every
/// window: with 9-bit windows, every 512 bytes).
const LONG_BUDGET: usize = 40 * 1024;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let receiver = role(flags);
    let params = input.byte();
    let negotiated = Negotiated {
        level: (params >> 3) % 10,
        threshold: usize::from(input.byte()),
        window_bits: 9 + params % 7,
        no_context_takeover: flags & 32 != 0,
    };
    let fragment = input.byte();
    let via_buf = flags & 8 != 0;
    let sizes = input.chunk_sizes();
    if flags & 2 == 0 {
        stream(receiver, flags, &sizes, via_buf, input.rest());
    } else {
        round_trip(receiver, negotiated, fragment, &sizes, via_buf, &mut input);
    }
}

/// A connection with permessage-deflate on. Its own compressor is never used (it sends only
/// pongs and closes), so it gets the smallest: the parameters that matter are the sender's.
fn receiving(role: Role, config: &Config) -> Connection {
    let mut conn = Connection::with_seed(role, config.clone(), [7; 32]);
    conn.enable_deflate(Negotiated {
        level: 1,
        threshold: usize::MAX,
        window_bits: 9,
        no_context_takeover: true,
    });
    conn
}

fn stream(role: Role, flags: u8, sizes: &[usize], via_buf: bool, stream: &[u8]) {
    let mut config = Config::default();
    config.max_frame_size = if flags & 4 != 0 { 200 } else { 64 * 1024 };
    config.max_message_size = if flags & 4 != 0 { 500 } else { 128 * 1024 };
    config.auto_pong = flags & 64 == 0;
    let eof = flags & 16 != 0;
    let deliver =
        |pieces: &[&[u8]], via_buf| deliver_on(receiving(role, &config), pieces, via_buf, eof);

    let whole = deliver(&[stream], false);
    for seen in &whole.seen {
        let len = message_bytes(seen).map_or(0, <[u8]>::len);
        assert!(
            len <= config.max_message_size,
            "a {len}-byte message passed the {}-byte limit",
            config.max_message_size
        );
    }
    let split = deliver(&chunks(stream, sizes), via_buf);
    assert_eq!(whole, split, "split delivery differs from one piece");
    if stream.len() <= 512 {
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(
            whole,
            deliver(&bytewise, !via_buf),
            "one byte at a time differs"
        );
    }
    check_output(role, &config, &whole);
}

fn round_trip(
    receiver: Role,
    negotiated: Negotiated,
    fragment: u8,
    sizes: &[usize],
    via_buf: bool,
    input: &mut Input<'_>,
) {
    let mut config = Config::default();
    if fragment != 0 {
        config.fragment_size = usize::from(fragment).try_into().unwrap();
    }
    let mut sender = Connection::with_seed(other(receiver), config, [3; 32]);
    sender.enable_deflate(negotiated);

    let mut expected = Vec::new();
    let mut budget = LONG_BUDGET;
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        let op = input.byte();
        let text = op & 4 != 0;
        match op % 4 {
            0 => {
                let len = usize::from(input.byte());
                let data = input.take(len);
                let seen = message(text, data);
                send_message(&mut sender, &seen);
                expected.push(seen);
            }
            1 => {
                // Up to 4 fragments, with a ping after each but the last.
                let count = 1 + usize::from(input.byte() % 4);
                let lens: Vec<usize> = (0..count).map(|_| usize::from(input.byte())).collect();
                let total: usize = lens.iter().sum();
                let seen = message(text, input.take(total));
                let bytes = message_bytes(&seen).expect("a message");
                let kind = if text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                // Lossy decoding may have changed the length: split what is there, the
                // last fragment taking the rest (text fragments may split a code point).
                let mut rest = bytes;
                let mut pings = Vec::new();
                for (i, &len) in lens.iter().enumerate() {
                    let last = i + 1 == count;
                    let n = if last {
                        rest.len()
                    } else {
                        len.min(rest.len())
                    };
                    let (piece, tail) = rest.split_at(n);
                    sender.send_fragment(kind, piece, last).unwrap();
                    rest = tail;
                    if !last {
                        let ping = vec![i as u8; i];
                        sender.send_ping(&ping).unwrap();
                        pings.push(Seen::Ping(ping));
                    }
                }
                // Pings between fragments arrive before the message they interrupt.
                expected.extend(pings);
                expected.push(seen);
            }
            2 => {
                let len = usize::from(input.byte() % 126);
                let data = input.take(len).to_vec();
                sender.send_ping(&data).unwrap();
                expected.push(Seen::Ping(data));
            }
            _ => {
                // A long message from a short repeating pattern: many inflate steps.
                let len = usize::from(input.u16()).min(budget);
                budget -= len;
                let pattern_len = 1 + usize::from(input.byte() % 16);
                let pattern = input.take(pattern_len);
                let data: Vec<u8> = pattern.iter().copied().cycle().take(len).collect();
                let seen = message(text, &data);
                send_message(&mut sender, &seen);
                expected.push(seen);
            }
        }
    }

    let wire = sender.pending_output().to_vec();
    // The receiver's limits are above anything the sender made: every message arrives.
    let mut config = Config::default();
    config.max_frame_size = 1 << 20;
    config.max_message_size = 1 << 20;
    let outcome: Outcome = deliver_on(
        receiving(receiver, &config),
        &chunks(&wire, sizes),
        via_buf,
        false,
    );
    assert_eq!(outcome.seen, expected, "the receiver saw other messages");
}

/// The payload of a text or binary message.
fn message_bytes(seen: &Seen) -> Option<&[u8]> {
    match seen {
        Seen::Text(t) => Some(t.as_bytes()),
        Seen::Binary(b) => Some(b),
        _ => None,
    }
}

/// Sends a text or binary message whole.
fn send_message(sender: &mut Connection, seen: &Seen) {
    match seen {
        Seen::Text(t) => sender.send_text(t).unwrap(),
        Seen::Binary(b) => sender.send_binary(b).unwrap(),
        other => unreachable!("not a message: {other:?}"),
    }
}

/// A text message (the bytes decoded lossily) or a binary one.
fn message(text: bool, data: &[u8]) -> Seen {
    if text {
        Seen::Text(String::from_utf8_lossy(data).into_owned())
    } else {
        Seen::Binary(data.to_vec())
    }
}
