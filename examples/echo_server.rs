//! An echo server: one thread per connection, every text and binary message sent back as
//! received, pings answered and the close handshake completed by the library.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:9002
//! ```
//! Then connect with `cargo run --example client -- ws://127.0.0.1:9002/`.

use std::net::{TcpListener, TcpStream};
use std::thread;

use rfc6455::blocking::{self, Message};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo_server: listening on ws://{}/", listener.local_addr()?);
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || serve(stream));
            }
            Err(e) => eprintln!("echo_server: accept failed: {e}"),
        }
    }
    Ok(())
}

fn serve(stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    let mut ws = match blocking::accept(stream) {
        Ok(ws) => ws,
        Err(e) => return eprintln!("echo_server: {peer}: handshake failed: {e}"),
    };
    loop {
        let sent = match ws.read() {
            Ok(Some(Message::Text(text))) => ws.send_text(&text),
            Ok(Some(Message::Binary(data))) => ws.send_binary(&data),
            Ok(Some(Message::Close(code, reason))) => {
                eprintln!("echo_server: {peer}: closed by peer: {code} {reason:?}");
                Ok(())
            }
            Ok(Some(_)) => Ok(()), // ping (already answered) or pong
            Ok(None) => return,
            Err(e) => return eprintln!("echo_server: {peer}: {e}"),
        };
        if let Err(e) = sent {
            return eprintln!("echo_server: {peer}: {e}");
        }
    }
}
