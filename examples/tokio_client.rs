//! A line client on tokio: lines from stdin go out as text messages, messages in are
//! printed; the reading and writing halves run as two tasks. End stdin (Ctrl-D) to close.
//!
//! ```text
//! cargo run --example tokio_client --features tokio -- ws://127.0.0.1:9002/
//! ```
//! `wss://` URLs need the `tls` feature as well; `--ca` trusts a private CA (a PEM file)
//! instead of Mozilla's roots:
//! ```text
//! cargo run --example tokio_client --features tokio,tls -- wss://127.0.0.1:9443/ --ca ca.pem
//! ```

use rfc6455::CloseCode;
use rfc6455::tokio::{self as ws, ClientBuilder, Message};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
    let mut url = None;
    let mut ca = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => ca = Some(args.next().ok_or("--ca needs a file")?),
            _ if url.is_none() => url = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}").into()),
        }
    }
    let url = url.unwrap_or_else(|| "ws://127.0.0.1:9002/".into());
    let mut builder = ClientBuilder::new(url.as_str());
    if let Some(ca) = ca {
        builder = trust(builder, &ca)?;
    }
    let ws = builder.connect().await?;
    eprintln!("tokio_client: connected to {url}; type lines, Ctrl-D to close");
    let (mut reader, mut writer) = ws.into_split();
    let printer = tokio::spawn(async move {
        while let Some(message) = reader.read().await? {
            match message {
                Message::Text(text) => println!("< {text}"),
                Message::Binary(data) => println!("< [{} bytes]", data.len()),
                Message::Close(code, reason) => {
                    eprintln!("tokio_client: closed: {code} {reason:?}")
                }
                _ => {}
            }
        }
        Ok::<(), ws::Error>(())
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        if printer.is_finished() {
            break;
        }
        writer.send_text(&line).await?;
    }
    writer.close(CloseCode::NORMAL, "bye").await?;
    printer.await??;
    Ok(())
}

/// Trusts the CA certificates in the PEM file `ca` (and only them).
#[cfg(feature = "tls")]
fn trust(builder: ClientBuilder, ca: &str) -> Result<ClientBuilder, Box<dyn std::error::Error>> {
    use rfc6455::blocking::rustls;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{ca}: {e}"))? {
        roots.add(cert.map_err(|e| format!("{ca}: {e}"))?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(builder.tls_config(std::sync::Arc::new(config)))
}

#[cfg(not(feature = "tls"))]
fn trust(_: ClientBuilder, _: &str) -> Result<ClientBuilder, Box<dyn std::error::Error>> {
    Err("--ca needs TLS: run with `--features tokio,tls`".into())
}
