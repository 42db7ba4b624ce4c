//! An adapter written as if outside the crate: it drives a [`Connection`] over a
//! non-blocking `TcpStream` with the public API only, and leaves every decision to the core —
//! keepalive pings, the close timeout, and when to end the TCP connection.
//!
//! ```text
//! cargo run --example nonblocking
//! ```
//!
//! It starts two local servers (an echo server, and one that never answers a close) and, as
//! a client, checks each step out loud:
//! 1. the opening handshake and an echo;
//! 2. a quiet second with a 200 ms keepalive: the core's pings go out, pongs come back;
//! 3. a clean close: the close handshake, then the server ends TCP and the core says
//!    [`Teardown::EndOutput`];
//! 4. a server that ignores our close: the core's close timeout gives up and says
//!    [`Teardown::Abort`].
//!
//! The loop is the one in [`Connection`]'s docs. std has no readiness API, so where a real
//! adapter would wait on epoll (or a runtime) until the socket is readable or the core's
//! deadline comes, this one naps for at most a millisecond.

use std::error::Error;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use rfc6455::blocking::{self, Message};
use rfc6455::handshake::{ClientHandshake, ClientOptions, Url};
use rfc6455::{CloseCode, Config, Connection, Event, Keepalive, Teardown, TimeoutError};

/// An event, owned.
#[derive(Debug, PartialEq)]
enum Owned {
    Text(String),
    Binary(usize),
    Ping,
    Pong,
    Close(CloseCode),
}

impl From<Event<'_>> for Owned {
    fn from(event: Event<'_>) -> Owned {
        match event {
            Event::Text(text) => Owned::Text(text.to_string()),
            Event::Binary(data) => Owned::Binary(data.len()),
            Event::Ping(_) => Owned::Ping,
            Event::Pong(_) => Owned::Pong,
            Event::Close(frame) => Owned::Close(frame.code),
        }
    }
}

/// The whole adapter: a socket, the connection, a clock, and what the core told us to do.
struct Client {
    tcp: TcpStream,
    conn: Connection,
    start: Instant,
    teardown: Vec<Teardown>,
}

impl Client {
    /// Connects and runs the opening handshake, all non-blocking.
    fn connect(addr: SocketAddr, config: Config) -> Result<Client, Box<dyn Error>> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_nonblocking(true)?;
        tcp.set_nodelay(true)?;
        let url = Url::parse(&format!("ws://{addr}/"))?;
        let mut handshake = ClientHandshake::with_random_key(&url, &ClientOptions::default())?;
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut request = handshake.request().to_vec();
        let mut buf = [0; 4096];
        let response = loop {
            if Instant::now() > deadline {
                return Err("the handshake did not finish within 5 s".into());
            }
            if !request.is_empty() {
                match (&tcp).write(&request) {
                    Ok(n) => drop(request.drain(..n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => nap(),
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
            match (&tcp).read(&mut buf) {
                Ok(0) => return Err(handshake.recv_eof().into()),
                Ok(n) => {
                    if let Some(response) = handshake.recv(&buf[..n])? {
                        break response;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => nap(),
                Err(e) => return Err(e.into()),
            }
        };
        Ok(Client {
            tcp,
            // With the bytes that came after the 101, if any.
            conn: response.into_connection(config),
            start: Instant::now(),
            teardown: Vec::new(),
        })
    }

    /// The core's clock: time since the connection was made.
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Runs the loop until an event arrives (`Some`), the connection is finished (`None`), or
    /// `until` passes (`None`).
    fn next(&mut self, until: Instant) -> Result<Option<Owned>, Box<dyn Error>> {
        loop {
            // Time in: keepalive pings, the idle and close deadlines.
            let timed = self.conn.handle_timeout(self.now());
            // Events out.
            let event = match timed {
                Ok(()) => self.conn.next_event()?.map(Owned::from),
                Err(_) => None,
            };
            // Bytes out, then what the core decided about the socket.
            self.flush()?;
            match self.conn.poll_teardown() {
                Some(Teardown::EndOutput) => {
                    self.teardown.push(Teardown::EndOutput);
                    let _ = self.tcp.shutdown(std::net::Shutdown::Write);
                }
                Some(Teardown::Abort) => {
                    self.teardown.push(Teardown::Abort);
                    let _ = self.tcp.shutdown(std::net::Shutdown::Both);
                }
                _ => {}
            }
            timed?;
            if event.is_some() {
                return Ok(event);
            }
            if self.conn.is_finished() || Instant::now() >= until {
                return Ok(None);
            }
            // Bytes in.
            match self.tcp.read(self.conn.recv_buf()) {
                Ok(0) => self.conn.recv_eof(),
                Ok(n) => self.conn.recv_filled(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Where epoll would wait for "readable, or the core's deadline".
                    if self.conn.poll_timeout().is_none_or(|at| at > self.now()) {
                        nap();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes what the socket takes now; the rest stays queued in the connection.
    fn flush(&mut self) -> io::Result<()> {
        while !self.conn.pending_output().is_empty() {
            match self.tcp.write(self.conn.pending_output()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.conn.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn nap() {
    thread::sleep(Duration::from_millis(1));
}

/// Runs `serve` on every connection to a fresh loopback listener, each in a thread.
fn spawn_server(serve: fn(TcpStream)) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream));
        }
    });
    Ok(addr)
}

fn echo(stream: TcpStream) {
    let Ok(mut ws) = blocking::accept(stream) else {
        return;
    };
    while let Ok(Some(message)) = ws.read() {
        let sent = match message {
            Message::Text(text) => ws.send_text(&text),
            Message::Binary(data) => ws.send_binary(&data),
            _ => Ok(()),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Completes the handshake, then never reads or writes again.
fn ignore_close(stream: TcpStream) {
    if let Ok(ws) = blocking::accept(stream) {
        thread::sleep(Duration::from_secs(5));
        drop(ws);
    }
}

fn check(ok: bool, what: &str) -> Result<(), Box<dyn Error>> {
    if ok { Ok(()) } else { Err(what.into()) }
}

fn run() -> Result<(), Box<dyn Error>> {
    let echo_addr = spawn_server(echo)?;
    let silent_addr = spawn_server(ignore_close)?;
    let soon = || Instant::now() + Duration::from_secs(5);

    let mut config = Config::default();
    config.keepalive = Keepalive::new(Duration::from_millis(200), Duration::from_secs(2));
    let mut client = Client::connect(echo_addr, config.clone())?;
    client.conn.send_text("hello")?;
    let echoed = client.next(soon())?;
    check(echoed == Some(Owned::Text("hello".into())), "no echo")?;
    println!("1. handshake and echo: {echoed:?}");

    let quiet = Instant::now() + Duration::from_secs(1);
    let mut pongs = 0;
    while Instant::now() < quiet {
        if let Some(event) = client.next(quiet)? {
            check(event == Owned::Pong, "only pongs while quiet")?;
            pongs += 1;
        }
    }
    check(pongs >= 3, "the core's keepalive pings were not answered")?;
    println!("2. a quiet second with a 200 ms keepalive: {pongs} pongs to the core's pings");

    client.conn.close(CloseCode::NORMAL, "bye")?;
    let answer = client.next(soon())?;
    check(
        answer == Some(Owned::Close(CloseCode::NORMAL)),
        "no close answer",
    )?;
    let after = client.next(soon())?;
    check(after.is_none() && client.conn.is_finished(), "not finished")?;
    check(client.teardown == [Teardown::EndOutput], "no EndOutput")?;
    println!(
        "3. clean close: {answer:?}, then the server ended TCP; the core said {:?}",
        client.teardown
    );

    let mut config = Config::default();
    config.keepalive = Keepalive::off();
    config.close_timeout = Duration::from_millis(300);
    let mut client = Client::connect(silent_addr, config)?;
    client.conn.close(CloseCode::NORMAL, "anyone there?")?;
    let started = Instant::now();
    let result = client.next(soon());
    let waited = started.elapsed();
    let timed_out = matches!(
        result
            .as_ref()
            .map_err(|e| e.downcast_ref::<TimeoutError>()),
        Err(Some(TimeoutError::CloseTimeout(_)))
    );
    check(timed_out, "no close timeout")?;
    check(client.teardown == [Teardown::Abort], "no Abort")?;
    check(
        waited < Duration::from_secs(2),
        "the close timeout came late",
    )?;
    println!(
        "4. a peer that ignores our close: {} after {waited:.0?}; the core said {:?}",
        result.err().map(|e| e.to_string()).unwrap_or_default(),
        client.teardown
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
