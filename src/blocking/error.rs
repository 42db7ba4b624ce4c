//! The blocking adapters' error: what went wrong, and whether the call can be repeated.

use core::fmt;
use std::io;
use std::time::Duration;

use crate::handshake::HandshakeError;
use crate::proxy::ProxyError;
use crate::{ProtocolError, SendError, TimeoutError};

/// What can go wrong in the blocking adapters, and in the tokio adapters (feature `tokio`),
/// which share this type.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed. `WouldBlock`, `TimedOut` and `Interrupted` leave the connection
    /// intact: call the same method again to resume.
    Io(io::Error),
    /// The opening handshake failed (including a server's refusal, with its status).
    Handshake(HandshakeError),
    /// The peer broke the protocol; a close frame with the matching code was sent.
    Protocol(ProtocolError),
    /// A local call was refused (sending after close, a control payload too long, ...).
    Send(SendError),
    /// The server's application refused the opening handshake with this HTTP status (the
    /// refusal was sent).
    Refused(u16),
    /// TLS failed (feature `tls`): a certificate that is not trusted, not valid for the
    /// host or expired, no common protocol version, a peer that does not speak TLS, ... The
    /// message says what to do about it.
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The opening handshake did not finish within its deadline.
    HandshakeTimeout(Duration),
    /// Keepalive: nothing arrived from the peer for this long; the connection is dead.
    PeerUnresponsive(Duration),
    /// The peer did not answer our close frame within the close timeout.
    CloseTimeout(Duration),
    /// The proxy refused the tunnel, answered something that is not its protocol, or its URL
    /// (from `ClientBuilder::proxy` or a proxy variable) cannot be used.
    Proxy(ProxyError),
    /// The TCP connection to the proxy failed: it is not running there, or cannot be
    /// reached.
    ProxyUnreachable {
        /// The proxy, password left out.
        proxy: alloc::string::String,
        /// Why the connection failed.
        error: io::Error,
    },
}

impl Error {
    /// Whether the call can be repeated to resume: a timeout, `WouldBlock` or an interrupt,
    /// with the connection state intact.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
        ))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "WebSocket stream error: {e}"),
            Error::Handshake(e) => write!(f, "WebSocket handshake failed: {e}"),
            Error::Protocol(e) => write!(f, "WebSocket protocol error, connection closed: {e}"),
            Error::Send(e) => write!(f, "WebSocket send refused: {e}"),
            Error::Refused(status) => {
                write!(
                    f,
                    "WebSocket handshake refused by the application with HTTP {status}"
                )
            }
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "TLS failed: {e}{}", advice(e)),
            Error::HandshakeTimeout(d) => {
                write!(f, "WebSocket handshake did not complete within {d:?}")
            }
            Error::PeerUnresponsive(d) => write!(
                f,
                "nothing received from the WebSocket peer for {d:?}: the connection is dead"
            ),
            Error::CloseTimeout(d) => {
                write!(
                    f,
                    "WebSocket peer did not answer the close frame within {d:?}"
                )
            }
            Error::Proxy(e) => write!(f, "proxy failed: {e}"),
            Error::ProxyUnreachable { proxy, error } => write!(
                f,
                "could not connect to the proxy {proxy}: {error}; check that it runs there, \
                 and which proxy the client was given (ClientBuilder::proxy, or the variables \
                 https_proxy, http_proxy, all_proxy; no_proxy lists hosts to reach directly)"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Send(e) => Some(e),
            Error::Proxy(e) => Some(e),
            Error::ProxyUnreachable { error, .. } => Some(error),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// An I/O error that carries a rustls error (from a TLS stream) becomes `Error::Tls`.
    fn from(e: io::Error) -> Error {
        #[cfg(feature = "tls")]
        let e = match rustls_error(e) {
            Ok(tls) => return Error::Tls(tls),
            Err(e) => e,
        };
        Error::Io(e)
    }
}

#[cfg(feature = "tls")]
impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Error {
        Error::Tls(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Error {
        Error::Handshake(e)
    }
}

impl From<ProxyError> for Error {
    fn from(e: ProxyError) -> Error {
        Error::Proxy(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::Protocol(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Error {
        Error::Send(e)
    }
}

/// Whether an I/O error is a timeout or would-block, after which a call may resume.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl From<TimeoutError> for Error {
    fn from(e: TimeoutError) -> Error {
        match e {
            // One kind on every platform (Unix reports a socket timeout as WouldBlock).
            TimeoutError::Read => Error::Io(io::Error::new(io::ErrorKind::TimedOut, e)),
            TimeoutError::PeerUnresponsive(d) => Error::PeerUnresponsive(d),
            TimeoutError::CloseTimeout(d) => Error::CloseTimeout(d),
        }
    }
}

#[cfg(feature = "tls")]
/// The rustls error inside an `io::Error`, if that is what it carries.
fn rustls_error(e: io::Error) -> Result<rustls::Error, io::Error> {
    if !e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return Err(e);
    }
    let kind = e.kind();
    match e
        .into_inner()
        .map(|inner| inner.downcast::<rustls::Error>())
    {
        Some(Ok(tls)) => Ok(*tls),
        Some(Err(inner)) => Err(io::Error::new(kind, inner)),
        None => Err(kind.into()),
    }
}

#[cfg(feature = "tls")]
/// What to do about a TLS failure, for the error's message ("" when there is nothing to
/// add).
fn advice(e: &rustls::Error) -> &'static str {
    use rustls::Error as E;
    use rustls::{AlertDescription, CertificateError};
    match e {
        E::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                "; the server's certificate chain does not lead to a trusted root: for a \
                 private CA, pass a rustls::ClientConfig that trusts it \
                 (ClientBuilder::tls_config), and make sure the server sends its \
                 intermediate certificates"
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "; the certificate does not name the host in the URL: connect with a name \
                 (or IP address) it lists, or issue it with that name as a subjectAltName"
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => {
                "; the certificate is outside its validity period: renew it, or check this \
                 machine's clock"
            }
            CertificateError::Revoked => "; the certificate was revoked: replace it",
            CertificateError::Other(other)
                if alloc::format!("{other:?}").contains("CaUsedAsEndEntity") =>
            {
                "; the server presents a CA certificate (basicConstraints CA:TRUE) as its \
                 own, which is what `openssl req -x509` makes by default: keep that \
                 certificate as a CA, trust it in the client (ClientBuilder::tls_config), \
                 and give the server a certificate it signed for the host name (or make a \
                 self-signed one with `-addext basicConstraints=critical,CA:FALSE` and \
                 `-addext subjectAltName=DNS:<host>`)"
            }
            _ => "; the peer's certificate was refused",
        },
        E::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired,
        ) => {
            "; the peer refused our certificate: check that it trusts our CA and that the certificate is valid"
        }
        E::AlertReceived(
            AlertDescription::HandshakeFailure | AlertDescription::ProtocolVersion,
        )
        | E::PeerIncompatible(_) => "; the peers share no TLS version or cipher suite",
        E::InvalidMessage(_) => {
            "; is the peer speaking TLS? (a ws:// server or port given a wss:// URL, or the \
             reverse)"
        }
        E::NoCertificatesPresented => {
            "; the server requires a client certificate: configure one in the \
             rustls::ClientConfig (with_client_auth_cert)"
        }
        _ => "",
    }
}
