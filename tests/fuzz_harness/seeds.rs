//! The committed seed corpus, generated: valid frames, streams, requests and responses in the
//! encodings each harness reads. `cargo test --all-features --test fuzz_regressions --
//! --ignored write_seed_corpus` rewrites `fuzz/corpus/`.

use rfc6455::deflate::Negotiated;
use rfc6455::handshake::{Accept, ClientHandshake, ClientOptions, Limits, ServerHandshake, Url};
use rfc6455::{CloseCode, Config, Connection, MessageKind, Role};

use super::handshake::KEY;

/// (target, file name, bytes).
pub fn all() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut out = Vec::new();
    frame_header(&mut out);
    connection(&mut out);
    deflate(&mut out);
    workload(&mut out);
    handshake(&mut out);
    mask(&mut out);
    utf8(&mut out);
    proxy_reply(&mut out);
    tokio_workload(&mut out);
    out
}

type Seeds = Vec<(&'static str, &'static str, Vec<u8>)>;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn frame_header(out: &mut Seeds) {
    let t = "frame_header";
    out.push((t, "rfc_hello", cat(&[&[0], &[0x81, 0x05], b"Hello"])));
    out.push((
        t,
        "rfc_masked",
        cat(&[&[0], &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]]),
    ));
    out.push((t, "len16", cat(&[&[1], &[0x82, 0x7E, 0x01, 0x00]])));
    out.push((
        t,
        "len64",
        cat(&[&[0], &[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]]),
    ));
    out.push((
        t,
        "over_limit",
        cat(&[&[2, 0x01, 0x00], &[0x02, 0x7E, 0x01, 0x01]]),
    ));
    out.push((t, "ping", cat(&[&[0], &[0x89, 0x80, 9, 9, 9, 9]])));
}

/// Frames a client sends: text, a fragmented text with a ping between, binary, close.
fn client_stream() -> Vec<u8> {
    let mut config = Config::default();
    config.fragment_size = 5.try_into().unwrap();
    let mut c = Connection::with_seed(Role::Client, config, [1; 32]);
    c.send_text("Hello").unwrap();
    c.send_fragment(MessageKind::Text, "κό".as_bytes(), false)
        .unwrap();
    c.send_ping(b"ping").unwrap();
    c.send_fragment(MessageKind::Text, "σμε".as_bytes(), true)
        .unwrap();
    c.send_binary(&[0, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    c.send_pong(b"").unwrap();
    c.close(CloseCode::NORMAL, "bye").unwrap();
    c.pending_output().to_vec()
}

/// Two binary messages over the size that is lent rather than copied (32 KiB), a text
/// between them and a close.
fn large_client_stream() -> Vec<u8> {
    let mut c = Connection::with_seed(Role::Client, Config::default(), [2; 32]);
    let data: Vec<u8> = (0..40_000).map(|i| (i % 251) as u8).collect();
    c.send_binary(&data).unwrap();
    c.send_text("between").unwrap();
    c.send_binary(&data[..33_000]).unwrap();
    c.close(CloseCode::NORMAL, "").unwrap();
    c.pending_output().to_vec()
}

fn server_stream() -> Vec<u8> {
    let mut s = Connection::with_seed(Role::Server, Config::default(), [1; 32]);
    s.send_text("Hello").unwrap();
    s.send_binary(&[7; 300]).unwrap();
    s.send_fragment(MessageKind::Binary, b"ab", false).unwrap();
    s.send_ping(b"").unwrap();
    s.send_fragment(MessageKind::Binary, b"cd", true).unwrap();
    s.close(CloseCode(4000), "").unwrap();
    s.pending_output().to_vec()
}

fn connection(out: &mut Seeds) {
    let t = "connection";
    // flags: bit 0 client role; 2 small frames; 4 small messages; 8 no auto-pong; 16 eof;
    // 32 recv_buf; 64 owned messages, kept. Then a chunk pattern.
    out.push((t, "server_whole", cat(&[&[0, 0], &client_stream()])));
    out.push((
        t,
        "server_split",
        cat(&[&[32 | 16, 3, 1, 7, 2], &client_stream()]),
    ));
    out.push((t, "client_whole", cat(&[&[1, 0], &server_stream()])));
    // Messages large enough to leave with the receive buffer, kept while more is read.
    out.push((
        t,
        "server_owned_large",
        cat(&[&[64 | 32, 0], &large_client_stream()]),
    ));
    out.push((
        t,
        "server_owned_large_split",
        cat(&[&[64, 3, 255, 1, 200], &large_client_stream()]),
    ));
    out.push((
        t,
        "client_limits",
        cat(&[&[1 | 2 | 4 | 8, 2, 3, 50], &server_stream()]),
    ));
    out.push((
        t,
        "client_rfc_fragments",
        vec![
            1, 1, 2, 0x01, 0x03, b'H', b'e', b'l', 0x80, 0x02, b'l', b'o',
        ],
    ));
}

/// Level 3, window 15, threshold 0 (everything compressed), in the harness's parameter bytes.
const DEFLATE_PARAMS: [u8; 3] = [3 << 3 | 6, 0, 0];

fn deflate_sender(role: Role, fragment_size: usize) -> Connection {
    let mut config = Config::default();
    config.fragment_size = fragment_size.try_into().unwrap();
    let mut c = Connection::with_seed(role, config, [1; 32]);
    c.enable_deflate(Negotiated {
        level: 3,
        threshold: 0,
        window_bits: 15,
        no_context_takeover: false,
    });
    c
}

fn deflate(out: &mut Seeds) {
    let t = "deflate";
    // Stream mode, server receiving: compressed text twice (the second refers to the first),
    // a compressed fragmented binary with a ping between, close.
    let mut c = deflate_sender(Role::Client, 7);
    c.send_text("Hello, Hello, Hello").unwrap();
    c.send_text("Hello, Hello, Hello").unwrap();
    c.send_fragment(MessageKind::Binary, &[1, 2, 3, 1, 2, 3], false)
        .unwrap();
    c.send_ping(b"p").unwrap();
    c.send_fragment(MessageKind::Binary, &[1, 2, 3], true)
        .unwrap();
    c.close(CloseCode::NORMAL, "").unwrap();
    let header = cat(&[&[0], &DEFLATE_PARAMS, &[0]]);
    out.push((t, "server_stream", cat(&[&header, c.pending_output()])));
    // Stream mode, client receiving, small limits: 100 KB of zeros inflating past 500 bytes.
    let mut s = deflate_sender(Role::Server, 1 << 20);
    s.send_binary(&[0; 100_000]).unwrap();
    let header = cat(&[&[1 | 4], &DEFLATE_PARAMS, &[0]]);
    out.push((t, "client_bomb", cat(&[&header, s.pending_output()])));
    // Round trip, server receiving, fragments of 5 bytes, split in pieces of 3 and 50: a whole
    // text, a binary in three fragments, a ping, 4096 bytes of "abcd" as text.
    let ops: &[u8] = &[
        4,
        5,
        b'h',
        b'e',
        b'l',
        b'l',
        b'o', //
        1,
        2,
        2,
        3,
        9,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        11,
        12,
        13,
        14, //
        2,
        4,
        b'p',
        b'i',
        b'n',
        b'g', //
        3 | 4,
        0x10,
        0x00,
        3,
        b'a',
        b'b',
        b'c',
        b'd',
    ];
    let header = cat(&[&[2 | 8], &DEFLATE_PARAMS[..2], &[5], &[2, 3, 50]]);
    out.push((t, "round_trip", cat(&[&header, ops])));
}

fn workload(out: &mut Seeds) {
    let t = "workload";
    // flags, tape length / 2, tape, then operations (see workload.rs).
    let tape: &[u8] = &[4 | 8, 0, 1, 13, 5 | 16, 2, 3 | 0x80, 12, 4, 20, 5];
    let ops: &[u8] = &[
        0, 10, 1, // send_text 10 bytes
        1, 205, 3, 9, // send_binary 243 bytes
        2, 0, 4, // fragment text, not fin
        2, 2, 3, // fragment fin
        3, 4, 1, // ping
        10, 0, 5, // peer sends text
        10, 2, 3, // peer pings
        7, 7, 8, // reads
        10, 4, // peer closes
        7, 9, // read, flush
    ];
    out.push((
        t,
        "server_mixed",
        cat(&[&[0, (tape.len() / 2) as u8], tape, ops]),
    ));
    out.push((
        t,
        "client_mixed",
        cat(&[&[1 | 2, (tape.len() / 2) as u8], tape, ops]),
    ));
    let big: &[u8] = &[
        1, 250, 0, 7, // 22 KiB binary: the zero-copy path for a server
        13, 1, 245, 9, // send(Message::Binary) of 17 KiB
        5, 0, 3, // close 1000
        3, 1, 1, // ping after close: refused
        7, 12, 7, // read, eof, read
    ];
    out.push((
        t,
        "server_big",
        cat(&[&[0, 3], &[4, 13, 21, 29, 2, 0], big]),
    ));
    out.push((
        t,
        "client_cap_close",
        cat(&[&[1 | 4, 0], big, &[6, 1, 11, 4, 1, 2, 3, 4, 8]]),
    ));
}

fn request(options: &ClientOptions) -> Vec<u8> {
    let url = Url::parse("ws://example.com/chat?room=1").unwrap();
    ClientHandshake::new(&url, options, KEY)
        .unwrap()
        .request()
        .to_vec()
}

fn handshake(out: &mut Seeds) {
    let t = "handshake_request";
    let plain = request(&ClientOptions::new());
    let full = request(
        &ClientOptions::new()
            .protocol("chat")
            .protocol("superchat")
            .extension("permessage-deflate; client_max_window_bits")
            .header("Origin", "https://example.com"),
    );
    out.push((t, "plain", cat(&[&[0, 0], &plain])));
    out.push((
        t,
        "full_split",
        cat(&[
            &[0, 2, 1, 13],
            &full,
            b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
        ]),
    ));
    out.push((t, "small_limits", cat(&[&[1, 1, 40], &full])));
    out.push((
        t,
        "bare_lf",
        cat(&[
            &[0, 0],
            &plain
                .iter()
                .copied()
                .filter(|&b| b != b'\r')
                .collect::<Vec<u8>>(),
        ]),
    ));
    out.push((
        t,
        "post_http10",
        cat(&[&[0, 0], b"POST / HTTP/1.0\r\nHost: a\r\n\r\n"]),
    ));

    let t = "handshake_response";
    let mut server = ServerHandshake::new(Limits::default());
    let offer = request(
        &ClientOptions::new()
            .protocol("chat")
            .protocol("superchat")
            .extension("permessage-deflate; client_max_window_bits"),
    );
    let req = server.recv(&offer).unwrap().unwrap();
    let plain = req.accept(&Accept::new()).unwrap();
    let chosen = req
        .accept(
            &Accept::new()
                .protocol("chat")
                .extension("permessage-deflate; server_no_context_takeover"),
        )
        .unwrap();
    out.push((t, "plain", cat(&[&[0, 0], &plain])));
    out.push((
        t,
        "chosen_split",
        cat(&[&[2 | 4, 3, 1, 5, 17], &chosen, b"\x81\x02hi"]),
    ));
    out.push((t, "unoffered", cat(&[&[0, 0], &chosen])));
    out.push((
        t,
        "refused",
        cat(&[
            &[8, 1, 9],
            &rfc6455::handshake::Rejection::forbidden()
                .header("X-Why", "origin")
                .body("forbidden origin")
                .response(),
        ]),
    ));
    out.push((
        t,
        "refused_small",
        cat(&[
            &[1 | 8, 0],
            b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\nbody",
        ]),
    ));
}

fn mask(out: &mut Seeds) {
    let t = "mask";
    let payload: Vec<u8> = (0..=255u8).collect();
    out.push((
        t,
        "rfc_key",
        cat(&[&[0x37, 0xfa, 0x21, 0x3d, 0, 0, 0], b"Hello"]),
    ));
    out.push((
        t,
        "long_offset",
        cat(&[&[1, 2, 3, 4, 3, 5, 2, 33, 64], &payload]),
    ));
    out.push((
        t,
        "huge_phase",
        cat(&[&[9, 8, 7, 6, 250, 63, 1, 7], &payload[..100]]),
    ));
}

fn utf8(out: &mut Seeds) {
    let t = "utf8";
    out.push((t, "greek", cat(&[&[1, 1], "κόσμε".as_bytes()])));
    out.push((
        t,
        "mixed",
        cat(&[&[2, 3, 5], "a€😀é\u{10FFFF}\u{FFFF}".as_bytes()]),
    ));
    out.push((t, "surrogate", cat(&[&[1, 2], b"ab\xed\xa0\x80cd"])));
    out.push((
        t,
        "overlong_above",
        cat(&[&[0], b"\xc0\xaf \xf4\x90\x80\x80"]),
    ));
    out.push((t, "truncated", cat(&[&[1, 1], b"\xce\xba\xe1\xbd"])));
}

fn proxy_reply(out: &mut Seeds) {
    let t = "proxy_reply";
    // Flags (proxy kind, limits), chunk sizes, the proxy's answer.
    out.push((
        t,
        "http_ok",
        cat(&[
            &[0, 0],
            b"HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy\r\n\r\n",
        ]),
    ));
    out.push((
        t,
        "http_interim_split",
        cat(&[
            &[5, 2, 3, 7],
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        ]),
    ));
    out.push((
        t,
        "http_407",
        cat(&[
            &[1, 0],
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        ]),
    ));
    out.push((
        t,
        "http_403",
        cat(&[&[0, 1, 1], b"HTTP/1.1 403 Filtered\r\n\r\n"]),
    ));
    out.push((
        t,
        "socks_no_auth",
        cat(&[&[2, 0], &[5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0, 80]]),
    ));
    out.push((
        t,
        "socks_auth_domain",
        cat(&[&[3, 1, 1], &[5, 2, 1, 0, 5, 0, 0, 3, 4], b"host", &[1, 187]]),
    ));
    out.push((t, "socks_refused", cat(&[&[2, 0], &[5, 0, 5, 5, 0, 1]])));
    out.push((t, "socks_auth_failed", cat(&[&[3, 0], &[5, 2, 1, 1]])));
}

fn tokio_workload(out: &mut Seeds) {
    let t = "tokio_workload";
    // flags, tape length / 4, tape, then operations: op, polls, and for sends (op % 10 in
    // 0, 1, 4..=7) a length and a fill byte (see tokio_workload.rs).
    let tape: &[u8] = &[
        0,
        5,
        9,
        0,
        17,
        2,
        0x81,
        0,
        6,
        3,
        0,
        13,
        0,
        1 | 0x80,
        21,
        7,
        0,
        0,
        10,
        5,
    ];
    let ops: &[u8] = &[
        0, 0, 12, 1, // the peer sends a text
        1, 0, 40, 2, // the peer sends a binary
        2, 3, // a read cancelled after 3 polls
        2, 31, // a read
        10, 0, 9, 0, // the peer pings
        11, 0, 30, 5, // the peer sends fragments with a ping between
        4, 1, 30, 3, // send_binary cancelled after 1 poll
        6, 31, 20, 4, // send_text
        5, 31, 8, 0, // send_ping
        7, 0, 30, 7, // our fragmented message
        2, 31, 3, 31, 2, 31, 2, 31, 2, 31, // reads
    ];
    let close_ours: &[u8] = &[9, 2, 2, 31, 9, 31];
    let close_peer: &[u8] = &[8, 0, 2, 31, 2, 31];
    for (name, flags, tail) in [
        ("server_we_close", 0u8, close_ours),
        ("client_we_close", 1 | 8, close_ours),
        ("server_peer_closes", 2 | 4, close_peer),
        ("client_peer_closes", 1 | 2, close_peer),
    ] {
        out.push((
            t,
            name,
            cat(&[&[flags, (tape.len() / 4) as u8], tape, ops, tail]),
        ));
    }
    // 17 KiB and 23 KiB: the copy-free path of a server, cancelled and not.
    let big: &[u8] = &[
        4, 2, 254, 1, // send_binary 17 KiB, cancelled after 2 polls
        4, 31, 255, 2, // send_binary 23 KiB
        0, 0, 254, 9, // the peer sends a 17 Ki-character text
        2, 31, 2, 31, // reads
    ];
    out.push((t, "server_big", cat(&[&[0, 1], &[0, 5, 17, 0], big])));
}
