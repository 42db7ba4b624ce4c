//! permessage-deflate throughput (feature `deflate`, zlib-rs backend) through the connection:
//! compressing outgoing and decompressing incoming 16 KiB messages, text-like (JSON chat
//! events) and random, at compression levels 1, 3 and 6. Throughput counts uncompressed bytes;
//! the compressed sizes are printed before the measurements.
//!
//! ```text
//! cargo bench --features deflate --bench deflate
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rfc6455::deflate::Negotiated;
use rfc6455::{Config, Connection, Event, Role};

const LEN: usize = 16 << 10;
/// Distinct messages per stream: 512 KiB, far more than the 32 KiB window, so a message never
/// finds itself in the compressor's history.
const COUNT: usize = 32;
const LEVELS: [u8; 3] = [1, 3, 6];

/// A small xorshift generator: deterministic payloads without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Roughly Zipf-distributed index below `n`: small indices are much more frequent.
    fn zipf(&mut self, n: usize) -> usize {
        let r = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64).powf(r) as usize).saturating_sub(1).min(n - 1)
    }
}

const WORDS: &[&str] = &[
    "the",
    "to",
    "and",
    "a",
    "of",
    "in",
    "is",
    "you",
    "that",
    "it",
    "for",
    "on",
    "with",
    "this",
    "we",
    "be",
    "are",
    "not",
    "have",
    "was",
    "but",
    "at",
    "can",
    "just",
    "so",
    "if",
    "will",
    "what",
    "do",
    "all",
    "they",
    "about",
    "one",
    "from",
    "when",
    "an",
    "out",
    "up",
    "there",
    "time",
    "think",
    "like",
    "know",
    "get",
    "now",
    "see",
    "some",
    "more",
    "would",
    "deploy",
    "server",
    "message",
    "release",
    "websocket",
    "latency",
    "queue",
    "build",
    "cache",
    "review",
    "merge",
    "branch",
    "request",
    "response",
    "client",
    "timeout",
    "retry",
    "config",
    "metrics",
    "dashboard",
    "alert",
    "incident",
    "database",
    "migration",
    "index",
    "query",
    "schema",
    "tomorrow",
    "meeting",
    "thanks",
    "great",
    "sounds",
    "good",
    "fixed",
    "broken",
    "tests",
    "passing",
    "failing",
    "again",
    "please",
    "check",
    "looks",
    "sure",
    "maybe",
    "later",
];

const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
];

/// One 16 KiB text message: newline-separated JSON chat events.
fn text_message(rng: &mut Rng) -> Vec<u8> {
    let mut out = String::with_capacity(LEN + 256);
    while out.len() < LEN {
        let id = rng.next() % 10_000_000;
        let user = USERS[rng.zipf(USERS.len())];
        let ts = 1_700_000_000 + rng.next() % 10_000_000;
        out.push_str(&format!(
            "{{\"type\":\"message\",\"id\":{id},\"user\":\"{user}\",\"ts\":{ts},\"text\":\""
        ));
        let words = 4 + rng.next() % 20;
        for i in 0..words {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(WORDS[rng.zipf(WORDS.len())]);
        }
        out.push_str("\"}\n");
    }
    out.truncate(LEN);
    out.into_bytes()
}

fn random_message(rng: &mut Rng) -> Vec<u8> {
    (0..LEN / 8)
        .flat_map(|_| rng.next().to_le_bytes())
        .collect()
}

fn deflate_conn(role: Role, level: u8) -> Connection {
    let mut conn = Connection::with_seed(role, Config::default(), [9; 32]);
    conn.enable_deflate(Negotiated {
        level,
        threshold: 128,
        window_bits: 15,
        no_context_takeover: false,
    });
    conn
}

/// What a fresh server sends for `messages`, compressed at `level`.
fn compressed_stream(messages: &[Vec<u8>], level: u8) -> Vec<u8> {
    let mut server = deflate_conn(Role::Server, level);
    let mut wire = Vec::new();
    for m in messages {
        server.send_binary(m).unwrap();
        wire.extend_from_slice(server.pending_output());
        let n = server.pending_output().len();
        server.consume_output(n);
    }
    wire
}

fn decode_all(client: &mut Connection, wire: &[u8]) -> usize {
    client.recv(wire);
    let mut seen = 0;
    while let Some(event) = client.next_event().unwrap() {
        match event {
            Event::Binary(data) => {
                black_box(data);
            }
            _ => unreachable!(),
        }
        seen += 1;
    }
    seen
}

fn deflate(c: &mut Criterion) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let payloads = [
        (
            "text",
            (0..COUNT)
                .map(|_| text_message(&mut rng))
                .collect::<Vec<_>>(),
        ),
        (
            "random",
            (0..COUNT).map(|_| random_message(&mut rng)).collect(),
        ),
    ];
    for (kind, messages) in &payloads {
        for level in LEVELS {
            let wire = compressed_stream(messages, level);
            eprintln!(
                "deflate {kind} level {level}: {} KiB -> {} KiB on the wire ({:.1}%)",
                COUNT * LEN / 1024,
                wire.len() / 1024,
                100.0 * wire.len() as f64 / (COUNT * LEN) as f64
            );
        }
    }

    let mut group = c.benchmark_group("deflate/compress");
    group.throughput(Throughput::Bytes((COUNT * LEN) as u64));
    for (kind, messages) in &payloads {
        for level in LEVELS {
            let mut server = deflate_conn(Role::Server, level);
            group.bench_function(format!("{kind}/level{level}"), |b| {
                b.iter(|| {
                    for m in messages {
                        server.send_binary(black_box(m)).unwrap();
                        let n = black_box(server.pending_output()).len();
                        server.consume_output(n);
                    }
                });
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("deflate/decompress");
    group.throughput(Throughput::Bytes((COUNT * LEN) as u64));
    for (kind, messages) in &payloads {
        for level in LEVELS {
            let wire = compressed_stream(messages, level);
            group.bench_function(format!("{kind}/level{level}"), |b| {
                // Context takeover: each run decodes the whole stream with a fresh decoder.
                b.iter_batched(
                    || deflate_conn(Role::Client, level),
                    |mut client| {
                        assert_eq!(decode_all(&mut client, &wire), COUNT);
                        client
                    },
                    BatchSize::PerIteration,
                );
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = deflate
}
criterion_main!(benches);
