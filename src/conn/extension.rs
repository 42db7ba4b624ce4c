//! The one seam for extensions: what the state machine asks of the negotiated extensions
//! (Python websockets' `extensions/base.py`: encode and decode a message's data). Today the
//! only one is permessage-deflate (RFC 7692, feature `deflate`); without the feature this
//! compiles to nothing.

use alloc::vec::Vec;

use super::Connection;
use crate::error::ProtocolError;
#[cfg(feature = "deflate")]
use crate::frame::RSV1;

/// The extensions in use on a connection.
#[derive(Default)]
pub(super) struct Extensions {
    #[cfg(feature = "deflate")]
    deflate: Option<alloc::boxed::Box<crate::deflate::codec::Codec>>,
}

impl Extensions {
    /// The RSV bits the extensions define on the first frame of a message.
    pub(super) fn message_rsv(&self) -> u8 {
        #[cfg(feature = "deflate")]
        if self.deflate.is_some() {
            return RSV1;
        }
        0
    }

    /// Encodes a message's data (or a fragment of it) into `out` when an extension transforms
    /// it; returns the RSV bits for its first frame then, or `None` to send `data` as it is.
    /// A fragmented message's size is unknown up front, so every fragmented message is
    /// compressed.
    pub(super) fn encode(
        &mut self,
        data: &[u8],
        first: bool,
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Option<u8> {
        #[cfg(feature = "deflate")]
        if let Some(codec) = self.deflate.as_mut()
            && (!(first && fin) || codec.wants(data.len()))
        {
            out.clear();
            codec.compress(data, fin, out);
            return Some(RSV1);
        }
        let _ = (data, first, fin, out);
        None
    }

    /// Decodes a frame of a message that was sent with `rsv` on its first frame, appending to
    /// `msg` without letting it grow past `limit` by more than one step.
    pub(super) fn decode(
        &mut self,
        rsv: u8,
        input: &[u8],
        fin: bool,
        msg: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        #[cfg(feature = "deflate")]
        if let Some(codec) = self.deflate.as_mut() {
            return codec.decompress(input, fin, msg, limit);
        }
        let _ = (input, fin, msg, limit);
        // Unreachable: `check_header` refuses RSV bits no extension defines.
        Err(ProtocolError::ReservedBits(rsv))
    }
}

impl Connection {
    /// Turns on permessage-deflate with the parameters agreed in the opening handshake (see
    /// [`crate::deflate`]): received messages with RSV1 on their first frame are decompressed,
    /// and sent messages of at least the threshold are compressed.
    #[cfg(feature = "deflate")]
    pub fn enable_deflate(&mut self, negotiated: crate::deflate::Negotiated) {
        self.ext.deflate = Some(alloc::boxed::Box::new(crate::deflate::codec::Codec::new(
            negotiated,
        )));
    }

    /// Whether permessage-deflate is on.
    #[must_use]
    pub fn is_deflate_enabled(&self) -> bool {
        self.ext.message_rsv() != 0
    }
}
