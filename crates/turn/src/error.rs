//! The crate's single error type.

use std::net::SocketAddr;

/// Everything that can go wrong in fulmar-turn.
///
/// Malformed input from the network is never an `Err` of a receive call: it
/// is dropped and counted. Errors are returned for local API misuse and for
/// a stream that lost its framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A STUN encoding or decoding step failed.
    #[error("stun: {0}")]
    Stun(#[from] fulmar_stun::Error),
    /// The call is not valid in the client's current state (e.g. sending
    /// before the allocation succeeded).
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// The peer's address family does not match the relayed address.
    #[error("peer {0} has another address family than the relayed address")]
    PeerAddressFamilyMismatch(SocketAddr),
    /// Every channel number (0x4000..=0x4FFF) is in use.
    #[error("no channel number left")]
    NoChannelLeft,
    /// A local limit (permissions, pending requests) was reached.
    #[error("limit reached: {0}")]
    LimitReached(&'static str),
    /// A byte stream (TCP/TLS) carries something that is neither a STUN
    /// message nor ChannelData: framing is lost and the connection must close
    /// (RFC 8656 §12.5).
    #[error("stream framing lost: first byte {0:#04x}")]
    FramingLost(u8),
    /// Application data does not fit in one ChannelData message or DATA attribute.
    #[error("payload of {0} bytes is too long")]
    PayloadTooLong(usize),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// An ICE server URL does not follow RFC 7064 / RFC 7065.
    #[error("invalid ICE server URL: {0}")]
    InvalidUrl(&'static str),
}
