//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! Text must be rejected at the first byte that cannot start or continue a valid sequence,
//! before the frame or message is complete (Autobahn 6.4.x). The validator keeps at most three
//! bytes of an unfinished code point between pieces and leans on `core::str::from_utf8`, which
//! checks each lead byte's allowed second-byte range (overlongs, surrogates, > U+10FFFF), for
//! everything else.

use core::str;

/// Bytes that are not UTF-8, or a message that ends inside a code point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

/// The state carried between pieces: an unfinished code point.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Utf8Validator {
    partial: [u8; 4],
    len: u8,
}

impl Utf8Validator {
    /// Validates the next piece of a text stream.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), InvalidUtf8> {
        if self.len > 0 {
            let have = usize::from(self.len);
            let width = match self.partial[0] {
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let take = (width - have).min(bytes.len());
            self.partial[have..have + take].copy_from_slice(&bytes[..take]);
            let filled = have + take;
            match str::from_utf8(&self.partial[..filled]) {
                Ok(_) => {
                    self.len = 0;
                    bytes = &bytes[take..];
                }
                Err(e) if e.error_len().is_none() => {
                    self.len = filled as u8;
                    return Ok(());
                }
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let rest = &bytes[e.valid_up_to()..];
                self.partial[..rest.len()].copy_from_slice(rest);
                self.len = rest.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the stream: an unfinished code point is an error. Resets the validator.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.len == 0;
        self.len = 0;
        if complete { Ok(()) } else { Err(InvalidUtf8) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn validate_split(bytes: &[u8], splits: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::default();
        let mut start = 0;
        for &at in splits.iter().chain(core::iter::once(&bytes.len())) {
            v.feed(&bytes[start..at])?;
            start = at;
        }
        v.finish()
    }

    #[test]
    fn every_two_way_split_matches_std() {
        let samples: [&[u8]; 12] = [
            "κόσμε".as_bytes(),
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
            "\u{10FFFF}\u{FFFF}\u{80}\u{7FF}\u{800}\u{10000}".as_bytes(),
            b"\xc0\xaf",         // overlong '/'
            b"\xe0\x80\xaf",     // overlong
            b"\xed\xa0\x80",     // surrogate U+D800
            b"\xf4\x90\x80\x80", // above U+10FFFF
            b"\xce\xba\xe1\xbd", // truncated at the end
            b"\xff",
            b"\x80abc",
            b"ab\xf0\x9f\x98\x80cd\xe2\x82\xac",
            b"",
        ];
        for s in samples {
            let expected = str::from_utf8(s).is_ok();
            for a in 0..=s.len() {
                for b in a..=s.len() {
                    assert_eq!(
                        validate_split(s, &[a, b]).is_ok(),
                        expected,
                        "{s:?} {a} {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn fails_at_the_first_bad_byte_before_the_end() {
        let mut v = Utf8Validator::default();
        assert!(v.feed("κόσμε".as_bytes()).is_ok());
        assert!(v.feed(&[0xce]).is_ok()); // a valid start
        assert_eq!(v.feed(&[0x41]), Err(InvalidUtf8)); // not a continuation
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(&[0xf4, 0x90]), Err(InvalidUtf8)); // > U+10FFFF, known at byte 2
    }

    proptest::proptest! {
        #[test]
        fn any_split_matches_std(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
                                 mut splits in proptest::collection::vec(0usize..64, 0..6)) {
            splits.iter_mut().for_each(|s| *s = (*s).min(bytes.len()));
            splits.sort_unstable();
            proptest::prop_assert_eq!(validate_split(&bytes, &splits).is_ok(), str::from_utf8(&bytes).is_ok());
        }

        #[test]
        fn valid_text_in_any_split(chars in proptest::collection::vec(proptest::char::any(), 0..40), mut splits in proptest::collection::vec(0usize..200, 0..6)) {
            // Any scalar value, one to four bytes each (a char strategy, not a regex: regex
            // strategies take most of a run under Miri).
            let bytes: Vec<u8> = chars.into_iter().collect::<alloc::string::String>().into_bytes();
            splits.iter_mut().for_each(|s| *s = (*s).min(bytes.len()));
            splits.sort_unstable();
            proptest::prop_assert!(validate_split(&bytes, &splits).is_ok());
        }
    }
}
