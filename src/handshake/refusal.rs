//! The bytes of a refusal: a status line with its reason phrase, headers, `Content-Length`,
//! `Connection: close` and a body. Written for a [`Rejection`](super::Rejection) and for
//! [`HandshakeError::response`](super::HandshakeError::response).

use alloc::{format, vec::Vec};

use super::is_valid_header;

/// A response with `status` (its standard reason phrase), the valid `headers` except
/// `Content-Length`, then `Content-Length`, `Connection: close` unless given, and `body`.
pub(crate) fn refusal(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    let mut connection = false;
    for &(name, value) in headers {
        if is_valid_header(name, value) && !name.eq_ignore_ascii_case("content-length") {
            connection |= name.eq_ignore_ascii_case("connection");
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if !connection {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// The standard reason phrase of a status code, or "" for codes rarely seen in a handshake.
fn reason(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        414 => "URI Too Long",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}
