//! What the application learns: events and the states they report.

use bytes::Bytes;
use fulmar_ice::{IceConnectionState, IceGatheringState};

use crate::{
    ChannelId, CodecParams, Failure, KeyframeKind, MediaFrame, MediaKind, RtpReceived,
    TransceiverId,
};

/// The JSEP signaling state (RFC 9429 §3.2, without provisional answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingState {
    /// No offer outstanding.
    Stable,
    /// Our offer is applied, awaiting the answer.
    HaveLocalOffer,
    /// The remote offer is applied, our answer is due.
    HaveRemoteOffer,
    /// Closed.
    Closed,
}

/// The DTLS transport state (as `RTCDtlsTransportState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsState {
    /// Not started.
    New,
    /// Handshaking.
    Connecting,
    /// Handshake done, fingerprint verified.
    Connected,
    /// close_notify received or sent.
    Closed,
    /// Handshake or verification failed.
    Failed,
}

/// The aggregate state (as `RTCPeerConnectionState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerConnectionState {
    /// Nothing started.
    New,
    /// ICE or DTLS in progress.
    Connecting,
    /// ICE and DTLS connected.
    Connected,
    /// ICE lost connectivity for now.
    Disconnected,
    /// ICE, DTLS or SCTP failed; the [`Failure`] says which and who
    /// misbehaved.
    Failed(Failure),
    /// Closed.
    Closed,
}

impl PeerConnectionState {
    /// Why the connection failed, if it did.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            PeerConnectionState::Failed(f) => Some(f),
            _ => None,
        }
    }
}

/// What the application learns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A local candidate to trickle (`candidate:...`, for `mid` "0" / m-line 0).
    LocalCandidate(String),
    /// Local gathering finished (send end-of-candidates).
    GatheringComplete,
    /// The ICE connection state changed.
    IceConnectionStateChange(IceConnectionState),
    /// The ICE gathering state changed.
    IceGatheringStateChange(IceGatheringState),
    /// The DTLS transport state changed.
    DtlsStateChange(DtlsState),
    /// The peer connection state changed.
    ConnectionStateChange(PeerConnectionState),
    /// The signaling state changed.
    SignalingStateChange(SignalingState),
    /// A renegotiation is needed (a channel or transceiver was added).
    NegotiationNeeded,
    /// The remote side opened a channel (`ondatachannel`); it is open.
    DataChannel {
        /// The channel.
        id: ChannelId,
        /// Its label.
        label: String,
    },
    /// A channel is open and may send.
    DataChannelOpen(ChannelId),
    /// A message arrived on a channel.
    DataChannelMessage {
        /// The channel.
        id: ChannelId,
        /// The payload (empty for empty messages).
        data: Bytes,
        /// Binary (`true`) or string.
        binary: bool,
    },
    /// A channel's buffered amount fell to its low threshold.
    BufferedAmountLow(ChannelId),
    /// A channel closed.
    DataChannelClose(ChannelId),
    /// A remote stream appeared on a transceiver (`ontrack`): its first
    /// packet arrived. Each simulcast layer is its own stream with its `rid`.
    Track {
        /// The transceiver.
        transceiver: TransceiverId,
        /// Audio or video.
        kind: MediaKind,
        /// The transceiver's mid.
        mid: Option<String>,
        /// The RTP stream id (simulcast layer), if any.
        rid: Option<String>,
        /// The SSRC of the stream.
        ssrc: u32,
        /// The codec of its first packet.
        codec: Option<CodecParams>,
    },
    /// An assembled frame from a remote stream ([`ReceiveMode::Frames`](crate::ReceiveMode::Frames)).
    MediaFrame(MediaFrame),
    /// An RTP packet from a remote stream ([`ReceiveMode::Rtp`](crate::ReceiveMode::Rtp)).
    Rtp(RtpReceived),
    /// The remote receiver of a local track asks for a keyframe (PLI or FIR).
    KeyframeRequest {
        /// The transceiver whose track is asked.
        transceiver: TransceiverId,
        /// PLI or FIR.
        kind: KeyframeKind,
    },
}
