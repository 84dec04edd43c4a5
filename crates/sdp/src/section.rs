//! Line storage shared by the session level and each media section: the
//! section's text as one `String` and a span per line, so that parsing
//! allocates once per section and writing reproduces every line exactly.

use core::fmt::{self, Write as _};

use crate::attributes::*;
use crate::candidate::Candidate;
use crate::lines::{Bandwidth, Connection, MediaLine, Origin, Timing};
use crate::util::{find_byte, is_line_safe, parse_u16, parse_u64, split_once_byte, word};
use crate::{Error, SyntaxError};

/// One line of a description: its type letter and the text after `=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The type letter (`v`, `o`, `s`, `c`, `a`, `m`, ...).
    pub kind: char,
    /// Everything after `<type>=`, exactly as written.
    pub value: &'a str,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.kind, self.value)
    }
}

/// One `a=` line: `a=<name>` (a property attribute) or `a=<name>:<value>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The attribute name.
    pub name: &'a str,
    /// The value after the first `:`, exactly as written; `None` for a property attribute.
    pub value: Option<&'a str>,
}

/// Span of one line inside its section's text: `text[start..end]` is the line
/// without its ending; for `a=` lines, `colon` is the position of the first `:`
/// (or `end` when there is none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawLine {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) colon: u32,
}

/// The lines of one section (session level or one media section).
#[derive(Clone, Default)]
pub(crate) struct Section {
    pub(crate) text: String,
    pub(crate) lines: Vec<RawLine>,
}

impl Section {
    /// Drops the spare capacity growing left behind (a stored description
    /// keeps only its bytes).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.lines.shrink_to_fit();
    }

    fn text_of(&self, start: u32, end: u32) -> &str {
        self.text.get(start as usize..end as usize).unwrap_or("")
    }

    pub(crate) fn kind_of(&self, l: &RawLine) -> u8 {
        self.text
            .as_bytes()
            .get(l.start as usize)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn line_of(&self, l: &RawLine) -> Line<'_> {
        Line {
            kind: char::from(self.kind_of(l)),
            value: self.text_of(l.start + 2, l.end),
        }
    }

    fn attribute_of(&self, l: &RawLine) -> Option<Attribute<'_>> {
        if self.kind_of(l) != b'a' {
            return None;
        }
        let name = self.text_of(l.start + 2, l.colon);
        let value = (l.colon < l.end).then(|| self.text_of(l.colon + 1, l.end));
        Some(Attribute { name, value })
    }

    pub(crate) fn lines(&self) -> impl Iterator<Item = Line<'_>> {
        self.lines.iter().map(|l| self.line_of(l))
    }

    pub(crate) fn attributes(&self) -> impl Iterator<Item = Attribute<'_>> {
        self.lines.iter().filter_map(|l| self.attribute_of(l))
    }

    /// Values of every `a=<name>[:value]` (empty string for no value).
    /// True when line `l` is `a=<name>` or `a=<name>:...` (byte comparison, no
    /// UTF-8 boundary checks: the cheap test every getter runs per line).
    #[inline]
    fn is_attribute(&self, l: &RawLine, name: &str) -> bool {
        let b = self.text.as_bytes();
        let (start, colon) = (l.start as usize, l.colon as usize);
        colon >= start + 2
            && colon - start - 2 == name.len()
            && b.get(start) == Some(&b'a')
            && b.get(start + 2..colon) == Some(name.as_bytes())
    }

    /// The value of attribute line `l` (empty for a property attribute).
    fn value_of(&self, l: &RawLine) -> &str {
        if l.colon < l.end {
            self.text_of(l.colon + 1, l.end)
        } else {
            ""
        }
    }

    /// Values of every `a=<name>[:value]` (empty string for no value).
    pub(crate) fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.lines
            .iter()
            .filter(move |l| self.is_attribute(l, name))
            .map(|l| self.value_of(l))
    }

    pub(crate) fn first_value(&self, name: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| self.is_attribute(l, name))
            .map(|l| self.value_of(l))
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.lines.iter().any(|l| self.is_attribute(l, name))
    }

    pub(crate) fn typed<'s, T: TypedAttribute<'s> + 's>(&'s self) -> impl Iterator<Item = T> + 's {
        self.values(T::NAME).filter_map(|v| T::parse_value(v).ok())
    }

    pub(crate) fn first_line(&self, kind: u8) -> Option<&str> {
        self.lines
            .iter()
            .find(|l| self.kind_of(l) == kind)
            .map(|l| self.text_of(l.start + 2, l.end))
    }

    pub(crate) fn lines_of(&self, kind: u8) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(move |l| self.kind_of(l) == kind)
            .map(|l| self.text_of(l.start + 2, l.end))
    }

    /// Appends `<kind>=<formatted value>` after validating it like the parser does.
    pub(crate) fn push_line(
        &mut self,
        kind: u8,
        value: fmt::Arguments<'_>,
        in_media: bool,
        field: &'static str,
    ) -> Result<(), Error> {
        let start = self.text.len();
        let invalid = |kind| Error::InvalidValue { field, kind };
        if start > (u32::MAX as usize) / 2 {
            return Err(invalid(SyntaxError::InvalidField("section too large")));
        }
        self.text.push(char::from(kind));
        self.text.push('=');
        let res = self.text.write_fmt(value);
        let end = self.text.len();
        let check = match res {
            Err(_) => Err(SyntaxError::InvalidField(field)),
            Ok(()) => {
                let line = self.text.get(start..end).unwrap_or("");
                if !is_line_safe(line) || end > (u32::MAX as usize) / 2 {
                    Err(SyntaxError::ForbiddenCharacter)
                } else {
                    validate_line(kind, line.get(2..).unwrap_or(""), in_media)
                }
            }
        };
        if let Err(kind) = check {
            self.text.truncate(start);
            return Err(invalid(kind));
        }
        let colon = self
            .text
            .get(start + 2..end)
            .and_then(|v| {
                if kind == b'a' {
                    find_byte(v, b':')
                } else {
                    None
                }
            })
            .map_or(end, |i| start + 2 + i);
        self.lines.push(RawLine {
            start: start as u32,
            end: end as u32,
            colon: colon as u32,
        });
        Ok(())
    }

    /// Replaces line `index` with a new `<kind>=<value>` line (same validation as push).
    pub(crate) fn replace_line(
        &mut self,
        index: usize,
        kind: u8,
        value: fmt::Arguments<'_>,
        in_media: bool,
        field: &'static str,
    ) -> Result<(), Error> {
        if index >= self.lines.len() {
            return Err(Error::InvalidValue {
                field,
                kind: SyntaxError::MissingLine(char::from(kind)),
            });
        }
        self.push_line(kind, value, in_media, field)?;
        if let Some(new) = self.lines.pop() {
            if let Some(slot) = self.lines.get_mut(index) {
                *slot = new;
            }
        }
        Ok(())
    }

    pub(crate) fn remove_attributes(&mut self, name: &str) -> usize {
        let before = self.lines.len();
        let text = &self.text;
        self.lines.retain(|l| {
            let is_attr = text.as_bytes().get(l.start as usize) == Some(&b'a');
            !(is_attr && text.get(l.start as usize + 2..l.colon as usize) == Some(name))
        });
        before - self.lines.len()
    }

    pub(crate) fn eq_lines(&self, other: &Section) -> bool {
        self.lines.len() == other.lines.len()
            && self
                .lines
                .iter()
                .zip(&other.lines)
                .all(|(a, b)| self.text_of(a.start, a.end) == other.text_of(b.start, b.end))
    }

    pub(crate) fn write_to(&self, f: &mut impl fmt::Write, ending: &str) -> fmt::Result {
        for l in &self.lines {
            f.write_str(self.text_of(l.start, l.end))?;
            f.write_str(ending)?;
        }
        Ok(())
    }
}

/// Validates the value of one line the way the parser does (everything but
/// ordering and duplicates).
pub(crate) fn validate_line(kind: u8, value: &str, in_media: bool) -> Result<(), SyntaxError> {
    match kind {
        b'a' => match split_once_byte(value, b':') {
            Some((name, v)) => validate_attribute(name, Some(v)),
            None => validate_attribute(value, None),
        },
        b'v' if in_media => Err(SyntaxError::NotAllowedInMedia('v')),
        b'v' if value == "0" => Ok(()),
        b'v' => Err(SyntaxError::UnsupportedVersion),
        b'o' | b's' | b'u' | b'e' | b'p' | b't' | b'r' | b'z' if in_media => {
            Err(SyntaxError::NotAllowedInMedia(char::from(kind)))
        }
        b'o' => Origin::parse(value).map(drop),
        b't' => Timing::parse(value).map(drop),
        b'c' => Connection::parse(value).map(drop),
        b'b' => Bandwidth::parse(value).map(drop),
        b'm' => MediaLine::parse(value).map(drop),
        b's' | b'i' | b'u' | b'e' | b'p' | b'r' | b'z' | b'k' => Ok(()),
        other => Err(SyntaxError::UnknownLineType(char::from(other))),
    }
}

/// Validates the attributes that have a typed view; others are kept as they are.
pub(crate) fn validate_attribute(name: &str, value: Option<&str>) -> Result<(), SyntaxError> {
    if name.is_empty() {
        return Err(SyntaxError::MissingField("attribute name"));
    }
    let v = value.unwrap_or("");
    match name {
        "rtpmap" => RtpMap::parse(v).map(drop),
        "fmtp" => Fmtp::parse(v).map(drop),
        "rtcp-fb" => RtcpFb::parse(v).map(drop),
        "extmap" => ExtMap::parse(v).map(drop),
        "ssrc" => Ssrc::parse(v).map(drop),
        "ssrc-group" => SsrcGroup::parse(v).map(drop),
        "mid" => word(v, "mid").map(drop),
        "msid" => Msid::parse(v).map(drop),
        "msid-semantic" => MsidSemantic::parse(v).map(drop),
        "group" => Group::parse(v).map(drop),
        "fingerprint" => Fingerprint::parse(v).map(drop),
        "setup" => Setup::parse(v).map(drop),
        "ice-ufrag" => word(v, "ice-ufrag").map(drop),
        "ice-pwd" => word(v, "ice-pwd").map(drop),
        "rid" => Rid::parse(v).map(drop),
        "simulcast" => Simulcast::parse(v).map(drop),
        "sctp-port" => parse_u16(v, "sctp-port").map(drop),
        "max-message-size" => parse_u64(v, "max-message-size").map(drop),
        "rtcp" => Rtcp::parse(v).map(drop),
        "candidate" => Candidate::parse(v).map(drop),
        _ => Ok(()),
    }
}
