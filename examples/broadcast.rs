//! A broadcast server: every message from any client goes to every connected client, the
//! sender included.
//!
//! ```text
//! cargo run --release --example broadcast -- 127.0.0.1:9003
//! ```
//! Then, in two or more terminals: `cargo run --example client -- ws://127.0.0.1:9003/`.
//!
//! Each connection is split into a [`Reader`], kept by its thread, and a [`Writer`], which is
//! cloneable and thread-safe: the room is simply a list of writers. Sends wait for each
//! client in turn, bounded by the write timeout; a client whose send fails is removed. For a
//! room where a slow client never holds up the others, see the chat example's queues.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use rfc6455::blocking::{self, Acceptor, Message, Reader, Writer};

type Clients = Arc<Mutex<Vec<(u64, Writer)>>>;

fn lock(clients: &Clients) -> MutexGuard<'_, Vec<(u64, Writer)>> {
    clients
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("broadcast: listening on ws://{}/", listener.local_addr()?);
    let acceptor = Acceptor::new().write_timeout(Duration::from_secs(5));
    let clients = Clients::default();
    for stream in listener.incoming() {
        let (acceptor, clients) = (acceptor.clone(), Arc::clone(&clients));
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(e) = serve(stream, &acceptor, &clients) {
                        eprintln!("broadcast: {e}");
                    }
                });
            }
            Err(e) => eprintln!("broadcast: accept failed: {e}"),
        }
    }
    Ok(())
}

fn serve(stream: TcpStream, acceptor: &Acceptor, clients: &Clients) -> Result<(), blocking::Error> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (mut reader, writer) = acceptor.accept(stream)?.split()?;
    let count = {
        let mut clients = lock(clients);
        clients.push((id, writer.clone()));
        clients.len()
    };
    writer.send_text(&format!("welcome: {count} connected"))?;
    let result = relay(&mut reader, clients);
    lock(clients).retain(|(other, _)| *other != id);
    result
}

/// Sends every text and binary message `reader` receives to all clients.
fn relay(reader: &mut Reader, clients: &Clients) -> Result<(), blocking::Error> {
    while let Some(message) = reader.read()? {
        if !matches!(message, Message::Text(_) | Message::Binary(_)) {
            continue; // pings are answered and closes completed by the library
        }
        // Send without holding the lock, so that clients can join and leave meanwhile.
        let writers: Vec<(u64, Writer)> = lock(clients).clone();
        for (id, writer) in writers {
            if let Err(e) = writer.send(&message) {
                eprintln!("broadcast: client {id} removed: {e}");
                lock(clients).retain(|(other, _)| *other != id);
            }
        }
    }
    Ok(())
}
