//! The ICE agent (RFC 8445) with trickle (RFC 8838) and consent freshness
//! (RFC 7675).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use fulmar_stun::attributes::{
    ErrorCode, IceControlled, IceControlling, MappedAddress, Priority, UnknownAttributes,
    UseCandidate, Username, XorMappedAddress,
};
use fulmar_stun::{
    classify, AttributeType, Class, IntegrityKey, Message, MessageBuilder, Method, PacketKind,
    TransactionId,
};
use rand::{Rng, RngCore};

use crate::candidate::{
    candidate_priority, compute_foundation, compute_relay_foundation, pair_priority, Candidate,
    CandidateAddress, CandidateKind, RelayProtocol, Transport,
};
use crate::types::{
    AgentStats, Credentials, IceConfig, IceConnectionState, IceEvent, IceGatheringState, IceRole,
    MdnsResolution, MdnsResolver, PairState, PairStats, SelectedPair, Transmit,
};
use crate::Error;

/// Most STUN transactions outstanding at once.
const MAX_TRANSACTIONS: usize = 256;
/// Most datagrams queued for `poll_transmit`.
const MAX_TRANSMITS: usize = 1024;
/// Most events queued for `poll_event`.
const MAX_EVENTS: usize = 1024;
/// Most local candidates.
const MAX_LOCAL_CANDIDATES: usize = 64;
/// Most mDNS names waiting for resolution.
const MAX_PENDING_MDNS: usize = 32;
/// Size of the buffer STUN messages are built in.
const BUF: usize = 512;

#[derive(Debug, Clone)]
struct LocalCand {
    cand: Candidate,
    /// Where it sends from: itself for host and relayed candidates, the host
    /// candidate for reflexive ones.
    base: SocketAddr,
    addr: SocketAddr,
    local_pref: u16,
}

#[derive(Debug, Clone)]
struct RemoteCand {
    cand: Candidate,
    addr: SocketAddr,
}

#[derive(Debug, Clone, Default)]
struct Counters {
    requests_sent: u64,
    requests_received: u64,
    responses_sent: u64,
    responses_received: u64,
    consent_requests_sent: u64,
    current_rtt: Option<Duration>,
    total_rtt: Duration,
    rtt_samples: u64,
    last_request_sent: Option<Instant>,
    last_response_received: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Pair {
    local: usize,
    remote: usize,
    component: u16,
    foundation: (String, String),
    state: PairState,
    valid: bool,
    nominated: bool,
    /// Controlled side: USE-CANDIDATE arrived before our check succeeded
    /// (RFC 8445 §7.3.1.5).
    nominate_on_success: bool,
    /// The local candidate of the valid pair built from the mapped address
    /// (RFC 8445 §7.2.5.3.2); the base stays `local`.
    mapped_local: Option<usize>,
    counters: Counters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxKind {
    Check {
        pair: usize,
        use_candidate: bool,
    },
    Consent {
        component: u16,
    },
    Gather {
        base: SocketAddr,
        server: SocketAddr,
    },
}

#[derive(Debug, Clone)]
struct Transaction {
    id: TransactionId,
    kind: TxKind,
    payload: Vec<u8>,
    source: SocketAddr,
    destination: SocketAddr,
    first_sent: Instant,
    last_sent: Instant,
    next_at: Instant,
    rto: Duration,
    transmissions: u32,
    max_transmissions: u32,
    /// No more retransmissions and no failure on timeout (RFC 8445 §7.2.5.4).
    cancelled: bool,
    /// The role the request claimed (for 487 handling, RFC 8445 §7.2.5.1).
    role: IceRole,
    /// PRIORITY sent (a peer-reflexive local candidate gets it).
    priority: u32,
}

#[derive(Debug, Clone)]
struct Selected {
    pair: SelectedPair,
    /// Index of the pair in the current generation, if any.
    index: Option<usize>,
    next_consent: Instant,
    last_consent_response: Instant,
    last_sent: Instant,
}

/// A remote candidate whose mDNS name is being resolved.
#[derive(Debug, Clone)]
struct PendingMdns {
    name: String,
    cand: Candidate,
}

/// A sans-IO ICE agent (RFC 8445) for one data stream.
///
/// Feed it local candidates ([`IceAgent::add_host_candidate`],
/// [`IceAgent::add_relayed_candidate`]), the peer's credentials and
/// candidates, received datagrams ([`IceAgent::handle_receive`]) and
/// timeouts; drain [`IceAgent::poll_transmit`] and [`IceAgent::poll_event`];
/// sleep until [`IceAgent::poll_timeout`].
pub struct IceAgent {
    config: IceConfig,
    rng: Box<dyn RngCore + Send>,
    role: IceRole,
    tiebreaker: u64,
    local_creds: Credentials,
    remote_creds: Option<Credentials>,
    /// HMAC keys prepared once per credential change (not per message).
    local_key: IntegrityKey,
    remote_key: Option<IntegrityKey>,
    remote_lite: bool,
    locals: Vec<LocalCand>,
    remotes: Vec<RemoteCand>,
    pairs: Vec<Pair>,
    triggered: VecDeque<(usize, bool)>,
    transactions: Vec<Transaction>,
    gather_queue: VecDeque<(SocketAddr, SocketAddr)>,
    local_candidates_done: bool,
    gathering: IceGatheringState,
    remote_eoc: bool,
    pending_mdns: Vec<PendingMdns>,
    resolver: Option<Box<dyn MdnsResolver>>,
    selected: Vec<Option<Selected>>,
    nominating: Vec<Option<usize>>,
    first_valid_at: Vec<Option<Instant>>,
    consent_lost: bool,
    closed: bool,
    state: IceConnectionState,
    next_paced: Option<Instant>,
    last_now: Option<Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<IceEvent>,
    stats: AgentStats,
    prflx_counter: u32,
}

impl std::fmt::Debug for IceAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceAgent")
            .field("role", &self.role)
            .field("lite", &self.config.lite)
            .field("state", &self.state)
            .field("local_candidates", &self.locals.len())
            .field("remote_candidates", &self.remotes.len())
            .field("pairs", &self.pairs.len())
            .finish()
    }
}

impl IceAgent {
    /// A new agent with random credentials and tie-breaker from `rng`.
    pub fn new(config: IceConfig, rng: impl RngCore + Send + 'static) -> Self {
        let mut rng: Box<dyn RngCore + Send> = Box::new(rng);
        let local_creds = Credentials::random(&mut *rng);
        let tiebreaker = rng.next_u64();
        let mut config = config;
        config.components = config.components.clamp(1, 256);
        let role = if config.lite {
            IceRole::Controlled
        } else {
            config.role
        };
        let n = usize::from(config.components);
        IceAgent {
            role,
            tiebreaker,
            local_key: IntegrityKey::short_term(&local_creds.pwd),
            local_creds,
            remote_creds: None,
            remote_key: None,
            remote_lite: false,
            locals: Vec::new(),
            remotes: Vec::new(),
            pairs: Vec::new(),
            triggered: VecDeque::new(),
            transactions: Vec::new(),
            gather_queue: VecDeque::new(),
            local_candidates_done: false,
            gathering: IceGatheringState::New,
            remote_eoc: false,
            pending_mdns: Vec::new(),
            resolver: None,
            selected: vec![None; n],
            nominating: vec![None; n],
            first_valid_at: vec![None; n],
            consent_lost: false,
            closed: false,
            state: IceConnectionState::New,
            next_paced: None,
            last_now: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: AgentStats::default(),
            prflx_counter: 0,
            rng,
            config,
        }
    }

    // ------------------------------------------------------------------
    // Accessors
    // ------------------------------------------------------------------

    /// The local ufrag and password to signal.
    pub fn local_credentials(&self) -> &Credentials {
        &self.local_creds
    }

    /// The remote credentials, once set.
    pub fn remote_credentials(&self) -> Option<&Credentials> {
        self.remote_creds.as_ref()
    }

    /// The current role.
    pub fn role(&self) -> IceRole {
        self.role
    }

    /// Whether this is an ICE-lite agent.
    pub fn is_lite(&self) -> bool {
        self.config.lite
    }

    /// The connection state.
    pub fn state(&self) -> IceConnectionState {
        self.state
    }

    /// The gathering state.
    pub fn gathering_state(&self) -> IceGatheringState {
        self.gathering
    }

    /// The selected pair of `component`, if any.
    pub fn selected_pair(&self, component: u16) -> Option<&SelectedPair> {
        self.selected
            .get(usize::from(component).checked_sub(1)?)?
            .as_ref()
            .map(|s| &s.pair)
    }

    /// All local candidates (host, server-reflexive, relayed; not the
    /// peer-reflexive ones learned from checks).
    pub fn local_candidates(&self) -> Vec<Candidate> {
        self.locals
            .iter()
            .filter(|l| l.cand.kind != CandidateKind::PeerReflexive)
            .map(|l| l.cand.clone())
            .collect()
    }

    /// All remote candidates, peer-reflexive ones included.
    pub fn remote_candidates(&self) -> Vec<Candidate> {
        self.remotes.iter().map(|r| r.cand.clone()).collect()
    }

    /// Agent-wide counters.
    pub fn stats(&self) -> AgentStats {
        self.stats
    }

    /// Statistics of every candidate pair.
    pub fn pair_stats(&self) -> Vec<PairStats> {
        self.pairs
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let l = self.locals.get(p.local)?;
                let r = self.remotes.get(p.remote)?;
                let selected = self
                    .selected
                    .get(usize::from(p.component) - 1)
                    .and_then(|s| s.as_ref())
                    .is_some_and(|s| s.index == Some(i));
                let c = &p.counters;
                Some(PairStats {
                    component: p.component,
                    local: l.base,
                    remote: r.addr,
                    local_kind: l.cand.kind,
                    remote_kind: r.cand.kind,
                    state: p.state,
                    priority: self.priority_of(p),
                    nominated: p.nominated,
                    selected,
                    requests_sent: c.requests_sent,
                    requests_received: c.requests_received,
                    responses_sent: c.responses_sent,
                    responses_received: c.responses_received,
                    consent_requests_sent: c.consent_requests_sent,
                    current_rtt: c.current_rtt,
                    total_rtt: c.total_rtt,
                    rtt_samples: c.rtt_samples,
                    last_request_sent: c.last_request_sent,
                    last_response_received: c.last_response_received,
                })
            })
            .collect()
    }

    // ------------------------------------------------------------------
    // Configuration from signaling
    // ------------------------------------------------------------------

    /// Sets the peer's ufrag and password. New values after earlier ones mean
    /// the peer restarted ICE (RFC 8445 §9): its candidates and the pairs are
    /// dropped, while the selected pair keeps carrying data until a new one is
    /// selected.
    pub fn set_remote_credentials(
        &mut self,
        now: Instant,
        ufrag: &str,
        pwd: &str,
    ) -> Result<(), Error> {
        self.touch(now);
        let creds = Credentials::new(ufrag, pwd)?;
        match &self.remote_creds {
            Some(c) if *c == creds => return Ok(()),
            Some(_) => self.reset_remote(now),
            None => {}
        }
        self.remote_key = Some(IntegrityKey::short_term(&creds.pwd));
        self.remote_creds = Some(creds);
        // Consent on a pair kept over a restart restarts its clock with the
        // new credentials.
        for s in self.selected.iter_mut().flatten() {
            s.last_consent_response = now;
            s.next_consent = now;
        }
        self.update_state(now);
        Ok(())
    }

    /// Declares whether the peer is an ICE-lite agent; facing one, a full
    /// agent takes the controlling role (RFC 8445 §6.1.1).
    pub fn set_remote_lite(&mut self, lite: bool) {
        self.remote_lite = lite;
        if lite && !self.config.lite && self.role != IceRole::Controlling {
            self.set_role(IceRole::Controlling);
        }
    }

    /// Installs the hook that resolves remote mDNS (`.local`) candidates.
    pub fn set_mdns_resolver(&mut self, resolver: Box<dyn MdnsResolver>) {
        self.resolver = Some(resolver);
    }

    // ------------------------------------------------------------------
    // Local candidates
    // ------------------------------------------------------------------

    /// Adds a host candidate: a local socket bound to `addr` for
    /// `component`. Returns the candidate (also emitted as an event) and
    /// starts server-reflexive gathering from it.
    pub fn add_host_candidate(
        &mut self,
        now: Instant,
        component: u16,
        addr: SocketAddr,
    ) -> Result<Candidate, Error> {
        self.check_usable(component)?;
        self.touch(now);
        if let Some(l) = self.locals.iter().find(|l| {
            l.cand.kind == CandidateKind::Host && l.addr == addr && l.cand.component == component
        }) {
            return Ok(l.cand.clone());
        }
        if self.locals.len() >= MAX_LOCAL_CANDIDATES {
            return Err(Error::TooMany("local candidates"));
        }
        let same_family = self
            .locals
            .iter()
            .filter(|l| l.cand.kind == CandidateKind::Host && l.addr.is_ipv4() == addr.is_ipv4())
            .count();
        // RFC 8421: prefer IPv6 over IPv4; then the order of addition.
        let base_pref: u16 = if addr.is_ipv6() { 65535 } else { 65535 - 1024 };
        let local_pref = base_pref.saturating_sub(u16::try_from(same_family).unwrap_or(1000));
        let cand = Candidate::new(
            CandidateKind::Host,
            component,
            addr,
            candidate_priority(CandidateKind::Host, local_pref, component),
            compute_foundation(CandidateKind::Host, addr.ip(), None),
            None,
        );
        push_compact(
            &mut self.locals,
            LocalCand {
                cand: cand.clone(),
                base: addr,
                addr,
                local_pref,
            },
        );
        self.emit(IceEvent::LocalCandidate(cand.clone()));
        if !self.config.lite {
            for server in self.config.stun_servers.clone() {
                if server.is_ipv4() == addr.is_ipv4() {
                    self.gather_queue.push_back((addr, server));
                }
            }
        }
        let idx = self.locals.len() - 1;
        self.pair_local(idx);
        self.update_gathering();
        self.update_state(now);
        Ok(cand)
    }

    /// Adds a relayed candidate obtained by a TURN client: `relayed` is the
    /// allocation's relayed transport address, `mapped` the client's
    /// server-reflexive address seen by the TURN server, `server` the TURN
    /// server's IP. Checks on it are emitted with `source == relayed`; the
    /// TURN client wraps them and hands back what arrives on the allocation
    /// with `destination == relayed`.
    pub fn add_relayed_candidate(
        &mut self,
        now: Instant,
        component: u16,
        relayed: SocketAddr,
        mapped: SocketAddr,
        server: IpAddr,
    ) -> Result<Candidate, Error> {
        self.add_relayed_candidate_over(now, component, relayed, mapped, server, RelayProtocol::Udp)
    }

    /// [`Self::add_relayed_candidate`] for a TURN server reached over
    /// `protocol`, which sets the candidate's local preference (UDP before
    /// TCP before TLS) and foundation.
    pub fn add_relayed_candidate_over(
        &mut self,
        now: Instant,
        component: u16,
        relayed: SocketAddr,
        mapped: SocketAddr,
        server: IpAddr,
        protocol: RelayProtocol,
    ) -> Result<Candidate, Error> {
        self.check_usable(component)?;
        if self.config.lite {
            return Err(Error::Lite);
        }
        self.touch(now);
        if let Some(l) = self
            .locals
            .iter()
            .find(|l| l.addr == relayed && l.cand.component == component)
        {
            return Ok(l.cand.clone());
        }
        if self.locals.len() >= MAX_LOCAL_CANDIDATES {
            return Err(Error::TooMany("local candidates"));
        }
        let local_pref = protocol.local_preference();
        let cand = Candidate::new(
            CandidateKind::Relayed,
            component,
            relayed,
            candidate_priority(CandidateKind::Relayed, local_pref, component),
            compute_relay_foundation(mapped.ip(), server, protocol),
            Some(mapped),
        );
        push_compact(
            &mut self.locals,
            LocalCand {
                cand: cand.clone(),
                base: relayed,
                addr: relayed,
                local_pref,
            },
        );
        self.emit(IceEvent::LocalCandidate(cand.clone()));
        let idx = self.locals.len() - 1;
        self.pair_local(idx);
        self.update_gathering();
        self.update_state(now);
        Ok(cand)
    }

    /// Tells the agent that the application will add no more host or relayed
    /// candidates; gathering completes when the STUN transactions are done.
    pub fn end_of_local_candidates(&mut self, now: Instant) {
        self.touch(now);
        self.local_candidates_done = true;
        self.update_gathering();
        self.update_state(now);
    }

    // ------------------------------------------------------------------
    // Remote candidates
    // ------------------------------------------------------------------

    /// Adds a remote candidate, at any time (trickle ICE, RFC 8838 §11).
    /// Candidates the agent cannot use (TCP, unresolvable names, another
    /// generation's `ufrag`) are ignored with a [`IceEvent::CandidateIgnored`].
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        candidate: Candidate,
    ) -> Result<(), Error> {
        self.check_usable(candidate.component)?;
        self.touch(now);
        if candidate.transport != Transport::Udp {
            self.ignore(candidate, "transport other than UDP");
            return Ok(());
        }
        if let (Some(u), Some(c)) = (candidate.extension("ufrag"), &self.remote_creds) {
            if u != c.ufrag {
                self.ignore(candidate, "ufrag of another ICE generation");
                return Ok(());
            }
        }
        let ip = match &candidate.address {
            CandidateAddress::Ip(ip) => *ip,
            CandidateAddress::Hostname(name) if candidate.address.is_mdns() => {
                let name = name.clone();
                let Some(resolver) = self.resolver.as_mut() else {
                    self.ignore(candidate, "mDNS candidate and no resolver installed");
                    return Ok(());
                };
                match resolver.resolve(&name) {
                    MdnsResolution::Resolved(ip) => ip,
                    MdnsResolution::NotFound => {
                        self.ignore(candidate, "mDNS name not found");
                        return Ok(());
                    }
                    MdnsResolution::Pending => {
                        if self.pending_mdns.len() >= MAX_PENDING_MDNS {
                            self.ignore(candidate, "too many mDNS names pending");
                        } else {
                            self.pending_mdns.push(PendingMdns {
                                name,
                                cand: candidate,
                            });
                        }
                        self.update_state(now);
                        return Ok(());
                    }
                }
            }
            CandidateAddress::Hostname(_) => {
                self.ignore(candidate, "hostname that is not an mDNS name");
                return Ok(());
            }
        };
        let addr = SocketAddr::new(ip, candidate.port);
        let r = self.add_resolved_remote(candidate, addr);
        self.update_state(now);
        r
    }

    /// Delivers the result of an mDNS query the resolver left
    /// [`MdnsResolution::Pending`]; `None` means the name did not resolve.
    pub fn handle_mdns_resolved(&mut self, now: Instant, name: &str, ip: Option<IpAddr>) {
        self.touch(now);
        let (done, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_mdns)
            .into_iter()
            .partition(|p| p.name.eq_ignore_ascii_case(name));
        self.pending_mdns = rest;
        for p in done {
            match ip {
                Some(ip) => {
                    let addr = SocketAddr::new(ip, p.cand.port);
                    // Only a full candidate table refuses; then the name is dropped.
                    if self.add_resolved_remote(p.cand.clone(), addr).is_err() {
                        self.ignore(p.cand, "too many remote candidates");
                    }
                }
                None => self.ignore(p.cand, "mDNS name not found"),
            }
        }
        self.update_state(now);
    }

    /// The peer signalled end-of-candidates (RFC 8838 §13): once every pair
    /// has failed the agent may fail.
    pub fn end_of_remote_candidates(&mut self, now: Instant) {
        self.touch(now);
        self.remote_eoc = true;
        self.update_state(now);
    }

    fn add_resolved_remote(
        &mut self,
        mut candidate: Candidate,
        addr: SocketAddr,
    ) -> Result<(), Error> {
        candidate.address = CandidateAddress::Ip(addr.ip());
        if let Some(i) = self
            .remotes
            .iter()
            .position(|r| r.addr == addr && r.cand.component == candidate.component)
        {
            // A signalled candidate replaces the peer-reflexive one learned
            // earlier from a check (RFC 8838 §11 / RFC 8445 §7.3.1.3).
            if let Some(r) = self.remotes.get_mut(i) {
                if r.cand.kind == CandidateKind::PeerReflexive
                    && candidate.kind != CandidateKind::PeerReflexive
                {
                    r.cand = candidate;
                }
            }
            return Ok(());
        }
        if self.remotes.len() >= self.config.max_remote_candidates {
            return Err(Error::TooMany("remote candidates"));
        }
        push_compact(
            &mut self.remotes,
            RemoteCand {
                cand: candidate,
                addr,
            },
        );
        let r = self.remotes.len() - 1;
        if !self.config.lite {
            for l in 0..self.locals.len() {
                self.add_pair(l, r);
            }
        }
        Ok(())
    }

    fn ignore(&mut self, candidate: Candidate, reason: &'static str) {
        self.emit(IceEvent::CandidateIgnored {
            candidate: Box::new(candidate),
            reason,
        });
    }

    // ------------------------------------------------------------------
    // Pairs and the checklist
    // ------------------------------------------------------------------

    fn pair_local(&mut self, l: usize) {
        if self.config.lite {
            return;
        }
        for r in 0..self.remotes.len() {
            self.add_pair(l, r);
        }
    }

    /// Forms the pair (l, r) if they are compatible (RFC 8445 §6.1.2.2):
    /// same component, same address family, and a local candidate that is
    /// its own base (reflexive locals are replaced by their base, §6.1.2.4).
    fn add_pair(&mut self, l: usize, r: usize) -> Option<usize> {
        let (lc, rc) = (self.locals.get(l)?, self.remotes.get(r)?);
        if lc.cand.component != rc.cand.component
            || lc.addr.is_ipv4() != rc.addr.is_ipv4()
            || !matches!(lc.cand.kind, CandidateKind::Host | CandidateKind::Relayed)
        {
            return None;
        }
        if let Some(i) = self.find_pair(lc.base, rc.addr) {
            return Some(i);
        }
        if self.pairs.len() >= self.config.max_pairs {
            return None;
        }
        let foundation = (lc.cand.foundation.clone(), rc.cand.foundation.clone());
        // RFC 8838 §10 / RFC 8445 §6.1.2.6: a new pair starts Waiting unless
        // another pair of its foundation is already being checked.
        let busy = self.pairs.iter().any(|p| {
            p.foundation == foundation
                && matches!(p.state, PairState::Waiting | PairState::InProgress)
        });
        let succeeded = self
            .pairs
            .iter()
            .any(|p| p.foundation == foundation && p.state == PairState::Succeeded);
        let state = if succeeded || !busy {
            PairState::Waiting
        } else {
            PairState::Frozen
        };
        push_compact(
            &mut self.pairs,
            Pair {
                local: l,
                remote: r,
                component: lc.cand.component,
                foundation,
                state,
                valid: false,
                nominated: false,
                nominate_on_success: false,
                mapped_local: None,
                counters: Counters::default(),
            },
        );
        Some(self.pairs.len() - 1)
    }

    fn find_pair(&self, base: SocketAddr, remote: SocketAddr) -> Option<usize> {
        self.pairs.iter().position(|p| {
            self.locals.get(p.local).is_some_and(|l| l.base == base)
                && self.remotes.get(p.remote).is_some_and(|r| r.addr == remote)
        })
    }

    /// The pair priority with the current roles (RFC 8445 §6.1.2.3); a valid
    /// pair uses its mapped local candidate (§7.2.5.3.2).
    fn priority_of(&self, p: &Pair) -> u64 {
        let local = p
            .mapped_local
            .and_then(|m| self.locals.get(m))
            .or_else(|| self.locals.get(p.local))
            .map_or(0, |l| l.cand.priority);
        let remote = self.remotes.get(p.remote).map_or(0, |r| r.cand.priority);
        match self.role {
            IceRole::Controlling => pair_priority(local, remote),
            IceRole::Controlled => pair_priority(remote, local),
        }
    }

    fn component_done(&self, component: u16) -> bool {
        self.pairs
            .iter()
            .any(|p| p.component == component && p.nominated)
    }

    fn set_role(&mut self, role: IceRole) {
        if self.role != role {
            self.role = role;
            self.emit(IceEvent::RoleChange(role));
        }
    }

    // ------------------------------------------------------------------
    // Sans-IO verbs
    // ------------------------------------------------------------------

    /// Handles a datagram received on local address `destination` from
    /// `source`. Returns `false` when it is not STUN (first byte outside
    /// 0..=3, RFC 7983) and belongs to the application; `true` when the agent
    /// consumed it (including malformed or unauthenticated STUN, which is
    /// dropped and counted).
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) -> bool {
        if classify(datagram) != PacketKind::Stun {
            return false;
        }
        self.touch(now);
        if self.closed {
            return true;
        }
        let msg = match Message::parse(datagram) {
            Ok(m) => m,
            Err(_) => {
                self.stats.malformed += 1;
                return true;
            }
        };
        if msg.has_fingerprint() && msg.verify_fingerprint().is_err() {
            self.stats.malformed += 1;
            return true;
        }
        if msg.method() != Method::BINDING {
            self.stats.malformed += 1;
            return true;
        }
        match msg.class() {
            Class::Request => self.handle_request(now, source, destination, &msg),
            Class::SuccessResponse | Class::ErrorResponse => {
                self.handle_response(now, source, destination, &msg)
            }
            Class::Indication => {}
        }
        self.update_state(now);
        self.release_idle_buffers();
        true
    }

    /// Handles the deadline returned by [`IceAgent::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        if self.closed {
            return;
        }
        self.run_transactions(now);
        if self.next_paced.is_none_or(|t| t <= now) && self.has_paced_work() {
            // Whether or not a transaction could start (Frozen pairs may be
            // waiting on their foundation), the next slot is one Ta away.
            self.send_paced(now);
            self.next_paced = Some(now + self.config.ta);
        }
        self.nominate(now);
        self.run_consent(now);
        self.update_gathering();
        self.update_state(now);
        self.release_idle_buffers();
    }

    /// Returns the buffers of finished work to the allocator, so that an
    /// idle agent holds no transactions or gathering queue.
    fn release_idle_buffers(&mut self) {
        if self.transactions.is_empty() && self.transactions.capacity() != 0 {
            self.transactions = Vec::new();
        }
        if self.gather_queue.is_empty() && self.gather_queue.capacity() != 0 {
            self.gather_queue = VecDeque::new();
        }
        if self.triggered.is_empty() && self.triggered.capacity() != 0 {
            self.triggered = VecDeque::new();
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self.transmits.pop_front();
        if t.is_none() && self.transmits.capacity() != 0 {
            // Only STUN goes through here: an idle agent keeps no buffer.
            self.transmits = VecDeque::new();
        }
        t
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        let e = self.events.pop_front();
        if e.is_none() && self.events.capacity() != 0 {
            self.events = VecDeque::new();
        }
        e
    }

    /// The next deadline at which [`IceAgent::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut at = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        // Deadlines at which only a state is re-evaluated count while they
        // are in the future; once passed, handle_timeout has acted on them.
        let last = self.last_now;
        let future = |t: Instant, at: &mut dyn FnMut(Instant)| {
            if last.is_none_or(|l| t > l) {
                at(t);
            }
        };
        for t in &self.transactions {
            at(t.next_at);
        }
        if self.has_paced_work() {
            if let Some(t) = self.next_paced.or(self.last_now) {
                at(t);
            }
        }
        if self.role == IceRole::Controlling && !self.config.lite {
            for (c, first) in self.first_valid_at.iter().enumerate() {
                let component = u16::try_from(c + 1).unwrap_or(u16::MAX);
                if let Some(f) = first {
                    if self.nominating.get(c).is_some_and(|n| n.is_none())
                        && !self.component_done(component)
                    {
                        future(*f + self.config.nomination_timeout, &mut at);
                    }
                }
            }
        }
        for s in self.selected.iter().flatten() {
            if self.remote_creds.is_some() && !self.config.lite && !self.consent_lost {
                at(s.next_consent);
                future(
                    s.last_consent_response + self.config.disconnected_timeout,
                    &mut at,
                );
                future(
                    s.last_consent_response + self.config.consent_timeout,
                    &mut at,
                );
            }
            at(s.last_sent + self.config.keepalive_interval);
        }
        next
    }

    /// ICE restart (RFC 8445 §9): new local credentials, the peer's
    /// candidates and all pairs dropped, server-reflexive gathering redone.
    /// The selected pair keeps carrying data until a new one is selected.
    /// Returns the new credentials to signal.
    pub fn restart(&mut self, now: Instant) -> Credentials {
        self.touch(now);
        self.local_creds = Credentials::random(&mut *self.rng);
        self.local_key = IntegrityKey::short_term(&self.local_creds.pwd);
        self.reset_remote(now);
        self.remote_creds = None;
        self.remote_key = None;
        self.consent_lost = false;
        // Re-gather server-reflexive candidates and re-announce the locals.
        self.locals
            .retain(|l| matches!(l.cand.kind, CandidateKind::Host | CandidateKind::Relayed));
        self.gather_queue.clear();
        self.transactions.clear();
        self.gathering = IceGatheringState::New;
        let locals: Vec<Candidate> = self.locals.iter().map(|l| l.cand.clone()).collect();
        for c in locals {
            self.emit(IceEvent::LocalCandidate(c));
        }
        if !self.config.lite {
            for l in self.locals.clone() {
                if l.cand.kind != CandidateKind::Host {
                    continue;
                }
                for server in self.config.stun_servers.clone() {
                    if server.is_ipv4() == l.addr.is_ipv4() {
                        self.gather_queue.push_back((l.addr, server));
                    }
                }
            }
        }
        self.update_gathering();
        self.update_state(now);
        self.local_creds.clone()
    }

    /// Closes the agent: no more transmissions, state Closed.
    pub fn close(&mut self) {
        self.closed = true;
        self.transmits.clear();
        self.transactions.clear();
        if self.state != IceConnectionState::Closed {
            self.state = IceConnectionState::Closed;
            self.emit(IceEvent::ConnectionStateChange(IceConnectionState::Closed));
        }
    }

    // ------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------

    fn check_usable(&self, component: u16) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        if component == 0 || component > self.config.components {
            return Err(Error::NoSuchComponent(component));
        }
        Ok(())
    }

    fn touch(&mut self, now: Instant) {
        self.last_now = Some(self.last_now.map_or(now, |t| t.max(now)));
    }

    fn emit(&mut self, e: IceEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
            self.stats.events_dropped += 1;
        }
        self.events.push_back(e);
    }

    fn send(&mut self, source: SocketAddr, destination: SocketAddr, payload: Vec<u8>) {
        if self.transmits.len() >= MAX_TRANSMITS {
            self.transmits.pop_front();
        }
        self.transmits.push_back(Transmit {
            source,
            destination,
            payload,
        });
    }

    /// Drops everything learned from the peer (its restart or ours).
    fn reset_remote(&mut self, now: Instant) {
        self.remotes.clear();
        self.pairs.clear();
        self.triggered.clear();
        self.transactions
            .retain(|t| matches!(t.kind, TxKind::Gather { .. }));
        self.locals
            .retain(|l| l.cand.kind != CandidateKind::PeerReflexive);
        self.pending_mdns.clear();
        self.remote_eoc = false;
        self.consent_lost = false;
        for n in &mut self.nominating {
            *n = None;
        }
        for f in &mut self.first_valid_at {
            *f = None;
        }
        for s in self.selected.iter_mut().flatten() {
            s.index = None;
            s.last_consent_response = now;
        }
    }

    fn has_paced_work(&self) -> bool {
        if self.closed {
            return false;
        }
        if !self.gather_queue.is_empty() {
            return true;
        }
        if self.config.lite || self.remote_creds.is_none() {
            return false;
        }
        if self.transactions.len() >= MAX_TRANSACTIONS {
            return false;
        }
        if !self.triggered.is_empty() {
            return true;
        }
        // A Waiting pair, or a Frozen one that send_paced would unfreeze
        // (no pair of its foundation Waiting or In-Progress). Frozen pairs
        // held by a running check cause no wake-ups.
        self.pairs.iter().any(|p| {
            !self.component_done(p.component)
                && match p.state {
                    PairState::Waiting => true,
                    PairState::Frozen => !self.pairs.iter().any(|q| {
                        q.foundation == p.foundation
                            && matches!(q.state, PairState::Waiting | PairState::InProgress)
                    }),
                    _ => false,
                }
        })
    }

    /// Starts one new transaction, the one Ta allows (RFC 8445 §6.1.4.2):
    /// gathering first, then the triggered-check queue, then the
    /// highest-priority Waiting pair (unfreezing one per foundation if none).
    fn send_paced(&mut self, now: Instant) -> bool {
        if self.transactions.len() >= MAX_TRANSACTIONS {
            return false;
        }
        if let Some((base, server)) = self.gather_queue.pop_front() {
            self.send_gather(now, base, server);
            return true;
        }
        if self.config.lite || self.remote_creds.is_none() {
            return false;
        }
        while let Some((pair, nominate)) = self.triggered.pop_front() {
            if self.pairs.get(pair).is_some() {
                self.send_check(now, pair, nominate);
                return true;
            }
        }
        let pick = |s: &Self| {
            s.pairs
                .iter()
                .enumerate()
                .filter(|(_, p)| p.state == PairState::Waiting && !s.component_done(p.component))
                .max_by_key(|(_, p)| s.priority_of(p))
                .map(|(i, _)| i)
        };
        let mut chosen = pick(self);
        if chosen.is_none() {
            // Unfreeze the best Frozen pair of each foundation that has no
            // pair Waiting or In-Progress.
            let mut order: Vec<usize> = (0..self.pairs.len())
                .filter(|&i| {
                    self.pairs.get(i).is_some_and(|p| {
                        p.state == PairState::Frozen && !self.component_done(p.component)
                    })
                })
                .collect();
            order.sort_by_key(|&i| {
                std::cmp::Reverse(self.pairs.get(i).map_or(0, |p| self.priority_of(p)))
            });
            for i in order {
                let Some(f) = self.pairs.get(i).map(|p| p.foundation.clone()) else {
                    continue;
                };
                let busy = self.pairs.iter().any(|p| {
                    p.foundation == f
                        && matches!(p.state, PairState::Waiting | PairState::InProgress)
                });
                if !busy {
                    if let Some(p) = self.pairs.get_mut(i) {
                        p.state = PairState::Waiting;
                    }
                }
            }
            chosen = pick(self);
        }
        match chosen {
            Some(i) => {
                self.send_check(now, i, false);
                true
            }
            None => false,
        }
    }

    fn new_tid(&mut self) -> TransactionId {
        let mut b = [0u8; 12];
        self.rng.fill_bytes(&mut b);
        TransactionId::new(b)
    }

    fn send_gather(&mut self, now: Instant, base: SocketAddr, server: SocketAddr) {
        let id = self.new_tid();
        let mut buf = [0u8; BUF];
        let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, id);
        b.add_fingerprint();
        let Ok(bytes) = b.finish() else { return };
        let payload = bytes.to_vec();
        self.start_transaction(
            now,
            id,
            TxKind::Gather { base, server },
            base,
            server,
            payload,
            self.config.max_transmissions,
            0,
        );
    }

    /// The ICE request for `pair` (RFC 8445 §7.2.2): USERNAME, PRIORITY,
    /// ICE-CONTROLLING/CONTROLLED, USE-CANDIDATE when nominating,
    /// MESSAGE-INTEGRITY with the peer's password, FINGERPRINT.
    fn build_request(
        &mut self,
        id: TransactionId,
        local: usize,
        component: u16,
        use_candidate: bool,
    ) -> Option<(Vec<u8>, u32)> {
        let creds = self.remote_creds.as_ref()?;
        let l = self.locals.get(local)?;
        let prio = candidate_priority(CandidateKind::PeerReflexive, l.local_pref, component);
        let username = format!("{}:{}", creds.ufrag, self.local_creds.ufrag);
        let key = self.remote_key.as_ref()?;
        let mut buf = [0u8; BUF];
        let mut b = MessageBuilder::new(&mut buf, Class::Request, Method::BINDING, id);
        b.add(&Username(&username)).add(&Priority(prio));
        match self.role {
            IceRole::Controlling => {
                b.add(&IceControlling(self.tiebreaker));
                if use_candidate {
                    b.add(&UseCandidate);
                }
            }
            IceRole::Controlled => {
                b.add(&IceControlled(self.tiebreaker));
            }
        }
        b.add_message_integrity(key).add_fingerprint();
        let bytes = b.finish().ok()?;
        Some((bytes.to_vec(), prio))
    }

    fn send_check(&mut self, now: Instant, pair: usize, nominate: bool) {
        let Some(p) = self.pairs.get(pair) else {
            return;
        };
        let (local, remote, component) = (p.local, p.remote, p.component);
        let (Some(l), Some(r)) = (self.locals.get(local), self.remotes.get(remote)) else {
            return;
        };
        let (source, destination) = (l.base, r.addr);
        let use_candidate = nominate && self.role == IceRole::Controlling;
        let id = self.new_tid();
        let Some((payload, prio)) = self.build_request(id, local, component, use_candidate) else {
            return;
        };
        // A check already in flight for the pair is cancelled (RFC 8445 §7.2.5.4).
        for t in &mut self.transactions {
            if matches!(t.kind, TxKind::Check { pair: q, .. } if q == pair) {
                t.cancelled = true;
            }
        }
        if let Some(p) = self.pairs.get_mut(pair) {
            if p.state != PairState::Succeeded {
                p.state = PairState::InProgress;
            }
        }
        self.start_transaction(
            now,
            id,
            TxKind::Check {
                pair,
                use_candidate,
            },
            source,
            destination,
            payload,
            self.config.max_transmissions,
            prio,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn start_transaction(
        &mut self,
        now: Instant,
        id: TransactionId,
        kind: TxKind,
        source: SocketAddr,
        destination: SocketAddr,
        payload: Vec<u8>,
        max_transmissions: u32,
        priority: u32,
    ) {
        // RFC 8445 §14.3: RTO = MAX(500 ms, Ta * (Waiting + In-Progress)),
        // with the configured floor.
        let active = self
            .pairs
            .iter()
            .filter(|p| matches!(p.state, PairState::Waiting | PairState::InProgress))
            .count();
        let rto = self
            .config
            .rto
            .max(self.config.ta * u32::try_from(active).unwrap_or(u32::MAX / 2).min(100))
            .min(self.config.max_rto.max(self.config.rto));
        self.count_request(kind, now);
        self.send(source, destination, payload.clone());
        push_compact(
            &mut self.transactions,
            Transaction {
                id,
                kind,
                payload,
                source,
                destination,
                first_sent: now,
                last_sent: now,
                next_at: now + rto,
                rto,
                transmissions: 1,
                max_transmissions: max_transmissions.max(1),
                cancelled: false,
                role: self.role,
                priority,
            },
        );
    }

    fn count_request(&mut self, kind: TxKind, now: Instant) {
        let pair = match kind {
            TxKind::Check { pair, .. } => Some(pair),
            TxKind::Consent { component } => self
                .selected
                .get(usize::from(component) - 1)
                .and_then(|s| s.as_ref())
                .and_then(|s| s.index),
            TxKind::Gather { .. } => None,
        };
        if let Some(p) = pair.and_then(|i| self.pairs.get_mut(i)) {
            p.counters.requests_sent += 1;
            p.counters.last_request_sent = Some(now);
            if matches!(kind, TxKind::Consent { .. }) {
                p.counters.consent_requests_sent += 1;
            }
        }
        if let TxKind::Check { .. } | TxKind::Consent { .. } = kind {
            let base = match kind {
                TxKind::Check { pair, .. } => self
                    .pairs
                    .get(pair)
                    .and_then(|p| self.locals.get(p.local))
                    .map(|l| l.base),
                _ => None,
            };
            for s in self.selected.iter_mut().flatten() {
                if Some(s.pair.source) == base
                    || matches!(kind, TxKind::Consent { component } if component == s.pair.component)
                {
                    s.last_sent = now;
                }
            }
        }
    }

    /// Retransmits due requests and fails those out of transmissions.
    fn run_transactions(&mut self, now: Instant) {
        let mut resend = Vec::new();
        let mut failed = Vec::new();
        let max_rto = self.config.max_rto.max(self.config.rto);
        self.transactions.retain_mut(|t| {
            if t.next_at > now {
                return true;
            }
            if t.cancelled || t.transmissions >= t.max_transmissions {
                if !t.cancelled {
                    failed.push(t.kind);
                }
                return false;
            }
            t.transmissions += 1;
            t.last_sent = now;
            t.rto = (t.rto * 2).min(max_rto);
            // After the last transmission, wait one (capped) RTO more.
            t.next_at = now + t.rto;
            resend.push((t.kind, t.source, t.destination, t.payload.clone()));
            true
        });
        for (kind, s, d, p) in resend {
            self.count_request(kind, now);
            self.send(s, d, p);
        }
        for kind in failed {
            match kind {
                TxKind::Check { pair, .. } => self.pair_failed(pair),
                TxKind::Gather { .. } | TxKind::Consent { .. } => {}
            }
        }
    }

    fn pair_failed(&mut self, pair: usize) {
        // Another transaction (a newer triggered check) may still be running.
        let other = self
            .transactions
            .iter()
            .any(|t| !t.cancelled && matches!(t.kind, TxKind::Check { pair: q, .. } if q == pair));
        let queued = self.triggered.iter().any(|(q, _)| *q == pair);
        if other || queued {
            return;
        }
        if let Some(p) = self.pairs.get_mut(pair) {
            if !p.valid {
                p.state = PairState::Failed;
            }
            let c = usize::from(p.component) - 1;
            if self.nominating.get(c).copied().flatten() == Some(pair) {
                if let Some(n) = self.nominating.get_mut(c) {
                    *n = None;
                }
                // A nomination that failed leaves the pair unusable.
                p.state = PairState::Failed;
                p.valid = false;
            }
        }
    }

    // ------------------------------------------------------------------
    // Requests (RFC 8445 §7.3)
    // ------------------------------------------------------------------

    fn handle_request(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        msg: &Message<'_>,
    ) {
        let Some(local) = self.locals.iter().position(|l| {
            l.base == destination
                && matches!(l.cand.kind, CandidateKind::Host | CandidateKind::Relayed)
        }) else {
            self.stats.unknown_destination += 1;
            return;
        };
        let tid = msg.transaction_id();
        // RFC 8489 §9.1.3: no USERNAME or MESSAGE-INTEGRITY -> 400.
        let username = match msg.get::<Username>() {
            Ok(u) => u,
            Err(_) => {
                self.stats.unauthenticated += 1;
                self.send_error(destination, source, tid, 400, false);
                return;
            }
        };
        if !msg.has_message_integrity() && !msg.has_message_integrity_sha256() {
            self.stats.unauthenticated += 1;
            self.send_error(destination, source, tid, 400, false);
            return;
        }
        // USERNAME is "<our ufrag>:<their ufrag>" (RFC 8445 §7.3).
        let mut parts = username.as_str().splitn(2, ':');
        let ours = parts.next().unwrap_or("");
        let theirs = parts.next();
        let their_ok = match (&self.remote_creds, theirs) {
            (_, None) => false,
            (Some(c), Some(t)) => c.ufrag == t,
            (None, Some(_)) => true,
        };
        if ours != self.local_creds.ufrag || !their_ok {
            self.stats.unauthenticated += 1;
            self.send_error(destination, source, tid, 401, false);
            return;
        }
        let key = self.local_key.clone();
        if msg.verify_integrity(&key).is_err() {
            self.stats.unauthenticated += 1;
            self.send_error(destination, source, tid, 401, false);
            return;
        }
        let unknown: Vec<AttributeType> = msg.unknown_comprehension_required().take(8).collect();
        if !unknown.is_empty() {
            self.send_unknown(destination, source, tid, &unknown);
            return;
        }
        let Ok(Priority(prio)) = msg.get::<Priority>() else {
            self.send_error(destination, source, tid, 400, true);
            return;
        };

        // Role conflict (RFC 8445 §7.3.1.1).
        if !self.config.lite || self.remote_lite {
            match (
                self.role,
                msg.get::<IceControlling>(),
                msg.get::<IceControlled>(),
            ) {
                (IceRole::Controlling, Ok(IceControlling(t)), _) => {
                    self.stats.role_conflicts += 1;
                    if self.tiebreaker >= t {
                        self.send_error(destination, source, tid, 487, true);
                        return;
                    }
                    self.set_role(IceRole::Controlled);
                }
                (IceRole::Controlled, _, Ok(IceControlled(t))) => {
                    self.stats.role_conflicts += 1;
                    if self.tiebreaker >= t {
                        self.set_role(IceRole::Controlling);
                    } else {
                        self.send_error(destination, source, tid, 487, true);
                        return;
                    }
                }
                _ => {}
            }
        }

        // Success response with XOR-MAPPED-ADDRESS (RFC 8445 §7.3.1.2).
        let mut buf = [0u8; BUF];
        let mut b = MessageBuilder::new(&mut buf, Class::SuccessResponse, Method::BINDING, tid);
        b.add(&XorMappedAddress(source))
            .add_message_integrity(&key)
            .add_fingerprint();
        if let Ok(bytes) = b.finish() {
            let bytes = bytes.to_vec();
            self.send(destination, source, bytes);
        }

        // The remote candidate, peer-reflexive if unknown (§7.3.1.3).
        let component = self.locals.get(local).map_or(1, |l| l.cand.component);
        let remote = match self
            .remotes
            .iter()
            .position(|r| r.addr == source && r.cand.component == component)
        {
            Some(r) => r,
            None => {
                if self.remotes.len() >= self.config.max_remote_candidates {
                    return;
                }
                self.prflx_counter = self.prflx_counter.wrapping_add(1);
                let cand = Candidate::new(
                    CandidateKind::PeerReflexive,
                    component,
                    source,
                    prio,
                    format!("prflx{}", self.prflx_counter),
                    None,
                );
                self.stats.peer_reflexive_learned += 1;
                push_compact(&mut self.remotes, RemoteCand { cand, addr: source });
                let r = self.remotes.len() - 1;
                if !self.config.lite {
                    for l in 0..self.locals.len() {
                        self.add_pair(l, r);
                    }
                }
                r
            }
        };
        let use_candidate = msg.get::<UseCandidate>().is_ok();

        if self.config.lite {
            // A lite agent forms the pair from the check and takes the
            // controlling agent's nomination as is (RFC 8445 §7.3.1.5).
            let pair = match self.find_pair_idx(local, remote) {
                Some(p) => Some(p),
                None => self.force_pair(local, remote),
            };
            if let Some(pi) = pair {
                if let Some(p) = self.pairs.get_mut(pi) {
                    p.counters.requests_received += 1;
                    p.counters.responses_sent += 1;
                    p.state = PairState::Succeeded;
                    p.valid = true;
                    if use_candidate {
                        p.nominated = true;
                    }
                }
                if use_candidate {
                    self.select(now, pi);
                }
            }
            return;
        }

        let Some(pair) = self.find_pair(destination, source) else {
            return;
        };
        if let Some(p) = self.pairs.get_mut(pair) {
            p.counters.requests_received += 1;
            p.counters.responses_sent += 1;
        }
        // Triggered check (RFC 8445 §7.3.1.4).
        let state = self.pairs.get(pair).map(|p| p.state);
        match state {
            Some(PairState::Succeeded) => {}
            Some(PairState::InProgress) => {
                for t in &mut self.transactions {
                    if matches!(t.kind, TxKind::Check { pair: q, .. } if q == pair) {
                        t.cancelled = true;
                    }
                }
                self.enqueue_triggered(pair, false);
            }
            Some(_) => self.enqueue_triggered(pair, false),
            None => {}
        }
        // Nomination by the controlling peer (RFC 8445 §7.3.1.5).
        if use_candidate && self.role == IceRole::Controlled {
            let succeeded = self.pairs.get(pair).is_some_and(|p| p.valid);
            if succeeded {
                if let Some(p) = self.pairs.get_mut(pair) {
                    p.nominated = true;
                }
                self.select(now, pair);
            } else if let Some(p) = self.pairs.get_mut(pair) {
                p.nominate_on_success = true;
            }
        }
    }

    fn find_pair_idx(&self, local: usize, remote: usize) -> Option<usize> {
        self.pairs
            .iter()
            .position(|p| p.local == local && p.remote == remote)
    }

    /// A pair for a lite agent, outside the checklist rules.
    fn force_pair(&mut self, local: usize, remote: usize) -> Option<usize> {
        if self.pairs.len() >= self.config.max_pairs {
            return None;
        }
        let l = self.locals.get(local)?;
        let r = self.remotes.get(remote)?;
        push_compact(
            &mut self.pairs,
            Pair {
                local,
                remote,
                component: l.cand.component,
                foundation: (l.cand.foundation.clone(), r.cand.foundation.clone()),
                state: PairState::Waiting,
                valid: false,
                nominated: false,
                nominate_on_success: false,
                mapped_local: None,
                counters: Counters::default(),
            },
        );
        Some(self.pairs.len() - 1)
    }

    fn enqueue_triggered(&mut self, pair: usize, nominate: bool) {
        if let Some(e) = self.triggered.iter_mut().find(|(p, _)| *p == pair) {
            e.1 |= nominate;
            return;
        }
        if self.triggered.len() >= self.config.max_pairs {
            return;
        }
        if let Some(p) = self.pairs.get_mut(pair) {
            if p.state != PairState::Succeeded {
                p.state = PairState::Waiting;
            }
        }
        self.triggered.push_back((pair, nominate));
    }

    fn send_error(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        tid: TransactionId,
        code: u16,
        integrity: bool,
    ) {
        let mut buf = [0u8; BUF];
        let mut b = MessageBuilder::new(&mut buf, Class::ErrorResponse, Method::BINDING, tid);
        b.add(&ErrorCode::with_default_reason(code));
        if integrity {
            b.add_message_integrity(&self.local_key);
        }
        b.add_fingerprint();
        if let Ok(bytes) = b.finish() {
            let bytes = bytes.to_vec();
            self.send(from, to, bytes);
        }
    }

    fn send_unknown(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
        tid: TransactionId,
        unknown: &[AttributeType],
    ) {
        let mut buf = [0u8; BUF];
        let mut b = MessageBuilder::new(&mut buf, Class::ErrorResponse, Method::BINDING, tid);
        b.add(&ErrorCode::with_default_reason(420))
            .add(&UnknownAttributes::new(unknown))
            .add_fingerprint();
        if let Ok(bytes) = b.finish() {
            let bytes = bytes.to_vec();
            self.send(from, to, bytes);
        }
    }

    // ------------------------------------------------------------------
    // Responses (RFC 8445 §7.2.5)
    // ------------------------------------------------------------------

    fn handle_response(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        msg: &Message<'_>,
    ) {
        let tid = msg.transaction_id();
        let Some(ti) = self.transactions.iter().position(|t| t.id == tid) else {
            self.stats.unmatched_responses += 1;
            return;
        };
        let Some(tx) = self.transactions.get(ti).cloned() else {
            return;
        };
        match tx.kind {
            TxKind::Gather { base, server } => {
                if source != server {
                    self.stats.unmatched_responses += 1;
                    return;
                }
                self.transactions.remove(ti);
                if msg.class() == Class::SuccessResponse {
                    let mapped = msg
                        .get::<XorMappedAddress>()
                        .map(|a| a.0)
                        .or_else(|_| msg.get::<MappedAddress>().map(|a| a.0));
                    if let Ok(mapped) = mapped {
                        self.add_srflx(base, mapped, server);
                    }
                }
                self.update_gathering();
            }
            TxKind::Check {
                pair,
                use_candidate,
            } => {
                let Some(key) = self.remote_key.as_ref() else {
                    return;
                };
                if msg.verify_integrity(key).is_err() {
                    // Unauthenticated responses are ignored, not fatal (§7.2.5.1).
                    self.stats.unauthenticated += 1;
                    return;
                }
                self.transactions.remove(ti);
                self.check_response(now, tx, pair, use_candidate, source, destination, msg);
            }
            TxKind::Consent { component } => {
                let Some(key) = self.remote_key.as_ref() else {
                    return;
                };
                if msg.verify_integrity(key).is_err() {
                    self.stats.unauthenticated += 1;
                    return;
                }
                self.transactions.remove(ti);
                if msg.class() != Class::SuccessResponse
                    || source != tx.destination
                    || destination != tx.source
                {
                    return;
                }
                let rtt = now.saturating_duration_since(tx.first_sent);
                if let Some(s) = self
                    .selected
                    .get_mut(usize::from(component) - 1)
                    .and_then(|s| s.as_mut())
                {
                    if s.pair.destination == source && s.pair.source == destination {
                        s.last_consent_response = now;
                    }
                    if let Some(p) = s.index.and_then(|i| self.pairs.get_mut(i)) {
                        record_rtt(&mut p.counters, now, rtt);
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_response(
        &mut self,
        now: Instant,
        tx: Transaction,
        pair: usize,
        use_candidate: bool,
        source: SocketAddr,
        destination: SocketAddr,
        msg: &Message<'_>,
    ) {
        if let Some(p) = self.pairs.get_mut(pair) {
            record_rtt(
                &mut p.counters,
                now,
                now.saturating_duration_since(tx.first_sent),
            );
        }
        if msg.class() == Class::ErrorResponse {
            let code = msg.get::<ErrorCode>().map(|e| e.code).unwrap_or(0);
            if code == 487 {
                // Role conflict (RFC 8445 §7.2.5.1): switch if the request
                // carried our current role, then retry the pair.
                self.stats.role_conflicts += 1;
                if tx.role == self.role {
                    let new = match self.role {
                        IceRole::Controlling => IceRole::Controlled,
                        IceRole::Controlled => IceRole::Controlling,
                    };
                    self.set_role(new);
                }
                self.enqueue_triggered(pair, false);
            } else {
                self.pair_failed(pair);
            }
            return;
        }
        // Non-symmetric transport addresses fail the pair (§7.2.5.2.1).
        if source != tx.destination || destination != tx.source {
            self.pair_failed(pair);
            return;
        }
        let Ok(XorMappedAddress(mapped)) = msg.get::<XorMappedAddress>() else {
            self.pair_failed(pair);
            return;
        };
        // The valid pair's local candidate (§7.2.5.3.1): a known local
        // candidate with the mapped address, else a new peer-reflexive one.
        let Some(local) = self.pairs.get(pair).map(|p| p.local) else {
            return;
        };
        let base = match self.locals.get(local) {
            Some(l) => l.base,
            None => return,
        };
        let component = self.pairs.get(pair).map_or(1, |p| p.component);
        let mapped_local = match self
            .locals
            .iter()
            .position(|l| l.addr == mapped && l.base == base && l.cand.component == component)
        {
            Some(m) => Some(m),
            None if self.locals.len() < MAX_LOCAL_CANDIDATES * 2 => {
                let local_pref = self.locals.get(local).map_or(0, |l| l.local_pref);
                let cand = Candidate::new(
                    CandidateKind::PeerReflexive,
                    component,
                    mapped,
                    tx.priority,
                    compute_foundation(CandidateKind::PeerReflexive, base.ip(), None),
                    Some(base),
                );
                push_compact(
                    &mut self.locals,
                    LocalCand {
                        cand,
                        base,
                        addr: mapped,
                        local_pref,
                    },
                );
                Some(self.locals.len() - 1)
            }
            None => None,
        };
        let foundation = {
            let Some(p) = self.pairs.get_mut(pair) else {
                return;
            };
            p.state = PairState::Succeeded;
            p.valid = true;
            p.mapped_local = mapped_local.filter(|m| *m != local);
            p.foundation.clone()
        };
        // Unfreeze pairs of the same foundation (§7.2.5.3.3).
        for p in &mut self.pairs {
            if p.foundation == foundation && p.state == PairState::Frozen {
                p.state = PairState::Waiting;
            }
        }
        let c = usize::from(component) - 1;
        if let Some(f) = self.first_valid_at.get_mut(c) {
            f.get_or_insert(now);
        }
        // Nomination (§7.2.5.3.4).
        let nominated = match self.role {
            IceRole::Controlling => use_candidate,
            IceRole::Controlled => self.pairs.get(pair).is_some_and(|p| p.nominate_on_success),
        };
        if nominated {
            if let Some(p) = self.pairs.get_mut(pair) {
                p.nominated = true;
            }
            if let Some(n) = self.nominating.get_mut(c) {
                *n = None;
            }
            self.select(now, pair);
        }
        self.nominate(now);
    }

    fn add_srflx(&mut self, base: SocketAddr, mapped: SocketAddr, server: SocketAddr) {
        // Redundant candidates (same address and base) are dropped (§5.1.3).
        if self
            .locals
            .iter()
            .any(|l| l.addr == mapped && l.base == base)
        {
            return;
        }
        if self.locals.len() >= MAX_LOCAL_CANDIDATES {
            return;
        }
        let Some(host) = self
            .locals
            .iter()
            .find(|l| l.addr == base && l.cand.kind == CandidateKind::Host)
            .cloned()
        else {
            return;
        };
        let component = host.cand.component;
        let cand = Candidate::new(
            CandidateKind::ServerReflexive,
            component,
            mapped,
            candidate_priority(CandidateKind::ServerReflexive, host.local_pref, component),
            compute_foundation(CandidateKind::ServerReflexive, base.ip(), Some(server.ip())),
            Some(base),
        );
        push_compact(
            &mut self.locals,
            LocalCand {
                cand: cand.clone(),
                base,
                addr: mapped,
                local_pref: host.local_pref,
            },
        );
        self.emit(IceEvent::LocalCandidate(cand));
    }

    // ------------------------------------------------------------------
    // Nomination and selection
    // ------------------------------------------------------------------

    /// Regular nomination (RFC 8445 §8.1.1): once the best valid pair of a
    /// component cannot be beaten by a pair still being checked, or after
    /// `nomination_timeout`, check it again with USE-CANDIDATE.
    fn nominate(&mut self, now: Instant) {
        if self.role != IceRole::Controlling || self.config.lite || self.remote_creds.is_none() {
            return;
        }
        for c in 1..=self.config.components {
            let ci = usize::from(c) - 1;
            if self.component_done(c) || self.nominating.get(ci).copied().flatten().is_some() {
                continue;
            }
            let best = self
                .pairs
                .iter()
                .enumerate()
                .filter(|(_, p)| p.component == c && p.valid && p.state == PairState::Succeeded)
                .max_by_key(|(_, p)| self.priority_of(p))
                .map(|(i, p)| (i, self.priority_of(p)));
            let Some((best, best_prio)) = best else {
                continue;
            };
            let better_pending = self.pairs.iter().any(|p| {
                p.component == c
                    && matches!(
                        p.state,
                        PairState::Frozen | PairState::Waiting | PairState::InProgress
                    )
                    && self.priority_of(p) > best_prio
            });
            let waited = self
                .first_valid_at
                .get(ci)
                .copied()
                .flatten()
                .is_some_and(|f| now >= f + self.config.nomination_timeout);
            if !better_pending || waited {
                if let Some(n) = self.nominating.get_mut(ci) {
                    *n = Some(best);
                }
                self.enqueue_triggered(best, true);
            }
        }
    }

    fn select(&mut self, now: Instant, pair: usize) {
        // Lost consent is final for this ICE generation (RFC 7675 §5.1):
        // only a restart selects again.
        if self.consent_lost {
            return;
        }
        let Some(p) = self.pairs.get(pair) else {
            return;
        };
        let c = usize::from(p.component) - 1;
        // Among nominated pairs the highest priority wins (§8.1.1).
        if let Some(Some(cur)) = self.selected.get(c) {
            if let Some(cur_pair) = cur.index.and_then(|i| self.pairs.get(i)) {
                if cur.index == Some(pair) || self.priority_of(cur_pair) > self.priority_of(p) {
                    return;
                }
            }
        }
        let (Some(l), Some(r)) = (self.locals.get(p.local), self.remotes.get(p.remote)) else {
            return;
        };
        let local = p
            .mapped_local
            .and_then(|m| self.locals.get(m))
            .unwrap_or(l)
            .cand
            .clone();
        let sp = SelectedPair {
            component: p.component,
            local,
            remote: r.cand.clone(),
            source: l.base,
            destination: r.addr,
        };
        let jitter = self.consent_jitter();
        let sel = Selected {
            pair: sp.clone(),
            index: Some(pair),
            next_consent: now + jitter,
            last_consent_response: now,
            last_sent: now,
        };
        if let Some(slot) = self.selected.get_mut(c) {
            *slot = Some(sel);
        }
        self.emit(IceEvent::SelectedPairChange {
            component: sp.component,
            pair: Some(Box::new(sp)),
        });
        // Once nominated, lower-priority checks of the component stop (§8.1.2).
        let prio = self.pairs.get(pair).map_or(0, |p| self.priority_of(p));
        let component = c + 1;
        let lower: Vec<usize> = self
            .pairs
            .iter()
            .enumerate()
            .filter(|(_, q)| {
                usize::from(q.component) == component
                    && q.state == PairState::InProgress
                    && self.priority_of(q) < prio
            })
            .map(|(i, _)| i)
            .collect();
        for t in &mut self.transactions {
            if matches!(t.kind, TxKind::Check { pair: q, use_candidate: false } if lower.contains(&q))
            {
                t.cancelled = true;
            }
        }
    }

    fn consent_jitter(&mut self) -> Duration {
        // RFC 7675 §5.1: uniformly 0.8..1.2 of the interval.
        let f: f64 = self.rng.gen_range(0.8..1.2);
        self.config.consent_interval.mul_f64(f)
    }

    // ------------------------------------------------------------------
    // Consent freshness (RFC 7675) and keepalives (RFC 8445 §11)
    // ------------------------------------------------------------------

    fn run_consent(&mut self, now: Instant) {
        let mut to_check = Vec::new();
        let mut lost = false;
        let mut keepalive = Vec::new();
        let creds = self.remote_creds.is_some();
        for s in self.selected.iter_mut().flatten() {
            if creds && !self.config.lite && !self.consent_lost {
                if now >= s.last_consent_response + self.config.consent_timeout {
                    lost = true;
                    continue;
                }
                if now >= s.next_consent {
                    to_check.push(s.pair.component);
                }
            }
            if now >= s.last_sent + self.config.keepalive_interval {
                s.last_sent = now;
                keepalive.push((s.pair.source, s.pair.destination));
            }
        }
        if lost {
            // Consent expired: stop sending (RFC 7675 §5.1); the agent fails.
            self.consent_lost = true;
            for c in 0..self.selected.len() {
                if let Some(slot) = self.selected.get_mut(c) {
                    if slot.take().is_some() {
                        self.emit(IceEvent::SelectedPairChange {
                            component: u16::try_from(c + 1).unwrap_or(u16::MAX),
                            pair: None,
                        });
                    }
                }
            }
            return;
        }
        for component in to_check {
            let jitter = self.consent_jitter();
            let Some(s) = self
                .selected
                .get_mut(usize::from(component) - 1)
                .and_then(|s| s.as_mut())
            else {
                continue;
            };
            s.next_consent = now + jitter;
            let (src, dst) = (s.pair.source, s.pair.destination);
            let base_local = self.locals.iter().position(|l| {
                l.base == src && matches!(l.cand.kind, CandidateKind::Host | CandidateKind::Relayed)
            });
            let Some(local) = base_local else { continue };
            let id = self.new_tid();
            let Some((payload, prio)) = self.build_request(id, local, component, false) else {
                continue;
            };
            if self.transactions.len() >= MAX_TRANSACTIONS {
                continue;
            }
            self.count_request(TxKind::Consent { component }, now);
            self.send(src, dst, payload.clone());
            // Retransmitted like any STUN request over UDP (RFC 7675 §5.1
            // defers to RFC 8489's timers); its timeout is not itself a
            // failure: only the 30 s without any response is.
            let rto = self.config.rto;
            push_compact(
                &mut self.transactions,
                Transaction {
                    id,
                    kind: TxKind::Consent { component },
                    payload,
                    source: src,
                    destination: dst,
                    first_sent: now,
                    last_sent: now,
                    next_at: now + rto,
                    rto,
                    transmissions: 1,
                    max_transmissions: self.config.max_transmissions,
                    cancelled: false,
                    role: self.role,
                    priority: prio,
                },
            );
        }
        for (src, dst) in keepalive {
            let id = self.new_tid();
            let mut buf = [0u8; BUF];
            let mut b = MessageBuilder::new(&mut buf, Class::Indication, Method::BINDING, id);
            b.add_fingerprint();
            if let Ok(bytes) = b.finish() {
                let bytes = bytes.to_vec();
                self.send(src, dst, bytes);
            }
        }
    }

    // ------------------------------------------------------------------
    // States
    // ------------------------------------------------------------------

    fn update_gathering(&mut self) {
        let gathering_tx = self
            .transactions
            .iter()
            .any(|t| matches!(t.kind, TxKind::Gather { .. }));
        let new = if self.locals.is_empty() && !self.local_candidates_done {
            IceGatheringState::New
        } else if self.local_candidates_done && !gathering_tx && self.gather_queue.is_empty() {
            IceGatheringState::Complete
        } else {
            IceGatheringState::Gathering
        };
        if new != self.gathering {
            self.gathering = new;
            self.emit(IceEvent::GatheringStateChange(new));
            if new == IceGatheringState::Complete {
                self.emit(IceEvent::GatheringComplete);
            }
        }
    }

    fn update_state(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        let new = self.compute_state(now);
        if new != self.state {
            self.state = new;
            self.emit(IceEvent::ConnectionStateChange(new));
        }
    }

    fn compute_state(&self, now: Instant) -> IceConnectionState {
        if self.consent_lost {
            return IceConnectionState::Failed;
        }
        let all_selected = self.selected.iter().all(|s| s.is_some());
        if all_selected {
            let stale = !self.config.lite
                && self.remote_creds.is_some()
                && self
                    .selected
                    .iter()
                    .flatten()
                    .any(|s| now >= s.last_consent_response + self.config.disconnected_timeout);
            if stale {
                return IceConnectionState::Disconnected;
            }
            let current = self.selected.iter().flatten().all(|s| s.index.is_some());
            if current && self.remote_eoc && self.gathering == IceGatheringState::Complete {
                return IceConnectionState::Completed;
            }
            return IceConnectionState::Connected;
        }
        let live = self.pairs.iter().any(|p| p.state != PairState::Failed);
        let waiting = !self.triggered.is_empty() || !self.pending_mdns.is_empty();
        // RFC 8838 §8: failure needs the remote's end-of-candidates and our own
        // gathering finished, since a late local candidate (a relay, say) still
        // forms new pairs.
        let gathered = self.gathering == IceGatheringState::Complete;
        if self.remote_eoc && gathered && !live && !waiting && !self.config.lite {
            return IceConnectionState::Failed;
        }
        if !self.pairs.is_empty() || (self.remote_creds.is_some() && !self.remotes.is_empty()) {
            return IceConnectionState::Checking;
        }
        if self.config.lite && self.remote_creds.is_some() {
            return IceConnectionState::Checking;
        }
        IceConnectionState::New
    }
}

fn record_rtt(c: &mut Counters, now: Instant, rtt: Duration) {
    c.responses_received += 1;
    c.current_rtt = Some(rtt);
    c.total_rtt += rtt;
    c.rtt_samples += 1;
    c.last_response_received = Some(now);
}

/// Pushes with capacity growing 1, 2, 4, ... instead of starting at four:
/// an agent usually holds one or two candidates, pairs and transactions,
/// whose entries are large.
fn push_compact<T>(v: &mut Vec<T>, x: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len().max(1));
    }
    v.push(x);
}
