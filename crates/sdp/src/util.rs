//! Small lexical helpers shared by the line and attribute parsers.

use crate::SyntaxError;

/// Position of the first `b` in `s` (a plain loop: SDP lines are short, and
/// this beats `memchr`'s setup cost on them).
#[inline]
pub(crate) fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.as_bytes().iter().position(|&c| c == b)
}

/// `s.split_once(b)` for an ASCII byte.
#[inline]
pub(crate) fn split_once_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = find_byte(s, b)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// `s.split(b)` for an ASCII byte.
#[inline]
pub(crate) fn split_byte(s: &str, b: u8) -> SplitByte<'_> {
    SplitByte { rest: Some(s), b }
}

/// Iterator of [`split_byte`].
pub(crate) struct SplitByte<'a> {
    rest: Option<&'a str>,
    b: u8,
}

impl<'a> Iterator for SplitByte<'a> {
    type Item = &'a str;
    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match split_once_byte(rest, self.b) {
            Some((head, tail)) => {
                self.rest = Some(tail);
                Some(head)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// `s` without leading spaces.
#[inline]
pub(crate) fn trim_start(s: &str) -> &str {
    let n = s.as_bytes().iter().take_while(|&&c| c == b' ').count();
    s.get(n..).unwrap_or("")
}

/// `s` without trailing spaces.
#[inline]
pub(crate) fn trim_end(s: &str) -> &str {
    let n = s
        .as_bytes()
        .iter()
        .rev()
        .take_while(|&&c| c == b' ')
        .count();
    s.get(..s.len() - n).unwrap_or("")
}

/// `s` without leading and trailing spaces.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    trim_end(trim_start(s))
}

/// Space-separated fields of a value; runs of spaces count as one separator
/// (browsers tolerate them).
#[inline]
pub(crate) fn fields(s: &str) -> Fields<'_> {
    Fields { rest: s }
}

/// Iterator of [`fields`].
#[derive(Clone)]
pub(crate) struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;
    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let (head, tail) = split_field(self.rest);
        self.rest = tail;
        (!head.is_empty()).then_some(head)
    }
}

/// Splits off the first space-separated field; returns it and the rest with
/// leading spaces removed.
#[inline]
pub(crate) fn split_field(s: &str) -> (&str, &str) {
    let s = trim_start(s);
    match find_byte(s, b' ') {
        Some(i) => (
            s.get(..i).unwrap_or(""),
            trim_start(s.get(i..).unwrap_or("")),
        ),
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

/// Checks a field that came out of a split on spaces (so holds none): it must not be empty.
#[inline]
pub(crate) fn nonempty<'a>(s: &'a str, field: &'static str) -> Result<&'a str, SyntaxError> {
    if s.is_empty() {
        Err(SyntaxError::MissingField(field))
    } else {
        Ok(s)
    }
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

/// Position of the first `b` in `s`, eight bytes at a time (the classic
/// "has zero byte" test on `word ^ pattern`; the lowest flagged byte is exact).
/// Used to find line ends.
#[inline]
pub(crate) fn find_byte_swar(s: &[u8], b: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO.wrapping_mul(u64::from(b));
    let mut chunks = s.chunks_exact(8);
    let mut offset = 0usize;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or([0; 8])) ^ pattern;
        let found = word.wrapping_sub(LO) & !word & HI;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b)
        .map(|p| offset + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swar_search_agrees_with_a_plain_search() {
        let text =
            b"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n\n\n\x80\x8a\x0a\xff\n0123456789abcdefghij\n";
        for start in 0..text.len() {
            for b in [b'\n', b'\r', b'0', 0x8a, 0xff, b'z'] {
                let s = &text[start..];
                assert_eq!(
                    find_byte_swar(s, b),
                    s.iter().position(|&c| c == b),
                    "{start} {b}"
                );
            }
        }
    }
}
