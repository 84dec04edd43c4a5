//! The crate's single error type.

use crate::attributes::AttributeType;

/// Everything that can go wrong in fulmar-stun.
///
/// Variants fall in three groups: malformed input (the bytes are not a
/// well-formed STUN or ChannelData message), verification failures (a
/// well-formed message whose MESSAGE-INTEGRITY or FINGERPRINT does not check,
/// or which lacks a required attribute), and API misuse while building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ----- malformed input -----
    /// Fewer bytes than a header needs (20 for STUN, 4 for ChannelData).
    #[error("truncated: need {needed} bytes, have {available}")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The two most significant bits of a STUN message are not zero (RFC 8489 §5).
    #[error("not a STUN message: leading bits are not zero")]
    NotStun,
    /// The magic cookie is not 0x2112A442 (RFC 8489 §5).
    #[error("bad magic cookie {0:#010x}")]
    BadMagicCookie(u32),
    /// The message length is not a multiple of 4: attributes are always padded (RFC 8489 §5, §14).
    #[error("message length {0} is not a multiple of 4 (bad padding)")]
    UnalignedLength(usize),
    /// The length field does not match the number of bytes received.
    #[error("length field says {declared} bytes of body, datagram has {available}")]
    LengthMismatch {
        /// Body length from the header.
        declared: usize,
        /// Body bytes present.
        available: usize,
    },
    /// An attribute's header or value (with its padding) runs past the end of the message.
    #[error("attribute {attribute} at offset {offset} runs past the end of the message")]
    AttributeOverrun {
        /// Type of the offending attribute (0 if its header itself is cut).
        attribute: AttributeType,
        /// Offset of its header in the message.
        offset: usize,
    },
    /// An attribute follows FINGERPRINT, which must be last (RFC 8489 §14.7).
    #[error("attribute {0} after FINGERPRINT")]
    AttributeAfterFingerprint(AttributeType),
    /// An attribute value is malformed for its type.
    #[error("malformed {attribute}: {reason}")]
    InvalidAttribute {
        /// The attribute type.
        attribute: AttributeType,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A ChannelData channel number is outside 0x4000..=0x4FFF (RFC 8656 §12).
    #[error("channel number {0:#06x} outside 0x4000..=0x4FFF")]
    InvalidChannelNumber(u16),

    // ----- verification -----
    /// A required attribute is absent.
    #[error("missing attribute {0}")]
    MissingAttribute(AttributeType),
    /// MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256 does not match the key.
    #[error("message integrity check failed")]
    IntegrityMismatch,
    /// FINGERPRINT does not match the message's CRC-32.
    #[error("fingerprint mismatch")]
    FingerprintMismatch,

    // ----- API misuse -----
    /// The caller's buffer is too small for what was written.
    #[error("buffer too small: need {needed} bytes, have {available}")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A value cannot be encoded (too long, out of range, wrong order).
    #[error("invalid value: {0}")]
    InvalidValue(&'static str),
}
