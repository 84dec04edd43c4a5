//! Typed views of the `a=` attributes that JSEP (RFC 9429) uses.
//!
//! Each view borrows from the description it was read from, parses with
//! [`TypedAttribute::parse_value`] and writes its value back with `Display`
//! (the text after `a=<name>:`).

use core::fmt;

use crate::util::{
    fields, is_token, next_field, nonempty, parse_payload_type, parse_u16, parse_u32, split_byte,
    split_field, split_once_byte, trim, trim_end, word,
};
use crate::SyntaxError;

/// An attribute with a value that has a typed view.
pub trait TypedAttribute<'a>: Sized + fmt::Display {
    /// The attribute name, e.g. `rtpmap`.
    const NAME: &'static str;
    /// Parses the attribute value (the text after `a=<name>:`).
    fn parse_value(value: &'a str) -> Result<Self, SyntaxError>;
}

macro_rules! typed {
    ($ty:ident, $name:literal) => {
        impl<'a> TypedAttribute<'a> for $ty<'a> {
            const NAME: &'static str = $name;
            fn parse_value(value: &'a str) -> Result<Self, SyntaxError> {
                $ty::parse(value)
            }
        }
    };
}

/// The media direction attributes `a=sendrecv`, `a=sendonly`, `a=recvonly`,
/// `a=inactive` (RFC 8866 §6.7; `sendrecv` is the default when none is present).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `sendrecv`.
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses an attribute name into a direction.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The direction seen from the other side (RFC 9429 §5.3.1: an answer to
    /// `sendonly` is at most `recvonly`).
    pub fn reverse(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `a=setup` (RFC 4145 §4, RFC 8842 §5): which side opens the DTLS connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// `active`: this side is the DTLS client.
    Active,
    /// `passive`: this side is the DTLS server.
    Passive,
    /// `actpass`: either; offers use it (RFC 8842 §5.2).
    ActPass,
    /// `holdconn`: no connection for now.
    HoldConn,
}

impl Setup {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }

    /// Parses the attribute value.
    pub fn parse(value: &str) -> Result<Self, SyntaxError> {
        match trim(value) {
            "active" => Ok(Setup::Active),
            "passive" => Ok(Setup::Passive),
            "actpass" => Ok(Setup::ActPass),
            "holdconn" => Ok(Setup::HoldConn),
            "" => Err(SyntaxError::MissingField("setup")),
            _ => Err(SyntaxError::InvalidField("setup")),
        }
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TypedAttribute<'_> for Setup {
    const NAME: &'static str = "setup";
    fn parse_value(value: &str) -> Result<Self, SyntaxError> {
        Setup::parse(value)
    }
}

/// `a=group:<semantics> <identification-tag> ...` (RFC 5888 §5), e.g. `BUNDLE 0 1 2` (RFC 9143).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group<'a> {
    /// `<semantics>`, e.g. `BUNDLE`, `LS`.
    pub semantics: &'a str,
    /// The identification tags as written; see [`Group::mids`].
    pub tag_list: &'a str,
}

impl<'a> Group<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (semantics, tag_list) = split_field(value);
        if !is_token(semantics) {
            return Err(SyntaxError::InvalidField("group semantics"));
        }
        Ok(Group {
            semantics,
            tag_list,
        })
    }

    /// The `mid` values of the group, in order.
    pub fn mids(&self) -> impl Iterator<Item = &'a str> {
        fields(self.tag_list)
    }

    /// True for a `BUNDLE` group (RFC 9143).
    pub fn is_bundle(&self) -> bool {
        self.semantics == "BUNDLE"
    }
}

impl fmt::Display for Group<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.semantics)?;
        for mid in self.mids() {
            write!(f, " {mid}")?;
        }
        Ok(())
    }
}
typed!(Group, "group");

/// `a=msid-semantic: <semantic> <identifier> ...`: the legacy WebRTC media stream
/// semantic line Chromium still writes (`msid-semantic: WMS <stream ids>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsidSemantic<'a> {
    /// The semantic token, `WMS`.
    pub semantic: &'a str,
    /// The identifiers as written (space separated, possibly `*` or empty).
    pub identifier_list: &'a str,
}

impl<'a> MsidSemantic<'a> {
    /// Parses the attribute value (leading spaces, as Chromium writes, are allowed).
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (semantic, identifier_list) = split_field(value);
        Ok(MsidSemantic {
            semantic: word(semantic, "msid semantic")?,
            identifier_list,
        })
    }

    /// The identifiers (media stream ids).
    pub fn identifiers(&self) -> impl Iterator<Item = &'a str> {
        fields(self.identifier_list)
    }
}

impl fmt::Display for MsidSemantic<'_> {
    /// Written as Chromium does, with a space after the colon.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " {}", self.semantic)?;
        for id in self.identifiers() {
            write!(f, " {id}")?;
        }
        Ok(())
    }
}
typed!(MsidSemantic, "msid-semantic");

/// `a=msid:<stream id> [<track id>]` (RFC 8830 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msid<'a> {
    /// `msid-id`: the MediaStream id (`-` for a track in no stream).
    pub stream_id: &'a str,
    /// `msid-appdata`: the MediaStreamTrack id, when present.
    pub track_id: Option<&'a str>,
}

impl<'a> Msid<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let mut it = fields(value);
        let stream_id = next_field(&mut it, "msid-id")?;
        let track_id = it.next();
        if it.next().is_some() {
            return Err(SyntaxError::TrailingData);
        }
        Ok(Msid {
            stream_id,
            track_id,
        })
    }
}

impl fmt::Display for Msid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.stream_id)?;
        if let Some(t) = self.track_id {
            write!(f, " {t}")?;
        }
        Ok(())
    }
}
typed!(Msid, "msid");

/// `a=fingerprint:<hash-func> <fingerprint>` (RFC 8122 §5): the certificate
/// fingerprint DTLS must match. A description may carry several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint<'a> {
    /// `<hash-func>`, e.g. `sha-256` (compare case-insensitively).
    pub hash_function: &'a str,
    /// The colon-separated hex digest as written (upper case per RFC 8122).
    pub fingerprint: &'a str,
}

impl<'a> Fingerprint<'a> {
    /// Longest digest accepted, in bytes (SHA-512 is 64).
    pub const MAX_LEN: usize = 64;

    /// Parses the attribute value; the digest must be hex pairs separated by colons
    /// (lower-case hex is tolerated).
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let mut it = fields(value);
        let hash_function = next_field(&mut it, "hash-func")?;
        if !is_token(hash_function) {
            return Err(SyntaxError::InvalidField("hash-func"));
        }
        let fingerprint = next_field(&mut it, "fingerprint")?;
        if it.next().is_some() {
            return Err(SyntaxError::TrailingData);
        }
        // 2HEX *(":" 2HEX): hex at positions 0 and 1 of every group of three, ':' at 2.
        let b = fingerprint.as_bytes();
        let well_formed = b.len() % 3 == 2
            && b.len() < Self::MAX_LEN * 3
            && b.iter().enumerate().all(|(i, &c)| {
                if i % 3 == 2 {
                    c == b':'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if !well_formed {
            return Err(SyntaxError::InvalidField("fingerprint"));
        }
        Ok(Fingerprint {
            hash_function,
            fingerprint,
        })
    }

    /// The digest bytes.
    pub fn bytes(&self) -> impl Iterator<Item = Result<u8, SyntaxError>> + 'a {
        split_byte(self.fingerprint, b':').map(|pair| {
            let b = pair.as_bytes();
            match (
                b.first().copied().and_then(hex),
                b.get(1).copied().and_then(hex),
                b.len(),
            ) {
                (Some(h), Some(l), 2) => Ok(h << 4 | l),
                _ => Err(SyntaxError::InvalidField("fingerprint")),
            }
        })
    }

    /// True when the digest equals `digest` and the hash function is `hash_function`
    /// (compared case-insensitively).
    pub fn matches(&self, hash_function: &str, digest: &[u8]) -> bool {
        self.hash_function.eq_ignore_ascii_case(hash_function)
            && self.bytes().count() == digest.len()
            && self.bytes().zip(digest).all(|(a, b)| a.ok() == Some(*b))
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Fingerprint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hash_function, self.fingerprint)
    }
}
typed!(Fingerprint, "fingerprint");

/// Writes `digest` as an RFC 8122 fingerprint: upper-case hex pairs joined by colons.
pub fn format_fingerprint(digest: &[u8]) -> String {
    let mut s = String::with_capacity(digest.len() * 3);
    for (i, b) in digest.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`
/// (RFC 8866 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMap<'a> {
    /// The payload type (0..=127).
    pub payload_type: u8,
    /// The encoding name, e.g. `opus`, `VP8`, `H264`, `rtx` (compare case-insensitively).
    pub encoding_name: &'a str,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Encoding parameters: the number of audio channels, when given.
    pub encoding_params: Option<u16>,
}

impl<'a> RtpMap<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (pt, rest) = split_field(value);
        let payload_type = parse_payload_type(pt)?;
        let (enc, extra) = split_field(rest);
        if !extra.is_empty() {
            return Err(SyntaxError::TrailingData);
        }
        let mut parts = split_byte(enc, b'/');
        let encoding_name = nonempty(next_field(&mut parts, "encoding name")?, "encoding name")?;
        let clock_rate = parse_u32(next_field(&mut parts, "clock rate")?, "clock rate")?;
        let encoding_params = parts
            .next()
            .map(|p| parse_u16(p, "encoding parameters"))
            .transpose()?;
        if parts.next().is_some() {
            return Err(SyntaxError::TrailingData);
        }
        Ok(RtpMap {
            payload_type,
            encoding_name,
            clock_rate,
            encoding_params,
        })
    }
}

impl fmt::Display for RtpMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding_name, self.clock_rate
        )?;
        if let Some(p) = self.encoding_params {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}
typed!(RtpMap, "rtpmap");

/// `a=fmtp:<payload type> <format specific parameters>` (RFC 8866 §6.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fmtp<'a> {
    /// The payload type (0..=127).
    pub payload_type: u8,
    /// The parameters as written, e.g. `minptime=10;useinbandfec=1`.
    pub parameters: &'a str,
}

impl<'a> Fmtp<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (pt, parameters) = split_field(value);
        Ok(Fmtp {
            payload_type: parse_payload_type(pt)?,
            parameters,
        })
    }

    /// The `;`-separated parameters as `(name, value)` pairs; an entry without `=`
    /// (such as RED's `111/111`) has no value.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        self.parameters
            .split(';')
            .map(trim)
            .filter(|p| !p.is_empty())
            .map(|p| match split_once_byte(p, b'=') {
                Some((k, v)) => (k, Some(v)),
                None => (p, None),
            })
    }

    /// The value of parameter `name` (names compare case-insensitively).
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v)
    }

    /// For RTX (RFC 4588 §8): the associated payload type `apt`.
    pub fn apt(&self) -> Option<u8> {
        self.param("apt").and_then(|v| parse_payload_type(v).ok())
    }
}

impl fmt::Display for Fmtp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.payload_type, self.parameters)
    }
}
typed!(Fmtp, "fmtp");

/// `a=rtcp-fb:<payload type or *> <type> [<parameter>]` (RFC 4585 §4.2), e.g.
/// `96 nack pli`, `96 transport-cc`, `* ccm fir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpFb<'a> {
    /// The payload type, or `None` for the wildcard `*`.
    pub payload_type: Option<u8>,
    /// The feedback type: `ack`, `nack`, `trr-int`, `ccm`, `goog-remb`, `transport-cc`, ...
    pub feedback_type: &'a str,
    /// The rest (`pli`, `fir`, `rpsi`, ...), when present.
    pub parameter: Option<&'a str>,
}

impl<'a> RtcpFb<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (pt, rest) = split_field(value);
        let payload_type = if pt == "*" {
            None
        } else {
            Some(parse_payload_type(pt)?)
        };
        let (feedback_type, parameter) = split_field(rest);
        let feedback_type = nonempty(feedback_type, "rtcp-fb type")?;
        let parameter = Some(trim_end(parameter)).filter(|p| !p.is_empty());
        Ok(RtcpFb {
            payload_type,
            feedback_type,
            parameter,
        })
    }

    /// True when this feedback applies to `pt` (directly or through `*`).
    pub fn applies_to(&self, pt: u8) -> bool {
        self.payload_type.is_none_or(|p| p == pt)
    }
}

impl fmt::Display for RtcpFb<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.payload_type {
            Some(pt) => write!(f, "{pt} {}", self.feedback_type)?,
            None => write!(f, "* {}", self.feedback_type)?,
        }
        if let Some(p) = self.parameter {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}
typed!(RtcpFb, "rtcp-fb");

/// `a=extmap:<id>[/<direction>] <URI> [<extension attributes>]` (RFC 8285 §8):
/// an RTP header extension and the id it uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtMap<'a> {
    /// The local identifier: 1..=14 for one-byte headers, up to 255 with two-byte
    /// headers (RFC 8285 §5); 4096..=4351 only in offers.
    pub id: u16,
    /// The optional direction.
    pub direction: Option<Direction>,
    /// The extension's URI.
    pub uri: &'a str,
    /// Extension attributes after the URI, when present.
    pub extension_attributes: Option<&'a str>,
}

impl<'a> ExtMap<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (id, rest) = split_field(value);
        let (id, direction) = match split_once_byte(id, b'/') {
            Some((id, d)) => (
                id,
                Some(Direction::from_name(d).ok_or(SyntaxError::InvalidField("extmap direction"))?),
            ),
            None => (id, None),
        };
        let id = parse_u16(id, "extmap id")?;
        if id == 0 {
            return Err(SyntaxError::NumberOutOfRange("extmap id"));
        }
        let (uri, attrs) = split_field(rest);
        let uri = nonempty(uri, "extmap URI")?;
        let extension_attributes = Some(trim_end(attrs)).filter(|a| !a.is_empty());
        Ok(ExtMap {
            id,
            direction,
            uri,
            extension_attributes,
        })
    }
}

impl fmt::Display for ExtMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if let Some(d) = self.direction {
            write!(f, "/{d}")?;
        }
        write!(f, " {}", self.uri)?;
        if let Some(a) = self.extension_attributes {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}
typed!(ExtMap, "extmap");

/// `a=ssrc:<ssrc-id> <attribute>[:<value>]` (RFC 5576 §4.1), e.g. `123 cname:abc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ssrc<'a> {
    /// The synchronization source.
    pub ssrc: u32,
    /// The source attribute name: `cname`, `msid`, ...
    pub attribute: &'a str,
    /// The source attribute value, when present.
    pub value: Option<&'a str>,
}

impl<'a> Ssrc<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (ssrc, rest) = split_field(value);
        let ssrc = parse_u32(ssrc, "ssrc-id")?;
        let (attribute, value) = match split_once_byte(rest, b':') {
            Some((a, v)) => (a, Some(v)),
            None => (trim_end(rest), None),
        };
        Ok(Ssrc {
            ssrc,
            attribute: word(attribute, "source attribute")?,
            value,
        })
    }
}

impl fmt::Display for Ssrc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.ssrc, self.attribute)?;
        if let Some(v) = self.value {
            write!(f, ":{v}")?;
        }
        Ok(())
    }
}
typed!(Ssrc, "ssrc");

/// `a=ssrc-group:<semantics> <ssrc-id> ...` (RFC 5576 §4.2), e.g. `FID 1 2` pairs
/// a media SSRC with its RTX SSRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SsrcGroup<'a> {
    /// `FID`, `FEC-FR`, `SIM`, ...
    pub semantics: &'a str,
    /// The SSRCs as written; see [`SsrcGroup::ssrcs`].
    pub ssrc_list: &'a str,
}

impl<'a> SsrcGroup<'a> {
    /// Parses the attribute value; every SSRC must be a `u32`.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (semantics, ssrc_list) = split_field(value);
        if !is_token(semantics) {
            return Err(SyntaxError::InvalidField("ssrc-group semantics"));
        }
        for s in fields(ssrc_list) {
            parse_u32(s, "ssrc-id")?;
        }
        Ok(SsrcGroup {
            semantics,
            ssrc_list,
        })
    }

    /// The SSRCs of the group, in order.
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        fields(self.ssrc_list).filter_map(|s| parse_u32(s, "ssrc-id").ok())
    }
}

impl fmt::Display for SsrcGroup<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.semantics)?;
        for s in self.ssrcs() {
            write!(f, " {s}")?;
        }
        Ok(())
    }
}
typed!(SsrcGroup, "ssrc-group");

/// The direction of an RTP stream identifier (RFC 8851 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RidDirection {
    /// `send`.
    Send,
    /// `recv`.
    Recv,
}

impl RidDirection {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            RidDirection::Send => "send",
            RidDirection::Recv => "recv",
        }
    }
}

/// `a=rid:<rid-id> <send|recv> [pt=<fmt>,...;][<restriction>=<value>;...]`
/// (RFC 8851 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rid<'a> {
    /// The RTP stream identifier.
    pub id: &'a str,
    /// `send` or `recv`.
    pub direction: RidDirection,
    /// The `;`-separated parameters as written, when present.
    pub param_list: Option<&'a str>,
}

impl<'a> Rid<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (id, rest) = split_field(value);
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(SyntaxError::InvalidField("rid-id"));
        }
        let (dir, params) = split_field(rest);
        let direction = match dir {
            "send" => RidDirection::Send,
            "recv" => RidDirection::Recv,
            "" => return Err(SyntaxError::MissingField("rid direction")),
            _ => return Err(SyntaxError::InvalidField("rid direction")),
        };
        let params = trim_end(params);
        if params.contains(' ') {
            return Err(SyntaxError::TrailingData);
        }
        let rid = Rid {
            id,
            direction,
            param_list: Some(params).filter(|p| !p.is_empty()),
        };
        for pt in rid.payload_types() {
            pt?;
        }
        Ok(rid)
    }

    /// The parameters as `(name, value)` pairs, `pt` included.
    pub fn params(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
        self.param_list
            .unwrap_or("")
            .split(';')
            .filter(|p| !p.is_empty())
            .map(|p| match split_once_byte(p, b'=') {
                Some((k, v)) => (k, Some(v)),
                None => (p, None),
            })
    }

    /// The payload types of the `pt=` parameter (none when absent).
    pub fn payload_types(&self) -> impl Iterator<Item = Result<u8, SyntaxError>> + 'a {
        self.params()
            .filter(|(k, _)| *k == "pt")
            .flat_map(|(_, v)| v.unwrap_or("").split(','))
            .map(parse_payload_type)
    }

    /// The value of restriction `name` (`max-width`, `max-fps`, ...).
    pub fn restriction(&self, name: &str) -> Option<&'a str> {
        self.params().find(|(k, _)| *k == name).and_then(|(_, v)| v)
    }
}

impl fmt::Display for Rid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.direction.as_str())?;
        if let Some(p) = self.param_list {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}
typed!(Rid, "rid");

/// `a=simulcast:[send <list>] [recv <list>]` (RFC 8853 §5.1), e.g. `send h;m;~l`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Simulcast<'a> {
    /// The send streams, when present.
    pub send: Option<SimulcastList<'a>>,
    /// The receive streams, when present.
    pub recv: Option<SimulcastList<'a>>,
}

/// A `sc-str-list`: simulcast streams separated by `;`, each a `,`-separated list
/// of alternative RIDs, each optionally paused with `~`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulcastList<'a>(pub &'a str);

/// One RID in a simulcast stream list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulcastRid<'a> {
    /// The RTP stream identifier.
    pub id: &'a str,
    /// True when written with `~` (initially paused).
    pub paused: bool,
}

impl<'a> SimulcastList<'a> {
    /// The streams; each yields its alternative RIDs.
    pub fn streams(&self) -> impl Iterator<Item = impl Iterator<Item = SimulcastRid<'a>>> {
        split_byte(self.0, b';').map(|alts| {
            split_byte(alts, b',').map(|id| match id.strip_prefix('~') {
                Some(id) => SimulcastRid { id, paused: true },
                None => SimulcastRid { id, paused: false },
            })
        })
    }

    fn validate(&self) -> Result<(), SyntaxError> {
        for stream in self.streams() {
            for rid in stream {
                if rid.id.is_empty()
                    || !rid
                        .id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(SyntaxError::InvalidField("simulcast rid"));
                }
            }
        }
        Ok(())
    }
}

impl<'a> Simulcast<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let mut it = fields(value);
        let mut sc = Simulcast {
            send: None,
            recv: None,
        };
        while let Some(dir) = it.next() {
            let list = SimulcastList(next_field(&mut it, "simulcast list")?);
            list.validate()?;
            let slot = match dir {
                "send" => &mut sc.send,
                "recv" => &mut sc.recv,
                _ => return Err(SyntaxError::InvalidField("simulcast direction")),
            };
            if slot.replace(list).is_some() {
                return Err(SyntaxError::InvalidField("simulcast direction"));
            }
        }
        if sc.send.is_none() && sc.recv.is_none() {
            return Err(SyntaxError::MissingField("simulcast list"));
        }
        Ok(sc)
    }
}

impl fmt::Display for Simulcast<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(s) = self.send {
            write!(f, "send {}", s.0)?;
            sep = " ";
        }
        if let Some(r) = self.recv {
            write!(f, "{sep}recv {}", r.0)?;
        }
        Ok(())
    }
}
typed!(Simulcast, "simulcast");

/// `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtcp<'a> {
    /// The RTCP port.
    pub port: u16,
    /// The address, when given.
    pub connection: Option<crate::Connection<'a>>,
}

impl<'a> Rtcp<'a> {
    /// Parses the attribute value.
    pub fn parse(value: &'a str) -> Result<Self, SyntaxError> {
        let (port, rest) = split_field(value);
        let port = parse_u16(port, "rtcp port")?;
        let connection = if trim_end(rest).is_empty() {
            None
        } else {
            Some(crate::Connection::parse(rest)?)
        };
        Ok(Rtcp { port, connection })
    }
}

impl fmt::Display for Rtcp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(c) = self.connection {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}
typed!(Rtcp, "rtcp");
