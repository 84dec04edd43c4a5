//! The error type of fulmar-peer.

/// Errors of fulmar-peer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A description does not parse as SDP.
    #[error("SDP: {0}")]
    Sdp(#[from] fulmar_sdp::Error),
    /// A description lacks something WebRTC requires or contradicts itself.
    #[error("invalid description: {0}")]
    InvalidDescription(&'static str),
    /// The call is not valid in the current signaling state (RFC 9429 §4.1.8).
    #[error("invalid signaling state for {0}")]
    InvalidState(&'static str),
    /// A trickled candidate does not follow the RFC 8839 grammar.
    #[error("candidate: {0}")]
    Candidate(#[from] fulmar_sdp::SyntaxError),
    /// ICE refused (bad credentials or candidate).
    #[error("ICE: {0}")]
    Ice(#[from] fulmar_ice::Error),
    /// DTLS failed or a certificate could not be made.
    #[error("DTLS: {0}")]
    Dtls(#[from] fulmar_dtls::Error),
    /// The data-channel layer refused.
    #[error("data channel: {0}")]
    DataChannel(#[from] fulmar_datachannel::Error),
    /// No such data channel.
    #[error("unknown data channel")]
    UnknownChannel,
    /// The connection is closed.
    #[error("peer connection closed")]
    Closed,
    /// A media call that does not fit the transceiver's state (not
    /// negotiated, not sending, unknown id, SRTP not keyed yet).
    #[error("media: {0}")]
    Media(&'static str),
    /// An RTP packet or frame could not be parsed or built.
    #[error("RTP: {0}")]
    Rtp(#[from] fulmar_rtp::Error),
    /// SRTP protection failed.
    #[error("SRTP: {0}")]
    Srtp(#[from] fulmar_srtp::Error),
}
