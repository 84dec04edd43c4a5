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

mod allocation;
mod config;
mod events;
mod permission;
mod ports;
mod relay;
mod request;

pub use config::{FiveTuple, PeerPolicy, ServerConfig, TransportProtocol};
pub use events::{RelayToPeer, ServerEvent, ServerGauges, ServerStats, ServerTransmit};
pub use ports::{PortPool, RelayAllocator, RelayedAddresses};

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

    fn schedule_sweep(&mut self, now: Instant) {
        if self.next_sweep.is_none() {
            self.next_sweep = Some(now + SWEEP_INTERVAL);
        }
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
