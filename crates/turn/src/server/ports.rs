//! Relayed transport addresses: the allocator trait and the default port
//! pool.

use super::*;

/// Hands out relayed transport addresses. The default [`PortPool`] picks
/// ports from a range; a shell may bind real sockets instead.
pub trait RelayAllocator: Send {
    /// A relayed address of the given family (`ipv6 == false` for IPv4), with
    /// an even port if asked; `None` when none is left.
    fn allocate(&mut self, ipv6: bool, even_port: bool) -> Option<SocketAddr>;
    /// Give back an address from [`RelayAllocator::allocate`].
    fn release(&mut self, relayed: SocketAddr);
}

/// Ports of one IP handed out from a range.
#[derive(Debug, Clone)]
struct PortRange {
    ip: IpAddr,
    next: u16,
    used: HashSet<u16>,
}

/// A [`RelayAllocator`] handing out ports from a range on one IPv4 and/or
/// one IPv6 address.
#[derive(Debug, Clone)]
pub struct PortPool {
    min: u16,
    max: u16,
    /// Index 0: IPv4, 1: IPv6.
    families: [Option<PortRange>; 2],
}

impl PortPool {
    /// Ports `min..=max` on `ip`.
    pub fn new(ip: IpAddr, min: u16, max: u16) -> Self {
        let mut pool = PortPool {
            min,
            max: max.max(min),
            families: [None, None],
        };
        pool.add_ip(ip);
        pool
    }

    /// Also hand out ports on `ip` (replacing the address of its family).
    pub fn with_ip(mut self, ip: IpAddr) -> Self {
        self.add_ip(ip);
        self
    }

    fn add_ip(&mut self, ip: IpAddr) {
        self.families[usize::from(ip.is_ipv6())] = Some(PortRange {
            ip,
            next: self.min,
            used: HashSet::new(),
        });
    }
}

impl RelayAllocator for PortPool {
    fn allocate(&mut self, ipv6: bool, even_port: bool) -> Option<SocketAddr> {
        let (min, max) = (self.min, self.max);
        let r = self.families[usize::from(ipv6)].as_mut()?;
        let span = u32::from(max - min) + 1;
        for _ in 0..span {
            let p = r.next;
            r.next = if r.next >= max { min } else { r.next + 1 };
            if (even_port && p % 2 == 1) || r.used.contains(&p) {
                continue;
            }
            r.used.insert(p);
            return Some(SocketAddr::new(r.ip, p));
        }
        None
    }

    fn release(&mut self, relayed: SocketAddr) {
        if let Some(r) = &mut self.families[usize::from(relayed.is_ipv6())] {
            if r.ip == relayed.ip() {
                r.used.remove(&relayed.port());
            }
        }
    }
}

/// The relayed transport addresses of one allocation: one of either
/// family, or both for a dual allocation (RFC 8656 §7.2, ADDITIONAL-ADDRESS-FAMILY).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RelayedAddresses {
    /// The IPv4 relayed address.
    pub ipv4: Option<SocketAddr>,
    /// The IPv6 relayed address.
    pub ipv6: Option<SocketAddr>,
}

impl RelayedAddresses {
    /// The relayed address that talks to `peer` (same family), if any.
    pub fn for_peer(&self, peer: SocketAddr) -> Option<SocketAddr> {
        if peer.is_ipv4() {
            self.ipv4
        } else {
            self.ipv6
        }
    }

    /// Every relayed address, IPv4 first.
    pub fn iter(&self) -> impl Iterator<Item = SocketAddr> {
        self.ipv4.into_iter().chain(self.ipv6)
    }

    /// The first relayed address (IPv4 when there is one).
    pub fn first(&self) -> Option<SocketAddr> {
        self.ipv4.or(self.ipv6)
    }

    pub(super) fn set(&mut self, a: SocketAddr) {
        if a.is_ipv4() {
            self.ipv4 = Some(a);
        } else {
            self.ipv6 = Some(a);
        }
    }
}
