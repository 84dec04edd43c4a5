//! The `a=extmap` URIs (RFC 8285 §5) of the header extensions WebRTC uses:
//! the one place they are spelled. Each typed value's
//! [`ExtensionValue::URI`](super::ExtensionValue::URI) is one of these.

/// `mid`: the media identification of a BUNDLE group (RFC 9143 §15.2).
pub const MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
/// `rid`: the RTP stream identifier (RFC 8852 §3.1).
pub const RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
/// `repaired-rid`: the stream a redundancy stream repairs (RFC 8852 §3.2).
pub const REPAIRED_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
/// Absolute send time (webrtc.org abs-send-time).
pub const ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
/// Transport-wide sequence number
/// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2).
pub const TRANSPORT_CC: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
/// Client-to-mixer audio level (RFC 6464).
pub const AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
/// Playout delay (webrtc.org playout-delay).
pub const PLAYOUT_DELAY: &str = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay";
/// Absolute capture time (webrtc.org abs-capture-time).
pub const ABS_CAPTURE_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time";
/// Coordination of video orientation (3GPP TS 26.114 §7.4.5).
pub const VIDEO_ORIENTATION: &str = "urn:3gpp:video-orientation";
