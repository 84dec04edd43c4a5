//! Host candidates from every interface, for a socket bound to the
//! unspecified address (0.0.0.0 or [::]).
//!
//! One socket serves every interface: it is bound to the unspecified
//! address, learns each datagram's destination address from the kernel
//! (`IP_PKTINFO` / `IPV6_RECVPKTINFO`, through quinn-udp) and sets each
//! datagram's source address the same way, so a check answered on
//! 198.18.2.1 leaves from 198.18.2.1 (RFC 8445 §7.2.5.2.1 wants the
//! response from where the request went). libwebrtc binds one socket per
//! interface address instead; with one socket the port is the same on every
//! interface (one port to open in a firewall) and a connection holds one
//! socket per family, not one per address.

use std::net::{IpAddr, SocketAddr};

/// Most host candidates gathered from one unspecified bind.
pub(crate) const MAX_INTERFACE_ADDRESSES: usize = 16;

/// One address of a local interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InterfaceAddr {
    /// The address.
    pub(crate) ip: IpAddr,
    /// The interface's operational state is not down (dummy and tunnel
    /// interfaces report "unknown": those count as up).
    pub(crate) up: bool,
}

/// Every interface address of this host, or none if they cannot be read.
pub(crate) fn local_interfaces() -> Vec<InterfaceAddr> {
    use if_addrs::IfOperStatus;
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| InterfaceAddr {
            ip: i.ip(),
            up: !matches!(
                i.oper_status,
                IfOperStatus::Down | IfOperStatus::NotPresent | IfOperStatus::LowerLayerDown
            ),
        })
        .collect()
}

/// Loopback or link-local (169.254/16, fe80::/10): used only when asked,
/// or when the family has nothing else, as libwebrtc does.
fn is_local_only(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_loopback() || a.is_link_local(),
        IpAddr::V6(a) => a.is_loopback() || a.is_unicast_link_local(),
    }
}

/// Never a candidate: unspecified, multicast, or an IPv4-mapped IPv6
/// address (the IPv4 socket has that one).
fn is_unusable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_unspecified() || a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_unspecified() || a.is_multicast() || a.to_ipv4_mapped().is_some(),
    }
}

/// The host candidates of sockets bound to `binds`: a socket bound to one
/// address is that candidate; one bound to the unspecified address gives
/// one per usable interface address of its family, with its port, at most
/// [`MAX_INTERFACE_ADDRESSES`] each, in interface order. Loopback and
/// link-local addresses come from those only if `local_only_too`, or if
/// no other address came from any socket (libwebrtc's rule), and after the
/// others (they rank lower).
pub(crate) fn host_candidates(
    binds: &[SocketAddr],
    interfaces: &[InterfaceAddr],
    local_only_too: bool,
) -> Vec<SocketAddr> {
    let mut explicit = Vec::new();
    let mut routable = Vec::new();
    let mut local_only = Vec::new();
    for bound in binds {
        if !bound.ip().is_unspecified() {
            explicit.push(*bound);
            continue;
        }
        let mut n = 0;
        for i in interfaces {
            if !i.up || i.ip.is_ipv4() != bound.is_ipv4() || is_unusable(i.ip) {
                continue;
            }
            let addr = SocketAddr::new(i.ip, bound.port());
            let list = if is_local_only(i.ip) {
                &mut local_only
            } else {
                &mut routable
            };
            if !list.contains(&addr) && n < MAX_INTERFACE_ADDRESSES {
                list.push(addr);
                n += 1;
            }
        }
    }
    let mut all = explicit;
    let none_else = all.is_empty() && routable.is_empty();
    all.extend(routable);
    if local_only_too || none_else {
        all.extend(local_only);
    }
    let mut unique = Vec::with_capacity(all.len());
    for a in all {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(ips: &[&str]) -> Vec<InterfaceAddr> {
        ips.iter()
            .map(|s| InterfaceAddr {
                ip: s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                up: true,
            })
            .collect()
    }

    fn addrs(v: &[SocketAddr]) -> Vec<String> {
        v.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_specific_bind_is_its_own_candidate() {
        let ifs = up(&["198.18.0.1", "198.18.0.2"]);
        let b: SocketAddr = "198.18.0.2:5000".parse().unwrap_or(([0; 4], 0).into());
        assert_eq!(host_candidates(&[b], &ifs, false), vec![b]);
    }

    #[test]
    fn unspecified_bind_gathers_each_routable_address_of_its_family() {
        let ifs = up(&[
            "127.0.0.1",
            "198.18.0.1",
            "::1",
            "169.254.3.4",
            "198.18.1.1",
            "fe80::1",
            "2001:db8::1",
            "198.18.0.1",
            "::ffff:198.18.0.9",
        ]);
        let v4: SocketAddr = ([0, 0, 0, 0], 4000).into();
        let v6: SocketAddr = "[::]:4001".parse().unwrap_or(v4);
        assert_eq!(
            addrs(&host_candidates(&[v4], &ifs, false)),
            ["198.18.0.1:4000", "198.18.1.1:4000"]
        );
        assert_eq!(
            addrs(&host_candidates(&[v4, v6], &ifs, false)),
            ["198.18.0.1:4000", "198.18.1.1:4000", "[2001:db8::1]:4001"]
        );
        // Asked for: loopback and link-local too, after the others.
        assert_eq!(
            addrs(&host_candidates(&[v4], &ifs, true)),
            [
                "198.18.0.1:4000",
                "198.18.1.1:4000",
                "127.0.0.1:4000",
                "169.254.3.4:4000"
            ]
        );
    }

    #[test]
    fn loopback_only_when_nothing_else_and_down_interfaces_skipped() {
        let mut ifs = up(&["127.0.0.1", "::1", "198.18.0.1"]);
        if let Some(i) = ifs.last_mut() {
            i.up = false;
        }
        let v4: SocketAddr = ([0, 0, 0, 0], 4000).into();
        let v6: SocketAddr = "[::]:4000".parse().unwrap_or(v4);
        // Nothing else anywhere: loopback of both families.
        assert_eq!(
            addrs(&host_candidates(&[v4, v6], &ifs, false)),
            ["127.0.0.1:4000", "[::1]:4000"]
        );
        assert!(host_candidates(&[v4], &[], false).is_empty());
        // An IPv4 address elsewhere: no IPv6 loopback either.
        let ifs = up(&["127.0.0.1", "::1", "198.18.0.1"]);
        assert_eq!(
            addrs(&host_candidates(&[v4, v6], &ifs, false)),
            ["198.18.0.1:4000"]
        );
        // A socket bound to loopback explicitly is kept, and then counts
        // as another address.
        let lo: SocketAddr = ([127, 0, 0, 1], 5000).into();
        assert_eq!(
            addrs(&host_candidates(&[lo, v6], &ifs, false)),
            ["127.0.0.1:5000"]
        );
    }

    #[test]
    fn candidates_are_bounded() {
        let many: Vec<String> = (1..=40).map(|i| format!("198.18.0.{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let v4: SocketAddr = ([0, 0, 0, 0], 4000).into();
        assert_eq!(
            host_candidates(&[v4], &up(&refs), false).len(),
            MAX_INTERFACE_ADDRESSES
        );
    }
}
