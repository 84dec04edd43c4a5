//! NAT boxes with the mapping and filtering behaviours of RFC 4787.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::Rng;

/// How a NAT reuses an external mapping (RFC 4787 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mapping {
    /// Endpoint-Independent Mapping: one external address per internal address,
    /// whatever the destination (REQ-1).
    EndpointIndependent,
    /// Address-Dependent Mapping: a new external port per destination IP.
    AddressDependent,
    /// Address and Port-Dependent Mapping ("symmetric"): a new external port per
    /// destination IP and port.
    AddressAndPortDependent,
}

/// Which inbound datagrams a NAT lets through a mapping (RFC 4787 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filtering {
    /// Endpoint-Independent Filtering: anyone may send to a mapping.
    EndpointIndependent,
    /// Address-Dependent Filtering: only IPs the internal endpoint has sent to.
    AddressDependent,
    /// Address and Port-Dependent Filtering: only the exact transport addresses
    /// the internal endpoint has sent to.
    AddressAndPortDependent,
}

/// How a NAT picks external ports for new mappings (RFC 4787 §4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortAssignment {
    /// Keep the internal port when free ("port preservation"), else random.
    Preserve,
    /// Sequential from 49152.
    Sequential,
    /// Random in 1024..=65535 (seeded by the network's RNG).
    Random,
}

/// The behaviour of a NAT box.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NatConfig {
    /// Mapping behaviour.
    pub mapping: Mapping,
    /// Filtering behaviour.
    pub filtering: Filtering,
    /// Whether internal hosts can reach each other through the external
    /// address (RFC 4787 §6, REQ-9).
    pub hairpinning: bool,
    /// Idle time after which a mapping expires (RFC 4787 §4.3; REQ-5 asks for
    /// at least two minutes, real NATs often use 30 s).
    pub mapping_timeout: Duration,
    /// Whether inbound datagrams also refresh a mapping (RFC 4787 REQ-6 makes
    /// outbound refresh mandatory and inbound refresh optional).
    pub inbound_refresh: bool,
    /// Port assignment policy.
    pub port_assignment: PortAssignment,
    /// A static 1:1 NAT for this internal IP (a cloud VM's public
    /// address): every port of the external address forwards to the same
    /// port of this host, both ways, without state or filtering; other
    /// internal hosts get the mappings above.
    pub one_to_one: Option<IpAddr>,
}

impl NatConfig {
    /// A NAT with the given mapping and filtering, hairpinning on, a 120 s
    /// mapping timeout, outbound-only refresh and random ports.
    pub fn new(mapping: Mapping, filtering: Filtering) -> Self {
        Self {
            mapping,
            filtering,
            hairpinning: true,
            mapping_timeout: Duration::from_secs(120),
            inbound_refresh: false,
            port_assignment: PortAssignment::Random,
            one_to_one: None,
        }
    }

    /// A static 1:1 NAT for `internal` ([`NatConfig::one_to_one`]), full
    /// cone for any other host behind it.
    pub fn one_to_one(internal: IpAddr) -> Self {
        Self {
            one_to_one: Some(internal),
            ..Self::full_cone().with_port_assignment(PortAssignment::Preserve)
        }
    }

    /// Full cone: endpoint-independent mapping and filtering.
    pub fn full_cone() -> Self {
        Self::new(Mapping::EndpointIndependent, Filtering::EndpointIndependent)
    }

    /// Restricted cone: endpoint-independent mapping, address-dependent filtering.
    pub fn restricted_cone() -> Self {
        Self::new(Mapping::EndpointIndependent, Filtering::AddressDependent)
    }

    /// Port-restricted cone: endpoint-independent mapping, address and
    /// port-dependent filtering (the most common home NAT).
    pub fn port_restricted_cone() -> Self {
        Self::new(
            Mapping::EndpointIndependent,
            Filtering::AddressAndPortDependent,
        )
    }

    /// Symmetric: address and port-dependent mapping and filtering.
    pub fn symmetric() -> Self {
        Self::new(
            Mapping::AddressAndPortDependent,
            Filtering::AddressAndPortDependent,
        )
    }

    /// Sets hairpinning.
    pub fn with_hairpinning(mut self, on: bool) -> Self {
        self.hairpinning = on;
        self
    }

    /// Sets the mapping timeout.
    pub fn with_mapping_timeout(mut self, timeout: Duration) -> Self {
        self.mapping_timeout = timeout;
        self
    }

    /// Sets whether inbound traffic refreshes mappings.
    pub fn with_inbound_refresh(mut self, on: bool) -> Self {
        self.inbound_refresh = on;
        self
    }

    /// Sets the port assignment policy.
    pub fn with_port_assignment(mut self, policy: PortAssignment) -> Self {
        self.port_assignment = policy;
        self
    }
}

/// The key a mapping is found by, per mapping behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum MapKey {
    Independent(SocketAddr),
    Address(SocketAddr, IpAddr),
    AddressAndPort(SocketAddr, SocketAddr),
}

#[derive(Debug, Clone)]
struct Entry {
    internal: SocketAddr,
    external_port: u16,
    last_used: Instant,
    /// Remote transport addresses the internal endpoint sent to through this
    /// mapping, with when it last did (drives filtering: each permission
    /// lapses like a connection-tracking entry after the mapping timeout).
    contacted: BTreeMap<SocketAddr, Instant>,
    key: MapKey,
}

/// Why a NAT dropped a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NatDrop {
    NoMapping,
    Filtered,
    HairpinDisabled,
    PortsExhausted,
    FamilyMismatch,
}

/// The state of one NAT box.
#[derive(Debug)]
pub(crate) struct Nat {
    pub(crate) external: IpAddr,
    pub(crate) config: NatConfig,
    by_key: BTreeMap<MapKey, u16>,
    by_port: BTreeMap<u16, Entry>,
    next_sequential: u16,
}

impl Nat {
    pub(crate) fn new(external: IpAddr, config: NatConfig) -> Self {
        Self {
            external,
            config,
            by_key: BTreeMap::new(),
            by_port: BTreeMap::new(),
            next_sequential: 49152,
        }
    }

    /// Number of live mappings at `now`.
    pub(crate) fn mapping_count(&self, now: Instant) -> usize {
        self.by_port
            .values()
            .filter(|e| !self.expired(e, now))
            .count()
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(e.last_used) > self.config.mapping_timeout
    }

    fn remove_port(&mut self, port: u16) {
        if let Some(e) = self.by_port.remove(&port) {
            self.by_key.remove(&e.key);
        }
    }

    fn key_for(&self, internal: SocketAddr, remote: SocketAddr) -> MapKey {
        match self.config.mapping {
            Mapping::EndpointIndependent => MapKey::Independent(internal),
            Mapping::AddressDependent => MapKey::Address(internal, remote.ip()),
            Mapping::AddressAndPortDependent => MapKey::AddressAndPort(internal, remote),
        }
    }

    fn allocate_port<R: Rng>(&mut self, internal: SocketAddr, rng: &mut R) -> Option<u16> {
        if self.by_port.len() >= 64_000 {
            return None;
        }
        let free = |p: u16, s: &Self| p >= 1024 && !s.by_port.contains_key(&p);
        match self.config.port_assignment {
            PortAssignment::Preserve if free(internal.port(), self) => Some(internal.port()),
            PortAssignment::Sequential => {
                for _ in 0..=u16::MAX {
                    let p = self.next_sequential;
                    self.next_sequential = if p == u16::MAX { 1024 } else { p + 1 };
                    if free(p, self) {
                        return Some(p);
                    }
                }
                None
            }
            _ => {
                for _ in 0..1000 {
                    let p = rng.gen_range(1024..=u16::MAX);
                    if free(p, self) {
                        return Some(p);
                    }
                }
                (1024..=u16::MAX).find(|p| free(*p, self))
            }
        }
    }

    /// Translates an outbound datagram from `internal` to `remote`: returns the
    /// external source address to use, creating or refreshing the mapping.
    pub(crate) fn outbound<R: Rng>(
        &mut self,
        now: Instant,
        internal: SocketAddr,
        remote: SocketAddr,
        rng: &mut R,
    ) -> Result<SocketAddr, NatDrop> {
        if internal.is_ipv4() != self.external.is_ipv4() {
            return Err(NatDrop::FamilyMismatch);
        }
        if self.config.one_to_one == Some(internal.ip()) {
            return Ok(SocketAddr::new(self.external, internal.port()));
        }
        let key = self.key_for(internal, remote);
        if let Some(port) = self.by_key.get(&key).copied() {
            let expired = self.by_port.get(&port).is_none_or(|e| self.expired(e, now));
            if expired {
                self.remove_port(port);
            }
        }
        let port = match self.by_key.get(&key).copied() {
            Some(p) => p,
            None => {
                let p = self
                    .allocate_port(internal, rng)
                    .ok_or(NatDrop::PortsExhausted)?;
                self.by_key.insert(key, p);
                self.by_port.insert(
                    p,
                    Entry {
                        internal,
                        external_port: p,
                        last_used: now,
                        contacted: BTreeMap::new(),
                        key,
                    },
                );
                p
            }
        };
        if let Some(e) = self.by_port.get_mut(&port) {
            e.last_used = now;
            // Bound the filter state: a mapping that talked to many peers
            // simply forgets the oldest ones.
            if e.contacted.len() >= 4096 {
                e.contacted.pop_first();
            }
            e.contacted.insert(remote, now);
            Ok(SocketAddr::new(self.external, e.external_port))
        } else {
            Err(NatDrop::NoMapping)
        }
    }

    /// Translates an inbound datagram from `remote` to the external port
    /// `port`: returns the internal destination if mapping and filtering allow.
    pub(crate) fn inbound(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        port: u16,
    ) -> Result<SocketAddr, NatDrop> {
        let expired = match self.by_port.get(&port) {
            None => {
                return match self.config.one_to_one {
                    Some(ip) => Ok(SocketAddr::new(ip, port)),
                    None => Err(NatDrop::NoMapping),
                };
            }
            Some(e) => self.expired(e, now),
        };
        if expired {
            self.remove_port(port);
            return Err(NatDrop::NoMapping);
        }
        let filtering = self.config.filtering;
        let refresh = self.config.inbound_refresh;
        let timeout = self.config.mapping_timeout;
        let e = self.by_port.get_mut(&port).ok_or(NatDrop::NoMapping)?;
        let live = |t: &Instant| now.saturating_duration_since(*t) <= timeout;
        let allowed = match filtering {
            Filtering::EndpointIndependent => true,
            Filtering::AddressDependent => e
                .contacted
                .iter()
                .any(|(c, t)| c.ip() == remote.ip() && live(t)),
            Filtering::AddressAndPortDependent => e.contacted.get(&remote).is_some_and(live),
        };
        if !allowed {
            return Err(NatDrop::Filtered);
        }
        if refresh {
            e.last_used = now;
        }
        Ok(e.internal)
    }

    /// Handles a datagram from an internal host to the NAT's own external
    /// address (RFC 4787 §6): translated source, internal destination.
    pub(crate) fn hairpin<R: Rng>(
        &mut self,
        now: Instant,
        internal: SocketAddr,
        destination: SocketAddr,
        rng: &mut R,
    ) -> Result<(SocketAddr, SocketAddr), NatDrop> {
        if !self.config.hairpinning {
            return Err(NatDrop::HairpinDisabled);
        }
        let source = self.outbound(now, internal, destination, rng)?;
        let to = self.inbound(now, source, destination.port())?;
        Ok((source, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn eim_reuses_mapping_apdm_does_not() {
        let mut rng = StdRng::seed_from_u64(3);
        let now = Instant::now();
        let int = sa("10.0.0.2:5000");
        let mut eim = Nat::new(
            "1.1.1.1".parse().unwrap(),
            NatConfig::port_restricted_cone(),
        );
        let a = eim.outbound(now, int, sa("2.2.2.2:1"), &mut rng).unwrap();
        let b = eim.outbound(now, int, sa("3.3.3.3:1"), &mut rng).unwrap();
        assert_eq!(a, b);
        let mut sym = Nat::new("1.1.1.1".parse().unwrap(), NatConfig::symmetric());
        let a = sym.outbound(now, int, sa("2.2.2.2:1"), &mut rng).unwrap();
        let b = sym.outbound(now, int, sa("2.2.2.2:2"), &mut rng).unwrap();
        assert_ne!(a, b);
        let mut adm = Nat::new(
            "1.1.1.1".parse().unwrap(),
            NatConfig::new(Mapping::AddressDependent, Filtering::AddressDependent),
        );
        let a = adm.outbound(now, int, sa("2.2.2.2:1"), &mut rng).unwrap();
        let b = adm.outbound(now, int, sa("2.2.2.2:2"), &mut rng).unwrap();
        let c = adm.outbound(now, int, sa("3.3.3.3:2"), &mut rng).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn one_to_one_forwards_every_port_unsolicited() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        let vm: IpAddr = "10.0.0.5".parse().unwrap();
        let mut nat = Nat::new("203.0.113.5".parse().unwrap(), NatConfig::one_to_one(vm));
        // Inbound first, from anyone, to any port: forwarded as is.
        assert_eq!(
            nat.inbound(now, sa("198.51.100.9:4000"), 3478),
            Ok(sa("10.0.0.5:3478"))
        );
        // Outbound keeps the port.
        assert_eq!(
            nat.outbound(now, sa("10.0.0.5:3478"), sa("198.51.100.9:4000"), &mut rng),
            Ok(sa("203.0.113.5:3478"))
        );
        // Another host behind it is mapped as by a full cone.
        let other = nat.outbound(now, sa("10.0.0.6:5000"), sa("198.51.100.9:4000"), &mut rng);
        let other = other.unwrap();
        assert_eq!(
            nat.inbound(now, sa("198.51.100.8:1"), other.port()),
            Ok(sa("10.0.0.6:5000"))
        );
    }

    #[test]
    fn filtering_kinds() {
        let mut rng = StdRng::seed_from_u64(3);
        let now = Instant::now();
        let int = sa("10.0.0.2:5000");
        for (f, same_ip_other_port, other_ip) in [
            (Filtering::EndpointIndependent, true, true),
            (Filtering::AddressDependent, true, false),
            (Filtering::AddressAndPortDependent, false, false),
        ] {
            let mut nat = Nat::new(
                "1.1.1.1".parse().unwrap(),
                NatConfig::new(Mapping::EndpointIndependent, f),
            );
            let ext = nat.outbound(now, int, sa("2.2.2.2:1"), &mut rng).unwrap();
            assert_eq!(nat.inbound(now, sa("2.2.2.2:1"), ext.port()), Ok(int));
            assert_eq!(
                nat.inbound(now, sa("2.2.2.2:9"), ext.port()).is_ok(),
                same_ip_other_port
            );
            assert_eq!(
                nat.inbound(now, sa("4.4.4.4:1"), ext.port()).is_ok(),
                other_ip
            );
        }
    }

    #[test]
    fn mappings_expire_and_outbound_refreshes() {
        let mut rng = StdRng::seed_from_u64(3);
        let t0 = Instant::now();
        let int = sa("10.0.0.2:5000");
        let cfg = NatConfig::full_cone().with_mapping_timeout(Duration::from_secs(30));
        let mut nat = Nat::new("1.1.1.1".parse().unwrap(), cfg);
        let ext = nat.outbound(t0, int, sa("2.2.2.2:1"), &mut rng).unwrap();
        let t1 = t0 + Duration::from_secs(20);
        nat.outbound(t1, int, sa("2.2.2.2:1"), &mut rng).unwrap();
        assert!(nat
            .inbound(t0 + Duration::from_secs(45), sa("9.9.9.9:1"), ext.port())
            .is_ok());
        assert_eq!(
            nat.inbound(t0 + Duration::from_secs(51), sa("9.9.9.9:1"), ext.port()),
            Err(NatDrop::NoMapping)
        );
        assert_eq!(nat.mapping_count(t0 + Duration::from_secs(51)), 0);
    }

    #[test]
    fn port_preservation_and_sequential() {
        let mut rng = StdRng::seed_from_u64(3);
        let now = Instant::now();
        let mut nat = Nat::new(
            "1.1.1.1".parse().unwrap(),
            NatConfig::full_cone().with_port_assignment(PortAssignment::Preserve),
        );
        let e = nat
            .outbound(now, sa("10.0.0.2:5000"), sa("2.2.2.2:1"), &mut rng)
            .unwrap();
        assert_eq!(e.port(), 5000);
        let e2 = nat
            .outbound(now, sa("10.0.0.3:5000"), sa("2.2.2.2:1"), &mut rng)
            .unwrap();
        assert_ne!(e2.port(), 5000);
        let mut seq = Nat::new(
            "1.1.1.1".parse().unwrap(),
            NatConfig::symmetric().with_port_assignment(PortAssignment::Sequential),
        );
        let a = seq
            .outbound(now, sa("10.0.0.2:1"), sa("2.2.2.2:1"), &mut rng)
            .unwrap();
        let b = seq
            .outbound(now, sa("10.0.0.2:1"), sa("2.2.2.2:2"), &mut rng)
            .unwrap();
        assert_eq!((a.port(), b.port()), (49152, 49153));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn mapping() -> impl Strategy<Value = Mapping> {
        prop_oneof![
            Just(Mapping::EndpointIndependent),
            Just(Mapping::AddressDependent),
            Just(Mapping::AddressAndPortDependent)
        ]
    }

    fn filtering() -> impl Strategy<Value = Filtering> {
        prop_oneof![
            Just(Filtering::EndpointIndependent),
            Just(Filtering::AddressDependent),
            Just(Filtering::AddressAndPortDependent)
        ]
    }

    /// (is_outbound, internal host 0..3, remote ip 0..3, remote port 0..3, ms later)
    fn ops() -> impl Strategy<Value = Vec<(bool, u8, u8, u8, u16)>> {
        proptest::collection::vec((any::<bool>(), 0u8..3, 0u8..3, 0u8..3, 0u16..20_000), 1..60)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever the traffic, a NAT keeps RFC 4787's promises: mappings are
        /// reused exactly as the mapping behaviour says while alive, and an
        /// inbound datagram only gets in from an endpoint the filtering allows.
        #[test]
        fn mapping_and_filtering_invariants(m in mapping(), f in filtering(), ops in ops(), seed: u64) {
            let mut rng = StdRng::seed_from_u64(seed);
            let cfg = NatConfig::new(m, f).with_mapping_timeout(Duration::from_secs(30));
            let mut nat = Nat::new("203.0.113.1".parse().unwrap(), cfg);
            let mut now = Instant::now();
            // Model: (internal, remote, external port, time) of outbound sends.
            let mut sent: Vec<(SocketAddr, SocketAddr, u16, Instant)> = Vec::new();
            for (out, h, ip, port, dt) in ops {
                now += Duration::from_millis(u64::from(dt));
                let internal = SocketAddr::new([10, 0, 0, h + 1].into(), 5000);
                let remote = SocketAddr::new([198, 51, 100, ip + 1].into(), 1000 + u16::from(port));
                let alive = |t: &Instant| now.saturating_duration_since(*t) <= Duration::from_secs(30);
                if out {
                    let ext = nat.outbound(now, internal, remote, &mut rng).unwrap();
                    // Reuse: an earlier live mapping with the same key must be kept.
                    for (i, r, p, t) in sent.iter().rev() {
                        let same_key = *i == internal && match m {
                            Mapping::EndpointIndependent => true,
                            Mapping::AddressDependent => r.ip() == remote.ip(),
                            Mapping::AddressAndPortDependent => *r == remote,
                        };
                        if same_key {
                            if alive(t) { prop_assert_eq!(ext.port(), *p); }
                            break;
                        }
                    }
                    sent.push((internal, remote, ext.port(), now));
                } else {
                    // Inbound to the port of the most recent send of host h.
                    let Some(&(i, _, p, _)) = sent.iter().rev().find(|s| s.0 == internal) else { continue };
                    if let Ok(to) = nat.inbound(now, remote, p) {
                        prop_assert_eq!(to, i);
                        // Some live send through that port must permit the remote.
                        let ok = sent.iter().any(|(si, r, sp, t)| {
                            *si == i && *sp == p && match f {
                                Filtering::EndpointIndependent => true,
                                Filtering::AddressDependent => r.ip() == remote.ip(),
                                Filtering::AddressAndPortDependent => *r == remote,
                            } && (alive(t) || f == Filtering::EndpointIndependent)
                        });
                        prop_assert!(ok, "{:?}/{:?} let {} in", m, f, remote);
                    }
                }
            }
        }
    }
}
