//! Binary messages: sends a file's bytes, in 1 MiB messages, to an echo server and checks
//! that every byte came back.
//!
//! ```text
//! cargo run --example binary                                  # demo: its own executable, to a server thread
//! cargo run --example binary -- ws://127.0.0.1:9002/ FILE     # to the echo_server example
//! ```

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::thread;
use std::time::Instant;

use rfc6455::CloseCode;
use rfc6455::blocking::{self, Message};

const CHUNK: usize = 1 << 20;

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, path) = match &args[..] {
        [url, path] => (url.clone(), path.into()),
        _ => (start_echo_server()?, std::env::current_exe()?),
    };
    let mut file = File::open(&path)?;
    let mut ws = blocking::connect(&url)?;
    let started = Instant::now();
    let (mut total, mut messages, mut hash) = (0, 0, Fnv1a::default());
    let mut chunk = vec![0; CHUNK];
    loop {
        let n = read_full(&mut file, &mut chunk)?;
        if n == 0 {
            break;
        }
        ws.send_binary(&chunk[..n])?;
        match ws.read()? {
            Some(Message::Binary(echo)) if echo == chunk[..n] => {}
            other => return Err(format!("bad echo at byte {total}: {other:?}").into()),
        }
        hash.update(&chunk[..n]);
        total += n;
        messages += 1;
    }
    ws.close(CloseCode::NORMAL, "done")?;
    println!(
        "{}: {total} bytes in {messages} binary messages, echoed intact in {:.2?} (FNV-1a {:016x})",
        path.display(),
        started.elapsed(),
        hash.0
    );
    Ok(())
}

/// Fills `buf` as far as the file allows; 0 at the end.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A checksum to print (64-bit FNV-1a).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The demo's server: echoes binary messages, on a free port.
fn start_echo_server() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("ws://{}/", listener.local_addr()?);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let Ok(mut ws) = blocking::accept(stream) else {
                continue;
            };
            while let Ok(Some(message)) = ws.read() {
                if let Message::Binary(data) = message
                    && ws.send_binary(&data).is_err()
                {
                    break;
                }
            }
        }
    });
    Ok(url)
}
