//! Target (f): the connection's incremental UTF-8 validator against `std::str::from_utf8`,
//! with the input split into arbitrary pieces.
//!
//! Oracles: same verdict as `std`; and an invalid sequence is reported as soon as the piece
//! holding the byte that proves it has been fed, never while the input so far is a valid
//! prefix (Autobahn 6.4.x: fail fast, before the frame ends).

use rfc6455::fuzzing::{utf8_error_after, utf8_valid_in_pieces};

use super::{Input, split_points};

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let sizes = input.chunk_sizes();
    let bytes = input.rest();
    let splits = split_points(bytes.len(), &sizes);
    let std = core::str::from_utf8(bytes);
    assert_eq!(utf8_valid_in_pieces(bytes, &splits), std.is_ok());
    let result = utf8_error_after(bytes, &splits);
    match std {
        Ok(_) => assert_eq!(result, Ok(())),
        Err(e) => {
            let Err(fed) = result else {
                panic!("invalid input accepted: {e}")
            };
            assert!(
                fed > e.valid_up_to(),
                "failed on a valid prefix: {fed} <= {e}"
            );
            match e.error_len() {
                // Truncated at the end: reported at the end.
                None => assert_eq!(fed, bytes.len()),
                Some(len) => {
                    // The byte that proves it is at most the one after the bad sequence.
                    let proof = (e.valid_up_to() + len).min(bytes.len() - 1);
                    let piece_end = splits
                        .iter()
                        .copied()
                        .chain([bytes.len()])
                        .find(|&end| end > proof)
                        .unwrap_or(bytes.len());
                    assert!(
                        fed <= piece_end,
                        "{e}: reported after {fed} bytes, by {piece_end}"
                    );
                }
            }
        }
    }
}
