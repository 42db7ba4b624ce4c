//! Steady state costs no heap allocation: the borrowing read path and the send path reuse
//! their buffers. Counted with a global allocator that counts this thread's allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read, Write};

use rfc6455::blocking::WebSocket;
use rfc6455::{Config, Connection, Event, Message, MessageKind, Role};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method forwards its call unchanged to the system allocator, which upholds
// `GlobalAlloc`'s contract; counting touches only a thread-local integer. (Test-only: the
// library itself has no unsafe code outside the SIMD masking paths.)
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|c| c.set(c.get() + layout.size() as u64));
        // SAFETY: forwarded with the caller's layout, which meets `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|c| c.set(c.get() + new_size as u64));
        // SAFETY: `ptr` came from `System` with `layout`; forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

/// Allocations made by `f`.
fn count(f: impl FnOnce()) -> u64 {
    let before = allocations();
    f();
    allocations() - before
}

/// Allocations made by `f`, and the bytes they asked for.
fn count_bytes(f: impl FnOnce()) -> (u64, u64) {
    let before = BYTES.with(Cell::get);
    let allocs = count(f);
    (allocs, BYTES.with(Cell::get) - before)
}

/// A client's byte stream: one 16 B text, one 1 KiB binary, one 3-fragment message and a
/// ping, repeated.
fn client_stream(rounds: usize) -> Vec<u8> {
    let mut config = Config::default();
    config.fragment_size = 300.try_into().unwrap();
    let mut client = Connection::with_seed(Role::Client, config, [3; 32]);
    for _ in 0..rounds {
        client.send_text("sixteen bytes!!!").unwrap();
        client.send_binary(&[7; 1024]).unwrap();
        client.send_binary(&[9; 800]).unwrap(); // fragmented at 300
        client.send_ping(b"p").unwrap();
    }
    client.pending_output().to_vec()
}

fn read_all(server: &mut Connection, seen: &mut usize) {
    while let Some(event) = server.next_event().unwrap() {
        match event {
            Event::Text(t) => assert_eq!(t.len(), 16),
            Event::Binary(b) => assert!(b.len() == 1024 || b.len() == 800),
            Event::Ping(_) => {}
            other => panic!("unexpected {other:?}"),
        }
        *seen += 1;
    }
    let n = server.pending_output().len();
    server.consume_output(n);
}

#[test]
fn steady_state_is_allocation_free() {
    // --- Sans-IO receive path, in 1400-byte segments.
    let warm = client_stream(20);
    let stream = client_stream(200);
    let mut server = Connection::new(Role::Server, Config::default());
    let mut seen = 0;
    for chunk in warm.chunks(1400) {
        server.recv(chunk);
        read_all(&mut server, &mut seen);
    }
    let allocs = count(|| {
        for chunk in stream.chunks(1400) {
            server.recv(chunk);
            read_all(&mut server, &mut seen);
        }
    });
    assert_eq!(seen, 4 * 220);
    assert_eq!(allocs, 0, "receive path allocated");

    // --- Send path, both roles (masking included), including fragments.
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, Config::default());
        let send = |conn: &mut Connection| {
            conn.send_text("sixteen bytes!!!").unwrap();
            conn.send_binary(&[1; 1024]).unwrap();
            conn.send_fragment(MessageKind::Binary, &[2; 100], false)
                .unwrap();
            conn.send_fragment(MessageKind::Binary, &[2; 100], true)
                .unwrap();
            conn.send_ping(b"x").unwrap();
            let n = conn.pending_output().len();
            conn.consume_output(n);
        };
        for _ in 0..10 {
            send(&mut conn);
        }
        let allocs = count(|| {
            for _ in 0..1000 {
                send(&mut conn);
            }
        });
        assert_eq!(allocs, 0, "{role:?} send path allocated");
    }

    // --- The blocking adapter's borrowing read and its send, over an in-memory stream.
    let mut ws = WebSocket::from_stream(
        Memory {
            input: client_stream(230),
            pos: 0,
        },
        Role::Server,
        Config::default(),
    );
    for _ in 0..80 {
        ws.read_event().unwrap().unwrap();
    }
    let allocs = count(|| {
        for _ in 0..800 {
            match ws.read_event().unwrap().unwrap() {
                Event::Text(_) | Event::Binary(_) | Event::Ping(_) => {}
                other => panic!("unexpected {other:?}"),
            }
            ws.send_binary(b"reply").unwrap();
        }
    });
    assert_eq!(allocs, 0, "blocking read_event + send allocated");
    // The counter sees allocations: the owned path makes one per message.
    assert!(count(|| drop(ws.read().unwrap())) > 0);
}

/// Reads from a buffer in 1400-byte segments; writes go nowhere.
struct Memory {
    input: Vec<u8>,
    pos: usize,
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(1400).min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Large messages too: 64 KiB and 1 MiB binary messages read through `recv_buf` (a socket
/// that always has more to give) and through the blocking adapter, and sent by both roles
/// (a server sends 64 KiB and more without copying, as a vectored write).
#[test]
fn large_messages_are_allocation_free() {
    for len in [64 << 10, 1 << 20] {
        let mut client = Connection::with_seed(Role::Client, Config::default(), [4; 32]);
        let payload = vec![5; len];
        for _ in 0..12 {
            client.send_binary(&payload).unwrap();
        }
        let wire = client.pending_output().to_vec();

        // Sans-IO, reading straight into the connection's buffer.
        let mut server = Connection::new(Role::Server, Config::default());
        let mut pos = 0;
        let mut read_one = |server: &mut Connection| loop {
            match server.next_event().unwrap() {
                Some(Event::Binary(data)) => {
                    assert_eq!(data.len(), len);
                    return;
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => {
                    let buf = server.recv_buf();
                    let n = buf.len().min(wire.len() - pos);
                    buf[..n].copy_from_slice(&wire[pos..pos + n]);
                    server.recv_filled(n);
                    pos += n;
                }
            }
        };
        // The receive buffer grows with what arrives for the first few messages, then stays.
        for _ in 0..6 {
            read_one(&mut server);
        }
        assert_eq!(count(|| (0..6).for_each(|_| read_one(&mut server))), 0);

        // Sending, both roles.
        for role in [Role::Server, Role::Client] {
            let mut conn = Connection::new(role, Config::default());
            let mut send = || {
                conn.send_binary(&payload).unwrap();
                let n = conn.pending_output().len();
                conn.consume_output(n);
            };
            send();
            assert_eq!(count(|| (0..5).for_each(|_| send())), 0, "{role:?} send");
        }

        // The blocking adapter: borrowed reads, and a server's unbuffered send.
        let mut ws = WebSocket::from_stream(
            Memory {
                input: wire.clone(),
                pos: 0,
            },
            Role::Server,
            Config::default(),
        );
        for _ in 0..6 {
            ws.read_event().unwrap().unwrap();
            ws.send_binary(&payload).unwrap();
        }
        let allocs = count(|| {
            for _ in 0..6 {
                assert!(matches!(ws.read_event(), Ok(Some(Event::Binary(d))) if d.len() == len));
                ws.send_binary(&payload).unwrap();
            }
        });
        assert_eq!(
            allocs, 0,
            "blocking read_event + send of {len} bytes allocated"
        );
    }
}

/// The owned read: a binary message of up to 30 bytes allocates nothing (it is stored inline),
/// a larger small one allocates its own size once, and one of 32 KiB or more only the handle
/// of the receive buffer it is lent with (no copy, no buffer of its size).
#[test]
fn owned_reads_allocate_at_most_their_own_size() {
    for (len, allocs, most_bytes) in [
        (16, 0, 0),
        (1024, 1, 1024),
        (64 << 10, 1, 64),
        (1 << 20, 1, 64),
    ] {
        let mut client = Connection::with_seed(Role::Client, Config::default(), [6; 32]);
        let payload = vec![9; len];
        for _ in 0..12 {
            client.send_binary(&payload).unwrap();
        }
        let mut ws = WebSocket::from_stream(
            Memory {
                input: client.pending_output().to_vec(),
                pos: 0,
            },
            Role::Server,
            Config::default(),
        );
        let mut read = || match ws.read().unwrap() {
            Some(Message::Binary(data)) => assert!(data == payload, "a {len}-byte message differs"),
            other => panic!("unexpected {other:?}"),
        };
        // The receive buffer grows with what arrives for the first few messages, then stays.
        for _ in 0..6 {
            read();
        }
        let (n, bytes) = count_bytes(|| (0..6).for_each(|_| read()));
        assert_eq!(n, 6 * allocs, "allocations for six {len}-byte messages");
        assert!(
            bytes <= 6 * most_bytes,
            "{bytes} bytes allocated for six {len}-byte messages"
        );
    }
}
