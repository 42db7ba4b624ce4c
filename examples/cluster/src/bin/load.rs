//! A load generator for the chat nodes: many WebSocket clients (rfc6455's tokio client) spread
//! over one or more nodes, a steady rate of messages from them, and the delivery latency of
//! every message to every other client, split by whether it crossed nodes.
//!
//! ```text
//! cd examples/cluster
//! cargo run --release --bin chat-load -- --nodes ws://127.0.0.1:8081/ws,ws://127.0.0.1:8082/ws \
//!     --clients 500 --rate 50 --secs 10
//! ```
//! or `bash scripts/cluster.sh --load`, which starts Redis and the nodes and runs it with two
//! nodes, then with one.
//!
//! Client `i` connects to node `i % nodes` as `load-i`. Every `1/rate` s one client (in turn)
//! sends `t=MICROS;s=i`, the time on this process's clock; each receiver subtracts it from
//! the time it reads the message. The clients all live in this process, so its clock is the
//! one clock; on a shared machine the load tool's own work is part of the figures.

use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rfc6455::tokio::{self as ws, MaybeTlsStream, Message, Reader, Writer};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Clients connected at once.
const WAVE: usize = 20;
/// The pause between two waves.
const WAVE_PAUSE: Duration = Duration::from_millis(50);

/// What stops the load run.
#[derive(Debug)]
enum LoadError {
    /// The command line is wrong.
    Usage(String),
    /// A client could not connect or send.
    WebSocket(usize, ws::Error),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Usage(e) => write!(
                f,
                "{e}\nusage: chat-load --nodes URL[,URL...] [--clients N] [--rate MSGS_PER_S] [--secs S]"
            ),
            LoadError::WebSocket(i, e) => write!(f, "client {i}: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The command line.
struct Options {
    nodes: Vec<String>,
    clients: usize,
    rate: f64,
    secs: f64,
}

/// Parses the command line.
fn options() -> Result<Options, LoadError> {
    let mut options = Options {
        nodes: Vec::new(),
        clients: 500,
        rate: 50.0,
        secs: 10.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| LoadError::Usage(format!("{arg} needs a value")))?;
        let number = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|n| *n > 0.0)
                .ok_or_else(|| LoadError::Usage(format!("{arg}: {v:?} is not a positive number")))
        };
        match arg.as_str() {
            "--nodes" => options.nodes = value.split(',').map(str::to_owned).collect(),
            "--clients" => options.clients = number(&value)? as usize,
            "--rate" => options.rate = number(&value)?,
            "--secs" => options.secs = number(&value)?,
            _ => return Err(LoadError::Usage(format!("unexpected argument {arg:?}"))),
        }
    }
    if options.nodes.is_empty() || options.clients < 2 {
        return Err(LoadError::Usage(
            "--nodes and at least 2 clients are needed".into(),
        ));
    }
    Ok(options)
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// Latencies in microseconds of messages from clients on another node.
    cross: Vec<u32>,
    /// Latencies of messages from clients on the same node.
    same: Vec<u32>,
    /// The close code, if the node closed the connection.
    closed: Option<u16>,
}

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Connects the clients, sends for the run's duration, collects and reports.
async fn run() -> Result<(), LoadError> {
    let options = options()?;
    let n = options.nodes.len();
    let origin = Instant::now();
    let (stop, stopped) = watch::channel(false);
    let mut writers = Vec::with_capacity(options.clients);
    let mut readers = JoinSet::new();
    let connecting = Instant::now();
    // Connect in small waves, so that the join storm does not overrun anyone's queue (the
    // node would drop that client with 1013, as it drops any client that cannot keep up).
    for wave in (0..options.clients).collect::<Vec<_>>().chunks(WAVE) {
        let mut set = JoinSet::new();
        for &i in wave {
            let url = format!("{}?nick=load-{i}", options.nodes[i % n]);
            set.spawn(async move { (i, ws::connect(&url).await) });
        }
        let mut connected = Vec::new();
        while let Some(joined) = set.join_next().await {
            let Ok((i, result)) = joined else { continue };
            let socket = result.map_err(|e| LoadError::WebSocket(i, e))?;
            connected.push((i, socket));
        }
        connected.sort_by_key(|(i, _)| *i);
        for (i, socket) in connected {
            let (reader, writer) = socket.into_split();
            writers.push((i, writer));
            readers.spawn(read(reader, i, n, origin, stopped.clone()));
        }
        tokio::time::sleep(WAVE_PAUSE).await;
    }
    eprintln!(
        "chat-load: {} clients on {n} node(s) in {:.1} s",
        options.clients,
        connecting.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await; // joins and presence settle
    let sent = send(&mut writers, options.rate, options.secs, origin).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // the last messages arrive
    let _ = stop.send(true);
    let mut seen = Seen::default();
    let mut closed = Vec::new();
    while let Some(joined) = readers.join_next().await {
        if let Ok(client) = joined {
            seen.cross.extend(client.cross);
            seen.same.extend(client.same);
            closed.extend(client.closed);
        }
    }
    report(&options, sent, &mut seen, &closed);
    for (_, mut writer) in writers {
        let _ = writer.close(rfc6455::CloseCode::NORMAL, "done").await;
    }
    Ok(())
}

/// Sends `rate` messages a second for `secs`, from each client in turn. Returns how many
/// were sent; a client the node closed is skipped (and reported by its reader).
async fn send(
    writers: &mut [(usize, Writer<MaybeTlsStream>)],
    rate: f64,
    secs: f64,
    origin: Instant,
) -> u64 {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = (rate * secs).round() as u64;
    let (mut sent, mut refused) = (0, 0);
    for k in 0..total {
        tick.tick().await;
        let slot = usize::try_from(k).unwrap_or(0) % writers.len();
        let (i, writer) = &mut writers[slot];
        let text = format!("t={};s={i}", origin.elapsed().as_micros());
        match writer.send_text(&text).await {
            Ok(()) => sent += 1,
            Err(e) => {
                if refused == 0 {
                    eprintln!("chat-load: client {i}: {e} (and further refusals are only counted)");
                }
                refused += 1;
            }
        }
    }
    if refused > 0 {
        eprintln!("chat-load: {refused} sends refused by closed clients");
    }
    sent
}

/// Client `me`'s reading task: records the latency of every load message until `stop`.
async fn read(
    mut reader: Reader<MaybeTlsStream>,
    me: usize,
    nodes: usize,
    origin: Instant,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let mut seen = Seen::default();
    loop {
        let message = tokio::select! {
            message = reader.read() => message,
            _ = stop.changed() => return seen,
        };
        match message {
            Ok(Some(Message::Text(text))) => {
                let Some((sent_at, sender)) = parse(&text) else {
                    continue; // a join, a leave, the online list
                };
                let now = origin.elapsed().as_micros();
                let micros = u32::try_from(now.saturating_sub(sent_at)).unwrap_or(u32::MAX);
                if sender % nodes == me % nodes {
                    seen.same.push(micros);
                } else {
                    seen.cross.push(micros);
                }
            }
            Ok(Some(Message::Close(code, _))) => seen.closed = Some(code.0),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return seen,
        }
    }
}

/// The sending time and sender of a load message: `..."text":"t=MICROS;s=I"}`.
fn parse(event: &str) -> Option<(u128, usize)> {
    if !event.starts_with(r#"{"type":"message""#) {
        return None;
    }
    let rest = &event[event.find(r#""text":"t="#)? + 10..];
    let (micros, rest) = rest.split_once(";s=")?;
    let sender = rest.strip_suffix("\"}")?;
    Some((micros.parse().ok()?, sender.parse().ok()?))
}

/// The `q` quantile of sorted latencies, in milliseconds.
fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

/// Prints the run's figures.
fn report(options: &Options, sent: u64, seen: &mut Seen, closed: &[u16]) {
    let expected = sent * (options.clients as u64 - 1);
    let delivered = (seen.cross.len() + seen.same.len()) as u64;
    println!(
        "{} clients on {} node(s), {} msg/s for {} s: {sent} sent, {delivered} of {expected} deliveries ({:.2} %), {:.0} deliveries/s",
        options.clients,
        options.nodes.len(),
        options.rate,
        options.secs,
        100.0 * delivered as f64 / expected.max(1) as f64,
        delivered as f64 / options.secs
    );
    for (name, latencies) in [
        ("cross-node", &mut seen.cross),
        ("same-node", &mut seen.same),
    ] {
        if latencies.is_empty() {
            continue;
        }
        latencies.sort_unstable();
        println!(
            "  {name:<10} latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} deliveries)",
            quantile(latencies, 0.5),
            quantile(latencies, 0.99),
            quantile(latencies, 1.0),
            latencies.len()
        );
    }
    if !closed.is_empty() {
        let mut codes = std::collections::BTreeMap::new();
        for code in closed {
            *codes.entry(code).or_insert(0) += 1;
        }
        let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{n} x {c}")).collect();
        println!(
            "  {} client(s) closed by the node: {}",
            closed.len(),
            codes.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_load_messages_only() {
        assert_eq!(
            parse(r#"{"type":"message","nick":"load-3","text":"t=1234;s=3"}"#),
            Some((1234, 3))
        );
        assert_eq!(parse(r#"{"type":"join","nick":"load-3","text":""}"#), None);
        assert_eq!(
            parse(r#"{"type":"message","nick":"x","text":"hello"}"#),
            None
        );
    }
}
