//! The simulated network: zones, hosts, NATs, the event queue and the driver.

use std::any::Any;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::link::{Link, LinkDrop, LinkState};
use crate::nat::{Nat, NatConfig, NatDrop};

/// A UDP datagram with its transport addresses.
#[derive(Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Where it comes from; an unspecified IP (`0.0.0.0`, `::`) is filled in
    /// with the sending host's first address of the same family.
    pub source: SocketAddr,
    /// Where it goes.
    pub destination: SocketAddr,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

impl fmt::Debug for Datagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Datagram({} -> {}, {} bytes)",
            self.source,
            self.destination,
            self.payload.len()
        )
    }
}

/// A sans-IO endpoint the network can drive: the uniform verbs of
/// ARCHITECTURE.md. Wrap a protocol state machine in a small adapter that
/// implements this trait (and, if the test needs them, records events).
pub trait Endpoint: 'static {
    /// A datagram arrived for one of the host's addresses.
    fn handle_receive(&mut self, now: Instant, datagram: Datagram);
    /// The deadline returned by [`Endpoint::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram>;
    /// The next deadline at which `handle_timeout` must be called.
    fn poll_timeout(&mut self) -> Option<Instant>;
}

/// Object-safe endpoint with downcasting, so tests can get their concrete
/// type back.
trait AnyEndpoint {
    fn endpoint(&mut self) -> &mut dyn Endpoint;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Endpoint> AnyEndpoint for T {
    fn endpoint(&mut self) -> &mut dyn Endpoint {
        self
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A broadcast domain: hosts and NAT outsides that reach each other directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneId(usize);

/// The public Internet zone that exists in every network.
pub const INTERNET: ZoneId = ZoneId(0);

/// A host in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostId(usize);

/// A NAT box in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NatId(usize);

/// Any node with an access link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeId {
    /// A host.
    Host(HostId),
    /// A NAT box (its external side).
    Nat(NatId),
}

impl From<HostId> for NodeId {
    fn from(h: HostId) -> Self {
        NodeId::Host(h)
    }
}

impl From<NatId> for NodeId {
    fn from(n: NatId) -> Self {
        NodeId::Nat(n)
    }
}

/// Why a datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Random loss on a link (or a link that is down).
    Loss,
    /// A bandwidth-limited link's queue was full.
    QueueFull,
    /// No host or NAT owns the destination address.
    NoRoute,
    /// The source address does not belong to the sending host.
    BadSource,
    /// A NAT had no (live) mapping for the destination port.
    NoMapping,
    /// A NAT's filtering refused the sender.
    Filtered,
    /// A NAT with hairpinning off got a datagram for its own external address.
    HairpinDisabled,
    /// A NAT ran out of ports.
    PortsExhausted,
    /// IPv4 through an IPv6 NAT or the reverse.
    FamilyMismatch,
}

impl From<LinkDrop> for DropReason {
    fn from(d: LinkDrop) -> Self {
        match d {
            LinkDrop::Loss => DropReason::Loss,
            LinkDrop::QueueFull => DropReason::QueueFull,
        }
    }
}

impl From<NatDrop> for DropReason {
    fn from(d: NatDrop) -> Self {
        match d {
            NatDrop::NoMapping => DropReason::NoMapping,
            NatDrop::Filtered => DropReason::Filtered,
            NatDrop::HairpinDisabled => DropReason::HairpinDisabled,
            NatDrop::PortsExhausted => DropReason::PortsExhausted,
            NatDrop::FamilyMismatch => DropReason::FamilyMismatch,
        }
    }
}

/// Traffic counters of one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Datagrams the node sent (hosts) or forwarded (NATs).
    pub sent: u64,
    /// Datagrams delivered to the node's endpoint (hosts) or received on the
    /// external side (NATs).
    pub received: u64,
    /// Datagrams dropped at this node's link or NAT.
    pub dropped: u64,
}

/// One line of the optional trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEvent {
    /// A host handed a datagram to the network.
    Sent {
        /// Simulated time since start.
        at: Duration,
        /// The sender.
        host: HostId,
        /// Addresses and length.
        datagram: Datagram,
    },
    /// A datagram reached a host's endpoint.
    Delivered {
        /// Simulated time since start.
        at: Duration,
        /// The receiver.
        host: HostId,
        /// Addresses (after NAT translation) and length.
        datagram: Datagram,
    },
    /// A datagram was dropped.
    Dropped {
        /// Simulated time since start.
        at: Duration,
        /// Where (`None` when no node owns the destination).
        node: Option<NodeId>,
        /// Why.
        reason: DropReason,
        /// The datagram as it was when dropped.
        datagram: Datagram,
    },
}

struct Host {
    zone: ZoneId,
    addrs: Vec<IpAddr>,
    endpoint: Box<dyn AnyEndpoint>,
    link: Link,
    up: LinkState,
    down: LinkState,
    stats: NodeStats,
}

struct NatNode {
    /// The zone the external side lives in.
    parent: ZoneId,
    /// The zone behind the NAT.
    inside: ZoneId,
    nat: Nat,
    link: Link,
    up: LinkState,
    down: LinkState,
    stats: NodeStats,
}

#[derive(Default)]
struct Zone {
    hosts: BTreeMap<IpAddr, HostId>,
    nats: BTreeMap<IpAddr, NatId>,
    gateway: Option<NatId>,
}

enum Action {
    /// The datagram left a sender's uplink and is routed within a zone.
    Route(ZoneId),
    /// The datagram crossed a host's downlink.
    ArriveHost(HostId),
    /// The datagram crossed a NAT's downlink (external side).
    ArriveNatOutside(NatId),
}

struct Scheduled {
    at: Instant,
    seq: u64,
    action: Action,
    datagram: Datagram,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// How many rounds may run at one instant before the driver declares a
/// livelock (an endpoint whose deadline never moves forward).
const MAX_ROUNDS_PER_INSTANT: u32 = 100_000;

/// A deterministic simulated network driving sans-IO endpoints.
///
/// Time starts at an arbitrary `Instant` taken at construction and only moves
/// when the driver advances it to the next deadline (a datagram arrival or an
/// endpoint's `poll_timeout`), so an hour of protocol runs in milliseconds.
/// All randomness (loss, jitter, NAT ports) comes from one RNG seeded by the
/// caller: the same seed and the same endpoints give the same run.
pub struct Network {
    start: Instant,
    now: Instant,
    seed: u64,
    rng: StdRng,
    zones: Vec<Zone>,
    hosts: Vec<Host>,
    nats: Vec<NatNode>,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    trace: Option<Vec<TraceEvent>>,
    rounds_at_now: u32,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("elapsed", &self.elapsed())
            .field("hosts", &self.hosts.len())
            .field("nats", &self.nats.len())
            .field("in_flight", &self.queue.len())
            .finish()
    }
}

impl Network {
    /// An empty network (just the [`INTERNET`] zone) seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        let start = Instant::now();
        Self {
            start,
            now: start,
            seed,
            rng: StdRng::seed_from_u64(seed),
            zones: vec![Zone::default()],
            hosts: Vec::new(),
            nats: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            trace: None,
            rounds_at_now: 0,
        }
    }

    /// The seed the network was made with (handy for deriving endpoint seeds).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The simulated current time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The instant the simulation started at.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Simulated time elapsed since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Starts recording a trace of every datagram sent, delivered and dropped.
    pub fn enable_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The trace recorded so far (empty unless [`Network::enable_trace`]).
    pub fn trace(&self) -> &[TraceEvent] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// Adds a NAT whose external address `external` lives in `parent`, and
    /// returns it with the new zone behind it.
    ///
    /// # Panics
    /// If `parent` does not exist or `external` is already taken in it.
    pub fn add_nat(
        &mut self,
        parent: ZoneId,
        external: IpAddr,
        config: NatConfig,
    ) -> (NatId, ZoneId) {
        let id = NatId(self.nats.len());
        let inside = ZoneId(self.zones.len());
        let zone = self.zone_mut(parent);
        assert!(
            !zone.hosts.contains_key(&external) && !zone.nats.contains_key(&external),
            "address {external} already in use in {parent:?}"
        );
        zone.nats.insert(external, id);
        self.zones.push(Zone {
            gateway: Some(id),
            ..Zone::default()
        });
        self.nats.push(NatNode {
            parent,
            inside,
            nat: Nat::new(external, config),
            link: Link::default(),
            up: LinkState::default(),
            down: LinkState::default(),
            stats: NodeStats::default(),
        });
        (id, inside)
    }

    /// Adds a host with addresses `addrs` in `zone`, driving `endpoint`.
    ///
    /// # Panics
    /// If `zone` does not exist, `addrs` is empty or an address is taken.
    pub fn add_host<E: Endpoint>(&mut self, zone: ZoneId, addrs: &[IpAddr], endpoint: E) -> HostId {
        assert!(!addrs.is_empty(), "a host needs at least one address");
        let id = HostId(self.hosts.len());
        let z = self.zone_mut(zone);
        for a in addrs {
            assert!(
                !z.hosts.contains_key(a) && !z.nats.contains_key(a),
                "address {a} already in use in {zone:?}"
            );
            z.hosts.insert(*a, id);
        }
        self.hosts.push(Host {
            zone,
            addrs: addrs.to_vec(),
            endpoint: Box::new(endpoint),
            link: Link::default(),
            up: LinkState::default(),
            down: LinkState::default(),
            stats: NodeStats::default(),
        });
        id
    }

    fn zone_mut(&mut self, zone: ZoneId) -> &mut Zone {
        match self.zones.get_mut(zone.0) {
            Some(z) => z,
            None => panic!("no such zone {zone:?}"),
        }
    }

    /// Sets the access link of a host or NAT (both directions).
    pub fn set_link(&mut self, node: impl Into<NodeId>, link: Link) {
        match node.into() {
            NodeId::Host(h) => {
                if let Some(h) = self.hosts.get_mut(h.0) {
                    h.link = link;
                }
            }
            NodeId::Nat(n) => {
                if let Some(n) = self.nats.get_mut(n.0) {
                    n.link = link;
                }
            }
        }
    }

    /// The access link of a host or NAT.
    pub fn link(&self, node: impl Into<NodeId>) -> Option<&Link> {
        match node.into() {
            NodeId::Host(h) => self.hosts.get(h.0).map(|h| &h.link),
            NodeId::Nat(n) => self.nats.get(n.0).map(|n| &n.link),
        }
    }

    /// Counters of a host or NAT.
    pub fn stats(&self, node: impl Into<NodeId>) -> NodeStats {
        match node.into() {
            NodeId::Host(h) => self.hosts.get(h.0).map(|h| h.stats),
            NodeId::Nat(n) => self.nats.get(n.0).map(|n| n.stats),
        }
        .unwrap_or_default()
    }

    /// The addresses of a host.
    pub fn host_addrs(&self, host: HostId) -> &[IpAddr] {
        self.hosts.get(host.0).map_or(&[], |h| &h.addrs)
    }

    /// The external address of a NAT.
    pub fn nat_external(&self, nat: NatId) -> Option<IpAddr> {
        self.nats.get(nat.0).map(|n| n.nat.external)
    }

    /// Live mappings of a NAT right now.
    pub fn nat_mappings(&self, nat: NatId) -> usize {
        self.nats
            .get(nat.0)
            .map_or(0, |n| n.nat.mapping_count(self.now))
    }

    /// The endpoint of `host` as its concrete type, if it is a `E`.
    pub fn endpoint<E: Endpoint>(&self, host: HostId) -> Option<&E> {
        self.hosts.get(host.0)?.endpoint.as_any().downcast_ref()
    }

    /// The endpoint of `host` as its concrete type, mutably. After changing
    /// it from outside, the driver picks up its new transmits and deadline at
    /// the next step.
    pub fn endpoint_mut<E: Endpoint>(&mut self, host: HostId) -> Option<&mut E> {
        self.hosts
            .get_mut(host.0)?
            .endpoint
            .as_any_mut()
            .downcast_mut()
    }

    /// Sends `datagram` from `host` as if its endpoint had transmitted it.
    pub fn inject(&mut self, host: HostId, datagram: Datagram) {
        self.send(host, datagram);
    }

    /// The next instant anything is due (a datagram arrival or a deadline).
    /// Transmits endpoints have queued are first sent into the network.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        self.drain_transmits();
        let mut next = self.queue.peek().map(|s| s.at);
        for h in &mut self.hosts {
            if let Some(t) = h.endpoint.endpoint().poll_timeout() {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }

    /// Advances time to the next deadline and processes everything due then:
    /// arrivals, endpoint timeouts, and the transmits they produce. Returns
    /// false when nothing at all is scheduled (the network is idle).
    ///
    /// # Panics
    /// If an endpoint keeps asking for a deadline at the current instant for
    /// 100 000 rounds (a livelock in the endpoint under test).
    pub fn step(&mut self) -> bool {
        // Transmits queued by a test poking endpoints directly go out first.
        let Some(next) = self.next_deadline() else {
            return false;
        };
        let next = next.max(self.now);
        if next == self.now {
            self.rounds_at_now += 1;
            assert!(
                self.rounds_at_now < MAX_ROUNDS_PER_INSTANT,
                "livelock: deadlines stuck at t={:?}",
                self.elapsed()
            );
        } else {
            self.rounds_at_now = 0;
        }
        self.now = next;
        while self.queue.peek().is_some_and(|s| s.at <= self.now) {
            if let Some(s) = self.queue.pop() {
                self.process(s.action, s.datagram);
            }
        }
        let now = self.now;
        for h in &mut self.hosts {
            let ep = h.endpoint.endpoint();
            if ep.poll_timeout().is_some_and(|t| t <= now) {
                ep.handle_timeout(now);
            }
        }
        self.drain_transmits();
        true
    }

    fn drain_transmits(&mut self) {
        let now = self.now;
        for i in 0..self.hosts.len() {
            // Bound per round so a misbehaving endpoint cannot spin forever.
            for _ in 0..100_000 {
                let Some(d) = self
                    .hosts
                    .get_mut(i)
                    .and_then(|h| h.endpoint.endpoint().poll_transmit(now))
                else {
                    break;
                };
                self.send(HostId(i), d);
            }
        }
    }

    /// Runs until simulated time reaches `deadline` (or the network is idle,
    /// in which case time jumps to `deadline`).
    pub fn run_until(&mut self, deadline: Instant) {
        loop {
            match self.next_deadline() {
                Some(t) if t <= deadline => {
                    self.step();
                }
                _ => break,
            }
        }
        self.drain_transmits();
        self.now = self.now.max(deadline);
    }

    /// Runs for `duration` of simulated time.
    pub fn run_for(&mut self, duration: Duration) {
        let deadline = self.now + duration;
        self.run_until(deadline);
    }

    /// Runs until `done` returns true, checking after every step, for at most
    /// `limit` of simulated time. Returns whether `done` became true.
    pub fn run_until_cond(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Network) -> bool,
    ) -> bool {
        let deadline = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            match self.next_deadline() {
                Some(t) if t <= deadline => {
                    self.step();
                }
                _ => {
                    self.now = self.now.max(deadline);
                    return done(self);
                }
            }
        }
    }

    /// Runs until nothing is in flight and no endpoint has a deadline, for at
    /// most `limit`. Returns whether the network went idle.
    pub fn run_until_idle(&mut self, limit: Duration) -> bool {
        let deadline = self.now + limit;
        loop {
            match self.next_deadline() {
                None => return true,
                Some(t) if t <= deadline => {
                    self.step();
                }
                Some(_) => {
                    self.now = deadline;
                    return false;
                }
            }
        }
    }

    fn record(&mut self, e: impl FnOnce(Duration) -> TraceEvent) {
        let at = self.now - self.start;
        if let Some(t) = &mut self.trace {
            t.push(e(at));
        }
    }

    fn drop_at(&mut self, node: NodeId, reason: DropReason, datagram: Datagram) {
        match node {
            NodeId::Host(h) => {
                if let Some(h) = self.hosts.get_mut(h.0) {
                    h.stats.dropped += 1;
                }
            }
            NodeId::Nat(n) => {
                if let Some(n) = self.nats.get_mut(n.0) {
                    n.stats.dropped += 1;
                }
            }
        }
        self.record_drop(Some(node), reason, datagram);
    }

    fn record_drop(&mut self, node: Option<NodeId>, reason: DropReason, datagram: Datagram) {
        self.record(|at| TraceEvent::Dropped {
            at,
            node,
            reason,
            datagram,
        });
    }

    fn schedule(&mut self, at: Instant, action: Action, datagram: Datagram) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            action,
            datagram,
        });
    }

    /// Schedules copies of `datagram` after they crossed a link.
    fn schedule_all(
        &mut self,
        times: Vec<Instant>,
        action: impl Fn() -> Action,
        datagram: Datagram,
    ) {
        let n = times.len();
        for (i, t) in times.into_iter().enumerate() {
            if i + 1 == n {
                self.schedule(t, action(), datagram);
                return;
            }
            self.schedule(t, action(), datagram.clone());
        }
    }

    fn send(&mut self, id: HostId, mut d: Datagram) {
        let now = self.now;
        let Some(h) = self.hosts.get_mut(id.0) else {
            return;
        };
        if d.source.ip().is_unspecified() {
            if let Some(ip) = h.addrs.iter().find(|a| a.is_ipv4() == d.source.is_ipv4()) {
                d.source.set_ip(*ip);
            }
        }
        if !h.addrs.contains(&d.source.ip()) {
            self.drop_at(id.into(), DropReason::BadSource, d);
            return;
        }
        h.stats.sent += 1;
        let zone = h.zone;
        let carried = h.up.carry(&h.link.up, now, d.payload.len(), &mut self.rng);
        self.record(|at| TraceEvent::Sent {
            at,
            host: id,
            datagram: d.clone(),
        });
        match carried {
            Ok(times) => self.schedule_all(times, || Action::Route(zone), d),
            Err(e) => self.drop_at(id.into(), e.into(), d),
        }
    }

    fn process(&mut self, action: Action, d: Datagram) {
        match action {
            Action::Route(zone) => self.route(zone, d),
            Action::ArriveHost(h) => self.deliver(h, d),
            Action::ArriveNatOutside(n) => self.nat_inbound(n, d),
        }
    }

    /// Routes within a zone: to a host, to a NAT's external side, or out
    /// through the zone's gateway NAT.
    fn route(&mut self, zone: ZoneId, d: Datagram) {
        let now = self.now;
        let Some(z) = self.zones.get(zone.0) else {
            return;
        };
        let dst = d.destination.ip();
        if let Some(&h) = z.hosts.get(&dst) {
            let Some(host) = self.hosts.get_mut(h.0) else {
                return;
            };
            match host
                .down
                .carry(&host.link.down, now, d.payload.len(), &mut self.rng)
            {
                Ok(times) => self.schedule_all(times, || Action::ArriveHost(h), d),
                Err(e) => self.drop_at(h.into(), e.into(), d),
            }
        } else if let Some(&n) = z.nats.get(&dst) {
            let Some(nat) = self.nats.get_mut(n.0) else {
                return;
            };
            match nat
                .down
                .carry(&nat.link.down, now, d.payload.len(), &mut self.rng)
            {
                Ok(times) => self.schedule_all(times, || Action::ArriveNatOutside(n), d),
                Err(e) => self.drop_at(n.into(), e.into(), d),
            }
        } else if let Some(n) = z.gateway {
            self.nat_outbound(n, d);
        } else {
            match z.hosts.get(&d.source.ip()).copied() {
                Some(h) => self.drop_at(h.into(), DropReason::NoRoute, d),
                None => self.record_drop(None, DropReason::NoRoute, d),
            }
        }
    }

    /// A datagram from inside reaches the NAT (no delay on the inside).
    fn nat_outbound(&mut self, n: NatId, mut d: Datagram) {
        let now = self.now;
        let Some(node) = self.nats.get_mut(n.0) else {
            return;
        };
        if d.destination.ip() == node.nat.external {
            match node
                .nat
                .hairpin(now, d.source, d.destination, &mut self.rng)
            {
                Ok((src, dst)) => {
                    node.stats.sent += 1;
                    d.source = src;
                    d.destination = dst;
                    let inside = node.inside;
                    self.route(inside, d);
                }
                Err(e) => self.drop_at(n.into(), e.into(), d),
            }
            return;
        }
        match node
            .nat
            .outbound(now, d.source, d.destination, &mut self.rng)
        {
            Ok(src) => {
                d.source = src;
                node.stats.sent += 1;
                let parent = node.parent;
                match node
                    .up
                    .carry(&node.link.up, now, d.payload.len(), &mut self.rng)
                {
                    Ok(times) => self.schedule_all(times, || Action::Route(parent), d),
                    Err(e) => self.drop_at(n.into(), e.into(), d),
                }
            }
            Err(e) => self.drop_at(n.into(), e.into(), d),
        }
    }

    /// A datagram from outside crossed the NAT's downlink.
    fn nat_inbound(&mut self, n: NatId, mut d: Datagram) {
        let now = self.now;
        let Some(node) = self.nats.get_mut(n.0) else {
            return;
        };
        node.stats.received += 1;
        match node.nat.inbound(now, d.source, d.destination.port()) {
            Ok(to) => {
                d.destination = to;
                let inside = node.inside;
                self.route(inside, d);
            }
            Err(e) => self.drop_at(n.into(), e.into(), d),
        }
    }

    fn deliver(&mut self, id: HostId, d: Datagram) {
        let now = self.now;
        let Some(h) = self.hosts.get_mut(id.0) else {
            return;
        };
        h.stats.received += 1;
        if self.trace.is_some() {
            let copy = d.clone();
            h.endpoint.endpoint().handle_receive(now, d);
            self.record(|at| TraceEvent::Delivered {
                at,
                host: id,
                datagram: copy,
            });
        } else {
            h.endpoint.endpoint().handle_receive(now, d);
        }
    }
}
