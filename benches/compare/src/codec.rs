//! Decode and encode from memory: a server decoding client-masked binary messages read from an
//! in-memory stream (each library reads it as it would read a socket), and a client encoding
//! messages into a stream that discards them.
//!
//! The decode floor is what any decoder must do: parse the header, copy the frame out of the
//! stream (the read) and unmask the payload in place with the fastest masking of the table
//! above (rfc6455's). It keeps no state and checks nothing.

use std::hint::black_box;
use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rfc6455::{Config, Connection, Event, Role};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::measure::{Job, median, ratio, rotate, si, size_name};
use crate::{Plan, Target};

const SIZES: [usize; 4] = [16, 1 << 10, 64 << 10, 1 << 20];

/// An endless in-memory stream: `data` (whole frames) over and over. Writes are discarded.
struct MemStream {
    data: Rc<Vec<u8>>,
    pos: usize,
}

impl MemStream {
    fn new(data: &Rc<Vec<u8>>) -> MemStream {
        MemStream {
            data: Rc::clone(data),
            pos: 0,
        }
    }

    /// Fills all of `buf`, going back to the start of `data` at its end: a stream that always
    /// has more to read.
    fn fill(&mut self, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            if self.pos == self.data.len() {
                self.pos = 0;
            }
            let n = (buf.len() - done).min(self.data.len() - self.pos);
            copy(&mut buf[done..done + n], &self.data[self.pos..self.pos + n]);
            self.pos += n;
            done += n;
        }
        done
    }
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.fill(buf))
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(black_box(buf).len())
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        Ok(bufs.iter().map(|b| black_box(b).len()).sum())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = this.fill(buf.initialize_unfilled());
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(black_box(buf).len()))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(bufs.iter().map(|b| black_box(b).len()).sum()))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// `dst.copy_from_slice(src)` in 2 KiB pieces. glibc's `memcpy` uses `rep movsb` from 4 KiB
/// up, which on AMD Zen 3 runs 14 times slower when `dst` is 1 to 31 bytes past `src` modulo
/// 4096; where each library's buffer lands relative to the stream would decide the result.
/// Pieces keep `memcpy` on vector moves, the same speed at every alignment, for everyone.
fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.chunks_mut(2048).zip(src.chunks(2048)) {
        d.copy_from_slice(s);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// About 4 MiB (at least 8 messages) of client frames carrying `payload(len)`.
fn client_stream(len: usize) -> Rc<Vec<u8>> {
    let count = ((4 << 20) / (len + 14)).max(8);
    let mut client = Connection::with_seed(Role::Client, Config::default(), [5; 32]);
    let data = payload(len);
    let mut wire = Vec::new();
    for _ in 0..count {
        client.send_binary(&data).unwrap();
        wire.extend_from_slice(client.pending_output());
        let n = client.pending_output().len();
        client.consume_output(n);
    }
    Rc::new(wire)
}

const DECODERS: [&str; 7] = [
    "rfc6455",
    "rfc6455 read()",
    "floor",
    "tungstenite",
    "tokio-websockets",
    "fastwebsockets",
    "rfc6455-tokio read()",
];

fn decode_jobs(wire: &Rc<Vec<u8>>, len: usize) -> Vec<Box<dyn Job>> {
    let expect = move |got: usize| assert_eq!(got, len, "decoded a message of the wrong size");

    let mut conn = Connection::new(Role::Server, Config::default());
    let mut src = MemStream::new(wire);
    let ours = move |n: u64| {
        let mut seen = 0;
        while seen < n {
            match conn.next_event().unwrap() {
                Some(Event::Binary(data)) => {
                    expect(black_box(data).len());
                    seen += 1;
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => {
                    let k = src.fill(conn.recv_buf());
                    conn.recv_filled(k);
                }
            }
        }
    };

    let mut ws = rfc6455::blocking::WebSocket::from_stream(
        MemStream::new(wire),
        Role::Server,
        Config::default(),
    );
    let owned = move |n: u64| {
        for _ in 0..n {
            match ws.read().unwrap() {
                Some(rfc6455::blocking::Message::Binary(data)) => expect(black_box(data).len()),
                other => panic!("unexpected {other:?}"),
            }
        }
    };

    let data = Rc::clone(wire);
    let mut pos = 0;
    let mut dst = vec![0_u8; len + 14];
    let floor = move |n: u64| {
        for _ in 0..n {
            if pos == data.len() {
                pos = 0;
            }
            let frame = &data[pos..];
            let (ext, len) = match frame[1] & 0x7f {
                126 => (2, usize::from(u16::from_be_bytes([frame[2], frame[3]]))),
                127 => {
                    let mut b = [0; 8];
                    b.copy_from_slice(&frame[2..10]);
                    (8, u64::from_be_bytes(b) as usize)
                }
                short => (0, usize::from(short)),
            };
            let mut key = [0; 4];
            key.copy_from_slice(&frame[2 + ext..6 + ext]);
            let header = 6 + ext;
            let total = header + len;
            copy(&mut dst[..total], &frame[..total]);
            rfc6455::mask::apply_mask(&mut dst[header..total], key, 0);
            expect(black_box(&dst[header..total]).len());
            pos += total;
        }
    };

    let mut tung = tungstenite::WebSocket::from_raw_socket(
        MemStream::new(wire),
        tungstenite::protocol::Role::Server,
        None,
    );
    let tungstenite = move |n: u64| {
        for _ in 0..n {
            match tung.read().unwrap() {
                tungstenite::Message::Binary(data) => expect(black_box(data).len()),
                other => panic!("unexpected {other:?}"),
            }
        }
    };

    let rt = runtime();
    let mut tws = tokio_websockets::ServerBuilder::new().serve(MemStream::new(wire));
    let tokio_ws = move |n: u64| {
        rt.block_on(async {
            for _ in 0..n {
                let message = tws.next().await.unwrap().unwrap();
                assert!(message.is_binary());
                expect(black_box(message.as_payload()).len());
            }
        })
    };

    let rt = runtime();
    let mut fws = fastwebsockets::WebSocket::after_handshake(
        MemStream::new(wire),
        fastwebsockets::Role::Server,
    );
    let fast = move |n: u64| {
        rt.block_on(async {
            for _ in 0..n {
                let frame = fws.read_frame().await.unwrap();
                assert_eq!(frame.opcode, fastwebsockets::OpCode::Binary);
                expect(black_box(&frame.payload[..]).len());
            }
        })
    };

    // The async adapter's owned read, as `tokio_echo_server` uses it; its keepalive timer
    // needs the runtime's clock.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let mut aws = rt.block_on(async {
        rfc6455::tokio::WebSocket::from_stream(
            MemStream::new(wire),
            Role::Server,
            Config::default(),
        )
    });
    let owned_async = move |n: u64| {
        rt.block_on(async {
            for _ in 0..n {
                match aws.read().await.unwrap() {
                    Some(rfc6455::Message::Binary(data)) => expect(black_box(data).len()),
                    other => panic!("unexpected {other:?}"),
                }
            }
        })
    };

    vec![
        Box::new(ours),
        Box::new(owned),
        Box::new(floor),
        Box::new(tungstenite),
        Box::new(tokio_ws),
        Box::new(fast),
        Box::new(owned_async),
    ]
}

pub fn run_decode(plan: Plan) -> Vec<Target> {
    println!(
        "\n## Server decode of client-masked binary messages from memory (messages/s; rfc6455 / other in brackets)\n"
    );
    println!("| size | {} | rfc6455 GB/s |", DECODERS.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(DECODERS.len()));
    let mut targets = Vec::new();
    for len in SIZES {
        let wire = client_stream(len);
        let mut jobs = decode_jobs(&wire, len);
        let rates = rotate(&mut jobs, plan);
        let mut row = format!("| {} | {}", size_name(len), si(median(&rates[0])));
        for i in 1..DECODERS.len() {
            row += &format!(
                " | {} ({:.2}x)",
                si(median(&rates[i])),
                ratio(&rates[0], &rates[i])
            );
        }
        println!("{row} | {:.1} |", median(&rates[0]) * len as f64 / 1e9);
        // Columns: 0 rfc6455 (borrowed), 1 rfc6455 read() (owned), 2 floor, 3 tungstenite,
        // 6 rfc6455-tokio read() (owned, async).
        let mut target = |what: String, r: f64, goal: f64| {
            targets.push(Target::at_least(what, r, goal));
        };
        if len == 16 {
            target(
                "decode 16 B >= 2x tungstenite".into(),
                ratio(&rates[0], &rates[3]),
                2.0,
            );
            target(
                "owned read() 16 B >= 1.5x tungstenite".into(),
                ratio(&rates[1], &rates[3]),
                1.5,
            );
        }
        target(
            format!("tokio read() {} >= 0.95x blocking read()", size_name(len)),
            ratio(&rates[6], &rates[1]),
            0.95,
        );
        if len >= 64 << 10 {
            let name = size_name(len);
            target(
                format!("decode {name} >= 0.95x floor"),
                ratio(&rates[0], &rates[2]),
                0.95,
            );
            target(
                format!("owned read() {name} >= 0.90x floor"),
                ratio(&rates[1], &rates[2]),
                0.90,
            );
        }
    }
    targets
}

const ENCODERS: [&str; 4] = [
    "rfc6455",
    "tungstenite",
    "tokio-websockets",
    "fastwebsockets",
];

fn encode_jobs(len: usize) -> Vec<Box<dyn Job>> {
    let data = Rc::new(payload(len));
    let bytes = Bytes::from(payload(len));
    let sink = Rc::new(Vec::new());

    let mut conn = Connection::new(Role::Client, Config::default());
    let d = Rc::clone(&data);
    let ours = move |n: u64| {
        for _ in 0..n {
            conn.send_binary(black_box(&d)).unwrap();
            let k = black_box(conn.pending_output()).len();
            conn.consume_output(k);
        }
    };

    let mut tung = tungstenite::WebSocket::from_raw_socket(
        MemStream::new(&sink),
        tungstenite::protocol::Role::Client,
        None,
    );
    let b = bytes.clone();
    let tungstenite = move |n: u64| {
        for _ in 0..n {
            tung.send(tungstenite::Message::Binary(b.clone())).unwrap();
        }
    };

    let rt = runtime();
    let mut tws = tokio_websockets::ClientBuilder::new().take_over(MemStream::new(&sink));
    let b = bytes.clone();
    let tokio_ws = move |n: u64| {
        rt.block_on(async {
            for _ in 0..n {
                tws.send(tokio_websockets::Message::binary(b.clone()))
                    .await
                    .unwrap();
            }
        })
    };

    // fastwebsockets masks the payload in place, so a borrowed payload is copied into an owned
    // one first: the same contract as the others (the caller's bytes are left alone).
    let rt = runtime();
    let mut fws = fastwebsockets::WebSocket::after_handshake(
        MemStream::new(&sink),
        fastwebsockets::Role::Client,
    );
    let d = Rc::clone(&data);
    let fast = move |n: u64| {
        rt.block_on(async {
            for _ in 0..n {
                let frame = fastwebsockets::Frame::binary(fastwebsockets::Payload::Borrowed(&d));
                fws.write_frame(frame).await.unwrap();
            }
        })
    };

    vec![
        Box::new(ours),
        Box::new(tungstenite),
        Box::new(tokio_ws),
        Box::new(fast),
    ]
}

pub fn run_encode(plan: Plan) {
    println!(
        "\n## Client encode (masked) into a discarding stream (messages/s; rfc6455 / other in brackets)\n"
    );
    println!("| size | {} | rfc6455 GB/s |", ENCODERS.join(" | "));
    println!("|---|{}---:|", "---:|".repeat(ENCODERS.len()));
    for len in SIZES {
        let mut jobs = encode_jobs(len);
        let rates = rotate(&mut jobs, plan);
        let mut row = format!("| {} | {}", size_name(len), si(median(&rates[0])));
        for i in 1..ENCODERS.len() {
            row += &format!(
                " | {} ({:.2}x)",
                si(median(&rates[i])),
                ratio(&rates[0], &rates[i])
            );
        }
        println!("{row} | {:.1} |", median(&rates[0]) * len as f64 / 1e9);
    }
}
