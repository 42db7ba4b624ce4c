//! Owned messages, as [`Connection::next_message`](crate::Connection::next_message) and the
//! adapters' `read` return them.
//!
//! A binary message's bytes are a [`Payload`]: a message of 32 KiB or more that arrived in one
//! frame keeps the receive buffer it was read into, moved out of the connection rather than
//! copied, and the connection takes that buffer back for a later message once the payload is
//! dropped. Every other message owns exactly its own bytes.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use crate::conn::Event;
use crate::frame::CloseCode;

/// An owned message.
///
/// ```
/// use rfc6455::{Config, Connection, Message, Role};
///
/// let mut client = Connection::new(Role::Client, Config::default());
/// let mut server = Connection::new(Role::Server, Config::default());
/// client.send_binary(&[1, 2, 3])?;
/// server.recv(client.pending_output());
///
/// let message = server.next_message()?.expect("a whole message");
/// assert_eq!(message, Message::Binary(vec![1, 2, 3].into()));
/// if let Message::Binary(data) = message {
///     let bytes: Vec<u8> = data.into_vec();
///     assert_eq!(bytes, [1, 2, 3]);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Payload),
    /// A ping (already answered unless auto-pong is off).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer's close frame (already answered); the code is 1005 when it had none.
    Close(CloseCode, String),
}

impl Message {
    /// A binary message of `data`.
    pub fn binary(data: impl Into<Payload>) -> Message {
        Message::Binary(data.into())
    }

    /// A text message of `text`.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(text.into())
    }
}

impl From<Event<'_>> for Message {
    /// A copy of the event (see [`Connection::next_message`](crate::Connection::next_message)
    /// for one that moves large messages instead).
    fn from(event: Event<'_>) -> Message {
        match event {
            // Copied in pieces: see `crate::copy`.
            Event::Text(text) => Message::Text(crate::copy::to_string(text)),
            Event::Binary(data) => Message::Binary(Payload::copy_of(data)),
            Event::Ping(data) => Message::Ping(data.to_vec()),
            Event::Pong(data) => Message::Pong(data.to_vec()),
            Event::Close(frame) => Message::Close(frame.code, frame.reason.into()),
        }
    }
}

/// The bytes of a received binary message: a slice that owns its memory.
///
/// It dereferences to `[u8]`; [`into_vec`](Self::into_vec) turns it into a `Vec<u8>`. A
/// payload of up to 30 bytes is stored in the value itself, without an allocation. A
/// payload of 32 KiB or more that arrived in one frame shares the receive buffer it was read
/// into (at most four times its size) with nobody: the connection reuses that buffer for a
/// later message only once this payload is dropped. Keeping many such payloads keeps their
/// buffers; [`into_vec`](Self::into_vec) copies one out into memory of its own size.
#[derive(Clone, Default)]
pub struct Payload(Repr);

/// Payloads up to this long are stored inline, without an allocation: the largest that keeps
/// a [`Payload`] at 32 bytes, the size of its shared form.
const INLINE_MAX: usize = 30;

#[derive(Clone)]
enum Repr {
    /// A short payload, in `bytes[..len]`.
    Inline { len: u8, bytes: [u8; INLINE_MAX] },
    /// Bytes of their own.
    Owned(Vec<u8>),
    /// `buf[start..end]` of a receive buffer lent by the connection.
    Lent {
        buf: Arc<Vec<u8>>,
        start: usize,
        end: usize,
    },
}

impl Default for Repr {
    fn default() -> Repr {
        Repr::Owned(Vec::new())
    }
}

impl Payload {
    /// A copy of `bytes`: inline when short, in memory of its own size otherwise.
    #[inline]
    pub(crate) fn copy_of(data: &[u8]) -> Payload {
        if data.len() <= INLINE_MAX {
            let mut bytes = [0; INLINE_MAX];
            bytes[..data.len()].copy_from_slice(data);
            // INLINE_MAX fits in a u8.
            let len = data.len() as u8;
            return Payload(Repr::Inline { len, bytes });
        }
        Payload(Repr::Owned(crate::copy::to_vec(data)))
    }

    /// `buf[start..end]`, where `buf` is a receive buffer the connection keeps a handle on.
    pub(crate) fn lent(buf: Arc<Vec<u8>>, start: usize, end: usize) -> Payload {
        debug_assert!(start <= end && end <= buf.len());
        Payload(Repr::Lent { buf, start, end })
    }

    /// The bytes.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Owned(bytes) => bytes,
            Repr::Lent { buf, start, end } => &buf[*start..*end],
        }
    }

    /// The bytes as a `Vec<u8>`: moved when the payload owns them, copied out of the receive
    /// buffer it shares otherwise (which is then released).
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline { len, bytes } => bytes[..usize::from(len)].to_vec(),
            Repr::Owned(bytes) => bytes,
            Repr::Lent { buf, start, end } => crate::copy::to_vec(&buf[start..end]),
        }
    }

    /// Whether the payload shares a receive buffer (see the type's documentation) rather than
    /// owning memory of its own size.
    pub fn is_shared(&self) -> bool {
        matches!(self.0, Repr::Lent { .. })
    }
}

impl Deref for Payload {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Payload {
        Payload(Repr::Owned(bytes))
    }
}

impl From<&[u8]> for Payload {
    fn from(bytes: &[u8]) -> Payload {
        Payload::copy_of(bytes)
    }
}

impl<const N: usize> From<[u8; N]> for Payload {
    fn from(bytes: [u8; N]) -> Payload {
        Payload::copy_of(&bytes)
    }
}

impl<const N: usize> From<&[u8; N]> for Payload {
    fn from(bytes: &[u8; N]) -> Payload {
        Payload::copy_of(bytes)
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Payload {
        Payload(Repr::Owned(text.into_bytes()))
    }
}

impl From<&str> for Payload {
    fn from(text: &str) -> Payload {
        Payload::copy_of(text.as_bytes())
    }
}

impl From<Payload> for Vec<u8> {
    fn from(payload: Payload) -> Vec<u8> {
        payload.into_vec()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Payload {}

impl Hash for Payload {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialEq<[u8]> for Payload {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for Payload {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl PartialEq<Vec<u8>> for Payload {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Payload {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Payload> for Vec<u8> {
    fn eq(&self, other: &Payload) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl PartialEq<Payload> for [u8] {
    fn eq(&self, other: &Payload) -> bool {
        self == other.as_slice()
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use std::hash::{DefaultHasher, Hash, Hasher};

    use super::*;

    /// The three forms of a payload holding `bytes` (at most [`INLINE_MAX`] of them): inline,
    /// owned, and lent from a larger buffer, between other bytes.
    fn forms(bytes: &[u8]) -> [Payload; 3] {
        let mut inline = [0; INLINE_MAX];
        inline[..bytes.len()].copy_from_slice(bytes);
        let mut buf = vec![0xee; 3];
        buf.extend_from_slice(bytes);
        buf.extend_from_slice(&[0xee; 5]);
        let end = buf.len() - 5;
        [
            Payload(Repr::Inline {
                len: bytes.len() as u8,
                bytes: inline,
            }),
            Payload(Repr::Owned(bytes.to_vec())),
            Payload::lent(Arc::new(buf), 3, end),
        ]
    }

    fn hash(value: &impl Hash) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn every_form_of_a_payload_is_the_same_bytes() {
        let bytes = b"twelve bytes";
        let [inline, owned, lent] = forms(bytes);
        assert!(!inline.is_shared() && !owned.is_shared() && lent.is_shared());
        for payload in [&inline, &owned, &lent] {
            assert_eq!(payload.as_slice(), bytes);
            assert_eq!(&**payload, bytes);
            assert_eq!(payload.as_ref(), bytes);
            assert!(*payload == *bytes);
            assert!(*payload == bytes[..]);
            let slice: &[u8] = bytes;
            assert!(*payload == slice);
            assert!(*payload == bytes.to_vec());
            assert!(bytes.to_vec() == *payload);
            assert!(bytes[..] == *payload);
            assert_eq!(*payload, inline);
            assert_eq!(format!("{payload:?}"), format!("{:?}", &bytes[..]));
            assert_eq!(hash(payload), hash(&&bytes[..]));
            assert_eq!(payload.clone().into_vec(), bytes);
            assert_eq!(Vec::from(payload.clone()), bytes);
        }
        assert_ne!(inline, Payload::from(&b"other"[..]));
    }

    #[test]
    fn short_payloads_are_stored_inline_and_longer_ones_own_their_size() {
        let long = [7; INLINE_MAX + 1];
        let short = &long[..INLINE_MAX];
        assert!(
            matches!(Payload::copy_of(short).0, Repr::Inline { len, .. } if usize::from(len) == INLINE_MAX)
        );
        match Payload::copy_of(&long).0 {
            Repr::Owned(bytes) => assert_eq!(bytes.capacity(), INLINE_MAX + 1),
            _ => panic!("{} bytes stored inline", INLINE_MAX + 1),
        }
        // Every constructor gives the bytes it was given.
        assert_eq!(Payload::from([1, 2, 3]), [1, 2, 3]);
        assert_eq!(Payload::from(&[1, 2, 3]), [1, 2, 3]);
        assert_eq!(Payload::from("text"), *b"text");
        assert_eq!(Payload::from(String::from("text")), *b"text");
        assert_eq!(Payload::from(vec![9; 100]), vec![9; 100]);
        assert_eq!(Payload::default().len(), 0);
        assert_eq!(
            Message::binary([1]),
            Message::Binary(Payload::from(vec![1]))
        );
        assert_eq!(Message::text("hi"), Message::Text(String::from("hi")));
    }

    #[test]
    fn a_message_from_an_event_copies_it() {
        use crate::conn::CloseFrame;
        assert_eq!(Message::from(Event::Text("a")), Message::text("a"));
        assert_eq!(
            Message::from(Event::Binary(&[1; 40])),
            Message::binary([1; 40])
        );
        assert_eq!(
            Message::from(Event::Ping(b"p")),
            Message::Ping(b"p".to_vec())
        );
        assert_eq!(
            Message::from(Event::Pong(b"q")),
            Message::Pong(b"q".to_vec())
        );
        let close = CloseFrame {
            code: CloseCode::NORMAL,
            reason: "bye",
        };
        assert_eq!(
            Message::from(Event::Close(close)),
            Message::Close(CloseCode::NORMAL, "bye".into())
        );
    }
}
