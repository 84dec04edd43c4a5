//! Configuration, credentials, states, events and statistics of the agent.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::RngCore;

use crate::candidate::{is_ice_char, Candidate, CandidateType};
use crate::Error;

/// The agent's role (RFC 8445 §6.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceRole {
    /// The controlling agent nominates the pair.
    Controlling,
    /// The controlled agent follows the nomination.
    Controlled,
}

/// The connection state, as the browser's `RTCIceConnectionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceConnectionState {
    /// Nothing to check yet.
    New,
    /// Checks are running and no pair is selected yet.
    Checking,
    /// A pair is selected for every component and consent is fresh.
    Connected,
    /// Connected, and nothing more will be checked: remote end-of-candidates
    /// received and local gathering complete.
    Completed,
    /// A selected pair has gone without consent responses for a while
    /// (RFC 7675); it may come back.
    Disconnected,
    /// Every pair failed after remote end-of-candidates, or consent was lost
    /// (RFC 7675 §5.1). Only an ICE restart leaves this state.
    Failed,
    /// [`crate::IceAgent::close`] was called.
    Closed,
}

/// Local candidate gathering state, as the browser's `RTCIceGatheringState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceGatheringState {
    /// No local candidate yet.
    New,
    /// Candidates are being gathered (STUN server transactions running or
    /// more candidates announced by the application).
    Gathering,
    /// All candidates gathered.
    Complete,
}

/// The state of a candidate pair (RFC 8445 §6.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PairState {
    /// Waiting for a pair of the same foundation to succeed.
    Frozen,
    /// Ready to be checked.
    Waiting,
    /// A check is in flight.
    InProgress,
    /// A check succeeded.
    Succeeded,
    /// The checks failed.
    Failed,
}

/// ICE credentials: username fragment and password (RFC 8445 §5.3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// ice-ufrag: 4 to 256 ice-chars.
    pub ufrag: String,
    /// ice-pwd: 22 to 256 ice-chars.
    pub pwd: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("ufrag", &self.ufrag)
            .field("pwd", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Checked credentials (RFC 8839 §5.4: ufrag 4..=256, pwd 22..=256
    /// ice-chars).
    pub fn new(ufrag: &str, pwd: &str) -> Result<Self, Error> {
        if !(4..=256).contains(&ufrag.len()) || !ufrag.bytes().all(is_ice_char) {
            return Err(Error::InvalidCredentials("ice-ufrag"));
        }
        if !(22..=256).contains(&pwd.len()) || !pwd.bytes().all(is_ice_char) {
            return Err(Error::InvalidCredentials("ice-pwd"));
        }
        Ok(Credentials {
            ufrag: ufrag.to_string(),
            pwd: pwd.to_string(),
        })
    }

    /// Random credentials: an 8-character ufrag (48 bits) and a 24-character
    /// password (144 bits), above RFC 8445 §5.3's 24 and 128 bits.
    pub fn random<R: RngCore + ?Sized>(rng: &mut R) -> Self {
        Credentials {
            ufrag: random_ice_chars(rng, 8),
            pwd: random_ice_chars(rng, 24),
        }
    }
}

fn random_ice_chars<R: RngCore + ?Sized>(rng: &mut R, n: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..n)
        .map(|_| char::from(ALPHABET[(rng.next_u32() & 63) as usize]))
        .collect()
}

/// Agent configuration. `IceConfig::default()` is a full, controlling agent
/// with one component and the RFC timers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IceConfig {
    /// Initial role; ICE-lite agents are always controlled (RFC 8445 §6.1.1).
    pub role: IceRole,
    /// Act as an ICE-lite agent (RFC 8445 §2.5): host candidates only, never
    /// send checks, answer them.
    pub lite: bool,
    /// Number of components (1 with rtcp-mux / BUNDLE).
    pub components: u16,
    /// STUN servers to gather server-reflexive candidates from.
    pub stun_servers: Vec<SocketAddr>,
    /// Public IP addresses that a 1:1 NAT maps to this host, keeping ports
    /// (a cloud VM's: Janus's `nat_1_1_mapping`, LiveKit's `node_ip`). Each
    /// host candidate is signalled with these addresses of its family, and
    /// its port, in place of its own; a family without public addresses
    /// keeps its host addresses.
    pub public_addresses: Vec<IpAddr>,
    /// Ta: pacing of new STUN transactions (RFC 8445 §14.2, default 50 ms).
    pub ta: Duration,
    /// Initial retransmission timeout of checks and gathering requests;
    /// RFC 8445 §14.3 floors it at 500 ms.
    pub rto: Duration,
    /// Cap on the doubled retransmission timeout.
    pub max_rto: Duration,
    /// Transmissions of one check before its pair fails (Rc).
    pub max_transmissions: u32,
    /// How long the controlling agent waits, after its first valid pair, for
    /// better pairs before nominating (regular nomination, RFC 8445 §8.1.1).
    pub nomination_timeout: Duration,
    /// Consent check interval; each interval is drawn uniformly from 0.8 to
    /// 1.2 times this (RFC 7675 §5.1: 5 s).
    pub consent_interval: Duration,
    /// Without a consent response for this long the state is Disconnected.
    pub disconnected_timeout: Duration,
    /// Without a consent response for this long consent is lost and the
    /// agent fails (RFC 7675 §5.1: 30 s).
    pub consent_timeout: Duration,
    /// Tr: a Binding indication is sent on a selected pair that carried no
    /// ICE traffic for this long (RFC 8445 §11: 15 s).
    pub keepalive_interval: Duration,
    /// Most remote candidates kept.
    pub max_remote_candidates: usize,
    /// Most candidate pairs (RFC 8445 §6.1.2.5: 100).
    pub max_pairs: usize,
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            role: IceRole::Controlling,
            lite: false,
            components: 1,
            stun_servers: Vec::new(),
            public_addresses: Vec::new(),
            ta: Duration::from_millis(50),
            rto: Duration::from_millis(500),
            max_rto: Duration::from_secs(2),
            max_transmissions: 7,
            nomination_timeout: Duration::from_secs(1),
            consent_interval: Duration::from_secs(5),
            disconnected_timeout: Duration::from_secs(10),
            consent_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(15),
            max_remote_candidates: 64,
            max_pairs: 100,
        }
    }
}

impl IceConfig {
    /// A full agent in `role`.
    pub fn new(role: IceRole) -> Self {
        IceConfig {
            role,
            ..IceConfig::default()
        }
    }

    /// An ICE-lite agent (always controlled).
    pub fn lite() -> Self {
        IceConfig {
            role: IceRole::Controlled,
            lite: true,
            ..IceConfig::default()
        }
    }

    /// Adds a STUN server for server-reflexive candidates.
    pub fn with_stun_server(mut self, server: SocketAddr) -> Self {
        self.stun_servers.push(server);
        self
    }

    /// Adds a public address that a 1:1 NAT maps to this host
    /// ([`IceConfig::public_addresses`]).
    pub fn with_public_address(mut self, ip: IpAddr) -> Self {
        self.public_addresses.push(ip);
        self
    }

    /// Sets the number of components.
    pub fn with_components(mut self, components: u16) -> Self {
        self.components = components;
        self
    }

    /// Sets the controlling agent's nomination timeout.
    pub fn with_nomination_timeout(mut self, timeout: Duration) -> Self {
        self.nomination_timeout = timeout;
        self
    }
}

/// The pair selected for a component: where application data goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedPair {
    /// The component.
    pub component: u16,
    /// The local candidate of the valid pair (host, srflx, prflx or relay).
    pub local: Candidate,
    /// The remote candidate.
    pub remote: Candidate,
    /// The local base to send from.
    pub source: SocketAddr,
    /// The remote transport address to send to.
    pub destination: SocketAddr,
}

/// What the application learns from the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IceEvent {
    /// A local candidate to signal to the peer (trickle ICE, RFC 8838).
    LocalCandidate(Candidate),
    /// Local gathering finished: signal end-of-candidates (RFC 8838 §13).
    GatheringComplete,
    /// The connection state changed.
    ConnectionStateChange(IceConnectionState),
    /// The gathering state changed.
    GatheringStateChange(IceGatheringState),
    /// The selected pair of a component changed; `None` when it was dropped
    /// (consent lost).
    SelectedPairChange {
        /// The component.
        component: u16,
        /// The new pair.
        pair: Option<Box<SelectedPair>>,
    },
    /// The role changed after a role conflict (RFC 8445 §7.3.1.1).
    RoleChange(IceRole),
    /// A remote candidate was ignored (the log line for mDNS candidates
    /// without a resolver, TCP candidates, stale generations, …).
    CandidateIgnored {
        /// The candidate.
        candidate: Box<Candidate>,
        /// Why.
        reason: &'static str,
    },
}

/// The answer of an [`MdnsResolver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdnsResolution {
    /// The name is known.
    Resolved(IpAddr),
    /// A query was started; call [`crate::IceAgent::handle_mdns_resolved`]
    /// with the result.
    Pending,
    /// The name cannot be resolved: ignore the candidate.
    NotFound,
}

/// The hook through which remote `.local` candidates are resolved.
pub trait MdnsResolver: Send {
    /// Resolve an mDNS name such as `4b1c…-….local`.
    fn resolve(&mut self, name: &str) -> MdnsResolution;
}

/// Per-pair statistics, like `RTCIceCandidatePairStats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairStats {
    /// The component.
    pub component: u16,
    /// The local base the checks go from.
    pub local: SocketAddr,
    /// The remote address.
    pub remote: SocketAddr,
    /// The local candidate type.
    pub local_type: CandidateType,
    /// The remote candidate type.
    pub remote_type: CandidateType,
    /// The pair state.
    pub state: PairState,
    /// The pair priority (RFC 8445 §6.1.2.3).
    pub priority: u64,
    /// Whether the pair was nominated.
    pub nominated: bool,
    /// Whether it is the selected pair of its component.
    pub selected: bool,
    /// Check and consent requests sent, retransmissions included.
    pub requests_sent: u64,
    /// Check requests received.
    pub requests_received: u64,
    /// Responses sent.
    pub responses_sent: u64,
    /// Responses received (success and error).
    pub responses_received: u64,
    /// Consent requests sent (RFC 7675).
    pub consent_requests_sent: u64,
    /// The latest round-trip time measured.
    pub current_rtt: Option<Duration>,
    /// Sum of all round-trip times measured.
    pub total_rtt: Duration,
    /// Number of round-trip times measured.
    pub rtt_samples: u64,
    /// When the last request was sent.
    pub last_request_sent: Option<Instant>,
    /// When the last response was received.
    pub last_response_received: Option<Instant>,
}

/// Agent-wide counters of dropped or odd input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Datagrams that looked like STUN but did not parse, or failed FINGERPRINT.
    pub malformed: u64,
    /// Requests or responses that failed MESSAGE-INTEGRITY or USERNAME checks.
    pub unauthenticated: u64,
    /// Responses matching no transaction.
    pub unmatched_responses: u64,
    /// Datagrams for a local address the agent does not know.
    pub unknown_destination: u64,
    /// Role conflicts detected (RFC 8445 §7.3.1.1 and §7.2.5.1).
    pub role_conflicts: u64,
    /// Peer-reflexive remote candidates learned.
    pub peer_reflexive_learned: u64,
    /// Events dropped because the application did not drain them.
    pub events_dropped: u64,
}
