//! Subprotocol negotiation (`Sec-WebSocket-Protocol`,
//! [RFC 6455 section 1.9](https://www.rfc-editor.org/rfc/rfc6455#section-1.9)): the client
//! offers protocols in its order of preference, the server selects one it speaks, and each
//! side knows the choice before the first message.
//!
//! ```text
//! cargo run --example subprotocol                                           # demo: server + 3 clients
//! cargo run --example subprotocol -- server 127.0.0.1:9004
//! cargo run --example subprotocol -- client ws://127.0.0.1:9004/ superchat chat
//! ```
//! The server speaks `chat` (echoes) and `superchat` (echoes louder), takes the first of
//! the client's offers it speaks, and refuses a client that offers neither with 400.

use std::net::{TcpListener, TcpStream};
use std::thread;

use rfc6455::CloseCode;
use rfc6455::blocking::{self, ClientBuilder, Message, Rejection};
use rfc6455::handshake::Accept;

/// The protocols the server speaks.
const SUPPORTED: [&str; 2] = ["chat", "superchat"];

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("server") => server(TcpListener::bind(
            args.get(1).map_or("127.0.0.1:9004", |a| a),
        )?),
        Some("client") => {
            let url = args.get(1).ok_or("client needs a URL")?;
            let offer: Vec<&str> = args[2..].iter().map(String::as_str).collect();
            println!("{}", client(url, &offer)?);
        }
        _ => {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let url = format!("ws://{}/", listener.local_addr()?);
            thread::spawn(move || server(listener));
            for offer in [&["superchat", "chat"][..], &["chat"], &["mqtt"]] {
                println!("offer {offer:?}: {}", client(&url, offer)?);
            }
        }
    }
    Ok(())
}

fn server(listener: TcpListener) {
    for stream in listener.incoming().flatten() {
        thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("server: {e}");
            }
        });
    }
}

fn serve(stream: TcpStream) -> Result<(), blocking::Error> {
    let mut ws = blocking::accept_with(stream, |request| {
        let offered = request.protocols();
        match offered.iter().find(|p| SUPPORTED.contains(&p.as_str())) {
            Some(protocol) => Ok(Accept::new().protocol(protocol)),
            None => Err(Rejection::bad_request().body("offer chat or superchat\n")),
        }
    })?;
    let loud = ws.protocol() == Some("superchat");
    while let Some(message) = ws.read()? {
        if let Message::Text(text) = message {
            let reply = if loud {
                text.to_uppercase() + "!!"
            } else {
                text
            };
            ws.send_text(&reply)?;
        }
    }
    Ok(())
}

/// Connects offering `offer`, says hello, and describes what happened.
fn client(url: &str, offer: &[&str]) -> Result<String, blocking::Error> {
    let mut builder = ClientBuilder::new(url);
    for protocol in offer {
        builder = builder.protocol(*protocol);
    }
    let mut ws = match builder.connect() {
        Ok(ws) => ws,
        Err(e @ blocking::Error::Handshake(_)) => return Ok(format!("refused: {e}")),
        Err(e) => return Err(e),
    };
    let chosen = ws.protocol().unwrap_or("none").to_owned();
    ws.send_text("hello")?;
    let reply = ws.read()?;
    ws.close(CloseCode::NORMAL, "")?;
    Ok(format!("server chose {chosen:?}; it answered {reply:?}"))
}
