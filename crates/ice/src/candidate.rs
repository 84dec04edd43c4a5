//! What ICE adds to a candidate (RFC 8445 §5.1): type preferences,
//! priorities and foundations. The candidate itself, and its grammar (RFC
//! 8839 §5.1), are fulmar-sdp's; the agent works with that typed value and
//! never parses text.

use std::net::IpAddr;

pub use fulmar_sdp::{Candidate, CandidateAddress, CandidateType, Transport};

/// Longest foundation (RFC 8839 §5.1: 1*32 ice-char).
pub const MAX_FOUNDATION_LEN: usize = 32;

/// The recommended type preference (RFC 8445 §5.1.2.2): host 126,
/// peer-reflexive 110, server-reflexive 100, relayed 0; a type this agent
/// does not know ranks last.
pub fn type_preference(typ: &CandidateType) -> u32 {
    match typ {
        CandidateType::Host => 126,
        CandidateType::PeerReflexive => 110,
        CandidateType::ServerReflexive => 100,
        _ => 0,
    }
}

/// True for the candidate types an agent can use (RFC 8445 §5.1.1).
pub(crate) fn is_known_type(typ: &CandidateType) -> bool {
    matches!(
        typ,
        CandidateType::Host
            | CandidateType::ServerReflexive
            | CandidateType::PeerReflexive
            | CandidateType::Relay
    )
}

/// ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.1).
pub(crate) fn is_ice_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// The candidate priority formula (RFC 8445 §5.1.2.1):
/// `2^24 * type preference + 2^8 * local preference + (256 - component ID)`.
pub fn candidate_priority(typ: &CandidateType, local_preference: u16, component: u16) -> u32 {
    (type_preference(typ) << 24)
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
pub fn compute_foundation(typ: &CandidateType, base: IpAddr, server: Option<IpAddr>) -> String {
    foundation_digest(typ, RelayProtocol::Udp, base, server)
}

/// The foundation of a relayed candidate whose server is reached over
/// `protocol`: relays on one server over different transports differ (RFC
/// 8445 §5.1.1.3 counts the transport to the server); over UDP it equals
/// [`compute_foundation`]'s.
pub fn compute_relay_foundation(base: IpAddr, server: IpAddr, protocol: RelayProtocol) -> String {
    foundation_digest(&CandidateType::Relay, protocol, base, Some(server))
}

fn foundation_digest(
    typ: &CandidateType,
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
    eat(typ.as_str().as_bytes());
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
            candidate_priority(&CandidateType::Host, 65535, 1),
            2_130_706_431
        );
        assert_eq!(candidate_priority(&CandidateType::Relay, 0, 2), 254);
        assert_eq!(pair_priority(1, 2), (1u64 << 32) + 4);
        assert_eq!(pair_priority(2, 1), (1u64 << 32) + 5);
    }

    #[test]
    fn foundation_groups_by_type_base_and_server() {
        let a = compute_foundation(&CandidateType::Host, "10.0.0.1".parse().unwrap(), None);
        let b = compute_foundation(&CandidateType::Host, "10.0.0.1".parse().unwrap(), None);
        let c = compute_foundation(
            &CandidateType::ServerReflexive,
            "10.0.0.1".parse().unwrap(),
            None,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.len() <= MAX_FOUNDATION_LEN && a.bytes().all(is_ice_char));
    }
}
