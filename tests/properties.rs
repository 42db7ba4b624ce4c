//! Property tests (proptest) for the codec, the connection and the handshake:
//! - a whole frame (header, masked payload) encodes and decodes to itself;
//! - a message split into fragments of any sizes arrives as the same message, both ways;
//! - any chunking of a valid byte stream (data, control frames, close; both roles; through
//!   `recv` or `recv_buf`) gives the same events and the same output;
//! - masking twice is the identity, at any phase, in place or while copying;
//! - the request our client builds is accepted by our server parser, and the 101 our server
//!   builds is accepted by our client, over random URLs, subprotocols, extensions and headers.
//!
//! Header-only encode/decode round trips are in `src/frame.rs`.

mod support;

use proptest::prelude::*;

use rfc6455::frame::{Decoded, FrameHeader, MAX_HEADER_LEN, OpCode};
use rfc6455::handshake::{
    Accept, ClientHandshake, ClientOptions, Limits, Rejection, ResponseError, ServerHandshake, Url,
};
use rfc6455::mask::{apply_mask, apply_mask_bytewise, extend_masked};
use rfc6455::{CloseCode, Config, Connection, MessageKind, Role};
use support::seen::{Seen, drain};

fn other(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Client), Just(Role::Server)]
}

/// Delivers `stream` in chunks whose sizes cycle through `sizes`, through `recv` or through
/// `recv_buf` + `recv_filled`; returns the events and the output.
fn deliver(role: Role, stream: &[u8], sizes: &[usize], via_buf: bool) -> (Vec<Seen>, Vec<u8>) {
    let mut rx = Connection::with_seed(role, Config::default(), [2; 32]);
    let mut seen = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        let (piece, tail) = rest.split_at(n);
        if via_buf {
            let buf = rx.recv_buf();
            let k = buf.len().min(piece.len());
            buf[..k].copy_from_slice(&piece[..k]);
            rx.recv_filled(k);
            rx.recv(&piece[k..]);
        } else {
            rx.recv(piece);
        }
        drain(&mut rx, &mut seen);
        rest = tail;
        i += 1;
    }
    drain(&mut rx, &mut seen);
    (seen, rx.pending_output().to_vec())
}

#[derive(Clone, Debug)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    /// A message sent as fragments of these sizes.
    Fragmented(bool, Vec<u8>, Vec<usize>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        "\\PC{0,40}".prop_map(Op::Text),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Op::Binary),
        (
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::collection::vec(0usize..50, 1..6)
        )
            .prop_map(|(text, bytes, sizes)| Op::Fragmented(text, bytes, sizes)),
        proptest::collection::vec(any::<u8>(), 0..126).prop_map(Op::Ping),
        proptest::collection::vec(any::<u8>(), 0..126).prop_map(Op::Pong),
    ]
}

/// Splits `data` into pieces of the cycled `sizes`, empty ones included (an empty message is
/// one empty piece). After a bounded number of pieces the rest goes in one.
fn pieces<'a>(data: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    loop {
        let n = if i > data.len() + 2 * sizes.len() {
            rest.len()
        } else {
            sizes[i % sizes.len()].min(rest.len())
        };
        let (piece, tail) = rest.split_at(n);
        out.push(piece);
        rest = tail;
        i += 1;
        if rest.is_empty() {
            return out;
        }
    }
}

/// Sends `ops` from a connection of `sender`'s role; returns the bytes and the events the
/// peer must see.
fn send_all(sender: Role, ops: &[Op], fragment_size: usize) -> (Vec<u8>, Vec<Seen>) {
    let mut config = Config::default();
    config.fragment_size = fragment_size.try_into().unwrap();
    let mut tx = Connection::with_seed(sender, config, [1; 32]);
    let mut expected = Vec::new();
    for op in ops {
        match op {
            Op::Text(t) => {
                tx.send_text(t).unwrap();
                expected.push(Seen::Text(t.clone()));
            }
            Op::Binary(b) => {
                tx.send_binary(b).unwrap();
                expected.push(Seen::Binary(b.clone()));
            }
            Op::Fragmented(text, bytes, sizes) => {
                // Text: valid UTF-8 split anywhere, code points included.
                let data = if *text {
                    String::from_utf8_lossy(bytes).into_owned().into_bytes()
                } else {
                    bytes.clone()
                };
                let kind = if *text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let parts = pieces(&data, sizes);
                for (i, part) in parts.iter().enumerate() {
                    tx.send_fragment(kind, part, i + 1 == parts.len()).unwrap();
                }
                expected.push(if *text {
                    Seen::Text(String::from_utf8(data).unwrap())
                } else {
                    Seen::Binary(data)
                });
            }
            Op::Ping(p) => {
                tx.send_ping(p).unwrap();
                expected.push(Seen::Ping(p.clone()));
            }
            Op::Pong(p) => {
                tx.send_pong(p).unwrap();
                expected.push(Seen::Pong(p.clone()));
            }
        }
    }
    tx.close(CloseCode::NORMAL, "done").unwrap();
    expected.push(Seen::Close(1000, "done".into()));
    (tx.pending_output().to_vec(), expected)
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A whole frame: header encoded, payload masked; decoding and unmasking give it back.
    #[test]
    fn frame_encode_then_decode_is_identity(
        fin in any::<bool>(),
        rsv in 0u8..8,
        op in proptest::sample::select(&[0u8, 1, 2, 8, 9, 10][..]),
        mask in proptest::option::of(any::<[u8; 4]>()),
        payload in proptest::collection::vec(any::<u8>(), 0..400),
        long in any::<bool>(),
    ) {
        let opcode = OpCode::from_u8(op).unwrap();
        let mut payload = payload;
        if opcode.is_control() {
            payload.truncate(125);
        } else if long {
            payload.resize(70_000, 0x5A);
        }
        let header = FrameHeader { fin: fin || opcode.is_control(), rsv, opcode, mask, len: payload.len() as u64 };
        let mut head = [0; MAX_HEADER_LEN];
        let n = header.encode(&mut head);
        let mut wire = head[..n].to_vec();
        match mask {
            Some(key) => { extend_masked(&mut wire, &payload, key, 0); }
            None => wire.extend_from_slice(&payload),
        }
        let Ok(Decoded::Complete(decoded, used)) = FrameHeader::decode(&wire, u64::MAX) else {
            panic!("not decoded");
        };
        prop_assert_eq!(decoded, header);
        prop_assert_eq!(used, n);
        let mut body = wire[used..].to_vec();
        if let Some(key) = decoded.mask {
            apply_mask(&mut body, key, 0);
        }
        prop_assert_eq!(body, payload);
    }

    /// A message sent as fragments of any sizes (and with any fragment_size) arrives whole,
    /// in both directions, however the bytes are chunked.
    #[test]
    fn fragmented_messages_arrive_whole(
        sender in role(),
        text in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..500),
        sizes in proptest::collection::vec(0usize..80, 1..8),
        fragment_size in 1usize..64,
        chunks in proptest::collection::vec(1usize..40, 1..6),
    ) {
        let ops = [Op::Fragmented(text, bytes, sizes)];
        let (stream, expected) = send_all(sender, &ops, fragment_size);
        let (seen, _) = deliver(other(sender), &stream, &chunks, false);
        prop_assert_eq!(seen, expected);
    }

    /// Any chunking of a valid stream gives the same events and output as one piece, in
    /// both roles, through `recv` and through `recv_buf`.
    #[test]
    fn any_chunking_gives_the_same_events(
        sender in role(),
        ops in proptest::collection::vec(op(), 0..10),
        fragment_size in 1usize..100,
        chunks in proptest::collection::vec(1usize..64, 1..8),
        via_buf in any::<bool>(),
    ) {
        let (stream, expected) = send_all(sender, &ops, fragment_size);
        let receiver = other(sender);
        let (whole, output) = deliver(receiver, &stream, &[stream.len().max(1)], false);
        prop_assert_eq!(&whole, &expected);
        let (split, split_output) = deliver(receiver, &stream, &chunks, via_buf);
        prop_assert_eq!(&split, &expected);
        prop_assert_eq!(split_output, output);
    }

    /// Masking twice is the identity, for any key, phase and length, in place and while
    /// copying; and every path equals the byte loop.
    #[test]
    fn masking_twice_is_identity(
        key in any::<[u8; 4]>(),
        phase in any::<usize>(),
        data in proptest::collection::vec(any::<u8>(), 0..600),
        offset in 0usize..32,
    ) {
        let mut buf = vec![0; offset];
        buf.extend_from_slice(&data);
        let next = apply_mask(&mut buf[offset..], key, phase);
        let mut reference = data.clone();
        prop_assert_eq!(apply_mask_bytewise(&mut reference, key, phase), next);
        prop_assert_eq!(&buf[offset..], &reference[..]);
        apply_mask(&mut buf[offset..], key, phase);
        prop_assert_eq!(&buf[offset..], &data[..]);
        let mut copy = Vec::new();
        prop_assert_eq!(extend_masked(&mut copy, &data, key, phase), next);
        let mut back = Vec::new();
        extend_masked(&mut back, &copy, key, phase);
        prop_assert_eq!(back, data);
    }

    /// Our client's request passes our server parser with everything it offered intact, and
    /// our server's 101 (choosing any of the offers) passes our client, in any chunking.
    #[test]
    fn our_handshakes_accept_each_other(
        secure in any::<bool>(),
        host in prop_oneof![
            "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
            (any::<[u8; 4]>()).prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
            Just("[::1]".to_owned()),
            Just("[2001:db8::7]".to_owned()),
        ],
        port in proptest::option::of(1u16..),
        path in "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,8}){0,3}",
        query in proptest::option::of("[A-Za-z0-9=&%/?-]{0,16}"),
        protocols in proptest::collection::btree_set(token(), 0..4),
        extensions in proptest::collection::vec(
            (token(), proptest::collection::vec((token(), proptest::option::of(token())), 0..3)),
            0..3,
        ),
        headers in proptest::collection::vec((token(), "[ -~]{0,20}"), 0..4),
        key in any::<[u8; 16]>(),
        choose in any::<proptest::sample::Index>(),
        chunk in 1usize..200,
    ) {
        let scheme = if secure { "wss" } else { "ws" };
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        let url = Url::parse(&format!("{scheme}://{host}{port}{path}{query}")).unwrap();
        let mut options = ClientOptions::new();
        for p in &protocols {
            options = options.protocol(p.clone());
        }
        let offers: Vec<String> = extensions
            .iter()
            .map(|(name, params)| {
                let mut offer = name.clone();
                for (k, v) in params {
                    offer.push_str(&match v {
                        Some(v) => format!("; {k}={v}"),
                        None => format!("; {k}"),
                    });
                }
                offer
            })
            .collect();
        for e in &offers {
            options = options.extension(e.clone());
        }
        // Extra headers that could be confused with the handshake's own are left out.
        let extra: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(n, _)| {
                let n = n.to_ascii_lowercase();
                !n.starts_with("sec-websocket") && !["host", "upgrade", "connection"].contains(&n.as_str())
            })
            .collect();
        for (n, v) in &extra {
            options = options.header(n.clone(), v.clone());
        }
        let mut client = ClientHandshake::new(&url, &options, key).unwrap();

        let mut server = ServerHandshake::new(Limits::default());
        let mut request = None;
        for piece in client.request().chunks(chunk) {
            prop_assert!(request.is_none());
            request = server.recv(piece).unwrap();
        }
        let request = request.expect("a complete request");
        prop_assert_eq!(request.uri(), url.resource());
        let host_header = url.host_header();
        prop_assert_eq!(request.header("Host"), Some(host_header.as_str()));
        let offered: Vec<String> = protocols.iter().cloned().collect();
        prop_assert_eq!(request.protocols(), &offered[..]);
        let names: Vec<&str> = request.extensions().iter().map(|e| e.name.as_str()).collect();
        let sent: Vec<&str> = extensions.iter().map(|(n, _)| n.as_str()).collect();
        prop_assert_eq!(&names, &sent);
        for (n, v) in &extra {
            prop_assert!(request.headers().any(|(name, value)| name == n && value == v.trim().as_bytes()));
        }
        prop_assert!(request.leftover().is_empty());

        let mut answer = Accept::new();
        if !offered.is_empty() {
            answer = answer.protocol(choose.get(&offered).clone());
        }
        if !sent.is_empty() {
            answer = answer.extension(choose.get(&offers).clone());
        }
        let mut response = request.accept(&answer).unwrap();
        response.extend_from_slice(b"\x81\x00");
        let mut accepted = None;
        let mut fed = 0;
        for piece in response.chunks(chunk) {
            fed += piece.len();
            accepted = client.recv(piece).unwrap();
            if accepted.is_some() {
                break;
            }
        }
        let accepted = accepted.expect("a complete 101");
        prop_assert_eq!(accepted.protocol(), answer.protocol.as_deref());
        prop_assert_eq!(accepted.extensions().len(), answer.extensions.len());
        // The frame after the 101 is neither lost nor taken for header: what the client kept
        // and what it was not fed yet are exactly that frame, which its connection reads.
        let rest = &response[fed..];
        prop_assert_eq!([accepted.leftover(), rest].concat(), b"\x81\x00".to_vec());
        let mut conn = accepted.into_connection(rfc6455::Config::default());
        conn.recv(rest);
        prop_assert_eq!(conn.next_event().unwrap(), Some(rfc6455::Event::Text("")));

        // And a refusal built by `reject` is reported with its status and body.
        let mut client = ClientHandshake::new(&url, &options, key).unwrap();
        let status = 400 + (chunk as u16 % 100);
        let refusal = Rejection::new(status)
            .unwrap()
            .header("X-Why", "because")
            .body("no thanks")
            .response();
        match client.recv(&refusal) {
            Err(rfc6455::handshake::HandshakeError::Response(ResponseError::Rejected { status: s, body, .. })) => {
                prop_assert_eq!(s, status);
                prop_assert_eq!(body, b"no thanks".to_vec());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
