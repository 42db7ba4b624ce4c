//! An echo server: one thread per connection, every text and binary message sent back as
//! received, pings answered and the close handshake completed by the library.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:9002
//! ```
//! Then connect with `cargo run --example client -- ws://127.0.0.1:9002/`.
//!
//! Over TLS (`wss://`), with a PEM certificate chain and its private key:
//! ```text
//! cargo run --example echo_server --features tls -- 127.0.0.1:9443 --cert C --key K
//! cargo run --example client --features tls -- wss://127.0.0.1:9443/ --ca CA
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use rfc6455::blocking::{self, Message, WebSocket};

/// How connections are accepted: plain, or TLS with this configuration.
#[derive(Clone)]
enum Mode {
    Plain,
    #[cfg(feature = "tls")]
    Tls(std::sync::Arc<blocking::rustls::ServerConfig>),
}

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut addr = None;
    let (mut cert, mut key) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cert" => cert = Some(args.next().ok_or("--cert needs a file")?),
            "--key" => key = Some(args.next().ok_or("--key needs a file")?),
            _ if addr.is_none() => addr = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}").into()),
        }
    }
    let addr = addr.unwrap_or_else(|| "127.0.0.1:9002".into());
    let mode = match (cert, key) {
        (None, None) => Mode::Plain,
        (Some(cert), Some(key)) => tls_mode(&cert, &key)?,
        _ => return Err("--cert and --key go together".into()),
    };
    let listener = TcpListener::bind(&addr)?;
    let scheme = if matches!(mode, Mode::Plain) {
        "ws"
    } else {
        "wss"
    };
    eprintln!(
        "echo_server: listening on {scheme}://{}/",
        listener.local_addr()?
    );
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let mode = mode.clone();
                thread::spawn(move || accept(stream, mode));
            }
            Err(e) => eprintln!("echo_server: accept failed: {e}"),
        }
    }
    Ok(())
}

#[cfg(feature = "tls")]
fn tls_mode(cert: &str, key: &str) -> Result<Mode, Box<dyn std::error::Error>> {
    use blocking::rustls;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("{cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{key}: {e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    Ok(Mode::Tls(std::sync::Arc::new(config)))
}

#[cfg(not(feature = "tls"))]
fn tls_mode(_cert: &str, _key: &str) -> Result<Mode, Box<dyn std::error::Error>> {
    Err("--cert and --key need TLS: run with `--features tls`".into())
}

fn accept(stream: TcpStream, mode: Mode) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string());
    // `serve` borrows the connection where the handshake returned it: moving it out of the
    // `Result` would copy it, in a frame that sits above the handshake's own, and the
    // handshake's deepest point sets how many stack pages every connection thread keeps.
    match mode {
        Mode::Plain => serve(&mut blocking::accept(stream), &peer),
        #[cfg(feature = "tls")]
        Mode::Tls(config) => serve(&mut blocking::accept_tls(stream, config), &peer),
    }
}

// Not inlined into `accept`, whose frame is on the stack during the handshake.
#[inline(never)]
fn serve<S: Read + Write>(accepted: &mut Result<WebSocket<S>, blocking::Error>, peer: &str) {
    let ws = match accepted {
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
