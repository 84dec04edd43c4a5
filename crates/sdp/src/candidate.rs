//! ICE candidates in their SDP form (RFC 8839 §5.1), usable alone for
//! `a=candidate:` lines and for trickled candidate strings (RFC 8840).

use core::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::attributes::TypedAttribute;
use crate::util::{fields, next_field, parse_u16, parse_u32};
use crate::SyntaxError;

/// The transport of a candidate (`UDP`, or `TCP` from RFC 6544). Written in lower
/// case as browsers do; parsed case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// `udp`.
    Udp,
    /// `tcp` (RFC 6544).
    Tcp,
    /// Any other `transport-extension` token, kept as written.
    Other(String),
}

/// The candidate type (RFC 8839 §5.1 `cand-type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CandidateType {
    /// `host`.
    Host,
    /// `srflx`: server reflexive.
    ServerReflexive,
    /// `prflx`: peer reflexive.
    PeerReflexive,
    /// `relay`: relayed through TURN.
    Relay,
    /// Any other token, kept as written.
    Other(String),
}

impl CandidateType {
    /// The SDP keyword.
    pub fn as_str(&self) -> &str {
        match self {
            CandidateType::Host => "host",
            CandidateType::ServerReflexive => "srflx",
            CandidateType::PeerReflexive => "prflx",
            CandidateType::Relay => "relay",
            CandidateType::Other(s) => s,
        }
    }
}

/// The TCP candidate type (RFC 6544 §4.5), written as the `tcptype` extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpType {
    /// `active`: opens connections.
    Active,
    /// `passive`: accepts connections.
    Passive,
    /// `so`: simultaneous open.
    SimultaneousOpen,
}

impl TcpType {
    /// The SDP keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpType::Active => "active",
            TcpType::Passive => "passive",
            TcpType::SimultaneousOpen => "so",
        }
    }
}

/// A candidate's `connection-address`: an IP address or a host name, such as the
/// `<uuid>.local` mDNS names browsers use to hide local addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateAddress {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A fully qualified domain name (RFC 8839 §5.1), e.g. an mDNS `.local` name.
    Hostname(String),
}

impl CandidateAddress {
    /// Longest host name accepted (RFC 1035 §2.3.4).
    pub const MAX_HOSTNAME_LEN: usize = 253;

    /// Parses an IP address or a host name.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(CandidateAddress::Ip(ip));
        }
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_HOSTNAME_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if ok {
            Ok(CandidateAddress::Hostname(s.to_owned()))
        } else {
            Err(SyntaxError::InvalidField("connection-address"))
        }
    }

    /// The IP address, if this is not a host name.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            CandidateAddress::Ip(ip) => Some(*ip),
            CandidateAddress::Hostname(_) => None,
        }
    }

    /// True for an mDNS name (`*.local`, RFC 6762), which must be resolved before use.
    pub fn is_mdns(&self) -> bool {
        match self {
            CandidateAddress::Hostname(h) => {
                h.len() > 6
                    && h.get(h.len() - 6..)
                        .is_some_and(|t| t.eq_ignore_ascii_case(".local"))
            }
            CandidateAddress::Ip(_) => false,
        }
    }
}

impl fmt::Display for CandidateAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CandidateAddress::Ip(ip) => write!(f, "{ip}"),
            CandidateAddress::Hostname(h) => f.write_str(h),
        }
    }
}

/// An ICE candidate (RFC 8839 §5.1):
///
/// `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
/// [raddr <addr>] [rport <port>] *(<extension name> <extension value>)`
///
/// `tcptype` (RFC 6544) has its own field; other extensions (Chromium's
/// `generation`, `ufrag`, `network-id`, `network-cost`, ...) are kept in order.
/// [`Candidate::parse`] accepts the value alone, `candidate:...` (the form of
/// `RTCIceCandidate.candidate`) or a whole `a=candidate:...` line; `Display` writes
/// `candidate:...` without the `a=`.
///
/// ```
/// use fulmar_sdp::{Candidate, CandidateType};
///
/// // A trickled candidate, as RTCIceCandidate.candidate carries it.
/// let text = "candidate:1 1 udp 2122260223 192.168.0.2 54321 typ host generation 0 network-id 1";
/// let c = Candidate::parse(text)?;
/// assert_eq!((c.typ.clone(), c.port, c.network_id()), (CandidateType::Host, 54321, Some(1)));
/// assert_eq!(c.to_string(), text);
/// # Ok::<(), fulmar_sdp::SyntaxError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// `foundation`: 1 to 32 `ice-char`s.
    pub foundation: String,
    /// `component-id`: 1 for RTP (and for everything with rtcp-mux), 2 for RTCP; 1..=256.
    pub component: u16,
    /// `transport`.
    pub transport: Transport,
    /// `priority` (RFC 8445 §5.1.2).
    pub priority: u32,
    /// `connection-address`.
    pub address: CandidateAddress,
    /// `port`.
    pub port: u16,
    /// `cand-type`.
    pub typ: CandidateType,
    /// `raddr`, for reflexive and relayed candidates.
    pub related_address: Option<CandidateAddress>,
    /// `rport`, for reflexive and relayed candidates.
    pub related_port: Option<u16>,
    /// `tcptype`, for TCP candidates (RFC 6544 §4.5).
    pub tcp_type: Option<TcpType>,
    /// Other extension attributes, in order, as `(name, value)`.
    pub extensions: Vec<(String, String)>,
}

/// Longest foundation (RFC 8839 §5.1).
const MAX_FOUNDATION_LEN: usize = 32;

fn is_ice_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

impl Candidate {
    /// Longest candidate text [`Candidate::parse`] accepts, in bytes: far
    /// above what browsers write, and a bound on what a trickled candidate
    /// from the network can make us allocate.
    pub const MAX_LEN: usize = 1024;

    /// A UDP candidate at `addr`, as an ICE agent creates its own: `related`
    /// is the base of a reflexive candidate or the mapped address of a
    /// relayed one (written as `raddr`/`rport`).
    pub fn udp(
        typ: CandidateType,
        component: u16,
        addr: SocketAddr,
        priority: u32,
        foundation: String,
        related: Option<SocketAddr>,
    ) -> Self {
        Candidate {
            foundation,
            component,
            transport: Transport::Udp,
            priority,
            address: CandidateAddress::Ip(addr.ip()),
            port: addr.port(),
            typ,
            related_address: related.map(|r| CandidateAddress::Ip(r.ip())),
            related_port: related.map(|r| r.port()),
            tcp_type: None,
            extensions: Vec::new(),
        }
    }

    /// The transport address, if the connection address is an IP address
    /// (not a name still to resolve).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.address.ip().map(|ip| SocketAddr::new(ip, self.port))
    }

    /// `raddr`/`rport` as a transport address, when `raddr` is an IP address
    /// (browsers hide it behind a name or `0.0.0.0` for mDNS candidates); a
    /// missing `rport` reads as 0.
    pub fn related_socket_addr(&self) -> Option<SocketAddr> {
        let ip = self.related_address.as_ref()?.ip()?;
        Some(SocketAddr::new(ip, self.related_port.unwrap_or(0)))
    }

    /// Parses a candidate from its value, `candidate:<value>` or
    /// `a=candidate:<value>`; the value (without the prefix and line ending)
    /// is at most [`Candidate::MAX_LEN`] bytes.
    ///
    /// What this parses writes back to text that parses to the same
    /// candidate, with one exception at the length bound: an IPv4-mapped
    /// IPv6 address written in hex (`::ffff:0:0`) is written back in its
    /// dotted form (`::ffff:0.0.0.0`), up to 4 bytes longer.
    pub fn parse(s: &str) -> Result<Self, SyntaxError> {
        let s = s.strip_prefix("a=").unwrap_or(s);
        let s = s.strip_prefix("candidate:").unwrap_or(s);
        let s = s.trim_end_matches(['\r', '\n']);
        // The bound is on the value, so that `candidate:` + value, as
        // `Display` writes it, parses whenever the bare value did.
        if s.len() > Self::MAX_LEN {
            return Err(SyntaxError::InvalidField("candidate length"));
        }
        // RFC 8839 §5.1: every field is a byte-string, which excludes NUL, CR and LF.
        if !crate::util::is_line_safe(s) {
            return Err(SyntaxError::ForbiddenCharacter);
        }
        let mut it = fields(s);
        let foundation = next_field(&mut it, "foundation")?;
        if foundation.len() > MAX_FOUNDATION_LEN || !foundation.bytes().all(is_ice_char) {
            return Err(SyntaxError::InvalidField("foundation"));
        }
        let component = parse_u16(next_field(&mut it, "component-id")?, "component-id")?;
        if !(1..=256).contains(&component) {
            return Err(SyntaxError::NumberOutOfRange("component-id"));
        }
        let transport = next_field(&mut it, "transport")?;
        let transport = if transport.eq_ignore_ascii_case("udp") {
            Transport::Udp
        } else if transport.eq_ignore_ascii_case("tcp") {
            Transport::Tcp
        } else if crate::util::is_token(transport) {
            Transport::Other(transport.to_owned())
        } else {
            return Err(SyntaxError::InvalidField("transport"));
        };
        let priority = parse_u32(next_field(&mut it, "priority")?, "priority")?;
        let address = CandidateAddress::parse(next_field(&mut it, "connection-address")?)?;
        let port = parse_u16(next_field(&mut it, "port")?, "port")?;
        if next_field(&mut it, "typ")? != "typ" {
            return Err(SyntaxError::InvalidField("typ"));
        }
        let typ = match next_field(&mut it, "cand-type")? {
            "host" => CandidateType::Host,
            "srflx" => CandidateType::ServerReflexive,
            "prflx" => CandidateType::PeerReflexive,
            "relay" => CandidateType::Relay,
            t if crate::util::is_token(t) => CandidateType::Other(t.to_owned()),
            _ => return Err(SyntaxError::InvalidField("cand-type")),
        };
        let mut c = Candidate {
            foundation: foundation.to_owned(),
            component,
            transport,
            priority,
            address,
            port,
            typ,
            related_address: None,
            related_port: None,
            tcp_type: None,
            extensions: Vec::new(),
        };
        while let Some(name) = it.next() {
            let value = it
                .next()
                .ok_or(SyntaxError::MissingField("extension value"))?;
            match name {
                "raddr" if c.related_address.is_none() => {
                    c.related_address = Some(CandidateAddress::parse(value)?);
                }
                "rport" if c.related_port.is_none() => {
                    c.related_port = Some(parse_u16(value, "rport")?);
                }
                "tcptype" if c.tcp_type.is_none() => {
                    c.tcp_type = Some(match value {
                        "active" => TcpType::Active,
                        "passive" => TcpType::Passive,
                        "so" => TcpType::SimultaneousOpen,
                        _ => return Err(SyntaxError::InvalidField("tcptype")),
                    });
                }
                _ => c.extensions.push((name.to_owned(), value.to_owned())),
            }
        }
        Ok(c)
    }

    /// The value of extension `name`, if present.
    pub fn extension(&self, name: &str) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Chromium's `generation` extension.
    pub fn generation(&self) -> Option<u32> {
        self.extension("generation")
            .and_then(|v| parse_u32(v, "generation").ok())
    }

    /// The `ufrag` extension (RFC 8840 §5.1 recommends it on trickled candidates).
    pub fn ufrag(&self) -> Option<&str> {
        self.extension("ufrag")
    }

    /// Chromium's `network-id` extension.
    pub fn network_id(&self) -> Option<u32> {
        self.extension("network-id")
            .and_then(|v| parse_u32(v, "network-id").ok())
    }

    /// Chromium's `network-cost` extension.
    pub fn network_cost(&self) -> Option<u32> {
        self.extension("network-cost")
            .and_then(|v| parse_u32(v, "network-cost").ok())
    }
}

impl fmt::Display for Candidate {
    /// Writes `candidate:<value>`, the form of `RTCIceCandidate.candidate`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "candidate:")?;
        self.write_value(f)
    }
}

impl Candidate {
    /// Writes the attribute value (without `candidate:`).
    fn write_value(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match &self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Other(t) => t,
        };
        write!(
            f,
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            transport,
            self.priority,
            self.address,
            self.port,
            self.typ.as_str()
        )?;
        if let Some(a) = &self.related_address {
            write!(f, " raddr {a}")?;
        }
        if let Some(p) = self.related_port {
            write!(f, " rport {p}")?;
        }
        if let Some(t) = self.tcp_type {
            write!(f, " tcptype {}", t.as_str())?;
        }
        for (k, v) in &self.extensions {
            write!(f, " {k} {v}")?;
        }
        Ok(())
    }

    /// The attribute value (what follows `a=candidate:`), for writing an SDP line.
    pub fn value(&self) -> CandidateValue<'_> {
        CandidateValue(self)
    }
}

/// Displays a candidate's attribute value without the `candidate:` prefix.
#[derive(Debug, Clone, Copy)]
pub struct CandidateValue<'a>(&'a Candidate);

impl fmt::Display for CandidateValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write_value(f)
    }
}

impl core::str::FromStr for Candidate {
    type Err = SyntaxError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Candidate::parse(s)
    }
}

/// The typed view of `a=candidate:`; `Display` here is the *value* form used
/// in a line, so push candidates with [`crate::MediaDescription::push_candidate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateAttribute(pub Candidate);

impl fmt::Display for CandidateAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write_value(f)
    }
}

impl TypedAttribute<'_> for CandidateAttribute {
    const NAME: &'static str = "candidate";
    fn parse_value(value: &str) -> Result<Self, SyntaxError> {
        Candidate::parse(value).map(CandidateAttribute)
    }
}
