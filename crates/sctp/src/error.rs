//! The crate's error type.

/// Everything that can go wrong in fulmar-sctp.
///
/// Variants are grouped as malformed input (a packet or chunk that does not
/// parse), protocol violations by the peer, and local API misuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- malformed input ---
    /// The packet is shorter than the 12-byte common header.
    #[error("packet shorter than the SCTP common header")]
    PacketTooShort,
    /// The CRC32c checksum does not match.
    #[error("bad CRC32c checksum")]
    BadChecksum,
    /// A chunk header or chunk value is truncated.
    #[error("chunk truncated: need {needed} bytes, have {available}")]
    ChunkTruncated {
        /// Bytes the chunk claims or needs.
        needed: usize,
        /// Bytes actually available.
        available: usize,
    },
    /// A chunk length field is smaller than the chunk's fixed part.
    #[error("chunk of type {chunk_type} has invalid length {length}")]
    InvalidChunkLength {
        /// Chunk type.
        chunk_type: u8,
        /// Length field.
        length: u16,
    },
    /// A parameter or error cause is truncated or has an invalid length.
    #[error("parameter of type {param_type:#06x} has invalid length")]
    InvalidParamLength {
        /// Parameter type.
        param_type: u16,
    },
    /// A DATA chunk carries no user data (RFC 9260 §3.3.1: length must exceed 16).
    #[error("DATA chunk without user data")]
    EmptyData,
    /// A field holds a value the RFC forbids (for example an INIT with a zero
    /// Initiate Tag).
    #[error("invalid field value: {0}")]
    InvalidField(&'static str),

    // --- protocol violations ---
    /// The peer broke the protocol in a way that ends the association.
    #[error("protocol violation: {0}")]
    ProtocolViolation(&'static str),

    // --- local misuse ---
    /// The association is not in a state where this operation is allowed.
    #[error("operation not allowed in the current association state")]
    InvalidState,
    /// The message is larger than the peer's maximum message size.
    #[error("message of {size} bytes exceeds the maximum of {max}")]
    MessageTooLarge {
        /// Size of the message.
        size: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// SCTP cannot carry empty user messages (RFC 9260 §3.3.1).
    #[error("empty user message")]
    EmptyMessage,
    /// The stream identifier is outside the negotiated outbound streams.
    #[error("stream {0} is not an open outbound stream")]
    InvalidStream(u16),
    /// The stream is being reset and accepts no new messages.
    #[error("stream {0} is being reset")]
    StreamResetting(u16),
    /// The output buffer is too small.
    #[error("output buffer too small")]
    BufferTooSmall,
}
