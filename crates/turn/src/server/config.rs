//! What a server is configured with: transports, 5-tuples, the peer policy
//! and the server configuration.

use super::*;

/// The transport between client and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportProtocol {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl TransportProtocol {
    /// True for TCP and TLS, where ChannelData is padded (RFC 8656 §12.5).
    pub fn is_stream(self) -> bool {
        !matches!(self, TransportProtocol::Udp)
    }
}

/// The 5-tuple identifying an allocation (RFC 8656 §2): client address,
/// server address and transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FiveTuple {
    /// The client's transport address (as seen by the server).
    pub client: SocketAddr,
    /// The server's transport address the client talks to.
    pub server: SocketAddr,
    /// UDP, TCP or TLS.
    pub protocol: TransportProtocol,
}

/// Which peer addresses the relay may reach. By default loopback, private
/// (RFC 1918, RFC 4193, CGNAT 100.64/10), link-local, unspecified,
/// multicast and broadcast are denied, so that the relay cannot be turned
/// against internal networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerPolicy {
    /// Allow 127.0.0.0/8 and ::1 (tests, interop on loopback).
    pub allow_loopback: bool,
    /// Allow 10/8, 172.16/12, 192.168/16, 100.64/10 and fc00::/7.
    pub allow_private: bool,
    /// Allow 169.254/16 and fe80::/10.
    pub allow_link_local: bool,
    /// Addresses denied whatever the flags say.
    pub denied: Vec<IpAddr>,
}

impl PeerPolicy {
    /// A policy that allows everything but unspecified, multicast and broadcast.
    pub fn allow_all() -> Self {
        PeerPolicy {
            allow_loopback: true,
            allow_private: true,
            allow_link_local: true,
            denied: Vec::new(),
        }
    }

    /// True if the relay may exchange data with `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        if self.denied.contains(&ip) || ip.is_unspecified() || ip.is_multicast() {
            return false;
        }
        match ip {
            IpAddr::V4(a) => {
                if a == Ipv4Addr::BROADCAST {
                    return false;
                }
                let o = a.octets();
                let private = a.is_private() || (o[0] == 100 && (o[1] & 0xC0) == 64);
                (self.allow_loopback || !a.is_loopback())
                    && (self.allow_private || !private)
                    && (self.allow_link_local || !a.is_link_local())
            }
            IpAddr::V6(a) => {
                if let Some(v4) = a.to_ipv4_mapped() {
                    return self.permits(IpAddr::V4(v4));
                }
                let s = a.segments();
                let unique_local = s[0] & 0xFE00 == 0xFC00;
                let link_local = s[0] & 0xFFC0 == 0xFE80;
                (self.allow_loopback || a != Ipv6Addr::LOCALHOST)
                    && (self.allow_private || !unique_local)
                    && (self.allow_link_local || !link_local)
            }
        }
    }
}

/// Server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The long-term credential realm.
    pub realm: String,
    /// Static long-term users: name → password.
    pub users: HashMap<String, String>,
    /// Shared secret for time-limited credentials (`expiry:user` user names,
    /// password = base64(HMAC-SHA1(secret, username))).
    pub auth_secret: Option<String>,
    /// Unix time (seconds) at the `now` given to [`Server::new`]; time-limited
    /// user names are checked against it.
    pub unix_time_at_start: u64,
    /// SOFTWARE in responses.
    pub software: Option<String>,
    /// How long a nonce stays valid before a 438.
    pub nonce_lifetime: Duration,
    /// Lifetime when the client asks for less or nothing (RFC 8656 §7.2: 10 minutes).
    pub default_lifetime: Duration,
    /// Longest lifetime granted.
    pub max_lifetime: Duration,
    /// Allocations at once, all users.
    pub max_allocations: usize,
    /// Allocations at once per user name.
    pub max_allocations_per_user: usize,
    /// Permissions per allocation.
    pub max_permissions: usize,
    /// Channels per allocation.
    pub max_channels: usize,
    /// Relayed bytes per second per allocation, each direction counted; `None` for no limit.
    pub bandwidth_limit: Option<u64>,
    /// Which peers the relay may reach.
    pub peer_policy: PeerPolicy,
    /// Offer SHA-256 long-term keys (PASSWORD-ALGORITHMS, RFC 8489 §9.2.1).
    pub offer_sha256: bool,
    /// IP of relayed addresses (used by the default [`PortPool`]); its
    /// family is the one allocated when the client names none.
    pub relay_ip: IpAddr,
    /// An IPv6 relay address beside an IPv4 `relay_ip`, for
    /// REQUESTED-ADDRESS-FAMILY IPv6 and dual allocations (RFC 8656 §7.2).
    pub relay_ip_v6: Option<IpAddr>,
    /// Port range of relayed addresses (used by the default [`PortPool`]).
    pub relay_ports: (u16, u16),
}

impl ServerConfig {
    /// Defaults: realm `realm`, no users, 10-minute default and 1-hour
    /// maximum lifetimes, 10-minute nonces, 10,000 allocations, 10 per user,
    /// the restrictive peer policy.
    pub fn new(realm: &str, relay_ip: IpAddr) -> Self {
        ServerConfig {
            realm: realm.to_owned(),
            users: HashMap::new(),
            auth_secret: None,
            unix_time_at_start: 0,
            software: None,
            nonce_lifetime: Duration::from_secs(600),
            default_lifetime: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
            max_allocations: 10_000,
            max_allocations_per_user: 10,
            max_permissions: 64,
            max_channels: 64,
            bandwidth_limit: None,
            peer_policy: PeerPolicy::default(),
            offer_sha256: true,
            relay_ip,
            relay_ip_v6: None,
            relay_ports: (49152, 65535),
        }
    }

    /// Also relay over IPv6 from `ip` (see [`ServerConfig::relay_ip_v6`]).
    pub fn with_relay_ip_v6(mut self, ip: IpAddr) -> Self {
        self.relay_ip_v6 = Some(ip);
        self
    }

    /// True when relayed addresses of this family can be allocated.
    pub fn supports_family(&self, ipv6: bool) -> bool {
        if ipv6 {
            self.relay_ip.is_ipv6() || self.relay_ip_v6.is_some_and(|ip| ip.is_ipv6())
        } else {
            self.relay_ip.is_ipv4()
        }
    }

    /// Add a long-term user.
    pub fn with_user(mut self, name: &str, password: &str) -> Self {
        self.users.insert(name.to_owned(), password.to_owned());
        self
    }
}
