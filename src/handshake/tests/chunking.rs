//! Any input, any chunking.

use super::*;
use alloc::{collections::BTreeSet, string::ToString};
use proptest::prelude::*;

/// Up to 600 random bytes, or a valid request and response with a few bytes overwritten.
fn arbitrary_input() -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8);
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..600),
        edits.prop_map(|edits| {
            let mut bytes = [valid_request(), resp("", &[])].concat();
            let len = bytes.len();
            for (at, byte) in edits {
                bytes[at % len] = byte;
            }
            bytes
        }),
    ]
}

/// How a handshake fed some input ended: still waiting, done (the result's parts and every
/// byte after the header block, fed or not), or failed.
#[derive(Debug, PartialEq)]
enum Outcome {
    Pending,
    Done(String, Vec<u8>),
    Failed(HandshakeError),
}

/// Feeds `data` in pieces of the `sizes` (cycled) until `recv` completes or fails.
fn outcome<T>(
    mut recv: impl FnMut(&[u8]) -> Result<Option<T>, HandshakeError>,
    mut done: impl FnMut(T, Vec<u8>) -> Outcome,
    data: &[u8],
    sizes: &[usize],
) -> Outcome {
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        match recv(piece) {
            Ok(None) => {}
            Ok(Some(value)) => return done(value, rest.to_vec()),
            Err(e) => {
                // Whatever fails, the next call says the handshake is over.
                assert_eq!(recv(b"x").err(), Some(HandshakeError::Finished));
                return Outcome::Failed(e);
            }
        }
    }
    Outcome::Pending
}

/// Feeds `data` to a server and a client in pieces of the `sizes` (cycled), then ends the
/// client's stream; returns how each ended.
fn feed_both_sides(data: &[u8], sizes: &[usize]) -> (Outcome, Outcome) {
    let limits = Limits {
        max_line_bytes: 100,
        max_headers: 4,
        ..Limits::default()
    };
    let mut server = ServerHandshake::new(limits.clone());
    let server_done = |mut request: Request, rest: Vec<u8>| {
        let leftover = [request.take_leftover(), rest].concat();
        Outcome::Done(format!("{request:?}"), leftover)
    };
    let server_outcome = outcome(|d| server.recv(d), server_done, data, sizes);
    if let Outcome::Failed(e) = &server_outcome {
        // A request's error carries a status, and a response that says it.
        let status = e.status().expect("a request error has a status");
        let answer = e.response().expect("and a response");
        let mut headers = [httparse::EMPTY_HEADER; 8];
        let mut parsed = httparse::Response::new(&mut headers);
        assert!(parsed.parse(&answer).unwrap().is_complete());
        assert_eq!(parsed.code, Some(status));
        assert!(!e.to_string().is_empty());
    }
    let options = ClientOptions::new().protocol("chat").limits(limits);
    let mut client = ClientHandshake::new(&Url::parse("ws://h").unwrap(), &options, KEY).unwrap();
    let client_done = |response: Response, rest: Vec<u8>| {
        let parts = format!(
            "{} {:?} {:?} {:?}",
            response.status(),
            response.protocol(),
            response.headers().collect::<Vec<_>>(),
            response.extensions()
        );
        Outcome::Done(parts, [response.into_leftover(), rest].concat())
    };
    let client_outcome = match outcome(|d| client.recv(d), client_done, data, sizes) {
        Outcome::Pending => Outcome::Failed(client.recv_eof()),
        ended => ended,
    };
    (server_outcome, client_outcome)
}

/// Feeds `data` cut at `cuts` until the handshake completes; returns it and the bytes not fed.
fn feed_cut<T>(
    mut recv: impl FnMut(&[u8]) -> Result<Option<T>, HandshakeError>,
    data: &[u8],
    cuts: &BTreeSet<usize>,
) -> (T, Vec<u8>) {
    let mut start = 0;
    for end in cuts
        .iter()
        .copied()
        .filter(|&c| c < data.len())
        .chain([data.len()])
    {
        if let Some(done) = recv(&data[start..end]).unwrap() {
            return (done, data[end..].to_vec());
        }
        start = end;
    }
    panic!("incomplete");
}

/// A request and its 101, each followed by a frame and cut at `cuts`, give what they give
/// whole, and the frame arrives intact.
fn round_trip_cut(cuts: &BTreeSet<usize>) {
    let url = Url::parse("ws://example.com/chat?x=1").unwrap();
    let options = ClientOptions::new().protocol("p").extension("x-e; a=\"1\"");
    let mut client = ClientHandshake::new(&url, &options, KEY).unwrap();
    let sent = [client.request(), FRAME].concat();
    let mut whole = server_recv(&sent).unwrap();
    assert_eq!(whole.take_leftover(), FRAME);
    let mut server = ServerHandshake::new(Limits::default());
    let (mut request, rest) = feed_cut(|d| server.recv(d), &sent, cuts);
    assert_eq!([request.take_leftover(), rest].concat(), FRAME);
    assert_eq!(format!("{request:?}"), format!("{whole:?}"));

    let accept = Accept::new().protocol("p").extension("x-e");
    let answer = [request.accept(&accept).unwrap(), FRAME.to_vec()].concat();
    let (response, rest) = feed_cut(|d| client.recv(d), &answer, cuts);
    assert_eq!([response.leftover(), &rest].concat(), FRAME);
    assert_eq!(
        (response.protocol(), response.extensions()[0].name.as_str()),
        (Some("p"), "x-e")
    );
}

proptest! {
    // 256 cases, or PROPTEST_CASES under Miri (scripts/miri.sh sets 8).
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { ProptestConfig::default().cases } else { 256 },
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_in_random_chunks_end_as_the_whole_input_does(
        data in arbitrary_input(),
        sizes in proptest::collection::vec(1usize..64, 1..20),
    ) {
        // However the input is chunked, each side ends as it does on the input whole.
        prop_assert_eq!(feed_both_sides(&data, &sizes), feed_both_sides(&data, &[usize::MAX]));
    }

    #[test]
    fn any_split_gives_the_same_handshake_and_loses_no_byte(
        cuts in proptest::collection::btree_set(0usize..260, 0..12),
    ) {
        round_trip_cut(&cuts);
    }
}
