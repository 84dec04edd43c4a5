//! [`SessionDescription`] and [`MediaDescription`]: parsing, writing, typed
//! getters and mutation.

use core::fmt;

use crate::attributes::*;
use crate::candidate::{Candidate, CandidateAttribute};
use crate::lines::{Bandwidth, Connection, MediaLine, Origin, Timing};
use crate::section::{validate_attribute, validate_line, Attribute, Line, RawLine, Section};
use crate::util::{find_byte, parse_u16, parse_u64, split_byte};
use crate::{Error, SyntaxError};

/// Getters for attributes that may appear at both levels.
macro_rules! common_getters {
    ($field:ident) => {
        /// Every `a=` line at this level, in order.
        pub fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> {
            self.$field.attributes()
        }

        /// The value of the first `a=<name>` (`Some("")` for a property attribute).
        pub fn attribute(&self, name: &str) -> Option<&str> {
            self.$field.first_value(name)
        }

        /// The values of every `a=<name>`.
        pub fn attribute_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
            self.$field.values(name)
        }

        /// True when an `a=<name>` is present.
        pub fn has_attribute(&self, name: &str) -> bool {
            self.$field.has(name)
        }

        /// Every attribute of type `T` that parses (all of them, for checked types).
        pub fn typed<'s, T: TypedAttribute<'s> + 's>(&'s self) -> impl Iterator<Item = T> + 's {
            self.$field.typed::<T>()
        }

        /// `a=ice-ufrag` at this level (RFC 8839 §5.4).
        pub fn ice_ufrag(&self) -> Option<&str> {
            self.$field.first_value("ice-ufrag")
        }

        /// `a=ice-pwd` at this level (RFC 8839 §5.4).
        pub fn ice_pwd(&self) -> Option<&str> {
            self.$field.first_value("ice-pwd")
        }

        /// The `a=ice-options` tokens at this level (`trickle`, `renomination`, ...).
        pub fn ice_options(&self) -> impl Iterator<Item = &str> {
            self.$field
                .values("ice-options")
                .flat_map(|v| split_byte(v, b' ').filter(|t| !t.is_empty()))
        }

        /// `a=fingerprint` lines at this level (RFC 8122; there may be several).
        pub fn fingerprints(&self) -> impl Iterator<Item = Fingerprint<'_>> {
            self.$field.typed::<Fingerprint<'_>>()
        }

        /// `a=setup` at this level (RFC 4145, RFC 8842).
        pub fn setup(&self) -> Option<Setup> {
            self.$field.typed::<Setup>().next()
        }

        /// `a=extmap` lines at this level (RFC 8285).
        pub fn extmaps(&self) -> impl Iterator<Item = ExtMap<'_>> {
            self.$field.typed::<ExtMap<'_>>()
        }

        /// `a=extmap-allow-mixed` (RFC 8285 §6): one- and two-byte header
        /// extensions may be mixed.
        pub fn extmap_allow_mixed(&self) -> bool {
            self.$field.has("extmap-allow-mixed")
        }
    };
}

/// Bounds on what [`SessionDescription::parse_with_limits`] accepts, so that no
/// input can make the parser allocate without limit. The parser copies the input
/// once (split by section) and keeps 12 bytes per line, so memory stays within a
/// small multiple of `max_input_len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest input in bytes (default 1 MiB: Chromium's offer for 100 video
    /// transceivers is about 600 KB).
    pub max_input_len: usize,
    /// Most lines (default 32,768).
    pub max_lines: usize,
    /// Most `m=` sections (default 1,024).
    pub max_media_sections: usize,
}

impl Limits {
    /// The limits [`SessionDescription::parse`] applies.
    pub const DEFAULT: Limits = Limits {
        max_input_len: 1 << 20,
        max_lines: 32_768,
        max_media_sections: 1_024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// The line ending a description is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEnding {
    /// CR LF, as RFC 8866 §5 requires and browsers write.
    #[default]
    CrLf,
    /// LF alone, which RFC 8866 §5 asks parsers to accept too.
    Lf,
}

impl LineEnding {
    fn as_str(self) -> &'static str {
        match self {
            LineEnding::CrLf => "\r\n",
            LineEnding::Lf => "\n",
        }
    }
}

/// A whole SDP session description (RFC 8866): the session-level lines and the
/// media sections, each line kept exactly as written.
///
/// Writing it back (`Display`, [`SessionDescription::write_to`]) reproduces every
/// line byte for byte, lines Fulmar does not interpret included, with the line
/// ending of the input's first line. The typed getters read the JSEP attributes
/// (RFC 9429) from the stored lines; every attribute with a typed view was
/// checked when parsed or pushed, so they never see malformed text.
#[derive(Clone)]
pub struct SessionDescription {
    session: Section,
    media: Vec<MediaDescription>,
    line_ending: LineEnding,
}

/// One media section: the `m=` line and the lines after it up to the next `m=`.
#[derive(Clone)]
pub struct MediaDescription {
    section: Section,
}

fn syntax(line: usize) -> impl Fn(SyntaxError) -> Error {
    move |kind| Error::Syntax { line, kind }
}

impl SessionDescription {
    /// Parses a description with the [`Limits::DEFAULT`] limits.
    ///
    /// Accepts CRLF and LF-only line endings (RFC 8866 §5) and a last line without
    /// an ending; trailing empty lines are ignored. Any other malformation is an
    /// [`Error::Syntax`] naming the line: missing `v=` first, an unknown type
    /// letter (RFC 8866 §5 asks to reject the whole description), a session-only
    /// line in a media section, a missing or repeated `o=`/`s=`, a malformed
    /// `o=`/`c=`/`b=`/`t=`/`m=` line, or a malformed attribute among those with a
    /// typed view (rtpmap, fmtp, rtcp-fb, extmap, ssrc, ssrc-group, mid, msid,
    /// msid-semantic, group, fingerprint, setup, ice-ufrag, ice-pwd, rid,
    /// simulcast, sctp-port, max-message-size, rtcp, candidate). Other attributes
    /// are kept without interpretation.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_with_limits(text, &Limits::DEFAULT)
    }

    /// Parses bytes, which must be UTF-8 (RFC 8866 §5; JSEP descriptions are
    /// JavaScript strings); invalid UTF-8 is [`Error::InvalidUtf8`] with its line.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::parse_bytes_with_limits(bytes, &Limits::DEFAULT)
    }

    /// [`SessionDescription::parse_bytes`] with explicit limits.
    pub fn parse_bytes_with_limits(bytes: &[u8], limits: &Limits) -> Result<Self, Error> {
        check_len(bytes.len(), limits)?;
        match core::str::from_utf8(bytes) {
            Ok(text) => Self::parse_with_limits(text, limits),
            Err(e) => {
                let valid = bytes.get(..e.valid_up_to()).unwrap_or(&[]);
                let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
                Err(Error::InvalidUtf8 { line })
            }
        }
    }

    /// [`SessionDescription::parse`] with explicit limits.
    pub fn parse_with_limits(text: &str, limits: &Limits) -> Result<Self, Error> {
        check_len(text.len(), limits)?;
        Parser::new(text, limits).run()
    }

    /// Starts a description the way JSEP does (RFC 9429 §5.2.1):
    /// `v=0`, `o=- <session_id> <session_version> IN IP4 127.0.0.1`, `s=-`, `t=0 0`.
    pub fn new(session_id: u64, session_version: u64) -> Self {
        let mut s = SessionDescription {
            session: Section::default(),
            media: Vec::new(),
            line_ending: LineEnding::CrLf,
        };
        let lines: [(u8, fmt::Arguments<'_>); 4] = [
            (b'v', format_args!("0")),
            (
                b'o',
                format_args!("- {session_id} {session_version} IN IP4 127.0.0.1"),
            ),
            (b's', format_args!("-")),
            (b't', format_args!("0 0")),
        ];
        for (kind, value) in lines {
            // These values are well formed; an error here cannot happen.
            let _ = s.session.push_line(kind, value, false, "session line");
        }
        s
    }

    /// The line ending used when writing.
    pub fn line_ending(&self) -> LineEnding {
        self.line_ending
    }

    /// Sets the line ending used when writing.
    pub fn set_line_ending(&mut self, ending: LineEnding) {
        self.line_ending = ending;
    }

    /// Writes the description into `out` (what `Display` / `to_string` produce).
    pub fn write_to(&self, out: &mut String) {
        // Writing into a String cannot fail.
        let _ = self.write_fmt_to(out);
    }

    fn write_fmt_to(&self, f: &mut impl fmt::Write) -> fmt::Result {
        let ending = self.line_ending.as_str();
        self.session.write_to(f, ending)?;
        for m in &self.media {
            m.section.write_to(f, ending)?;
        }
        Ok(())
    }

    /// Every session-level line, in order.
    pub fn session_lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.session.lines()
    }

    /// The origin (`o=`).
    pub fn origin(&self) -> Option<Origin<'_>> {
        self.session
            .first_line(b'o')
            .and_then(|v| Origin::parse(v).ok())
    }

    /// Replaces the `o=` line (JSEP bumps `sess-version` on each new description).
    pub fn set_origin(&mut self, origin: &Origin<'_>) -> Result<(), Error> {
        let index = self
            .session
            .lines
            .iter()
            .position(|l| self.session.kind_of(l) == b'o');
        match index {
            Some(i) => {
                self.session
                    .replace_line(i, b'o', format_args!("{origin}"), false, "origin")
            }
            None => self
                .session
                .push_line(b'o', format_args!("{origin}"), false, "origin"),
        }
    }

    /// The session name (`s=`), `-` in JSEP.
    pub fn session_name(&self) -> &str {
        self.session.first_line(b's').unwrap_or("")
    }

    /// The first `t=` line.
    pub fn timing(&self) -> Option<Timing> {
        self.session
            .first_line(b't')
            .and_then(|v| Timing::parse(v).ok())
    }

    /// The session-level `c=` line.
    pub fn connection(&self) -> Option<Connection<'_>> {
        self.session
            .first_line(b'c')
            .and_then(|v| Connection::parse(v).ok())
    }

    /// The session-level `b=` lines.
    pub fn bandwidths(&self) -> impl Iterator<Item = Bandwidth<'_>> {
        self.session
            .lines_of(b'b')
            .filter_map(|v| Bandwidth::parse(v).ok())
    }

    /// The media sections, in order.
    pub fn media(&self) -> &[MediaDescription] {
        &self.media
    }

    /// The media sections, for changing them.
    pub fn media_mut(&mut self) -> &mut [MediaDescription] {
        &mut self.media
    }

    /// Appends a media section.
    pub fn push_media(&mut self, media: MediaDescription) {
        self.media.push(media);
    }

    /// Removes and returns media section `index`, if it exists.
    pub fn remove_media(&mut self, index: usize) -> Option<MediaDescription> {
        (index < self.media.len()).then(|| self.media.remove(index))
    }

    /// The media section whose `a=mid` is `mid`.
    pub fn media_by_mid(&self, mid: &str) -> Option<&MediaDescription> {
        self.media.iter().find(|m| m.mid() == Some(mid))
    }

    /// `a=group` lines (RFC 5888).
    pub fn groups(&self) -> impl Iterator<Item = Group<'_>> {
        self.session.typed::<Group<'_>>()
    }

    /// The `BUNDLE` groups (RFC 9143); JSEP makes one per transport.
    pub fn bundle_groups(&self) -> impl Iterator<Item = Group<'_>> {
        self.groups().filter(|g| g.is_bundle())
    }

    /// The `BUNDLE` group that holds `mid`, if any.
    pub fn bundle_group_of(&self, mid: &str) -> Option<Group<'_>> {
        self.bundle_groups().find(|g| g.mids().any(|m| m == mid))
    }

    /// `a=msid-semantic` (legacy, still written by Chromium).
    pub fn msid_semantic(&self) -> Option<MsidSemantic<'_>> {
        self.session.typed::<MsidSemantic<'_>>().next()
    }

    /// `a=ice-lite` (RFC 8839 §5.3): the peer is a lite implementation.
    pub fn ice_lite(&self) -> bool {
        self.session.has("ice-lite")
    }

    /// The ICE ufrag that applies to `media`: its own `a=ice-ufrag`, else the
    /// session-level one (RFC 8839 §5.4).
    pub fn ice_ufrag_for<'s>(&'s self, media: &'s MediaDescription) -> Option<&'s str> {
        media.ice_ufrag().or_else(|| self.ice_ufrag())
    }

    /// The ICE password that applies to `media` (media level, else session level).
    pub fn ice_pwd_for<'s>(&'s self, media: &'s MediaDescription) -> Option<&'s str> {
        media.ice_pwd().or_else(|| self.ice_pwd())
    }

    /// The fingerprints that apply to `media`: its own, else the session-level
    /// ones (RFC 8122 §5).
    pub fn fingerprints_for<'s>(&'s self, media: &'s MediaDescription) -> Vec<Fingerprint<'s>> {
        let own: Vec<_> = media.fingerprints().collect();
        if own.is_empty() {
            self.fingerprints().collect()
        } else {
            own
        }
    }

    /// The session-level direction attribute, if any (RFC 8866 §6.7).
    pub fn direction(&self) -> Option<Direction> {
        direction_of(&self.session)
    }

    /// The direction that applies to `media`: its own, else the session-level
    /// one, else `sendrecv` (RFC 8866 §6.7).
    pub fn direction_for(&self, media: &MediaDescription) -> Direction {
        media
            .direction()
            .or_else(|| self.direction())
            .unwrap_or(Direction::SendRecv)
    }

    /// The `a=setup` that applies to `media` (media level, else session level).
    pub fn setup_for(&self, media: &MediaDescription) -> Option<Setup> {
        media.setup().or_else(|| self.setup())
    }

    /// Appends a session-level attribute `a=<name>[:<value>]`, checked like a parsed one.
    pub fn push_attribute(&mut self, name: &str, value: Option<&str>) -> Result<(), Error> {
        push_attr(&mut self.session, name, value, false)
    }

    /// Appends a session-level typed attribute.
    pub fn push<'v, T: TypedAttribute<'v>>(&mut self, attribute: &T) -> Result<(), Error> {
        self.session.push_line(
            b'a',
            format_args!("{}:{attribute}", T::NAME),
            false,
            T::NAME,
        )
    }

    /// Removes every session-level `a=<name>`; returns how many there were.
    pub fn remove_attributes(&mut self, name: &str) -> usize {
        self.session.remove_attributes(name)
    }

    /// Appends a session-level non-attribute line (`i=`, `u=`, `e=`, `p=`, `b=`, `z=`, ...).
    pub fn push_line(&mut self, kind: char, value: &str) -> Result<(), Error> {
        let kind = u8::try_from(kind).map_err(|_| Error::InvalidValue {
            field: "line type",
            kind: SyntaxError::UnknownLineType(kind),
        })?;
        if kind == b'm' || kind == b'v' {
            return Err(Error::InvalidValue {
                field: "line type",
                kind: SyntaxError::InvalidField("use push_media for m= lines"),
            });
        }
        if (kind == b'o' || kind == b's') && self.session.first_line(kind).is_some() {
            return Err(Error::InvalidValue {
                field: "line type",
                kind: SyntaxError::DuplicateLine(char::from(kind)),
            });
        }
        self.session
            .push_line(kind, format_args!("{value}"), false, "line")
    }

    common_getters!(session);
}

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

fn direction_of(section: &Section) -> Option<Direction> {
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

fn push_attr(
    section: &mut Section,
    name: &str,
    value: Option<&str>,
    in_media: bool,
) -> Result<(), Error> {
    if name.is_empty() || name.contains(':') || name.contains(' ') {
        return Err(Error::InvalidValue {
            field: "attribute name",
            kind: SyntaxError::InvalidField("name"),
        });
    }
    match value {
        Some(v) => section.push_line(b'a', format_args!("{name}:{v}"), in_media, "attribute"),
        None => section.push_line(b'a', format_args!("{name}"), in_media, "attribute"),
    }
}

fn check_len(len: usize, limits: &Limits) -> Result<(), Error> {
    // Spans are u32; half the range leaves room for lines appended later.
    let max = limits.max_input_len.min((u32::MAX / 2) as usize);
    if len > max {
        return Err(Error::TooLarge { len, max });
    }
    Ok(())
}

impl fmt::Display for SessionDescription {
    /// Writes the whole description with its line ending.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_fmt_to(f)
    }
}

impl fmt::Display for MediaDescription {
    /// Writes the section's lines with CRLF endings.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.section.write_to(f, "\r\n")
    }
}

impl core::str::FromStr for SessionDescription {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        SessionDescription::parse(s)
    }
}

impl PartialEq for SessionDescription {
    /// Two descriptions are equal when they would be written identically.
    fn eq(&self, other: &Self) -> bool {
        self.line_ending == other.line_ending
            && self.session.eq_lines(&other.session)
            && self.media == other.media
    }
}

impl Eq for SessionDescription {}

impl PartialEq for MediaDescription {
    /// Two sections are equal when their lines are.
    fn eq(&self, other: &Self) -> bool {
        self.section.eq_lines(&other.section)
    }
}

impl Eq for MediaDescription {}

impl fmt::Debug for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionDescription")
            .field("line_ending", &self.line_ending)
            .field("session", &DebugLines(&self.session))
            .field("media", &self.media)
            .finish()
    }
}

impl fmt::Debug for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        DebugLines(&self.section).fmt(f)
    }
}

struct DebugLines<'a>(&'a Section);

impl fmt::Debug for DebugLines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.lines().map(|l| format!("{l}")))
            .finish()
    }
}

/// The line-by-line parser.
struct Parser<'t> {
    text: &'t str,
    limits: &'t Limits,
    line_no: usize,
    seen_o: bool,
    seen_s: bool,
    line_ending: Option<LineEnding>,
    /// Start (byte offset) of the section being read and its lines.
    section_start: usize,
    lines: Vec<RawLine>,
    session: Option<Section>,
    media: Vec<MediaDescription>,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str, limits: &'t Limits) -> Self {
        Parser {
            text,
            limits,
            line_no: 0,
            seen_o: false,
            seen_s: false,
            line_ending: None,
            section_start: 0,
            lines: Vec::with_capacity(32),
            session: None,
            media: Vec::new(),
        }
    }

    fn run(mut self) -> Result<SessionDescription, Error> {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut pos = 0usize;
        while pos < text.len() {
            let rest = text.get(pos..).unwrap_or("");
            let (line_end, next, terminated) =
                match crate::util::find_byte_swar(rest.as_bytes(), b'\n') {
                    Some(i) => (pos + i, pos + i + 1, true),
                    None => (text.len(), text.len(), false),
                };
            self.line_no += 1;
            let err = syntax(self.line_no);
            if self.line_no > self.limits.max_lines {
                return Err(Error::TooManyLines {
                    line: self.line_no,
                    max: self.limits.max_lines,
                });
            }
            let had_cr = line_end > pos && bytes.get(line_end - 1) == Some(&b'\r');
            let end = if had_cr { line_end - 1 } else { line_end };
            if terminated && self.line_ending.is_none() {
                self.line_ending = Some(if had_cr {
                    LineEnding::CrLf
                } else {
                    LineEnding::Lf
                });
            }
            let line = text.get(pos..end).unwrap_or("");
            let lb = line.as_bytes();
            if lb.is_empty() {
                if rest.bytes().all(|b| b == b'\r' || b == b'\n') && self.line_no > 1 {
                    break;
                }
                return Err(err(if self.line_no == 1 {
                    SyntaxError::MissingVersion
                } else {
                    SyntaxError::EmptyLine
                }));
            }
            if lb.last() == Some(&b'\r') {
                return Err(err(SyntaxError::StrayCarriageReturn));
            }
            if lb.get(1) != Some(&b'=') {
                return Err(err(if self.line_no == 1 {
                    SyntaxError::MissingVersion
                } else {
                    SyntaxError::MissingEquals
                }));
            }
            let kind = lb.first().copied().unwrap_or(0);
            let value = line.get(2..).unwrap_or("");
            if self.line_no == 1 && kind != b'v' {
                return Err(err(SyntaxError::MissingVersion));
            }
            let in_media = self.session.is_some();
            match kind {
                b'v' if self.line_no != 1 => return Err(err(SyntaxError::DuplicateLine('v'))),
                b'o' | b's' if !in_media => {
                    let seen = if kind == b'o' {
                        &mut self.seen_o
                    } else {
                        &mut self.seen_s
                    };
                    if *seen {
                        return Err(err(SyntaxError::DuplicateLine(char::from(kind))));
                    }
                    *seen = true;
                }
                b'm' => self.start_media(pos)?,
                _ => {}
            }
            let colon = if kind == b'a' {
                let colon = find_byte(value, b':');
                let (name, v) = match colon {
                    Some(i) => (value.get(..i).unwrap_or(""), value.get(i + 1..)),
                    None => (value, None),
                };
                validate_attribute(name, v).map_err(&err)?;
                colon.map_or(end, |i| pos + 2 + i)
            } else {
                validate_line(kind, value, in_media).map_err(&err)?;
                end
            };
            let base = self.section_start;
            let rel = |x: usize| (x - base) as u32;
            self.lines.push(RawLine {
                start: rel(pos),
                end: rel(end),
                colon: rel(colon),
            });
            pos = next;
        }
        if self.line_no == 0 {
            return Err(syntax(1)(SyntaxError::MissingVersion));
        }
        self.check_required()?;
        self.finish_section(text.len());
        Ok(SessionDescription {
            session: self.session.unwrap_or_default(),
            media: self.media,
            line_ending: self.line_ending.unwrap_or_default(),
        })
    }

    fn check_required(&self) -> Result<(), Error> {
        if !self.seen_o {
            return Err(syntax(self.line_no)(SyntaxError::MissingLine('o')));
        }
        if !self.seen_s {
            return Err(syntax(self.line_no)(SyntaxError::MissingLine('s')));
        }
        Ok(())
    }

    fn start_media(&mut self, pos: usize) -> Result<(), Error> {
        if self.session.is_none() {
            self.check_required()?;
        }
        self.finish_section(pos);
        // The section starting here is number media.len() + 1.
        if self.media.len() >= self.limits.max_media_sections {
            return Err(Error::TooManyMediaSections {
                line: self.line_no,
                max: self.limits.max_media_sections,
            });
        }
        Ok(())
    }

    /// Closes the section that ends at byte `end`.
    fn finish_section(&mut self, end: usize) {
        let section = Section {
            text: self
                .text
                .get(self.section_start..end)
                .unwrap_or("")
                .to_owned(),
            lines: core::mem::replace(&mut self.lines, Vec::with_capacity(32)),
        };
        if self.session.is_none() {
            self.session = Some(section);
        } else {
            self.media.push(MediaDescription { section });
        }
        self.section_start = end;
    }
}
