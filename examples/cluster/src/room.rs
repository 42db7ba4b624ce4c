//! The room as one node sees it: its own members, whose queues it feeds, and the other nodes'
//! members as the last presence read from Redis said.
//!
//! Every event a local member causes (join, message, leave) goes to the other local members
//! and, when the bus is up, to Redis for the other nodes. Events from other nodes go to every
//! local member. Nothing here waits: queues are only ever *tried*, and a member whose queue is
//! full is dropped from the room (its writer task then closes with 1013).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, error::TrySendError};

/// Messages that may wait for a client before it counts as too slow.
pub const QUEUE_LEN: usize = 64;

/// What the node tells its local members and the bus, as JSON text.
pub type Text = Arc<str>;

/// A local member: its nickname and the queue its writer task sends from.
struct Member {
    nick: String,
    queue: mpsc::Sender<Text>,
}

/// The mutable part of the room, behind one lock that is never held across an await.
#[derive(Default)]
struct Inner {
    members: HashMap<u64, Member>,
    /// The other nodes' members by node name, as last read from Redis.
    remote: BTreeMap<String, Vec<String>>,
    /// When `remote` was last read successfully.
    remote_read_at: Option<Instant>,
    /// The online list last sent to the members, to send it again only when it changed.
    last_online: Vec<String>,
}

/// The room on this node. Cheap to share: hold it in an [`Arc`].
pub struct Room {
    node: String,
    inner: Mutex<Inner>,
    bus_up: AtomicBool,
    /// Events for the bus task to publish, `node\nevent`; tried, never awaited.
    bus: mpsc::Sender<Text>,
}

impl Room {
    /// A room for node `node`; events for the other nodes go to `bus`.
    pub fn new(node: String, bus: mpsc::Sender<Text>) -> Room {
        Room {
            node,
            inner: Mutex::default(),
            bus_up: AtomicBool::new(false),
            bus,
        }
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether events currently reach the other nodes.
    pub fn is_bus_up(&self) -> bool {
        self.bus_up.load(Ordering::Relaxed)
    }

    /// Records whether the bus is up; while it is down, events stay on this node.
    pub fn set_bus_up(&self, up: bool) {
        self.bus_up.store(up, Ordering::Relaxed);
    }

    /// A new member: it gets the welcome (naming this node and everyone online), the others
    /// here and on the other nodes get its join.
    pub fn join(&self, id: u64, nick: &str, queue: mpsc::Sender<Text>) {
        let mut inner = self.inner();
        let mut online = inner.online();
        online.push(nick.to_owned());
        let welcome = format!(
            r#"{{"type":"welcome","nick":{},"node":{},"online":{}}}"#,
            json(nick),
            json(&self.node),
            json_list(&online)
        );
        let _ = queue.try_send(welcome.into());
        inner.members.insert(
            id,
            Member {
                nick: nick.to_owned(),
                queue,
            },
        );
        self.send(&mut inner, Some(id), event("join", nick, ""), true);
    }

    /// A message from member `id` to everyone else.
    pub fn say(&self, id: u64, text: &str) {
        let mut inner = self.inner();
        let Some(nick) = inner.members.get(&id).map(|m| m.nick.clone()) else {
            return; // dropped for being too slow: no longer in the room
        };
        self.send(&mut inner, Some(id), event("message", &nick, text), true);
    }

    /// Member `id` left (or its connection failed).
    pub fn leave(&self, id: u64) {
        let mut inner = self.inner();
        if let Some(member) = inner.members.remove(&id) {
            self.send(&mut inner, None, event("leave", &member.nick, ""), true);
        }
    }

    /// An event another node published: to every local member.
    pub fn deliver_remote(&self, event: &str) {
        let mut inner = self.inner();
        self.send(&mut inner, None, event.to_owned(), false);
    }

    /// The local members' nicknames, for this node's heartbeat.
    pub fn local_nicks(&self) -> Vec<String> {
        self.inner()
            .members
            .values()
            .map(|m| m.nick.clone())
            .collect()
    }

    /// The whole online list: this node's members and the other nodes'.
    pub fn online(&self) -> Vec<String> {
        self.inner().online()
    }

    /// How many members are connected to this node.
    pub fn local_count(&self) -> usize {
        self.inner().members.len()
    }

    /// The other nodes' members as just read from Redis. The members of a node that is no
    /// longer there (its heartbeat expired) are announced as gone; a changed online list is
    /// sent to every local member.
    pub fn set_remote(&self, remote: BTreeMap<String, Vec<String>>) {
        let mut inner = self.inner();
        inner.remote_read_at = Some(Instant::now());
        self.replace_remote(&mut inner, remote);
    }

    /// While the bus is down: forgets the other nodes' members once the last presence read is
    /// older than `expiry`, since nobody can vouch for them any more.
    pub fn expire_remote(&self, expiry: Duration) {
        let mut inner = self.inner();
        let stale = inner.remote_read_at.is_some_and(|at| at.elapsed() > expiry);
        if stale && !inner.remote.is_empty() {
            inner.remote_read_at = None;
            self.replace_remote(&mut inner, BTreeMap::new());
        }
    }

    /// Replaces the other nodes' members, announcing those of vanished nodes as gone.
    fn replace_remote(&self, inner: &mut Inner, remote: BTreeMap<String, Vec<String>>) {
        let old = std::mem::replace(&mut inner.remote, remote);
        for (node, nicks) in old {
            if inner.remote.contains_key(&node) {
                continue;
            }
            let why = format!("node {node} went away");
            for nick in nicks {
                self.send(inner, None, event("leave", &nick, &why), false);
            }
        }
        let online = inner.online();
        if online != inner.last_online {
            let text = format!(r#"{{"type":"online","online":{}}}"#, json_list(&online));
            inner.last_online = online;
            self.send(inner, None, text, false);
        }
    }

    /// Queues `text` for every local member but `skip` (and for the bus when `publish`),
    /// never waiting. Members whose queue is full are dropped and their departure announced
    /// here and to the other nodes.
    fn send(&self, inner: &mut Inner, skip: Option<u64>, text: String, publish: bool) {
        let mut outgoing = vec![(skip, text, publish)];
        while let Some((skip, text, publish)) = outgoing.pop() {
            let text: Text = text.into();
            if publish && self.is_bus_up() {
                // A full bus queue loses the event for the other nodes (at-most-once).
                let _ = self.bus.try_send(format!("{}\n{text}", self.node).into());
            }
            let mut too_slow = Vec::new();
            for (id, member) in &inner.members {
                if Some(*id) != skip
                    && let Err(TrySendError::Full(_)) = member.queue.try_send(Arc::clone(&text))
                {
                    too_slow.push(*id);
                }
            }
            for id in too_slow {
                if let Some(member) = inner.members.remove(&id) {
                    eprintln!(
                        "node {}: {} cannot keep up, dropped",
                        self.node, member.nick
                    );
                    let leave = event("leave", &member.nick, "could not keep up");
                    outgoing.push((None, leave, true));
                }
            }
        }
    }
}

impl Inner {
    /// Everyone online, sorted: local members and the other nodes'.
    fn online(&self) -> Vec<String> {
        let mut online: Vec<String> = self.members.values().map(|m| m.nick.clone()).collect();
        online.extend(self.remote.values().flatten().cloned());
        online.sort();
        online
    }
}

/// `{"type":KIND,"nick":NICK,"text":TEXT}`
pub fn event(kind: &str, nick: &str, text: &str) -> String {
    format!(
        r#"{{"type":"{kind}","nick":{},"text":{}}}"#,
        json(nick),
        json(text)
    )
}

/// A JSON array of strings.
pub fn json_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| json(s)).collect();
    format!("[{}]", items.join(","))
}

/// A JSON string literal.
pub fn json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parses a JSON array of strings as written by [`json_list`] (the presence values in Redis).
/// `None` if it is not one.
pub fn parse_list(text: &str) -> Option<Vec<String>> {
    let mut rest = text.trim().strip_prefix('[')?.trim_start();
    let mut items = Vec::new();
    loop {
        if let Some(tail) = rest.strip_prefix(']') {
            return tail.trim().is_empty().then_some(items);
        }
        rest = rest.strip_prefix('"')?;
        let mut item = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'u' => {
                        let hex: String =
                            (0..4).filter_map(|_| chars.next().map(|c| c.1)).collect();
                        item.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    c => item.push(c),
                },
                c => item.push(c),
            }
        };
        items.push(item);
        rest = rest[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_round_trip() {
        let items = vec![
            "alice".to_owned(),
            "b\"ob\\".to_owned(),
            "tab\there".to_owned(),
            String::new(),
        ];
        assert_eq!(parse_list(&json_list(&items)), Some(items));
        assert_eq!(parse_list("[]"), Some(vec![]));
        assert_eq!(parse_list("[\"a\""), None);
        assert_eq!(parse_list("nope"), None);
    }

    #[tokio::test]
    async fn slow_member_is_dropped_and_remote_node_expiry_announced() {
        let (bus, _bus_rx) = mpsc::channel(16);
        let room = Room::new("a".into(), bus);
        let (fast, mut fast_rx) = mpsc::channel(QUEUE_LEN * 4);
        let (slow, _slow_rx) = mpsc::channel(2);
        room.join(1, "fast", fast);
        room.join(2, "slow", slow);
        for i in 0..4 {
            room.say(1, &format!("m{i}"));
        }
        assert_eq!(room.local_nicks(), vec!["fast".to_owned()]);
        let mut remote = BTreeMap::new();
        remote.insert("b".to_owned(), vec!["bob".to_owned()]);
        room.set_remote(remote);
        assert_eq!(room.online(), vec!["bob".to_owned(), "fast".to_owned()]);
        room.set_remote(BTreeMap::new());
        let mut seen = Vec::new();
        while let Ok(text) = fast_rx.try_recv() {
            seen.push(text.to_string());
        }
        assert!(
            seen.iter()
                .any(|t| t.contains(r#""nick":"slow","text":"could not keep up""#))
        );
        assert!(
            seen.iter()
                .any(|t| t.contains(r#""nick":"bob","text":"node b went away""#))
        );
        assert_eq!(
            seen.last().map(String::as_str),
            Some(r#"{"type":"online","online":["fast"]}"#)
        );
    }
}
