//! Transceivers, codecs and header extensions: the media half of the SDP
//! (RFC 9429 §5.2.1 for offers, §5.3.1 for answers): codec matching by
//! name, clock rate and format parameters, RTX by `apt`, extensions by URI.
//! Moving the media is [`crate::media`].

use fulmar_rtp::extension::uri;
use fulmar_sdp::builder::{MediaBuilder, RtpCodec};
use fulmar_sdp::{Direction, MediaDescription};

/// Audio or video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `m=audio`.
    Audio,
    /// `m=video`.
    Video,
}

impl MediaKind {
    /// The SDP media name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }

    fn from_sdp(s: &str) -> Option<Self> {
        match s {
            "audio" => Some(MediaKind::Audio),
            "video" => Some(MediaKind::Video),
            _ => None,
        }
    }
}

/// A codec as negotiated: payload type, name, clock rate, channels, fmtp
/// and RTCP feedback (RFC 8866 §6.6, RFC 4585 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecParams {
    /// Payload type.
    pub payload_type: u8,
    /// Encoding name (`opus`, `VP8`, `rtx`, ...).
    pub name: String,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Audio channels.
    pub channels: Option<u16>,
    /// `a=fmtp` parameters.
    pub fmtp: Option<String>,
    /// `a=rtcp-fb` values (`nack pli`, `transport-cc`, ...).
    pub rtcp_fb: Vec<String>,
}

impl CodecParams {
    fn new(
        pt: u8,
        name: &str,
        rate: u32,
        channels: Option<u16>,
        fmtp: Option<&str>,
        fb: &[&str],
    ) -> Self {
        CodecParams {
            payload_type: pt,
            name: name.to_owned(),
            clock_rate: rate,
            channels,
            fmtp: fmtp.map(str::to_owned),
            rtcp_fb: fb.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Whether this is a retransmission codec (RFC 4588).
    pub fn is_rtx(&self) -> bool {
        self.name.eq_ignore_ascii_case("rtx")
    }

    /// The `apt` parameter of an RTX codec (RFC 4588 §8.6).
    pub fn apt(&self) -> Option<u8> {
        self.fmtp_param("apt").and_then(|v| v.parse().ok())
    }

    /// One `name=value` parameter of the `a=fmtp` line.
    pub fn fmtp_param(&self, name: &str) -> Option<&str> {
        self.fmtp.as_deref()?.split(';').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

const VIDEO_FB: &[&str] = &["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"];

/// The codecs Fulmar offers for `kind`, in preference order.
pub fn default_codecs(kind: MediaKind) -> Vec<CodecParams> {
    match kind {
        MediaKind::Audio => vec![
            CodecParams::new(
                111,
                "opus",
                48000,
                Some(2),
                Some("minptime=10;useinbandfec=1"),
                &["transport-cc"],
            ),
            CodecParams::new(0, "PCMU", 8000, None, None, &[]),
            CodecParams::new(8, "PCMA", 8000, None, None, &[]),
        ],
        MediaKind::Video => vec![
            CodecParams::new(96, "VP8", 90000, None, None, VIDEO_FB),
            CodecParams::new(97, "rtx", 90000, None, Some("apt=96"), &[]),
            CodecParams::new(98, "VP9", 90000, None, Some("profile-id=0"), VIDEO_FB),
            CodecParams::new(99, "rtx", 90000, None, Some("apt=98"), &[]),
            CodecParams::new(
                102,
                "H264",
                90000,
                None,
                Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
                VIDEO_FB,
            ),
            CodecParams::new(103, "rtx", 90000, None, Some("apt=102"), &[]),
            CodecParams::new(
                104,
                "H264",
                90000,
                None,
                Some("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"),
                VIDEO_FB,
            ),
            CodecParams::new(105, "rtx", 90000, None, Some("apt=104"), &[]),
            CodecParams::new(
                106,
                "H264",
                90000,
                None,
                Some("level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"),
                VIDEO_FB,
            ),
            CodecParams::new(107, "rtx", 90000, None, Some("apt=106"), &[]),
            CodecParams::new(
                45,
                "AV1",
                90000,
                None,
                Some("level-idx=5;profile=0;tier=0"),
                VIDEO_FB,
            ),
            CodecParams::new(46, "rtx", 90000, None, Some("apt=45"), &[]),
        ],
    }
}

/// Header extensions Fulmar understands (RFC 8285), with the ids it offers.
pub(crate) fn default_extensions(kind: MediaKind) -> Vec<(u16, String)> {
    let mut v = vec![
        (2, uri::ABS_SEND_TIME),
        (3, uri::TRANSPORT_CC),
        (4, uri::MID),
    ];
    match kind {
        MediaKind::Audio => v.insert(0, (1, uri::AUDIO_LEVEL)),
        MediaKind::Video => {
            v.push((10, uri::RID));
            v.push((11, uri::REPAIRED_RID));
        }
    }
    v.into_iter().map(|(i, u)| (i, u.to_owned())).collect()
}

/// Identifies a transceiver of a [`crate::PeerConnection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransceiverId(pub(crate) usize);

impl TransceiverId {
    /// The index into [`crate::PeerConnection::transceivers`].
    pub fn index(self) -> usize {
        self.0
    }
}

/// A local track attached to a transceiver (its `a=msid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// MediaStream id.
    pub stream_id: String,
    /// Track id.
    pub track_id: String,
    /// SSRC the track will be sent with.
    pub ssrc: u32,
    /// SSRC of its retransmissions (RFC 4588, `a=ssrc-group:FID`), for video.
    pub rtx_ssrc: Option<u32>,
}

/// A transceiver (RFC 9429 §3.4.1): one m-section.
#[derive(Debug, Clone)]
pub struct Transceiver {
    /// Audio or video.
    pub kind: MediaKind,
    /// The mid, once negotiated or offered.
    pub mid: Option<String>,
    /// The direction the application asked for.
    pub direction: Direction,
    /// The direction negotiated by the last complete offer/answer.
    pub current_direction: Option<Direction>,
    /// The local track, if any.
    pub track: Option<TrackInfo>,
    /// Codecs: ours before negotiation, the negotiated set after.
    pub codecs: Vec<CodecParams>,
    /// Header extensions: ours before negotiation, the negotiated set after.
    pub extensions: Vec<(u16, String)>,
    /// Stopped: its m-section is rejected with port 0.
    pub stopped: bool,
}

impl Transceiver {
    pub(crate) fn new(kind: MediaKind, direction: Direction) -> Self {
        Transceiver {
            kind,
            mid: None,
            direction,
            current_direction: None,
            track: None,
            codecs: default_codecs(kind),
            extensions: default_extensions(kind),
            stopped: false,
        }
    }
}

/// What an answerer may answer to an offered direction (RFC 3264 §6.1),
/// given what it wants itself.
pub(crate) fn answer_direction(offered: Direction, wanted: Direction) -> Direction {
    let (o_send, o_recv) = flags(offered);
    let (w_send, w_recv) = flags(wanted);
    from_flags(w_send && o_recv, w_recv && o_send)
}

fn flags(d: Direction) -> (bool, bool) {
    match d {
        Direction::SendRecv => (true, true),
        Direction::SendOnly => (true, false),
        Direction::RecvOnly => (false, true),
        _ => (false, false),
    }
}

fn from_flags(send: bool, recv: bool) -> Direction {
    match (send, recv) {
        (true, true) => Direction::SendRecv,
        (true, false) => Direction::SendOnly,
        (false, true) => Direction::RecvOnly,
        (false, false) => Direction::Inactive,
    }
}

/// Reads the codecs of a remote media section.
pub(crate) fn remote_codecs(m: &MediaDescription) -> Vec<CodecParams> {
    m.codecs()
        .filter_map(|c| {
            let r = c.rtpmap?;
            Some(CodecParams {
                payload_type: c.payload_type,
                name: r.encoding_name.to_owned(),
                clock_rate: r.clock_rate,
                channels: r.encoding_params,
                fmtp: c.fmtp.map(|f| f.parameters.to_owned()),
                rtcp_fb: c
                    .rtcp_fbs()
                    .map(|fb| match fb.parameter {
                        Some(p) => format!("{} {}", fb.feedback_type, p),
                        None => fb.feedback_type.to_owned(),
                    })
                    .collect(),
            })
        })
        .collect()
}

/// Codec negotiation by name and clock rate (RFC 3264 §6.1): the offered
/// codecs we support, with the offerer's payload types, parameters and the
/// feedback we also support; RTX only for a kept primary codec.
pub(crate) fn negotiate_codecs(offered: &[CodecParams], ours: &[CodecParams]) -> Vec<CodecParams> {
    let mut kept: Vec<CodecParams> = offered
        .iter()
        .filter(|o| !o.is_rtx())
        .filter_map(|o| {
            let mine = ours.iter().find(|m| {
                !m.is_rtx()
                    && m.name.eq_ignore_ascii_case(&o.name)
                    && m.clock_rate == o.clock_rate
                    && fmtp_compatible(m, o)
            })?;
            let mut c = o.clone();
            c.rtcp_fb.retain(|fb| mine.rtcp_fb.contains(fb));
            Some(c)
        })
        .collect();
    let rtx: Vec<CodecParams> = if ours.iter().any(CodecParams::is_rtx) {
        offered
            .iter()
            .filter(|o| {
                o.is_rtx()
                    && o.apt()
                        .is_some_and(|apt| kept.iter().any(|k| k.payload_type == apt))
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    kept.extend(rtx);
    kept
}

/// Whether two codecs of the same name can talk to each other, by the
/// format parameters that must match:
/// - H.264 (RFC 6184 §8.2.2): same `packetization-mode` (absent is 0) and
///   same profile (`profile_idc` and `profile-iop`, the first two bytes of
///   `profile-level-id`, absent is 42000a); the level may differ
///   (`level-asymmetry-allowed`, RFC 6184 §8.1).
/// - VP9 (RFC 9628 §6): same `profile-id` (absent is 0).
/// - AV1 (AV1 RTP §7.2): same `profile` (absent is 0).
pub(crate) fn fmtp_compatible(a: &CodecParams, b: &CodecParams) -> bool {
    let same = |k: &str, default: &str| {
        a.fmtp_param(k)
            .unwrap_or(default)
            .eq_ignore_ascii_case(b.fmtp_param(k).unwrap_or(default))
    };
    if a.name.eq_ignore_ascii_case("H264") {
        let profile = |c: &CodecParams| {
            c.fmtp_param("profile-level-id")
                .unwrap_or("42000a")
                .get(..4)
                .map(str::to_ascii_lowercase)
        };
        same("packetization-mode", "0") && profile(a).is_some() && profile(a) == profile(b)
    } else if a.name.eq_ignore_ascii_case("VP9") {
        same("profile-id", "0")
    } else if a.name.eq_ignore_ascii_case("AV1") {
        same("profile", "0")
    } else {
        true
    }
}

/// Header-extension negotiation by URI (RFC 8285 §5): offered ids kept.
pub(crate) fn negotiate_extensions(
    m: &MediaDescription,
    ours: &[(u16, String)],
) -> Vec<(u16, String)> {
    m.extmaps()
        .filter(|e| ours.iter().any(|(_, u)| u == e.uri))
        .map(|e| (e.id, e.uri.to_owned()))
        .collect()
}

/// The media kind of a remote m-line, if it is RTP audio or video.
/// True when an RTP section names a payload type twice, in its `m=` line or
/// in two `a=rtpmap` lines: the codec it stands for would be ambiguous, so
/// browsers refuse such a description and so do we (RFC 8866 §6.6).
pub(crate) fn has_duplicate_payload_type(m: &MediaDescription) -> bool {
    let mut listed = [false; 128];
    let mut mapped = [false; 128];
    let seen_twice = |seen: &mut [bool; 128], pt: u8| {
        seen.get_mut(usize::from(pt))
            .is_some_and(|s| std::mem::replace(s, true))
    };
    m.payload_types().any(|pt| seen_twice(&mut listed, pt))
        || m.rtpmaps().any(|r| seen_twice(&mut mapped, r.payload_type))
}

pub(crate) fn rtp_kind(m: &MediaDescription) -> Option<MediaKind> {
    if m.is_rtp() {
        MediaKind::from_sdp(m.kind())
    } else {
        None
    }
}

/// Adds codec and extension lines of `codecs`/`extensions` to a builder.
pub(crate) fn with_codecs<'a>(
    mut b: MediaBuilder<'a>,
    codecs: &'a [CodecParams],
    extensions: &'a [(u16, String)],
) -> MediaBuilder<'a> {
    for (id, uri) in extensions {
        b = b.extmap(*id, uri);
    }
    for c in codecs {
        let mut rc = RtpCodec::new(c.payload_type, &c.name, c.clock_rate);
        if let Some(ch) = c.channels {
            rc = rc.channels(ch);
        }
        for fb in &c.rtcp_fb {
            rc = rc.rtcp_fb(fb);
        }
        if let Some(f) = &c.fmtp {
            rc = rc.fmtp(f);
        }
        b = b.codec(rc);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_per_rfc3264() {
        use Direction::*;
        assert_eq!(answer_direction(SendRecv, SendRecv), SendRecv);
        assert_eq!(answer_direction(SendRecv, RecvOnly), RecvOnly);
        assert_eq!(answer_direction(SendOnly, SendRecv), RecvOnly);
        assert_eq!(answer_direction(RecvOnly, SendRecv), SendOnly);
        assert_eq!(answer_direction(Inactive, SendRecv), Inactive);
        assert_eq!(answer_direction(RecvOnly, RecvOnly), Inactive);
    }

    #[test]
    fn rtx_follows_its_primary() {
        let offered = vec![
            CodecParams::new(96, "VP8", 90000, None, None, &["nack", "foo"]),
            CodecParams::new(97, "rtx", 90000, None, Some("apt=96"), &[]),
            CodecParams::new(100, "XYZ", 90000, None, None, &[]),
            CodecParams::new(101, "rtx", 90000, None, Some("apt=100"), &[]),
        ];
        let got = negotiate_codecs(&offered, &default_codecs(MediaKind::Video));
        let pts: Vec<u8> = got.iter().map(|c| c.payload_type).collect();
        assert_eq!(pts, [96, 97]);
        assert_eq!(got[0].rtcp_fb, ["nack"]);
    }
}
