//! An async echo server on tokio: one task per connection, every text and binary message
//! sent back as received, pings answered and the close handshake completed by the library.
//!
//! ```text
//! cargo run --release --example tokio_echo_server --features tokio -- 127.0.0.1:9002
//! ```
//! Then connect with `cargo run --example tokio_client --features tokio -- ws://127.0.0.1:9002/`.

use rfc6455::tokio::{self as ws, Message};
use tokio::net::{TcpListener, TcpStream};

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9002".into());
    if let Some(extra) = args.next() {
        return Err(format!("unexpected argument {extra:?}").into());
    }
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "tokio_echo_server: listening on ws://{}/",
        listener.local_addr()?
    );
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(serve(stream, peer.to_string()));
            }
            Err(e) => eprintln!("tokio_echo_server: accept failed: {e}"),
        }
    }
}

async fn serve(stream: TcpStream, peer: String) {
    let _ = stream.set_nodelay(true);
    let mut ws = match ws::accept(stream).await {
        Ok(ws) => ws,
        Err(e) => return eprintln!("tokio_echo_server: {peer}: handshake failed: {e}"),
    };
    loop {
        let sent = match ws.read().await {
            Ok(Some(Message::Text(text))) => ws.send_text(&text).await,
            Ok(Some(Message::Binary(data))) => ws.send_binary(&data).await,
            Ok(Some(Message::Close(code, reason))) => {
                eprintln!("tokio_echo_server: {peer}: closed by peer: {code} {reason:?}");
                Ok(())
            }
            Ok(Some(_)) => Ok(()), // ping (already answered) or pong
            Ok(None) => return,
            Err(e) => return eprintln!("tokio_echo_server: {peer}: {e}"),
        };
        if let Err(e) = sent {
            return eprintln!("tokio_echo_server: {peer}: {e}");
        }
    }
}
