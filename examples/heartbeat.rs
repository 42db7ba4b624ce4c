//! Keepalive: pings while the peer is quiet, and dead-peer detection on both sides, without
//! extra threads (the timers run inside `read`).
//!
//! ```text
//! cargo run --example heartbeat
//! ```
//! Three scenes, with a ping after 1 s of silence and a give-up after 3 s (in production,
//! something like 20 s and 60 s):
//! 1. two live peers: pings go out and are answered, nobody times out;
//! 2. a client that hangs (it stops reading, so it answers nothing): the server gives up
//!    with `Error::PeerUnresponsive` after 3 s;
//! 3. a server that hangs: the client gives up after 3 s.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rfc6455::CloseCode;
use rfc6455::blocking::{Acceptor, ClientBuilder, Error, Keepalive, Message, WebSocket};

const PING_AFTER: Duration = Duration::from_secs(1);
const GIVE_UP_AFTER: Duration = Duration::from_secs(3);

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let keepalive = Keepalive::new(PING_AFTER, GIVE_UP_AFTER);

    println!("1. both alive for 4 s");
    let (url, server) = serve_once(|mut ws| {
        let outcome = watch("server", &mut ws, None);
        assert!(outcome.is_ok(), "the server saw {outcome:?}");
    })?;
    let mut ws = ClientBuilder::new(&url).keepalive(keepalive).connect()?;
    let outcome = watch("client", &mut ws, Some(Duration::from_secs(4)));
    assert!(outcome.is_ok(), "the client saw {outcome:?}");
    println!("   client: 4 s passed, connection healthy; closing");
    ws.close(CloseCode::NORMAL, "done")?;
    server.join().map_err(|_| "server panicked")?;

    println!("2. the client hangs");
    let (url, server) = serve_once(|mut ws| {
        let outcome = watch("server", &mut ws, None);
        assert!(
            matches!(outcome, Err(Error::PeerUnresponsive(_))),
            "{outcome:?}"
        );
    })?;
    let hung = ClientBuilder::new(&url).connect()?; // no keepalive, and never read
    server.join().map_err(|_| "server panicked")?;
    drop(hung);

    println!("3. the server hangs");
    let (url, server) = serve_once(|_ws| thread::sleep(GIVE_UP_AFTER + PING_AFTER))?;
    let mut ws = ClientBuilder::new(&url).keepalive(keepalive).connect()?;
    let outcome = watch("client", &mut ws, None);
    assert!(
        matches!(outcome, Err(Error::PeerUnresponsive(_))),
        "{outcome:?}"
    );
    server.join().map_err(|_| "server panicked")?;
    println!("all three scenes went as expected");
    Ok(())
}

/// Reads until the connection ends or fails (or `until` passed), printing pings and pongs.
fn watch<S: Read + Write>(
    side: &str,
    ws: &mut WebSocket<S>,
    until: Option<Duration>,
) -> Result<(), Error> {
    let started = Instant::now();
    loop {
        if let Some(until) = until {
            match until.checked_sub(started.elapsed()) {
                Some(left) if !left.is_zero() => ws.set_read_timeout(Some(left)),
                _ => return Ok(()),
            }
        }
        let message = ws.read();
        let at = started.elapsed().as_secs_f32();
        match message {
            Ok(Some(Message::Ping(_))) => {
                println!("   {side}: {at:4.1} s  ping received (answered)")
            }
            Ok(Some(Message::Pong(_))) => {
                println!("   {side}: {at:4.1} s  pong received: peer alive")
            }
            Ok(Some(_)) => {}
            Ok(None) => return Ok(()),
            Err(e) if e.is_retryable() && until.is_some() => {} // our own deadline: loop ends
            Err(e) => {
                println!("   {side}: {at:4.1} s  {e}");
                return Err(e);
            }
        }
    }
}

/// Accepts one connection with keepalive on and runs `session` on it in a thread.
fn serve_once<F>(session: F) -> std::io::Result<(String, JoinHandle<()>)>
where
    F: FnOnce(WebSocket<TcpStream>) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("ws://{}/", listener.local_addr()?);
    let acceptor = Acceptor::new().keepalive(Keepalive::new(PING_AFTER, GIVE_UP_AFTER));
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        session(acceptor.accept(stream).expect("handshake"));
    });
    Ok((url, handle))
}
