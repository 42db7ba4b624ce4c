//! Internals for the fuzz targets and their regression replay. Not a stable API.

/// Validates `bytes` split at `splits` with the incremental UTF-8 validator the connection
/// uses; `true` when valid.
pub fn utf8_valid_in_pieces(bytes: &[u8], splits: &[usize]) -> bool {
    utf8_error_after(bytes, splits).is_ok()
}

/// Like [`utf8_valid_in_pieces`], but says when the validator gave up: `Err(n)` when it
/// reported the error after being fed the first `n` bytes of `bytes` (the end of the failing
/// piece, or `bytes.len()` when the text ends inside a code point).
pub fn utf8_error_after(bytes: &[u8], splits: &[usize]) -> Result<(), usize> {
    let mut validator = crate::utf8::Utf8Validator::default();
    let mut start = 0;
    for &at in splits.iter().chain(core::iter::once(&bytes.len())) {
        let at = at.clamp(start, bytes.len());
        if validator.feed(&bytes[start..at]).is_err() {
            return Err(at);
        }
        start = at;
    }
    validator.finish().map_err(|_| bytes.len())
}
