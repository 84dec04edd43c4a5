//! The crate's error types.

/// Everything that can go wrong when parsing or building SDP.
///
/// Malformed input carries the 1-based line number where it was found
/// ([`Error::line`]); resource limits ([`crate::Limits`]) and API misuse
/// (values that cannot be written as SDP) have their own variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is longer than [`crate::Limits::max_input_len`].
    #[error("SDP input of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Length of the input in bytes.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The input has more lines than [`crate::Limits::max_lines`].
    #[error("line {line}: more than {max} lines")]
    TooManyLines {
        /// The first line past the limit.
        line: usize,
        /// The limit in force.
        max: usize,
    },
    /// The input has more `m=` sections than [`crate::Limits::max_media_sections`].
    #[error("line {line}: more than {max} media sections")]
    TooManyMediaSections {
        /// The `m=` line past the limit.
        line: usize,
        /// The limit in force.
        max: usize,
    },
    /// The input is not UTF-8 (RFC 8866 §5: SDP text is UTF-8 unless `a=charset` says
    /// otherwise, and JSEP descriptions are always UTF-8).
    #[error("line {line}: invalid UTF-8")]
    InvalidUtf8 {
        /// Line holding the first invalid byte.
        line: usize,
    },
    /// A line is malformed; `line` is 1-based.
    #[error("line {line}: {kind}")]
    Syntax {
        /// The offending line (1-based).
        line: usize,
        /// What is wrong with it.
        kind: SyntaxError,
    },
    /// A value given to a builder or a mutator cannot be written as an SDP line
    /// (it holds CR, LF or NUL, is empty where a token is required, or would not
    /// parse back).
    #[error("invalid value for {field}: {kind}")]
    InvalidValue {
        /// Which value.
        field: &'static str,
        /// Why it was refused.
        kind: SyntaxError,
    },
}

impl Error {
    /// The 1-based line number the error refers to, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            Error::TooManyLines { line, .. }
            | Error::TooManyMediaSections { line, .. }
            | Error::InvalidUtf8 { line }
            | Error::Syntax { line, .. } => Some(*line),
            Error::TooLarge { .. } | Error::InvalidValue { .. } => None,
        }
    }

    /// The syntax problem, for [`Error::Syntax`] and [`Error::InvalidValue`].
    pub fn syntax(&self) -> Option<&SyntaxError> {
        match self {
            Error::Syntax { kind, .. } | Error::InvalidValue { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// What is wrong with one line or one value. Returned alone by the standalone
/// parsers (such as [`crate::Candidate::parse`]) and wrapped with a line number in
/// [`Error::Syntax`] by [`crate::SessionDescription::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// The description does not start with `v=` (RFC 8866 §5).
    #[error("the description must start with a v= line")]
    MissingVersion,
    /// `v=` is not `0` (RFC 8866 §5.1).
    #[error("unsupported protocol version (only v=0 exists)")]
    UnsupportedVersion,
    /// A required session-level line (`o=` or `s=`) is absent.
    #[error("missing required {0}= line")]
    MissingLine(char),
    /// A line that may appear once appears again.
    #[error("duplicate {0}= line")]
    DuplicateLine(char),
    /// A type letter that RFC 8866 does not define; §5 asks parsers to reject the
    /// whole description.
    #[error("unknown line type {0:?}")]
    UnknownLineType(char),
    /// A session-level-only line type inside a media section.
    #[error("{0}= is not allowed in a media section")]
    NotAllowedInMedia(char),
    /// A line other than `a=` or `m=` in an SDP fragment (RFC 8840 §9).
    #[error("{0}= is not allowed in an SDP fragment")]
    NotAllowedInFragment(char),
    /// The line is not `<type>=<value>`.
    #[error("expected <type>=<value>")]
    MissingEquals,
    /// An empty line (RFC 8866 has none).
    #[error("empty line")]
    EmptyLine,
    /// A carriage return that does not end the line.
    #[error("stray carriage return at end of line")]
    StrayCarriageReturn,
    /// A required field is absent.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// A field is present but malformed.
    #[error("invalid {0}")]
    InvalidField(&'static str),
    /// A number field holds something other than decimal digits.
    #[error("{0} is not a decimal number")]
    InvalidNumber(&'static str),
    /// A number field does not fit its range.
    #[error("{0} is out of range")]
    NumberOutOfRange(&'static str),
    /// Fields left over at the end of a line whose grammar has none.
    #[error("unexpected trailing data")]
    TrailingData,
    /// A value meant for SDP holds CR, LF or NUL.
    #[error("value holds CR, LF or NUL")]
    ForbiddenCharacter,
}
