use alloc::vec::Vec;

use super::*;
use crate::config::Config;
use crate::conn::{READ_MAX, Role};

/// `count` client frames carrying `payload(len, k)` each, as one byte string.
fn client_frames(len: usize, count: usize) -> Vec<u8> {
    let mut client = Connection::with_seed(Role::Client, Config::default(), [3; 32]);
    for k in 0..count {
        client.send_binary(&payload(len, k)).unwrap();
    }
    client.pending_output().to_vec()
}

fn payload(len: usize, k: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + k) as u8).collect()
}

/// Reads `wire` as a socket would when the sender is always ahead (every window filled),
/// handing each message to `take`, until `count` messages were taken.
fn read_all(server: &mut Connection, wire: &[u8], count: usize, mut take: impl FnMut(Message)) {
    let (mut pos, mut seen) = (0, 0);
    while seen < count {
        match server.next_message().unwrap() {
            Some(message) => {
                take(message);
                seen += 1;
            }
            None => {
                assert!(pos < wire.len(), "ran out of input after {seen} messages");
                let buf = server.recv_buf();
                let n = buf.len().min(wire.len() - pos);
                buf[..n].copy_from_slice(&wire[pos..pos + n]);
                server.recv_filled(n);
                pos += n;
            }
        }
    }
}

fn binary(message: Message) -> Payload {
    match message {
        Message::Binary(data) => data,
        other => panic!("expected a binary message, got {other:?}"),
    }
}

#[test]
fn large_messages_are_lent_and_their_buffer_comes_back() {
    let (len, count) = (2 * LEND_MIN, 8);
    let wire = client_frames(len, count);
    let mut server = Connection::new(Role::Server, Config::default());
    let mut starts = Vec::new();
    let mut k = 0;
    read_all(&mut server, &wire, count, |message| {
        let data = binary(message);
        assert!(data.is_shared(), "message {k} was copied, not lent");
        assert!(data == payload(len, k), "message {k} differs");
        starts.push(data.as_ptr() as usize);
        k += 1;
        // Dropped here, as an echo server drops what it sent back.
    });
    // Each payload is dropped before the next read, which takes its buffer back: once the
    // buffer has settled (the first messages grow it and move where reads start), every
    // message lands where the one before it did, as `next_event` would read them.
    for k in 4..count {
        assert_eq!(
            starts[k],
            starts[k - 1],
            "message {k} is in a new buffer: {starts:x?}"
        );
    }
}

#[test]
fn lent_payloads_held_by_the_reader_stay_intact() {
    let (len, count) = (LEND_MIN + 5, 5);
    let wire = client_frames(len, count);
    let mut server = Connection::new(Role::Server, Config::default());
    let mut held = Vec::new();
    read_all(&mut server, &wire, count, |message| {
        held.push(binary(message))
    });
    for (k, data) in held.iter().enumerate() {
        assert!(data.is_shared());
        assert!(*data == payload(len, k), "message {k} was overwritten");
    }
    // Every buffer is still in use: each message got one of its own.
    let mut starts: Vec<usize> = held.iter().map(|d| d.as_ptr() as usize).collect();
    starts.sort_unstable();
    starts.dedup();
    assert_eq!(starts.len(), count);
}

#[test]
fn bytes_after_a_lent_message_carry_over() {
    // Whole frames handed over at once: the lent message leaves the next ones behind it,
    // which move to the connection's next buffer.
    let len = LEND_MIN;
    let mut wire = client_frames(len, 1);
    let mut client = Connection::with_seed(Role::Client, Config::default(), [4; 32]);
    client.send_text("after").unwrap();
    client.send_binary(&[9; 10]).unwrap();
    wire.extend_from_slice(client.pending_output());
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(&wire);
    let first = binary(server.next_message().unwrap().unwrap());
    assert!(first.is_shared(), "the first message was copied");
    assert!(first == payload(len, 0));
    assert_eq!(server.next_message().unwrap(), Some(Message::text("after")));
    let small = binary(server.next_message().unwrap().unwrap());
    assert!(!small.is_shared());
    assert_eq!(small.into_vec(), [9; 10]);
    assert_eq!(server.next_message().unwrap(), None);
    assert!(first == payload(len, 0), "the first message changed");
}

#[test]
fn a_message_followed_by_more_than_itself_is_copied() {
    // Lending would move the bytes behind it, more than copying the message does.
    let len = LEND_MIN;
    let wire = client_frames(len, 3);
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(&wire);
    for k in 0..3 {
        let data = binary(server.next_message().unwrap().unwrap());
        assert!(data == payload(len, k));
        // The last one has nothing behind it.
        assert_eq!(data.is_shared(), k == 2, "message {k}");
    }
}

#[test]
fn small_messages_own_exactly_their_bytes() {
    let wire = client_frames(100, 3);
    let mut server = Connection::new(Role::Server, Config::default());
    let mut k = 0;
    read_all(&mut server, &wire, 3, |message| {
        let data = binary(message);
        assert!(!data.is_shared());
        let bytes = data.into_vec();
        assert_eq!(bytes, payload(100, k));
        assert_eq!(bytes.capacity(), 100, "more memory than the message");
        k += 1;
    });
}

#[test]
fn a_message_in_a_much_larger_buffer_is_copied() {
    // A large frame grows the receive buffer; a message far smaller than that buffer
    // (but over the lending size) is copied rather than keep the whole buffer.
    let big = LEND_RATIO * READ_MAX;
    let mut wire = client_frames(big, 1);
    let mut client = Connection::with_seed(Role::Client, Config::default(), [6; 32]);
    client.send_binary(&payload(LEND_MIN, 1)).unwrap();
    wire.extend_from_slice(client.pending_output());
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(&wire);
    // Taken borrowed: the buffer stays with the connection.
    match server.next_event().unwrap() {
        Some(crate::Event::Binary(data)) => assert_eq!(data.len(), big),
        other => panic!("unexpected {other:?}"),
    }
    let second = binary(server.next_message().unwrap().unwrap());
    assert!(second == payload(LEND_MIN, 1));
    assert!(!second.is_shared(), "a small message kept a large buffer");
}

#[test]
fn large_assembled_messages_are_moved_out() {
    let len = 3 * LEND_MIN;
    let data = payload(len, 0);
    let text: alloc::string::String = "é".repeat(len / 2);
    let mut client = Connection::with_seed(Role::Client, Config::default(), [8; 32]);
    for part in data.chunks(LEND_MIN) {
        let last = part.as_ptr() as usize + part.len() == data.as_ptr() as usize + len;
        client
            .send_fragment(crate::MessageKind::Binary, part, last)
            .unwrap();
    }
    for (i, part) in text.as_bytes().chunks(LEND_MIN).enumerate() {
        let last = (i + 1) * LEND_MIN >= text.len();
        client
            .send_fragment(crate::MessageKind::Text, part, last)
            .unwrap();
    }
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(client.pending_output());
    let moved = binary(server.next_message().unwrap().unwrap());
    assert!(!moved.is_shared());
    assert!(moved == data);
    assert_eq!(server.next_message().unwrap(), Some(Message::Text(text)));
}
