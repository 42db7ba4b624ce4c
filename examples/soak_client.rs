//! The client half of `scripts/soak.sh`: opens N WebSocket connections one after another
//! (connect, opening handshake, one small text message, its echo), keeps them all open and
//! idle, prints `ready N` on standard output, then waits until standard input ends (or
//! `--hold` seconds pass) and exits without closing them one by one.
//!
//! ```text
//! cargo run --release --example soak_client -- ws://127.0.0.1:9002/ 10000
//! ```
//!
//! One thread for all connections: they only need to exist, not to be served in parallel,
//! and 10,000 client threads would double the machine's thread count for nothing.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use rfc6455::blocking::{ClientBuilder, Message};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut count = None;
    let mut hold = 120;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--hold" => {
                hold = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| fail("--hold needs a number of seconds"));
            }
            _ if url.is_none() => url = Some(arg),
            _ if count.is_none() => {
                count = Some(arg.parse::<usize>().unwrap_or_else(|_| fail("bad count")));
            }
            _ => fail(&format!("unexpected argument {arg:?}")),
        }
    }
    let url = url.unwrap_or_else(|| "ws://127.0.0.1:9002/".into());
    let count = count.unwrap_or(10_000);

    let started = Instant::now();
    let mut open = Vec::with_capacity(count);
    for i in 0..count {
        let builder = ClientBuilder::new(url.as_str()).handshake_timeout(Duration::from_secs(10));
        let mut ws = match builder.connect() {
            Ok(ws) => ws,
            Err(e) => fail(&format!("connection {i}: {e} ({} open)", open.len())),
        };
        let text = format!("soak {i}");
        if let Err(e) = ws.send_text(&text) {
            fail(&format!("connection {i}: send: {e}"));
        }
        match ws.read() {
            Ok(Some(Message::Text(echo))) if echo == text => {}
            other => fail(&format!("connection {i}: expected the echo, got {other:?}")),
        }
        open.push(ws);
    }
    eprintln!(
        "soak_client: {count} connections open in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("ready {count}");
    let _ = std::io::stdout().flush();

    // Wait for the script: end of standard input, or the hold time as a backstop.
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(hold));
        eprintln!("soak_client: --hold {hold} s passed, exiting");
        std::process::exit(0);
    });
    let mut sink = [0; 64];
    while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
    // Exit without a close handshake per connection: the process's sockets close together.
    std::process::exit(0);
}

fn fail(message: &str) -> ! {
    eprintln!("soak_client: {message}");
    std::process::exit(1);
}
