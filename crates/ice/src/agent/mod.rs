//! The ICE agent (RFC 8445) with trickle (RFC 8838) and consent freshness
//! (RFC 7675).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use fulmar_stun::attributes::{
    ErrorCode, IceControlled, IceControlling, MappedAddress, Priority, UnknownAttributes,
    UseCandidate, Username, XorMappedAddress,
};
use fulmar_stun::transaction::{ClientTransaction, TransactionConfig};
use fulmar_stun::{
    classify, AttributeType, Class, IntegrityKey, Message, MessageBuilder, Method, PacketKind,
    TransactionId, Transmit,
};
use rand::{Rng, RngCore};

use crate::candidate::{
    candidate_priority, compute_foundation, compute_relay_foundation, is_known_type, pair_priority,
    Candidate, CandidateAddress, CandidateType, RelayProtocol, Transport,
};
use crate::types::{
    AgentStats, Credentials, IceConfig, IceConnectionState, IceEvent, IceGatheringState, IceRole,
    MdnsResolution, MdnsResolver, PairState, PairStats, SelectedPair,
};
use crate::Error;
use transmit::Outgoing;

mod candidates;
mod checklist;
mod consent;
mod nomination;
mod request;
mod response;
mod transmit;

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
/// How long a peer that hides its addresses behind mDNS names this agent
/// cannot resolve is waited for after its end-of-candidates: its checks
/// are the only way to learn its address (peer-reflexive, RFC 8445
/// §7.3.1.3), so having no pair yet is not a failure until then.
const HIDDEN_PEER_GRACE: Duration = Duration::from_secs(10);
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
    /// Signalled to the peer: false for a host candidate whose address a
    /// public address replaces ([`IceConfig::public_addresses`]); it still
    /// forms pairs and answers checks as the base.
    advertised: bool,
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
    /// When to retransmit and when to give up (fulmar-stun's RFC 8489 timer).
    timer: ClientTransaction,
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
    /// When a remote candidate behind an mDNS name first went unresolved
    /// (see [`HIDDEN_PEER_GRACE`]).
    hidden_peer_since: Option<Instant>,
    resolver: Option<Box<dyn MdnsResolver>>,
    selected: Vec<Option<Selected>>,
    nominating: Vec<Option<usize>>,
    first_valid_at: Vec<Option<Instant>>,
    consent_lost: bool,
    closed: bool,
    state: IceConnectionState,
    next_paced: Option<Instant>,
    last_now: Option<Instant>,
    transmits: VecDeque<transmit::Queued>,
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
            hidden_peer_since: None,
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
            .filter(|l| l.advertised && l.cand.typ != CandidateType::PeerReflexive)
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
                    local_type: l.cand.typ.clone(),
                    remote_type: r.cand.typ.clone(),
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
            if let Some(d) = t.timer.poll_timeout() {
                at(d);
            }
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
        if !self.selected.iter().all(|s| s.is_some()) {
            if let Some(t) = self.hidden_peer_deadline() {
                future(t, &mut at);
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
            .retain(|l| matches!(l.cand.typ, CandidateType::Host | CandidateType::Relay));
        self.gather_queue.clear();
        self.transactions.clear();
        self.gathering = IceGatheringState::New;
        let locals: Vec<Candidate> = self
            .locals
            .iter()
            .filter(|l| l.advertised)
            .map(|l| l.cand.clone())
            .collect();
        for c in locals {
            self.emit(IceEvent::LocalCandidate(c));
        }
        if !self.config.lite {
            for l in self.locals.clone() {
                // Host candidates that are their own base (not the public
                // addresses that stand for them).
                if l.cand.typ != CandidateType::Host || l.addr != l.base {
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

    /// Until when a peer hiding behind unresolved mDNS names is waited for.
    fn hidden_peer_deadline(&self) -> Option<Instant> {
        self.hidden_peer_since.map(|t| t + HIDDEN_PEER_GRACE)
    }

    /// Drops everything learned from the peer (its restart or ours).
    fn reset_remote(&mut self, now: Instant) {
        self.remotes.clear();
        self.pairs.clear();
        self.triggered.clear();
        self.transactions
            .retain(|t| matches!(t.kind, TxKind::Gather { .. }));
        self.locals
            .retain(|l| l.cand.typ != CandidateType::PeerReflexive);
        self.pending_mdns.clear();
        self.hidden_peer_since = None;
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
        let waiting = !self.triggered.is_empty()
            || !self.pending_mdns.is_empty()
            || self.hidden_peer_deadline().is_some_and(|t| now < t);
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
