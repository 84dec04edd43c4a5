//! The crate's one error type.

/// Everything that can go wrong in fulmar-srtp.
///
/// Variants fall in three groups: malformed input (the packet cannot be
/// SRTP/SRTCP at all), protocol violations (authentication failure, replay),
/// and API misuse (bad keys, buffers too small, limits reached). A receiver
/// drops the packet and counts the error; none of them is fatal to a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The packet is shorter than its headers plus the SRTP/SRTCP trailer.
    #[error("packet truncated: {len} bytes, need at least {needed}")]
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes the headers and trailer require.
        needed: usize,
    },
    /// The RTP/RTCP version field is not 2 (RFC 3550 §5.1).
    #[error("not an RTP/RTCP version 2 packet (version {0})")]
    BadVersion(u8),
    /// The authentication tag did not verify (RFC 3711 §3.3 step 5, RFC 7714 §7.2).
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The packet index was already received (RFC 3711 §3.3.2).
    #[error("replayed packet (index {index})")]
    Replayed {
        /// The packet index (48-bit SRTP index or 31-bit SRTCP index).
        index: u64,
    },
    /// The packet index lies behind the replay window (RFC 3711 §3.3.2).
    #[error("packet too old for the replay window (index {index})")]
    TooOld {
        /// The packet index (48-bit SRTP index or 31-bit SRTCP index).
        index: u64,
    },
    /// The packet or index would reuse keystream: the rollover counter or the
    /// SRTCP index is exhausted and the session must be rekeyed (RFC 3711 §9.2).
    #[error("packet index space exhausted; rekey the session")]
    IndexExhausted,
    /// The caller's buffer has no room for the SRTP/SRTCP trailer.
    #[error("buffer too small: need {needed} bytes, have {available}")]
    BufferTooSmall {
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A master key, master salt or keying material has the wrong length for the profile.
    #[error("wrong {what} length: expected {expected}, got {got}")]
    InvalidKeyLength {
        /// Which input was wrong ("master key", "master salt", ...).
        what: &'static str,
        /// The length the profile requires.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A DTLS-SRTP protection profile identifier that this crate does not implement.
    #[error("unsupported SRTP protection profile 0x{0:04x}")]
    UnsupportedProfile(u16),
    /// SRTP and SRTCP session keys of different profiles were given to one context.
    #[error("SRTP and SRTCP session keys are for different profiles")]
    ProfileMismatch,
    /// A new SSRC would exceed the configured number of streams per context.
    #[error("too many SSRCs (limit {max})")]
    TooManyStreams {
        /// The configured cap.
        max: usize,
    },
}
