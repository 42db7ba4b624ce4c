//! Loopback echo: thread-per-connection echo servers, each in its own process (this program,
//! started again with `serve KIND`), driven in turn by one load client.
//!
//! - `raw`: a plain TCP echo server (read into a 64 KiB buffer, write it back): the limit;
//! - `rfc6455`: our blocking adapter, as `examples/echo_server.rs` uses it (`accept`, then
//!   `read` an owned message and `send_binary` it back);
//! - `rfc6455-sansio`: our sans-IO connection over the same socket, echoing each borrowed
//!   message without copying it (what the blocking adapter's owned `read` costs on top);
//! - `tungstenite`: `tungstenite::accept`, then `read` and `send` the message back;
//! - on tokio (multi-thread runtime, 2 workers, task per connection; see `echo_tokio`):
//!   `tokio-raw`, `rfc6455-tokio`, `rfc6455-tokio-nokeepalive`, `tokio-websockets`,
//!   `fastwebsockets`, and on request `tokio-floor`;
//! - `floor` (on request, `--server floor`): the least any WebSocket server does, parse,
//!   unmask and write back, no checks; `raw+N` or `raw/SIZE`: the raw server reading at N
//!   bytes past a 64-byte boundary or into a SIZE-byte buffer.
//!
//! The client keeps one message in flight per connection (a closed loop), with one thread for
//! all connections, pinned to the first CPU and the servers to the second. A server's CPU time
//! is the sum over its threads of the time on CPU reported by
//! `/proc/<pid>/task/<tid>/schedstat`, read before and after each measurement.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::measure::{median, ratio, ratio_spread, si, size_name, thread_cpu_secs};
use crate::{Plan, Target};

const SERVERS: [&str; 9] = [
    "raw",
    "rfc6455",
    "rfc6455-sansio",
    "tungstenite",
    "tokio-raw",
    "rfc6455-tokio",
    "rfc6455-tokio-nokeepalive",
    "tokio-websockets",
    "fastwebsockets",
];
const CELLS: [(usize, usize); 4] = [(1, 16), (1, 64 << 10), (50, 16), (50, 64 << 10)];
const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

// ------------------------------------------------------------------ servers

/// Runs the echo server `kind` until killed; prints `PORT <n>` once it listens.
pub fn serve(kind: &str) {
    if let Some(cpu) = std::env::var("PIN_CPU").ok().and_then(|c| c.parse().ok()) {
        pin(cpu);
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("PORT {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    if crate::echo_tokio::is_tokio(kind) {
        return crate::echo_tokio::serve(kind, listener);
    }
    let handler: fn(TcpStream) = match kind {
        "raw" => serve_raw,
        "rfc6455" => serve_rfc6455,
        "tungstenite" => serve_tungstenite,
        "rfc6455-sansio" => serve_sansio,
        "floor" => serve_floor,
        other => panic!("unknown server {other:?}"),
    };
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        thread::spawn(move || handler(stream));
    }
}

fn serve_raw(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let off: usize = std::env::var("RAW_OFFSET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let size: usize = std::env::var("RAW_BUF")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64 << 10);
    let mut storage = vec![0; size + 128];
    let start = storage.as_ptr().align_offset(64) + off;
    let buf = &mut storage[start..start + size];
    loop {
        match stream.read(buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn serve_rfc6455(stream: TcpStream) {
    use rfc6455::blocking::Message;
    let Ok(mut ws) = rfc6455::blocking::accept(stream) else {
        return;
    };
    loop {
        let sent = match ws.read() {
            Ok(Some(Message::Text(text))) => ws.send_text(&text),
            Ok(Some(Message::Binary(data))) => ws.send_binary(&data),
            Ok(Some(_)) => Ok(()),
            Ok(None) | Err(_) => return,
        };
        if sent.is_err() {
            return;
        }
    }
}

/// The least a WebSocket echo server can do (after a handshake by rfc6455): read whole
/// frames into a buffer, unmask, write header and payload back. No checks, no state.
/// A client frame's header at the start of `b`, once all of it is there: its length (2 +
/// extended length + 4-byte key) and the payload's length. The floor servers' whole parse.
pub fn floor_header(b: &[u8]) -> Option<(usize, usize)> {
    let (ext, len) = match *b.get(1)? & 0x7f {
        126 => (2, usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]))),
        127 => {
            let x: [u8; 8] = b.get(2..10)?.try_into().ok()?;
            (8, u64::from_be_bytes(x) as usize)
        }
        short => (0, usize::from(short)),
    };
    (b.len() >= 2 + ext + 4).then_some((2 + ext + 4, len))
}

fn serve_floor(stream: TcpStream) {
    use std::io::IoSlice;
    let Ok(ws) = rfc6455::blocking::accept(stream) else {
        return;
    };
    let (mut stream, _) = ws.into_parts();
    let _ = stream.set_read_timeout(None);
    let off: usize = std::env::var("RAW_OFFSET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut storage = vec![0_u8; (256 << 10) + 8192];
    let start = storage.as_ptr().align_offset(4096) + off;
    let buf = &mut storage[start..start + (256 << 10)];
    let mut have = 0;
    loop {
        let (head, len) = loop {
            if let Some(h) = floor_header(&buf[..have]) {
                break h;
            }
            match stream.read(&mut buf[have..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => have += n,
            }
        };
        while have < head + len {
            match stream.read(&mut buf[have..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => have += n,
            }
        }
        let mut key = [0; 4];
        key.copy_from_slice(&buf[head - 4..head]);
        rfc6455::mask::apply_mask(&mut buf[head..head + len], key, 0);
        let mut out = [0_u8; 10];
        out[0] = buf[0];
        let n = match head - 4 {
            2 => {
                out[1] = buf[1] & 0x7f;
                2
            }
            h => {
                out[1] = buf[1] & 0x7f;
                out[2..h].copy_from_slice(&buf[2..h]);
                h
            }
        };
        let mut bufs = [
            IoSlice::new(&out[..n]),
            IoSlice::new(&buf[head..head + len]),
        ];
        let mut slices = &mut bufs[..];
        while !slices.is_empty() {
            match stream.write_vectored(slices) {
                Ok(0) | Err(_) => return,
                Ok(k) => IoSlice::advance_slices(&mut slices, k),
            }
        }
        buf.copy_within(head + len..have, 0);
        have -= head + len;
    }
}

/// rfc6455's sans-IO connection driven by hand over the same socket: read into `recv_buf`,
/// echo each borrowed message with a vectored write of a header and the payload, no copy.
/// The blocking adapter's owned `read` copies each message once more, into a new `Vec`.
fn serve_sansio(stream: TcpStream) {
    use rfc6455::Event;
    use rfc6455::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
    use std::io::IoSlice;
    let Ok(ws) = rfc6455::blocking::accept(stream) else {
        return;
    };
    let (mut stream, mut conn) = ws.into_parts();
    let _ = stream.set_read_timeout(None);
    loop {
        match conn.next_event() {
            Ok(Some(Event::Binary(data))) => {
                let header = FrameHeader {
                    fin: true,
                    rsv: 0,
                    opcode: OpCode::Binary,
                    mask: None,
                    len: data.len() as u64,
                };
                let mut head = [0; MAX_HEADER_LEN];
                let n = header.encode(&mut head);
                let mut bufs = [IoSlice::new(&head[..n]), IoSlice::new(data)];
                let mut slices = &mut bufs[..];
                while !slices.is_empty() {
                    match stream.write_vectored(slices) {
                        Ok(0) | Err(_) => return,
                        Ok(k) => IoSlice::advance_slices(&mut slices, k),
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => match stream.read(conn.recv_buf()) {
                Ok(0) | Err(_) => return,
                Ok(n) => conn.recv_filled(n),
            },
            Err(_) => return,
        }
    }
}

fn serve_tungstenite(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut ws) = tungstenite::accept(stream) else {
        return;
    };
    loop {
        match ws.read() {
            Ok(message) if message.is_binary() || message.is_text() => {
                if ws.send(message).is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// Pins the calling thread (and the threads it starts later) to `cpu`.
fn pin(cpu: usize) {
    // SAFETY: `set` is a plain bit set initialised by CPU_ZERO before use, and
    // sched_setaffinity reads `size_of::<cpu_set_t>()` bytes of it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Where the load client and the servers run: on a machine with two CPUs or more, the client
/// on the first and every server on the second, so that all servers see the same placement
/// (otherwise the scheduler sometimes puts client and server on one core, which makes the
/// kernel's copies cheaper, and sometimes not).
fn placement() -> Option<(usize, usize)> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus >= 2).then_some((0, 1))
}

/// A server process started by `run`, killed when dropped.
struct Server {
    name: String,
    child: Child,
    port: u16,
}

impl Server {
    /// Starts server `name`; `raw+N` is the raw server reading at N bytes past a 64-byte
    /// boundary (to see what alignment costs the kernel's copy).
    fn start(name: &str) -> Server {
        let exe = std::env::current_exe().expect("current_exe");
        let (kind, size) = name.split_once('/').unwrap_or((name, "65536"));
        let (kind, offset) = kind.split_once('+').unwrap_or((kind, "0"));
        let mut command = Command::new(exe);
        if let Some((_, cpu)) = placement() {
            command.env("PIN_CPU", cpu.to_string());
        }
        let mut child = command
            .args(["serve", kind])
            .env("RAW_OFFSET", offset)
            .env("RAW_BUF", size)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("server port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .expect("PORT line");
        Server {
            name: name.to_string(),
            child,
            port,
        }
    }

    /// Time on CPU of each of the server's threads, in nanoseconds.
    fn cpu(&self) -> HashMap<u32, u64> {
        let mut times = HashMap::new();
        let dir = format!("/proc/{}/task", self.child.id());
        for entry in std::fs::read_dir(dir)
            .expect("read /proc/<pid>/task")
            .flatten()
        {
            let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("schedstat")) else {
                continue;
            };
            if let Some(ns) = stat.split_whitespace().next().and_then(|v| v.parse().ok()) {
                times.insert(tid, ns);
            }
        }
        times
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU nanoseconds spent between two snapshots, threads started in between included.
fn cpu_between(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> u64 {
    after
        .iter()
        .map(|(tid, &ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}

// ------------------------------------------------------------------ load client

/// What one connection sends and expects back per round trip.
struct Exchange {
    request: Vec<u8>,
    reply_len: usize,
    /// The expected reply, checked once per connection.
    reply: Vec<u8>,
}

fn exchange(websocket: bool, len: usize) -> Exchange {
    let payload: Vec<u8> = (0..len).map(|i| (i * 11 + 5) as u8).collect();
    if !websocket {
        return Exchange {
            request: payload.clone(),
            reply_len: len,
            reply: payload,
        };
    }
    let length = |masked: u8| -> Vec<u8> {
        if len < 126 {
            vec![masked | len as u8]
        } else if let Ok(short) = u16::try_from(len) {
            let mut v = vec![masked | 126];
            v.extend_from_slice(&short.to_be_bytes());
            v
        } else {
            let mut v = vec![masked | 127];
            v.extend_from_slice(&(len as u64).to_be_bytes());
            v
        }
    };
    let mut request = vec![0x82];
    request.extend(length(0x80));
    request.extend_from_slice(&KEY);
    request.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    let mut reply = vec![0x82];
    reply.extend(length(0));
    reply.extend_from_slice(&payload);
    Exchange {
        request,
        reply_len: reply.len(),
        reply,
    }
}

fn connect(port: u16, websocket: bool) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).unwrap();
    if websocket {
        stream
            .write_all(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .unwrap();
        let mut response = Vec::new();
        let mut byte = [0; 1];
        while !response.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).expect("handshake response");
            response.push(byte[0]);
        }
        assert!(response.starts_with(b"HTTP/1.1 101"), "handshake refused");
    }
    stream
}

/// One round trip on a blocking stream, checking the reply when `check`.
fn round_trip(stream: &mut TcpStream, ex: &Exchange, buf: &mut [u8], check: bool) {
    stream.write_all(&ex.request).expect("write");
    stream.read_exact(&mut buf[..ex.reply_len]).expect("read");
    if check {
        assert!(buf[..ex.reply_len] == ex.reply[..], "wrong echo");
    }
}

/// Round trips done in `duration` over `streams`, one message in flight on each.
fn load(streams: &mut [TcpStream], ex: &Exchange, duration: Duration) -> u64 {
    let mut buf = vec![0; ex.reply_len.max(1 << 16)];
    let deadline = Instant::now() + duration;
    let mut count = 0;
    if let [stream] = streams {
        while Instant::now() < deadline {
            for _ in 0..8 {
                round_trip(stream, ex, &mut buf, false);
            }
            count += 8;
        }
        return count;
    }
    // Many connections: non-blocking, with poll(2).
    struct Conn {
        written: usize,
        read: usize,
    }
    let mut conns: Vec<Conn> = streams
        .iter()
        .map(|_| Conn {
            written: 0,
            read: 0,
        })
        .collect();
    for s in streams.iter() {
        s.set_nonblocking(true).unwrap();
    }
    let mut fds: Vec<libc::pollfd> = streams
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: 0,
            revents: 0,
        })
        .collect();
    let mut first = true;
    'run: loop {
        for (i, (s, c)) in streams.iter_mut().zip(&mut conns).enumerate() {
            if !first && fds[i].revents == 0 {
                continue;
            }
            // Write what we can of the request, then read what has come back.
            while c.written < ex.request.len() {
                match s.write(&ex.request[c.written..]) {
                    Ok(n) => c.written += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("write: {e}"),
                }
            }
            while c.read < ex.reply_len {
                match s.read(&mut buf[..ex.reply_len - c.read]) {
                    Ok(0) => panic!("server closed"),
                    Ok(n) => c.read += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("read: {e}"),
                }
            }
            if c.read == ex.reply_len {
                count += 1;
                c.read = 0;
                c.written = 0;
                if count % 64 == 0 && Instant::now() >= deadline {
                    break 'run;
                }
            }
            fds[i].events = if c.written < ex.request.len() {
                libc::POLLIN | libc::POLLOUT
            } else if c.read < ex.reply_len {
                libc::POLLIN
            } else {
                libc::POLLOUT
            };
        }
        first = false;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        assert!(ready >= 0, "poll failed");
        if Instant::now() >= deadline {
            break;
        }
    }
    // Let in-flight replies land so the connections end in a clean state.
    for (s, c) in streams.iter_mut().zip(&mut conns) {
        s.set_nonblocking(false).unwrap();
        if c.written > 0 {
            while c.written < ex.request.len() {
                c.written += s.write(&ex.request[c.written..]).expect("write");
            }
            s.read_exact(&mut buf[..ex.reply_len - c.read])
                .expect("read");
        }
    }
    count
}

/// Round trips per second and server CPU nanoseconds per round trip.
/// Round trips per second, and the server's and the load client's CPU time per round trip (ns).
fn measure(server: &Server, conns: usize, len: usize, duration: Duration) -> (f64, f64, f64) {
    let websocket = !server.name.starts_with("raw") && !server.name.starts_with("tokio-raw");
    let ex = exchange(websocket, len);
    let mut streams: Vec<TcpStream> = (0..conns)
        .map(|_| connect(server.port, websocket))
        .collect();
    let mut buf = vec![0; ex.reply_len];
    for (i, s) in streams.iter_mut().enumerate() {
        for _ in 0..4 {
            round_trip(s, &ex, &mut buf, i == 0);
        }
    }
    load(&mut streams, &ex, duration / 5);
    let before = server.cpu();
    let client_before = thread_cpu_secs();
    let start = Instant::now();
    let count = load(&mut streams, &ex, duration);
    let secs = start.elapsed().as_secs_f64();
    let client = thread_cpu_secs() - client_before;
    let after = server.cpu();
    drop(streams);
    (
        count as f64 / secs,
        cpu_between(&before, &after) as f64 / count as f64,
        client * 1e9 / count as f64,
    )
}

/// `load PORT raw|ws CONNECTIONS SIZE SECONDS`: drives one server and prints round trips/s.
pub fn load_only(args: &[String]) {
    let [port, kind, conns, len, secs] = args else {
        panic!("usage: load PORT raw|ws CONNECTIONS SIZE SECONDS");
    };
    let websocket = kind != "raw";
    let ex = exchange(websocket, len.parse().expect("size"));
    let conns: usize = conns.parse().expect("connections");
    let port: u16 = port.parse().expect("port");
    let mut streams: Vec<TcpStream> = (0..conns).map(|_| connect(port, websocket)).collect();
    let duration = Duration::from_secs_f64(secs.parse().expect("seconds"));
    let start = Instant::now();
    let count = load(&mut streams, &ex, duration);
    println!(
        "{count} round trips, {:.0}/s",
        count as f64 / start.elapsed().as_secs_f64()
    );
}

/// The echo comparison. `servers` and `cells` replace the defaults when not empty (the first
/// server is the baseline of the CPU ratio).
pub fn run(plan: Plan, servers: &[String], cells: &[(usize, usize)]) -> Vec<Target> {
    let servers: Vec<Server> = if servers.is_empty() {
        SERVERS.iter().map(|&name| Server::start(name)).collect()
    } else {
        servers.iter().map(|name| Server::start(name)).collect()
    };
    let cells = if cells.is_empty() { &CELLS[..] } else { cells };
    if let Some((cpu, _)) = placement() {
        pin(cpu);
    }
    let duration = Duration::from_millis(plan.echo_ms);
    println!(
        "\n## Loopback echo, thread per connection or tokio task per connection (round trips/s; server CPU per round trip; CPU ratio to the raw TCP server of the same kind: raw, or tokio-raw for the tokio servers)\n"
    );
    println!(
        "| connections x size | server | round trips/s | server CPU/round trip | CPU vs raw TCP | client CPU/round trip | client CPU vs raw TCP |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let mut targets = Vec::new();
    let mut async_ratios = Vec::new();
    // The tokio servers' CPU is compared with the raw server on the same runtime.
    let tokio_raw = servers.iter().position(|s| s.name == "tokio-raw");
    let ours_async: Vec<usize> = (0..servers.len())
        .filter(|&i| servers[i].name.starts_with("rfc6455-tokio"))
        .collect();
    let peers_async: Vec<usize> = (0..servers.len())
        .filter(|&i| {
            matches!(
                servers[i].name.as_str(),
                "tokio-websockets" | "fastwebsockets"
            )
        })
        .collect();
    for &(conns, len) in cells {
        // rates[server][trial], cpu[server][trial]
        let mut rates = vec![vec![0.0; plan.echo_trials]; servers.len()];
        let mut cpu = vec![vec![0.0; plan.echo_trials]; servers.len()];
        let mut client = vec![vec![0.0; plan.echo_trials]; servers.len()];
        for trial in 0..plan.echo_trials {
            for k in 0..servers.len() {
                let i = (trial + k) % servers.len();
                let (r, c, l) = measure(&servers[i], conns, len, duration);
                rates[i][trial] = r;
                cpu[i][trial] = c;
                client[i][trial] = l;
            }
        }
        for (i, server) in servers.iter().enumerate() {
            let base = match tokio_raw {
                Some(t) if crate::echo_tokio::is_tokio(&server.name) => t,
                _ => 0,
            };
            let vs_raw = ratio(&cpu[i], &cpu[base]);
            let client_vs_raw = ratio(&client[i], &client[base]);
            println!(
                "| {conns} x {} | {} | {} | {:.2} µs | {:.2}x | {:.2} µs | {:.2}x |",
                size_name(len),
                server.name,
                si(median(&rates[i])),
                median(&cpu[i]) / 1e3,
                vs_raw,
                median(&client[i]) / 1e3,
                client_vs_raw
            );
            if server.name == "rfc6455" {
                let cell = format!("echo {conns} x {}", size_name(len));
                targets.push(Target::at_most(
                    format!("{cell}: server CPU <= 1.10x raw TCP"),
                    vs_raw,
                    1.10,
                ));
                targets.push(Target::at_most(
                    format!("{cell}: client CPU <= 1.05x against raw TCP"),
                    client_vs_raw,
                    1.05,
                ));
            }
        }
        for &ours in &ours_async {
            let name = &servers[ours].name;
            let cell = format!("{name} echo {conns} x {}", size_name(len));
            for (i, server) in servers.iter().enumerate() {
                if crate::echo_tokio::is_tokio(&server.name) && !ours_async.contains(&i) {
                    let (low, high) = ratio_spread(&cpu[ours], &cpu[i]);
                    async_ratios.push(format!(
                        "| {conns} x {} | {name} | {} | {:.2}x | {low:.2}-{high:.2}x |",
                        size_name(len),
                        server.name,
                        ratio(&cpu[ours], &cpu[i])
                    ));
                }
            }
            if let Some(raw) = tokio_raw {
                let r = ratio(&cpu[ours], &cpu[raw]);
                targets.push(Target::at_most(
                    format!("{cell}: server CPU <= 1.10x tokio-raw"),
                    r,
                    1.10,
                ));
            }
            // The better peer: the one with the lower median CPU (a per-trial minimum of two
            // noisy figures would be biased low).
            let best = peers_async
                .iter()
                .copied()
                .min_by(|&a, &b| median(&cpu[a]).total_cmp(&median(&cpu[b])));
            if let Some(best) = best {
                let r = ratio(&cpu[ours], &cpu[best]);
                targets.push(Target::at_most(
                    format!(
                        "{cell}: server CPU <= 1.00x the better async peer ({})",
                        servers[best].name
                    ),
                    r,
                    1.00,
                ));
            }
        }
    }
    if !async_ratios.is_empty() {
        println!(
            "\n### rfc6455-tokio server CPU per round trip / other tokio server's (median of per-trial ratios, and the middle half of them; below 1 is less CPU)\n"
        );
        println!("| connections x size | ours | other | ours / other | middle half |");
        println!("|---|---|---|---:|---:|");
        for line in async_ratios {
            println!("{line}");
        }
    }
    targets
}
