//! A chat room for the browser: the page at `/` (plain HTTP), the WebSocket at `/ws`, both
//! on one port.
//!
//! ```text
//! cargo run --release --example chat -- 127.0.0.1:8080
//! ```
//! Then open <http://127.0.0.1:8080/> in two browser tabs, pick a name in each and talk.
//!
//! - Routing: the request line is read with [`TcpStream::peek`], so the bytes stay in the
//!   socket; a request for `/ws` is handed to [`Acceptor::accept_with`] untouched, anything
//!   else gets the page (or a 404) from a few lines of HTTP.
//! - Each message goes to everyone else in the room; joins and departures are announced.
//! - One slow client cannot stall the room: each client has a [`Reader`] thread and a
//!   [`Writer`] thread fed by a bounded queue. Sending to the room only ever *tries* to
//!   queue; a client whose queue is full cannot keep up and is dropped with close code 1013
//!   (try again later) while everyone else carries on.

use std::collections::HashMap;
use std::error::Error;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use rfc6455::blocking::{self, Acceptor, Keepalive, Message, Reader, Rejection, Writer};
use rfc6455::handshake::Accept;
use rfc6455::{CloseCode, Config};

/// Messages that may wait for a client before it counts as too slow.
const QUEUE_LEN: usize = 64;
/// The largest chat message accepted.
const MAX_MESSAGE: usize = 64 * 1024;

/// Prints a failure with its message (`Display`), not its `Debug` form.
fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("chat: open http://{}/ in a browser", listener.local_addr()?);
    let mut config = Config::default();
    config.max_message_size = MAX_MESSAGE;
    config.max_frame_size = MAX_MESSAGE;
    let acceptor = Acceptor::new()
        .config(config)
        .write_timeout(Duration::from_secs(10))
        .keepalive(Keepalive::new(
            Duration::from_secs(20),
            Duration::from_secs(60),
        ));
    let room = Room::default();
    for stream in listener.incoming() {
        let (room, acceptor) = (room.clone(), acceptor.clone());
        match stream {
            Ok(stream) => {
                thread::spawn(move || {
                    if let Err(e) = handle(stream, &room, &acceptor) {
                        eprintln!("chat: {e}");
                    }
                });
            }
            Err(e) => eprintln!("chat: accept failed: {e}"),
        }
    }
    Ok(())
}

fn handle(stream: TcpStream, room: &Room, acceptor: &Acceptor) -> Result<(), Box<dyn Error>> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let Some(target) = peek_request_target(&stream)? else {
        return Ok(()); // a browser's spare connection, closed unused
    };
    if target == "/ws" || target.starts_with("/ws?") {
        Ok(join(stream, room, acceptor)?)
    } else {
        Ok(serve_page(stream, &target)?)
    }
}

// ---------------------------------------------------------------- the room

/// A member: the queue its writer thread sends from.
struct Member {
    nick: String,
    queue: SyncSender<Arc<str>>,
}

#[derive(Clone, Default)]
struct Room(Arc<Mutex<HashMap<u64, Member>>>);

impl Room {
    fn members(&self) -> MutexGuard<'_, HashMap<u64, Member>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `text` for every member but `skip`, never waiting. Members whose queue is full
    /// are dropped (their writer closes with 1013) and their departure announced.
    fn send(&self, skip: Option<u64>, text: String) {
        let mut members = self.members();
        let mut outgoing = vec![(skip, text)];
        while let Some((skip, text)) = outgoing.pop() {
            let text: Arc<str> = text.into();
            let mut too_slow = Vec::new();
            for (id, member) in members.iter() {
                if Some(*id) != skip
                    && let Err(TrySendError::Full(_)) = member.queue.try_send(Arc::clone(&text))
                {
                    too_slow.push(*id);
                }
            }
            for id in too_slow {
                if let Some(member) = members.remove(&id) {
                    eprintln!("chat: {} cannot keep up, dropped", member.nick);
                    outgoing.push((None, event("leave", &member.nick, "could not keep up")));
                }
            }
        }
    }

    fn join(&self, id: u64, nick: &str, queue: SyncSender<Arc<str>>) {
        let mut members = self.members();
        let online: Vec<String> = members.values().map(|m| json(&m.nick)).collect();
        let welcome = format!(
            r#"{{"type":"welcome","nick":{},"online":[{}]}}"#,
            json(nick),
            online.join(",")
        );
        let _ = queue.try_send(welcome.into());
        let nick = nick.to_owned();
        members.insert(
            id,
            Member {
                nick: nick.clone(),
                queue,
            },
        );
        drop(members);
        self.send(Some(id), event("join", &nick, ""));
    }

    fn say(&self, id: u64, text: &str) {
        let nick = match self.members().get(&id) {
            Some(member) => member.nick.clone(),
            None => return, // dropped for being too slow: no longer in the room
        };
        self.send(Some(id), event("message", &nick, text));
    }

    fn leave(&self, id: u64) {
        let member = self.members().remove(&id);
        if let Some(member) = member {
            self.send(None, event("leave", &member.nick, ""));
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A WebSocket client joins the room: this thread reads, a second one writes.
fn join(stream: TcpStream, room: &Room, acceptor: &Acceptor) -> Result<(), blocking::Error> {
    let socket = stream.try_clone()?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut nick = format!("guest-{id}");
    let ws = acceptor.accept_with(stream, |request| {
        // A browser page from another site must not use its visitor's browser to join.
        let host = request.header("Host").unwrap_or_default();
        if let Some(origin) = request.origin()
            && origin != format!("http://{host}")
            && origin != format!("https://{host}")
        {
            return Err(Rejection::forbidden().body("cross-origin request refused\n"));
        }
        let query = request.query().unwrap_or_default();
        if let Some(name) = query.split('&').find_map(|kv| kv.strip_prefix("nick=")) {
            let name = percent_decode(name);
            let name: String = name.trim().chars().take(24).collect();
            if !name.is_empty() {
                nick = name;
            }
        }
        Ok(Accept::new())
    })?;
    let (reader, writer) = ws.split()?;
    let (queue, outbox) = mpsc::sync_channel(QUEUE_LEN);
    let (still_reading, reader_alive) = mpsc::channel::<()>();
    thread::spawn(move || deliver(&writer, &outbox, &reader_alive, &socket));
    eprintln!("chat: {nick} joined");
    room.join(id, &nick, queue);
    read_loop(reader, room, id);
    drop(still_reading); // tells the writer thread that the reader is done
    room.leave(id);
    eprintln!("chat: {nick} left");
    Ok(())
}

fn read_loop(mut reader: Reader, room: &Room, id: u64) {
    loop {
        match reader.read() {
            Ok(Some(Message::Text(text))) => room.say(id, &text),
            Ok(Some(_)) => {} // binary, ping, pong, close: nothing to tell the room
            Ok(None) => return,
            Err(e) => return eprintln!("chat: client {id}: {e}"),
        }
    }
}

/// The writer thread: sends what the room queued, until the room lets go of the client.
fn deliver(
    writer: &Writer,
    outbox: &Receiver<Arc<str>>,
    reader_alive: &Receiver<()>,
    socket: &TcpStream,
) {
    for text in outbox {
        if writer.send_text(&text).is_err() {
            let _ = socket.shutdown(Shutdown::Both); // the write failed or timed out: give up
            return;
        }
    }
    // The client left, or the room dropped it: if its reader still runs, it was too slow.
    if reader_alive.try_recv() == Err(TryRecvError::Empty) {
        let _ = writer.close(
            CloseCode::TRY_AGAIN_LATER,
            "too slow: dropped from the room",
        );
        let _ = reader_alive.recv_timeout(Duration::from_secs(5)); // its close, or give up
    }
    let _ = socket.shutdown(Shutdown::Both);
}

/// `{"type":KIND,"nick":NICK,"text":TEXT}`
fn event(kind: &str, nick: &str, text: &str) -> String {
    format!(
        r#"{{"type":"{kind}","nick":{},"text":{}}}"#,
        json(nick),
        json(text)
    )
}

/// A JSON string literal.
fn json(s: &str) -> String {
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

/// Decodes `%XX` escapes and `+` in a query value.
fn percent_decode(s: &str) -> String {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok());
        match (b, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(decoded)) => {
                bytes.push(decoded);
                rest = &tail[2..];
                continue;
            }
            (b'+', _) => bytes.push(b' '),
            (b, _) => bytes.push(b),
        }
        rest = tail;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

// ---------------------------------------------------------------- plain HTTP

/// The target of the request line (`/`, `/ws?nick=ann`), read with `peek`: the bytes stay
/// in the socket for the WebSocket handshake. `None` if the client left without a request.
fn peek_request_target(stream: &TcpStream) -> io::Result<Option<String>> {
    let mut buf = [0; 2048];
    for _ in 0..100 {
        let n = stream.peek(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]);
            return Ok(Some(line.split(' ').nth(1).unwrap_or_default().to_owned()));
        }
        if n == buf.len() {
            break;
        }
        thread::sleep(Duration::from_millis(10)); // only part of the line is here yet
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no HTTP request line",
    ))
}

fn serve_page(mut stream: TcpStream, target: &str) -> io::Result<()> {
    // Read the whole request head first: closing a socket with unread input resets it.
    let mut head = Vec::new();
    let mut buf = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let (status, body) = match target {
        "/" | "/index.html" => ("200 OK", PAGE),
        _ => ("404 Not Found", "not found\n"),
    };
    let kind = if status.starts_with("200") {
        "text/html"
    } else {
        "text/plain"
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    stream.shutdown(Shutdown::Write)
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rfc6455 chat</title>
<link rel="icon" href="data:,">
<style>
  body { margin: 0; height: 100vh; display: flex; flex-direction: column;
         font: 15px/1.45 system-ui, sans-serif; background: #f3f4f6; color: #1f2933; }
  header { display: flex; justify-content: space-between; padding: .7em 1em;
           background: #1f2933; color: #fff; }
  #status { color: #9fb3c8; }
  #log { flex: 1; overflow-y: auto; margin: 0; padding: 1em; list-style: none; }
  #log li { margin: .3em 0; }
  #log b { color: #1d4ed8; }
  #log .me b { color: #15803d; }
  #log .notice { color: #64748b; font-style: italic; }
  form { display: flex; gap: .5em; padding: .7em 1em; background: #fff; border-top: 1px solid #d9e2ec; }
  input { flex: 1; font: inherit; padding: .45em .6em; border: 1px solid #bcccdc; border-radius: 4px; }
  button { font: inherit; padding: .45em 1em; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header><span>rfc6455 chat</span><span id="status">pick a name to join</span></header>
<ul id="log"></ul>
<form id="join"><input id="nick" placeholder="Your name" maxlength="24" autofocus><button>Join</button></form>
<form id="chat" hidden><input id="text" placeholder="Message, then Enter" autocomplete="off" maxlength="2000"><button>Send</button></form>
<script>
const $ = id => document.getElementById(id);
let ws, me;

function show(className, nick, text) {
  const li = document.createElement('li');
  li.className = className;
  if (nick) { const b = document.createElement('b'); b.textContent = nick + ': '; li.append(b); }
  li.append(text);
  $('log').append(li);
  $('log').scrollTop = $('log').scrollHeight;
}

$('join').onsubmit = event => {
  event.preventDefault();
  me = $('nick').value.trim() || 'guest';
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  ws = new WebSocket(`${scheme}://${location.host}/ws?nick=${encodeURIComponent(me)}`);
  ws.onopen = () => {
    $('status').textContent = `connected as ${me}`;
    $('join').hidden = true;
    $('chat').hidden = false;
    $('text').focus();
  };
  ws.onmessage = event => {
    const m = JSON.parse(event.data);
    if (m.type === 'welcome') {
      me = m.nick;
      show('notice', '', `Welcome, ${m.nick}! Online: ${m.online.join(', ') || 'nobody else yet'}`);
    } else if (m.type === 'join') {
      show('notice', '', `${m.nick} joined`);
    } else if (m.type === 'leave') {
      show('notice', '', `${m.nick} left${m.text ? ' (' + m.text + ')' : ''}`);
    } else if (m.type === 'message') {
      show('', m.nick, m.text);
    }
  };
  ws.onclose = event => {
    $('status').textContent = `disconnected (${event.code}${event.reason ? ': ' + event.reason : ''})`;
    $('chat').hidden = true;
    $('join').hidden = false;
  };
};

$('chat').onsubmit = event => {
  event.preventDefault();
  const text = $('text').value;
  if (!text || ws.readyState !== WebSocket.OPEN) return;
  ws.send(text);
  show('me', me, text);
  $('text').value = '';
};
</script>
</body>
</html>
"#;
