//! Builders for offers and answers shaped like Chromium's (RFC 9429 §5.2, §5.3).
//!
//! [`SessionBuilder`] writes the session level (`v=`, `o=`, `s=`, `t=`, BUNDLE
//! group, `extmap-allow-mixed`, `msid-semantic`) and [`MediaBuilder`] one media
//! section, with its lines in the order Chromium writes them: `m=`, `c=`,
//! `a=rtcp`, ICE credentials and options, fingerprints, `setup`, `mid`,
//! `extmap`s, direction, `msid`, `rtcp-mux`, `rtcp-rsize`, extra attributes,
//! per codec `rtpmap` / `rtcp-fb` / `fmtp`, `rid`s, `simulcast`, `ssrc-group`s,
//! `ssrc`s, `sctp-port`, `max-message-size`, candidates, `end-of-candidates`.
//! Every value is checked as the parser would check it, so what a builder
//! writes always parses back to the same typed values.
//!
//! ```
//! use fulmar_sdp::builder::{MediaBuilder, RtpCodec, SessionBuilder};
//! use fulmar_sdp::{Direction, SessionDescription, Setup};
//!
//! let fp = "57:23:42:14:FE:33:41:1F:F3:27:94:57:D1:00:2D:AF:DC:26:54:EF:E7:A5:3E:68:6B:27:FF:E9:46:F7:71:86";
//! let audio = MediaBuilder::audio()
//!     .ice_credentials("FqXw", "KytDzqXBXkHPhJKGH7LVq/Pb")
//!     .ice_option("trickle")
//!     .fingerprint("sha-256", fp)
//!     .setup(Setup::Active)
//!     .mid("0")
//!     .extmap(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level")
//!     .direction(Direction::RecvOnly)
//!     .rtcp_mux()
//!     .codec(RtpCodec::new(111, "opus", 48000).channels(2).fmtp("minptime=10;useinbandfec=1"))
//!     .build()?;
//! let data = MediaBuilder::application()
//!     .ice_credentials("FqXw", "KytDzqXBXkHPhJKGH7LVq/Pb")
//!     .fingerprint("sha-256", fp)
//!     .setup(Setup::Active)
//!     .mid("1")
//!     .sctp_port(5000)
//!     .max_message_size(262144)
//!     .build()?;
//! let answer = SessionBuilder::new(507033185282565203, 2)
//!     .bundle(&["0", "1"])
//!     .media(audio)
//!     .media(data)
//!     .build()?;
//! let text = answer.to_string();
//! assert!(text.starts_with("v=0\r\no=- 507033185282565203 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"));
//! assert_eq!(SessionDescription::parse(&text)?, answer);
//! # Ok::<(), fulmar_sdp::Error>(())
//! ```

use crate::attributes::*;
use crate::candidate::Candidate;
use crate::lines::{is_rtp_proto, Connection, MediaLine};
use crate::{Error, MediaDescription, SessionDescription};

/// Builds the session level of a JSEP description and collects its media sections.
#[derive(Debug, Clone)]
pub struct SessionBuilder<'a> {
    session_id: u64,
    session_version: u64,
    groups: Vec<(&'a str, Vec<&'a str>)>,
    extmap_allow_mixed: bool,
    msid_semantic: Option<(&'a str, Vec<&'a str>)>,
    ice_lite: bool,
    attributes: Vec<(&'a str, Option<&'a str>)>,
    media: Vec<MediaDescription>,
}

impl<'a> SessionBuilder<'a> {
    /// Starts a description with `o=- <session_id> <session_version> IN IP4 127.0.0.1`
    /// (RFC 9429 §5.2.1: `session_id` must be below 2^63). By default it writes
    /// `a=extmap-allow-mixed` and `a=msid-semantic: WMS` as Chromium does.
    pub fn new(session_id: u64, session_version: u64) -> Self {
        SessionBuilder {
            session_id,
            session_version,
            groups: Vec::new(),
            extmap_allow_mixed: true,
            msid_semantic: Some(("WMS", Vec::new())),
            ice_lite: false,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }

    /// Adds `a=group:BUNDLE <mids>` (RFC 9143).
    pub fn bundle(self, mids: &[&'a str]) -> Self {
        self.group("BUNDLE", mids)
    }

    /// Adds `a=group:<semantics> <mids>` (RFC 5888).
    pub fn group(mut self, semantics: &'a str, mids: &[&'a str]) -> Self {
        self.groups.push((semantics, mids.to_vec()));
        self
    }

    /// Writes `a=extmap-allow-mixed` or not (default: written).
    pub fn extmap_allow_mixed(mut self, on: bool) -> Self {
        self.extmap_allow_mixed = on;
        self
    }

    /// Sets `a=msid-semantic: <semantic> <ids>`; `None` leaves the line out.
    pub fn msid_semantic(mut self, semantic: Option<(&'a str, &[&'a str])>) -> Self {
        self.msid_semantic = semantic.map(|(s, ids)| (s, ids.to_vec()));
        self
    }

    /// Writes `a=ice-lite` (RFC 8839 §5.3).
    pub fn ice_lite(mut self) -> Self {
        self.ice_lite = true;
        self
    }

    /// Adds any other session-level attribute.
    pub fn attribute(mut self, name: &'a str, value: Option<&'a str>) -> Self {
        self.attributes.push((name, value));
        self
    }

    /// Appends a media section.
    pub fn media(mut self, media: MediaDescription) -> Self {
        self.media.push(media);
        self
    }

    /// Writes the description; fails if a value cannot be written as SDP.
    pub fn build(self) -> Result<SessionDescription, Error> {
        let mut sdp = SessionDescription::new(self.session_id, self.session_version);
        for (semantics, mids) in &self.groups {
            sdp.push(&Group {
                semantics,
                tag_list: &mids.join(" "),
            })?;
        }
        if self.extmap_allow_mixed {
            sdp.push_attribute("extmap-allow-mixed", None)?;
        }
        if let Some((semantic, ids)) = &self.msid_semantic {
            sdp.push(&MsidSemantic {
                semantic,
                identifier_list: &ids.join(" "),
            })?;
        }
        if self.ice_lite {
            sdp.push_attribute("ice-lite", None)?;
        }
        for (name, value) in self.attributes {
            sdp.push_attribute(name, value)?;
        }
        for m in self.media {
            sdp.push_media(m);
        }
        sdp.shrink_to_fit();
        Ok(sdp)
    }
}

/// One RTP codec for [`MediaBuilder::codec`]: its `rtpmap`, optional `fmtp` and
/// `rtcp-fb` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpCodec<'a> {
    /// Payload type (0..=127; dynamic ones are 96..=127 and 35..=63 in Chromium).
    pub payload_type: u8,
    /// Encoding name (`opus`, `VP8`, `H264`, `rtx`, ...).
    pub name: &'a str,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Audio channels, written as the rtpmap's encoding parameters.
    pub channels: Option<u16>,
    /// `a=fmtp` parameters.
    pub fmtp: Option<&'a str>,
    /// `a=rtcp-fb` values after the payload type (`nack`, `nack pli`, `transport-cc`, ...).
    pub rtcp_fbs: Vec<&'a str>,
}

impl<'a> RtpCodec<'a> {
    /// A codec with no channels, fmtp or feedback.
    pub fn new(payload_type: u8, name: &'a str, clock_rate: u32) -> Self {
        RtpCodec {
            payload_type,
            name,
            clock_rate,
            channels: None,
            fmtp: None,
            rtcp_fbs: Vec::new(),
        }
    }

    /// Sets the channel count.
    pub fn channels(mut self, channels: u16) -> Self {
        self.channels = Some(channels);
        self
    }

    /// Sets the fmtp parameters.
    pub fn fmtp(mut self, parameters: &'a str) -> Self {
        self.fmtp = Some(parameters);
        self
    }

    /// Adds one rtcp-fb value.
    pub fn rtcp_fb(mut self, feedback: &'a str) -> Self {
        self.rtcp_fbs.push(feedback);
        self
    }
}

/// Builds one media section in Chromium's line order (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct MediaBuilder<'a> {
    media: &'a str,
    proto: &'a str,
    port: u16,
    formats: Vec<&'a str>,
    connection: Option<Connection<'a>>,
    rtcp: bool,
    ice: Option<(&'a str, &'a str)>,
    ice_options: Vec<&'a str>,
    fingerprints: Vec<(&'a str, &'a str)>,
    setup: Option<Setup>,
    mid: Option<&'a str>,
    extmaps: Vec<(u16, &'a str)>,
    direction: Option<Direction>,
    msids: Vec<(&'a str, Option<&'a str>)>,
    rtcp_mux: bool,
    rtcp_rsize: bool,
    attributes: Vec<(&'a str, Option<&'a str>)>,
    codecs: Vec<RtpCodec<'a>>,
    rids: Vec<(&'a str, RidDirection, Option<&'a str>)>,
    simulcast: Option<&'a str>,
    ssrc_groups: Vec<(&'a str, Vec<u32>)>,
    ssrcs: Vec<(u32, &'a str, Option<&'a str>)>,
    sctp_port: Option<u16>,
    max_message_size: Option<u64>,
    candidates: Vec<Candidate>,
    end_of_candidates: bool,
}

impl<'a> MediaBuilder<'a> {
    /// A section for `<media>` over `<proto>`, with JSEP's placeholder port 9
    /// and `c=IN IP4 0.0.0.0` (RFC 9429 §5.2.1).
    pub fn new(media: &'a str, proto: &'a str) -> Self {
        MediaBuilder {
            media,
            proto,
            port: 9,
            formats: Vec::new(),
            connection: Some(Connection::JSEP_DEFAULT),
            rtcp: is_rtp_proto(proto),
            ice: None,
            ice_options: Vec::new(),
            fingerprints: Vec::new(),
            setup: None,
            mid: None,
            extmaps: Vec::new(),
            direction: None,
            msids: Vec::new(),
            rtcp_mux: false,
            rtcp_rsize: false,
            attributes: Vec::new(),
            codecs: Vec::new(),
            rids: Vec::new(),
            simulcast: None,
            ssrc_groups: Vec::new(),
            ssrcs: Vec::new(),
            sctp_port: None,
            max_message_size: None,
            candidates: Vec::new(),
            end_of_candidates: false,
        }
    }

    /// `m=audio 9 UDP/TLS/RTP/SAVPF ...` with `a=rtcp:9 IN IP4 0.0.0.0`.
    pub fn audio() -> Self {
        Self::new("audio", "UDP/TLS/RTP/SAVPF")
    }

    /// `m=video 9 UDP/TLS/RTP/SAVPF ...` with `a=rtcp:9 IN IP4 0.0.0.0`.
    pub fn video() -> Self {
        Self::new("video", "UDP/TLS/RTP/SAVPF")
    }

    /// `m=application 9 UDP/DTLS/SCTP webrtc-datachannel` (RFC 8841 §4.1).
    pub fn application() -> Self {
        Self::new("application", "UDP/DTLS/SCTP").format("webrtc-datachannel")
    }

    /// Sets the `m=` port (0 rejects the section, RFC 9429 §5.3.1).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Adds a non-RTP `<fmt>` to the `m=` line (RTP formats come from [`MediaBuilder::codec`]).
    pub fn format(mut self, format: &'a str) -> Self {
        self.formats.push(format);
        self
    }

    /// Sets the `c=` line (`None` leaves it out).
    pub fn connection(mut self, connection: Option<Connection<'a>>) -> Self {
        self.connection = connection;
        self
    }

    /// Writes `a=rtcp:9 IN IP4 0.0.0.0` or not (default: for RTP sections).
    pub fn rtcp_attribute(mut self, on: bool) -> Self {
        self.rtcp = on;
        self
    }

    /// `a=ice-ufrag` and `a=ice-pwd` (RFC 8839 §5.4).
    pub fn ice_credentials(mut self, ufrag: &'a str, pwd: &'a str) -> Self {
        self.ice = Some((ufrag, pwd));
        self
    }

    /// Adds an `a=ice-options` token (`trickle`, `renomination`, ...).
    pub fn ice_option(mut self, option: &'a str) -> Self {
        self.ice_options.push(option);
        self
    }

    /// Adds `a=fingerprint:<hash> <digest>` (RFC 8122); see [`format_fingerprint`].
    pub fn fingerprint(mut self, hash_function: &'a str, fingerprint: &'a str) -> Self {
        self.fingerprints.push((hash_function, fingerprint));
        self
    }

    /// `a=setup` (RFC 8842).
    pub fn setup(mut self, setup: Setup) -> Self {
        self.setup = Some(setup);
        self
    }

    /// `a=mid` (RFC 5888).
    pub fn mid(mut self, mid: &'a str) -> Self {
        self.mid = Some(mid);
        self
    }

    /// Adds `a=extmap:<id> <uri>` (RFC 8285).
    pub fn extmap(mut self, id: u16, uri: &'a str) -> Self {
        self.extmaps.push((id, uri));
        self
    }

    /// The direction attribute.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// Adds `a=msid:<stream id> [<track id>]` (RFC 8830).
    pub fn msid(mut self, stream_id: &'a str, track_id: Option<&'a str>) -> Self {
        self.msids.push((stream_id, track_id));
        self
    }

    /// `a=rtcp-mux` (RFC 5761; required by JSEP, RFC 9429 §5.2.1).
    pub fn rtcp_mux(mut self) -> Self {
        self.rtcp_mux = true;
        self
    }

    /// `a=rtcp-rsize` (RFC 5506).
    pub fn rtcp_rsize(mut self) -> Self {
        self.rtcp_rsize = true;
        self
    }

    /// Adds any other attribute, written after `rtcp-rsize` (e.g. `rtcp-xr`).
    pub fn attribute(mut self, name: &'a str, value: Option<&'a str>) -> Self {
        self.attributes.push((name, value));
        self
    }

    /// Adds a codec: its payload type joins the `m=` line in call order.
    pub fn codec(mut self, codec: RtpCodec<'a>) -> Self {
        self.codecs.push(codec);
        self
    }

    /// Adds `a=rid:<id> <direction> [<params>]` (RFC 8851).
    pub fn rid(mut self, id: &'a str, direction: RidDirection, params: Option<&'a str>) -> Self {
        self.rids.push((id, direction, params));
        self
    }

    /// Sets `a=simulcast:<value>` (RFC 8853), e.g. `send h;m;l`.
    pub fn simulcast(mut self, value: &'a str) -> Self {
        self.simulcast = Some(value);
        self
    }

    /// Adds `a=ssrc-group:<semantics> <ssrcs>` (RFC 5576).
    pub fn ssrc_group(mut self, semantics: &'a str, ssrcs: &[u32]) -> Self {
        self.ssrc_groups.push((semantics, ssrcs.to_vec()));
        self
    }

    /// Adds `a=ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576).
    pub fn ssrc(mut self, ssrc: u32, attribute: &'a str, value: Option<&'a str>) -> Self {
        self.ssrcs.push((ssrc, attribute, value));
        self
    }

    /// `a=sctp-port` (RFC 8841 §5).
    pub fn sctp_port(mut self, port: u16) -> Self {
        self.sctp_port = Some(port);
        self
    }

    /// `a=max-message-size` (RFC 8841 §6).
    pub fn max_message_size(mut self, size: u64) -> Self {
        self.max_message_size = Some(size);
        self
    }

    /// Adds `a=candidate` (RFC 8839 §5.1).
    pub fn candidate(mut self, candidate: Candidate) -> Self {
        self.candidates.push(candidate);
        self
    }

    /// Writes `a=end-of-candidates` (RFC 8838 §8.2).
    pub fn end_of_candidates(mut self) -> Self {
        self.end_of_candidates = true;
        self
    }

    /// Writes the section; fails if a value cannot be written as SDP.
    pub fn build(self) -> Result<MediaDescription, Error> {
        let mut formats: Vec<String> = self
            .codecs
            .iter()
            .map(|c| c.payload_type.to_string())
            .collect();
        formats.extend(self.formats.iter().map(|f| f.to_string()));
        let format_list = formats.join(" ");
        let line = MediaLine {
            media: self.media,
            port: self.port,
            number_of_ports: None,
            proto: self.proto,
            format_list: &format_list,
        };
        let mut m = MediaDescription::new(&line)?;
        if let Some(c) = self.connection {
            m.push_line('c', &c.to_string())?;
        }
        if self.rtcp {
            m.push(&Rtcp {
                port: 9,
                connection: Some(Connection::JSEP_DEFAULT),
            })?;
        }
        if let Some((ufrag, pwd)) = self.ice {
            m.push_attribute("ice-ufrag", Some(ufrag))?;
            m.push_attribute("ice-pwd", Some(pwd))?;
        }
        if !self.ice_options.is_empty() {
            m.push_attribute("ice-options", Some(&self.ice_options.join(" ")))?;
        }
        for (hash_function, fingerprint) in self.fingerprints {
            m.push(&Fingerprint {
                hash_function,
                fingerprint,
            })?;
        }
        if let Some(s) = self.setup {
            m.push(&s)?;
        }
        if let Some(mid) = self.mid {
            m.push_attribute("mid", Some(mid))?;
        }
        for (id, uri) in self.extmaps {
            m.push(&ExtMap {
                id,
                direction: None,
                uri,
                extension_attributes: None,
            })?;
        }
        if let Some(d) = self.direction {
            m.push_attribute(d.as_str(), None)?;
        }
        for (stream_id, track_id) in self.msids {
            m.push(&Msid {
                stream_id,
                track_id,
            })?;
        }
        if self.rtcp_mux {
            m.push_attribute("rtcp-mux", None)?;
        }
        if self.rtcp_rsize {
            m.push_attribute("rtcp-rsize", None)?;
        }
        for (name, value) in self.attributes {
            m.push_attribute(name, value)?;
        }
        for c in &self.codecs {
            let pt = c.payload_type;
            m.push(&RtpMap {
                payload_type: pt,
                encoding_name: c.name,
                clock_rate: c.clock_rate,
                encoding_params: c.channels,
            })?;
            for fb in &c.rtcp_fbs {
                m.push_attribute("rtcp-fb", Some(&format!("{pt} {fb}")))?;
            }
            if let Some(parameters) = c.fmtp {
                m.push(&Fmtp {
                    payload_type: pt,
                    parameters,
                })?;
            }
        }
        for (id, direction, param_list) in self.rids {
            m.push(&Rid {
                id,
                direction,
                param_list,
            })?;
        }
        if let Some(sc) = self.simulcast {
            m.push_attribute("simulcast", Some(sc))?;
        }
        for (semantics, ssrcs) in &self.ssrc_groups {
            let list: Vec<String> = ssrcs.iter().map(u32::to_string).collect();
            m.push(&SsrcGroup {
                semantics,
                ssrc_list: &list.join(" "),
            })?;
        }
        for (ssrc, attribute, value) in self.ssrcs {
            m.push(&Ssrc {
                ssrc,
                attribute,
                value,
            })?;
        }
        if let Some(p) = self.sctp_port {
            m.push_attribute("sctp-port", Some(&p.to_string()))?;
        }
        if let Some(s) = self.max_message_size {
            m.push_attribute("max-message-size", Some(&s.to_string()))?;
        }
        for c in &self.candidates {
            m.push_candidate(c)?;
        }
        if self.end_of_candidates {
            m.push_attribute("end-of-candidates", None)?;
        }
        Ok(m)
    }
}
