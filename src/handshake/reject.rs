//! Refusing a handshake: a 3xx, 4xx or 5xx response instead of the 101.

use alloc::{string::String, vec::Vec};

use super::refusal::refusal;
use super::{HandshakeError, OptionsError};

/// A refusal of the opening handshake: a 3xx, 4xx or 5xx status, headers and a body
/// ([RFC 6455 section 4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2)).
///
/// Only refusal statuses can be built: the common ones by name, any other through
/// [`new`](Self::new), which fails for a status outside 300..=599 (a 200 would tell the
/// client its request succeeded).
///
/// ```
/// use rfc6455::handshake::Rejection;
/// let no = Rejection::forbidden().header("X-Reason", "origin").body("forbidden origin");
/// let bytes = no.response();
/// assert!(bytes.starts_with(b"HTTP/1.1 403 Forbidden\r\nX-Reason: origin\r\n"));
/// assert!(bytes.ends_with(b"\r\n\r\nforbidden origin"));
///
/// assert_eq!(Rejection::new(429)?.status(), 429);
/// assert!(Rejection::new(200).is_err());
/// # Ok::<(), rfc6455::handshake::HandshakeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct Rejection {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Rejection {
    /// A refusal with `status`, which must be a redirection, client error or server error
    /// (300..=599).
    ///
    /// # Errors
    /// [`OptionsError::RefusalStatus`] for any other status.
    pub fn new(status: u16) -> Result<Rejection, HandshakeError> {
        if !(300..=599).contains(&status) {
            return Err(OptionsError::RefusalStatus(status).into());
        }
        Ok(Rejection::with(status))
    }

    const fn with(status: u16) -> Rejection {
        Rejection {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// 400 Bad Request: the request is not one this endpoint serves.
    pub const fn bad_request() -> Rejection {
        Rejection::with(400)
    }

    /// 401 Unauthorized: credentials are missing or wrong (add a `WWW-Authenticate` header).
    pub const fn unauthorized() -> Rejection {
        Rejection::with(401)
    }

    /// 403 Forbidden: for example an `Origin` that is not allowed
    /// ([RFC 6455 section 10.2](https://www.rfc-editor.org/rfc/rfc6455#section-10.2)).
    pub const fn forbidden() -> Rejection {
        Rejection::with(403)
    }

    /// 404 Not Found: no WebSocket endpoint at this path.
    pub const fn not_found() -> Rejection {
        Rejection::with(404)
    }

    /// 500 Internal Server Error: the server cannot give the answer it meant to (for
    /// example an extension answer the connection would not run).
    pub const fn internal_server_error() -> Rejection {
        Rejection::with(500)
    }

    /// 503 Service Unavailable: too busy or shutting down (add a `Retry-After` header).
    pub const fn service_unavailable() -> Rejection {
        Rejection::with(503)
    }

    /// Adds a response header. A header whose name is not a token or whose value holds CR,
    /// LF or NUL is left out of the response (it would split it), and so is `Content-Length`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Rejection {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the response body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Rejection {
        self.body = body.into();
        self
    }

    /// The status code, 300..=599.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response to write: the status line with its standard reason phrase, the headers,
    /// `Content-Length`, `Connection: close` (unless a `Connection` header was given) and the
    /// body.
    #[must_use]
    pub fn response(&self) -> Vec<u8> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        refusal(self.status, &headers, &self.body)
    }
}
