//! The parsed form of a `Sec-WebSocket-Extensions` element, shared by the handshake, which
//! parses and writes the header, and the extensions, which negotiate with it. Public as
//! [`handshake::Extension`](crate::handshake::Extension).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// One element of a `Sec-WebSocket-Extensions` header: a name and its parameters
/// ([RFC 6455 section 9.1](https://www.rfc-editor.org/rfc/rfc6455#section-9.1)).
///
/// Quoted parameter values are unquoted (they must still be tokens). [`Display`](fmt::Display)
/// writes the wire form back:
///
/// ```
/// use rfc6455::handshake::Extension;
/// let ext = Extension {
///     name: "permessage-deflate".into(),
///     params: vec![("server_max_window_bits".into(), Some("10".into())), ("x".into(), None)],
/// };
/// assert_eq!(ext.to_string(), "permessage-deflate; server_max_window_bits=10; x");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The extension's registered token, such as `permessage-deflate`.
    pub name: String,
    /// The parameters in order: `name` alone, or `name=value`.
    pub params: Vec<(String, Option<String>)>,
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            match value {
                Some(value) => write!(f, "; {name}={value}")?,
                None => write!(f, "; {name}")?,
            }
        }
        Ok(())
    }
}
