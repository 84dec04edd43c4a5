//! The crate's single error type.

/// Everything that can go wrong in `fulmar-rtp`.
///
/// Variants separate malformed input (`Truncated`, `BadVersion`, `BadPadding`,
/// `BadExtension`, `Malformed`), and local misuse (`BufferTooSmall`,
/// `InvalidInput`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a field or length it announced.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// The version field is not 2 (RFC 3550 §5.1, §6.4.1).
    #[error("unsupported version {0}")]
    BadVersion(u8),
    /// The padding count is zero or larger than the packet (RFC 3550 §5.1).
    #[error("invalid padding")]
    BadPadding,
    /// A header extension is malformed (RFC 8285 §4).
    #[error("malformed header extension")]
    BadExtension,
    /// A field holds a value the format forbids.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The caller's output buffer is too small.
    #[error("output buffer too small: need {needed} bytes")]
    BufferTooSmall {
        /// Bytes the write needs.
        needed: usize,
    },
    /// An argument given by the caller is out of range.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// A container read or write failed in the underlying I/O.
    #[error("I/O error: {0:?}")]
    Io(std::io::ErrorKind),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.kind())
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = core::result::Result<T, Error>;
