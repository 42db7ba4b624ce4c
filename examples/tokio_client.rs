//! A line client on tokio: lines from stdin go out as text messages, messages in are
//! printed; the reading and writing halves run as two tasks. End stdin (Ctrl-D) to close.
//!
//! ```text
//! cargo run --example tokio_client --features tokio -- ws://127.0.0.1:9002/
//! ```

use rfc6455::CloseCode;
use rfc6455::tokio::{self as ws, Message};
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
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9002/".into());
    let ws = ws::connect(&url).await?;
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
