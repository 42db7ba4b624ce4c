//! permessage-deflate (RFC 7692) through the connection: round trips for each parameter set,
//! fragmentation both ways, the RSV1 rules, the decompression bomb bound, and interop with
//! Python `websockets`, which compresses by default.
#![cfg(feature = "deflate")]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::thread;

use flate2::{Compress, Compression, FlushCompress};
use rfc6455::blocking::{self, Acceptor, ClientBuilder, Message};
use rfc6455::deflate::{DeflateConfig, Negotiated, NegotiationError};
use rfc6455::frame::{Decoded, FrameHeader, OpCode, RSV1};
use rfc6455::handshake::{
    ClientHandshake, ClientOptions, Limits, OptionsError, ResponseError, ServerHandshake, Url,
};
use rfc6455::mask::apply_mask;
use rfc6455::{Config, Connection, Event, MessageKind, ProtocolError, Role};
use support::frames::{decode_frames, raw_frame};
use support::seen::Seen;
use support::{Counting, join, spawn_server};

// ------------------------------------------------------------------ a peak-measuring allocator

struct Peak;

thread_local! {
    // Per thread, so tests running in parallel do not disturb each other's figures.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// Counts a new block of `by` bytes (a realloc's new block is counted before its old one is
/// released, so `PEAK` includes the moment a realloc that copies holds both).
fn grow(by: usize) {
    let _ = CURRENT.try_with(|c| {
        c.set(c.get() + by);
        let _ = PEAK.try_with(|p| p.set(p.get().max(c.get())));
    });
    let _ = LARGEST.try_with(|l| l.set(l.get().max(by)));
}

fn shrink(by: usize) {
    let _ = CURRENT.try_with(|c| c.set(c.get().saturating_sub(by)));
}

/// Starts a peak measurement (live bytes and largest single block); returns the baseline.
fn measure_from_here() -> usize {
    let now = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(now));
    LARGEST.with(|l| l.set(0));
    now
}

// SAFETY: every method forwards unchanged to the system allocator, which upholds the
// `GlobalAlloc` contract; the counters are thread-local integers. (Test-only.)
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: forwarded with the caller's valid layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrink(layout.size());
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size);
        shrink(layout.size());
        // SAFETY: `ptr` was allocated by `System` with `layout`; forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

// ------------------------------------------------------------------ helpers

fn negotiated(window_bits: u8, no_context_takeover: bool) -> Negotiated {
    Negotiated {
        level: 6,
        threshold: 16,
        window_bits,
        no_context_takeover,
    }
}

fn pair(config: Config, client: Negotiated, server: Negotiated) -> (Connection, Connection) {
    let mut c = Connection::with_seed(Role::Client, config.clone(), [1; 32]);
    let mut s = Connection::with_seed(Role::Server, config, [2; 32]);
    c.enable_deflate(client);
    s.enable_deflate(server);
    (c, s)
}

/// Moves `from`'s output into `to` and returns the frames on the wire: (opcode, fin, rsv, len).
fn transfer(from: &mut Connection, to: &mut Connection) -> Vec<(OpCode, bool, u8, usize)> {
    let bytes = from.pending_output().to_vec();
    from.consume_output(bytes.len());
    let mut frames = Vec::new();
    let mut rest = &bytes[..];
    while let Ok(Decoded::Complete(h, n)) = FrameHeader::decode(rest, u64::MAX) {
        frames.push((h.opcode, h.fin, h.rsv, h.len as usize));
        rest = &rest[n + h.len as usize..];
    }
    // Deliver in awkward pieces.
    for piece in bytes.chunks(777) {
        to.recv(piece);
    }
    frames
}

/// The data messages `c` has ready; anything else fails the test.
fn events(c: &mut Connection) -> Vec<Seen> {
    let mut out = Vec::new();
    while let Some(event) = c.next_event().unwrap() {
        match event {
            Event::Text(t) => out.push(Seen::Text(t.to_owned())),
            Event::Binary(b) => out.push(Seen::Binary(b.to_vec())),
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

/// At least `len` bytes of word salad that compresses to about a third.
fn text_like(len: usize) -> String {
    let words = [
        "alpha",
        "beta",
        "gamma",
        "δέλτα",
        "{\"id\":",
        "42,",
        "true}",
        "websocket",
        "frame",
        "ε",
        "message",
        "null",
        "[1,2,3]",
        "rust",
        "zeta",
        "\"name\":",
    ];
    let mut s = String::new();
    let mut x: u32 = 0x9E37_79B9;
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s.push_str(words[x as usize % words.len()]);
        s.push(if x.is_multiple_of(7) { '\n' } else { ' ' });
    }
    s
}

// ------------------------------------------------------------------ round trips

#[test]
fn round_trips_for_each_parameter_set_both_directions() {
    let sizes = [0, 10, 16, 1000, 70_000, 1 << 20];
    for (bits, nct) in [(15, false), (15, true), (9, false), (12, true)] {
        let (mut client, mut server) = pair(
            Config::default(),
            negotiated(bits, nct),
            negotiated(bits, nct),
        );
        for &len in &sizes {
            let text = text_like(len);
            let binary: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            client.send_text(&text).unwrap();
            client.send_binary(&binary).unwrap();
            let frames = transfer(&mut client, &mut server);
            // Below the threshold: plain; from it: compressed, RSV1 on the first frame.
            assert_eq!(
                frames[0].2 == RSV1,
                text.len() >= 16,
                "len {len}: {frames:?}"
            );
            assert_eq!(
                frames.last().unwrap().2 == RSV1,
                binary.len() >= 16,
                "{frames:?}"
            );
            assert_eq!(
                events(&mut server),
                vec![Seen::Text(text.clone()), Seen::Binary(binary.clone())]
            );
            server.send_text(&text).unwrap();
            server.send_binary(&binary).unwrap();
            transfer(&mut server, &mut client);
            assert_eq!(
                events(&mut client),
                vec![Seen::Text(text), Seen::Binary(binary)]
            );
        }
    }
}

#[test]
fn compressed_messages_are_fragmented_in_both_directions() {
    let mut config = Config::default();
    config.fragment_size = 100.try_into().unwrap();
    let (mut client, mut server) = pair(config, negotiated(15, false), negotiated(15, false));
    let text = "ab".repeat(5000) + &text_like(20_000);
    client.send_text(&text).unwrap();
    let frames = transfer(&mut client, &mut server);
    assert!(frames.len() > 2, "{frames:?}");
    assert_eq!(frames[0].2, RSV1, "RSV1 on the first frame");
    assert!(
        frames[1..]
            .iter()
            .all(|f| f.2 == 0 && f.0 == OpCode::Continuation),
        "{frames:?}"
    );
    assert_eq!(events(&mut server), vec![Seen::Text(text.clone())]);

    // send_fragment streams a compressed message fragment by fragment.
    for chunk in text.as_bytes().chunks(3000) {
        server
            .send_fragment(MessageKind::Text, chunk, false)
            .unwrap();
    }
    server.send_fragment(MessageKind::Text, b"!", true).unwrap();
    let frames = transfer(&mut server, &mut client);
    assert_eq!(frames[0].2, RSV1);
    assert!(frames[1..].iter().all(|f| f.2 == 0));
    assert_eq!(events(&mut client), vec![Seen::Text(text + "!")]);
}

#[test]
fn context_takeover_shrinks_repeats_and_no_context_takeover_does_not() {
    let message = text_like(4000);
    let sizes = |nct: bool| {
        let (mut client, mut server) =
            pair(Config::default(), negotiated(15, nct), negotiated(15, nct));
        let mut lens = Vec::new();
        for _ in 0..2 {
            client.send_text(&message).unwrap();
            lens.push(transfer(&mut client, &mut server)[0].3);
            assert_eq!(events(&mut server), vec![Seen::Text(message.clone())]);
        }
        lens
    };
    let with = sizes(false);
    let without = sizes(true);
    assert!(
        with[1] < with[0] / 4,
        "the repeat refers back to the first: {with:?}"
    );
    assert_eq!(
        without[0], without[1],
        "each message starts afresh: {without:?}"
    );
}

#[test]
fn empty_messages_and_empty_last_fragments_round_trip() {
    for nct in [false, true] {
        let mut n = negotiated(15, nct);
        n.threshold = 0; // compress everything, the empty messages included
        let (mut client, mut server) = pair(Config::default(), n, n);
        client.send_text("abc").unwrap();
        client.send_binary(b"").unwrap();
        client.send_text("").unwrap();
        client
            .send_fragment(MessageKind::Binary, b"xyz", false)
            .unwrap();
        client
            .send_fragment(MessageKind::Binary, b"", true)
            .unwrap();
        client.send_text("abc").unwrap();
        let frames = transfer(&mut client, &mut server);
        // An empty message is one 0x00 byte (RFC 7692 section 7.2.3.6), compressed or not
        // before it: the restored trailer then ends an empty stored block.
        assert_eq!(frames[1], (OpCode::Binary, true, RSV1, 1), "{frames:?}");
        assert_eq!(frames[2], (OpCode::Text, true, RSV1, 1), "{frames:?}");
        assert_eq!(frames[4], (OpCode::Continuation, true, 0, 1), "{frames:?}");
        assert_eq!(
            events(&mut server),
            vec![
                Seen::Text("abc".into()),
                Seen::Binary(Vec::new()),
                Seen::Text(String::new()),
                Seen::Binary(b"xyz".to_vec()),
                Seen::Text("abc".into()),
            ],
            "no_context_takeover: {nct}"
        );
    }
}

#[test]
fn a_peer_that_sends_nothing_for_an_empty_message_is_understood() {
    // Some senders send an empty payload, or keep the whole sync flush, when their compressor
    // has nothing to flush. Restoring the trailer there would start a stored block that eats
    // the next message; it is not restored.
    let mut c = Compress::new(Compression::default(), false);
    let mut first = Vec::with_capacity(64);
    c.compress_vec(b"abc", &mut first, FlushCompress::Sync)
        .unwrap();
    let mut second = Vec::with_capacity(64);
    c.compress_vec(b"abc", &mut second, FlushCompress::Sync)
        .unwrap();
    assert!(first.ends_with(&[0, 0, 0xff, 0xff]) && second.ends_with(&[0, 0, 0xff, 0xff]));
    let mut s = server_with_deflate();
    s.recv(&masked_frame(true, 0b100, 0x1, &first[..first.len() - 4]));
    s.recv(&masked_frame(true, 0b100, 0x2, &[]));
    s.recv(&masked_frame(false, 0b100, 0x1, &second));
    s.recv(&masked_frame(true, 0, 0x0, &[]));
    s.recv(&masked_frame(true, 0b100, 0x1, &[0x00]));
    assert_eq!(
        events(&mut s),
        vec![
            Seen::Text("abc".into()),
            Seen::Binary(Vec::new()),
            Seen::Text("abc".into()),
            Seen::Text(String::new()),
        ]
    );
}

// ------------------------------------------------------------------ RSV1 rules

/// A frame as a client sends it, with these RSV bits, masked with the key 1, 2, 3, 4.
fn masked_frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(fin, rsv, opcode, Some([1, 2, 3, 4]), payload)
}

fn server_with_deflate() -> Connection {
    let mut s = Connection::with_seed(Role::Server, Config::default(), [0; 32]);
    s.enable_deflate(negotiated(15, false));
    s
}

/// The code of the close frame `c` queued (its last frame out), decoded from its output as
/// its peer would.
fn queued_close_code(c: &Connection, role: Role) -> u16 {
    let frames = decode_frames(role, c.pending_output());
    let Some((OpCode::Close, true, payload)) = frames.last() else {
        panic!("no close frame queued: {frames:?}");
    };
    u16::from_be_bytes([payload[0], payload[1]])
}

#[test]
fn rsv1_on_a_control_frame_or_continuation_fails_1002() {
    let mut s = server_with_deflate();
    s.recv(&masked_frame(true, 0b100, 0x9, b"ping"));
    let err = s.next_event().unwrap_err();
    assert_eq!(err, ProtocolError::ReservedBits(0b100));
    assert_eq!(err.close_code().0, 1002);

    let mut s = server_with_deflate();
    s.recv(&masked_frame(false, 0b100, 0x1, &[0x4a, 0x04, 0x00])); // "a", not final
    s.recv(&masked_frame(true, 0b100, 0x0, &[0x00]));
    assert_eq!(
        s.next_event().unwrap_err(),
        ProtocolError::ReservedBits(0b100)
    );

    // Without the extension, RSV1 on a data frame is a protocol error too.
    let mut s = Connection::with_seed(Role::Server, Config::default(), [0; 32]);
    s.recv(&masked_frame(true, 0b100, 0x1, &[0x4a, 0x04, 0x00]));
    assert_eq!(
        s.next_event().unwrap_err(),
        ProtocolError::ReservedBits(0b100)
    );
}

#[test]
fn corrupt_compressed_data_fails_1007() {
    let mut s = server_with_deflate();
    s.recv(&masked_frame(true, 0b100, 0x2, &[0xff, 0xff, 0xff, 0xff]));
    let err = s.next_event().unwrap_err();
    assert_eq!(err, ProtocolError::Decompression);
    assert_eq!(err.close_code().0, 1007);
    assert_eq!(queued_close_code(&s, Role::Server), 1007);
}

#[test]
fn compressed_invalid_utf8_fails_1007() {
    let mut c = Compress::new(Compression::default(), false);
    let mut payload = Vec::with_capacity(64);
    c.compress_vec(b"ok \xc0\xaf", &mut payload, FlushCompress::Sync)
        .unwrap();
    payload.truncate(payload.len() - 4);
    let mut s = server_with_deflate();
    s.recv(&masked_frame(true, 0b100, 0x1, &payload));
    let err = s.next_event().unwrap_err();
    assert_eq!(err, ProtocolError::InvalidUtf8);
    assert_eq!(err.close_code().0, 1007);
    assert_eq!(queued_close_code(&s, Role::Server), 1007);
}

#[test]
fn compressed_text_cut_inside_a_character_fails_1007_at_its_end() {
    // Valid so far at every byte: only the end of the message shows the character is cut.
    let mut s = server_with_deflate();
    s.recv(&masked_frame(true, 0b100, 0x1, &deflated(b"ok \xe2\x82")));
    let err = s.next_event().unwrap_err();
    assert_eq!(err, ProtocolError::InvalidUtf8);
    assert_eq!(queued_close_code(&s, Role::Server), 1007);
}

/// RFC 7692 section 7.2.3.3: a sender may end a message's data with a final (BFINAL) block.
/// The message is delivered, and the next one, which starts a new stream, is too. (Found by
/// coverage: the restored trailer was fed to the new stream as a stored block's start, which
/// then swallowed the next message.)
#[test]
fn a_message_ending_in_a_final_block_is_delivered_and_the_next_starts_afresh() {
    let finished = |text: &[u8]| {
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(text.len() + 64);
        c.compress_vec(text, &mut out, FlushCompress::Finish)
            .unwrap();
        out
    };
    let mut s = server_with_deflate();
    s.recv(&masked_frame(
        true,
        0b100,
        0x1,
        &finished(b"first, finished"),
    ));
    // The same with the empty stored block a sync flush leaves: it is after the final block.
    let mut second = finished(b"second, finished");
    second.extend_from_slice(&[0x00, 0x00, 0xff, 0xff]);
    s.recv(&masked_frame(true, 0b100, 0x1, &second));
    s.recv(&masked_frame(true, 0b100, 0x1, &deflated(b"third, synced")));
    assert_eq!(
        events(&mut s),
        [
            Seen::Text("first, finished".into()),
            Seen::Text("second, finished".into()),
            Seen::Text("third, synced".into()),
        ]
    );
}

// ------------------------------------------------------------------ the bomb

/// A raw deflate stream of `n` zero bytes, without the trailer, made in pieces.
fn zeros_compressed(n: usize) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(n / 500 + 1024);
    let mut left = n;
    while left > 0 {
        let take = left.min(zeros.len());
        let flush = if take == left {
            FlushCompress::Sync
        } else {
            FlushCompress::None
        };
        let mut input = &zeros[..take];
        while !input.is_empty() || flush == FlushCompress::Sync {
            out.reserve(64 * 1024);
            let before = c.total_in();
            c.compress_vec(input, &mut out, flush).unwrap();
            input = &input[(c.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        left -= take;
    }
    out.truncate(out.len() - 4);
    out
}

#[test]
fn a_decompression_bomb_fails_1009_within_the_limit() {
    // 1 GiB of zeros compresses to about 1 MiB (deflate's ratio tops out near 1032:1).
    let bomb = zeros_compressed(1 << 30);
    assert!(bomb.len() < 1_100_000, "{}", bomb.len());
    let mut config = Config::default();
    config.max_message_size = 1 << 20;
    config.max_frame_size = 2 << 20;
    let mut s = Connection::with_seed(Role::Server, config, [0; 32]);
    s.enable_deflate(negotiated(15, false));
    // The frame, masked, fed in 64 KiB pieces.
    let mut frame = vec![0x82 | 0x40, 0x80 | 127];
    frame.extend_from_slice(&(bomb.len() as u64).to_be_bytes());
    frame.extend_from_slice(&[9, 8, 7, 6]);
    let mut body = bomb;
    apply_mask(&mut body, [9, 8, 7, 6], 0);
    frame.extend(body);
    let baseline = measure_from_here();
    let mut result = Ok(None);
    for piece in frame.chunks(64 * 1024) {
        s.recv(piece);
        result = s.next_event().map(|e| e.map(|_| ()));
        if result.is_err() {
            break;
        }
    }
    let peak = PEAK.with(Cell::get) - baseline;
    let err = result.unwrap_err();
    assert!(
        matches!(err, ProtocolError::MessageTooLarge { max: 1048576, .. }),
        "{err:?}"
    );
    assert_eq!(err.close_code().0, 1009);
    assert_eq!(queued_close_code(&s, Role::Server), 1009);
    // The receive buffer holds the ~1 MiB frame (doubling growth: up to 2 MiB) plus the
    // 1 MiB limit of output and one inflate step: far below the 1 GiB it would inflate to.
    assert!(peak < 5 << 20, "peak {peak} bytes");
}

/// Feeds `stream` to a server with deflate and `max_message_size = limit` in 16 KiB pieces,
/// until it fails; returns the error, the peak of live bytes and the largest single block
/// allocated meanwhile.
fn receive_until_error(stream: &[u8], limit: usize) -> (ProtocolError, usize, usize) {
    let (err, peak, largest, close) = receive_until_error_and_close(stream, limit);
    assert_eq!(close, err.close_code().0, "the close frame queued");
    (err, peak, largest)
}

/// [`receive_until_error`], also returning the code of the close frame the server queued.
fn receive_until_error_and_close(
    stream: &[u8],
    limit: usize,
) -> (ProtocolError, usize, usize, u16) {
    let mut config = Config::default();
    config.max_message_size = limit;
    let mut s = Connection::with_seed(Role::Server, config, [0; 32]);
    s.enable_deflate(negotiated(15, false));
    let baseline = measure_from_here();
    for piece in stream.chunks(16 * 1024) {
        s.recv(piece);
        if let Err(err) = s.next_event() {
            let peak = PEAK.with(Cell::get) - baseline;
            let largest = LARGEST.with(Cell::get);
            return (err, peak, largest, queued_close_code(&s, Role::Server));
        }
    }
    panic!("the bomb was not refused");
}

#[test]
fn a_decompression_bomb_holds_at_most_the_limit_and_one_step_in_one_or_many_frames() {
    const LIMIT: usize = 8 << 20;
    const STEP: usize = 32 << 10;
    // 24 MiB of zeros, about 24 KB compressed: three times the limit, and more than the
    // 2 x 8 MiB that a doubling assembly buffer reaches.
    let bomb = zeros_compressed(24 << 20);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let whole = masked_frame(true, 0b100, 0x2, &bomb);
    // The same data in six frames: RSV1 on the first only (RFC 7692 section 6.1).
    let pieces: Vec<&[u8]> = bomb.chunks(bomb.len().div_ceil(6)).collect();
    let mut fragmented = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let (fin, rsv, opcode) = (
            i + 1 == pieces.len(),
            if i == 0 { 0b100 } else { 0 },
            if i == 0 { 0x2 } else { 0x0 },
        );
        fragmented.extend(masked_frame(fin, rsv, opcode, piece));
    }
    for (name, stream) in [("one frame", whole), ("six frames", fragmented)] {
        let (err, peak, largest) = receive_until_error(&stream, LIMIT);
        eprintln!("{name}: {err:?}; peak {peak} bytes live, largest block {largest} bytes");
        let ProtocolError::MessageTooLarge { size, max } = err else {
            panic!("{name}: {err:?}");
        };
        assert_eq!(max, LIMIT, "{name}");
        assert_eq!(err.close_code().0, 1009, "{name}");
        // Inflating stopped within one step past the limit...
        assert!(
            size <= (LIMIT + STEP) as u64,
            "{name}: inflated to {size} bytes"
        );
        // ...and the assembly buffer (the largest block by far) never had more room.
        assert!(
            largest <= LIMIT + STEP,
            "{name}: a block of {largest} bytes"
        );
        // Live bytes peak while the buffer's last growth (4 MiB to 8 MiB + 1) is copied, if
        // realloc copies: both blocks count here. Plus the receive buffer and small change.
        assert!(
            peak <= LIMIT + LIMIT / 2 + STEP + (256 << 10),
            "{name}: peak {peak} bytes"
        );
    }
}

/// `data` as one permessage-deflate message: compressed, flushed, the trailer removed.
fn deflated(data: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    c.compress_vec(data, &mut out, FlushCompress::Sync).unwrap();
    assert_eq!(c.total_in(), data.len() as u64, "room for all of it");
    out.truncate(out.len() - 4);
    out
}

/// A compressed text message in 40 fragments, each far under the limit, as a client sends
/// it: RSV1 on the first only.
fn fragmented_compressed_text(text: &str) -> Vec<u8> {
    let body = deflated(text.as_bytes());
    let pieces: Vec<&[u8]> = body.chunks(body.len().div_ceil(40)).collect();
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let first = i == 0;
        let rsv = if first { 0b100 } else { 0 };
        let opcode = if first { 0x1 } else { 0x0 };
        out.extend(masked_frame(i + 1 == pieces.len(), rsv, opcode, piece));
    }
    out
}

/// A compressed message in many small fragments that inflates to one byte over
/// `max_message_size` fails 1009, with that close frame queued, holding about the limit;
/// one of exactly the limit is delivered.
#[test]
fn a_compressed_fragmented_message_one_byte_over_the_limit_fails_1009() {
    const LIMIT: usize = 1 << 20;
    // Word salad cut at a character boundary, padded with ASCII to exactly LIMIT + 1 bytes.
    let mut over = text_like(LIMIT + 1);
    let mut cut = LIMIT;
    while !over.is_char_boundary(cut) {
        cut -= 1;
    }
    over.truncate(cut);
    while over.len() <= LIMIT {
        over.push('x');
    }
    assert_eq!(over.len(), LIMIT + 1);
    let stream = fragmented_compressed_text(&over);
    assert!(
        stream.len() < LIMIT / 2,
        "{} bytes on the wire",
        stream.len()
    );
    let (err, peak, largest, close) = receive_until_error_and_close(&stream, LIMIT);
    let ProtocolError::MessageTooLarge { size, max } = err else {
        panic!("{err:?}");
    };
    assert!(size > LIMIT as u64 && max == LIMIT, "{err:?}");
    assert_eq!((err.close_code().0, close), (1009, 1009));
    eprintln!("peak {peak} bytes live, largest block {largest} bytes");
    // The assembly buffer never grows past the limit and one inflate step. Live bytes peak
    // while its last growth (512 KiB to 1 MiB + 1) is copied, plus the receive buffer and the
    // inflater (measured: 1.61 MB).
    assert!(largest <= LIMIT + (32 << 10), "a block of {largest} bytes");
    assert!(peak <= LIMIT + LIMIT / 2 + (256 << 10), "peak {peak} bytes");

    // Exactly the limit is not over it.
    let exact = &over[..LIMIT];
    let mut config = Config::default();
    config.max_message_size = LIMIT;
    let mut s = Connection::with_seed(Role::Server, config, [0; 32]);
    s.enable_deflate(negotiated(15, false));
    for piece in fragmented_compressed_text(exact).chunks(16 * 1024) {
        s.recv(piece);
    }
    assert_eq!(events(&mut s), [Seen::Text(exact.to_owned())]);
}

#[test]
fn memory_per_connection_with_deflate() {
    let mut report = Vec::new();
    for bits in [15, 12, 9] {
        let baseline = measure_from_here();
        let mut c = Connection::with_seed(Role::Server, Config::default(), [0; 32]);
        c.enable_deflate(negotiated(bits, false));
        let state = CURRENT.with(Cell::get) - baseline;
        // One 64 KiB message each way warms the codec's internal buffers.
        c.send_text(&text_like(65536)).unwrap();
        let peak = PEAK.with(Cell::get) - baseline;
        report.push((bits, state, peak));
        // The figures documented in `rfc6455::deflate` (measured: 428 KB, 313 KB, 299 KB),
        // with 10% headroom for allocator and version drift.
        let documented = match bits {
            15 => 428_000,
            12 => 314_000,
            _ => 299_000,
        };
        assert!(state <= documented * 11 / 10, "{bits} bits: {state} bytes");
        // Sending adds the 64 KiB text (its String up to 128 KiB by doubling), the compressed
        // frame and the codec's working buffers: measured 192 KiB at every window size.
        assert!(
            peak - state <= 256 << 10,
            "{bits} bits: a 64 KiB send peaked {} bytes above the state",
            peak - state
        );
    }
    eprintln!(
        "deflate state per connection (window bits, bytes after negotiation, peak with a 64 KiB send): {report:?}"
    );
}

// ------------------------------------------------------------------ window bits in headers

/// The server's choice for a request whose `Sec-WebSocket-Extensions` is `offer`.
fn server_answer(offer: &str) -> Option<(Negotiated, String)> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {offer}\r\n\r\n"
    );
    let request = ServerHandshake::new(Limits::default())
        .recv(request.as_bytes())
        .unwrap()
        .unwrap();
    rfc6455::deflate::server_accept(&DeflateConfig::default(), request.extensions()).unwrap()
}

/// The client's verdict on a 101 whose `Sec-WebSocket-Extensions` is `answer`.
fn client_verdict(answer: &str) -> Result<Negotiated, NegotiationError> {
    let config = DeflateConfig::default();
    let options = ClientOptions::new().extension(rfc6455::deflate::client_offer(&config).unwrap());
    let url = Url::parse("ws://example.com/").unwrap();
    let key = *b"the sample nonce";
    let mut client = ClientHandshake::new(&url, &options, key).unwrap();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
         Sec-WebSocket-Extensions: {answer}\r\n\r\n"
    );
    let response = client.recv(response.as_bytes()).unwrap().unwrap();
    rfc6455::deflate::client_accept(&config, &response.extensions()[0])
}

#[test]
fn deflate_offered_twice_is_refused_before_anything_is_sent() {
    let options = ClientOptions::new()
        .extension("permessage-deflate")
        .deflate(Some(DeflateConfig::default()));
    let url = Url::parse("ws://example.com/").unwrap();
    let err = ClientHandshake::new(&url, &options, *b"the sample nonce").unwrap_err();
    let rfc6455::handshake::HandshakeError::Options(OptionsError::Invalid(why)) = err else {
        panic!("{err:?}");
    };
    assert!(why.contains("keep ClientOptions::deflate only"), "{why}");
}

#[test]
fn a_server_answering_deflate_twice_fails_the_handshake() {
    let options = ClientOptions::new().deflate(Some(DeflateConfig::default()));
    let url = Url::parse("ws://example.com/").unwrap();
    let mut client = ClientHandshake::new(&url, &options, *b"the sample nonce").unwrap();
    let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
                    Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n\r\n";
    assert_eq!(
        client.recv(response.as_bytes()).unwrap_err(),
        rfc6455::handshake::HandshakeError::Response(ResponseError::Deflate(
            NegotiationError::Repeated
        ))
    );
}

#[test]
fn window_bits_in_headers_are_digits_only_bare_or_quoted_rfc7692_7_1_2() {
    for name in ["server_max_window_bits", "client_max_window_bits"] {
        for value in ["+10", "\"+10\"", "-10", "\"-10\"", "010", "\"010\""] {
            let param = format!("permessage-deflate; {name}={value}");
            // Server: the offer is declined (RFC 7692 section 5), a valid next one taken.
            assert_eq!(server_answer(&param), None, "{param}");
            let (_, answer) = server_answer(&format!("{param}, permessage-deflate")).unwrap();
            assert_eq!(answer, "permessage-deflate", "{param}");
            // Client: the answer fails the connection.
            assert_eq!(
                client_verdict(&param),
                Err(NegotiationError::InvalidValue(name.into())),
                "{param}"
            );
        }
        // A quoted value whose content is digits is the same as the bare value (RFC 7692
        // section 7.1), and so is whitespace around `=` (RFC 6455 section 9.1's implied *LWS).
        for value in ["10", "\"10\"", " 10"] {
            let param = format!("permessage-deflate; {name}={value}");
            let (n, answer) = server_answer(&param).unwrap();
            assert_eq!(answer, format!("permessage-deflate; {name}=10"), "{param}");
            if name == "server_max_window_bits" {
                assert_eq!(n.window_bits, 10, "{param}");
            }
            assert!(client_verdict(&param).is_ok(), "{param}");
        }
    }
    assert_eq!(
        client_verdict("permessage-deflate; client_max_window_bits=\"10\"")
            .unwrap()
            .window_bits,
        10
    );
}

// ------------------------------------------------------------------ over sockets

#[test]
fn our_client_and_server_negotiate_and_compress() {
    let (addr, server) = spawn_server(|stream| {
        let mut ws = Acceptor::new().accept(stream).unwrap();
        assert!(ws.connection().is_deflate_enabled());
        while let Some(message) = ws.read().unwrap() {
            if let Message::Text(t) = message {
                ws.send_text(&t).unwrap();
            }
        }
    });
    let stream = Counting::new(std::net::TcpStream::connect(addr).unwrap());
    let mut ws = ClientBuilder::new(format!("ws://{addr}/"))
        .connect_on(stream, None)
        .unwrap();
    assert!(ws.connection().is_deflate_enabled());
    let text = text_like(100_000);
    let (read, written) = (ws.get_ref().read, ws.get_ref().written);
    ws.send_text(&text).unwrap();
    assert_eq!(ws.read().unwrap(), Some(Message::Text(text.clone())));
    // The message went compressed both ways: text_like compresses to about a third, and
    // each direction carried less than half the text (plus frame headers).
    let sent = ws.get_ref().written - written;
    let received = ws.get_ref().read - read;
    assert!(
        sent < text.len() / 2,
        "sent {sent} bytes for {}",
        text.len()
    );
    assert!(
        received < text.len() / 2,
        "received {received} bytes for {}",
        text.len()
    );
    ws.close(rfc6455::CloseCode::NORMAL, "").unwrap();
    join(server);

    // Turned off on one side: no compression, still works.
    let (addr, server) = spawn_server(|stream| {
        let ws = Acceptor::new().deflate(None).accept(stream).unwrap();
        assert!(!ws.connection().is_deflate_enabled());
    });
    let ws = ClientBuilder::new(format!("ws://{addr}/"))
        .connect()
        .unwrap();
    assert!(!ws.connection().is_deflate_enabled());
    join(server);
}

/// A Python with `websockets` installed: a venv under target/ made on first use.
fn python() -> String {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-websockets");
    let python = dir.join("bin/python3");
    let ok = |p: &std::path::Path| {
        Command::new(p)
            .args(["-c", "import websockets"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(&python) {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3");
        assert!(status.success(), "python3 -m venv failed");
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "websockets>=13",
            ])
            .status()
            .unwrap();
        assert!(
            status.success(),
            "pip install websockets failed (needs access to PyPI)"
        );
    }
    python.to_string_lossy().into_owned()
}

#[test]
fn interop_with_python_websockets_both_directions() {
    let python = python();
    let text = text_like(50_000);

    // Their client, our server.
    let (addr, server) = spawn_server(|stream| {
        let mut ws = Acceptor::new().accept(stream).unwrap();
        let compressed = ws.connection().is_deflate_enabled();
        while let Some(message) = ws.read().unwrap() {
            match message {
                Message::Text(t) => ws.send_text(&t).unwrap(),
                Message::Binary(b) => ws.send_binary(&b).unwrap(),
                _ => {}
            }
        }
        compressed
    });
    let script = format!(
        r#"
import asyncio, sys
from websockets.asyncio.client import connect
async def main():
    async with connect("ws://{addr}/", max_size=None) as ws:
        assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", ""), ws.response.headers
        text = sys.stdin.read()
        for m in [text, text.encode(), "x" * 10, text[:1000]]:
            await ws.send(m)
            assert await ws.recv() == m
asyncio.run(main())
"#
    );
    run_python(&python, &script, &text);
    assert!(join(server), "our server negotiated permessage-deflate");

    // Our client, their server.
    let port_file = std::env::temp_dir().join(format!("rfc6455-py-port-{}", std::process::id()));
    let script = format!(
        r#"
import asyncio
from websockets.asyncio.server import serve
async def echo(ws):
    async for m in ws:
        await ws.send(m)
async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        open({port_file:?}, "w").write(str(port))
        await asyncio.sleep(30)
asyncio.run(main())
"#,
        port_file = port_file.to_string_lossy()
    );
    let mut child = Command::new(&python).args(["-c", &script]).spawn().unwrap();
    let port = (0..300)
        .find_map(|_| {
            thread::sleep(std::time::Duration::from_millis(20));
            std::fs::read_to_string(&port_file)
                .ok()
                .filter(|s| !s.is_empty())
        })
        .expect("python server started");
    let mut ws = blocking::connect(&format!("ws://127.0.0.1:{port}/")).unwrap();
    let negotiated = ws.connection().is_deflate_enabled();
    for _ in 0..3 {
        ws.send_text(&text).unwrap();
        assert_eq!(ws.read().unwrap(), Some(Message::Text(text.clone())));
    }
    ws.send_binary(&[7; 100_000]).unwrap();
    assert_eq!(
        ws.read().unwrap(),
        Some(Message::Binary(vec![7; 100_000].into()))
    );
    ws.close(rfc6455::CloseCode::NORMAL, "").unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&port_file);
    assert!(negotiated, "python's server accepted our offer");
}

fn run_python(python: &str, script: &str, stdin: &str) {
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "python client failed: {status}");
}
