//! A line client: each line of standard input goes out as a text message, every message
//! received is printed, and end of input closes the connection cleanly.
//!
//! ```text
//! cargo run --example client -- ws://127.0.0.1:9002/
//! ```
//!
//! `wss://` URLs need the `tls` feature; `--ca` trusts a private CA (a PEM file) instead of
//! Mozilla's roots:
//! ```text
//! cargo run --example client --features tls -- wss://127.0.0.1:9443/ --ca ca.pem
//! ```
//!
//! Behind a proxy, set the usual variables; nothing else changes:
//! ```text
//! HTTPS_PROXY=http://user:pass@proxy.corp:3128 cargo run --example client --features tls -- wss://example.com/
//! ALL_PROXY=socks5h://127.0.0.1:1080 NO_PROXY=localhost cargo run --example client -- ws://example.com/
//! ```

use std::io::BufRead;
use std::thread;

use rfc6455::CloseCode;
use rfc6455::blocking::{self, ClientBuilder, Message};

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
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
    let ws = builder.connect()?;
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

/// Trusts the CA certificates in the PEM file `ca` (and only them).
#[cfg(feature = "tls")]
fn trust(builder: ClientBuilder, ca: &str) -> Result<ClientBuilder, Box<dyn std::error::Error>> {
    use blocking::rustls;
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
    Err("--ca needs TLS: run with `--features tls`".into())
}
