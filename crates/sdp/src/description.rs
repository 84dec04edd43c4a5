//! [`SessionDescription`] and [`MediaDescription`]: parsing, writing, typed
//! getters and mutation.

use core::fmt;

use crate::attributes::*;
use crate::getters::common_getters;
use crate::lines::{Bandwidth, Connection, Origin, Timing};
use crate::media::direction_of;
use crate::parser::{check_len, Parser};
use crate::section::{Attribute, Line, Section};
use crate::util::split_byte;
use crate::{Error, SyntaxError};

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
    pub(crate) session: Section,
    pub(crate) media: Vec<MediaDescription>,
    pub(crate) line_ending: LineEnding,
}

/// One media section: the `m=` line and the lines after it up to the next `m=`.
#[derive(Clone)]
pub struct MediaDescription {
    pub(crate) section: Section,
}

pub(crate) fn syntax(line: usize) -> impl Fn(SyntaxError) -> Error {
    move |kind| Error::Syntax { line, kind }
}

impl SessionDescription {
    /// Drops the spare capacity that building or editing left behind, for a
    /// description that is kept (JSEP's current and pending descriptions).
    pub fn shrink_to_fit(&mut self) {
        self.session.shrink_to_fit();
        for m in &mut self.media {
            m.section.shrink_to_fit();
        }
        self.media.shrink_to_fit();
    }

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

    /// Parses an SDP fragment (`application/trickle-ice-sdpfrag`, RFC 8840
    /// §9), as WHIP/WHEP clients PATCH and trickle-ICE signaling carries:
    /// session-level `a=` lines (`ice-ufrag`, `ice-pwd`, `ice-options`) then
    /// `m=` sections with their `a=mid`, `a=candidate` and
    /// `a=end-of-candidates`. Only `a=` and `m=` lines are allowed; an empty
    /// fragment is valid. Read it with the usual accessors
    /// ([`SessionDescription::ice_ufrag_for`], [`MediaDescription::candidates`]).
    pub fn parse_fragment(text: &str) -> Result<Self, Error> {
        let limits = Limits::DEFAULT;
        check_len(text.len(), &limits)?;
        Parser::fragment(text, &limits).run()
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

    /// The ICE ufrag of the first media section (its own, else the
    /// session-level one), or the session-level one when there is no media:
    /// with BUNDLE, the ufrag of the one ICE transport.
    pub fn first_ice_ufrag(&self) -> Option<&str> {
        match self.media.first() {
            Some(m) => self.ice_ufrag_for(m),
            None => self.ice_ufrag(),
        }
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

pub(crate) fn push_attr(
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
    /// Two descriptions are equal when they would be written identically:
    /// the line ending counts only when there is a line to end.
    fn eq(&self, other: &Self) -> bool {
        let blank = |d: &Self| d.media.is_empty() && d.session.lines().next().is_none();
        (self.line_ending == other.line_ending || blank(self) && blank(other))
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
