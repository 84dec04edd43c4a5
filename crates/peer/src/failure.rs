//! Why a peer connection failed: the layer that gave up and, through it,
//! who misbehaved.

/// Why a peer connection failed, carried by
/// [`PeerConnectionState::Failed`](crate::PeerConnectionState::Failed).
/// Each layer under the connection says it in its own terms: ICE found no
/// path or lost it, DTLS names the alert and the side that sent it (or the
/// fingerprint, or the silence), SCTP says how the association ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// ICE connectivity failed.
    #[error("ICE: {0}")]
    Ice(IceFailure),
    /// The DTLS handshake or connection failed: an alert we sent (and why)
    /// or received, a certificate matching no signalled fingerprint, or a
    /// peer that stopped answering the handshake.
    #[error("DTLS: {0}")]
    Dtls(fulmar_dtls::Failure),
    /// The SCTP association under the data channels ended because of the
    /// peer: it sent ABORT, broke the protocol, or stopped acknowledging
    /// (a graceful shutdown or our own abort is not a failure).
    #[error("SCTP: {0:?}")]
    Sctp(fulmar_sctp::CloseReason),
}

/// How ICE failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceFailure {
    /// Every candidate pair failed once both sides had signalled all their
    /// candidates: no path to the peer (RFC 8445 §8.1.2, RFC 8838 §8).
    #[error("no candidate pair works")]
    NoWorkingPair,
    /// The peer stopped answering consent checks on the selected pair
    /// (RFC 7675 §5.1): it went silent or the path broke.
    #[error("consent to send expired: the peer stopped answering")]
    ConsentLost,
}

#[cfg(test)]
mod tests;
