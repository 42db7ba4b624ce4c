//! The bus: one task per node that holds two Redis connections, a subscription to the room's
//! channel and a connection for `PUBLISH` and the heartbeat.
//!
//! - Every event this node publishes is `node\nevent`; events whose node is this one are not
//!   delivered again (the local members already had them).
//! - Presence: every [`HEARTBEAT`] the node writes its members' nicknames to
//!   `chat:node:{name}` with a time to live of [`EXPIRY`], adds its name to the set
//!   `chat:nodes`, and reads every other node's key. A node that died stops refreshing its key;
//!   Redis drops it within [`EXPIRY`], and the other nodes announce its members as gone.
//! - Redis down, at start or later: the node logs it, serves its local room, and tries again
//!   with exponential backoff and jitter. Pub/sub is at-most-once: what was published while a
//!   node was away from Redis is never replayed to it, and what it produced meanwhile never
//!   reaches the others.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout};

use crate::room::{Room, Text, json_list, parse_list};

/// The pub/sub channel of the room.
pub const CHANNEL: &str = "chat:room";
/// How often a node refreshes its presence and reads the others'.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a node's presence outlives its last heartbeat.
pub const EXPIRY: Duration = Duration::from_secs(5);
/// The longest a Redis command may take before the connection counts as lost.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// The first and the longest wait between two attempts to reach Redis.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(3));
/// Events published in one pipeline at most.
const BATCH: usize = 256;

/// Why the node lost (or never had) the bus.
#[derive(Debug)]
pub enum BusError {
    /// A Redis command or connection failed.
    Redis(redis::RedisError),
    /// A Redis command took longer than `COMMAND_TIMEOUT`.
    Timeout(&'static str),
    /// The subscription's stream ended: Redis closed the connection.
    SubscriptionEnded,
}

impl fmt::Display for BusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusError::Redis(e) => write!(f, "{e}"),
            BusError::Timeout(what) => write!(f, "{what} timed out"),
            BusError::SubscriptionEnded => f.write_str("the subscription ended"),
        }
    }
}

impl std::error::Error for BusError {}

impl From<redis::RedisError> for BusError {
    fn from(e: redis::RedisError) -> BusError {
        BusError::Redis(e)
    }
}

/// Runs `what` within [`COMMAND_TIMEOUT`].
async fn within<T>(
    what: &'static str,
    future: impl Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, BusError> {
    match timeout(COMMAND_TIMEOUT, future).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(BusError::Timeout(what)),
    }
}

/// The bus task: connects, runs a session until Redis goes away, waits, connects again.
/// Returns only when the room's sending side is gone.
pub async fn run(room: Arc<Room>, client: redis::Client, mut outgoing: mpsc::Receiver<Text>) {
    let mut backoff = BACKOFF.0;
    let mut first = true;
    loop {
        let result = session(&room, &client, &mut outgoing).await;
        let lost = room.is_bus_up(); // this session had reached the bus
        room.set_bus_up(false);
        match result {
            Ok(()) => return,
            // Logged when the bus is lost, or not there at start; not at every retry.
            Err(e) if lost || first => eprintln!(
                "node {}: Redis unreachable ({e}); serving the local room, retrying",
                room.node()
            ),
            Err(_) => {}
        }
        first = false;
        if lost {
            backoff = BACKOFF.0; // a new outage: start the backoff again
        }
        // Jitter over the upper half: nodes that lost Redis together do not retry together.
        let wait = backoff.mul_f64(0.5 + jitter_unit() / 2.0);
        let until = Instant::now() + wait;
        while Instant::now() < until {
            room.expire_remote(EXPIRY);
            sleep(HEARTBEAT.min(until - Instant::now())).await;
        }
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// One connected stretch: subscribe, publish, heartbeat, until something fails.
async fn session(
    room: &Room,
    client: &redis::Client,
    outgoing: &mut mpsc::Receiver<Text>,
) -> Result<(), BusError> {
    let mut pubsub = within("connecting", client.get_async_pubsub()).await?;
    within("SUBSCRIBE", pubsub.subscribe(CHANNEL)).await?;
    let mut conn = within("connecting", client.get_multiplexed_async_connection()).await?;
    // Events queued before the bus went down stay lost: at-most-once, nothing replayed late.
    while outgoing.try_recv().is_ok() {}
    heartbeat(room, &mut conn).await?;
    room.set_bus_up(true);
    eprintln!("node {}: on the bus ({CHANNEL})", room.node());
    let mut messages = pubsub.into_on_message();
    let mut tick = tokio::time::interval(HEARTBEAT);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            message = messages.next() => {
                let message = message.ok_or(BusError::SubscriptionEnded)?;
                let payload = String::from_utf8_lossy(message.get_payload_bytes());
                if let Some((node, event)) = payload.split_once('\n')
                    && node != room.node()
                {
                    room.deliver_remote(event);
                }
            }
            n = outgoing.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    return Ok(());
                }
                let mut pipe = redis::pipe();
                for event in batch.drain(..) {
                    pipe.cmd("PUBLISH").arg(CHANNEL).arg(&*event).ignore();
                }
                within("PUBLISH", pipe.query_async::<()>(&mut conn)).await?;
            }
            _ = tick.tick() => heartbeat(room, &mut conn).await?,
        }
    }
}

/// Refreshes this node's presence and reads the other nodes'.
async fn heartbeat(room: &Room, conn: &mut MultiplexedConnection) -> Result<(), BusError> {
    let key = |node: &str| format!("chat:node:{node}");
    let me = room.node();
    let ttl = u64::try_from(EXPIRY.as_millis()).unwrap_or(u64::MAX);
    let (nodes,): (Vec<String>,) = within(
        "heartbeat",
        redis::pipe()
            .cmd("SET")
            .arg(key(me))
            .arg(json_list(&room.local_nicks()))
            .arg("PX")
            .arg(ttl)
            .ignore()
            .cmd("SADD")
            .arg("chat:nodes")
            .arg(me)
            .ignore()
            .cmd("SMEMBERS")
            .arg("chat:nodes")
            .query_async(conn),
    )
    .await?;
    let others: Vec<String> = nodes.into_iter().filter(|n| n != me).collect();
    let mut remote = BTreeMap::new();
    if !others.is_empty() {
        let keys: Vec<String> = others.iter().map(|n| key(n)).collect();
        let values: Vec<Option<String>> =
            within("MGET", redis::cmd("MGET").arg(&keys).query_async(conn)).await?;
        let mut gone = Vec::new();
        for (node, value) in others.into_iter().zip(values) {
            match value.as_deref().and_then(parse_list) {
                Some(nicks) => {
                    remote.insert(node, nicks);
                }
                None => gone.push(node),
            }
        }
        if !gone.is_empty() {
            within(
                "SREM",
                redis::cmd("SREM")
                    .arg("chat:nodes")
                    .arg(&gone)
                    .query_async::<()>(conn),
            )
            .await?;
        }
    }
    room.set_remote(remote);
    Ok(())
}

/// A number in [0, 1) for jitter: the current time hashed with std's randomly keyed hasher
/// (a fresh key each call). Good enough to keep nodes apart, with no dependency for it.
fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, RandomState};
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
