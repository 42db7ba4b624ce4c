//! A client that outlives its server: when the connection drops it reconnects with exponential
//! backoff and jitter, then resumes sending from the first message not yet confirmed.
//!
//! ```text
//! cargo run --example reconnect                            # demo, with a server that keeps dying
//! cargo run --example reconnect -- ws://127.0.0.1:9002/    # against the echo_server example
//! ```
//! With the echo_server: stop it (Ctrl-C) and start it again while the client runs. A message
//! counts as delivered once its echo is back; the one in flight when the connection dropped is
//! sent again.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use rfc6455::blocking::{self, ClientBuilder, Message, WebSocket};

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::args().nth(1) {
        Some(url) => run_client(&url, u64::MAX, Duration::from_secs(1)),
        None => {
            let url = start_flaky_server()?;
            run_client(&url, 20, Duration::from_millis(100))?;
            println!("all 20 messages delivered");
            Ok(())
        }
    }
}

/// Sends `message 1` to `message {count}` to an echo server, one at a time, each sent until
/// its echo is back, over as many connections as it takes.
fn run_client(url: &str, count: u64, pause: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let mut next = 1;
    let mut failures = 0;
    while next <= count {
        let mut ws = match ClientBuilder::new(url)
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(5))
            .connect()
        {
            Ok(ws) => ws,
            Err(e) => {
                failures += 1;
                let delay = backoff(failures);
                println!("connect failed ({e}); attempt {failures}, retrying in {delay:.2?}");
                thread::sleep(delay);
                continue;
            }
        };
        failures = 0;
        println!("connected to {url}");
        while next <= count {
            let text = format!("message {next}");
            match send_and_confirm(&mut ws, &text) {
                Ok(()) => {
                    println!("{text}: echoed");
                    next += 1;
                    thread::sleep(pause);
                }
                Err(e) => {
                    println!("{text}: connection lost ({e}); reconnecting");
                    break;
                }
            }
        }
    }
    Ok(())
}

fn send_and_confirm<S: Read + Write>(
    ws: &mut WebSocket<S>,
    text: &str,
) -> Result<(), blocking::Error> {
    ws.send_text(text)?;
    loop {
        match ws.read()? {
            Some(Message::Text(echo)) if echo == text => return Ok(()),
            Some(Message::Close(code, reason)) => println!("server closed: {code} {reason:?}"),
            Some(_) => {}
            None => return Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into()),
        }
    }
}

/// The wait before reconnection attempt `n` (1, 2, ...): doubles from 100 ms up to 10 s, of
/// which a random half is kept ("equal jitter"), so that clients dropped together do not all
/// come back at the same instant.
fn backoff(n: u32) -> Duration {
    let ceiling = FIRST_DELAY
        .saturating_mul(1 << n.saturating_sub(1).min(16))
        .min(MAX_DELAY);
    let random = RandomState::new().build_hasher().finish(); // std's randomly seeded hasher
    ceiling / 2 + ceiling.mul_f64((random % 1000) as f64 / 2000.0)
}

/// The demo's server: echoes five messages per connection, then drops the connection without
/// a close frame and stays away for a second (connections are refused), again and again.
fn start_flaky_server() -> std::io::Result<String> {
    let first = TcpListener::bind("127.0.0.1:0")?;
    let addr = first.local_addr()?;
    thread::spawn(move || {
        let mut listener = Some(first);
        while let Some(open) = listener.take().or_else(|| TcpListener::bind(addr).ok()) {
            if let Ok((stream, _)) = open.accept() {
                drop(open); // down: new connections are refused
                if let Ok(mut ws) = blocking::accept(stream) {
                    for _ in 0..5 {
                        match ws.read() {
                            Ok(Some(Message::Text(text))) if ws.send_text(&text).is_ok() => {}
                            _ => break,
                        }
                    }
                }
                println!("(server: crashing, back in a second)");
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
    Ok(format!("ws://{addr}/"))
}
