//! Internals for the fuzz targets and their regression replay. Not a stable API.

/// Validates `bytes` split at `splits` with the incremental UTF-8 validator the connection
/// uses; `true` when valid.
pub fn utf8_valid_in_pieces(bytes: &[u8], splits: &[usize]) -> bool {
    let mut validator = crate::utf8::Utf8Validator::default();
    let mut start = 0;
    for &at in splits {
        let at = at.clamp(start, bytes.len());
        if validator.feed(&bytes[start..at]).is_err() {
            return false;
        }
        start = at;
    }
    validator.feed(&bytes[start..]).is_ok() && validator.finish().is_ok()
}
