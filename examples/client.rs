//! A line client: each line of standard input goes out as a text message, every message
//! received is printed, and end of input closes the connection cleanly.
//!
//! ```text
//! cargo run --example client -- ws://127.0.0.1:9002/
//! ```

use std::io::BufRead;
use std::thread;

use rfc6455::CloseCode;
use rfc6455::blocking::{self, Message};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9002/".into());
    let ws = blocking::connect(&url)?;
    eprintln!("client: connected to {url}");
    let (mut reader, writer) = ws.split()?;
    let printer = thread::spawn(move || -> Result<(), blocking::Error> {
        while let Some(message) = reader.read()? {
            match message {
                Message::Text(text) => println!("{text}"),
                Message::Binary(data) => println!("<{} bytes of binary>", data.len()),
                Message::Close(code, reason) => {
                    eprintln!("client: server closed: {code} {reason:?}")
                }
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
        Ok(())
    });
    for line in std::io::stdin().lock().lines() {
        writer.send_text(&line?)?;
    }
    writer.close(CloseCode::NORMAL, "end of input")?;
    printer.join().map_err(|_| "reader thread panicked")??;
    Ok(())
}
