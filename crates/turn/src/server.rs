//! The sans-IO TURN server core (RFC 8656 §5–§12): allocations keyed by
//! 5-tuple, long-term and time-limited credentials, stateless nonces,
//! permissions, channels, lifetimes, quotas, bandwidth limits and a
//! peer-address policy. Sockets belong to the shell (fulmar-turnd).

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use fulmar_stun::attributes::{
    AdditionalAddressFamily, AddressErrorCode, AddressFamily, AttributeType, ChannelNumber, Data,
    ErrorCode, EvenPort, Lifetime, Nonce, PasswordAlgorithm, PasswordAlgorithmId,
    PasswordAlgorithms, Realm, RequestedAddressFamily, RequestedTransport, ReservationToken,
    SecurityFeatures, Software, UnknownAttributes, Username, XorMappedAddress, XorPeerAddress,
    XorRelayedAddress,
};
use fulmar_stun::channel_data::{self, ChannelData, ChannelRange};
use fulmar_stun::{
    classify_in, Attribute, Class, IntegrityKey, Message, MessageBuilder, Method, PacketKind,
    TransactionId, HEADER_LEN,
};
use rand_core::RngCore;

use crate::auth::{time_limited_expiry, time_limited_password, NonceCheck, NonceMaker, OFFERED};

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

    fn set(&mut self, a: SocketAddr) {
        if a.is_ipv4() {
            self.ipv4 = Some(a);
        } else {
            self.ipv6 = Some(a);
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

/// A message for a client, or for a peer from an allocation's relayed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTransmit {
    /// The client's 5-tuple.
    pub five_tuple: FiveTuple,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// What the shell must know about allocations.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// An allocation was created: start relaying on `relayed`.
    AllocationCreated {
        /// The client's 5-tuple.
        five_tuple: FiveTuple,
        /// Its relayed transport addresses (two for a dual allocation).
        relayed: RelayedAddresses,
        /// The authenticated user name.
        username: String,
    },
    /// An allocation was deleted (by the client) or expired: stop relaying on `relayed`.
    AllocationDeleted {
        /// The client's 5-tuple.
        five_tuple: FiveTuple,
        /// Its relayed transport addresses.
        relayed: RelayedAddresses,
        /// True when it expired rather than being deleted.
        expired: bool,
    },
}

/// Data the shell must send to a peer from a relayed address, borrowed from
/// the client's datagram (no copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayToPeer<'a> {
    /// The allocation's relayed address to send from.
    pub relayed: SocketAddr,
    /// The peer.
    pub peer: SocketAddr,
    /// The application data.
    pub data: &'a [u8],
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// STUN requests received (all methods).
    pub requests: u64,
    /// Binding requests answered.
    pub binding_requests: u64,
    /// Allocations created.
    pub allocations_created: u64,
    /// Allocations deleted by their client.
    pub allocations_deleted: u64,
    /// Allocations that expired.
    pub allocations_expired: u64,
    /// Permissions installed (not counting refreshes).
    pub permissions_created: u64,
    /// Channels bound (not counting refreshes).
    pub channels_bound: u64,
    /// 401 challenges to requests without credentials.
    pub challenges: u64,
    /// Requests with wrong or unknown credentials.
    pub auth_failures: u64,
    /// 438 answers.
    pub stale_nonces: u64,
    /// Allocations refused by a quota (486 or 508).
    pub quota_rejections: u64,
    /// Requests naming a peer the policy denies (403).
    pub peer_denied: u64,
    /// Error responses sent (all codes).
    pub error_responses: u64,
    /// Malformed datagrams dropped (bad STUN, bad ChannelData, bad FINGERPRINT).
    pub malformed: u64,
    /// Data dropped for want of an allocation, permission or channel.
    pub dropped_no_permission: u64,
    /// Data dropped by the bandwidth limit.
    pub dropped_bandwidth: u64,
    /// Packets relayed client → peer.
    pub packets_to_peer: u64,
    /// Bytes relayed client → peer (application data).
    pub bytes_to_peer: u64,
    /// Packets relayed peer → client.
    pub packets_to_client: u64,
    /// Bytes relayed peer → client (application data).
    pub bytes_to_client: u64,
}

/// Counts of what exists now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerGauges {
    /// Live allocations.
    pub allocations: usize,
    /// Live permissions, all allocations.
    pub permissions: usize,
    /// Live channel bindings, all allocations.
    pub channels: usize,
}

#[derive(Debug, Clone, Copy)]
struct TokenBucket {
    tokens: u64,
    last: Instant,
}

#[derive(Debug, Clone, Copy)]
struct ChannelBinding {
    peer: SocketAddr,
    expires: Instant,
}

struct Allocation {
    relayed: RelayedAddresses,
    /// ADDRESS-ERROR-CODE of a dual allocation whose IPv6 half failed
    /// (repeated when a retransmitted Allocate is answered).
    family_error: Option<u16>,
    username: Box<str>,
    key: IntegrityKey,
    algorithm: PasswordAlgorithmId,
    allocate_tid: TransactionId,
    lifetime: Duration,
    expires: Instant,
    permissions: HashMap<IpAddr, Instant>,
    channels: HashMap<u16, ChannelBinding>,
    peer_channels: HashMap<SocketAddr, u16>,
    bucket: TokenBucket,
}

/// Permission lifetime (RFC 8656 §9).
const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
/// Channel binding lifetime (RFC 8656 §12).
const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// After a binding expires its number and peer stay reserved this long (RFC 8656 §12).
const CHANNEL_QUARANTINE: Duration = Duration::from_secs(300);
/// Longest USERNAME accepted (RFC 8489 §14.3).
const MAX_USERNAME: usize = 513;
/// Most XOR-PEER-ADDRESS attributes read from one CreatePermission.
const MAX_PEERS_PER_REQUEST: usize = 16;
/// Most responses queued; further requests are dropped.
pub const MAX_QUEUED: usize = 4096;
/// How often expired state is swept.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// Most unknown attributes listed in a 420.
const MAX_UNKNOWN: usize = 16;

/// Who signs a response: nobody (challenges, bad requests before
/// authentication) or the request's key.
type Signer<'k> = Option<&'k IntegrityKey>;

/// The sans-IO TURN server core.
///
/// Feed client datagrams or stream frames to [`Server::handle_client`] and
/// peer datagrams arriving on relayed addresses to [`Server::handle_peer`];
/// send what [`Server::poll_transmit`] returns to clients; act on
/// [`Server::poll_event`] (open or close relay sockets); call
/// [`Server::handle_timeout`] at [`Server::poll_timeout`].
pub struct Server {
    config: ServerConfig,
    epoch: Instant,
    nonces: NonceMaker,
    allocator: Box<dyn RelayAllocator>,
    /// Precomputed keys of static users: (MD5, SHA-256).
    user_keys: HashMap<String, (IntegrityKey, IntegrityKey)>,
    allocations: HashMap<FiveTuple, Allocation>,
    by_relayed: HashMap<SocketAddr, FiveTuple>,
    per_user: HashMap<Box<str>, usize>,
    rng: Box<dyn RngCore + Send>,
    transmits: VecDeque<ServerTransmit>,
    events: VecDeque<ServerEvent>,
    next_sweep: Option<Instant>,
    stats: ServerStats,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("realm", &self.config.realm)
            .field("allocations", &self.allocations.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server whose relayed addresses come from a [`PortPool`] over
    /// `config.relay_ip` and `config.relay_ports`; `now` is its epoch.
    pub fn new(config: ServerConfig, now: Instant, rng: impl RngCore + Send + 'static) -> Self {
        let mut pool = PortPool::new(config.relay_ip, config.relay_ports.0, config.relay_ports.1);
        if let Some(ip6) = config.relay_ip_v6.filter(|ip| ip.is_ipv6()) {
            pool = pool.with_ip(ip6);
        }
        Self::with_allocator(config, now, rng, Box::new(pool))
    }

    /// A server with its own [`RelayAllocator`].
    pub fn with_allocator(
        config: ServerConfig,
        now: Instant,
        rng: impl RngCore + Send + 'static,
        allocator: Box<dyn RelayAllocator>,
    ) -> Self {
        let mut rng: Box<dyn RngCore + Send> = Box::new(rng);
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        let features = config
            .offer_sha256
            .then_some(SecurityFeatures::PASSWORD_ALGORITHMS);
        let user_keys = config
            .users
            .iter()
            .map(|(u, p)| {
                (
                    u.clone(),
                    (
                        IntegrityKey::long_term(u, &config.realm, p, PasswordAlgorithmId::MD5),
                        IntegrityKey::long_term(u, &config.realm, p, PasswordAlgorithmId::SHA256),
                    ),
                )
            })
            .collect();
        Server {
            config,
            epoch: now,
            nonces: NonceMaker::new(secret, features),
            allocator,
            user_keys,
            allocations: HashMap::new(),
            by_relayed: HashMap::new(),
            per_user: HashMap::new(),
            rng,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_sweep: None,
            stats: ServerStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// What exists now (walks every allocation: for metrics scrapes, not per packet).
    pub fn gauges(&self, now: Instant) -> ServerGauges {
        let mut g = ServerGauges {
            allocations: self.allocations.len(),
            ..ServerGauges::default()
        };
        for a in self.allocations.values() {
            g.permissions += a.permissions.values().filter(|&&t| t > now).count();
            g.channels += a.channels.values().filter(|c| c.expires > now).count();
        }
        g
    }

    /// Number of live allocations.
    pub fn allocation_count(&self) -> usize {
        self.allocations.len()
    }

    /// The (first) relayed address of the allocation on `five_tuple`, if any.
    pub fn relayed_address(&self, five_tuple: &FiveTuple) -> Option<SocketAddr> {
        self.allocations
            .get(five_tuple)
            .and_then(|a| a.relayed.first())
    }

    /// All relayed addresses of the allocation on `five_tuple`, if any.
    pub fn relayed_addresses(&self, five_tuple: &FiveTuple) -> Option<RelayedAddresses> {
        self.allocations.get(five_tuple).map(|a| a.relayed)
    }

    /// The 5-tuple owning relayed address `relayed`.
    pub fn five_tuple_of(&self, relayed: SocketAddr) -> Option<FiveTuple> {
        self.by_relayed.get(&relayed).copied()
    }

    fn now_secs(&self, now: Instant) -> u32 {
        u32::try_from(now.saturating_duration_since(self.epoch).as_secs()).unwrap_or(u32::MAX)
    }

    fn unix_now(&self, now: Instant) -> u64 {
        self.config
            .unix_time_at_start
            .saturating_add(now.saturating_duration_since(self.epoch).as_secs())
    }

    /// Handle a datagram (or stream frame) from a client. When it is data for
    /// a peer (a Send indication or ChannelData the allocation may relay), the
    /// data is returned borrowed, to be sent from `relayed` to `peer`;
    /// responses are queued for [`Server::poll_transmit`]. Malformed input is
    /// dropped and counted.
    pub fn handle_client<'a>(
        &mut self,
        now: Instant,
        five_tuple: FiveTuple,
        datagram: &'a [u8],
    ) -> Option<RelayToPeer<'a>> {
        match classify_in(datagram, ChannelRange::Rfc5766) {
            PacketKind::ChannelData => self.client_channel_data(now, five_tuple, datagram),
            PacketKind::Stun => {
                let Ok(msg) = Message::parse(datagram) else {
                    self.stats.malformed += 1;
                    return None;
                };
                if msg.has_fingerprint() && msg.verify_fingerprint().is_err() {
                    self.stats.malformed += 1;
                    return None;
                }
                match msg.class() {
                    Class::Request => {
                        self.stats.requests += 1;
                        if self.transmits.len() >= MAX_QUEUED {
                            return None;
                        }
                        self.handle_request(now, five_tuple, &msg);
                        None
                    }
                    Class::Indication if msg.method() == Method::SEND => {
                        self.send_indication(now, five_tuple, &msg)
                    }
                    _ => {
                        self.stats.malformed += 1;
                        None
                    }
                }
            }
            _ => {
                self.stats.malformed += 1;
                None
            }
        }
    }

    fn client_channel_data<'a>(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        datagram: &'a [u8],
    ) -> Option<RelayToPeer<'a>> {
        let Ok(cd) = ChannelData::parse_in(datagram, ChannelRange::Rfc5766) else {
            self.stats.malformed += 1;
            return None;
        };
        let Some(a) = self.allocations.get_mut(&ft).filter(|a| a.expires > now) else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        let Some(binding) = a
            .channels
            .get(&cd.channel_number())
            .filter(|b| b.expires > now)
        else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        let peer = binding.peer;
        let relayed = a.relayed.for_peer(peer)?;
        if !take_tokens(
            &mut a.bucket,
            self.config.bandwidth_limit,
            cd.data().len(),
            now,
        ) {
            self.stats.dropped_bandwidth += 1;
            return None;
        }
        self.stats.packets_to_peer += 1;
        self.stats.bytes_to_peer += cd.data().len() as u64;
        Some(RelayToPeer {
            relayed,
            peer,
            data: cd.data(),
        })
    }

    /// A Send indication (RFC 8656 §10.2).
    fn send_indication<'a>(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'a>,
    ) -> Option<RelayToPeer<'a>> {
        let (Ok(peer), Ok(data)) = (msg.get::<XorPeerAddress>(), msg.get::<Data>()) else {
            self.stats.malformed += 1;
            return None;
        };
        let Some(a) = self.allocations.get_mut(&ft).filter(|a| a.expires > now) else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        let relayed = a.relayed.for_peer(peer.0);
        let Some(relayed) =
            relayed.filter(|_| a.permissions.get(&peer.0.ip()).is_some_and(|&t| t > now))
        else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        if !take_tokens(
            &mut a.bucket,
            self.config.bandwidth_limit,
            data.0.len(),
            now,
        ) {
            self.stats.dropped_bandwidth += 1;
            return None;
        }
        self.stats.packets_to_peer += 1;
        self.stats.bytes_to_peer += data.0.len() as u64;
        Some(RelayToPeer {
            relayed,
            peer: peer.0,
            data: data.0,
        })
    }

    /// Handle `data` arriving from `peer` on relayed address `relayed`: write
    /// what goes to the client into `out` (ChannelData when a channel is
    /// bound, else a Data indication; RFC 8656 §10.3, §12.6) and return the
    /// client's 5-tuple and the length, or `None` when the data is dropped
    /// (no permission, over the bandwidth limit, `out` too small). Needs
    /// about `data.len() + 48` bytes of `out`.
    pub fn handle_peer(
        &mut self,
        now: Instant,
        relayed: SocketAddr,
        peer: SocketAddr,
        data: &[u8],
        out: &mut [u8],
    ) -> Option<(FiveTuple, usize)> {
        let Some(&ft) = self.by_relayed.get(&relayed) else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        let Some(a) = self.allocations.get_mut(&ft).filter(|a| a.expires > now) else {
            self.stats.dropped_no_permission += 1;
            return None;
        };
        if a.permissions.get(&peer.ip()).is_none_or(|&t| t <= now) {
            self.stats.dropped_no_permission += 1;
            return None;
        }
        if !take_tokens(&mut a.bucket, self.config.bandwidth_limit, data.len(), now) {
            self.stats.dropped_bandwidth += 1;
            return None;
        }
        let channel = a
            .peer_channels
            .get(&peer)
            .filter(|n| a.channels.get(n).is_some_and(|b| b.expires > now));
        let len = match channel {
            Some(&n) => ChannelData::new_in(n, data, ChannelRange::Rfc5766)
                .and_then(|cd| cd.encode(out, ft.protocol.is_stream()))
                .ok(),
            None => {
                if data.len() > usize::from(u16::MAX) - 64 {
                    None
                } else {
                    let tid = TransactionId::random(&mut *self.rng);
                    let mut b = MessageBuilder::new(out, Class::Indication, Method::DATA, tid);
                    b.add(&XorPeerAddress(peer)).add(&Data(data));
                    b.finish().map(|m| m.len()).ok()
                }
            }
        };
        let Some(len) = len else {
            self.stats.malformed += 1;
            return None;
        };
        self.stats.packets_to_client += 1;
        self.stats.bytes_to_client += data.len() as u64;
        Some((ft, len))
    }

    fn handle_request(&mut self, now: Instant, ft: FiveTuple, msg: &Message<'_>) {
        let method = msg.method();
        if method == Method::BINDING {
            self.stats.binding_requests += 1;
            self.respond(ft, msg, Class::SuccessResponse, None, |b| {
                b.add(&XorMappedAddress(ft.client));
            });
            return;
        }
        if !matches!(
            method,
            Method::ALLOCATE | Method::REFRESH | Method::CREATE_PERMISSION | Method::CHANNEL_BIND
        ) {
            self.error(ft, msg, ErrorCode::BAD_REQUEST, None);
            return;
        }
        let Some((key, algorithm, username)) = self.authenticate(now, ft, msg) else {
            return;
        };
        let mut unknown = [AttributeType(0); MAX_UNKNOWN];
        let mut n = 0;
        for t in msg.unknown_comprehension_required() {
            if n < MAX_UNKNOWN {
                unknown[n] = t;
                n += 1;
            }
        }
        if n > 0 {
            self.error_with(ft, msg, ErrorCode::UNKNOWN_ATTRIBUTE, Some(&key), |b| {
                b.add(&UnknownAttributes::new(&unknown[..n]));
            });
            return;
        }
        match method {
            Method::ALLOCATE => self.allocate(now, ft, msg, key, algorithm, username),
            Method::REFRESH => self.refresh(now, ft, msg, &key),
            Method::CREATE_PERMISSION => self.create_permission(now, ft, msg, &key),
            _ => self.channel_bind(now, ft, msg, &key),
        }
    }

    /// Long-term credential check (RFC 8489 §9.2.4, RFC 8656 §5). Sends the
    /// error response itself and returns `None` on failure; a request without
    /// credentials gets a 401 and leaves no state.
    fn authenticate(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'_>,
    ) -> Option<(IntegrityKey, PasswordAlgorithmId, String)> {
        if !msg.has_message_integrity() && !msg.has_message_integrity_sha256() {
            self.stats.challenges += 1;
            self.challenge(now, ft, msg, ErrorCode::UNAUTHENTICATED);
            return None;
        }
        let (Ok(user), Ok(realm), Ok(nonce)) = (
            msg.get::<Username>(),
            msg.get::<Realm>(),
            msg.get::<Nonce>(),
        ) else {
            self.error(ft, msg, ErrorCode::BAD_REQUEST, None);
            return None;
        };
        if user.0.len() > MAX_USERNAME || user.0.is_empty() {
            self.error(ft, msg, ErrorCode::BAD_REQUEST, None);
            return None;
        }
        if realm.0 != self.config.realm {
            self.stats.auth_failures += 1;
            self.challenge(now, ft, msg, ErrorCode::UNAUTHENTICATED);
            return None;
        }
        if self.nonces.check(nonce.0, ft.client, self.now_secs(now)) == NonceCheck::Stale {
            self.stats.stale_nonces += 1;
            self.challenge(now, ft, msg, ErrorCode::STALE_NONCE);
            return None;
        }
        // PASSWORD-ALGORITHM must be one we offered, and PASSWORD-ALGORITHMS
        // must repeat our list unchanged (no downgrade, RFC 8489 §9.2.4).
        let algorithm = match msg.get::<PasswordAlgorithm>() {
            Ok(a) => {
                let list_ok = self.config.offer_sha256
                    && msg
                        .get::<PasswordAlgorithms>()
                        .is_ok_and(|l| l.iter().map(|x| x.algorithm).eq(OFFERED));
                if !list_ok || !OFFERED.contains(&a.algorithm) || !a.parameters.is_empty() {
                    self.error(ft, msg, ErrorCode::BAD_REQUEST, None);
                    return None;
                }
                a.algorithm
            }
            Err(_) => PasswordAlgorithmId::MD5,
        };
        // Requests on an existing allocation must use its user name (RFC 8656 §5).
        let key = match self.allocations.get(&ft) {
            Some(a) if a.username.as_ref() != user.0 => {
                self.stats.auth_failures += 1;
                self.error(ft, msg, ErrorCode::WRONG_CREDENTIALS, None);
                return None;
            }
            Some(a) if a.algorithm == algorithm => Some(a.key.clone()),
            _ => self.user_key(now, user.0, algorithm),
        };
        let Some(key) = key else {
            self.stats.auth_failures += 1;
            self.challenge(now, ft, msg, ErrorCode::UNAUTHENTICATED);
            return None;
        };
        if msg.verify_integrity(&key).is_err() {
            self.stats.auth_failures += 1;
            self.challenge(now, ft, msg, ErrorCode::UNAUTHENTICATED);
            return None;
        }
        Some((key, algorithm, user.0.to_owned()))
    }

    fn user_key(
        &self,
        now: Instant,
        username: &str,
        algorithm: PasswordAlgorithmId,
    ) -> Option<IntegrityKey> {
        if let Some((md5, sha256)) = self.user_keys.get(username) {
            return Some(if algorithm == PasswordAlgorithmId::SHA256 {
                sha256.clone()
            } else {
                md5.clone()
            });
        }
        let secret = self.config.auth_secret.as_deref()?;
        let expiry = time_limited_expiry(username)?;
        if expiry < self.unix_now(now) {
            return None;
        }
        let password = time_limited_password(secret, username);
        Some(IntegrityKey::long_term(
            username,
            &self.config.realm,
            &password,
            algorithm,
        ))
    }

    /// A 401 or 438 with REALM, a fresh NONCE and, when offered, PASSWORD-ALGORITHMS.
    fn challenge(&mut self, now: Instant, ft: FiveTuple, msg: &Message<'_>, code: u16) {
        let expiry = self.now_secs(now).saturating_add(
            u32::try_from(self.config.nonce_lifetime.as_secs()).unwrap_or(u32::MAX),
        );
        let nonce = self.nonces.make(expiry, ft.client);
        let realm = self.config.realm.clone();
        let offer = self.config.offer_sha256;
        let algs = [
            PasswordAlgorithm::new(OFFERED[0]),
            PasswordAlgorithm::new(OFFERED[1]),
        ];
        self.error_with(ft, msg, code, None, |b| {
            b.add(&Realm(&realm)).add(&Nonce(&nonce));
            if offer {
                b.add(&PasswordAlgorithms::new(&algs));
            }
        });
    }

    fn error(&mut self, ft: FiveTuple, msg: &Message<'_>, code: u16, key: Signer<'_>) {
        self.error_with(ft, msg, code, key, |_| {});
    }

    fn error_with(
        &mut self,
        ft: FiveTuple,
        msg: &Message<'_>,
        code: u16,
        key: Signer<'_>,
        extra: impl FnOnce(&mut MessageBuilder<'_>),
    ) {
        self.stats.error_responses += 1;
        self.respond(ft, msg, Class::ErrorResponse, key, |b| {
            b.add(&ErrorCode::with_default_reason(code));
            extra(b);
        });
    }

    fn respond(
        &mut self,
        ft: FiveTuple,
        msg: &Message<'_>,
        class: Class,
        key: Signer<'_>,
        body: impl FnOnce(&mut MessageBuilder<'_>),
    ) {
        let mut buf = [0u8; 1024];
        let mut b = MessageBuilder::new(&mut buf, class, msg.method(), msg.transaction_id());
        body(&mut b);
        if let Some(s) = &self.config.software {
            b.add(&Software(s));
        }
        if let Some(k) = key {
            b.add_message_integrity(k);
        }
        b.add_fingerprint();
        if let Ok(bytes) = b.finish() {
            self.transmits.push_back(ServerTransmit {
                five_tuple: ft,
                payload: bytes.to_vec(),
            });
        }
    }

    /// The lifetime granted to an Allocate or Refresh: at most what a
    /// LIFETIME attribute can say (u32 seconds), so that `now + lifetime`
    /// cannot overflow whatever the configured lifetimes are, and the
    /// expiry kept is the one the response announces.
    fn granted_lifetime(&self, msg: &Message<'_>) -> Duration {
        let lifetime = match msg.get::<Lifetime>() {
            Ok(l) if l.duration() > self.config.default_lifetime => {
                l.duration().min(self.config.max_lifetime)
            }
            _ => self.config.default_lifetime,
        };
        lifetime.min(Duration::from_secs(u64::from(u32::MAX)))
    }

    /// Allocate (RFC 8656 §7.2).
    fn allocate(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: IntegrityKey,
        algorithm: PasswordAlgorithmId,
        username: String,
    ) {
        let k = Some(&key);
        if let Some(a) = self.allocations.get(&ft) {
            if a.allocate_tid == msg.transaction_id() {
                // A retransmitted Allocate: answer as before.
                let (relayed, lifetime, family_error) = (a.relayed, a.lifetime, a.family_error);
                self.allocate_success(ft, msg, &key, relayed, lifetime, family_error);
            } else {
                self.error(ft, msg, ErrorCode::ALLOCATION_MISMATCH, k);
            }
            return;
        }
        match msg.get::<RequestedTransport>() {
            Ok(t) if t == RequestedTransport::UDP => {}
            Ok(_) => return self.error(ft, msg, ErrorCode::UNSUPPORTED_TRANSPORT_PROTOCOL, k),
            Err(_) => return self.error(ft, msg, ErrorCode::BAD_REQUEST, k),
        }
        let even = msg.get::<EvenPort>().ok();
        if even.is_some_and(|e| e.reserve) || msg.has(ReservationToken::TYPE) {
            // Port reservations are not offered.
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, k);
        }
        // Address families (RFC 8656 §7.2 steps 7–9): REQUESTED-ADDRESS-FAMILY
        // picks the one family (IPv4 when absent); ADDITIONAL-ADDRESS-FAMILY
        // IPv6 asks for an IPv6 address beside the IPv4 one; both at once,
        // an undecodable value or an additional IPv4 are bad requests.
        let requested = msg.get::<RequestedAddressFamily>();
        let additional = msg.get::<AdditionalAddressFamily>();
        let has_requested = msg.has(RequestedAddressFamily::TYPE);
        let has_additional = msg.has(AdditionalAddressFamily::TYPE);
        if (has_requested && requested.is_err())
            || (has_additional && additional != Ok(AdditionalAddressFamily(AddressFamily::Ipv6)))
            || (has_requested && has_additional)
        {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, k);
        }
        let ipv6 = requested.is_ok_and(|f| f.0 == AddressFamily::Ipv6);
        if !self.config.supports_family(ipv6) {
            return self.error(ft, msg, ErrorCode::ADDRESS_FAMILY_NOT_SUPPORTED, k);
        }
        if self.allocations.len() >= self.config.max_allocations {
            self.stats.quota_rejections += 1;
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, k);
        }
        let count = self.per_user.get(username.as_str()).copied().unwrap_or(0);
        if count >= self.config.max_allocations_per_user {
            self.stats.quota_rejections += 1;
            return self.error(ft, msg, ErrorCode::ALLOCATION_QUOTA_REACHED, k);
        }
        let Some(first) = self.allocator.allocate(ipv6, even.is_some()) else {
            self.stats.quota_rejections += 1;
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, k);
        };
        let mut relayed = RelayedAddresses::default();
        relayed.set(first);
        // A dual allocation whose IPv6 half cannot be had still succeeds with
        // IPv4 and says why in ADDRESS-ERROR-CODE (RFC 8656 §7.2 step 9, §18.12).
        let mut family_error = None;
        if has_additional {
            if !self.config.supports_family(true) {
                family_error = Some(ErrorCode::ADDRESS_FAMILY_NOT_SUPPORTED);
            } else if let Some(second) = self.allocator.allocate(true, false) {
                relayed.set(second);
            } else {
                family_error = Some(ErrorCode::INSUFFICIENT_CAPACITY);
            }
        }
        let lifetime = self.granted_lifetime(msg);
        let username: Box<str> = username.into();
        *self.per_user.entry(username.clone()).or_insert(0) += 1;
        self.allocations.insert(
            ft,
            Allocation {
                relayed,
                family_error,
                username: username.clone(),
                key: key.clone(),
                algorithm,
                allocate_tid: msg.transaction_id(),
                lifetime,
                expires: now + lifetime,
                permissions: HashMap::new(),
                channels: HashMap::new(),
                peer_channels: HashMap::new(),
                bucket: TokenBucket {
                    tokens: self.config.bandwidth_limit.unwrap_or(0),
                    last: now,
                },
            },
        );
        for a in relayed.iter() {
            self.by_relayed.insert(a, ft);
        }
        self.stats.allocations_created += 1;
        self.events.push_back(ServerEvent::AllocationCreated {
            five_tuple: ft,
            relayed,
            username: username.into(),
        });
        self.allocate_success(ft, msg, &key, relayed, lifetime, family_error);
        self.schedule_sweep(now);
    }

    fn allocate_success(
        &mut self,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: &IntegrityKey,
        relayed: RelayedAddresses,
        lifetime: Duration,
        family_error: Option<u16>,
    ) {
        let secs = u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX);
        self.respond(ft, msg, Class::SuccessResponse, Some(key), |b| {
            for a in relayed.iter() {
                b.add(&XorRelayedAddress(a));
            }
            if let Some(code) = family_error {
                b.add(&AddressErrorCode {
                    family: AddressFamily::Ipv6,
                    code,
                    reason: ErrorCode::with_default_reason(code).reason,
                });
            }
            b.add(&Lifetime(secs)).add(&XorMappedAddress(ft.client));
        });
    }

    fn schedule_sweep(&mut self, now: Instant) {
        if self.next_sweep.is_none() {
            self.next_sweep = Some(now + SWEEP_INTERVAL);
        }
    }

    /// Refresh (RFC 8656 §8.2); LIFETIME 0 deletes the allocation.
    ///
    /// A REQUESTED-ADDRESS-FAMILY that names no family of the allocation
    /// gets a 443 (RFC 8656 §8.2); one that does refreshes (or deletes) the
    /// whole allocation.
    fn refresh(&mut self, now: Instant, ft: FiveTuple, msg: &Message<'_>, key: &IntegrityKey) {
        let Some(relayed) = self.allocations.get(&ft).map(|a| a.relayed) else {
            return self.error(ft, msg, ErrorCode::ALLOCATION_MISMATCH, Some(key));
        };
        if msg.has(RequestedAddressFamily::TYPE) {
            let has_family = match msg.get::<RequestedAddressFamily>() {
                Ok(RequestedAddressFamily(AddressFamily::Ipv4)) => relayed.ipv4.is_some(),
                Ok(RequestedAddressFamily(AddressFamily::Ipv6)) => relayed.ipv6.is_some(),
                Err(_) => return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key)),
            };
            if !has_family {
                return self.error(ft, msg, ErrorCode::PEER_ADDRESS_FAMILY_MISMATCH, Some(key));
            }
        }
        let zero = msg.get::<Lifetime>().is_ok_and(|l| l.0 == 0);
        let lifetime = if zero {
            self.delete(ft, false);
            Duration::ZERO
        } else {
            let l = self.granted_lifetime(msg);
            if let Some(a) = self.allocations.get_mut(&ft) {
                a.expires = now + l;
                a.lifetime = l;
            }
            l
        };
        let secs = u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX);
        self.respond(ft, msg, Class::SuccessResponse, Some(key), |b| {
            b.add(&Lifetime(secs));
        });
    }

    /// Checks common to CreatePermission and ChannelBind for one peer:
    /// family (443) and policy (403). Sends the error and returns false.
    fn peer_allowed(
        &mut self,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: &IntegrityKey,
        relayed: RelayedAddresses,
        peer: SocketAddr,
    ) -> bool {
        if relayed.for_peer(peer).is_none() {
            self.error(ft, msg, ErrorCode::PEER_ADDRESS_FAMILY_MISMATCH, Some(key));
            return false;
        }
        if !self.config.peer_policy.permits(peer.ip()) {
            self.stats.peer_denied += 1;
            self.error(ft, msg, ErrorCode::FORBIDDEN, Some(key));
            return false;
        }
        true
    }

    /// CreatePermission (RFC 8656 §9.2): all XOR-PEER-ADDRESS or none.
    fn create_permission(
        &mut self,
        now: Instant,
        ft: FiveTuple,
        msg: &Message<'_>,
        key: &IntegrityKey,
    ) {
        let Some(relayed) = self.allocations.get(&ft).map(|a| a.relayed) else {
            return self.error(ft, msg, ErrorCode::ALLOCATION_MISMATCH, Some(key));
        };
        let tid = msg.transaction_id();
        let mut peers = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); MAX_PEERS_PER_REQUEST];
        let mut n = 0;
        for attr in msg.attributes() {
            if attr.attribute_type != AttributeType::XOR_PEER_ADDRESS {
                continue;
            }
            let Ok(p) = XorPeerAddress::decode(attr.value, &tid) else {
                return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
            };
            if n == MAX_PEERS_PER_REQUEST {
                return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, Some(key));
            }
            if !self.peer_allowed(ft, msg, key, relayed, p.0) {
                return;
            }
            peers[n] = p.0.ip();
            n += 1;
        }
        if n == 0 {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
        }
        let max = self.config.max_permissions;
        let Some(a) = self.allocations.get_mut(&ft) else {
            return;
        };
        let new = peers[..n]
            .iter()
            .filter(|ip| !a.permissions.contains_key(ip))
            .count();
        if a.permissions.len() + new > max {
            a.permissions.retain(|_, t| *t > now);
            if a.permissions.len() + new > max {
                return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, Some(key));
            }
        }
        for ip in &peers[..n] {
            if a.permissions
                .insert(*ip, now + PERMISSION_LIFETIME)
                .is_none()
            {
                self.stats.permissions_created += 1;
            }
        }
        self.respond(ft, msg, Class::SuccessResponse, Some(key), |_| {});
    }

    /// ChannelBind (RFC 8656 §11.2).
    fn channel_bind(&mut self, now: Instant, ft: FiveTuple, msg: &Message<'_>, key: &IntegrityKey) {
        let Some(relayed) = self.allocations.get(&ft).map(|a| a.relayed) else {
            return self.error(ft, msg, ErrorCode::ALLOCATION_MISMATCH, Some(key));
        };
        let (Ok(ChannelNumber(number)), Ok(XorPeerAddress(peer))) =
            (msg.get::<ChannelNumber>(), msg.get::<XorPeerAddress>())
        else {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
        };
        if !ChannelRange::Rfc5766.contains(number) {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
        }
        if !self.peer_allowed(ft, msg, key, relayed, peer) {
            return;
        }
        let (max_ch, max_perm) = (self.config.max_channels, self.config.max_permissions);
        let Some(a) = self.allocations.get_mut(&ft) else {
            return;
        };
        // A number or a peer stays tied to its partner until the binding
        // has been expired for five minutes.
        let number_conflict = a.channels.get(&number).is_some_and(|b| b.peer != peer);
        let peer_conflict = a.peer_channels.get(&peer).is_some_and(|&n| n != number);
        if number_conflict || peer_conflict {
            return self.error(ft, msg, ErrorCode::BAD_REQUEST, Some(key));
        }
        let is_new = !a.channels.contains_key(&number);
        if is_new && a.channels.len() >= max_ch {
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, Some(key));
        }
        if !a.permissions.contains_key(&peer.ip()) && a.permissions.len() >= max_perm {
            return self.error(ft, msg, ErrorCode::INSUFFICIENT_CAPACITY, Some(key));
        }
        a.channels.insert(
            number,
            ChannelBinding {
                peer,
                expires: now + CHANNEL_LIFETIME,
            },
        );
        a.peer_channels.insert(peer, number);
        if a.permissions
            .insert(peer.ip(), now + PERMISSION_LIFETIME)
            .is_none()
        {
            self.stats.permissions_created += 1;
        }
        if is_new {
            self.stats.channels_bound += 1;
        }
        self.respond(ft, msg, Class::SuccessResponse, Some(key), |_| {});
    }

    /// Delete the allocation on `five_tuple` now (for the shell, e.g. when
    /// its relay socket failed or its TCP connection closed).
    pub fn delete_allocation(&mut self, five_tuple: &FiveTuple) -> bool {
        if self.allocations.contains_key(five_tuple) {
            self.delete(*five_tuple, false);
            true
        } else {
            false
        }
    }

    fn delete(&mut self, ft: FiveTuple, expired: bool) {
        let Some(a) = self.allocations.remove(&ft) else {
            return;
        };
        for r in a.relayed.iter() {
            self.by_relayed.remove(&r);
            self.allocator.release(r);
        }
        if let Some(c) = self.per_user.get_mut(&a.username) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.per_user.remove(&a.username);
            }
        }
        if expired {
            self.stats.allocations_expired += 1;
        } else {
            self.stats.allocations_deleted += 1;
        }
        self.events.push_back(ServerEvent::AllocationDeleted {
            five_tuple: ft,
            relayed: a.relayed,
            expired,
        });
    }

    /// Expire allocations, permissions and channel bindings.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_sweep.is_none_or(|t| now < t) {
            return;
        }
        let expired: Vec<FiveTuple> = self
            .allocations
            .iter()
            .filter(|(_, a)| a.expires <= now)
            .map(|(ft, _)| *ft)
            .collect();
        for ft in expired {
            self.delete(ft, true);
        }
        for a in self.allocations.values_mut() {
            a.permissions.retain(|_, t| *t > now);
            let before = a.channels.len();
            a.channels
                .retain(|_, b| b.expires + CHANNEL_QUARANTINE > now);
            if a.channels.len() != before {
                let channels = &a.channels;
                a.peer_channels.retain(|_, n| channels.contains_key(n));
            }
        }
        self.next_sweep = if self.allocations.is_empty() {
            None
        } else {
            Some(now + SWEEP_INTERVAL)
        };
    }

    /// The next response for a client.
    pub fn poll_transmit(&mut self) -> Option<ServerTransmit> {
        self.transmits.pop_front()
    }

    /// The next allocation event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`Server::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_sweep
    }
}

/// Charge `len` bytes to a token bucket refilled at `rate` bytes/s with a
/// one-second burst; false when there are not enough tokens.
fn take_tokens(bucket: &mut TokenBucket, rate: Option<u64>, len: usize, now: Instant) -> bool {
    let Some(rate) = rate else {
        return true;
    };
    let elapsed = now.saturating_duration_since(bucket.last);
    let add = (u128::from(rate) * elapsed.as_nanos() / 1_000_000_000) as u64;
    if add > 0 {
        bucket.tokens = bucket.tokens.saturating_add(add).min(rate);
        bucket.last = now;
    }
    let len = len as u64;
    if bucket.tokens >= len {
        bucket.tokens -= len;
        true
    } else {
        false
    }
}

/// The ChannelData header length: the overhead of the fast path.
pub const CHANNEL_DATA_OVERHEAD: usize = channel_data::CHANNEL_DATA_HEADER_LEN;

/// Bytes a Data indication adds around the data for an IPv6 peer.
pub const DATA_INDICATION_OVERHEAD: usize = HEADER_LEN + 24 + 4 + 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_denies_internal_ranges() {
        let p = PeerPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::",
        ] {
            assert!(!p.permits(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["203.0.113.7", "8.8.8.8", "2001:db8::1", "172.32.0.1"] {
            assert!(p.permits(ip.parse().unwrap()), "{ip}");
        }
        let open = PeerPolicy::allow_all();
        assert!(open.permits("127.0.0.1".parse().unwrap()));
        assert!(!open.permits("0.0.0.0".parse().unwrap()));
    }

    #[test]
    fn port_pool_wraps_and_releases() {
        let ip: IpAddr = "198.51.100.1".parse().unwrap();
        let mut p = PortPool::new(ip, 50000, 50003);
        let a = p.allocate(false, false).unwrap();
        let b = p.allocate(false, true).unwrap();
        assert_eq!(a.port(), 50000);
        assert_eq!(b.port(), 50002);
        assert!(p.allocate(true, false).is_none());
        assert_eq!(p.allocate(false, false).unwrap().port(), 50003);
        assert_eq!(p.allocate(false, false).unwrap().port(), 50001);
        assert!(p.allocate(false, false).is_none());
        p.release(a);
        assert_eq!(p.allocate(false, false), Some(a));
    }

    #[test]
    fn token_bucket() {
        let t0 = Instant::now();
        let mut b = TokenBucket {
            tokens: 1000,
            last: t0,
        };
        assert!(take_tokens(&mut b, Some(1000), 600, t0));
        assert!(!take_tokens(&mut b, Some(1000), 600, t0));
        assert!(take_tokens(
            &mut b,
            Some(1000),
            600,
            t0 + Duration::from_millis(200)
        ));
        assert!(take_tokens(&mut b, None, 1 << 20, t0));
    }
}
