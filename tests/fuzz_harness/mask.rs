//! Target (e): the SIMD masking paths against the byte loop, at any phase, any alignment
//! (offset into the buffer) and any piecewise split.

use rfc6455::mask::{apply_mask, apply_mask_bytewise, extend_masked};

use super::{Input, chunks};

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let key = [input.byte(), input.byte(), input.byte(), input.byte()];
    // Any usize is a valid phase: it is taken modulo 4.
    let phase = match input.byte() {
        b @ 0..=127 => usize::from(b),
        b => usize::MAX - usize::from(b),
    };
    let offset = usize::from(input.byte() % 64);
    let sizes = input.chunk_sizes();
    let payload = input.rest();
    let next = (phase % 4 + payload.len() % 4) % 4;

    let mut reference = payload.to_vec();
    assert_eq!(apply_mask_bytewise(&mut reference, key, phase), next);

    // In place, at an arbitrary offset from the allocation's alignment; neighbours untouched.
    let mut buf = vec![0xA5; offset + payload.len() + 3];
    buf[offset..offset + payload.len()].copy_from_slice(payload);
    assert_eq!(
        apply_mask(&mut buf[offset..offset + payload.len()], key, phase),
        next
    );
    assert_eq!(&buf[offset..offset + payload.len()], &reference[..]);
    assert!(buf[..offset].iter().all(|&b| b == 0xA5));
    assert!(buf[offset + payload.len()..].iter().all(|&b| b == 0xA5));

    // Masking twice is the identity.
    apply_mask(&mut buf[offset..offset + payload.len()], key, phase);
    assert_eq!(&buf[offset..offset + payload.len()], payload);

    // Piece by piece, chaining the phase.
    let mut pieces = payload.to_vec();
    let mut at = 0;
    let mut p = phase;
    for piece in chunks(payload, &sizes) {
        p = apply_mask(&mut pieces[at..at + piece.len()], key, p);
        at += piece.len();
    }
    assert_eq!(p % 4, next);
    assert_eq!(pieces, reference);

    // Masked copy after existing content, with and without spare capacity.
    let mut out = vec![0x5A; offset];
    if sizes.first().is_some_and(|s| s % 2 == 1) {
        out.reserve_exact(payload.len() + 5);
    }
    assert_eq!(extend_masked(&mut out, payload, key, phase), next);
    assert!(out[..offset].iter().all(|&b| b == 0x5A));
    assert_eq!(&out[offset..], &reference[..]);

    // Piecewise copy.
    let mut out = Vec::new();
    let mut p = phase;
    for piece in chunks(payload, &sizes) {
        p = extend_masked(&mut out, piece, key, p);
    }
    assert_eq!(p % 4, next);
    assert_eq!(out, reference);
}
