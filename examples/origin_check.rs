//! Checking `Origin` ([RFC 6455 section 10.2](https://www.rfc-editor.org/rfc/rfc6455#section-10.2)):
//! a browser tells the server which site's page opens a WebSocket. Browsers send cookies with
//! the handshake whatever the page, so a server that trusts cookies must refuse foreign
//! origins, or any site its users visit can talk to it in their name (cross-site WebSocket
//! hijacking).
//!
//! ```text
//! cargo run --example origin_check                                          # demo
//! cargo run --example origin_check -- server 127.0.0.1:9006 http://localhost:8000
//! ```
//! The demo's server allows `http://localhost:8000` and refuses other origins with 403.
//! Programs other than browsers send no `Origin` (and could send any): they are let in here,
//! and need real credentials where that matters.

use std::net::TcpListener;
use std::thread;

use rfc6455::CloseCode;
use rfc6455::blocking::{self, ClientBuilder, Message, Rejection};
use rfc6455::handshake::{Accept, HandshakeError, ResponseError};

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("server") {
        let addr = args.get(1).map_or("127.0.0.1:9006", |a| a);
        let allowed = args
            .get(2)
            .cloned()
            .unwrap_or_else(|| "http://localhost:8000".into());
        server(TcpListener::bind(addr)?, allowed);
        return Ok(());
    }
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("ws://{}/", listener.local_addr()?);
    thread::spawn(move || server(listener, "http://localhost:8000".into()));
    for origin in [
        Some("http://localhost:8000"),
        Some("https://evil.example"),
        None,
    ] {
        let mut builder = ClientBuilder::new(&url);
        if let Some(origin) = origin {
            builder = builder.header("Origin", origin);
        }
        match builder.connect() {
            Ok(mut ws) => {
                ws.send_text("hello")?;
                println!("Origin {origin:?}: accepted, server says {:?}", ws.read()?);
                ws.close(CloseCode::NORMAL, "")?;
            }
            Err(blocking::Error::Handshake(HandshakeError::Response(
                ResponseError::Rejected { status, body, .. },
            ))) => {
                let body = String::from_utf8_lossy(&body);
                println!("Origin {origin:?}: refused with {status}: {}", body.trim());
                assert_eq!(status, 403);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn server(listener: TcpListener, allowed: String) {
    for stream in listener.incoming().flatten() {
        let allowed = allowed.clone();
        thread::spawn(move || {
            let ws = blocking::accept_with(stream, |request| match request.origin() {
                Some(origin) if origin != allowed => {
                    eprintln!("server: refusing Origin {origin}");
                    Err(Rejection::forbidden().body(format!("origin {origin} is not allowed\n")))
                }
                _ => Ok(Accept::new()),
            });
            if let Ok(mut ws) = ws {
                while let Ok(Some(message)) = ws.read() {
                    if let Message::Text(text) = message {
                        let _ = ws.send_text(&format!("welcome, you said {text:?}"));
                    }
                }
            }
        });
    }
}
