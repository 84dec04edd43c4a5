//! ICE candidates: kinds, priorities and foundations (RFC 8445 §5.1), and the
//! `candidate` attribute of RFC 8839 §5.1.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::Error;

/// Longest foundation (RFC 8839 §5.1: 1*32 ice-char).
pub const MAX_FOUNDATION_LEN: usize = 32;
/// Longest hostname accepted as a connection address (DNS limit).
pub const MAX_HOSTNAME_LEN: usize = 253;
/// Most extension attributes kept from one candidate line.
pub const MAX_EXTENSIONS: usize = 16;
/// Longest candidate line accepted.
pub const MAX_LINE_LEN: usize = 1024;

/// The candidate type (RFC 8445 §5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CandidateKind {
    /// A host candidate: an address on a local interface.
    Host,
    /// A server-reflexive candidate: the address a NAT maps us to, learned
    /// from a STUN server.
    ServerReflexive,
    /// A peer-reflexive candidate: learned from a connectivity check.
    PeerReflexive,
    /// A relayed candidate: an address on a TURN server.
    Relayed,
}

impl CandidateKind {
    /// The recommended type preference (RFC 8445 §5.1.2.2).
    pub const fn type_preference(self) -> u32 {
        match self {
            CandidateKind::Host => 126,
            CandidateKind::PeerReflexive => 110,
            CandidateKind::ServerReflexive => 100,
            CandidateKind::Relayed => 0,
        }
    }

    /// The `typ` token of RFC 8839 §5.1.
    pub const fn as_str(self) -> &'static str {
        match self {
            CandidateKind::Host => "host",
            CandidateKind::ServerReflexive => "srflx",
            CandidateKind::PeerReflexive => "prflx",
            CandidateKind::Relayed => "relay",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "host" => CandidateKind::Host,
            "srflx" => CandidateKind::ServerReflexive,
            "prflx" => CandidateKind::PeerReflexive,
            "relay" => CandidateKind::Relayed,
            _ => return None,
        })
    }
}

/// The transport protocol of a candidate. The agent checks UDP candidates;
/// TCP candidates (RFC 6544) parse but are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP (RFC 6544).
    Tcp,
}

/// Where a candidate is: an IP address, or a hostname such as an mDNS
/// `.local` name that must be resolved first (RFC 8839 §5.1,
/// draft-ietf-mmusic-mdns-ice-candidates).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CandidateAddress {
    /// A literal IP address.
    Ip(IpAddr),
    /// A fully qualified domain name, e.g. `1f2e…-….local`.
    Hostname(String),
}

impl CandidateAddress {
    /// True for mDNS names (ending in `.local`).
    pub fn is_mdns(&self) -> bool {
        match self {
            CandidateAddress::Ip(_) => false,
            CandidateAddress::Hostname(h) => h.to_ascii_lowercase().ends_with(".local"),
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

/// An ICE candidate, local or remote (RFC 8445 §5.1, RFC 8839 §5.1).
///
/// ```
/// use fulmar_ice::{Candidate, CandidateKind};
/// let c: Candidate = "candidate:1 1 udp 2122260223 192.0.2.3 54400 typ host generation 0"
///     .parse()?;
/// assert_eq!(c.kind, CandidateKind::Host);
/// assert_eq!(c.socket_addr(), Some(std::net::SocketAddr::from(([192, 0, 2, 3], 54400))));
/// assert_eq!(c.to_string(), "candidate:1 1 udp 2122260223 192.0.2.3 54400 typ host generation 0");
/// # Ok::<(), fulmar_ice::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Candidate {
    /// The foundation: equal for candidates of the same type, base IP,
    /// server and transport (RFC 8445 §5.1.1.3).
    pub foundation: String,
    /// The component ID, 1 for RTP (and everything under rtcp-mux/BUNDLE).
    pub component: u16,
    /// The transport protocol.
    pub transport: Transport,
    /// The priority (RFC 8445 §5.1.2).
    pub priority: u32,
    /// The connection address.
    pub address: CandidateAddress,
    /// The port.
    pub port: u16,
    /// The candidate type.
    pub kind: CandidateKind,
    /// `raddr`/`rport`: the related address (the base of a reflexive
    /// candidate, the mapped address of a relayed one).
    pub related: Option<SocketAddr>,
    /// The `tcptype` of a TCP candidate (RFC 6544 §4.5), verbatim.
    pub tcp_type: Option<String>,
    /// Other extension attributes (`generation`, `ufrag`, `network-id`, …),
    /// in order, at most [`MAX_EXTENSIONS`].
    pub extensions: Vec<(String, String)>,
}

impl Candidate {
    /// A UDP candidate at `addr` with the given fields and no extensions.
    pub fn new(
        kind: CandidateKind,
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
            kind,
            related,
            tcp_type: None,
            extensions: Vec::new(),
        }
    }

    /// The transport address, if the connection address is an IP address.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match &self.address {
            CandidateAddress::Ip(ip) => Some(SocketAddr::new(*ip, self.port)),
            CandidateAddress::Hostname(_) => None,
        }
    }

    /// The value of extension `name`, if present.
    pub fn extension(&self, name: &str) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parses a candidate attribute, with or without the leading `a=` and
    /// `candidate:` (RFC 8839 §5.1). Extension attributes beyond
    /// [`MAX_EXTENSIONS`] are dropped.
    pub fn parse(line: &str) -> Result<Candidate, Error> {
        if line.len() > MAX_LINE_LEN {
            return Err(Error::InvalidCandidate("line too long"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let line = line.strip_prefix("a=").unwrap_or(line);
        let line = line.strip_prefix("candidate:").unwrap_or(line);
        let mut it = line.split(' ').filter(|t| !t.is_empty());
        let mut next = |what: &'static str| it.next().ok_or(Error::InvalidCandidate(what));

        let foundation = next("foundation")?;
        if foundation.is_empty()
            || foundation.len() > MAX_FOUNDATION_LEN
            || !foundation.bytes().all(is_ice_char)
        {
            return Err(Error::InvalidCandidate("foundation"));
        }
        let component = next("component-id")?;
        let component: u16 = parse_digits(component, 3)
            .and_then(|v| u16::try_from(v).ok())
            .filter(|c| (1..=256).contains(c))
            .ok_or(Error::InvalidCandidate("component-id"))?;
        let transport = next("transport")?;
        let transport = if transport.eq_ignore_ascii_case("udp") {
            Transport::Udp
        } else if transport.eq_ignore_ascii_case("tcp") {
            Transport::Tcp
        } else if transport.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::UnsupportedTransport);
        } else {
            return Err(Error::InvalidCandidate("transport"));
        };
        let priority = parse_digits(next("priority")?, 10)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(Error::InvalidCandidate("priority"))?;
        let address = parse_address(next("connection-address")?)?;
        let port = parse_port(next("port")?)?;
        if next("typ")? != "typ" {
            return Err(Error::InvalidCandidate("typ"));
        }
        let kind =
            CandidateKind::parse(next("cand-type")?).ok_or(Error::InvalidCandidate("cand-type"))?;

        let mut raddr: Option<IpAddr> = None;
        let mut rport: Option<u16> = None;
        let mut tcp_type = None;
        let mut extensions = Vec::new();
        while let Some(name) = it.next() {
            let value = it
                .next()
                .ok_or(Error::InvalidCandidate("extension value"))?;
            match name {
                "raddr" => match parse_address(value)? {
                    CandidateAddress::Ip(ip) => raddr = Some(ip),
                    // Browsers hide the related address of mDNS candidates
                    // behind a name or 0.0.0.0: keep the candidate, drop it.
                    CandidateAddress::Hostname(_) => {}
                },
                "rport" => rport = Some(parse_port(value)?),
                "tcptype" => tcp_type = Some(value.to_string()),
                _ => {
                    if !name.bytes().all(|b| b.is_ascii_graphic())
                        || !value.bytes().all(|b| b.is_ascii_graphic())
                    {
                        return Err(Error::InvalidCandidate("extension"));
                    }
                    if extensions.len() < MAX_EXTENSIONS {
                        extensions.push((name.to_string(), value.to_string()));
                    }
                }
            }
        }
        let related = match (raddr, rport) {
            (Some(ip), Some(port)) => Some(SocketAddr::new(ip, port)),
            (Some(ip), None) => Some(SocketAddr::new(ip, 0)),
            _ => None,
        };
        Ok(Candidate {
            foundation: foundation.to_string(),
            component,
            transport,
            priority,
            address,
            port,
            kind,
            related,
            tcp_type,
            extensions,
        })
    }
}

impl std::str::FromStr for Candidate {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Candidate::parse(s)
    }
}

impl fmt::Display for Candidate {
    /// Writes `candidate:<foundation> <component> <transport> …` (RFC 8839
    /// §5.1) without the `a=` prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let transport = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        write!(
            f,
            "candidate:{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            transport,
            self.priority,
            self.address,
            self.port,
            self.kind.as_str()
        )?;
        if let Some(r) = self.related {
            write!(f, " raddr {} rport {}", r.ip(), r.port())?;
        }
        if let Some(t) = &self.tcp_type {
            write!(f, " tcptype {t}")?;
        }
        for (k, v) in &self.extensions {
            write!(f, " {k} {v}")?;
        }
        Ok(())
    }
}

/// ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.1).
pub(crate) fn is_ice_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

fn parse_digits(s: &str, max: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_port(s: &str) -> Result<u16, Error> {
    parse_digits(s, 5)
        .and_then(|v| u16::try_from(v).ok())
        .ok_or(Error::InvalidCandidate("port"))
}

fn parse_address(s: &str) -> Result<CandidateAddress, Error> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(CandidateAddress::Ip(ip));
    }
    let valid = !s.is_empty()
        && s.len() <= MAX_HOSTNAME_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if valid {
        Ok(CandidateAddress::Hostname(s.to_string()))
    } else {
        Err(Error::InvalidCandidate("connection-address"))
    }
}

/// The candidate priority formula (RFC 8445 §5.1.2.1):
/// `2^24 * type preference + 2^8 * local preference + (256 - component ID)`.
pub fn candidate_priority(kind: CandidateKind, local_preference: u16, component: u16) -> u32 {
    (kind.type_preference() << 24)
        + (u32::from(local_preference) << 8)
        + (256 - u32::from(component.clamp(1, 256)))
}

/// The candidate-pair priority formula (RFC 8445 §6.1.2.3), with `g` the
/// priority of the controlling agent's candidate and `d` the controlled's:
/// `2^32 * MIN(G,D) + 2 * MAX(G,D) + (G > D ? 1 : 0)`.
pub fn pair_priority(g: u32, d: u32) -> u64 {
    let (g, d) = (u64::from(g), u64::from(d));
    (g.min(d) << 32) + 2 * g.max(d) + u64::from(g > d)
}

/// How a relayed candidate's TURN server is reached (RFC 8656 §3.1). It
/// ranks relayed candidates, as browsers do: UDP before TCP before TLS,
/// since every hop of a stream adds head-of-line blocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RelayProtocol {
    /// UDP to the server.
    #[default]
    Udp,
    /// TCP to the server.
    Tcp,
    /// TLS over TCP to the server.
    Tls,
}

impl RelayProtocol {
    /// The local preference (RFC 8445 §5.1.2.1) of a relayed candidate
    /// reached this way: 65535 for UDP, one less per step down.
    pub const fn local_preference(self) -> u16 {
        match self {
            RelayProtocol::Udp => 65535,
            RelayProtocol::Tcp => 65534,
            RelayProtocol::Tls => 65533,
        }
    }

    const fn token(self) -> &'static [u8] {
        match self {
            RelayProtocol::Udp => b"udp",
            RelayProtocol::Tcp => b"tcp",
            RelayProtocol::Tls => b"tls",
        }
    }
}

/// A foundation for a local candidate (RFC 8445 §5.1.1.3): the same for
/// candidates with the same type, base IP, server IP and transport; a short
/// decimal digest of those (FNV-1a).
pub fn compute_foundation(kind: CandidateKind, base: IpAddr, server: Option<IpAddr>) -> String {
    foundation_digest(kind, RelayProtocol::Udp, base, server)
}

/// The foundation of a relayed candidate whose server is reached over
/// `protocol`: relays on one server over different transports differ (RFC
/// 8445 §5.1.1.3 counts the transport to the server); over UDP it equals
/// [`compute_foundation`]'s.
pub fn compute_relay_foundation(base: IpAddr, server: IpAddr, protocol: RelayProtocol) -> String {
    foundation_digest(CandidateKind::Relayed, protocol, base, Some(server))
}

fn foundation_digest(
    kind: CandidateKind,
    protocol: RelayProtocol,
    base: IpAddr,
    server: Option<IpAddr>,
) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    eat(kind.as_str().as_bytes());
    eat(protocol.token());
    match base {
        IpAddr::V4(a) => eat(&a.octets()),
        IpAddr::V6(a) => eat(&a.octets()),
    }
    match server {
        Some(IpAddr::V4(a)) => eat(&a.octets()),
        Some(IpAddr::V6(a)) => eat(&a.octets()),
        None => eat(b"-"),
    }
    h.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_formula_matches_rfc_example_values() {
        // Host, local preference 65535, component 1: the value browsers use.
        assert_eq!(
            candidate_priority(CandidateKind::Host, 65535, 1),
            2_130_706_431
        );
        assert_eq!(candidate_priority(CandidateKind::Relayed, 0, 2), 254);
        assert_eq!(pair_priority(1, 2), (1u64 << 32) + 4);
        assert_eq!(pair_priority(2, 1), (1u64 << 32) + 5);
    }

    #[test]
    fn foundation_groups_by_type_base_and_server() {
        let a = compute_foundation(CandidateKind::Host, "10.0.0.1".parse().unwrap(), None);
        let b = compute_foundation(CandidateKind::Host, "10.0.0.1".parse().unwrap(), None);
        let c = compute_foundation(
            CandidateKind::ServerReflexive,
            "10.0.0.1".parse().unwrap(),
            None,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.len() <= MAX_FOUNDATION_LEN && a.bytes().all(is_ice_char));
    }
}
