//! Adversarial peers: each case of the "adversarial tests" list of the fuzzing issue, with
//! the precise outcome asserted (error variant, close code or HTTP status) and, where memory
//! is the point, a bound measured with a counting allocator.
//!
//! The protocol's rules (masking, RSV bits and opcodes, control frames, close codes, UTF-8,
//! fragmentation, length forms, limits, EOF) have their sans-IO home in `connection.rs`. This
//! file keeps the hostile-peer cases (hostile handshakes, absurd lengths, floods, stalled,
//! slow and cut-off peers), with memory or time measured where that is the point, and the
//! wire checks: the `..._on_the_wire` tests put some of those rules through the blocking
//! adapters on 127.0.0.1 (port 0) against a raw peer.
//!
//! Speed is never asserted as wall-clock time. Where the point is "linear work" (the long
//! header line and the empty list elements), the test feeds two sizes, 4x apart, one byte
//! at a time, and checks the cost grows about 4x (bounded by 10x) rather than 16x: a ratio of minima over interleaved runs, which
//! load on the machine shifts for both sizes alike. Where the point is memory, the bound is
//! on bytes allocated by the test's own thread (peak over the operation), counted exactly.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rfc6455::blocking::{Acceptor, ClientBuilder, Error, Message, WebSocket};
use rfc6455::frame::{FrameError, OpCode};
use rfc6455::handshake::{
    ClientHandshake, ClientOptions, HandshakeError, HeaderError, Limits, Request, RequestError,
    Response, ResponseError, ServerHandshake, Url, accept_key,
};
use rfc6455::{CloseCode, Config, Connection, Event, ProtocolError, Role, SendError, State};
use support::frames::{KEY, both_roles, close_payload, decode_frames, header_to, raw_frame, to};
use support::raw::{
    ACCEPT, header_value, raw_accept, raw_client, raw_connect, read_frame, read_head,
};
use support::seen::{Seen, drain, feed, one_chunk_and_bytewise};
use support::{GUARD, join, listen, spawn_server};

// ---------------------------------------------------------------- counting allocator

/// Counts the bytes each thread has allocated and not freed, and the peak of that count.
/// Per thread, so tests running in parallel do not disturb each other's numbers.
struct Counting;

thread_local! {
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn record(delta: isize) {
    let _ = CURRENT.try_with(|current| {
        let now = current.get() + delta;
        current.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every method forwards to the system allocator unchanged, which upholds
// `GlobalAlloc`'s contract; the counting only touches thread-local integers with constant
// initialisers, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size() as isize);
        // SAFETY: the caller's layout is forwarded unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size() as isize);
        // SAFETY: the caller's layout is forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(-(layout.size() as isize));
        // SAFETY: `ptr` was allocated by `System` with this layout (every allocation
        // goes through this allocator).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size as isize - layout.size() as isize);
        // SAFETY: `ptr` was allocated by `System` with `layout`; forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result and the peak number of bytes this thread held allocated
/// during it, above what it held before.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let out = f();
    let peak = PEAK.with(Cell::get) - start;
    (out, peak.max(0) as usize)
}

/// Bytes this thread holds allocated now (relative: compare two readings).
fn current() -> isize {
    CURRENT.with(Cell::get)
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

// ---------------------------------------------------------------- sans-IO helpers

fn conn(role: Role, config: &Config) -> Connection {
    Connection::with_seed(role, config.clone(), [3; 32])
}

/// Feeds `input` to a fresh connection in one chunk and one byte at a time; both must give
/// the same events and output, which are returned.
fn run(role: Role, config: &Config, input: &[u8]) -> (Vec<Seen>, Vec<u8>) {
    one_chunk_and_bytewise(|| conn(role, config), input)
}

/// Frames in `bytes` as sent by `from`: (opcode, payload unmasked).
fn frames(from: Role, bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
    decode_frames(from, bytes)
        .into_iter()
        .map(|(op, _, payload)| (op, payload))
        .collect()
}

/// The connection failed with `error` (close code `code`) in both deliveries, before any
/// event, and queued exactly one close frame carrying `code`, last.
fn fails(role: Role, input: &[u8], error: ProtocolError, code: u16) {
    let (seen, out) = run(role, &Config::default(), input);
    assert_eq!(seen, vec![Seen::Error(error)]);
    assert_eq!(error.close_code().0, code);
    let sent = frames(role, &out);
    let (op, payload) = sent.last().expect("a close frame was queued");
    assert_eq!(*op, OpCode::Close);
    assert_eq!(payload[..], code.to_be_bytes());
    assert_eq!(
        sent.iter().filter(|(op, _)| *op == OpCode::Close).count(),
        1
    );
}

// ---------------------------------------------------------------- handshake helpers

const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// The valid request with `replace` (a header name) removed and `extra` lines added.
fn request_with(drop: &str, extra: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    for line in REQUEST.split("\r\n").filter(|l| !l.is_empty()) {
        if drop.is_empty() || !line.starts_with(drop) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    for line in extra {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Feeds a server handshake `chunk` bytes at a time until it completes or fails; returns the
/// outcome and how many bytes it took.
fn serve(
    limits: &Limits,
    data: &[u8],
    chunk: usize,
) -> (Result<Option<Request>, HandshakeError>, usize) {
    let mut server = ServerHandshake::new(limits.clone());
    let mut fed = 0;
    for piece in data.chunks(chunk.max(1)) {
        fed += piece.len();
        match server.recv(piece) {
            Ok(None) => {}
            done => return (done, fed),
        }
    }
    (Ok(None), fed)
}

/// The server's verdict on `data`, which must be the same in one chunk and one byte at a
/// time.
fn verdict(data: &[u8]) -> Result<Request, HandshakeError> {
    let limits = Limits::default();
    let (whole, _) = serve(&limits, data, data.len());
    let (bytewise, _) = serve(&limits, data, 1);
    match (whole, bytewise) {
        (Ok(Some(a)), Ok(Some(b))) => {
            assert_eq!(a.leftover(), b.leftover());
            Ok(a)
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            Err(a)
        }
        (a, b) => panic!("one chunk: {a:?}, one byte: {b:?}"),
    }
}

fn rejected(data: &[u8], error: HandshakeError, status: u16) {
    let e = verdict(data).expect_err("the request must be refused");
    assert_eq!(e, error);
    assert_eq!(e.status(), Some(status));
    let response = e.response().expect("a response to send");
    let status_line = format!("HTTP/1.1 {status} ");
    assert!(
        response.starts_with(status_line.as_bytes()),
        "{}",
        String::from_utf8_lossy(&response)
    );
    if status == 426 {
        assert!(contains(&response, b"\r\nSec-WebSocket-Version: 13\r\n"));
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A client handshake for ws://example.com/chat with the RFC's sample key.
fn client_hs(options: ClientOptions) -> ClientHandshake {
    let url = Url::parse("ws://example.com/chat").unwrap();
    ClientHandshake::new(&url, &options, *b"the sample nonce").unwrap()
}

/// The head of a valid 101 (without its final empty line) with this accept value.
fn ok_101(accept: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n"
    )
}

/// Feeds a response to a client handshake, `chunk` bytes at a time.
fn connect_hs(
    options: ClientOptions,
    data: &[u8],
    chunk: usize,
) -> Result<Option<Response>, HandshakeError> {
    let mut client = client_hs(options);
    for piece in data.chunks(chunk.max(1)) {
        match client.recv(piece) {
            Ok(None) => {}
            done => return done,
        }
    }
    Ok(None)
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so that time the thread spends
/// waiting while other processes run does not count. Elsewhere than Linux, the wall clock.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `struct timespec` (two 64-bit fields on the 64-bit
    // Linux targets this runs on) through a pointer to a live, writable `Timespec`, and
    // reads nothing else.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn cpu_time() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Measures the CPU time of `cost(n)` and `cost(16 n)`, interleaved, best of `rounds`, and
/// asserts the larger costs under 64x the smaller: linear work gives about 16x (a little
/// more when the larger input leaves the caches), quadratic work 256x. The margin of 4x
/// either way is what makes this safe to run on a loaded machine and in debug builds.
fn assert_linear(what: &str, n: usize, rounds: usize, mut cost: impl FnMut(usize)) {
    let mut small = Duration::MAX;
    let mut large = Duration::MAX;
    for _ in 0..rounds {
        let t = cpu_time();
        cost(n);
        small = small.min(cpu_time().saturating_sub(t));
        let t = cpu_time();
        cost(16 * n);
        large = large.min(cpu_time().saturating_sub(t));
    }
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    eprintln!("{what}: 16x the input cost {ratio:.1}x ({small:?} vs {large:?})");
    assert!(
        ratio < 64.0,
        "{what}: 16x the input cost {ratio:.1}x ({small:?} vs {large:?})"
    );
}

// ---------------------------------------------------------------- loopback helpers

/// A frame read off the wire, as (opcode, unmasked payload).
type OpPayload = (u8, Vec<u8>);

/// Builds the head of a bad 101 from the accept value the request calls for.
type BadResponse = fn(&str) -> String;

/// Our server with `acceptor`, on the first connection, running `serve` on the socket.
fn spawn_ws_server<T: Send + 'static>(
    acceptor: Acceptor,
    serve: impl FnOnce(WebSocket<TcpStream>) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<T>) {
    spawn_server(move |stream| {
        let mut ws = acceptor.accept(stream).expect("server handshake");
        ws.set_read_timeout(Some(GUARD));
        serve(ws)
    })
}

/// A raw client sends `bytes` after the handshake; our server reads until it is done.
/// Returns what the server read (its error last) and the frames the client got back.
fn raw_to_server(config: Config, bytes: Vec<u8>) -> (Vec<Result<Message, String>>, Vec<OpPayload>) {
    let (addr, server) = spawn_ws_server(Acceptor::new().config(config), |mut ws| {
        let mut seen = Vec::new();
        loop {
            match ws.read() {
                Ok(Some(m)) => seen.push(Ok(m)),
                Ok(None) => return seen,
                Err(e) => {
                    seen.push(Err(format!("{e:?}")));
                    return seen;
                }
            }
        }
    });
    let mut client = raw_client(addr);
    client.write_all(&bytes).unwrap();
    let seen = join(server);
    let mut back = Vec::new();
    while let Ok(frame) = read_frame(&mut client) {
        back.push((frame.opcode, frame.payload));
    }
    (seen, back)
}

/// The server failed with `error` and the raw client got one close frame with `code`.
fn server_fails_on_the_wire(config: Config, bytes: Vec<u8>, error: ProtocolError, code: u16) {
    let (seen, back) = raw_to_server(config, bytes);
    assert_eq!(
        seen.last(),
        Some(&Err(format!("{:?}", Error::Protocol(error))))
    );
    assert_eq!(back, vec![(0x8, code.to_be_bytes().to_vec())]);
}

// ================================================================ slowloris

#[test]
fn slowloris_handshake_is_cut_at_the_total_deadline() {
    // Sans-IO: a request that never ends, one byte per call, is held to max_header_bytes.
    let mut server = ServerHandshake::new(Limits::default());
    let start = b"GET / HTTP/1.1\r\nHost: a\r\n";
    let mut fed = 0;
    let error = loop {
        let byte = start
            .get(fed)
            .copied()
            .unwrap_or(if fed % 20 == 19 { b'\n' } else { b'x' });
        fed += 1;
        match server.recv(&[byte]) {
            Ok(None) => {}
            Ok(Some(_)) => panic!("completed"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        error,
        HandshakeError::Request(RequestError::Header(HeaderError::TooManyHeaders {
            limit: 96
        }))
    );
    assert_eq!(error.status(), Some(431));
    assert!(fed <= 64 * KIB);

    // Loopback: one byte every 100 ms against a 500 ms handshake deadline.
    let deadline = Duration::from_millis(500);
    let (addr, server) = spawn_server(move |stream| {
        let started = Instant::now();
        let result = Acceptor::new().handshake_timeout(deadline).accept(stream);
        (result.map(drop), started.elapsed())
    });
    let mut client = raw_connect(addr);
    let slow = thread::spawn(move || {
        for &byte in b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if client.write_all(&[byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let (result, elapsed) = join(server);
    match result {
        Err(Error::HandshakeTimeout(d)) => assert_eq!(d, deadline),
        other => panic!("expected HandshakeTimeout, got {other:?}"),
    }
    // The thread is free at the deadline (generous upper bound for a loaded machine).
    assert!(
        elapsed >= deadline && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    join(slow);
}

// ================================================================ one 20 MB header line

#[test]
fn a_20_mb_header_line_is_cut_at_the_line_cap() {
    let limits = Limits::default();
    let mut line = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: ".to_vec();
    line.resize(20 * MIB, b'a');
    for chunk in [1, 1400] {
        let ((result, fed), peak) = peak_during(|| serve(&limits, &line, chunk));
        let e = result.expect_err("refused");
        assert_eq!(
            e,
            HandshakeError::Request(RequestError::Header(HeaderError::HeaderLineTooLong {
                limit: 8 * KIB
            }))
        );
        assert_eq!(e.status(), Some(431));
        // Stopped at the cap: within one chunk of the line limit, nothing beyond it kept.
        assert!(fed <= 25 + 8 * KIB + chunk + 1, "fed {fed}");
        assert!(peak < 64 * KIB, "peak {peak}");
    }
    // A 20 MB request line: 414.
    let mut start = b"GET /".to_vec();
    start.resize(20 * MIB, b'a');
    let (result, fed) = serve(&limits, &start, 1400);
    let e = result.expect_err("refused");
    assert_eq!(
        e,
        HandshakeError::Request(RequestError::Header(HeaderError::StartLineTooLong {
            limit: 8 * KIB
        }))
    );
    assert_eq!(e.status(), Some(414));
    assert!(fed <= 8 * KIB + 1400 + 1);

    // Parse work is linear: a header fed one byte at a time, with the limits out of the way.
    let mut open = Limits::default();
    open.max_line_bytes = 1 << 30;
    open.max_header_bytes = 1 << 30;
    assert_linear("header bytes one at a time", 16 * KIB, 3, |n| {
        let mut server = ServerHandshake::new(open.clone());
        let mut data = b"GET / HTTP/1.1\r\nX: ".to_vec();
        data.resize(n, b'a');
        for byte in data.chunks(1) {
            assert!(server.recv(byte).unwrap().is_none());
        }
    });

    // Loopback, in 1-byte and 1400-byte writes: the server answers 431 and hangs up.
    for chunk in [1, 1400] {
        let (addr, server) = spawn_server(|stream| Acceptor::new().accept(stream).map(drop));
        let mut client = raw_connect(addr);
        let writer = {
            let mut client = client.try_clone().unwrap();
            let line = line[..64 * KIB].to_vec();
            thread::spawn(move || {
                for piece in line.chunks(chunk) {
                    if client.write_all(piece).is_err() {
                        return;
                    }
                }
            })
        };
        match join(server) {
            Err(Error::Handshake(e)) => {
                assert_eq!(
                    e,
                    HandshakeError::Request(RequestError::Header(HeaderError::HeaderLineTooLong {
                        limit: 8 * KIB
                    }))
                );
            }
            other => panic!("expected a handshake error, got {other:?}"),
        }
        let head = read_head(&mut client);
        assert!(head.starts_with("HTTP/1.1 431 "), "{head}");
        join(writer);
    }
}

// ================================================================ 10,000 headers

#[test]
fn ten_thousand_headers_hit_the_count_cap() {
    let extra: Vec<String> = (0..10_000).map(|i| format!("X-{i}: v")).collect();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let data = request_with("", &extra);
    rejected(
        &data,
        HandshakeError::Request(RequestError::Header(HeaderError::TooManyHeaders {
            limit: 96,
        })),
        431,
    );
    // With the caps raised, all of them parse: the header slots are sized from the count.
    let mut limits = Limits::default();
    limits.max_headers = 20_000;
    limits.max_header_bytes = 1 << 20;
    let (result, _) = serve(&limits, &data, 4096);
    let request = result.unwrap().expect("complete");
    assert_eq!(request.headers().count(), 10_005);
    assert_eq!(request.header("X-9999"), Some("v"));
    // A response with 10,000 headers: the same cap on the client.
    let mut response =
        format!("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: {ACCEPT}\r\n");
    for i in 0..10_000 {
        response.push_str(&format!("X-{i}: v\r\n"));
    }
    response.push_str("\r\n");
    for chunk in [1, 1400] {
        let e = connect_hs(ClientOptions::new(), response.as_bytes(), chunk).unwrap_err();
        assert_eq!(
            e,
            HandshakeError::Response(ResponseError::Header(HeaderError::TooManyHeaders {
                limit: 96
            }))
        );
    }
}

// ================================================================ key and version

#[test]
fn bad_keys_are_400_and_bad_versions_426() {
    let key = "Sec-WebSocket-Key";
    let dup = request_with("", &["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]);
    rejected(
        &dup,
        HandshakeError::Request(RequestError::DuplicateKey),
        400,
    );
    // 15 and 17 bytes, base64-encoded; then not base64 at all.
    for bad in [
        "MTIzNDU2Nzg5MDEyMzQ1",
        "MTIzNDU2Nzg5MDEyMzQ1Njc=",
        "!!!!!!!!!!!!!!!!!!!!!!==",
        "dGhlIHNhbXBsZSBub25jZQ",
    ] {
        let data = request_with(key, &[&format!("{key}: {bad}")]);
        rejected(
            &data,
            HandshakeError::Request(RequestError::InvalidKey),
            400,
        );
    }
    rejected(
        &request_with(key, &[]),
        HandshakeError::Request(RequestError::MissingKey),
        400,
    );
    let version = "Sec-WebSocket-Version";
    for bad in ["8", "13, 8", "13,13", "14"] {
        let data = request_with(version, &[&format!("{version}: {bad}")]);
        rejected(
            &data,
            HandshakeError::Request(RequestError::UnsupportedVersion),
            426,
        );
    }
    let two = request_with("", &["Sec-WebSocket-Version: 8"]);
    rejected(
        &two,
        HandshakeError::Request(RequestError::UnsupportedVersion),
        426,
    );
    rejected(
        &request_with(version, &[]),
        HandshakeError::Request(RequestError::MissingVersion),
        426,
    );

    // On the wire: the server sends the status (and the version header with 426).
    for (data, error, status) in [
        (
            dup,
            HandshakeError::Request(RequestError::DuplicateKey),
            400,
        ),
        (
            request_with(version, &["Sec-WebSocket-Version: 8"]),
            HandshakeError::Request(RequestError::UnsupportedVersion),
            426,
        ),
    ] {
        let (addr, server) = spawn_server(|stream| Acceptor::new().accept(stream).map(drop));
        let mut client = raw_connect(addr);
        client.write_all(&data).unwrap();
        match join(server) {
            Err(Error::Handshake(e)) => assert_eq!(e, error),
            other => panic!("{other:?}"),
        }
        let head = read_head(&mut client);
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        if status == 426 {
            assert!(head.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{head}");
        }
    }
}

// ================================================================ empty list elements

#[test]
fn eight_kib_of_empty_list_elements_get_a_clean_answer() {
    // A value that fits the 8 KiB line limit: accepted, with empty lists.
    let commas = ", ".repeat(3990);
    for name in ["Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"] {
        let data = request_with("", &[&format!("{name}: {commas}")]);
        let request = verdict(&data).expect("empty elements are skipped");
        assert!(request.protocols().is_empty());
        assert!(request.extensions().is_empty());
        // A full 8 KiB value makes the line too long: 431.
        let long = ", ".repeat(4 * KIB);
        let data = request_with("", &[&format!("{name}: {long}")]);
        rejected(
            &data,
            HandshakeError::Request(RequestError::Header(HeaderError::HeaderLineTooLong {
                limit: 8 * KIB,
            })),
            431,
        );
    }
    // Linear in the value's length, with the limits out of the way.
    let mut open = Limits::default();
    open.max_line_bytes = 1 << 30;
    open.max_header_bytes = 1 << 30;
    for name in ["Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions"] {
        assert_linear(name, 16 * KIB, 3, |n| {
            let data = request_with("", &[&format!("{name}: {}", ", ".repeat(n / 2))]);
            let (result, _) = serve(&open, &data, data.len());
            assert!(result.unwrap().is_some());
        });
    }
}

// ================================================================ method, version, host, Connection

#[test]
fn post_405_http10_505_missing_host_400_and_connection_needs_the_upgrade_token() {
    let post = request_with("GET", &[]);
    let post = [b"POST /chat HTTP/1.1\r\n".as_slice(), &post].concat();
    rejected(
        &post,
        HandshakeError::Request(RequestError::MethodNotGet),
        405,
    );
    let http10 = String::from_utf8(request_with("", &[]))
        .unwrap()
        .replace("HTTP/1.1", "HTTP/1.0");
    rejected(
        http10.as_bytes(),
        HandshakeError::Request(RequestError::Header(HeaderError::HttpVersion)),
        505,
    );
    rejected(
        &request_with("Host", &[]),
        HandshakeError::Request(RequestError::MissingHost),
        400,
    );
    let keep_alive = request_with("Connection", &["Connection: keep-alive, Upgrade"]);
    assert!(verdict(&keep_alive).is_ok());
    let not = request_with("Connection", &["Connection: NotUpgrade"]);
    rejected(
        &not,
        HandshakeError::Request(RequestError::Header(HeaderError::NoConnectionUpgrade)),
        400,
    );
}

// ================================================================ pipelined frames

#[test]
fn frames_in_the_request_segment_are_delivered() {
    let frames = [
        to(Role::Server, true, 1, b"first"),
        to(Role::Server, true, 2, b"\x00\x01"),
        to(Role::Server, true, 9, b"p"),
    ]
    .concat();
    let data = [request_with("", &[]), frames.clone()].concat();
    // Sans-IO: the leftover is the frames, whatever the chunking.
    for chunk in [data.len(), 1400, 7, 1] {
        let mut server = ServerHandshake::new(Limits::default());
        let mut rest: Option<Vec<u8>> = None;
        for piece in data.chunks(chunk) {
            match &mut rest {
                Some(rest) => rest.extend_from_slice(piece),
                None => {
                    if let Some(mut request) = server.recv(piece).unwrap() {
                        rest = Some(request.take_leftover());
                    }
                }
            }
        }
        let rest = rest.expect("a complete request");
        assert_eq!(rest, frames, "chunk {chunk}");
        let (seen, _) = run(Role::Server, &Config::default(), &rest);
        assert_eq!(
            seen,
            vec![
                Seen::Text("first".into()),
                Seen::Binary(vec![0, 1]),
                Seen::Ping(b"p".to_vec())
            ]
        );
    }
    // Loopback: request and frames in one write.
    let (addr, server) = spawn_ws_server(Acceptor::new(), |mut ws| {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(ws.read().expect("read").expect("a message"));
        }
        seen
    });
    let mut client = raw_connect(addr);
    client.write_all(&data).unwrap();
    assert_eq!(
        join(server),
        vec![
            Message::Text("first".into()),
            Message::Binary(vec![0, 1].into()),
            Message::Ping(b"p".to_vec())
        ]
    );
}

// ================================================================ the client's checks

#[test]
fn client_refuses_bad_101s_and_bounds_refusals() {
    let ok = ok_101(ACCEPT);
    let cases: Vec<(String, HandshakeError)> = vec![
        (
            ok.replace(ACCEPT, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            HandshakeError::Response(ResponseError::WrongAccept),
        ),
        (
            ok.replace(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n"), ""),
            HandshakeError::Response(ResponseError::MissingAccept),
        ),
        (
            format!("{ok}Sec-WebSocket-Protocol: chat\r\n"),
            HandshakeError::Response(ResponseError::UnofferedProtocol("chat".into())),
        ),
        (
            format!("{ok}Sec-WebSocket-Extensions: permessage-deflate\r\n"),
            HandshakeError::Response(ResponseError::UnofferedExtension(
                "permessage-deflate".into(),
            )),
        ),
    ];
    for (head, error) in &cases {
        let data = format!("{head}\r\n");
        for chunk in [1, 1400] {
            assert_eq!(
                connect_hs(ClientOptions::new(), data.as_bytes(), chunk).unwrap_err(),
                *error
            );
        }
    }
    // A 200 announcing 10 GB: the client stops after max_body_bytes.
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n";
    for chunk in [1, 1400] {
        let mut client = client_hs(ClientOptions::new());
        let (error, peak) = peak_during(|| {
            let mut fed = 0;
            loop {
                let piece: Vec<u8> = if fed < head.len() {
                    head[fed..(fed + chunk).min(head.len())].to_vec()
                } else {
                    vec![b'x'; chunk]
                };
                fed += piece.len();
                match client.recv(&piece) {
                    Ok(None) => assert!(fed < 64 * KIB, "still reading after {fed} bytes"),
                    Ok(Some(_)) => panic!("accepted"),
                    Err(e) => break e,
                }
            }
        });
        match error {
            HandshakeError::Response(ResponseError::Rejected { status, body, .. }) => {
                assert_eq!(status, 200);
                assert_eq!(body.len(), 4 * KIB);
            }
            other => panic!("{other:?}"),
        }
        assert!(peak < 64 * KIB, "peak {peak}");
    }
    // Endless headers: long lines hit the header block cap, short ones the count cap.
    for (filler, error) in [
        (
            1000,
            HandshakeError::Response(ResponseError::Header(HeaderError::HeadersTooLarge {
                limit: 64 * KIB,
            })),
        ),
        (
            10,
            HandshakeError::Response(ResponseError::Header(HeaderError::TooManyHeaders {
                limit: 96,
            })),
        ),
    ] {
        let mut client = client_hs(ClientOptions::new());
        let (result, peak) = peak_during(|| {
            client
                .recv(b"HTTP/1.1 101 Switching Protocols\r\n")
                .unwrap();
            let line = format!("X-Filler: {}\r\n", "y".repeat(filler));
            loop {
                match client.recv(line.as_bytes()) {
                    Ok(None) => {}
                    Ok(Some(_)) => panic!("accepted"),
                    Err(e) => break e,
                }
            }
        });
        assert_eq!(result, error);
        // The header block is kept up to its cap (64 KiB, grown by doubling), no more.
        assert!(peak <= 128 * KIB + 4 * KIB, "peak {peak}");
    }

    // Over loopback: a raw server answers badly (with the accept key the client's random
    // key calls for, except where that is the point); our client reports the typed error.
    let wire: [(BadResponse, HandshakeError); 4] = [
        (
            |_| ok_101("AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            HandshakeError::Response(ResponseError::WrongAccept),
        ),
        (
            |_| ok_101("").replace("Sec-WebSocket-Accept: \r\n", ""),
            HandshakeError::Response(ResponseError::MissingAccept),
        ),
        (
            |accept| format!("{}Sec-WebSocket-Protocol: chat\r\n", ok_101(accept)),
            HandshakeError::Response(ResponseError::UnofferedProtocol("chat".into())),
        ),
        (
            |accept| {
                format!(
                    "{}Sec-WebSocket-Extensions: x-unoffered\r\n",
                    ok_101(accept)
                )
            },
            HandshakeError::Response(ResponseError::UnofferedExtension("x-unoffered".into())),
        ),
    ];
    for (head, error) in wire {
        let (addr, server) = spawn_server(move |mut stream| {
            let request = read_head(&mut stream);
            let key = header_value(&request, "sec-websocket-key");
            let accept = accept_key(key.as_bytes());
            let head = head(std::str::from_utf8(&accept).unwrap());
            let _ = stream.write_all(format!("{head}\r\n").as_bytes());
            let _ = read_head(&mut stream);
        });
        match ClientBuilder::new(format!("ws://{addr}/chat")).connect() {
            Err(Error::Handshake(e)) => assert_eq!(e, error),
            other => panic!("{other:?}"),
        }
        join(server);
    }
    // A 200 with a 10 GB body over loopback: the client returns after 4 KiB.
    let (addr, server) = spawn_server(move |mut stream| {
        let _ = read_head(&mut stream);
        let _ = stream.write_all(head);
        let chunk = vec![b'z'; 64 * KIB];
        for _ in 0..160 {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    match ClientBuilder::new(format!("ws://{addr}/")).connect() {
        Err(Error::Handshake(HandshakeError::Response(ResponseError::Rejected {
            status: 200,
            body,
            ..
        }))) => {
            assert_eq!(body.len(), 4 * KIB);
        }
        other => panic!("{other:?}"),
    }
    join(server);
}

// ================================================================ absurd lengths

#[test]
fn absurd_lengths_fail_before_any_allocation() {
    for role in both_roles() {
        let cases = [
            (
                header_to(role, 2, 1 << 63, Some(127)),
                ProtocolError::Frame(FrameError::LengthTopBitSet),
                1002,
            ),
            (
                header_to(role, 2, (1 << 63) - 1, Some(127)),
                ProtocolError::Frame(FrameError::TooLong {
                    len: (1 << 63) - 1,
                    max: 16 * MIB as u64,
                }),
                1009,
            ),
            (
                header_to(role, 2, (1 << 32) + 5, Some(127)),
                ProtocolError::Frame(FrameError::TooLong {
                    len: (1 << 32) + 5,
                    max: 16 * MIB as u64,
                }),
                1009,
            ),
        ];
        for (input, error, code) in cases {
            fails(role, &input, error, code);
            // Only the receive buffer's first read chunk (32 KiB) and the close frame are
            // allocated: nothing from the announced length.
            let mut c = conn(role, &Config::default());
            let (result, peak) = peak_during(|| {
                c.recv(&input);
                c.next_event().map(|e| e.is_some())
            });
            assert_eq!(result, Err(error));
            assert!(peak < 40 * KIB, "{role:?} {error:?}: peak {peak}");
        }
    }
    // On the wire: the server answers 1009 / 1002.
    let input = header_to(Role::Server, 2, (1 << 32) + 5, Some(127));
    let error = ProtocolError::Frame(FrameError::TooLong {
        len: (1 << 32) + 5,
        max: 16 * MIB as u64,
    });
    server_fails_on_the_wire(Config::default(), input, error, 1009);
    let input = header_to(Role::Server, 2, 1 << 63, Some(127));
    server_fails_on_the_wire(
        Config::default(),
        input,
        ProtocolError::Frame(FrameError::LengthTopBitSet),
        1002,
    );
}

// ================================================================ stalled limit-sized frames

#[test]
fn stalled_announced_frames_cost_what_arrived_on_1000_connections() {
    // Sans-IO: 1000 connections, each told 16 MiB are coming, each given 100 bytes.
    let config = Config::default();
    let mut stalled = Vec::with_capacity(1000);
    let before = current();
    for _ in 0..1000 {
        let mut c = conn(Role::Server, &config);
        let mut input = header_to(Role::Server, 2, config.max_frame_size as u64, None);
        input.extend_from_slice(&[0; 100]);
        c.recv(&input);
        assert_eq!(c.next_event(), Ok(None));
        stalled.push(c);
    }
    let held = (current() - before) as usize;
    // 16 GiB announced; at most one 32 KiB read chunk plus bookkeeping each.
    assert!(
        held < 1000 * 40 * KIB,
        "{held} bytes for 1000 stalled connections"
    );
    // One byte at a time: `recv` keeps a 32 KiB read chunk free past the data and the
    // buffer grows by doubling, so 1 KB received costs 64 KiB; still nothing like 16 MiB.
    let mut c = conn(Role::Client, &config);
    let input = header_to(Role::Client, 2, config.max_frame_size as u64, None);
    let ((), peak) = peak_during(|| {
        for byte in input.iter().chain(&[0; 1000]) {
            c.recv(&[*byte]);
            assert_eq!(c.next_event(), Ok(None));
        }
    });
    assert!(peak <= 64 * KIB + KIB, "peak {peak}");
    drop(stalled);

    // Loopback: 20 connections (1000 sockets and threads would exceed the default limit of
    // 1024 open files in CI and take far longer; the sans-IO run above covers the count,
    // this one the adapter's read path). Each server thread measures its own memory:
    // the 32 KiB read chunk, doubled once by the second read, and nothing from 16 MiB.
    // It measures only once the header and the 100 bytes are in its socket, and checks that
    // the measured read took them all: a read that timed out before they came would have
    // measured nothing.
    let mut input = header_to(Role::Server, 2, 16 * MIB as u64, None);
    input.extend_from_slice(&[0; 100]);
    let sent = input.len();
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut handles = Vec::new();
        for _ in 0..20 {
            let (stream, _) = listener.accept().expect("accept");
            handles.push(thread::spawn(move || {
                let mut ws = Acceptor::new().accept(stream).expect("handshake");
                let started = Instant::now();
                let mut waiting = vec![0; sent + 1];
                ws.get_ref().set_nonblocking(true).expect("nonblocking");
                while ws.get_ref().peek(&mut waiting).unwrap_or(0) < sent {
                    assert!(started.elapsed() < GUARD, "the stalled frame never came");
                    thread::sleep(Duration::from_millis(5));
                }
                ws.get_ref().set_nonblocking(false).expect("blocking");
                ws.set_read_timeout(Some(Duration::from_millis(300)));
                let (result, peak) = peak_during(|| ws.read().map(drop));
                match result {
                    Err(e) => assert!(e.is_retryable(), "{e:?}"),
                    Ok(()) => panic!("a message from a stalled frame"),
                }
                ws.get_ref().set_nonblocking(true).expect("nonblocking");
                let left = ws.get_ref().peek(&mut waiting);
                assert!(
                    matches!(&left, Err(e) if e.kind() == io::ErrorKind::WouldBlock),
                    "the measured read left the stalled frame unread: {left:?}"
                );
                peak
            }));
        }
        handles.into_iter().map(join).collect::<Vec<usize>>()
    });
    let mut clients = Vec::new();
    for _ in 0..20 {
        let mut client = raw_client(addr);
        client.write_all(&input).unwrap();
        clients.push(client);
    }
    for peak in join(server) {
        assert!(peak <= 64 * KIB + 4 * KIB, "server thread peak {peak}");
    }
}

// ================================================================ limits exactly, on the wire

#[test]
fn frame_and_message_limits_are_exact_on_the_wire() {
    // The sans-IO checks: connection.rs `frame_and_message_limits_fail_1009_at_the_header`.
    let mut config = Config::default();
    config.max_frame_size = 1000;
    config.max_message_size = 2500;
    // Loopback: the server accepts 1000 and fails 1001 with 1009.
    let (seen, back) = raw_to_server(
        config.clone(),
        [
            to(Role::Server, true, 2, &[1; 1000]),
            to(Role::Server, true, 2, &[1; 1001]),
        ]
        .concat(),
    );
    assert_eq!(seen[0], Ok(Message::Binary(vec![1; 1000].into())));
    let error = ProtocolError::Frame(FrameError::TooLong {
        len: 1001,
        max: 1000,
    });
    assert_eq!(seen[1], Err(format!("{:?}", Error::Protocol(error))));
    assert_eq!(back, vec![(0x8, 1009u16.to_be_bytes().to_vec())]);
}

// ================================================================ a million fragments

#[test]
fn a_million_tiny_continuations_stay_within_the_message_limit() {
    let mut config = Config::default();
    config.max_message_size = 600_000;
    // 1 + 10^6 frames: a text start, then one-byte and zero-byte continuations.
    let mut input = to(Role::Server, false, 1, b"a");
    let one = to(Role::Server, false, 0, b"a");
    let zero = to(Role::Server, false, 0, b"");
    for i in 0..1_000_000 {
        input.extend_from_slice(if i % 2 == 0 { &one } else { &zero });
    }
    input.extend(to(Role::Server, true, 0, b""));
    let mut c = conn(Role::Server, &config);
    let (seen, peak) = peak_during(|| feed(&mut c, &input, 64 * KIB));
    assert_eq!(seen, vec![Seen::Text("a".repeat(500_001))]);
    // The assembly buffer (500 KB, grown by doubling) and one read chunk: bounded by the
    // message limit plus a constant, not by the 6.5 MB of frames.
    assert!(peak < 2 * 600_000 + 256 * KIB, "peak {peak}");
    // Below the limit the message fails at the crossing fragment.
    config.max_message_size = 100_000;
    let mut c = conn(Role::Server, &config);
    let (seen, peak) = peak_during(|| feed(&mut c, &input, 64 * KIB));
    assert_eq!(
        seen,
        vec![Seen::Error(ProtocolError::MessageTooLarge {
            size: 100_001,
            max: 100_000
        })]
    );
    assert!(peak < 2 * 100_000 + 256 * KIB, "peak {peak}");
    // One byte at a time (10^4 fragments, to keep the test quick): the same events.
    let mut input = to(Role::Server, false, 1, b"a");
    for i in 0..10_000 {
        input.extend_from_slice(if i % 2 == 0 { &one } else { &zero });
    }
    input.extend(to(Role::Server, true, 0, b""));
    let (seen, _) = run(Role::Server, &Config::default(), &input);
    assert_eq!(seen, vec![Seen::Text("a".repeat(5_001))]);
}

// ================================================================ masking direction, on the wire

#[test]
fn wrong_masking_direction_fails_1002_on_the_wire() {
    // Our server against a raw client sending an unmasked frame.
    server_fails_on_the_wire(
        Config::default(),
        raw_frame(true, 0, 1, None, b"hi"),
        ProtocolError::UnmaskedFrame,
        1002,
    );
    // Our client against a raw server sending a masked frame.
    let (addr, server) = spawn_server(|mut stream| {
        raw_accept(&mut stream);
        stream
            .write_all(&raw_frame(true, 0, 1, Some(KEY), b"hi"))
            .unwrap();
        let close = read_frame(&mut stream).expect("a close frame");
        (close.opcode, close.payload)
    });
    let mut ws = ClientBuilder::new(format!("ws://{addr}/"))
        .read_timeout(GUARD)
        .connect()
        .unwrap();
    match ws.read() {
        Err(Error::Protocol(e)) => assert_eq!(e, ProtocolError::MaskedFrame),
        other => panic!("{other:?}"),
    }
    assert_eq!(join(server), (0x8, 1002u16.to_be_bytes().to_vec()));
}

// ================================================================ a reserved opcode, on the wire

#[test]
fn reserved_opcode_fails_1002_on_the_wire() {
    server_fails_on_the_wire(
        Config::default(),
        raw_frame(true, 0, 0xB, Some(KEY), b""),
        ProtocolError::Frame(FrameError::ReservedOpcode(0xB)),
        1002,
    );
}

// ================================================================ invalid UTF-8, on the wire

#[test]
fn invalid_utf8_fails_1007_on_the_wire() {
    server_fails_on_the_wire(
        Config::default(),
        to(Role::Server, true, 1, b"\xed\xa0\x80"),
        ProtocolError::InvalidUtf8,
        1007,
    );
}

// ================================================================ ping flood

#[test]
fn a_million_pings_unanswered_keep_output_flat() {
    let mut input = Vec::new();
    for i in 0..1_000_000u32 {
        input.extend(to(Role::Server, true, 9, &i.to_be_bytes()));
    }
    let mut c = conn(Role::Server, &Config::default());
    let (pings, peak) = peak_during(|| {
        let mut pings = 0;
        for chunk in input.chunks(64 * KIB) {
            c.recv(chunk);
            while let Some(event) = c.next_event().unwrap() {
                assert!(matches!(event, Event::Ping(_)));
                pings += 1;
            }
            // The application never writes: one pong waits, the latest ping is remembered.
            assert!(
                c.pending_output().len() <= 6,
                "{}",
                c.pending_output().len()
            );
        }
        pings
    });
    assert_eq!(pings, 1_000_000);
    assert!(peak < 256 * KIB, "peak {peak}");
    assert_eq!(
        frames(Role::Server, c.pending_output()),
        vec![(OpCode::Pong, 0u32.to_be_bytes().to_vec())]
    );
    let n = c.pending_output().len();
    c.consume_output(n);
    assert_eq!(
        frames(Role::Server, c.pending_output()),
        vec![(OpCode::Pong, 999_999u32.to_be_bytes().to_vec())]
    );
}

// ================================================================ peer stops reading

#[test]
fn sending_to_a_peer_that_stopped_reading_is_bounded() {
    // Sans-IO: nothing written out; the second message finds the buffer over the cap.
    let mut config = Config::default();
    config.write_buffer_cap = 64 * KIB;
    let mut c = conn(Role::Server, &config);
    c.send_binary(&[0; 64 * KIB]).unwrap();
    assert_eq!(
        c.send_binary(&[0; 10]),
        Err(SendError::BufferFull {
            buffered: 64 * KIB + 10,
            cap: 64 * KIB
        })
    );

    // Loopback: the raw client never reads; sends block until the write timeout, then the
    // next send is refused at the cap. The server thread's memory stays near the cap.
    let (addr, server) = spawn_server(move |stream| {
        let mut ws = Acceptor::new()
            .config(config)
            .write_timeout(Duration::from_millis(300))
            .accept(stream)
            .expect("handshake");
        let message = vec![7u8; 64 * KIB];
        let (outcome, peak) = peak_during(|| {
            let mut timed_out = false;
            for _ in 0..10_000 {
                match ws.send_binary(&message) {
                    Ok(()) => {}
                    Err(e) if e.is_retryable() => timed_out = true,
                    Err(Error::Send(SendError::BufferFull { cap, .. })) => {
                        assert!(timed_out, "refused before the socket blocked");
                        assert_eq!(cap, 64 * KIB);
                        return true;
                    }
                    Err(e) => panic!("{e:?}"),
                }
            }
            false
        });
        (outcome, peak)
    });
    let client = raw_client(addr);
    let (refused, peak) = join(server);
    assert!(refused, "never refused");
    assert!(peak < 3 * 64 * KIB, "peak {peak}");
    drop(client);
}

// ================================================================ input after the end

#[test]
fn ten_mb_after_a_close_or_an_error_is_ignored() {
    let mut flood = Vec::new();
    let frame = to(Role::Server, true, 2, &[1; 1000]);
    while flood.len() < 10 * MIB {
        flood.extend_from_slice(&frame);
    }
    for (first, want) in [
        (
            to(Role::Server, true, 8, &close_payload(1000, b"")),
            Seen::Close(1000, String::new()),
        ),
        (
            to(Role::Server, true, 0, b"x"),
            Seen::Error(ProtocolError::UnexpectedContinuation),
        ),
    ] {
        let mut c = conn(Role::Server, &Config::default());
        let (seen, peak) = peak_during(|| {
            let mut seen = feed(&mut c, &first, first.len());
            for chunk in flood.chunks(64 * KIB) {
                c.recv(chunk);
                drain(&mut c, &mut seen);
            }
            seen
        });
        assert_eq!(seen, vec![want]);
        // Closed once the close frame (our echo, or the failure's) is written.
        assert!(!c.is_closed());
        let n = c.pending_output().len();
        c.consume_output(n);
        assert!(c.is_closed());
        assert!(peak < 128 * KIB, "peak {peak}");
        // One byte at a time, a shorter flood.
        let (seen, _) = run(
            Role::Server,
            &Config::default(),
            &[&first[..], &flood[..100 * KIB]].concat(),
        );
        assert_eq!(seen.len(), 1);
    }
    // Loopback: after the client's close the server reads nothing more.
    let (addr, server) = spawn_ws_server(Acceptor::new(), |mut ws| {
        let mut seen = Vec::new();
        while let Some(m) = ws.read().expect("read") {
            seen.push(m);
        }
        assert_eq!(ws.connection().state(), State::Closed);
        seen
    });
    let client = raw_client(addr);
    let writer = {
        let mut client = client.try_clone().unwrap();
        let data = [to(Role::Server, true, 8, &close_payload(1000, b"")), flood].concat();
        thread::spawn(move || {
            let _ = client.write_all(&data);
        })
    };
    assert_eq!(
        join(server),
        vec![Message::Close(CloseCode::NORMAL, String::new())]
    );
    let _ = client.shutdown(std::net::Shutdown::Both);
    join(writer);
}

// ================================================================ unanswered close, EOF, on the wire

#[test]
fn unanswered_close_times_out_and_eof_is_1006_on_the_wire() {
    // The sans-IO checks (EOF is 1006 locally and sends nothing; 1005, 1006 and 1015 never go
    // on the wire) are in connection.rs.
    // Loopback: the raw client never answers our close.
    let (addr, server) = spawn_ws_server(Acceptor::new(), |mut ws| {
        ws.set_close_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let result = ws.close(CloseCode::NORMAL, "bye");
        (format!("{result:?}"), started.elapsed())
    });
    let mut client = raw_client(addr);
    let (result, elapsed) = join(server);
    assert_eq!(
        result,
        format!(
            "{:?}",
            Err::<(), _>(Error::CloseTimeout(Duration::from_millis(300)))
        )
    );
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let close = read_frame(&mut client).unwrap();
    assert_eq!(
        (close.opcode, close.payload),
        (0x8, close_payload(1000, b"bye"))
    );
    // Loopback: EOF without a close.
    let (addr, server) = spawn_ws_server(Acceptor::new(), |mut ws| format!("{:?}", ws.read()));
    drop(raw_client(addr));
    assert_eq!(
        join(server),
        format!(
            "{:?}",
            Err::<(), _>(Error::Protocol(ProtocolError::UnexpectedEof))
        )
    );
}

// ================================================================ read timeouts mid-header

/// A stream that returns `WouldBlock` once at each offset in `stops`.
struct Stuttering {
    data: Vec<u8>,
    at: usize,
    stops: Vec<usize>,
}

impl Read for Stuttering {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stops.first() == Some(&self.at) {
            self.stops.remove(0);
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let end = self.stops.first().copied().unwrap_or(self.data.len());
        let n = buf.len().min(end - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Stuttering {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_read_interrupted_at_every_offset_resumes_exactly() {
    // Blocking adapter over a scripted stream: a 64-bit-length frame, masked towards the
    // server, interrupted at every single offset of header and payload.
    let payload: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let frame = to(Role::Server, true, 2, &payload);
    for stop in (1..frame.len()).take(40).chain([frame.len() - 1]) {
        let stream = Stuttering {
            data: frame.clone(),
            at: 0,
            stops: vec![stop],
        };
        let mut ws = WebSocket::from_stream(stream, Role::Server, Config::default());
        match ws.read() {
            Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "offset {stop}"),
            other => panic!("offset {stop}: {other:?}"),
        }
        assert_eq!(
            ws.read().unwrap(),
            Some(Message::Binary(payload.clone().into())),
            "offset {stop}"
        );
    }

    // Loopback: a raw server sends each frame in two parts; the client's read times out
    // between them, at every offset of the header (and a few in the payload).
    let payload: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let frame = to(Role::Client, true, 2, &payload);
    let offsets: Vec<usize> = (1..=6).chain([50, frame.len() - 1]).collect();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let parts = offsets.clone();
    let (addr, server) = spawn_server(move |mut stream| {
        raw_accept(&mut stream);
        for at in parts {
            stream.write_all(&frame[..at]).unwrap();
            go_rx.recv().unwrap();
            stream.write_all(&frame[at..]).unwrap();
        }
        let _ = read_head(&mut stream);
    });
    let mut ws = ClientBuilder::new(format!("ws://{addr}/"))
        .read_timeout(Duration::from_millis(100))
        .connect()
        .unwrap();
    for at in offsets {
        match ws.read() {
            Err(e) => assert!(e.is_retryable(), "offset {at}: {e:?}"),
            Ok(m) => panic!("offset {at}: {m:?}"),
        }
        go_tx.send(()).unwrap();
        ws.set_read_timeout(Some(GUARD));
        assert_eq!(
            ws.read().unwrap(),
            Some(Message::Binary(payload.clone().into())),
            "offset {at}"
        );
        ws.set_read_timeout(Some(Duration::from_millis(100)));
    }
    drop(ws);
    join(server);
}

// ================================================================ disconnect mid-frame, on the wire

#[test]
fn a_disconnect_mid_frame_is_a_clean_error_on_the_wire() {
    // The sans-IO checks (EOF at every cut is 1006 and sends nothing) are in connection.rs.
    // Loopback, both sides.
    let (addr, server) = spawn_ws_server(Acceptor::new(), |mut ws| format!("{:?}", ws.read()));
    let mut client = raw_client(addr);
    client
        .write_all(&to(Role::Server, true, 2, &[9; 300])[..100])
        .unwrap();
    drop(client);
    assert_eq!(
        join(server),
        format!(
            "{:?}",
            Err::<(), _>(Error::Protocol(ProtocolError::UnexpectedEof))
        )
    );
    let (addr, server) = spawn_server(|mut stream| {
        raw_accept(&mut stream);
        stream
            .write_all(&to(Role::Client, true, 2, &[9; 300])[..100])
            .unwrap();
    });
    let mut ws = ClientBuilder::new(format!("ws://{addr}/"))
        .read_timeout(GUARD)
        .connect()
        .unwrap();
    join(server);
    assert_eq!(
        format!("{:?}", ws.read()),
        format!(
            "{:?}",
            Err::<(), _>(Error::Protocol(ProtocolError::UnexpectedEof))
        )
    );
    // A disconnect in the middle of the handshake.
    let (addr, server) =
        spawn_server(|stream| format!("{:?}", Acceptor::new().accept(stream).map(drop)));
    let mut client = raw_connect(addr);
    client.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    drop(client);
    assert!(join(server).contains("UnexpectedEof"));
    let (addr, server) = spawn_server(|mut stream| {
        let _ = read_head(&mut stream);
        stream.write_all(b"HTTP/1.1 101 Switching").unwrap();
    });
    let result = ClientBuilder::new(format!("ws://{addr}/")).connect();
    join(server);
    match result {
        Err(Error::Handshake(HandshakeError::Response(ResponseError::Truncated))) => {}
        other => panic!("{other:?}"),
    }
}
