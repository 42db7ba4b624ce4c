use alloc::vec::Vec;

use core::time::Duration;

use crate::{Keepalive, Message, SendError};

use super::*;

/// `count` client frames of `len` bytes each, payload byte `i` of frame `k` being
/// `(i + k) as u8`.
fn client_frames(len: usize, count: usize) -> Vec<u8> {
    let mut client = Connection::with_seed(Role::Client, Config::default(), [1; 32]);
    let pattern = pattern(len + count);
    for k in 0..count {
        client.send_binary(&pattern[k..k + len]).unwrap();
    }
    client.pending_output().to_vec()
}

/// Bytes `0, 1, 2, ...` (wrapping): frame `k` of [`client_frames`] carries `pattern[k..k + len]`.
/// Built once and compared as slices, so that Miri checks large messages quickly.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| i as u8).collect()
}

/// Feeds `wire` through `recv_buf`, filling every window completely (a sender that is
/// always ahead), and checks every message; returns the largest receive buffer seen.
fn stream_through_windows(wire: &[u8], len: usize, count: usize) -> usize {
    let mut server = Connection::new(Role::Server, Config::default());
    let pattern = pattern(len + count);
    let (mut pos, mut seen, mut largest) = (0, 0, 0);
    while seen < count {
        match server.next_event().unwrap() {
            Some(Event::Binary(data)) => {
                assert!(data == &pattern[seen..seen + len], "message {seen} differs");
                seen += 1;
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => {
                let buf = server.recv_buf();
                assert!(!buf.is_empty());
                let n = buf.len().min(wire.len() - pos);
                buf[..n].copy_from_slice(&wire[pos..pos + n]);
                server.recv_filled(n);
                pos += n;
                largest = largest.max(server.rbuf.len());
            }
        }
    }
    largest
}

#[test]
fn read_window_ends_with_a_large_frame() {
    // More than one window's worth.
    let len = READ_MAX * 3 / 2;
    let wire = client_frames(len, 2);
    let frame_len = wire.len() / 2;
    let mut server = Connection::new(Role::Server, Config::default());
    // The header and a little of the payload.
    server.recv(&wire[..100]);
    assert_eq!(server.next_event(), Ok(None));
    let mut pos = 100;
    while pos < frame_len {
        let window = server.recv_buf().len();
        // Never more than READ_PAST past the frame's end, never more than READ_MAX at once;
        // the last read is offered more than the frame's rest, so it comes back short.
        assert!(
            window <= (frame_len - pos + READ_PAST).min(READ_MAX),
            "{window} at {pos}"
        );
        if frame_len - pos < READ_MAX {
            assert_eq!(window, frame_len - pos + READ_PAST, "at {pos}");
        }
        let buf = server.recv_buf();
        let n = buf.len();
        buf.copy_from_slice(&wire[pos..pos + n]);
        server.recv_filled(n);
        pos += n;
        if pos < frame_len {
            assert_eq!(server.next_event(), Ok(None));
        }
    }
    assert_eq!(pos, frame_len + READ_PAST);
    assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d.len() == len));
    assert_eq!(server.next_event(), Ok(None));
    // READ_PAST bytes of the next frame were read: they move to the aligned front, and the
    // next read starts right after them, still aligned.
    server.recv_buf();
    assert_eq!(server.rend - server.rstart, READ_PAST);
    assert_eq!(server.rbuf[server.rstart..].as_ptr().addr() % READ_ALIGN, 0);
    assert_eq!(server.rbuf[server.rend..].as_ptr().addr() % READ_ALIGN, 0);
    // And the next frame goes on from them.
    while pos < wire.len() {
        let buf = server.recv_buf();
        let n = buf.len().min(wire.len() - pos);
        buf[..n].copy_from_slice(&wire[pos..pos + n]);
        server.recv_filled(n);
        pos += n;
    }
    assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d.len() == len));
}

#[test]
fn read_window_is_never_empty_when_reading_without_taking_events() {
    let len = READ_CHUNK * 5 / 4;
    let wire = client_frames(len, 2);
    let frame_len = wire.len() / 2;
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(&wire[..100]);
    assert_eq!(server.next_event(), Ok(None));
    // Read the rest of the first frame, then read again before taking the event.
    let mut pos = 100;
    loop {
        let buf = server.recv_buf();
        assert!(!buf.is_empty(), "an empty read window at {pos}");
        let n = buf.len().min(wire.len() - pos);
        buf[..n].copy_from_slice(&wire[pos..pos + n]);
        server.recv_filled(n);
        pos += n;
        if pos == wire.len() {
            break;
        }
    }
    assert!(pos > frame_len);
    for _ in 0..2 {
        assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d.len() == len));
    }
    assert_eq!(server.next_event(), Ok(None));
}

#[test]
fn recv_filled_is_clamped_to_the_window() {
    let mut server = Connection::new(Role::Server, Config::default());
    let window = server.recv_buf().len();
    server.recv_filled(window + 1000);
    assert_eq!(server.rend - server.rstart, window);
    // `recv` does not open a window for `recv_filled`.
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(&client_frames(3, 1)[..4]);
    server.recv_filled(10);
    assert_eq!(server.rend - server.rstart, 4);
}

#[test]
fn streaming_large_frames_keeps_the_buffer_small() {
    // Under Miri, which runs this a thousand times slower, fewer messages of each kind.
    let (small, few) = if cfg!(miri) {
        ([(16, 100), (1000, 10)], 3)
    } else {
        ([(16, 5000), (1000, 300)], 20)
    };
    let large = [(READ_CHUNK * 5 / 4, few), (READ_MAX / 2, few)];
    for (len, count) in small.into_iter().chain(large) {
        let wire = client_frames(len, count);
        let largest = stream_through_windows(&wire, len, count);
        assert!(
            largest <= 4 * (len + READ_MAX),
            "len {len}: buffer grew to {largest}"
        );
    }
    // Past GROW_BELOW (4 * READ_MAX), where the buffer stops growing for a large frame.
    let (len, count) = if cfg!(miri) {
        (5 * READ_MAX, 1)
    } else {
        (8 * READ_MAX, 4)
    };
    let largest = stream_through_windows(&client_frames(len, count), len, count);
    assert!(largest <= 3 * len, "buffer grew to {largest}");
}

/// A server connection as the handshake hands it over, with `leftover` received after the
/// request.
#[cfg(feature = "std")]
fn accepted_server(leftover: &[u8]) -> Connection {
    use crate::handshake::{Accept, Limits, ServerHandshake};
    let mut request = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    request.extend_from_slice(leftover);
    let request = ServerHandshake::new(Limits::default())
        .recv(&request)
        .unwrap()
        .unwrap();
    let (_, server) = request
        .accept_connection(&Accept::new(), Config::default())
        .unwrap();
    server
}

/// Reads `wire` through `recv_buf` the way a socket delivers messages sent one at a time:
/// each read gets at most what is left of the current message (`message_len` bytes on the
/// wire each). Returns the events' payload lengths.
fn read_like_a_socket(server: &mut Connection, wire: &[u8], message_len: usize) -> Vec<usize> {
    let mut lengths = Vec::new();
    let mut pos = 0;
    while pos < wire.len() {
        let buf = server.recv_buf();
        let n = buf.len().min(message_len - pos % message_len);
        buf[..n].copy_from_slice(&wire[pos..pos + n]);
        server.recv_filled(n);
        pos += n;
        while let Some(event) = server.next_event().unwrap() {
            match event {
                Event::Binary(data) => lengths.push(data.len()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    lengths
}

#[cfg(feature = "std")]
#[test]
fn receive_buffer_stays_small_after_a_handshake_and_small_messages() {
    // Nothing after the request: no buffer yet.
    let mut server = accepted_server(b"");
    assert_eq!(server.rbuf.capacity(), 0);
    // One small message, then more, each read as it arrives: never more than READ_MIN, also
    // once reads start at an aligned offset after the first message.
    let wire = client_frames(20, 50);
    assert_eq!(read_like_a_socket(&mut server, &wire, 26), [20; 50]);
    server.recv_buf();
    assert!(
        server.rbuf.capacity() <= READ_MIN,
        "{}",
        server.rbuf.capacity()
    );
    // A first message that came with the request is handed over in a buffer as small.
    let mut server = accepted_server(&client_frames(20, 1));
    assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d.len() == 20));
    server.recv_buf();
    assert!(
        server.rbuf.capacity() <= READ_MIN,
        "{}",
        server.rbuf.capacity()
    );
}

#[cfg(feature = "std")]
#[test]
fn receive_buffer_grows_for_large_frames_and_shrinks_when_idle() {
    let mut server = accepted_server(b"");
    let len = READ_MAX / 2;
    let wire = client_frames(len, 8);
    assert_eq!(
        read_like_a_socket(&mut server, &wire, wire.len() / 8),
        [len; 8]
    );
    // Reads that filled their windows doubled them, up to a window for a whole frame.
    let window = server.recv_buf().len();
    assert!(window >= wire.len() / 8, "{window}");
    assert!(
        server.rbuf.capacity() <= 2 * READ_MAX,
        "{}",
        server.rbuf.capacity()
    );
    // Going idle releases it all; the next read takes READ_MIN again.
    server.shrink_buffers();
    assert_eq!(server.rbuf.capacity(), 0);
    assert!(server.recv_buf().len() <= READ_MIN);
    assert_eq!(
        read_like_a_socket(&mut server, &client_frames(20, 3), 26),
        [20; 3]
    );
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a message over SHRINK_ABOVE takes minutes under Miri, for a buffer swap with nothing unsafe in it"
)]
fn a_large_input_buffer_is_released_at_the_next_read_once_consumed() {
    // A caller that hands the whole of a frame over SHRINK_ABOVE to `recv` at once.
    let len = SHRINK_ABOVE + 1000;
    let wire = client_frames(len, 1);
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(&wire);
    assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d.len() == len));
    assert_eq!(server.next_event(), Ok(None));
    assert!(server.rbuf.capacity() > SHRINK_ABOVE);
    // Nothing is left in it, so the next read window comes from a small new buffer.
    assert!(server.recv_buf().len() <= READ_MIN);
    assert!(
        server.rbuf.capacity() <= READ_MIN,
        "{}",
        server.rbuf.capacity()
    );
    server.recv(&client_frames(20, 1));
    assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d == &pattern(20)[..]));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a message over SHRINK_ABOVE takes minutes under Miri, for a buffer swap with nothing unsafe in it"
)]
fn a_large_assembled_message_buffer_is_released_when_the_next_message_starts() {
    // A fragmented message over SHRINK_ABOVE is assembled in `msg`; the next message does
    // not keep that capacity.
    let half = SHRINK_ABOVE / 2 + 1000;
    let mut client = Connection::with_seed(Role::Client, Config::default(), [1; 32]);
    let data = pattern(2 * half);
    client
        .send_fragment(MessageKind::Binary, &data[..half], false)
        .unwrap();
    client
        .send_fragment(MessageKind::Binary, &data[half..], true)
        .unwrap();
    client.send_binary(b"next").unwrap();
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(client.pending_output());
    assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d == &data[..]));
    assert!(server.msg.capacity() > SHRINK_ABOVE);
    // Starting the next message releases it; a fragmented one is still assembled after.
    assert!(matches!(
        server.next_event(),
        Ok(Some(Event::Binary(b"next")))
    ));
    let before = client.pending_output().len();
    client
        .send_fragment(MessageKind::Binary, b"a", false)
        .unwrap();
    client
        .send_fragment(MessageKind::Binary, b"b", true)
        .unwrap();
    server.recv(&client.pending_output()[before..]);
    assert!(matches!(
        server.next_event(),
        Ok(Some(Event::Binary(b"ab")))
    ));
    assert!(server.msg.capacity() < 64, "{}", server.msg.capacity());
}

#[test]
fn shrink_buffers_keeps_a_partly_received_message() {
    let len = READ_CHUNK * 5 / 16;
    let wire = client_frames(len, 1);
    let half = wire.len() / 2;
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(&wire[..half]);
    assert_eq!(server.next_event(), Ok(None));
    server.shrink_buffers();
    server.recv(&wire[half..]);
    assert!(matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d.len() == len));
}

#[test]
fn keepalive_ping_releases_an_idle_receive_buffer() {
    use core::time::Duration;
    let mut config = Config::default();
    config.keepalive =
        crate::config::Keepalive::new(Duration::from_secs(20), Duration::from_secs(40));
    let mut server = Connection::new(Role::Server, config);
    server.handle_timeout(Duration::ZERO).unwrap();
    let len = READ_MAX / 2;
    let wire = client_frames(len, 2);
    assert_eq!(
        read_like_a_socket(&mut server, &wire, wire.len() / 2),
        [len; 2]
    );
    server.handle_timeout(Duration::from_secs(1)).unwrap();
    assert!(server.rbuf.capacity() > len);
    // Busy until then: the buffer stays. Silent for the ping interval: it goes.
    server.handle_timeout(Duration::from_secs(20)).unwrap();
    assert!(server.rbuf.capacity() > len);
    server.handle_timeout(Duration::from_secs(21)).unwrap();
    assert!(!server.pending_output().is_empty(), "a keepalive ping");
    assert_eq!(server.rbuf.capacity(), 0);
    assert!(server.recv_buf().len() <= READ_MIN);
}

/// A server that has read enough small frames through full windows for its read window to
/// reach [`READ_MAX`]; returns the windows it was offered, in order.
fn grown_server() -> (Connection, Vec<usize>) {
    let (len, count) = if cfg!(miri) { (100, 150) } else { (1000, 300) };
    let wire = client_frames(len, count);
    let mut server = Connection::new(Role::Server, Config::default());
    let (mut pos, mut windows) = (0, Vec::new());
    while pos < wire.len() {
        while let Ok(Some(_)) = server.next_event() {}
        let buf = server.recv_buf();
        assert!(!buf.is_empty(), "an empty read window after {windows:?}");
        windows.push(buf.len());
        let n = buf.len().min(wire.len() - pos);
        buf[..n].copy_from_slice(&wire[pos..pos + n]);
        server.recv_filled(n);
        pos += n;
    }
    while let Ok(Some(_)) = server.next_event() {}
    (server, windows)
}

#[test]
fn read_windows_double_from_1_kib_to_128_kib_while_reads_fill_them() {
    let (_, windows) = grown_server();
    // As documented: 1 KiB and 128 KiB (scaled down under Miri like the constants).
    let (first, most) = if SCALE == 1 {
        (1024, 128 * 1024)
    } else {
        (READ_MIN, 128 * 1024 / SCALE)
    };
    assert_eq!(windows[0], first, "{windows:?}");
    // The k-th read is offered about READ_MIN << k: at least that less the alignment a read
    // may lose, at most twice that, never more than READ_MAX.
    for (k, &window) in windows.iter().enumerate() {
        let want = (first << k.min(20)).min(most);
        assert!(window + READ_ALIGN >= want, "read {k}: {windows:?}");
        assert!(window <= (2 * want).min(most), "read {k}: {windows:?}");
    }
    // The last reads are offered READ_MAX, less what aligning the read's start may take
    // (where the buffer lands decides that: under Miri it moves from run to run).
    let last = *windows.last().expect("reads");
    assert!(last <= most && last + READ_ALIGN >= most, "{windows:?}");
}

#[test]
fn only_frames_of_read_chunk_bytes_or_more_end_the_read_window() {
    // 32 KiB, as documented (the constant itself could not catch a change of its value).
    let chunk = 32 * 1024 / SCALE;
    for (len, bounded) in [(chunk - 1, false), (chunk, true)] {
        let (mut server, _) = grown_server();
        let wire = client_frames(len, 1);
        server.recv(&wire[..100]);
        assert_eq!(server.next_event(), Ok(None));
        let rest = wire.len() - 100;
        let window = server.recv_buf().len();
        if bounded {
            assert_eq!(window, rest + READ_PAST, "a {len}-byte frame");
        } else {
            assert!(
                window > rest,
                "a {len}-byte frame ended the window at {window}"
            );
        }
    }
}

#[test]
fn input_after_a_failure_or_empty_is_not_kept() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(&[]);
    server.recv_buf();
    server.recv_filled(0);
    assert!(
        !server.timers.heard,
        "no bytes counted as hearing from the peer"
    );
    // A whole frame and 5 bytes of the next: 5 bytes left once the first is taken.
    let wire = client_frames(10, 2);
    server.recv(&wire[..wire.len() / 2 + 5]);
    assert!(server.timers.heard);
    assert!(server.next_event().unwrap().is_some());
    assert!(
        format!("{server:?}").contains("buffered_input: 5"),
        "{server:?}"
    );
    // An unmasked frame fails a server; what comes after is dropped, not buffered.
    let mut server = Connection::new(Role::Server, Config::default());
    server.recv(&[0x82, 0x00]);
    assert_eq!(
        server.next_event(),
        Err(crate::ProtocolError::UnmaskedFrame)
    );
    server.recv(&client_frames(10, 3));
    assert!(
        format!("{server:?}").contains("buffered_input: 0"),
        "{server:?}"
    );
}

#[test]
fn is_closed_waits_for_the_output() {
    let config = Config {
        max_frame_size: 1000,
        ..Config::default()
    };
    let mut server = Connection::new(Role::Server, config);
    assert_eq!(server.config().max_frame_size, 1000);
    server.send_text("queued").unwrap();
    assert!(!server.is_closed(), "open, with output");
    let n = server.pending_output().len();
    server.consume_output(n);
    assert!(!server.is_closed(), "open");
    server.recv(&[0x82, 0x00]);
    assert!(server.next_event().is_err());
    assert!(!server.is_closed(), "failed, its close frame not written");
    let n = server.pending_output().len();
    server.consume_output(n);
    assert!(server.is_closed());
}

#[test]
fn a_message_of_exactly_the_size_limit_is_accepted() {
    let config = Config {
        max_message_size: 100,
        ..Config::default()
    };
    for fragment in [100, 30] {
        let client_config = Config {
            fragment_size: fragment.try_into().unwrap(),
            ..Config::default()
        };
        let mut client = Connection::with_seed(Role::Client, client_config, [2; 32]);
        client.send_binary(&[1; 100]).unwrap();
        client.send_binary(&[2; 101]).unwrap();
        let mut server = Connection::new(Role::Server, config.clone());
        server.recv(client.pending_output());
        assert!(
            matches!(server.next_event(), Ok(Some(Event::Binary(d))) if d.len() == 100),
            "in fragments of {fragment}"
        );
        assert!(
            matches!(
                server.next_event(),
                Err(crate::ProtocolError::MessageTooLarge {
                    size: 101,
                    max: 100
                })
            ),
            "in fragments of {fragment}"
        );
    }
}

#[test]
fn send_unbuffered_takes_up_to_fragment_size_with_nothing_queued() {
    let config = Config {
        fragment_size: 100.try_into().unwrap(),
        ..Config::default()
    };
    let mut server = Connection::new(Role::Server, config);
    let head = server.send_unbuffered(MessageKind::Binary, 100).unwrap();
    assert_eq!(head.map(|h| h.as_bytes().to_vec()), Some(vec![0x82, 100]));
    assert_eq!(server.send_unbuffered(MessageKind::Binary, 101), Ok(None));
    // Something queued goes first: even a short message is then sent the buffered way.
    server.send_text("queued").unwrap();
    assert_eq!(server.send_unbuffered(MessageKind::Binary, 1), Ok(None));
}

#[test]
fn the_write_buffer_cap_admits_a_send_that_fills_it_exactly() {
    let config = Config {
        write_buffer_cap: 100,
        ..Config::default()
    };
    let mut server = Connection::new(Role::Server, config);
    server.send_text("ten bytes!").unwrap();
    let buffered = server.pending_output().len();
    assert_eq!(buffered, 12);
    // The check counts payload bytes against what is buffered: 12 + 88 = 100 fits.
    server.send_binary(&[0; 88]).unwrap();
    let buffered = server.pending_output().len();
    assert_eq!(
        server.send_binary(&[0; 1]),
        Err(crate::SendError::BufferFull { buffered, cap: 100 })
    );
}

#[test]
fn output_consumed_a_little_at_a_time_does_not_keep_growing() {
    // A peer that always leaves some output unread: the output never empties, so only
    // compaction keeps the written bytes from piling up in front of the unwritten ones.
    let mut server = Connection::new(Role::Server, Config::default());
    let message = [5; 1000];
    let mut largest = 0;
    for _ in 0..(4 * OUT_COMPACT / message.len()) {
        server.send_binary(&message).unwrap();
        let pending = server.pending_output().len();
        server.consume_output(pending - 300);
        largest = largest.max(server.out.len());
    }
    assert_eq!(server.pending_output().len(), 300);
    assert!(
        largest <= 2 * OUT_COMPACT + 2 * message.len(),
        "the output buffer held {largest} bytes for 300 unwritten"
    );
}

/// Every message in `wire` (a server's output), as the client reads them.
fn as_client_reads(wire: &[u8]) -> Vec<Message> {
    let mut client = Connection::with_seed(Role::Client, Config::default(), [4; 32]);
    client.recv(wire);
    let mut out = Vec::new();
    while let Some(message) = client.next_message().unwrap() {
        out.push(message);
    }
    out
}

/// A client's ping carrying `data`.
fn client_ping(data: &[u8]) -> Vec<u8> {
    let mut client = Connection::with_seed(Role::Client, Config::default(), [5; 32]);
    client.send_ping(data).unwrap();
    client.pending_output().to_vec()
}

#[test]
fn a_queued_pong_stays_tracked_when_the_output_is_compacted() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut wire = Vec::new();
    let take = |server: &mut Connection, n: usize, wire: &mut Vec<u8>| {
        let n = n.min(server.pending_output().len());
        wire.extend_from_slice(&server.pending_output()[..n]);
        server.consume_output(n);
    };
    let ping = |server: &mut Connection, data: &[u8]| {
        server.recv(&client_ping(data));
        assert!(matches!(server.next_event(), Ok(Some(Event::Ping(_)))));
    };
    let big = alloc::vec![7; 100 * 1024];
    server.send_binary(&big).unwrap();
    ping(&mut server, b"p1"); // its pong queued behind the 100 KiB
    take(&mut server, 70 * 1024, &mut wire);
    // This send drops the 70 KiB written from the front of the output: the pong moves.
    server.send_text("t").unwrap();
    assert_eq!(server.out_pos, 0, "compacted");
    ping(&mut server, b"p2"); // kept as the next pong: the first is still unwritten
    take(&mut server, 2, &mut wire);
    ping(&mut server, b"p3"); // replaces p2: only the latest ping needs an answer
    take(&mut server, usize::MAX, &mut wire); // the first pong is out: p3's is queued
    take(&mut server, usize::MAX, &mut wire);
    assert_eq!(
        as_client_reads(&wire),
        [
            Message::Binary(big.into()),
            Message::Pong(b"p1".to_vec()),
            Message::text("t"),
            Message::Pong(b"p3".to_vec()),
        ]
    );
}

#[test]
fn a_close_reason_of_123_bytes_is_the_longest_sent() {
    let reason = "r".repeat(MAX_CONTROL_PAYLOAD - 2);
    let mut server = Connection::new(Role::Server, Config::default());
    assert_eq!(
        server.close(CloseCode::NORMAL, &alloc::format!("{reason}r")),
        Err(SendError::ReasonTooLong(124))
    );
    server.close(CloseCode::NORMAL, &reason).unwrap();
    assert_eq!(
        as_client_reads(server.pending_output()),
        [Message::Close(CloseCode::NORMAL, reason)]
    );
}

/// A server with keepalive off whose clock has started: nothing is timed yet.
fn untimed_server() -> Connection {
    let config = Config {
        keepalive: Keepalive::off(),
        ..Config::default()
    };
    let mut server = Connection::new(Role::Server, config);
    server.handle_timeout(Duration::ZERO).unwrap();
    server
}

#[test]
fn the_read_deadline_reads_back_as_set() {
    let mut server = untimed_server();
    assert_eq!(server.read_deadline(), None);
    server.set_read_deadline(Some(Duration::from_secs(7)));
    assert_eq!(server.read_deadline(), Some(Duration::from_secs(7)));
    assert_eq!(server.poll_timeout(), Some(Duration::from_secs(7)));
}

#[test]
fn set_keepalive_turns_the_pings_on_and_off() {
    let mut server = untimed_server();
    assert_eq!(server.poll_timeout(), None);
    let s = Duration::from_secs;
    server.set_keepalive(Keepalive::new(s(10), s(30)));
    assert_eq!(server.poll_timeout(), Some(s(10)));
    server.handle_timeout(s(10)).unwrap();
    assert_eq!(
        as_client_reads(server.pending_output()),
        [Message::Ping(b"keepalive".to_vec())]
    );
    let n = server.pending_output().len();
    server.consume_output(n);
    server.set_keepalive(Keepalive::off());
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(s(1000)).unwrap();
    assert!(server.pending_output().is_empty());
}
