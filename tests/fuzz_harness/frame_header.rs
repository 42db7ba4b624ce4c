//! Target (a): `FrameHeader::decode` on arbitrary bytes and limits.
//!
//! Oracles: a complete header re-encodes to exactly the bytes it came from (lengths are
//! minimal, so a header has one encoding) and respects the limit and the control-frame
//! rules; every shorter prefix is `Partial` with an honest count, or fails with the same
//! error as the whole (errors are reported at the earliest byte that shows them).

use rfc6455::frame::{
    Decoded, FrameError, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode,
};

use super::Input;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let max = match input.byte() % 4 {
        0 => u64::MAX,
        1 => 64 * 1024,
        2 => u64::from(input.u16()),
        _ => u64::from(input.u32()) << 16,
    };
    let bytes = input.rest();
    let whole = FrameHeader::decode(bytes, max);
    match whole {
        Ok(Decoded::Complete(header, used)) => {
            assert!((2..=MAX_HEADER_LEN).contains(&used));
            assert_eq!(used, header.encoded_len());
            let mut out = [0; MAX_HEADER_LEN];
            let n = header.encode(&mut out);
            assert_eq!(
                &out[..n],
                &bytes[..used],
                "re-encoding gives the same bytes"
            );
            assert!(header.len <= max);
            assert!(header.len < 1 << 63);
            assert!(header.rsv < 8);
            if header.opcode.is_control() {
                assert!(header.fin);
                assert!(header.len <= MAX_CONTROL_PAYLOAD as u64);
            }
            assert!(OpCode::from_u8(header.opcode as u8) == Some(header.opcode));
            // Trailing bytes do not matter.
            for cut in 0..used {
                match FrameHeader::decode(&bytes[..cut], max) {
                    Ok(Decoded::Partial(need)) => {
                        assert!(need >= 1 && cut + need <= used, "{cut} + {need} > {used}");
                    }
                    other => panic!("prefix of {cut} of a complete header: {other:?}"),
                }
            }
        }
        Ok(Decoded::Partial(need)) => {
            assert!(need >= 1);
            assert!(bytes.len() + need <= MAX_HEADER_LEN);
        }
        Err(error) => {
            check_error(error, max);
            for cut in 0..bytes.len().min(MAX_HEADER_LEN) {
                match FrameHeader::decode(&bytes[..cut], max) {
                    Ok(Decoded::Partial(need)) => assert!(need >= 1),
                    Err(e) => assert_eq!(e, error, "a prefix fails differently"),
                    Ok(complete) => panic!("prefix of {cut} of a failing header: {complete:?}"),
                }
            }
        }
    }
}

fn check_error(error: FrameError, max: u64) {
    match error {
        FrameError::ReservedOpcode(op) => assert!(OpCode::from_u8(op).is_none() && op < 16),
        FrameError::FragmentedControl(op) | FrameError::ControlTooLong(op) => {
            assert!(op.is_control());
        }
        FrameError::NonMinimalLength(len) => assert!(len <= u64::from(u16::MAX)),
        FrameError::TooLong { len, max: m } => assert!(m == max && len > max),
        FrameError::LengthTopBitSet => {}
        other => panic!("unknown error {other:?}"),
    }
    assert!(matches!(error.close_code().0, 1002 | 1009));
}
