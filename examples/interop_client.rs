//! The client side of the interop tests (`scripts/interop.sh`): runs test cases against
//! another implementation's server and prints `PASS case` or `FAIL case: why` for each.
//!
//! ```text
//! cargo run --release --example interop_server -- 127.0.0.1:9005     # or a Python/Node server
//! cargo run --release --example interop_client -- ws://127.0.0.1:9005/ all
//! ```
//!
//! `all` runs every case of [`CASES`] against a server that obeys the commands of the
//! `interop_server` example (`scripts/interop/py_server.py` and `node_server.js` do). Three
//! more cases drive other servers:
//! - `chat-slow-client`, against the chat example's `ws://HOST:PORT/ws`: a client that stops
//!   reading is dropped with 1013 or 1008 while the rest of the room keeps receiving;
//! - `broadcast`, against the broadcast example: one message reaches every client;
//! - `nginx-proxy`, through nginx to two `echo_server` backends (nginx names the backend in
//!   an `X-Upstream` response header): prints `KILL host:port`, waits for a line `killed` on
//!   standard input, then checks that only that backend's connections were dropped.
//!
//! Built with the `deflate` feature, `all` also checks that permessage-deflate was negotiated
//! and used. The exit status is 1 when a case failed.

use std::error::Error;
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rfc6455::blocking::{self, ClientBuilder, Message, WebSocket};
use rfc6455::handshake::{ClientHandshake, ClientOptions, HandshakeError, ResponseError, Url};
use rfc6455::{CloseCode, Config, Connection, Role};

type Outcome = Result<String, Box<dyn Error>>;
type Case = (&'static str, fn(&str) -> Outcome);

/// The cases `all` runs, in order.
const CASES: &[Case] = &[
    ("text", text),
    ("binary", binary),
    ("empty messages (0 B)", empty),
    ("64 KiB", |url| big(url, 64 << 10)),
    ("16 MiB", |url| big(url, 16 << 20)),
    ("fragmented, sent", fragmented_send),
    ("fragmented, received", fragmented_receive),
    ("ping/pong, we ping", we_ping),
    ("ping/pong, peer pings", peer_pings),
    ("close code+reason, we close", we_close),
    ("close code+reason, peer closes", peer_closes),
    ("subprotocol negotiation", subprotocol),
    ("rejected handshake (403)", rejected),
];

/// What `!frag` sends (see the interop_server example).
const FRAGMENTED: &str = "fragmented ✓ ";

macro_rules! ensure {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            return Err(format!($($why)+).into());
        }
    };
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(case)) = (args.next(), args.next()) else {
        eprintln!("usage: interop_client URL all|CASE|chat-slow-client|broadcast|nginx-proxy");
        std::process::exit(2);
    };
    let cases: Vec<Case> = match case.as_str() {
        "all" if cfg!(feature = "deflate") => {
            let mut all = CASES.to_vec();
            all.push(("permessage-deflate", deflate));
            all
        }
        "all" => CASES.to_vec(),
        "chat-slow-client" => vec![("slow client dropped, room goes on", chat_slow_client)],
        "broadcast" => vec![("broadcast reaches every client", broadcast)],
        "nginx-proxy" => vec![("through nginx", nginx_proxy)],
        name => CASES.iter().filter(|(n, _)| *n == name).copied().collect(),
    };
    let mut failed = cases.is_empty();
    for (name, run) in cases {
        match run(&url) {
            Ok(detail) => println!("PASS {name}: {detail}"),
            Err(why) => {
                failed = true;
                println!("FAIL {name}: {why}");
            }
        }
    }
    std::process::exit(i32::from(failed));
}

fn builder(url: &str) -> ClientBuilder {
    ClientBuilder::new(url).read_timeout(Duration::from_secs(20))
}

/// The next text or binary message (or close), skipping pings and pongs.
fn next_data<S: Read + Write>(ws: &mut WebSocket<S>) -> Result<Message, Box<dyn Error>> {
    loop {
        match ws.read()? {
            Some(Message::Ping(_) | Message::Pong(_)) => {}
            Some(message) => return Ok(message),
            None => return Err("the connection ended".into()),
        }
    }
}

fn echo(url: &str, message: Message) -> Outcome {
    let mut ws = builder(url).connect()?;
    ws.send(&message)?;
    let reply = next_data(&mut ws)?;
    ensure!(reply == message, "the echo differs from what was sent");
    ws.close(CloseCode::NORMAL, "")?;
    Ok("echoed intact".into())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn text(url: &str) -> Outcome {
    echo(url, Message::Text("Hello, wörld ✓ 🚀".into()))
}

fn binary(url: &str) -> Outcome {
    echo(url, Message::Binary(pattern(1000).into()))
}

fn empty(url: &str) -> Outcome {
    echo(url, Message::Text(String::new()))?;
    echo(url, Message::binary(Vec::new()))?;
    Ok("empty text and empty binary echoed".into())
}

fn big(url: &str, len: usize) -> Outcome {
    let started = Instant::now();
    echo(url, Message::Binary(pattern(len).into()))?;
    Ok(format!(
        "{len} bytes echoed intact in {:.2?}",
        started.elapsed()
    ))
}

fn fragmented_send(url: &str) -> Outcome {
    let mut config = Config::default();
    config.fragment_size = NonZeroUsize::new(1000).expect("not zero");
    let mut ws = builder(url).config(config).connect()?;
    let text = "αβγ ✓ fragment ".repeat(500);
    ws.send_text(&text)?;
    ensure!(
        next_data(&mut ws)? == Message::Text(text.clone()),
        "text echo differs"
    );
    ws.send_binary(&pattern(5000))?;
    ensure!(
        next_data(&mut ws)? == Message::Binary(pattern(5000).into()),
        "binary echo differs"
    );
    ws.close(CloseCode::NORMAL, "")?;
    Ok(format!(
        "{} B of text and 5000 B of binary in 1000 B frames echoed",
        text.len()
    ))
}

fn fragmented_receive(url: &str) -> Outcome {
    let mut ws = builder(url).connect()?;
    ws.send_text("!frag")?;
    let expected = FRAGMENTED.repeat(1000);
    ensure!(
        next_data(&mut ws)? == Message::Text(expected.clone()),
        "reassembled text differs"
    );
    ws.close(CloseCode::NORMAL, "")?;
    Ok(format!(
        "{} B text in fragments reassembled",
        expected.len()
    ))
}

fn we_ping(url: &str) -> Outcome {
    let mut ws = builder(url).connect()?;
    ws.send_ping(b"rfc6455 ping")?;
    loop {
        match ws.read()? {
            Some(Message::Pong(data)) if data == b"rfc6455 ping" => break,
            Some(Message::Pong(_)) => {}
            other => return Err(format!("expected the pong, got {other:?}").into()),
        }
    }
    ws.close(CloseCode::NORMAL, "")?;
    Ok("pong with our payload received".into())
}

fn peer_pings(url: &str) -> Outcome {
    let mut ws = builder(url).connect()?;
    ws.send_text("!ping are you there")?;
    let mut pinged = false;
    loop {
        match ws.read()? {
            Some(Message::Ping(data)) => pinged |= data == b"are you there",
            Some(Message::Text(text)) if text == "pong:are you there" => break,
            other => return Err(format!("expected the peer's ping, got {other:?}").into()),
        }
    }
    ensure!(pinged, "no ping seen before the peer's confirmation");
    ws.close(CloseCode::NORMAL, "")?;
    Ok("the peer's ping answered automatically; the peer saw our pong".into())
}

fn we_close(url: &str) -> Outcome {
    // Closed, and dropped at once: peers wait for the TCP connection to end too.
    builder(url)
        .connect()?
        .close(CloseCode(4001), "bye from rfc6455")?;
    // The peer records the close when its handler ends, which may be just after ours.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut ws = builder(url).connect()?;
        ws.send_text("!lastclose")?;
        let reply = next_data(&mut ws)?;
        ws.close(CloseCode::NORMAL, "")?;
        if reply == Message::Text("4001 bye from rfc6455".into()) {
            return Ok("the peer received 4001 \"bye from rfc6455\"".into());
        }
        ensure!(Instant::now() < deadline, "the peer recorded {reply:?}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn peer_closes(url: &str) -> Outcome {
    let mut ws = builder(url).connect()?;
    ws.send_text("!close 4002 bye from the peer")?;
    let close = next_data(&mut ws)?;
    let expected = Message::Close(CloseCode(4002), "bye from the peer".into());
    ensure!(close == expected, "expected {expected:?}, got {close:?}");
    ensure!(ws.read()?.is_none(), "messages after the close");
    Ok("received 4002 \"bye from the peer\", close handshake completed".into())
}

fn subprotocol(url: &str) -> Outcome {
    let cases: [(&[&str], Option<&str>); 3] = [
        (&["superchat", "chat"], Some("superchat")),
        (&["chat"], Some("chat")),
        (&["mqtt"], None),
    ];
    for (offer, expected) in cases {
        let mut builder = builder(url);
        for protocol in offer {
            builder = builder.protocol(*protocol);
        }
        let mut ws = builder.connect()?;
        ensure!(
            ws.protocol() == expected,
            "offered {offer:?}, got {:?}",
            ws.protocol()
        );
        ws.send_text("!protocol")?;
        let peer = Message::Text(expected.unwrap_or("none").into());
        ensure!(
            next_data(&mut ws)? == peer,
            "the peer disagrees about {offer:?}"
        );
        ws.close(CloseCode::NORMAL, "")?;
    }
    Ok("superchat,chat -> superchat; chat -> chat; mqtt -> none".into())
}

fn rejected(url: &str) -> Outcome {
    match builder(&format!("{}/reject", url.trim_end_matches('/'))).connect() {
        Err(blocking::Error::Handshake(HandshakeError::Response(ResponseError::Rejected {
            status: 403,
            ..
        }))) => Ok("connect failed: the server refused with 403".into()),
        Err(e) => Err(format!("unexpected error: {e}").into()),
        Ok(_) => Err("the handshake succeeded".into()),
    }
}

/// With the `deflate` feature: the client offers permessage-deflate by default.
fn deflate(url: &str) -> Outcome {
    let mut ws = builder(url).connect()?;
    ensure!(ws.connection().is_deflate_enabled(), "not negotiated");
    ws.send_text("!extensions")?;
    let peer = next_data(&mut ws)?;
    ensure!(
        peer == Message::Text("permessage-deflate".into()),
        "the peer says {peer:?}"
    );
    let text = "compressible ".repeat(80_000);
    ws.send_text(&text)?;
    ensure!(
        next_data(&mut ws)? == Message::Text(text.clone()),
        "echo differs"
    );
    ws.close(CloseCode::NORMAL, "")?;
    Ok(format!(
        "negotiated; {} B of text echoed compressed",
        text.len()
    ))
}

// ---------------------------------------------------------------- other servers

/// Against the chat example: a client that never reads while another floods the room.
///
/// The flooder stays at most `LEAD` messages ahead of what the watcher has read, half the
/// chat's queue per client: the watcher keeps up however the two cores are shared (a flood
/// with no pacing raced the watcher's thread, which a busy machine could lose), while the
/// slow client, which reads nothing, fills its socket and then its queue.
fn chat_slow_client(url: &str) -> Outcome {
    const FLOOD: usize = 400;
    const LEAD: usize = 32;
    let mut slow = builder(&format!("{url}?nick=slow")).connect()?;
    let mut watcher = builder(&format!("{url}?nick=watcher")).connect()?;
    let mut flooder = builder(&format!("{url}?nick=flooder")).connect()?;
    let progress = Arc::new(AtomicUsize::new(0));
    let watched = Arc::clone(&progress);
    let watching = thread::spawn(move || -> Result<(usize, _), String> {
        let (mut seen, mut slow_left) = (0, false);
        while seen < FLOOD || !slow_left {
            match watcher.read() {
                Ok(Some(Message::Text(t))) if t.contains("\"flood ") => {
                    seen += 1;
                    watched.store(seen, Ordering::Release);
                }
                Ok(Some(Message::Text(t))) if t.contains("leave") && t.contains("slow") => {
                    slow_left = true;
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err(format!("watcher closed after {seen} messages")),
                Err(e) => return Err(format!("watcher: {e} after {seen} messages")),
            }
        }
        Ok((seen, watcher))
    });
    let started = Instant::now();
    let filler = "x".repeat(60_000);
    for i in 0..FLOOD {
        while i >= progress.load(Ordering::Acquire) + LEAD {
            if watching.is_finished() {
                break; // it failed: its error is reported below
            }
            thread::sleep(Duration::from_micros(200));
        }
        flooder.send_text(&format!("flood {i} {filler}"))?;
    }
    let sent_in = started.elapsed();
    let (seen, mut watcher) = watching.join().map_err(|_| "watcher panicked")??;
    // Now the slow client reads: what was buffered, then the close frame.
    let mut got = 0;
    let close = loop {
        match slow.read()? {
            Some(Message::Close(code, reason)) => break (code, reason),
            Some(_) => got += 1,
            None => return Err("slow client: no close frame".into()),
        }
    };
    ensure!(
        close.0 == CloseCode::TRY_AGAIN_LATER || close.0 == CloseCode::POLICY_VIOLATION,
        "slow client closed with {close:?}"
    );
    flooder.close(CloseCode::NORMAL, "")?;
    watcher.close(CloseCode::NORMAL, "")?;
    Ok(format!(
        "{FLOOD} x 60 KB sent in {sent_in:.2?}; watcher got all {seen}; the slow client got \
         {got} then close {} {:?}",
        close.0, close.1
    ))
}

/// Against the broadcast example: three clients, one message, everyone receives it.
fn broadcast(url: &str) -> Outcome {
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut ws = builder(url).connect()?;
        // The server greets a client once it is in the room.
        let hello = next_data(&mut ws)?;
        ensure!(
            matches!(&hello, Message::Text(t) if t.starts_with("welcome")),
            "{hello:?}"
        );
        clients.push(ws);
    }
    clients[0].send_text("hello, everyone")?;
    for ws in &mut clients {
        let got = next_data(ws)?;
        ensure!(
            got == Message::Text("hello, everyone".into()),
            "got {got:?}"
        );
    }
    for mut ws in clients {
        ws.close(CloseCode::NORMAL, "")?;
    }
    Ok("3 clients each received the message".into())
}

/// Opens a connection with the sans-IO handshake, to read a response header the blocking
/// client does not expose: `X-Upstream`, which nginx sets to the backend it chose.
fn connect_via_proxy(url: &str) -> Result<(WebSocket<TcpStream>, String), Box<dyn Error>> {
    let url = Url::parse(url)?;
    let mut stream = TcpStream::connect((url.host(), url.port()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut handshake = ClientHandshake::with_random_key(&url, &ClientOptions::new())?;
    stream.write_all(handshake.request())?;
    let mut buf = [0; 4096];
    let response = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(handshake.recv_eof().into());
        }
        if let Some(response) = handshake.recv(&buf[..n])? {
            break response;
        }
    };
    // With a retry after a failed backend, nginx lists every backend tried: take the last.
    let upstream = response.header("X-Upstream").unwrap_or("?");
    let upstream = upstream.rsplit(", ").next().unwrap_or("?").to_owned();
    let mut conn = Connection::new(Role::Client, Config::default());
    conn.recv(response.leftover());
    let mut ws =
        WebSocket::from_connection(stream, conn).with_timeout_control(TcpStream::set_read_timeout);
    ws.set_read_timeout(Some(Duration::from_secs(10)));
    Ok((ws, upstream))
}

fn nginx_proxy(url: &str) -> Outcome {
    let mut conns = Vec::new();
    for i in 0..8 {
        let (mut ws, upstream) = connect_via_proxy(url)?;
        ws.send_text(&format!("hello {i}"))?;
        ensure!(
            next_data(&mut ws)? == Message::Text(format!("hello {i}")),
            "no echo"
        );
        conns.push((ws, upstream));
    }
    let mut backends: Vec<&str> = conns.iter().map(|(_, u)| u.as_str()).collect();
    backends.sort_unstable();
    backends.dedup();
    ensure!(
        backends.len() == 2,
        "8 connections reached only {backends:?}"
    );
    println!(
        "PASS 8 connections reach both backends: {}",
        backends.join(" and ")
    );

    let victim = conns[0].1.clone();
    println!("KILL {victim}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    ensure!(
        line.trim() == "killed",
        "expected `killed` on stdin, got {line:?}"
    );

    let (mut dropped, mut alive) = (0, 0);
    for (i, (ws, upstream)) in conns.iter_mut().enumerate() {
        let outcome = ws
            .send_text(&format!("still there {i}"))
            .and_then(|()| ws.read());
        match outcome {
            Ok(Some(Message::Text(t))) if t == format!("still there {i}") => {
                ensure!(
                    *upstream != victim,
                    "connection {i} to the killed backend still echoes"
                );
                alive += 1;
            }
            Err(e) if e.is_retryable() => return Err(format!("connection {i}: {e}").into()),
            _ => {
                ensure!(
                    *upstream == victim,
                    "connection {i} to {upstream} was dropped"
                );
                dropped += 1;
            }
        }
    }
    println!(
        "PASS killing {victim} dropped its {dropped} connections; the other {alive} still echo"
    );
    for i in 0..4 {
        let (mut ws, upstream) = connect_via_proxy(url)?;
        ensure!(
            upstream != victim,
            "a new connection went to the killed backend"
        );
        ws.send_text(&format!("after {i}"))?;
        ensure!(
            next_data(&mut ws)? == Message::Text(format!("after {i}")),
            "no echo"
        );
        ws.close(CloseCode::NORMAL, "")?;
    }
    Ok("4 new connections after the kill reach the surviving backend".into())
}
