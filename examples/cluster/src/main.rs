//! One node of the chat room on several servers: the page at `/`, the WebSocket at `/ws`
//! (rfc6455's tokio adapter), `/status` for scripts, and a Redis pub/sub backplane that joins
//! this node's room to the other nodes'.
//!
//! ```text
//! cd examples/cluster
//! cargo run --release --bin chat-node -- 127.0.0.1:8081 --node a --redis redis://127.0.0.1:6379/
//! cargo run --release --bin chat-node -- 127.0.0.1:8082 --node b --redis redis://127.0.0.1:6379/
//! ```
//! or everything at once, with nginx in front: `bash scripts/cluster.sh --serve`.
//!
//! - Routing: the request line is read with `peek`, so the bytes stay in the socket; a
//!   request for `/ws` goes to [`Acceptor::accept_with`] untouched.
//! - The room ([`room`]): a bounded queue per client; a client whose queue is full is dropped
//!   with close code 1013 while the room goes on. A message over 64 KiB is refused by the
//!   core with close code 1009 (`Config::max_message_size`).
//! - The bus ([`bus`]): every join, message and leave is published to Redis; other nodes'
//!   events are delivered here; presence by heartbeats that expire. Without Redis (down at
//!   start or later) the node serves its local room and rejoins the bus when Redis is back.

mod bus;
mod http;
mod room;

use std::fmt;
use std::io;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rfc6455::handshake::Accept;
use rfc6455::tokio::{Acceptor, Message, Reader, Rejection, Writer};
use rfc6455::{CloseCode, Config, Keepalive};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use room::{QUEUE_LEN, Room, Text};

/// The largest chat message accepted; a larger one is closed with 1009.
const MAX_MESSAGE: usize = 64 * 1024;
/// Events waiting for the bus task at most; more are lost for the other nodes.
const BUS_QUEUE: usize = 4096;

/// What stops a node or one of its connections.
#[derive(Debug)]
enum NodeError {
    /// The command line is wrong.
    Usage(String),
    /// The listening socket or a plain HTTP exchange failed.
    Io(io::Error),
    /// A WebSocket handshake or connection failed.
    WebSocket(rfc6455::tokio::Error),
    /// The Redis URL is not valid.
    Redis(redis::RedisError),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::Usage(e) => write!(f, "{e}\n{USAGE}"),
            NodeError::Io(e) => write!(f, "{e}"),
            NodeError::WebSocket(e) => write!(f, "{e}"),
            NodeError::Redis(e) => write!(f, "Redis: {e}"),
        }
    }
}

impl std::error::Error for NodeError {}

impl From<io::Error> for NodeError {
    fn from(e: io::Error) -> NodeError {
        NodeError::Io(e)
    }
}

impl From<rfc6455::tokio::Error> for NodeError {
    fn from(e: rfc6455::tokio::Error) -> NodeError {
        NodeError::WebSocket(e)
    }
}

/// How to call the node.
const USAGE: &str = "usage: chat-node ADDR --node NAME [--redis redis://HOST:PORT/]";

/// The command line.
struct Options {
    addr: String,
    node: String,
    redis: Option<String>,
}

/// Parses the command line.
fn options() -> Result<Options, NodeError> {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut node, mut redis) = (None, None, None);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| NodeError::Usage(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--node" => node = Some(value("--node")?),
            "--redis" => redis = Some(value("--redis")?),
            _ if addr.is_none() && !arg.starts_with('-') => addr = Some(arg),
            _ => return Err(NodeError::Usage(format!("unexpected argument {arg:?}"))),
        }
    }
    let node = node.ok_or_else(|| NodeError::Usage("--node NAME is required".into()))?;
    if node.is_empty() || node.contains(char::is_whitespace) {
        return Err(NodeError::Usage(format!("bad node name {node:?}")));
    }
    Ok(Options {
        addr: addr.unwrap_or_else(|| "127.0.0.1:8080".into()),
        node,
        redis,
    })
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

/// Starts the bus task, then accepts connections until the process is stopped.
async fn run() -> Result<(), NodeError> {
    let options = options()?;
    let (bus, outgoing) = mpsc::channel(BUS_QUEUE);
    let room = Arc::new(Room::new(options.node.clone(), bus));
    match &options.redis {
        Some(url) => {
            let client = redis::Client::open(url.as_str()).map_err(NodeError::Redis)?;
            tokio::spawn(bus::run(Arc::clone(&room), client, outgoing));
        }
        None => eprintln!(
            "node {}: no --redis: a room on this node only",
            options.node
        ),
    }
    let listener = TcpListener::bind(&options.addr).await?;
    eprintln!(
        "node {}: open http://{}/ in a browser",
        options.node,
        listener.local_addr()?
    );
    let mut config = Config::default();
    config.max_message_size = MAX_MESSAGE;
    config.max_frame_size = MAX_MESSAGE;
    let acceptor = Arc::new(
        Acceptor::new()
            .config(config)
            .write_timeout(Duration::from_secs(10))
            .keepalive(Keepalive::new(
                Duration::from_secs(20),
                Duration::from_secs(60),
            )),
    );
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let (room, acceptor) = (Arc::clone(&room), Arc::clone(&acceptor));
                tokio::spawn(async move {
                    if let Err(e) = handle(stream, &room, &acceptor).await {
                        eprintln!("node {}: {e}", room.node());
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                eprintln!("node {}: accept failed: {e}", options.node);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One TCP connection: the WebSocket at `/ws`, plain HTTP otherwise.
async fn handle(stream: TcpStream, room: &Room, acceptor: &Acceptor) -> Result<(), NodeError> {
    let _ = stream.set_nodelay(true);
    let Some(target) = http::peek_request_target(&stream).await? else {
        return Ok(()); // a browser's spare connection, closed unused
    };
    if target == "/ws" || target.starts_with("/ws?") {
        join(stream, room, acceptor).await
    } else {
        Ok(http::serve(stream, &target, room).await?)
    }
}

/// The next member id on this node.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A WebSocket client joins the room: this task reads, a second one writes.
async fn join(stream: TcpStream, room: &Room, acceptor: &Acceptor) -> Result<(), NodeError> {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut nick = format!("guest-{id}");
    let ws = acceptor
        .accept_with(stream, |request| {
            // A page from another site must not use its visitor's browser to join.
            let host = request.header("Host").unwrap_or_default();
            if let Some(origin) = request.origin()
                && origin != format!("http://{host}")
                && origin != format!("https://{host}")
            {
                return Err(Rejection::forbidden().body("cross-origin request refused\n"));
            }
            let query = request.query().unwrap_or_default();
            if let Some(name) = query.split('&').find_map(|kv| kv.strip_prefix("nick=")) {
                let name = http::percent_decode(name);
                let name: String = name.trim().chars().take(24).collect();
                if !name.is_empty() {
                    nick = name;
                }
            }
            Ok(Accept::new())
        })
        .await?;
    let (reader, writer) = ws.into_split();
    let (queue, outbox) = mpsc::channel(QUEUE_LEN);
    let delivering = tokio::spawn(deliver(writer, outbox));
    eprintln!("node {}: {nick} joined", room.node());
    room.join(id, &nick, queue);
    let result = read_loop(reader, room, id).await;
    room.leave(id);
    eprintln!("node {}: {nick} left", room.node());
    let _ = delivering.await;
    result
}

/// Reads the client's messages into the room until it leaves. The reader is dropped on
/// return, which tells the writer task that the client is gone.
async fn read_loop(mut reader: Reader<TcpStream>, room: &Room, id: u64) -> Result<(), NodeError> {
    loop {
        match reader.read().await? {
            Some(Message::Text(text)) => room.say(id, &text),
            Some(_) => {} // binary, ping, pong, close: nothing to tell the room
            None => return Ok(()),
        }
    }
}

/// The writer task: sends what the room queued, until the room lets go of the client. If
/// the reader still runs then, the room dropped the client for being too slow: close 1013.
async fn deliver(mut writer: Writer<TcpStream>, mut outbox: mpsc::Receiver<Text>) {
    while let Some(text) = outbox.recv().await {
        if writer.send_text(&text).await.is_err() {
            return; // failed or timed out; the reader ends too once the socket does
        }
    }
    if writer.is_reader_alive() {
        let _ = writer
            .close(
                CloseCode::TRY_AGAIN_LATER,
                "too slow: dropped from the room",
            )
            .await;
    }
}
