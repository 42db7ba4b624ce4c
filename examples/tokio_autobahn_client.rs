//! The client side of the Autobahn TestSuite through the tokio adapter: walks the fuzzing
//! server's cases, echoing every message, then asks it to write its reports.
//!
//! ```text
//! wstest -m fuzzingserver -s spec.json   # listening on ws://127.0.0.1:9001
//! cargo run --release --example tokio_autobahn_client --features tokio -- ws://127.0.0.1:9001 rfc6455
//! ```

use rfc6455::Config;
use rfc6455::tokio::{self as ws, ClientBuilder, Message};

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
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
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = args.next().unwrap_or_else(|| "rfc6455".into());
    let base = base.trim_end_matches('/');

    let count = match ws::connect(&format!("{base}/getCaseCount"))
        .await?
        .read()
        .await?
    {
        Some(Message::Text(n)) => n.trim().parse::<u32>()?,
        other => return Err(format!("unexpected getCaseCount answer: {other:?}").into()),
    };
    eprintln!("tokio_autobahn_client: {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = run_case(&url).await {
            eprintln!("tokio_autobahn_client: case {case}: {e}");
        }
    }
    let mut ws = ws::connect(&format!("{base}/updateReports?agent={agent}")).await?;
    while ws.read().await?.is_some() {}
    eprintln!("tokio_autobahn_client: reports updated");
    Ok(())
}

async fn run_case(url: &str) -> Result<(), ws::Error> {
    let mut ws = ClientBuilder::new(url)
        .config(Config::default())
        .connect()
        .await?;
    while let Some(message) = ws.read().await? {
        match message {
            Message::Text(text) => ws.send_text(&text).await?,
            Message::Binary(data) => ws.send_binary(&data).await?,
            _ => {}
        }
    }
    Ok(())
}
