//! # fulmar-sdp
//!
//! SDP (RFC 8866) for the Fulmar WebRTC stack, usable on its own:
//!
//! - [`SessionDescription::parse`] reads a description (CRLF or LF line endings)
//!   and keeps every line exactly as written, so writing it back with `Display`
//!   reproduces the input byte for byte, including lines Fulmar does not interpret.
//! - Typed getters give the JSEP view (RFC 9429): `mid`, BUNDLE groups, `msid`,
//!   ICE credentials and options, DTLS fingerprints and `setup`, `rtcp-mux`,
//!   codecs (`rtpmap`/`fmtp`/`rtcp-fb` per payload type), `extmap`, `ssrc` and
//!   `ssrc-group`, `rid` and `simulcast`, `sctp-port` and `max-message-size`,
//!   candidates and directions; see [`MediaDescription`] and [`attributes`].
//! - [`Candidate`] parses and writes ICE candidates (RFC 8839 §5.1) alone, for
//!   `a=candidate:` lines and trickled candidate strings.
//! - [`builder`] writes offers and answers shaped like Chromium's.
//!
//! ## Input, errors, limits and tolerance
//!
//! - Input is `&str` ([`SessionDescription::parse`]) or bytes
//!   ([`SessionDescription::parse_bytes`]), which must be UTF-8: RFC 8866 §5 makes
//!   UTF-8 the default charset and JSEP descriptions are JavaScript strings;
//!   anything else is [`Error::InvalidUtf8`] with the line of the first bad byte.
//! - Errors are typed ([`Error`], [`SyntaxError`]) and name their 1-based line
//!   ([`Error::line`]): missing `v=`, unknown type letters (RFC 8866 §5 rejects
//!   the whole description), bad or overflowing numbers, malformed lines and
//!   malformed attributes among those with a typed view.
//! - [`Limits`] (default: 1 MiB input, 32,768 lines, 1,024 media sections) is
//!   checked before or while scanning, so no input allocates more than a small
//!   multiple of its size; nothing panics (fuzzed, see `fuzz/`).
//! - Tolerated as browsers do: LF-only or mixed line endings (written back with
//!   the first line's ending), a last line without an ending, trailing empty
//!   lines (dropped), runs of spaces between fields, lower-case fingerprint hex,
//!   and any attribute Fulmar does not interpret (kept verbatim).
//!
//! ```
//! use fulmar_sdp::SessionDescription;
//!
//! let text = "v=0\r\n\
//!     o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
//!     s=-\r\n\
//!     t=0 0\r\n\
//!     a=group:BUNDLE 0\r\n\
//!     m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
//!     c=IN IP4 0.0.0.0\r\n\
//!     a=ice-ufrag:F7gI\r\n\
//!     a=ice-pwd:x9cml/YzichV2+XlhiMu8g\r\n\
//!     a=mid:0\r\n\
//!     a=sendrecv\r\n\
//!     a=rtpmap:111 opus/48000/2\r\n\
//!     a=fmtp:111 minptime=10;useinbandfec=1\r\n\
//!     a=x-unknown-to-fulmar:kept as is\r\n";
//!
//! let sdp = SessionDescription::parse(text)?;
//! let audio = &sdp.media()[0];
//! assert_eq!(audio.mid(), Some("0"));
//! assert_eq!(audio.ice_ufrag(), Some("F7gI"));
//! let opus = audio.rtpmap(111).ok_or("no rtpmap")?;
//! assert_eq!((opus.encoding_name, opus.clock_rate, opus.encoding_params), ("opus", 48000, Some(2)));
//! assert_eq!(audio.fmtp(111).and_then(|f| f.param("useinbandfec")), Some("1"));
//! let bundle = sdp.bundle_groups().next().ok_or("no BUNDLE group")?;
//! assert_eq!(bundle.mids().collect::<Vec<_>>(), ["0"]);
//! assert_eq!(sdp.to_string(), text); // lossless
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod attributes;
pub mod builder;
mod candidate;
mod description;
mod error;
mod getters;
mod lines;
mod media;
mod parser;
mod section;
mod util;

pub use attributes::{Direction, Fingerprint, Setup, TypedAttribute};
pub use candidate::{
    Candidate, CandidateAddress, CandidateAttribute, CandidateType, CandidateValue, TcpType,
    Transport,
};
pub use description::{Limits, LineEnding, MediaDescription, SessionDescription};
pub use error::{Error, SyntaxError};
pub use lines::{is_rtp_proto, is_sctp_proto, Bandwidth, Connection, MediaLine, Origin, Timing};
pub use media::Codec;
pub use section::{Attribute, Line};
