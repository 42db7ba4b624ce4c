//! An async echo server on tokio: one task per connection, every text and binary message
//! sent back as received, pings answered and the close handshake completed by the library.
//!
//! ```text
//! cargo run --release --example tokio_echo_server --features tokio -- 127.0.0.1:9002
//! ```
//! Then connect with `cargo run --example tokio_client --features tokio -- ws://127.0.0.1:9002/`.
//!
//! Over TLS (`wss://`), with a PEM certificate chain and its private key:
//! ```text
//! cargo run --example tokio_echo_server --features tokio,tls -- 127.0.0.1:9443 --cert C --key K
//! cargo run --example tokio_client --features tokio,tls -- wss://127.0.0.1:9443/ --ca CA
//! ```

use rfc6455::tokio::{self as ws, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// How connections are accepted: plain, or TLS with this configuration.
#[derive(Clone)]
enum Mode {
    Plain,
    #[cfg(feature = "tls")]
    Tls(std::sync::Arc<rfc6455::blocking::rustls::ServerConfig>),
}

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
    let listener = TcpListener::bind(&addr).await?;
    let scheme = if matches!(mode, Mode::Plain) {
        "ws"
    } else {
        "wss"
    };
    eprintln!(
        "tokio_echo_server: listening on {scheme}://{}/",
        listener.local_addr()?
    );
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(accept(stream, peer.to_string(), mode.clone()));
            }
            Err(e) => eprintln!("tokio_echo_server: accept failed: {e}"),
        }
    }
}

async fn accept(stream: TcpStream, peer: String, mode: Mode) {
    let _ = stream.set_nodelay(true);
    let failed = match mode {
        Mode::Plain => match ws::accept(stream).await {
            Ok(ws) => return serve(ws, &peer).await,
            Err(e) => e,
        },
        #[cfg(feature = "tls")]
        Mode::Tls(config) => match ws::accept_tls(stream, config).await {
            Ok(ws) => return serve(ws, &peer).await,
            Err(e) => e,
        },
    };
    eprintln!("tokio_echo_server: {peer}: handshake failed: {failed}");
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>, peer: &str) {
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

#[cfg(feature = "tls")]
fn tls_mode(cert: &str, key: &str) -> Result<Mode, Box<dyn std::error::Error>> {
    use rfc6455::blocking::rustls;
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
    Err("--cert and --key need TLS: run with `--features tokio,tls`".into())
}
