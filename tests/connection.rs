//! The sans-IO connection against RFC 6455 sections 5 and 7, in memory, both roles.

mod support;

use rfc6455::frame::{Decoded, FrameError, FrameHeader, OpCode};
use rfc6455::{
    CloseCode, Config, Connection, Event, MessageKind, ProtocolError, Role, SendError, State,
};
use support::frames::{KEY, both_roles, close_payload, decode_frames, header_to, raw_frame, to};
use support::seen::{Seen, drain, feed, one_chunk_and_bytewise};

fn conn(role: Role) -> Connection {
    Connection::with_seed(role, Config::default(), [7; 32])
}

fn conn_with(role: Role, config: Config) -> Connection {
    Connection::with_seed(role, config, [7; 32])
}

/// Feeds `input` to a fresh connection of `role` in one chunk and one byte at a time, asserts
/// both give the same events and output, and returns the events and the output.
fn run(role: Role, input: &[u8]) -> (Vec<Seen>, Vec<u8>) {
    run_with(role, Config::default(), input)
}

fn run_with(role: Role, config: Config, input: &[u8]) -> (Vec<Seen>, Vec<u8>) {
    one_chunk_and_bytewise(|| conn_with(role, config.clone()), input)
}

/// Feeds `input` in one chunk and one byte at a time (which must agree) and asserts the
/// connection failed with `error`, whose close code is `code`, before any event, and queued
/// exactly one close frame, last, carrying `code` and no reason.
fn assert_fails(role: Role, input: &[u8], error: ProtocolError, code: u16) {
    assert_fails_with(role, Config::default(), input, error, code);
}

fn assert_fails_with(role: Role, config: Config, input: &[u8], error: ProtocolError, code: u16) {
    let (seen, out) = run_with(role, config, input);
    assert_eq!(seen, vec![Seen::Error(error)]);
    assert_eq!(error.close_code().0, code);
    let sent = decode_frames(role, &out);
    let (op, _, payload) = sent.last().expect("a close frame was queued");
    assert_eq!(*op, OpCode::Close);
    assert_eq!(payload[..], code.to_be_bytes());
    let closes = sent.iter().filter(|(op, ..)| *op == OpCode::Close).count();
    assert_eq!(closes, 1, "{sent:?}");
}

// ------------------------------------------------------------------ data messages

#[test]
fn data_messages_of_every_boundary_length_in_both_directions() {
    for len in [0, 1, 125, 126, 65535, 65536, 1 << 20] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let text: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        for sender in both_roles() {
            let receiver = if sender == Role::Client {
                Role::Server
            } else {
                Role::Client
            };
            let mut tx = conn(sender);
            let mut rx = conn(receiver);
            tx.send_binary(&data).unwrap();
            tx.send_text(&text).unwrap();
            let out = tx.pending_output().to_vec();
            let seen = feed(&mut rx, &out, 16 * 1024 + 3);
            assert_eq!(
                seen,
                vec![Seen::Binary(data.clone()), Seen::Text(text.clone())]
            );
        }
    }
}

#[test]
fn rfc_5_7_examples_are_received() {
    // A server receives the masked "Hello"; a client the unmasked one and the fragmented one.
    let masked = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    assert_eq!(
        run(Role::Server, &masked).0,
        vec![Seen::Text("Hello".into())]
    );
    let unmasked = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    assert_eq!(
        run(Role::Client, &unmasked).0,
        vec![Seen::Text("Hello".into())]
    );
    let fragmented = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    assert_eq!(
        run(Role::Client, &fragmented).0,
        vec![Seen::Text("Hello".into())]
    );
}

#[test]
fn fragmented_messages_with_control_frames_between() {
    for role in both_roles() {
        let mut input = to(role, false, 1, "κό".as_bytes());
        input.extend(to(role, true, 9, b"ping"));
        input.extend(to(role, false, 0, &"σμε".as_bytes()[..3])); // splits a code point
        input.extend(to(role, true, 10, b"pong"));
        input.extend(to(role, false, 0, &"σμε".as_bytes()[3..]));
        input.extend(to(role, true, 0, b""));
        input.extend(to(role, false, 2, b"\x00\x01"));
        input.extend(to(role, true, 0, b"\x02"));
        let (seen, out) = run(role, &input);
        assert_eq!(
            seen,
            vec![
                Seen::Ping(b"ping".to_vec()),
                Seen::Pong(b"pong".to_vec()),
                Seen::Text("κόσμε".into()),
                Seen::Binary(vec![0, 1, 2]),
            ]
        );
        assert_eq!(
            decode_frames(role, &out),
            vec![(OpCode::Pong, true, b"ping".to_vec())]
        );
        // The simplest case: one ping between the two fragments of a text message.
        let mut input = to(role, false, 1, b"a");
        input.extend(to(role, true, 9, b"between"));
        input.extend(to(role, true, 0, b"b"));
        let (seen, out) = run(role, &input);
        assert_eq!(
            seen,
            vec![Seen::Ping(b"between".to_vec()), Seen::Text("ab".into())]
        );
        assert_eq!(
            decode_frames(role, &out),
            vec![(OpCode::Pong, true, b"between".to_vec())]
        );
    }
}

#[test]
fn outgoing_messages_are_fragmented_at_fragment_size() {
    let mut config = Config::default();
    config.fragment_size = 10.try_into().unwrap();
    for role in both_roles() {
        let mut tx = conn_with(role, config.clone());
        tx.send_text("abcdefghijklmnopqrstuvwxyz").unwrap();
        tx.send_binary(&[]).unwrap();
        let sent = decode_frames(role, tx.pending_output());
        let shape: Vec<_> = sent
            .iter()
            .map(|(op, fin, p)| (*op, *fin, p.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (OpCode::Text, false, 10),
                (OpCode::Continuation, false, 10),
                (OpCode::Continuation, true, 6),
                (OpCode::Binary, true, 0),
            ]
        );
    }
}

#[test]
fn send_fragment_streams_a_message_and_checks_text() {
    let mut tx = conn(Role::Client);
    tx.send_fragment(MessageKind::Text, &"é".as_bytes()[..1], false)
        .unwrap();
    assert_eq!(tx.send_text("x"), Err(SendError::MessageInProgress));
    tx.send_fragment(MessageKind::Binary, &"é".as_bytes()[1..], false)
        .unwrap();
    assert_eq!(
        tx.send_fragment(MessageKind::Text, b"\xff", true),
        Err(SendError::InvalidUtf8)
    );
    tx.send_fragment(MessageKind::Text, b"!", true).unwrap();
    let mut rx = conn(Role::Server);
    assert_eq!(
        feed(&mut rx, tx.pending_output(), 3),
        vec![Seen::Text("é!".into())]
    );
    // A text message cannot end inside a code point.
    let mut tx = conn(Role::Client);
    assert_eq!(
        tx.send_fragment(MessageKind::Text, &[0xce], true),
        Err(SendError::InvalidUtf8)
    );
}

#[test]
fn client_masks_every_frame_with_a_fresh_key() {
    let mut c = conn(Role::Client);
    for _ in 0..4 {
        c.send_binary(b"same payload").unwrap();
    }
    let out = c.pending_output().to_vec();
    let mut keys = Vec::new();
    let mut rest = &out[..];
    while !rest.is_empty() {
        let Ok(Decoded::Complete(h, n)) = FrameHeader::decode(rest, u64::MAX) else {
            panic!()
        };
        keys.push(h.mask.expect("client frames are masked"));
        rest = &rest[n + h.len as usize..];
    }
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 4, "each frame has its own key");
}

// ------------------------------------------------------------------ section 5: failures

/// Data and control opcodes, each with an empty payload and a short one (for a close, the
/// code 1000).
fn opcodes_and_payloads() -> Vec<(u8, &'static [u8])> {
    let mut out = Vec::new();
    for op in [1, 2, 8, 9, 10] {
        let short: &[u8] = if op == 8 { &[0x03, 0xe8] } else { b"x" };
        out.extend([(op, &b""[..]), (op, short)]);
    }
    out
}

#[test]
fn server_receives_unmasked_frame_fails_1002() {
    for (op, payload) in opcodes_and_payloads() {
        assert_fails(
            Role::Server,
            &raw_frame(true, 0, op, None, payload),
            ProtocolError::UnmaskedFrame,
            1002,
        );
    }
    // A continuation after a properly masked start.
    let mut input = to(Role::Server, false, 1, b"a");
    input.extend(raw_frame(true, 0, 0, None, b"b"));
    assert_fails(Role::Server, &input, ProtocolError::UnmaskedFrame, 1002);
}

#[test]
fn client_receives_masked_frame_fails_1002() {
    for (op, payload) in opcodes_and_payloads() {
        let input = raw_frame(true, 0, op, Some(KEY), payload);
        assert_fails(Role::Client, &input, ProtocolError::MaskedFrame, 1002);
    }
    // A continuation after a properly unmasked start.
    let mut input = to(Role::Client, false, 1, b"a");
    input.extend(raw_frame(true, 0, 0, Some(KEY), b"b"));
    assert_fails(Role::Client, &input, ProtocolError::MaskedFrame, 1002);
}

#[test]
fn rsv_bits_without_extension_fail_1002() {
    for role in both_roles() {
        let mask = (role == Role::Server).then_some(KEY);
        for rsv in 1..8 {
            for op in [1, 2, 9] {
                for payload in [&b"x"[..], b"hi"] {
                    let input = raw_frame(true, rsv, op, mask, payload);
                    assert_fails(role, &input, ProtocolError::ReservedBits(rsv), 1002);
                }
            }
        }
    }
}

#[test]
fn reserved_opcodes_fail_1002() {
    for role in both_roles() {
        for op in (3..=7).chain(0xB..=0xF) {
            let input = to(role, true, op, b"");
            let err = ProtocolError::Frame(FrameError::ReservedOpcode(op));
            assert_fails(role, &input, err, 1002);
        }
    }
}

#[test]
fn non_minimal_lengths_fail_1002() {
    // The policy (frame.rs docs): a non-minimal length is a protocol error, 1002.
    for role in both_roles() {
        for (len, form) in [(125, 126), (0, 126), (65535, 127), (5, 127)] {
            let input = header_to(role, 2, len, Some(form));
            let err = ProtocolError::Frame(FrameError::NonMinimalLength(len));
            assert_fails(role, &input, err, 1002);
        }
    }
}

#[test]
fn control_frames_fragmented_or_over_125_bytes_fail_1002() {
    for role in both_roles() {
        let input = to(role, false, 9, b"x");
        assert_fails(
            role,
            &input,
            ProtocolError::Frame(FrameError::FragmentedControl(OpCode::Ping)),
            1002,
        );
        let input = to(role, true, 9, &[0; 126]);
        assert_fails(
            role,
            &input,
            ProtocolError::Frame(FrameError::ControlTooLong(OpCode::Ping)),
            1002,
        );
        // 125 bytes is the most a control frame may carry.
        let (seen, out) = run(role, &to(role, true, 9, &[7; 125]));
        assert_eq!(seen, vec![Seen::Ping(vec![7; 125])]);
        assert_eq!(
            decode_frames(role, &out),
            vec![(OpCode::Pong, true, vec![7; 125])]
        );
    }
}

#[test]
fn continuation_without_start_and_new_message_inside_fragments_fail_1002() {
    for role in both_roles() {
        assert_fails(
            role,
            &to(role, true, 0, b"x"),
            ProtocolError::UnexpectedContinuation,
            1002,
        );
        let mut input = to(role, false, 1, b"a");
        input.extend(to(role, true, 1, b"b"));
        assert_fails(
            role,
            &input,
            ProtocolError::ExpectedContinuation(OpCode::Text),
            1002,
        );
        let mut input = to(role, false, 2, b"a");
        input.extend(to(role, false, 2, b"b"));
        assert_fails(
            role,
            &input,
            ProtocolError::ExpectedContinuation(OpCode::Binary),
            1002,
        );
    }
}

#[test]
fn invalid_utf8_fails_1007_at_the_first_bad_byte() {
    let euro = "€".as_bytes();
    for role in both_roles() {
        // Unfragmented, complete: an overlong form, a surrogate, above U+10FFFF, 0xff.
        for bad in [
            &b"ok\xc0\xaf"[..],
            b"\xc0\xaf",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"ok\xff",
        ] {
            let input = to(role, true, 1, bad);
            assert_fails(role, &input, ProtocolError::InvalidUtf8, 1007);
        }
        // Truncated at FIN: a 2-byte code point cut after one byte, a 3-byte one after two.
        let mut input = to(role, false, 1, "κ".as_bytes());
        input.extend(to(role, true, 0, &[0xce]));
        assert_fails(role, &input, ProtocolError::InvalidUtf8, 1007);
        let mut input = to(role, false, 1, b"x");
        input.extend(to(role, true, 0, &euro[..2]));
        assert_fails(role, &input, ProtocolError::InvalidUtf8, 1007);
        // A code point split across three fragments is valid.
        let mut input = to(role, false, 1, &euro[..1]);
        input.extend(to(role, false, 0, &euro[1..2]));
        input.extend(to(role, true, 0, &euro[2..]));
        assert_eq!(run(role, &input).0, vec![Seen::Text("€".into())]);
        // A bad byte in a middle fragment fails at that fragment, before any FIN...
        let mut input = to(role, false, 1, b"fine");
        input.extend(to(role, false, 0, b"\xed\xa0\x80"));
        assert_fails(role, &input, ProtocolError::InvalidUtf8, 1007);
        // ... and before that fragment's own end arrives.
        let mut c = conn(role);
        c.recv(&to(role, false, 1, b"hello"));
        let mut bad = to(role, false, 0, b"\xed\xa0\x80 and much more text");
        bad.truncate(bad.len() - 10); // the frame is incomplete
        c.recv(&bad);
        assert_eq!(c.next_event(), Err(ProtocolError::InvalidUtf8));
        // A single frame arriving in pieces fails before it is complete.
        let mut c = conn(role);
        let frame = to(role, true, 1, b"abc\xf4\x90\x80\x80 lots more text to come");
        c.recv(&frame[..frame.len() - 15]);
        assert_eq!(c.next_event(), Err(ProtocolError::InvalidUtf8));
        assert_eq!(c.state(), State::Failed);
    }
}

#[test]
fn frame_and_message_limits_fail_1009_at_the_header() {
    let mut config = Config::default();
    config.max_frame_size = 1000;
    config.max_message_size = 2500;
    for role in both_roles() {
        // At the limit: accepted.
        let (seen, _) = run_with(role, config.clone(), &to(role, true, 2, &[1; 1000]));
        assert_eq!(seen, vec![Seen::Binary(vec![1; 1000])]);
        // One over: fails with nothing but the header received.
        let frame = to(role, true, 2, &[1; 1001]);
        let header_len = if role == Role::Server { 8 } else { 4 };
        let mut c = conn_with(role, config.clone());
        c.recv(&frame[..header_len]);
        let too_long = ProtocolError::Frame(FrameError::TooLong {
            len: 1001,
            max: 1000,
        });
        assert_eq!(c.next_event(), Err(too_long));
        // The whole frame, in one chunk and byte by byte: 1009 is queued.
        assert_fails_with(role, config.clone(), &frame, too_long, 1009);
        // A fragmented message fails at the fragment that crosses the limit.
        let mut c = conn_with(role, config.clone());
        let mut seen = feed(&mut c, &to(role, false, 2, &[0; 1000]), 1 << 20);
        seen.extend(feed(&mut c, &to(role, false, 0, &[0; 1000]), 1 << 20));
        assert!(seen.is_empty());
        let third = to(role, true, 0, &[0; 501]);
        c.recv(&third[..header_len]);
        let err = c.next_event().unwrap_err();
        assert_eq!(
            err,
            ProtocolError::MessageTooLarge {
                size: 2501,
                max: 2500
            }
        );
        assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
        // The same for a text message, in one chunk and byte by byte: 1009 is queued.
        let mut input = to(role, false, 1, &[b'a'; 1000]);
        input.extend(to(role, false, 0, &[b'a'; 1000]));
        input.extend(header_to(role, 0, 501, None));
        assert_fails_with(role, config.clone(), &input, err, 1009);
        // At exactly 2500: delivered.
        let mut input = to(role, false, 1, &[b'a'; 1000]);
        input.extend(to(role, false, 0, &[b'a'; 1000]));
        input.extend(to(role, true, 0, &[b'a'; 500]));
        let (seen, _) = run_with(role, config.clone(), &input);
        assert_eq!(seen, vec![Seen::Text("a".repeat(2500))]);
    }
}

#[test]
fn after_failing_all_input_is_ignored() {
    for role in both_roles() {
        let mut c = conn(role);
        c.recv(&to(role, true, 0, b"x"));
        assert!(c.next_event().is_err());
        let queued = c.pending_output().to_vec();
        for _ in 0..100 {
            c.recv(&to(role, true, 1, b"more"));
            assert_eq!(c.next_event(), Ok(None));
        }
        assert_eq!(c.pending_output(), &queued[..], "nothing more is queued");
        assert_eq!(c.send_text("x"), Err(SendError::Closed));
    }
}

// ------------------------------------------------------------------ control frames

#[test]
fn ping_is_answered_with_the_same_payload() {
    for role in both_roles() {
        let (seen, out) = run(role, &to(role, true, 9, b"are you there"));
        assert_eq!(seen, vec![Seen::Ping(b"are you there".to_vec())]);
        assert_eq!(
            decode_frames(role, &out),
            vec![(OpCode::Pong, true, b"are you there".to_vec())]
        );
    }
}

#[test]
fn auto_pong_can_be_turned_off() {
    let mut config = Config::default();
    config.auto_pong = false;
    let (seen, out) = run_with(Role::Server, config, &to(Role::Server, true, 9, b"x"));
    assert_eq!(seen, vec![Seen::Ping(b"x".to_vec())]);
    assert!(out.is_empty());
}

#[test]
fn a_ping_flood_is_answered_by_at_most_two_queued_pongs() {
    let mut c = conn(Role::Server);
    let mut input = Vec::new();
    for i in 0..10_000u32 {
        input.extend(to(Role::Server, true, 9, &i.to_be_bytes()));
    }
    let seen = feed(&mut c, &input, 4096);
    assert_eq!(seen.len(), 10_000);
    let pongs = decode_frames(Role::Server, c.pending_output());
    assert_eq!(
        pongs,
        vec![(OpCode::Pong, true, 0u32.to_be_bytes().to_vec())]
    );
    // Once the first pong is written, the latest ping's pong takes its place.
    let n = c.pending_output().len();
    c.consume_output(n);
    let pongs = decode_frames(Role::Server, c.pending_output());
    assert_eq!(
        pongs,
        vec![(OpCode::Pong, true, 9999u32.to_be_bytes().to_vec())]
    );
    let n = c.pending_output().len();
    c.consume_output(n);
    assert!(c.pending_output().is_empty());
}

#[test]
fn send_ping_and_pong_check_their_length() {
    let mut c = conn(Role::Client);
    assert_eq!(c.send_ping(&[0; 126]), Err(SendError::ControlTooLong(126)));
    c.send_ping(&[0; 125]).unwrap();
    c.send_pong(b"beat").unwrap();
    let sent = decode_frames(Role::Client, c.pending_output());
    assert_eq!(sent[0], (OpCode::Ping, true, vec![0; 125]));
    assert_eq!(sent[1], (OpCode::Pong, true, b"beat".to_vec()));
}

// ------------------------------------------------------------------ section 7: closing

#[test]
fn close_is_echoed_and_then_nothing_more_is_sent_or_delivered() {
    for role in both_roles() {
        let mut input = to(role, true, 8, &close_payload(1000, "bye"));
        input.extend(to(role, true, 1, b"after close"));
        let mut c = conn(role);
        let seen = feed(&mut c, &input, 5);
        assert_eq!(seen, vec![Seen::Close(1000, "bye".into())]);
        // Closing until the echo is written: the reply is still a frame to send.
        assert_eq!(c.state(), State::Closing);
        assert!(!c.is_closed());
        assert_eq!(
            decode_frames(role, c.pending_output()),
            vec![(OpCode::Close, true, close_payload(1000, ""))]
        );
        let n = c.pending_output().len();
        c.consume_output(n);
        assert_eq!(c.state(), State::Closed);
        assert!(c.is_closed());
        assert_eq!(c.send_binary(b"x"), Err(SendError::Closed));
        assert_eq!(c.close(CloseCode::NORMAL, ""), Err(SendError::Closed));
        c.recv_eof();
        assert_eq!(
            c.next_event(),
            Ok(None),
            "EOF after the handshake is normal"
        );
    }
}

#[test]
fn empty_close_reports_1005_and_is_answered_with_an_empty_close() {
    for role in both_roles() {
        let (seen, out) = run(role, &to(role, true, 8, b""));
        assert_eq!(seen, vec![Seen::Close(1005, String::new())]);
        assert_eq!(
            decode_frames(role, &out),
            vec![(OpCode::Close, true, vec![])]
        );
    }
}

#[test]
fn every_valid_close_code_is_echoed() {
    for code in (1000..=1003)
        .chain(1007..=1014)
        .chain([3000, 3999, 4000, 4999])
    {
        for role in both_roles() {
            for reason in ["reason", "why"] {
                let (seen, out) = run(role, &to(role, true, 8, &close_payload(code, reason)));
                assert_eq!(seen, vec![Seen::Close(code, reason.into())]);
                assert_eq!(
                    decode_frames(role, &out),
                    vec![(OpCode::Close, true, close_payload(code, ""))]
                );
            }
        }
    }
}

#[test]
fn invalid_close_codes_fail_1002() {
    for code in [
        0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        for role in both_roles() {
            let input = to(role, true, 8, &close_payload(code, ""));
            assert_fails(role, &input, ProtocolError::InvalidCloseCode(code), 1002);
        }
    }
}

#[test]
fn close_with_one_byte_payload_fails_1002_and_bad_reason_fails_1007() {
    for role in both_roles() {
        assert_fails(
            role,
            &to(role, true, 8, &[0x03]),
            ProtocolError::CloseTooShort,
            1002,
        );
        // A reason cut inside a code point: 4 bytes cut after 3, 2 bytes after 1.
        let input = to(role, true, 8, &close_payload(1000, "\u{1F600}")[..5]);
        assert_fails(role, &input, ProtocolError::InvalidCloseReason, 1007);
        let input = to(role, true, 8, &close_payload(1000, b"\xc3"));
        assert_fails(role, &input, ProtocolError::InvalidCloseReason, 1007);
    }
}

#[test]
fn locally_initiated_close_completes_when_the_peer_answers() {
    let mut client = conn(Role::Client);
    let mut server = conn(Role::Server);
    client.close(CloseCode::GOING_AWAY, "done").unwrap();
    assert_eq!(client.state(), State::Closing);
    assert_eq!(client.send_text("late"), Err(SendError::Closed));
    // The server still may send data before it sees the close.
    server.send_text("in flight").unwrap();
    let to_server = client.pending_output().to_vec();
    client.consume_output(to_server.len());
    assert_eq!(
        feed(&mut server, &to_server, 3),
        vec![Seen::Close(1001, "done".into())]
    );
    // The echo is queued, not yet written.
    assert_eq!(server.state(), State::Closing);
    let to_client = server.pending_output().to_vec();
    server.consume_output(to_client.len());
    assert_eq!(server.state(), State::Closed);
    assert_eq!(
        feed(&mut client, &to_client, 2),
        vec![
            Seen::Text("in flight".into()),
            Seen::Close(1001, String::new())
        ]
    );
    assert_eq!(client.state(), State::Closed);
    assert!(
        client.pending_output().is_empty(),
        "no second close is sent"
    );
}

/// Takes everything `c` queued.
fn take_output(c: &mut Connection) -> Vec<u8> {
    let out = c.pending_output().to_vec();
    c.consume_output(out.len());
    out
}

/// Section 7.1.3: both ends send a close frame before they see the other's (our own written
/// out, or still queued). Each takes the other's close as the answer to its own: it reports
/// the peer's code, sends no second close, raises no error, and both reach `Closed`; the
/// server ends TCP first and the client's end follows its EOF.
#[test]
fn simultaneous_close_ends_cleanly_on_both_sides_with_each_others_codes() {
    for written_first in [true, false] {
        let mut client = conn(Role::Client);
        let mut server = conn(Role::Server);
        client.close(CloseCode::NORMAL, "client").unwrap();
        server.close(CloseCode::GOING_AWAY, "server").unwrap();
        assert_eq!(
            (client.state(), server.state()),
            (State::Closing, State::Closing)
        );
        let (to_server, to_client) = if written_first {
            (take_output(&mut client), take_output(&mut server))
        } else {
            (
                client.pending_output().to_vec(),
                server.pending_output().to_vec(),
            )
        };
        let close_to =
            |code: u16, reason: &str| vec![(OpCode::Close, true, close_payload(code, reason))];
        assert_eq!(
            decode_frames(Role::Client, &to_server),
            close_to(1000, "client")
        );
        assert_eq!(
            decode_frames(Role::Server, &to_client),
            close_to(1001, "server")
        );

        assert_eq!(
            feed(&mut server, &to_server, 1),
            [Seen::Close(1000, "client".into())]
        );
        assert_eq!(
            feed(&mut client, &to_client, 1),
            [Seen::Close(1001, "server".into())]
        );
        for (name, c, sent) in [
            ("client", &mut client, &to_server),
            ("server", &mut server, &to_client),
        ] {
            // Nothing queued but our own close, if it was not written yet: no second close.
            let queued: &[u8] = if written_first { &[] } else { sent };
            assert_eq!(
                c.pending_output(),
                queued,
                "{name}: a second close was queued"
            );
            take_output(c);
            assert_eq!(c.state(), State::Closed, "{name}");
            assert_eq!(c.next_event(), Ok(None), "{name}");
        }
        assert_eq!(server.poll_teardown(), Some(rfc6455::Teardown::EndOutput));
        assert!(server.is_finished());
        // The client waits for the server to end TCP (section 7.1.1), then ends its side.
        assert_eq!(client.poll_teardown(), None);
        client.recv_eof();
        assert_eq!(
            client.next_event(),
            Ok(None),
            "EOF after the close handshake is clean"
        );
        assert_eq!(client.poll_teardown(), Some(rfc6455::Teardown::EndOutput));
        assert!(client.is_finished() && client.is_closed());
    }
}

#[test]
fn close_refuses_codes_that_must_not_be_sent() {
    for role in both_roles() {
        let mut c = conn(role);
        for code in [1006, 1015, 999, 1004, 2000, 5000] {
            assert_eq!(
                c.close(CloseCode(code), "").unwrap_err(),
                SendError::InvalidCloseCode(CloseCode(code))
            );
        }
        // 1005 means "no code": allowed only without a reason, and sends an empty close frame.
        for reason in ["why", "x"] {
            assert_eq!(
                c.close(CloseCode::NO_STATUS, reason),
                Err(SendError::InvalidCloseCode(CloseCode::NO_STATUS))
            );
        }
        assert_eq!(
            c.close(CloseCode::NORMAL, &"x".repeat(124)),
            Err(SendError::ReasonTooLong(124))
        );
        c.close(CloseCode::NO_STATUS, "").unwrap();
        assert_eq!(
            decode_frames(role, c.pending_output()),
            vec![(OpCode::Close, true, vec![])]
        );
    }
}

#[test]
fn eof_without_close_reports_1006_and_sends_nothing() {
    fn eof_is_1006(mut c: Connection) {
        c.recv_eof();
        let err = c.next_event().unwrap_err();
        assert_eq!(err, ProtocolError::UnexpectedEof);
        assert_eq!(err.close_code(), CloseCode::ABNORMAL);
        assert!(c.pending_output().is_empty(), "1006 is never sent");
        assert_eq!(c.state(), State::Failed);
    }
    for role in both_roles() {
        // Cut inside a frame: in the header, after it, in the payload.
        let short = to(role, true, 2, b"partial");
        let long = to(role, true, 2, &[9; 300]);
        for cut in [
            &short[..short.len() - 2],
            &long[..1],
            &long[..3],
            &long[..8],
            &long[..100],
        ] {
            let mut c = conn(role);
            c.recv(cut);
            assert_eq!(c.next_event(), Ok(None));
            eof_is_1006(c);
        }
        // After a complete message: the message, then 1006.
        let mut c = conn(role);
        c.recv(&to(role, true, 1, b"hi"));
        assert_eq!(c.next_event(), Ok(Some(Event::Text("hi"))));
        eof_is_1006(c);
    }
}

// ------------------------------------------------------------------ buffers

#[test]
fn write_buffer_cap_refuses_data_but_not_an_empty_buffer() {
    let mut config = Config::default();
    config.write_buffer_cap = 100;
    let mut c = conn_with(Role::Server, config);
    c.send_binary(&[0; 1000]).unwrap(); // always accepted into an empty buffer
    assert_eq!(
        c.send_binary(&[0; 10]),
        Err(SendError::BufferFull {
            buffered: 1004,
            cap: 100
        })
    );
    c.send_ping(b"control frames still go").unwrap();
    let n = c.pending_output().len();
    c.consume_output(n);
    c.send_binary(&[0; 10]).unwrap();
}

#[test]
fn recv_buf_reads_straight_into_the_connection() {
    let mut tx = conn(Role::Client);
    tx.send_text("zero copy").unwrap();
    let bytes = tx.pending_output().to_vec();
    let mut rx = conn(Role::Server);
    let buf = rx.recv_buf();
    // The first window is small (an idle connection holds 1 KiB) but never too small for a
    // message this size.
    assert!(
        buf.len() >= 1024 && buf.len() >= bytes.len(),
        "{}",
        buf.len()
    );
    buf[..bytes.len()].copy_from_slice(&bytes);
    rx.recv_filled(bytes.len());
    assert_eq!(rx.next_event(), Ok(Some(Event::Text("zero copy"))));
}

#[test]
fn partial_consume_output_keeps_the_rest() {
    let mut c = conn(Role::Server);
    c.send_binary(b"abcdef").unwrap();
    let all = c.pending_output().to_vec();
    c.consume_output(3);
    assert_eq!(c.pending_output(), &all[3..]);
    c.consume_output(usize::MAX);
    assert!(c.pending_output().is_empty());
}

// ------------------------------------------------------------------ properties

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn message() -> impl Strategy<Value = (bool, Vec<u8>)> {
        prop_oneof![
            "\\PC{0,50}".prop_map(|s| (true, s.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| (false, b)),
        ]
    }

    /// One frame as a peer might send it: (fin, rsv, opcode, masked the right way, key,
    /// payload). Mostly valid: known opcodes, no RSV bits, the right masking, payloads that are
    /// text, binary, close bodies, or long enough for the 16-bit length form; now and then a
    /// reserved opcode, RSV bits, the wrong masking or an unfinished control frame.
    type RawFrameParts = (bool, u8, u8, bool, [u8; 4], Vec<u8>);

    fn valid_looking_frame() -> impl Strategy<Value = RawFrameParts> {
        let fin = prop_oneof![4 => Just(true), 1 => Just(false)];
        let rsv = prop_oneof![19 => Just(0u8), 1 => 1u8..8];
        let opcode = prop_oneof![
            19 => proptest::sample::select(&[0u8, 1, 2, 8, 9, 10][..]),
            1 => 0u8..16,
        ];
        let right_mask = prop_oneof![19 => Just(true), 1 => Just(false)];
        let payload = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            "\\PC{0,30}".prop_map(String::into_bytes),
            // Close bodies: valid, reserved and out-of-range codes, and a bare byte.
            (995u16..1016, "\\PC{0,10}").prop_map(|(code, reason)| close_payload(code, reason)),
            (3000u16..5000, "[a-z]{0,5}").prop_map(|(code, reason)| close_payload(code, reason)),
            proptest::collection::vec(any::<u8>(), 1..2),
            // Over 125 bytes: the 16-bit length form, and too long for a control frame.
            proptest::collection::vec(any::<u8>(), 126..400),
        ];
        (fin, rsv, opcode, right_mask, any::<[u8; 4]>(), payload)
    }

    /// The frames as bytes, as the peer of `role` sends them.
    fn frames_to(role: Role, frames: &[RawFrameParts]) -> Vec<u8> {
        let mut out = Vec::new();
        for (fin, rsv, opcode, right_mask, key, payload) in frames {
            let masked = (role == Role::Server) == *right_mask;
            out.extend(raw_frame(
                *fin,
                *rsv,
                *opcode,
                masked.then_some(*key),
                payload,
            ));
        }
        out
    }

    /// Small limits, so that 1009 comes up too.
    fn small_limits() -> Config {
        let mut config = Config::default();
        config.max_frame_size = 300;
        config.max_message_size = 600;
        config
    }

    /// The close code RFC 6455 section 7.4.1 calls for, written out independently of
    /// `ProtocolError::close_code`.
    fn rfc_code(error: &ProtocolError) -> u16 {
        match error {
            ProtocolError::Frame(rfc6455::frame::FrameError::TooLong { .. })
            | ProtocolError::MessageTooLarge { .. } => 1009,
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCloseReason => 1007,
            _ => 1002,
        }
    }

    /// Runs `frames` into a connection of `role` whole and byte by byte (which must agree),
    /// and checks the outcome: events until a close or a typed error; an error last, with a
    /// close frame of its code queued; a peer's close last, answered with one close frame.
    fn check_frames(role: Role, frames: &[RawFrameParts]) -> Result<Vec<Seen>, TestCaseError> {
        let stream = frames_to(role, frames);
        let (seen, out) = run_with(role, small_limits(), &stream);
        let sent = decode_frames(role, &out);
        let ends = seen
            .iter()
            .position(|s| matches!(s, Seen::Error(_) | Seen::Close(..)));
        if let Some(at) = ends {
            prop_assert_eq!(
                at + 1,
                seen.len(),
                "nothing after a close or an error: {:?}",
                seen
            );
        }
        match seen.last() {
            Some(Seen::Error(error)) => {
                prop_assert_eq!(error.close_code().0, rfc_code(error), "{:?}", error);
                let last = sent.last();
                prop_assert!(
                    matches!(last, Some((OpCode::Close, true, p)) if p[..2] == rfc_code(error).to_be_bytes()),
                    "{:?} queued {:?}",
                    error,
                    last
                );
            }
            Some(Seen::Close(..)) => {
                let closes = sent.iter().filter(|(op, ..)| *op == OpCode::Close).count();
                prop_assert_eq!(closes, 1, "one close answers the peer's: {:?}", sent);
                prop_assert_eq!(sent.last().map(|f| f.0), Some(OpCode::Close));
            }
            _ => prop_assert!(
                sent.iter().all(|(op, ..)| *op == OpCode::Pong),
                "without a close only pongs go out: {:?}",
                sent
            ),
        }
        Ok(seen)
    }

    /// The strategy gets past the first header: over a fixed run of cases it produces data
    /// messages, control frames, peer closes and each close code of an error.
    #[test]
    fn the_frame_strategy_reaches_events_closes_and_every_error_code() {
        use proptest::strategy::ValueTree as _;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let frames = proptest::collection::vec(valid_looking_frame(), 1..12);
        let (mut data, mut control, mut closes, mut codes) = (0, 0, 0, Vec::new());
        for i in 0..600 {
            let role = if i % 2 == 0 {
                Role::Server
            } else {
                Role::Client
            };
            let case = frames.new_tree(&mut runner).unwrap().current();
            for event in check_frames(role, &case).unwrap() {
                match event {
                    Seen::Text(_) | Seen::Binary(_) => data += 1,
                    Seen::Ping(_) | Seen::Pong(_) => control += 1,
                    Seen::Close(..) => closes += 1,
                    Seen::Error(e) => codes.push(rfc_code(&e)),
                }
            }
        }
        assert!(
            data > 50 && control > 50 && closes > 20,
            "{data} {control} {closes}"
        );
        for code in [1002, 1007, 1009] {
            assert!(codes.contains(&code), "no {code} error in {codes:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Sequences of valid-looking frames, whole and byte by byte: never a panic, the same
        /// outcome either way, and events or a typed error with the right close code queued.
        #[test]
        fn valid_looking_frame_sequences_give_events_or_the_right_close_code(
            frames in proptest::collection::vec(valid_looking_frame(), 1..12),
            server in any::<bool>(),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            check_frames(role, &frames)?;
        }

        #[test]
        fn any_chunking_gives_the_same_events(
            msgs in proptest::collection::vec(message(), 1..8),
            frag in 1usize..40,
            chunks in proptest::collection::vec(1usize..50, 1..20),
        ) {
            let mut config = Config::default();
            config.fragment_size = frag.try_into().unwrap();
            let mut tx = conn_with(Role::Client, config);
            let mut expected = Vec::new();
            for (is_text, bytes) in &msgs {
                if *is_text {
                    let s = String::from_utf8(bytes.clone()).unwrap();
                    tx.send_text(&s).unwrap();
                    expected.push(Seen::Text(s));
                } else {
                    tx.send_binary(bytes).unwrap();
                    expected.push(Seen::Binary(bytes.clone()));
                }
                tx.send_ping(b"p").unwrap();
                expected.push(Seen::Ping(b"p".to_vec()));
            }
            let stream = tx.pending_output().to_vec();
            let mut rx = conn(Role::Server);
            let mut seen = Vec::new();
            let mut rest = &stream[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = chunks[i % chunks.len()].min(rest.len());
                rx.recv(&rest[..n]);
                drain(&mut rx, &mut seen);
                rest = &rest[n..];
                i += 1;
            }
            prop_assert_eq!(seen, expected);
        }

        #[test]
        fn arbitrary_input_never_panics_and_chunking_does_not_matter(
            input in proptest::collection::vec(any::<u8>(), 0..200),
            server in any::<bool>(),
        ) {
            let role = if server { Role::Server } else { Role::Client };
            run(role, &input);
        }
    }
}

// ------------------------------------------------------------------ output bookkeeping

#[test]
fn send_unbuffered_heads_a_text_frame_and_refuses_inside_a_fragmented_message() {
    let mut server = conn(Role::Server);
    let head = server
        .send_unbuffered(MessageKind::Text, 5)
        .unwrap()
        .unwrap();
    assert_eq!(head.as_bytes(), [0x81, 5]);
    assert_eq!(head.as_ref(), [0x81, 5]);
    server
        .send_fragment(MessageKind::Text, b"par", false)
        .unwrap();
    assert_eq!(
        server.send_unbuffered(MessageKind::Binary, 5),
        Err(SendError::MessageInProgress)
    );
    server.send_fragment(MessageKind::Text, b"t", true).unwrap();
    let sent = decode_frames(Role::Server, server.pending_output());
    assert_eq!(
        sent,
        [
            (OpCode::Text, false, b"par".to_vec()),
            (OpCode::Continuation, true, b"t".to_vec())
        ]
    );
}

#[test]
fn output_written_in_part_stays_in_order_when_more_is_queued() {
    // Over 64 KiB written of a larger frame: the written part is dropped from the buffer
    // when the next frame is queued, and what the peer receives is unchanged.
    for role in [Role::Server, Role::Client] {
        let mut c = conn(role);
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        c.send_binary(&big).unwrap();
        let mut wire = c.pending_output()[..70_000].to_vec();
        c.consume_output(70_000);
        c.send_text("after").unwrap();
        c.send_ping(b"p").unwrap();
        wire.extend_from_slice(c.pending_output());
        assert_eq!(
            decode_frames(role, &wire),
            [
                (OpCode::Binary, true, big.clone()),
                (OpCode::Text, true, b"after".to_vec()),
                (OpCode::Ping, true, b"p".to_vec()),
            ],
            "{role:?}"
        );
    }
}

#[test]
fn debug_shows_role_state_and_buffered_bytes() {
    let mut client = conn(Role::Client);
    assert_eq!(client.role(), Role::Client);
    client.send_text("hi").unwrap();
    client.recv(&[0x81]);
    let text = format!("{client:?}");
    for part in [
        "Connection",
        "role: Client",
        "state: Open",
        "buffered_input: 1",
        "pending_output: 8",
    ] {
        assert!(text.contains(part), "{text} lacks {part}");
    }
}
