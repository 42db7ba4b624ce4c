//! Cancel safety of the tokio adapter: reads and sends dropped at random await points, over a
//! mock stream that answers `Pending`, short reads and short writes at random (a seeded,
//! deterministic generator). Nothing may be lost, duplicated or cut.
#![cfg(feature = "tokio")]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use rfc6455::tokio::{Message, WebSocket};
use rfc6455::{CloseCode, Config, Connection, MessageKind, Role};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// xorshift64*: small, deterministic, good enough to pick chunk sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A stream that serves `input` and collects what is written, returning `Pending` (after
/// waking itself) or a short read or write at random.
struct Mock {
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
    rng: Rng,
    shut_down: bool,
}

impl Mock {
    fn new(input: Vec<u8>, seed: u64) -> Mock {
        Mock {
            input,
            pos: 0,
            output: Vec::new(),
            rng: Rng(seed | 1),
            shut_down: false,
        }
    }

    fn stall(&mut self, cx: &mut Context<'_>) -> bool {
        if self.rng.below(3) == 0 {
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }
}

impl AsyncRead for Mock {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.stall(cx) {
            return Poll::Pending;
        }
        let left = this.input.len() - this.pos;
        if left == 0 {
            return Poll::Ready(Ok(())); // the end of the stream
        }
        let n = 1 + this.rng.below(left.min(buf.remaining()).min(700));
        buf.put_slice(&this.input[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Mock {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        assert!(!this.shut_down, "a write after the shutdown");
        if this.stall(cx) {
            return Poll::Pending;
        }
        let n = 1 + this.rng.below(data.len().min(900));
        this.output.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.get_mut().stall(cx) {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.stall(cx) {
            return Poll::Pending;
        }
        this.shut_down = true;
        Poll::Ready(Ok(()))
    }
}

/// A future that is `Pending` `n` times (waking itself), then ready: a timeout that fires
/// after a random number of polls.
async fn after_polls(n: usize) {
    let mut left = n;
    std::future::poll_fn(|cx| {
        if left == 0 {
            return Poll::Ready(());
        }
        left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

fn payload(rng: &mut Rng, i: usize) -> Vec<u8> {
    let len = match rng.below(10) {
        0 => 20_000 + rng.below(30_000), // the copy-free path of a server
        1 => 0,
        _ => rng.below(2_000),
    };
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

/// Every message the peer sent arrives once, whole and in order, whatever reads were
/// cancelled; pings are answered and the close echoed.
#[tokio::test]
async fn cancelled_reads_lose_nothing() {
    for seed in 1..=12u64 {
        let mut rng = Rng(seed * 0x9e37_79b9);
        let mut peer = Connection::with_seed(Role::Client, Config::default(), [seed as u8; 32]);
        let mut expected = Vec::new();
        for i in 0..60 {
            let data = payload(&mut rng, i);
            match rng.below(6) {
                0 => {
                    peer.send_ping(&data[..data.len().min(100)]).expect("ping");
                    expected.push(Message::Ping(data[..data.len().min(100)].to_vec()));
                }
                1 => {
                    // Fragmented, with a ping in the middle.
                    let (a, b) = data.split_at(data.len() / 2);
                    peer.send_fragment(MessageKind::Binary, a, false)
                        .expect("frag");
                    peer.send_ping(b"mid").expect("ping");
                    peer.send_fragment(MessageKind::Binary, b, true)
                        .expect("frag");
                    expected.push(Message::Ping(b"mid".to_vec()));
                    expected.push(Message::Binary(data.into()));
                }
                2 => {
                    let text: String = data.iter().map(|b| char::from(b'a' + b % 26)).collect();
                    peer.send_text(&text).expect("text");
                    expected.push(Message::Text(text));
                }
                _ => {
                    peer.send_binary(&data).expect("binary");
                    expected.push(Message::Binary(data.into()));
                }
            }
        }
        peer.close(CloseCode::NORMAL, "end").expect("close");
        expected.push(Message::Close(CloseCode::NORMAL, "end".into()));
        let input = peer.pending_output().to_vec();
        let n = input.len();
        peer.consume_output(n);

        let mut ws =
            WebSocket::from_stream(Mock::new(input, seed), Role::Server, Config::default());
        let mut got = Vec::new();
        let mut cancelled = 0;
        loop {
            let polls = rng.below(8);
            tokio::select! {
                biased;
                read = ws.read() => match read.expect("read") {
                    Some(message) => got.push(message),
                    None => break,
                },
                () = after_polls(polls) => cancelled += 1,
            }
        }
        assert!(
            cancelled > 20,
            "seed {seed}: only {cancelled} cancellations"
        );
        assert_eq!(got.len(), expected.len(), "seed {seed}");
        assert!(got == expected, "seed {seed}: messages differ");

        // What the server wrote: valid frames, pongs, then the close echo and a shutdown.
        let (mock, _) = ws.into_parts();
        assert!(mock.shut_down, "seed {seed}: the stream was not ended");
        peer.recv(&mock.output);
        let mut pongs = 0;
        let mut closed = false;
        while let Some(event) = peer.next_event().expect("valid frames from the server") {
            match Message::from(event) {
                Message::Pong(_) => pongs += 1,
                Message::Close(code, _) => closed = code == CloseCode::NORMAL,
                other => panic!("seed {seed}: unexpected {other:?}"),
            }
        }
        assert!(pongs >= 1, "seed {seed}: no pong");
        assert!(closed, "seed {seed}: no close echo");
    }
}

/// Sends cancelled at random points either queued their message whole or not at all: the
/// peer decodes valid frames, every completed send arrives, and nothing arrives twice or out
/// of order.
#[tokio::test]
async fn cancelled_sends_queue_whole_messages_or_nothing() {
    for seed in 1..=12u64 {
        let mut rng = Rng(seed * 0x51_7cc1_b727);
        let mut config = Config::default();
        config.write_buffer_cap = 8 * 1024;
        let mut ws = WebSocket::from_stream(Mock::new(Vec::new(), seed), Role::Server, config);
        let attempts: Vec<Vec<u8>> = (0..80).map(|i| payload(&mut rng, i)).collect();
        let mut completed = Vec::new();
        let mut cancelled = 0;
        for (i, data) in attempts.iter().enumerate() {
            let polls = rng.below(12);
            tokio::select! {
                biased;
                sent = ws.send_binary(data) => {
                    sent.expect("send");
                    completed.push(i);
                }
                () = after_polls(polls) => cancelled += 1,
            }
            // The bound: the cap, or one message (with its header) queued into an empty queue.
            let largest = attempts.iter().map(Vec::len).max().unwrap_or(0);
            assert!(
                ws.connection().pending_output().len() <= (8 * 1024).max(largest + 14),
                "seed {seed}: the send queue went past its bound"
            );
        }
        assert!(cancelled > 5, "seed {seed}: only {cancelled} cancellations");
        ws.flush().await.expect("flush");

        let (mock, _) = ws.into_parts();
        let mut peer = Connection::with_seed(Role::Client, Config::default(), [1; 32]);
        peer.recv(&mock.output);
        let mut arrived = Vec::new();
        while let Some(event) = peer.next_event().expect("whole, valid frames") {
            let Message::Binary(data) = Message::from(event) else {
                panic!("seed {seed}: not a binary message");
            };
            // Which attempt: the next one with these bytes, after the last one found.
            let from = arrived.last().map_or(0, |&i: &usize| i + 1);
            let index = (from..attempts.len())
                .find(|&i| attempts[i] == data)
                .unwrap_or_else(|| panic!("seed {seed}: a message that was not sent, or twice"));
            arrived.push(index);
        }
        for i in &completed {
            assert!(arrived.contains(i), "seed {seed}: completed send {i} lost");
        }
    }
}
