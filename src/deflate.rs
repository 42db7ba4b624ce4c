//! permessage-deflate ([RFC 7692](https://www.rfc-editor.org/rfc/rfc7692)), behind the
//! `deflate` feature: negotiation here; compression and bounded decompression are internal.
//!
//! Settings are role-neutral: *own* is what this endpoint compresses, *peer* is what it asks of
//! the other side. For a client they become the `client_*` offer parameters and `server_*`
//! requests; for a server, the answer to the first acceptable offer.
//!
//! # Memory per connection
//! Negotiating the extension allocates a compressor and a decompressor (zlib-rs, memory level
//! 8), reused for every message. Measured with a counting allocator
//! (`tests/deflate.rs`, `memory_per_connection_with_deflate`): **428 KB** with a 15-bit
//! compression window, 313 KB with 12 bits, 299 KB with 9 bits. Sending a message adds an
//! output buffer the size of its compressed form, kept for reuse; a received compressed
//! message is inflated into the assembly buffer, bounded by
//! [`Config::max_message_size`](crate::Config::max_message_size): decompression stops one byte
//! past that bound (1009), however small the input, and the buffer never grows larger.
//!
//! zlib cannot produce a raw deflate stream with an 8-bit window, so this implementation never
//! agrees to compress with one: a server declines an offer whose `server_max_window_bits` is 8
//! (RFC 7692 section 7.1.2.1 lets it), and a client fails a response that asks it for
//! `client_max_window_bits=8` (section 7.1.2.2 requires that). Decompression accepts any
//! window.

pub(crate) mod codec;

use alloc::format;
use alloc::string::String;
use core::fmt;

use crate::extension::Extension;

/// The extension's name in `Sec-WebSocket-Extensions`.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// This endpoint's compression policy.
///
/// ```
/// let mut config = rfc6455::deflate::DeflateConfig::default();
/// config.own_window_bits = 12; // 72 KiB of compressor state instead of 192 KiB
/// config.threshold = 1024;     // leave small messages uncompressed
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// zlib compression level, 0 (store) to 9 (smallest). Default 3: on text it compresses
    /// 2.6 times as fast as zlib's usual 6 for output 8% larger, and unlike level 1 it stores
    /// incompressible data instead of expanding it (`benches/README.md`, `deflate` bench).
    pub level: u8,
    /// Messages shorter than this many bytes are sent uncompressed. Default 128: below that,
    /// compression rarely saves a byte and costs the most per byte.
    pub threshold: usize,
    /// The window of our compressor, 9..=15 (default 15). Smaller uses less memory and
    /// compresses less. A peer may lower it further.
    pub own_window_bits: u8,
    /// Reset our compressor after every message (default `false`): memory between messages
    /// stays the same, but repeated content compresses worse.
    pub own_no_context_takeover: bool,
    /// Ask the peer to limit its compression window to this, 9..=15 (default 15: no request).
    pub peer_window_bits: u8,
    /// Ask the peer to reset its compressor after every message (default `false`).
    pub peer_no_context_takeover: bool,
}

impl Default for DeflateConfig {
    fn default() -> DeflateConfig {
        DeflateConfig {
            level: 3,
            threshold: 128,
            own_window_bits: 15,
            own_no_context_takeover: false,
            peer_window_bits: 15,
            peer_no_context_takeover: false,
        }
    }
}

/// What was agreed for one connection: how our compressor runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// zlib level.
    pub level: u8,
    /// Messages shorter than this are sent uncompressed.
    pub threshold: usize,
    /// Our compressor's window bits, 9..=15.
    pub window_bits: u8,
    /// Reset our compressor after every message.
    pub no_context_takeover: bool,
}

/// A `permessage-deflate` parameter set that cannot be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A parameter RFC 7692 does not define.
    UnknownParameter(String),
    /// A parameter given twice.
    DuplicateParameter(String),
    /// A parameter with a missing, extra, malformed (`+10`, `010`) or out-of-range value.
    InvalidValue(String),
    /// The server answered with a parameter the client's offers did not allow.
    Unrequested(String),
    /// The peer requires a compression window of 8 bits, which zlib cannot produce.
    WindowBits8,
    /// The server answered with `permessage-deflate` more than once.
    Repeated,
    /// The local [`DeflateConfig`] holds a value out of range.
    InvalidConfig(&'static str),
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NegotiationError::UnknownParameter(p) => {
                write!(f, "permessage-deflate parameter {p:?} is not defined by RFC 7692")
            }
            NegotiationError::DuplicateParameter(p) => {
                write!(f, "permessage-deflate parameter {p:?} appears twice")
            }
            NegotiationError::InvalidValue(p) => {
                write!(f, "permessage-deflate parameter {p:?} has an invalid value")
            }
            NegotiationError::Unrequested(p) => write!(
                f,
                "the server's permessage-deflate answer has {p:?}, which no offer allowed"
            ),
            NegotiationError::WindowBits8 => f.write_str(
                "the peer requires an 8-bit deflate window, which zlib cannot produce; offer without client_max_window_bits",
            ),
            NegotiationError::Repeated => {
                f.write_str("the server answered with permessage-deflate more than once")
            }
            NegotiationError::InvalidConfig(what) => write!(f, "invalid DeflateConfig: {what}"),
        }
    }
}

impl core::error::Error for NegotiationError {}

/// The four parameters of one offer or answer, validated for syntax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (allowed in offers only).
    client_max_window_bits: Option<Option<u8>>,
}

fn window_value(name: &str, value: Option<&str>) -> Result<Option<u8>, NegotiationError> {
    let Some(value) = value else {
        return Ok(None);
    };
    // RFC 7692 section 7.1.2: 1*DIGIT, a decimal integer without leading zeroes, 8..=15.
    // Checked byte by byte: `str::parse` also takes a sign (`+10`). A quoted value arrives
    // unquoted from the handshake and is held to the same rule (section 7.1).
    let bits = match value.as_bytes() {
        [d @ b'8'..=b'9'] => d - b'0',
        [b'1', d @ b'0'..=b'5'] => 10 + (d - b'0'),
        _ => return Err(NegotiationError::InvalidValue(name.into())),
    };
    Ok(Some(bits))
}

impl Params {
    fn parse(ext: &Extension) -> Result<Params, NegotiationError> {
        let mut p = Params::default();
        let mut seen = [false; 4];
        for (name, value) in &ext.params {
            let slot = match name.as_str() {
                "server_no_context_takeover" => 0,
                "client_no_context_takeover" => 1,
                "server_max_window_bits" => 2,
                "client_max_window_bits" => 3,
                _ => return Err(NegotiationError::UnknownParameter(name.clone())),
            };
            if core::mem::replace(&mut seen[slot], true) {
                return Err(NegotiationError::DuplicateParameter(name.clone()));
            }
            let value = value.as_deref();
            match slot {
                0 | 1 if value.is_some() => {
                    return Err(NegotiationError::InvalidValue(name.clone()));
                }
                0 => p.server_no_context_takeover = true,
                1 => p.client_no_context_takeover = true,
                2 => {
                    let bits = window_value(name, value)?;
                    p.server_max_window_bits =
                        Some(bits.ok_or_else(|| NegotiationError::InvalidValue(name.clone()))?);
                }
                _ => p.client_max_window_bits = Some(window_value(name, value)?),
            }
        }
        Ok(p)
    }
}

fn check_config(config: &DeflateConfig) -> Result<(), NegotiationError> {
    if config.level > 9 {
        return Err(NegotiationError::InvalidConfig("level must be 0..=9"));
    }
    if !(9..=15).contains(&config.own_window_bits) || !(9..=15).contains(&config.peer_window_bits) {
        return Err(NegotiationError::InvalidConfig(
            "window bits must be 9..=15",
        ));
    }
    Ok(())
}

/// The client's offer for `config`, one `Sec-WebSocket-Extensions` element.
///
/// # Errors
/// [`NegotiationError::InvalidConfig`] for values out of range.
pub fn client_offer(config: &DeflateConfig) -> Result<String, NegotiationError> {
    check_config(config)?;
    let mut offer = String::from(EXTENSION_NAME);
    if config.own_no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    if config.peer_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if config.peer_window_bits < 15 {
        offer.push_str(&format!(
            "; server_max_window_bits={}",
            config.peer_window_bits
        ));
    }
    // Always say we can limit our window, so a memory-conscious server may ask us to.
    match config.own_window_bits {
        15 => offer.push_str("; client_max_window_bits"),
        bits => offer.push_str(&format!("; client_max_window_bits={bits}")),
    }
    Ok(offer)
}

/// Validates a server's answer to our offer made from `config`.
///
/// # Errors
/// A [`NegotiationError`] when the answer breaks RFC 7692 or asks what the offer did not
/// allow; the client must then fail the connection.
pub fn client_accept(
    config: &DeflateConfig,
    answer: &Extension,
) -> Result<Negotiated, NegotiationError> {
    check_config(config)?;
    let p = Params::parse(answer)?;
    // A window larger than we asked for (or than 15 bits, if we did not ask) is refused.
    if let Some(bits) = p.server_max_window_bits
        && bits > config.peer_window_bits
    {
        return Err(NegotiationError::InvalidValue(
            "server_max_window_bits".into(),
        ));
    }
    let mut window_bits = config.own_window_bits;
    match p.client_max_window_bits {
        None => {}
        Some(None) => {
            return Err(NegotiationError::InvalidValue(
                "client_max_window_bits".into(),
            ));
        }
        Some(Some(8)) => return Err(NegotiationError::WindowBits8),
        Some(Some(bits)) => window_bits = window_bits.min(bits),
    }
    Ok(Negotiated {
        level: config.level,
        threshold: config.threshold,
        window_bits,
        no_context_takeover: config.own_no_context_takeover || p.client_no_context_takeover,
    })
}

/// A server's choice among a client's offers: the first acceptable `permessage-deflate`
/// offer, answered per `config`. `Ok(None)`: no acceptable offer (the extension is simply
/// not used; offers with unknown, duplicate or invalid parameters are declined as RFC 7692
/// section 5 requires).
///
/// # Errors
/// [`NegotiationError::InvalidConfig`] for a bad local configuration.
pub fn server_accept(
    config: &DeflateConfig,
    offers: &[Extension],
) -> Result<Option<(Negotiated, String)>, NegotiationError> {
    check_config(config)?;
    for offer in offers.iter().filter(|e| e.name == EXTENSION_NAME) {
        let Ok(p) = Params::parse(offer) else {
            continue;
        };
        let window_bits = config
            .own_window_bits
            .min(p.server_max_window_bits.unwrap_or(15));
        if window_bits == 8 {
            continue; // zlib cannot honour it: decline this offer.
        }
        let no_context_takeover = config.own_no_context_takeover || p.server_no_context_takeover;
        let mut answer = String::from(EXTENSION_NAME);
        if no_context_takeover {
            answer.push_str("; server_no_context_takeover");
        }
        if config.peer_no_context_takeover || p.client_no_context_takeover {
            answer.push_str("; client_no_context_takeover");
        }
        if window_bits < 15 || p.server_max_window_bits.is_some() {
            answer.push_str(&format!("; server_max_window_bits={window_bits}"));
        }
        if let Some(offered) = p.client_max_window_bits {
            let limit = offered.unwrap_or(15).min(config.peer_window_bits);
            if limit < 15 {
                answer.push_str(&format!("; client_max_window_bits={limit}"));
            }
        }
        let negotiated = Negotiated {
            level: config.level,
            threshold: config.threshold,
            window_bits,
            no_context_takeover,
        };
        return Ok(Some((negotiated, answer)));
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
