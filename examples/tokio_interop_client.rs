//! The async client side of the interop tests (`scripts/interop.sh`): the cases of the
//! `interop_client` example, through `rfc6455::tokio`, against another implementation's
//! server that obeys the commands of the `interop_server` example
//! (`scripts/interop/py_server.py` and `node_server.js` do). Prints `PASS case: detail` or
//! `FAIL case: why` for each; the exit status is 1 when a case failed.
//!
//! ```text
//! cargo run --release --example tokio_interop_client --features tokio -- ws://127.0.0.1:9005/
//! ```
//!
//! Built with the `deflate` feature, it also checks that permessage-deflate was negotiated
//! and used.

use std::error::Error;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::time::{Duration, Instant};

use rfc6455::handshake::{HandshakeError, ResponseError};
use rfc6455::tokio::{self as ws, ClientBuilder, MaybeTlsStream, Message, WebSocket};
use rfc6455::{CloseCode, Config};

type Outcome = Result<String, Box<dyn Error>>;
type Run = fn(String) -> Pin<Box<dyn Future<Output = Outcome>>>;

/// The cases, in order: the names of the blocking `interop_client`'s cases.
const CASES: &[(&str, Run)] = &[
    ("text", |url| Box::pin(text(url))),
    ("binary", |url| Box::pin(binary(url))),
    ("empty messages (0 B)", |url| Box::pin(empty(url))),
    ("64 KiB", |url| Box::pin(big(url, 64 << 10))),
    ("16 MiB", |url| Box::pin(big(url, 16 << 20))),
    ("fragmented, sent", |url| Box::pin(fragmented_send(url))),
    ("fragmented, received", |url| {
        Box::pin(fragmented_receive(url))
    }),
    ("ping/pong, we ping", |url| Box::pin(we_ping(url))),
    ("ping/pong, peer pings", |url| Box::pin(peer_pings(url))),
    ("close code+reason, we close", |url| Box::pin(we_close(url))),
    ("close code+reason, peer closes", |url| {
        Box::pin(peer_closes(url))
    }),
    ("subprotocol negotiation", |url| Box::pin(subprotocol(url))),
    ("rejected handshake (403)", |url| Box::pin(rejected(url))),
    ("split halves, 100 messages", |url| Box::pin(split(url))),
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
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: tokio_interop_client URL");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut cases: Vec<(&str, Run)> = CASES.to_vec();
    if cfg!(feature = "deflate") {
        cases.push(("permessage-deflate", |url| Box::pin(deflate(url))));
    }
    let mut failed = false;
    for (name, run) in cases {
        let outcome = runtime.block_on(async {
            match tokio::time::timeout(Duration::from_secs(60), run(url.clone())).await {
                Ok(outcome) => outcome,
                Err(_) => Err("timed out after 60 s".into()),
            }
        });
        match outcome {
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
async fn next_data(ws: &mut WebSocket<MaybeTlsStream>) -> Result<Message, Box<dyn Error>> {
    loop {
        match ws.read().await? {
            Some(Message::Ping(_) | Message::Pong(_)) => {}
            Some(message) => return Ok(message),
            None => return Err("the connection ended".into()),
        }
    }
}

async fn echo(url: &str, message: Message) -> Outcome {
    let mut ws = builder(url).connect().await?;
    ws.send(&message).await?;
    let reply = next_data(&mut ws).await?;
    ensure!(reply == message, "the echo differs from what was sent");
    ws.close(CloseCode::NORMAL, "").await?;
    Ok("echoed intact".into())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn text(url: String) -> Outcome {
    echo(&url, Message::Text("Hello, wörld ✓ 🚀".into())).await
}

async fn binary(url: String) -> Outcome {
    echo(&url, Message::Binary(pattern(1000).into())).await
}

async fn empty(url: String) -> Outcome {
    echo(&url, Message::Text(String::new())).await?;
    echo(&url, Message::binary(Vec::new())).await?;
    Ok("empty text and empty binary echoed".into())
}

async fn big(url: String, len: usize) -> Outcome {
    let started = Instant::now();
    echo(&url, Message::Binary(pattern(len).into())).await?;
    Ok(format!(
        "{len} bytes echoed intact in {:.2?}",
        started.elapsed()
    ))
}

async fn fragmented_send(url: String) -> Outcome {
    let mut config = Config::default();
    config.fragment_size = NonZeroUsize::new(1000).expect("not zero");
    let mut ws = builder(&url).config(config).connect().await?;
    let text = "αβγ ✓ fragment ".repeat(500);
    ws.send_text(&text).await?;
    ensure!(
        next_data(&mut ws).await? == Message::Text(text.clone()),
        "text echo differs"
    );
    ws.close(CloseCode::NORMAL, "").await?;
    Ok(format!("{} B of text in 1000 B frames echoed", text.len()))
}

async fn fragmented_receive(url: String) -> Outcome {
    let mut ws = builder(&url).connect().await?;
    ws.send_text("!frag").await?;
    let expected = FRAGMENTED.repeat(1000);
    ensure!(
        next_data(&mut ws).await? == Message::Text(expected.clone()),
        "reassembled text differs"
    );
    ws.close(CloseCode::NORMAL, "").await?;
    Ok(format!(
        "{} B text in fragments reassembled",
        expected.len()
    ))
}

async fn we_ping(url: String) -> Outcome {
    let mut ws = builder(&url).connect().await?;
    ws.send_ping(b"rfc6455 ping").await?;
    loop {
        match ws.read().await? {
            Some(Message::Pong(data)) if data == b"rfc6455 ping" => break,
            Some(Message::Pong(_)) => {}
            other => return Err(format!("expected the pong, got {other:?}").into()),
        }
    }
    ws.close(CloseCode::NORMAL, "").await?;
    Ok("pong with our payload received".into())
}

async fn peer_pings(url: String) -> Outcome {
    let mut ws = builder(&url).connect().await?;
    ws.send_text("!ping are you there").await?;
    let mut pinged = false;
    loop {
        match ws.read().await? {
            Some(Message::Ping(data)) => pinged |= data == b"are you there",
            Some(Message::Text(text)) if text == "pong:are you there" => break,
            other => return Err(format!("expected the peer's ping, got {other:?}").into()),
        }
    }
    ensure!(pinged, "no ping seen before the peer's confirmation");
    ws.close(CloseCode::NORMAL, "").await?;
    Ok("the peer's ping answered automatically; the peer saw our pong".into())
}

async fn we_close(url: String) -> Outcome {
    // Closed, and dropped at once: peers wait for the TCP connection to end too.
    builder(&url)
        .connect()
        .await?
        .close(CloseCode(4001), "bye from rfc6455")
        .await?;
    // The peer records the close when its handler ends, which may be just after ours.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut ws = builder(&url).connect().await?;
        ws.send_text("!lastclose").await?;
        let reply = next_data(&mut ws).await?;
        ws.close(CloseCode::NORMAL, "").await?;
        if reply == Message::Text("4001 bye from rfc6455".into()) {
            return Ok("the peer received 4001 \"bye from rfc6455\"".into());
        }
        ensure!(Instant::now() < deadline, "the peer recorded {reply:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn peer_closes(url: String) -> Outcome {
    let mut ws = builder(&url).connect().await?;
    ws.send_text("!close 4002 bye from the peer").await?;
    let close = next_data(&mut ws).await?;
    let expected = Message::Close(CloseCode(4002), "bye from the peer".into());
    ensure!(close == expected, "expected {expected:?}, got {close:?}");
    ensure!(ws.read().await?.is_none(), "messages after the close");
    Ok("received 4002 \"bye from the peer\", close handshake completed".into())
}

async fn subprotocol(url: String) -> Outcome {
    let cases: [(&[&str], Option<&str>); 3] = [
        (&["superchat", "chat"], Some("superchat")),
        (&["chat"], Some("chat")),
        (&["mqtt"], None),
    ];
    for (offer, expected) in cases {
        let mut builder = builder(&url);
        for protocol in offer {
            builder = builder.protocol(*protocol);
        }
        let mut ws = builder.connect().await?;
        ensure!(
            ws.protocol() == expected,
            "offered {offer:?}, got {:?}",
            ws.protocol()
        );
        ws.send_text("!protocol").await?;
        let peer = Message::Text(expected.unwrap_or("none").into());
        ensure!(
            next_data(&mut ws).await? == peer,
            "the peer disagrees about {offer:?}"
        );
        ws.close(CloseCode::NORMAL, "").await?;
    }
    Ok("superchat,chat -> superchat; chat -> chat; mqtt -> none".into())
}

async fn rejected(url: String) -> Outcome {
    match ws::connect(&format!("{}/reject", url.trim_end_matches('/'))).await {
        Err(ws::Error::Handshake(HandshakeError::Response(ResponseError::Rejected {
            status: 403,
            ..
        }))) => Ok("connect failed: the server refused with 403".into()),
        Err(e) => Err(format!("unexpected error: {e}").into()),
        Ok(_) => Err("the handshake succeeded".into()),
    }
}

/// The owned halves in two tasks: one sends 100 messages while the other reads the echoes.
async fn split(url: String) -> Outcome {
    let ws = builder(&url).connect().await?;
    let (mut reader, mut writer) = ws.into_split();
    let sender = tokio::spawn(async move {
        for i in 0..100 {
            writer.send_text(&format!("message {i}")).await?;
        }
        Ok::<_, ws::Error>(writer)
    });
    for i in 0..100 {
        match reader.read().await? {
            Some(Message::Text(text)) if text == format!("message {i}") => {}
            other => return Err(format!("echo {i}: got {other:?}").into()),
        }
    }
    let mut writer = sender.await??;
    writer.close(CloseCode::NORMAL, "").await?;
    Ok("100 messages sent by one task, echoes read in order by another".into())
}

/// With the `deflate` feature: the client offers permessage-deflate by default.
async fn deflate(url: String) -> Outcome {
    let mut ws = builder(&url).connect().await?;
    ensure!(ws.connection().is_deflate_enabled(), "not negotiated");
    ws.send_text("!extensions").await?;
    let peer = next_data(&mut ws).await?;
    ensure!(
        peer == Message::Text("permessage-deflate".into()),
        "the peer says {peer:?}"
    );
    let text = "compressible ".repeat(80_000);
    ws.send_text(&text).await?;
    ensure!(
        next_data(&mut ws).await? == Message::Text(text.clone()),
        "echo differs"
    );
    ws.close(CloseCode::NORMAL, "").await?;
    Ok(format!(
        "negotiated; {} B of text echoed compressed",
        text.len()
    ))
}
