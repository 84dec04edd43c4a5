//! Typed getters and mutators of one media section.

use crate::attributes::*;
use crate::candidate::{Candidate, CandidateAttribute};
use crate::description::push_attr;
use crate::getters::common_getters;
use crate::lines::{Bandwidth, Connection, MediaLine};
use crate::section::{Attribute, Line, Section};
use crate::util::{parse_u16, parse_u64, split_byte};
use crate::{Error, MediaDescription, SyntaxError};

impl MediaDescription {
    /// Starts a media section with its `m=` line.
    pub fn new(media_line: &MediaLine<'_>) -> Result<Self, Error> {
        let mut m = MediaDescription {
            section: Section::default(),
        };
        m.section
            .push_line(b'm', format_args!("{media_line}"), false, "m= line")?;
        Ok(m)
    }

    /// Every line of the section, the `m=` line first.
    pub fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.section.lines()
    }

    /// The `m=` line.
    pub fn media_line(&self) -> MediaLine<'_> {
        self.section
            .first_line(b'm')
            .and_then(|v| MediaLine::parse(v).ok())
            .unwrap_or(MediaLine {
                media: "",
                port: 0,
                number_of_ports: None,
                proto: "",
                format_list: "",
            })
    }

    /// `<media>` of the `m=` line: `audio`, `video`, `application`, ...
    pub fn kind(&self) -> &str {
        self.media_line().media
    }

    /// `<port>` of the `m=` line (0: rejected or stopped, RFC 9429 §5.2.2).
    pub fn port(&self) -> u16 {
        self.media_line().port
    }

    /// Sets the port of the `m=` line (0 to reject the section).
    pub fn set_port(&mut self, port: u16) -> Result<(), Error> {
        let line = MediaLine {
            port,
            ..self.media_line()
        };
        let text = line.to_string();
        self.section
            .replace_line(0, b'm', format_args!("{text}"), false, "port")
    }

    /// `<proto>` of the `m=` line.
    pub fn proto(&self) -> &str {
        self.media_line().proto
    }

    /// True when `<proto>` is an RTP profile ([`MediaLine::is_rtp`]).
    pub fn is_rtp(&self) -> bool {
        self.media_line().is_rtp()
    }

    /// True for a WebRTC data-channel section: `m=application` over SCTP
    /// over DTLS with the `webrtc-datachannel` format (RFC 8841 §4.1).
    pub fn is_data_channel(&self) -> bool {
        let line = self.media_line();
        line.media == "application"
            && line.is_sctp()
            && line.formats().any(|f| f == "webrtc-datachannel")
    }

    /// The `<fmt>` tokens of the `m=` line.
    pub fn formats(&self) -> impl Iterator<Item = &str> {
        self.media_line().formats()
    }

    /// The payload types of the `m=` line, in preference order (RTP sections).
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        let rtp = self.media_line().is_rtp();
        self.formats()
            .filter(move |_| rtp)
            .filter_map(|f| f.parse::<u8>().ok())
    }

    /// The section-level `c=` line.
    pub fn connection(&self) -> Option<Connection<'_>> {
        self.section
            .first_line(b'c')
            .and_then(|v| Connection::parse(v).ok())
    }

    /// The section-level `b=` lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = Bandwidth<'_>> {
        self.section
            .lines_of(b'b')
            .filter_map(|v| Bandwidth::parse(v).ok())
    }

    /// `a=mid` (RFC 5888 §4).
    pub fn mid(&self) -> Option<&str> {
        self.section.first_value("mid")
    }

    /// `a=msid` lines (RFC 8830).
    pub fn msids(&self) -> impl Iterator<Item = Msid<'_>> {
        self.section.typed::<Msid<'_>>()
    }

    /// The direction attribute, `None` when absent (which means `sendrecv`, RFC 8866 §6.7).
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.section)
    }

    /// Replaces the direction attribute (or adds one).
    pub fn set_direction(&mut self, direction: Direction) -> Result<(), Error> {
        let index = self.section.lines.iter().position(|l| {
            let line = self.section.line_of(l);
            line.kind == 'a' && Direction::from_name(line.value).is_some()
        });
        match index {
            Some(i) => {
                self.section
                    .replace_line(i, b'a', format_args!("{direction}"), true, "direction")
            }
            None => self
                .section
                .push_line(b'a', format_args!("{direction}"), true, "direction"),
        }
    }

    /// `a=rtcp` (RFC 3605).
    pub fn rtcp(&self) -> Option<Rtcp<'_>> {
        self.section.typed::<Rtcp<'_>>().next()
    }

    /// `a=rtcp-mux` (RFC 5761).
    pub fn rtcp_mux(&self) -> bool {
        self.section.has("rtcp-mux")
    }

    /// `a=rtcp-mux-only` (RFC 8858).
    pub fn rtcp_mux_only(&self) -> bool {
        self.section.has("rtcp-mux-only")
    }

    /// `a=rtcp-rsize` (RFC 5506).
    pub fn rtcp_rsize(&self) -> bool {
        self.section.has("rtcp-rsize")
    }

    /// `a=bundle-only` (RFC 9143 §6).
    pub fn bundle_only(&self) -> bool {
        self.section.has("bundle-only")
    }

    /// `a=rtpmap` lines.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap<'_>> {
        self.section.typed::<RtpMap<'_>>()
    }

    /// The `a=rtpmap` of payload type `pt`.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap<'_>> {
        self.section
            .values("rtpmap")
            .filter(|v| for_payload_type(v, pt))
            .find_map(|v| RtpMap::parse(v).ok())
    }

    /// `a=fmtp` lines.
    pub fn fmtps(&self) -> impl Iterator<Item = Fmtp<'_>> {
        self.section.typed::<Fmtp<'_>>()
    }

    /// The `a=fmtp` of payload type `pt`.
    pub fn fmtp(&self, pt: u8) -> Option<Fmtp<'_>> {
        self.section
            .values("fmtp")
            .filter(|v| for_payload_type(v, pt))
            .find_map(|v| Fmtp::parse(v).ok())
    }

    /// `a=rtcp-fb` lines.
    pub fn rtcp_fbs(&self) -> impl Iterator<Item = RtcpFb<'_>> {
        self.section.typed::<RtcpFb<'_>>()
    }

    /// The `a=rtcp-fb` lines that apply to payload type `pt` (including `*`).
    pub fn rtcp_fbs_for(&self, pt: u8) -> impl Iterator<Item = RtcpFb<'_>> {
        self.section
            .values("rtcp-fb")
            .filter(move |v| for_payload_type(v, pt) || crate::util::trim_start(v).starts_with('*'))
            .filter_map(|v| RtcpFb::parse(v).ok())
    }

    /// The codecs of an RTP section: for each payload type of the `m=` line (in
    /// order, repeats skipped, so at most 128), its rtpmap and fmtp (see [`Codec`]).
    pub fn codecs(&self) -> impl Iterator<Item = Codec<'_>> {
        let mut seen = 0u128;
        let unique = move |pt: &u8| {
            let bit = 1u128 << (pt & 127);
            let new = seen & bit == 0;
            seen |= bit;
            new
        };
        self.payload_types().filter(unique).map(move |pt| Codec {
            payload_type: pt,
            rtpmap: self.rtpmap(pt),
            fmtp: self.fmtp(pt),
            media: self,
        })
    }

    /// `a=ssrc` lines (RFC 5576).
    pub fn ssrcs(&self) -> impl Iterator<Item = Ssrc<'_>> {
        self.section.typed::<Ssrc<'_>>()
    }

    /// `a=ssrc-group` lines (RFC 5576).
    pub fn ssrc_groups(&self) -> impl Iterator<Item = SsrcGroup<'_>> {
        self.section.typed::<SsrcGroup<'_>>()
    }

    /// `a=rid` lines (RFC 8851).
    pub fn rids(&self) -> impl Iterator<Item = Rid<'_>> {
        self.section.typed::<Rid<'_>>()
    }

    /// `a=simulcast` (RFC 8853).
    pub fn simulcast(&self) -> Option<Simulcast<'_>> {
        self.section.typed::<Simulcast<'_>>().next()
    }

    /// `a=sctp-port` (RFC 8841 §5).
    pub fn sctp_port(&self) -> Option<u16> {
        self.section
            .first_value("sctp-port")
            .and_then(|v| parse_u16(v, "sctp-port").ok())
    }

    /// `a=max-message-size` (RFC 8841 §6); 0 means no limit. When absent the
    /// default is 64 KiB (RFC 8841 §6.1).
    pub fn max_message_size(&self) -> Option<u64> {
        self.section
            .first_value("max-message-size")
            .and_then(|v| parse_u64(v, "max-message-size").ok())
    }

    /// `a=candidate` lines (RFC 8839 §5.1).
    pub fn candidates(&self) -> impl Iterator<Item = Candidate> + '_ {
        self.section.typed::<CandidateAttribute>().map(|c| c.0)
    }

    /// Appends `a=candidate:<candidate>`.
    pub fn push_candidate(&mut self, candidate: &Candidate) -> Result<(), Error> {
        self.section.push_line(
            b'a',
            format_args!("candidate:{}", candidate.value()),
            true,
            "candidate",
        )
    }

    /// `a=end-of-candidates` (RFC 8838 §8.2).
    pub fn end_of_candidates(&self) -> bool {
        self.section.has("end-of-candidates")
    }

    /// Appends a media-level attribute `a=<name>[:<value>]`, checked like a parsed one.
    pub fn push_attribute(&mut self, name: &str, value: Option<&str>) -> Result<(), Error> {
        push_attr(&mut self.section, name, value, true)
    }

    /// Appends a media-level typed attribute.
    pub fn push<'v, T: TypedAttribute<'v>>(&mut self, attribute: &T) -> Result<(), Error> {
        self.section
            .push_line(b'a', format_args!("{}:{attribute}", T::NAME), true, T::NAME)
    }

    /// Removes every `a=<name>` of the section; returns how many there were.
    pub fn remove_attributes(&mut self, name: &str) -> usize {
        self.section.remove_attributes(name)
    }

    /// Appends a media-level non-attribute line (`i=`, `c=`, `b=`, `k=`).
    pub fn push_line(&mut self, kind: char, value: &str) -> Result<(), Error> {
        let kind = u8::try_from(kind).map_err(|_| Error::InvalidValue {
            field: "line type",
            kind: SyntaxError::UnknownLineType(kind),
        })?;
        if kind == b'm' {
            return Err(Error::InvalidValue {
                field: "line type",
                kind: SyntaxError::DuplicateLine('m'),
            });
        }
        self.section
            .push_line(kind, format_args!("{value}"), true, "line")
    }

    common_getters!(section);
}

/// One codec of an RTP media section: a payload type with its `a=rtpmap` and
/// `a=fmtp`, and its `a=rtcp-fb` lines through [`Codec::rtcp_fbs`].
#[derive(Debug, Clone, Copy)]
pub struct Codec<'a> {
    /// The payload type.
    pub payload_type: u8,
    /// Its `a=rtpmap`, absent for static payload types written without one.
    pub rtpmap: Option<RtpMap<'a>>,
    /// Its `a=fmtp`, if any.
    pub fmtp: Option<Fmtp<'a>>,
    media: &'a MediaDescription,
}

impl<'a> Codec<'a> {
    /// The encoding name (`opus`, `VP8`, ...), from the rtpmap.
    pub fn name(&self) -> Option<&'a str> {
        self.rtpmap.map(|r| r.encoding_name)
    }

    /// The `a=rtcp-fb` lines for this payload type (and `*`).
    pub fn rtcp_fbs(&self) -> impl Iterator<Item = RtcpFb<'a>> {
        self.media.rtcp_fbs_for(self.payload_type)
    }
}

pub(crate) fn direction_of(section: &Section) -> Option<Direction> {
    section.attributes().find_map(|a| {
        if a.value.is_none() {
            Direction::from_name(a.name)
        } else {
            None
        }
    })
}

/// True when an attribute value starts with payload type `pt` (a cheap test
/// before a full parse).
fn for_payload_type(value: &str, pt: u8) -> bool {
    let value = crate::util::trim_start(value);
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    value.get(..digits).and_then(|d| d.parse::<u8>().ok()) == Some(pt)
}
