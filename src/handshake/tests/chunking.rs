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

/// Feeds `data` to a server and a client in pieces of the `sizes` (cycled), then ends it.
fn feed_both_sides(data: &[u8], sizes: &[usize]) {
    let limits = Limits {
        max_line_bytes: 100,
        max_headers: 4,
        ..Limits::default()
    };
    let mut server = ServerHandshake::new(limits.clone());
    let options = ClientOptions::new().protocol("chat").limits(limits);
    let mut client = ClientHandshake::new(&Url::parse("ws://h").unwrap(), &options, KEY).unwrap();
    let mut rest = data;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        if let Err(e) = server.recv(piece) {
            let _ = (e.status(), e.response(), e.to_string());
        }
        let _ = client.recv(piece);
    }
    let _ = client.recv_eof().to_string();
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
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_in_random_chunks_never_panic(
        data in arbitrary_input(),
        sizes in proptest::collection::vec(1usize..64, 1..20),
    ) {
        feed_both_sides(&data, &sizes);
    }

    #[test]
    fn any_split_gives_the_same_handshake_and_loses_no_byte(
        cuts in proptest::collection::btree_set(0usize..260, 0..12),
    ) {
        round_trip_cut(&cuts);
    }
}
