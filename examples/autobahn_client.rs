//! The client side of the Autobahn TestSuite: walks the fuzzing server's cases, echoing every
//! message, then asks it to write its reports.
//!
//! ```text
//! wstest -m fuzzingserver -s spec.json   # listening on ws://127.0.0.1:9001
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001 rfc6455
//! ```

use rfc6455::Config;
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
    let base = args.next().unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let agent = args.next().unwrap_or_else(|| "rfc6455".into());
    let base = base.trim_end_matches('/');

    let count = match blocking::connect(&format!("{base}/getCaseCount"))?.read()? {
        Some(Message::Text(n)) => n.trim().parse::<u32>()?,
        other => return Err(format!("unexpected getCaseCount answer: {other:?}").into()),
    };
    eprintln!("autobahn_client: {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = run_case(&url) {
            eprintln!("autobahn_client: case {case}: {e}");
        }
    }
    let mut ws = blocking::connect(&format!("{base}/updateReports?agent={agent}"))?;
    while ws.read()?.is_some() {}
    eprintln!("autobahn_client: reports updated");
    Ok(())
}

fn run_case(url: &str) -> Result<(), blocking::Error> {
    let mut ws = ClientBuilder::new(url)
        .config(Config::default())
        .connect()?;
    while let Some(message) = ws.read()? {
        match message {
            Message::Text(text) => ws.send_text(&text)?,
            Message::Binary(data) => ws.send_binary(&data)?,
            _ => {}
        }
    }
    Ok(())
}
