//! The crate's single error type.

use crate::alert::AlertDescription;

/// Everything that can go wrong in fulmar-dtls.
///
/// Variants separate malformed input (dropped, not fatal), peer misbehaviour
/// (fatal, answered with an alert) and local misuse. How a connection ended
/// is a [`Failure`], which names the side that misbehaved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A wire structure ended before a length or field it announced.
    #[error("truncated {0}")]
    Truncated(&'static str),
    /// A wire structure is malformed (bad length, bad value, trailing bytes).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A length or count exceeds what this implementation accepts.
    #[error("{0} too large")]
    TooLarge(&'static str),
    /// The record could not be authenticated (bad MAC); the record is dropped.
    #[error("record failed authentication")]
    BadRecordMac,
    /// The record was already received (anti-replay window, RFC 6347 §4.1.2.6).
    #[error("replayed record")]
    Replay,
    /// The peer violated the protocol; the connection fails with this alert.
    #[error("protocol violation ({alert:?}): {reason}")]
    Protocol {
        /// The alert sent to the peer.
        alert: AlertDescription,
        /// What went wrong.
        reason: &'static str,
    },
    /// The peer's certificate fingerprint matches none of those expected.
    #[error("peer certificate fingerprint mismatch")]
    FingerprintMismatch,
    /// A cryptographic operation failed locally (key generation, bad key).
    #[error("crypto failure: {0}")]
    Crypto(&'static str),
    /// The API was used in a way the current state does not allow.
    #[error("invalid use: {0}")]
    InvalidState(&'static str),
    /// A caller-provided buffer is too small.
    #[error("buffer too small")]
    BufferTooSmall,
    /// A certificate could not be generated or parsed.
    #[error("certificate: {0}")]
    Certificate(&'static str),
}

impl Error {
    /// Shorthand for a protocol violation answered with `alert`.
    pub(crate) fn protocol(alert: AlertDescription, reason: &'static str) -> Self {
        Error::Protocol { alert, reason }
    }

    /// The alert to send for this error, if it is fatal to a connection.
    pub fn alert(&self) -> Option<AlertDescription> {
        match self {
            Error::Protocol { alert, .. } => Some(*alert),
            Error::FingerprintMismatch => Some(AlertDescription::BadCertificate),
            Error::Crypto(_) => Some(AlertDescription::InternalError),
            Error::Truncated(_) | Error::Malformed(_) | Error::TooLarge(_) => {
                Some(AlertDescription::DecodeError)
            }
            _ => None,
        }
    }
}

/// Why a connection failed, naming the side that misbehaved (carried by
/// [`crate::Event::Failed`] and [`crate::Connection::failure`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The peer gave up: it sent this fatal alert.
    #[error("the peer sent the fatal alert {0:?}")]
    AlertReceived(AlertDescription),
    /// We gave up and sent the peer `alert`: `reason` says why (malformed
    /// or unexpected input and bad signatures are the peer's doing; a
    /// [`Error::Crypto`] failure is ours).
    #[error("we sent the fatal alert {alert:?}: {reason}")]
    AlertSent {
        /// The alert sent to the peer.
        alert: AlertDescription,
        /// What the peer did (or what failed locally).
        reason: Error,
    },
    /// The peer's certificate matches none of the fingerprints expected
    /// from signalling; we sent bad_certificate.
    #[error("the peer's certificate matches no expected fingerprint")]
    FingerprintMismatch,
    /// The peer went silent: our flight was retransmitted
    /// [`crate::Config::max_retransmissions`] times without an answer.
    #[error("the handshake timed out")]
    HandshakeTimeout,
}

impl Failure {
    /// The failure for an error we detected (answered with an alert).
    pub(crate) fn from_error(e: Error) -> Self {
        match e {
            Error::FingerprintMismatch => Failure::FingerprintMismatch,
            e => Failure::AlertSent {
                alert: e.alert().unwrap_or(AlertDescription::InternalError),
                reason: e,
            },
        }
    }

    /// The fatal alert we sent the peer, if we did.
    pub fn alert_sent(&self) -> Option<AlertDescription> {
        match self {
            Failure::AlertSent { alert, .. } => Some(*alert),
            Failure::FingerprintMismatch => Some(AlertDescription::BadCertificate),
            _ => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T> = core::result::Result<T, Error>;
