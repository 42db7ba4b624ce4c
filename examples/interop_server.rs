//! The server side of the interop tests (`scripts/interop.sh`): an echo server that also obeys
//! a few commands, so that another implementation's client can check closes, pings, fragments,
//! subprotocols and refusals against us.
//!
//! ```text
//! cargo run --release --example interop_server -- 127.0.0.1:9005
//! ```
//!
//! - `GET /reject` is refused with 403.
//! - Subprotocols: the first one the client offers among `chat` and `superchat` is selected.
//! - Text `!close CODE REASON`: closes with that code and reason.
//! - Text `!ping DATA`: pings with `DATA`, then sends `pong:DATA` when the pong arrives.
//! - Text `!frag`: sends [`FRAGMENTED`] repeated 1000 times (14 000 bytes) in 4 KiB fragments.
//! - Text `!protocol`: answers the selected subprotocol, or `none`.
//! - Text `!extensions`: answers `permessage-deflate` when it was negotiated (with the
//!   `deflate` feature and a client that offers it), or `none`.
//! - Text `!lastclose`: answers `CODE REASON` of the last close frame with a code other than
//!   1000 that any client sent.
//! - Any other message is echoed.

use std::net::{TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::thread;

use rfc6455::blocking::{Acceptor, Error, Message, Rejection, WebSocket};
use rfc6455::handshake::Accept;
use rfc6455::{CloseCode, Config};

/// The text `!frag` repeats; 14 bytes, so fragment boundaries split the check mark.
const FRAGMENTED: &str = "fragmented ✓ ";

/// The last close frame other than 1000 a client sent, for `!lastclose`.
static LAST_CLOSE: Mutex<String> = Mutex::new(String::new());

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
        .unwrap_or_else(|| "127.0.0.1:9005".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!(
        "interop_server: listening on ws://{}/",
        listener.local_addr()?
    );
    let mut config = Config::default();
    config.fragment_size = NonZeroUsize::new(4096).expect("not zero");
    let acceptor = Acceptor::new().config(config);
    for stream in listener.incoming() {
        let acceptor = acceptor.clone();
        match stream {
            Ok(stream) => {
                thread::spawn(move || serve(&acceptor, stream));
            }
            Err(e) => eprintln!("interop_server: accept failed: {e}"),
        }
    }
    Ok(())
}

fn serve(acceptor: &Acceptor, stream: TcpStream) {
    let ws = acceptor.accept_with(stream, |request| {
        if request.path() == "/reject" {
            return Err(Rejection::forbidden().body("rejected by interop_server\n"));
        }
        let chosen = request
            .protocols()
            .iter()
            .find(|p| *p == "chat" || *p == "superchat");
        Ok(chosen.map_or_else(Accept::new, |p| Accept::new().protocol(p)))
    });
    let result = ws.and_then(|mut ws| session(&mut ws));
    if let Err(e) = result {
        eprintln!("interop_server: {e}");
    }
}

fn session(ws: &mut WebSocket<TcpStream>) -> Result<(), Error> {
    let mut ping_sent: Option<Vec<u8>> = None;
    while let Some(message) = ws.read()? {
        match message {
            Message::Text(text) if text.starts_with('!') => {
                let (command, arg) = text.split_once(' ').unwrap_or((&text, ""));
                match command {
                    "!close" => {
                        let (code, reason) = arg.split_once(' ').unwrap_or((arg, ""));
                        let code = code.parse().map_or(CloseCode::NORMAL, CloseCode);
                        return ws.close(code, reason);
                    }
                    "!ping" => {
                        ws.send_ping(arg.as_bytes())?;
                        ping_sent = Some(arg.as_bytes().to_vec());
                    }
                    "!frag" => ws.send_text(&FRAGMENTED.repeat(1000))?,
                    "!protocol" => {
                        let protocol = ws.protocol().unwrap_or("none").to_owned();
                        ws.send_text(&protocol)?;
                    }
                    "!extensions" => match ws.connection().is_deflate_enabled() {
                        true => ws.send_text("permessage-deflate")?,
                        false => ws.send_text("none")?,
                    },
                    "!lastclose" => {
                        let last = LAST_CLOSE.lock().map(|s| s.clone()).unwrap_or_default();
                        ws.send_text(&last)?;
                    }
                    _ => ws.send_text(&text)?,
                }
            }
            Message::Text(text) => ws.send_text(&text)?,
            Message::Binary(data) => ws.send_binary(&data)?,
            Message::Pong(data) if ping_sent.as_ref() == Some(&data) => {
                ping_sent = None;
                ws.send_text(&format!("pong:{}", String::from_utf8_lossy(&data)))?;
            }
            Message::Close(code, reason) if code != CloseCode::NORMAL => {
                if let Ok(mut last) = LAST_CLOSE.lock() {
                    *last = format!("{code} {reason}");
                }
            }
            Message::Close(..) | Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    Ok(())
}
