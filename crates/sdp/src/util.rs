//! Small lexical helpers shared by the line and attribute parsers.

use crate::SyntaxError;

/// Space-separated fields of a value; runs of spaces count as one separator
/// (browsers tolerate them).
pub(crate) fn fields(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|f| !f.is_empty())
}

/// Splits off the first space-separated field; returns it and the rest with
/// leading spaces removed.
pub(crate) fn split_field(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(' ');
    match s.find(' ') {
        Some(i) => (&s[..i], s[i..].trim_start_matches(' ')),
        None => (s, ""),
    }
}

/// Takes the next field from an iterator or reports it missing.
pub(crate) fn next_field<'a>(
    it: &mut impl Iterator<Item = &'a str>,
    name: &'static str,
) -> Result<&'a str, SyntaxError> {
    it.next().ok_or(SyntaxError::MissingField(name))
}

/// Parses an unsigned decimal number of at most `max`, naming `field` in errors.
pub(crate) fn parse_number(s: &str, max: u64, field: &'static str) -> Result<u64, SyntaxError> {
    if s.is_empty() {
        return Err(SyntaxError::MissingField(field));
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    for b in s.bytes() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(SyntaxError::InvalidNumber(field));
        }
        match v.checked_mul(10).and_then(|x| x.checked_add(u64::from(d))) {
            Some(n) => v = n,
            None => overflow = true,
        }
    }
    if overflow || v > max {
        return Err(SyntaxError::NumberOutOfRange(field));
    }
    Ok(v)
}

/// Parses a decimal `u16`.
pub(crate) fn parse_u16(s: &str, field: &'static str) -> Result<u16, SyntaxError> {
    parse_number(s, u64::from(u16::MAX), field).map(|v| v as u16)
}

/// Parses a decimal `u32`.
pub(crate) fn parse_u32(s: &str, field: &'static str) -> Result<u32, SyntaxError> {
    parse_number(s, u64::from(u32::MAX), field).map(|v| v as u32)
}

/// Parses a decimal `u64`.
pub(crate) fn parse_u64(s: &str, field: &'static str) -> Result<u64, SyntaxError> {
    parse_number(s, u64::MAX, field)
}

/// Parses an RTP payload type (0..=127, RFC 3550 §5.1).
pub(crate) fn parse_payload_type(s: &str) -> Result<u8, SyntaxError> {
    parse_number(s, 127, "payload type").map(|v| v as u8)
}

/// RFC 8866 §9 `token`: printable ASCII except the separators it excludes.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            matches!(b, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'0'..=b'9' | b'A'..=b'Z' | b'^'..=b'~')
        })
}

/// A non-empty value without spaces (used for identifiers whose exact grammar
/// browsers do not enforce).
pub(crate) fn is_word(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| b == b' ' || b == b'\t')
}

/// True when the text can be written inside one SDP line.
pub(crate) fn is_line_safe(s: &str) -> bool {
    !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// Checks a `<field>` that must be a word.
pub(crate) fn word<'a>(s: &'a str, field: &'static str) -> Result<&'a str, SyntaxError> {
    if s.is_empty() {
        Err(SyntaxError::MissingField(field))
    } else if is_word(s) {
        Ok(s)
    } else {
        Err(SyntaxError::InvalidField(field))
    }
}

/// The payload types of a space-separated list.
pub(crate) fn payload_types(s: &str) -> impl Iterator<Item = Result<u8, SyntaxError>> + '_ {
    fields(s).map(parse_payload_type)
}
