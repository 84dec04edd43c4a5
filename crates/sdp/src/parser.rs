//! The line-by-line parser behind [`crate::SessionDescription::parse`].

use crate::description::{syntax, Limits, LineEnding, MediaDescription, SessionDescription};
use crate::section::{validate_attribute, validate_line, RawLine, Section};
use crate::util::find_byte;
use crate::{Error, SyntaxError};

pub(crate) fn check_len(len: usize, limits: &Limits) -> Result<(), Error> {
    // Spans are u32; half the range leaves room for lines appended later.
    let max = limits.max_input_len.min((u32::MAX / 2) as usize);
    if len > max {
        return Err(Error::TooLarge { len, max });
    }
    Ok(())
}

/// The line-by-line parser.
pub(crate) struct Parser<'t> {
    text: &'t str,
    limits: &'t Limits,
    /// An RFC 8840 §9 fragment: `a=` and `m=` lines only, no `v=`, `o=`, `s=`.
    fragment: bool,
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
    pub(crate) fn new(text: &'t str, limits: &'t Limits) -> Self {
        Parser {
            text,
            limits,
            fragment: false,
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

    /// A parser of an SDP fragment (`application/trickle-ice-sdpfrag`,
    /// RFC 8840 §9) rather than a whole description.
    pub(crate) fn fragment(text: &'t str, limits: &'t Limits) -> Self {
        Parser {
            fragment: true,
            ..Parser::new(text, limits)
        }
    }

    pub(crate) fn run(mut self) -> Result<SessionDescription, Error> {
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
                let only_newlines_left = rest.bytes().all(|b| b == b'\r' || b == b'\n');
                if only_newlines_left && (self.line_no > 1 || self.fragment) {
                    break;
                }
                return Err(err(if self.line_no == 1 && !self.fragment {
                    SyntaxError::MissingVersion
                } else {
                    SyntaxError::EmptyLine
                }));
            }
            if lb.last() == Some(&b'\r') {
                return Err(err(SyntaxError::StrayCarriageReturn));
            }
            // RFC 8866 §9: every value is a byte-string or narrower, and a
            // byte-string excludes NUL.
            if crate::util::find_byte_swar(lb, 0).is_some() {
                return Err(err(SyntaxError::ForbiddenCharacter));
            }
            if lb.get(1) != Some(&b'=') {
                return Err(err(if self.line_no == 1 && !self.fragment {
                    SyntaxError::MissingVersion
                } else {
                    SyntaxError::MissingEquals
                }));
            }
            let kind = lb.first().copied().unwrap_or(0);
            let value = line.get(2..).unwrap_or("");
            if self.fragment {
                if kind != b'a' && kind != b'm' {
                    return Err(err(SyntaxError::NotAllowedInFragment(char::from(kind))));
                }
            } else if self.line_no == 1 && kind != b'v' {
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
        if self.line_no == 0 && !self.fragment {
            return Err(syntax(1)(SyntaxError::MissingVersion));
        }
        if !self.fragment {
            self.check_required()?;
        }
        self.finish_section(text.len());
        self.media.shrink_to_fit();
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
        if self.session.is_none() && !self.fragment {
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
            // An exact copy: the parser's buffer is reused for the next section.
            lines: self.lines.clone(),
        };
        self.lines.clear();
        if self.session.is_none() {
            self.session = Some(section);
        } else {
            self.media.push(MediaDescription { section });
        }
        self.section_start = end;
    }
}
