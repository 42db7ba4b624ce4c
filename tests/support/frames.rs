//! Frame bytes built and decoded by hand, with any bits and lengths in any form, so a test can
//! write what our own encoder never would.

use rfc6455::Role;
use rfc6455::frame::{Decoded, FrameHeader, OpCode};
use rfc6455::mask::apply_mask;

/// The masking key of hand-built client frames.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Both roles, the server first.
pub fn both_roles() -> [Role; 2] {
    [Role::Server, Role::Client]
}

/// Appends the mask bit and the payload length: in its shortest form, or in the form `form`
/// forces (126 or 127), which may be longer than needed.
pub fn push_len(out: &mut Vec<u8>, masked: bool, len: u64, form: Option<u8>) {
    let bit = if masked { 0x80 } else { 0 };
    match form.unwrap_or(match len {
        0..=125 => 0,
        126..=65535 => 126,
        _ => 127,
    }) {
        126 => {
            out.push(bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        127 => {
            out.push(bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        _ => out.push(bit | len as u8),
    }
}

/// A whole frame with any FIN, RSV bits and opcode, masked with `mask` when given.
pub fn raw_frame(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    push_len(&mut out, mask.is_some(), payload.len() as u64, None);
    let mut body = payload.to_vec();
    if let Some(key) = mask {
        out.extend_from_slice(&key);
        apply_mask(&mut body, key, 0);
    }
    out.extend_from_slice(&body);
    out
}

/// A frame as a client sends it: masked with [`KEY`].
pub fn masked_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(fin, 0, opcode, Some(KEY), payload)
}

/// A frame as a server sends it: unmasked.
pub fn unmasked_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(fin, 0, opcode, None, payload)
}

/// A frame as the peer of `role` sends it: masked towards a server.
pub fn to(role: Role, fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    raw_frame(
        fin,
        0,
        opcode,
        (role == Role::Server).then_some(KEY),
        payload,
    )
}

/// Just the header of a final frame announcing `len` bytes, with [`KEY`] when `masked`; the
/// length in its shortest form unless `form` forces 126 or 127.
pub fn frame_header(opcode: u8, len: u64, masked: bool, form: Option<u8>) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    push_len(&mut out, masked, len, form);
    if masked {
        out.extend_from_slice(&KEY);
    }
    out
}

/// Just a header announcing `len` bytes, as the peer of `role` sends it.
pub fn header_to(role: Role, opcode: u8, len: u64, form: Option<u8>) -> Vec<u8> {
    frame_header(opcode, len, role == Role::Server, form)
}

/// A close frame's payload: the code, big-endian, then the reason.
pub fn close_payload(code: u16, reason: impl AsRef<[u8]>) -> Vec<u8> {
    [&code.to_be_bytes()[..], reason.as_ref()].concat()
}

/// Decodes every frame in `bytes` as the peer of `from` would, checking the masking direction:
/// (opcode, fin, unmasked payload).
pub fn decode_frames(from: Role, mut bytes: &[u8]) -> Vec<(OpCode, bool, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let Ok(Decoded::Complete(h, n)) = FrameHeader::decode(bytes, u64::MAX) else {
            panic!("bad frame in output: {bytes:?}");
        };
        assert_eq!(h.mask.is_some(), from == Role::Client, "masking direction");
        let len = h.len as usize;
        let mut payload = bytes[n..n + len].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        out.push((h.opcode, h.fin, payload));
        bytes = &bytes[n + len..];
    }
    out
}
