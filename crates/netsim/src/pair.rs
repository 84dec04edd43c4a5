//! Two parties joined by one simulated link: the harness under every
//! behaviour test of a point-to-point protocol (DTLS, SCTP, data channels,
//! a peer connection over one candidate pair).
//!
//! Each direction is a [`LinkConfig`]: delay, jitter, loss, duplication,
//! reordering, bandwidth and a drop-tail bottleneck queue bounded in bytes
//! and in time. Time is simulated and all randomness comes from one seed.
//!
//! A direction whose link is ideal (no delay, jitter, loss, duplication,
//! reordering or bandwidth limit), with nothing of it still in flight and no
//! tamper hook or trace, hands each datagram across as it is written: the
//! receiver reads it in the one buffer the sender wrote it into, before the
//! sender is polled again, with no copy, allocation or queue in between (a
//! zero-delay arrival is due at once, so the clock reads the same). That is
//! what a back-to-back pump does, so benchmarks can run on the pair too.
//!
//! A sans-IO type plugs in by implementing [`Party`], whose verbs are the
//! stack's contract (ARCHITECTURE.md), so the implementation is delegation:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use fulmar_netsim::{Direction, LinkConfig, Pair, Party};
//!
//! /// Sends "ping" once; answers "ping" with "pong"; reports what it got.
//! #[derive(Default)]
//! struct Pinger { start: bool, reply: bool, got: Vec<Vec<u8>> }
//! impl Party for Pinger {
//!     type Event = Vec<u8>;
//!     fn handle_receive(&mut self, _now: Instant, datagram: &mut [u8]) {
//!         self.reply |= datagram == b"ping";
//!         self.got.push(datagram.to_vec());
//!     }
//!     fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
//!         let msg: &[u8] = if std::mem::take(&mut self.start) { b"ping" }
//!             else if std::mem::take(&mut self.reply) { b"pong" } else { return None };
//!         buf.clear();
//!         buf.extend_from_slice(msg);
//!         Some(buf.len())
//!     }
//!     fn poll_event(&mut self) -> Option<Vec<u8>> { self.got.pop() }
//!     fn handle_timeout(&mut self, _now: Instant) {}
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//! }
//!
//! let link = LinkConfig::ideal().with_delay(Duration::from_millis(20));
//! let mut pair = Pair::new(Instant::now(), Pinger { start: true, ..Default::default() },
//!     Pinger::default(), 7).with_link(link);
//! assert!(pair.run_until_idle(Duration::from_secs(1)));
//! assert_eq!(pair.events_a, vec![b"pong".to_vec()]);
//! assert_eq!(pair.events_b, vec![b"ping".to_vec()]);
//! assert_eq!(pair.elapsed(), Duration::from_millis(40));
//! assert_eq!(pair.stats(Direction::AToB).delivered, 1);
//! ```

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::link::{LinkConfig, LinkDrop, LinkState};

/// Rounds at one instant after which [`Pair::step`] declares a livelock.
/// Generous: over an ideal (zero-delay) link a bulk transfer legitimately
/// runs many rounds without the clock moving.
const MAX_ROUNDS_PER_INSTANT: u32 = 5_000_000;
/// Most datagrams taken from one party in one round.
const MAX_TRANSMITS_PER_ROUND: usize = 100_000;

/// A sans-IO protocol endpoint with the stack's verbs (ARCHITECTURE.md "The
/// sans-IO convention"), as seen by a two-party link that carries opaque
/// datagrams. Addressed types (a peer connection, an ICE agent) adapt by
/// filling in the pair's two fixed addresses.
pub trait Party {
    /// What the party tells its application; the pair collects these.
    type Event;
    /// A datagram that crossed the link; the party may parse and decrypt it
    /// in place.
    fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]);
    /// Write the next datagram into `buf` and return its length.
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize>;
    /// The next event for the application.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// The deadline from [`Party::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Instant);
    /// The next deadline at which [`Party::handle_timeout`] must be called.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// One direction of the pair's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From party A to party B.
    AToB,
    /// From party B to party A.
    BToA,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::AToB => 0,
            Direction::BToA => 1,
        }
    }
}

/// What one direction of the link did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams the sending party handed to the link.
    pub sent: u64,
    /// Bytes the sending party handed to the link.
    pub sent_bytes: u64,
    /// Datagrams handed to the receiving party (duplicates count twice).
    pub delivered: u64,
    /// Bytes handed to the receiving party.
    pub delivered_bytes: u64,
    /// Datagrams lost at random.
    pub lost: u64,
    /// Datagrams dropped because the bottleneck queue was full.
    pub queue_dropped: u64,
    /// Datagrams the tamper hook dropped.
    pub tampered_dropped: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
}

/// A datagram the pair carried, as recorded by [`Pair::enable_trace`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Simulated time since the pair started.
    pub at: Duration,
    /// Which way it went.
    pub direction: Direction,
    /// The bytes as the sender wrote them (before any tampering).
    pub datagram: Vec<u8>,
}

/// A man in the middle: sees each datagram before the link does and may
/// rewrite it; returning `false` drops it.
pub type Tamper = Box<dyn FnMut(Direction, &mut Vec<u8>) -> bool>;

struct InFlight {
    at: Instant,
    seq: u64,
    direction: Direction,
    datagram: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    /// Reversed, so the `BinaryHeap` pops the earliest arrival (and, at the
    /// same instant, the first sent).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Two parties joined by a simulated link; see the module docs.
pub struct Pair<A: Party, B: Party> {
    /// Party A.
    pub a: A,
    /// Party B.
    pub b: B,
    /// Events party A produced, in order, until the test drains them.
    pub events_a: Vec<A::Event>,
    /// Events party B produced.
    pub events_b: Vec<B::Event>,
    start: Instant,
    now: Instant,
    rng: StdRng,
    links: [LinkConfig; 2],
    link_states: [LinkState; 2],
    stats: [LinkStats; 2],
    in_flight: BinaryHeap<InFlight>,
    /// Datagrams in flight per direction.
    queued: [usize; 2],
    /// Per direction: the link passes datagrams straight across.
    straight: [bool; 2],
    /// The buffer of datagrams passed straight across.
    straight_buf: Vec<u8>,
    seq: u64,
    spare: Vec<Vec<u8>>,
    tamper: Option<Tamper>,
    trace: Option<Vec<Sent>>,
    rounds_at_now: u32,
}

impl<A: Party, B: Party> Pair<A, B> {
    /// Joins `a` and `b` by an ideal link at simulated time `start`, with all
    /// randomness drawn from `seed`.
    pub fn new(start: Instant, a: A, b: B, seed: u64) -> Self {
        Self {
            a,
            b,
            events_a: Vec::new(),
            events_b: Vec::new(),
            start,
            now: start,
            rng: StdRng::seed_from_u64(seed),
            links: [LinkConfig::ideal(), LinkConfig::ideal()],
            link_states: Default::default(),
            stats: Default::default(),
            in_flight: BinaryHeap::new(),
            queued: [0; 2],
            straight: [true; 2],
            straight_buf: Vec::new(),
            seq: 0,
            spare: Vec::new(),
            tamper: None,
            trace: None,
            rounds_at_now: 0,
        }
    }

    /// The same conditions in both directions.
    pub fn with_link(mut self, link: LinkConfig) -> Self {
        self.set_link(Direction::AToB, link.clone());
        self.set_link(Direction::BToA, link);
        self
    }

    /// Changes one direction's conditions from now on (datagrams already in
    /// flight keep their arrival times).
    pub fn set_link(&mut self, direction: Direction, link: LinkConfig) {
        self.straight[direction.index()] = link.is_unimpaired();
        self.links[direction.index()] = link;
    }

    /// Parts with the harness, giving back the two parties.
    pub fn into_parties(self) -> (A, B) {
        (self.a, self.b)
    }

    /// Installs a man in the middle; see [`Tamper`].
    pub fn set_tamper(&mut self, tamper: impl FnMut(Direction, &mut Vec<u8>) -> bool + 'static) {
        self.tamper = Some(Box::new(tamper));
    }

    /// Removes the man in the middle.
    pub fn clear_tamper(&mut self) {
        self.tamper = None;
    }

    /// Records every datagram sent from now on; see [`Pair::trace`].
    pub fn enable_trace(&mut self) {
        self.trace.get_or_insert_with(Vec::new);
    }

    /// The datagrams recorded since [`Pair::enable_trace`].
    pub fn trace(&self) -> &[Sent] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// The current simulated time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Simulated time since the pair started.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// What one direction of the link did so far.
    pub fn stats(&self, direction: Direction) -> LinkStats {
        self.stats[direction.index()]
    }

    /// Datagrams on the link, not yet delivered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The next instant something happens: an arrival or a party's deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.in_flight.peek().map(|f| f.at),
            self.a.poll_timeout(),
            self.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// One step: takes what both parties want to send, delivers every
    /// datagram due now, fires the timeouts due now and collects events;
    /// when none of that happened at the current instant, advances time to
    /// the next deadline instead. Returns false when nothing is scheduled at
    /// all (the pair is idle).
    ///
    /// # Panics
    /// If the parties keep working at one instant for 5 000 000 rounds (a
    /// livelock in the code under test).
    pub fn step(&mut self) -> bool {
        self.step_until(None)
    }

    /// Runs until `done` holds (checked before every step), for at most
    /// `limit` of simulated time. Returns whether `done` became true.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let deadline = self.now + limit;
        loop {
            if done(self) {
                return true;
            }
            if !self.step_until(Some(deadline)) {
                return done(self);
            }
        }
    }

    /// Runs for `duration` of simulated time.
    pub fn run_for(&mut self, duration: Duration) {
        let deadline = self.now + duration;
        while self.step_until(Some(deadline)) {}
        self.now = self.now.max(deadline);
    }

    /// Runs until nothing is in flight and neither party has a deadline, for
    /// at most `limit`. Returns whether the pair went idle.
    pub fn run_until_idle(&mut self, limit: Duration) -> bool {
        let deadline = self.now + limit;
        while self.step_until(Some(deadline)) {}
        self.next_deadline().is_none()
    }

    /// [`Pair::step`], without moving the clock past `deadline`.
    fn step_until(&mut self, deadline: Option<Instant>) -> bool {
        if self.round() {
            return true;
        }
        // Nothing is due now, so the next deadline lies in the future.
        match self.next_deadline() {
            Some(next) if deadline.is_none_or(|d| next <= d) => {
                self.now = self.now.max(next);
                self.rounds_at_now = 0;
                true
            }
            _ => false,
        }
    }

    /// Everything due at the current instant; whether anything happened.
    fn round(&mut self) -> bool {
        let mut busy = self.transmit(Direction::AToB);
        busy |= self.transmit(Direction::BToA);
        busy |= self.deliver_due();
        busy |= self.fire_timeouts();
        busy |= self.collect_events();
        if busy {
            self.rounds_at_now += 1;
            assert!(
                self.rounds_at_now < MAX_ROUNDS_PER_INSTANT,
                "livelock: the parties keep working at t={:?}",
                self.elapsed()
            );
        }
        busy
    }

    /// Takes every datagram one party wants to send and puts it on the link.
    fn transmit(&mut self, direction: Direction) -> bool {
        let i = direction.index();
        if self.straight[i] && self.queued[i] == 0 && self.tamper.is_none() && self.trace.is_none()
        {
            return self.pass_straight(direction);
        }
        let now = self.now;
        let mut any = false;
        for _ in 0..MAX_TRANSMITS_PER_ROUND {
            let mut buf = self.spare.pop().unwrap_or_default();
            let len = match direction {
                Direction::AToB => self.a.poll_transmit(now, &mut buf),
                Direction::BToA => self.b.poll_transmit(now, &mut buf),
            };
            let Some(len) = len else {
                self.spare.push(buf);
                break;
            };
            any = true;
            buf.truncate(len);
            self.carry(direction, buf);
        }
        any
    }

    /// The unimpaired path (see the module docs): each datagram the sender
    /// writes is read by the receiver at once, in the same buffer.
    fn pass_straight(&mut self, direction: Direction) -> bool {
        let now = self.now;
        let stats = &mut self.stats[direction.index()];
        let buf = &mut self.straight_buf;
        let mut any = false;
        for _ in 0..MAX_TRANSMITS_PER_ROUND {
            let len = match direction {
                Direction::AToB => self.a.poll_transmit(now, buf),
                Direction::BToA => self.b.poll_transmit(now, buf),
            };
            let Some(len) = len else {
                break;
            };
            any = true;
            buf.truncate(len);
            let bytes = buf.len() as u64;
            stats.sent += 1;
            stats.sent_bytes += bytes;
            stats.delivered += 1;
            stats.delivered_bytes += bytes;
            match direction {
                Direction::AToB => self.b.handle_receive(now, buf),
                Direction::BToA => self.a.handle_receive(now, buf),
            }
        }
        any
    }

    fn carry(&mut self, direction: Direction, mut datagram: Vec<u8>) {
        let i = direction.index();
        self.stats[i].sent += 1;
        self.stats[i].sent_bytes += datagram.len() as u64;
        if let Some(trace) = &mut self.trace {
            trace.push(Sent {
                at: self.now - self.start,
                direction,
                datagram: datagram.clone(),
            });
        }
        if let Some(tamper) = &mut self.tamper {
            if !tamper(direction, &mut datagram) {
                self.stats[i].tampered_dropped += 1;
                self.spare.push(datagram);
                return;
            }
        }
        let arrivals =
            self.link_states[i].carry(&self.links[i], self.now, datagram.len(), &mut self.rng);
        match arrivals {
            Err(LinkDrop::Loss) => {
                self.stats[i].lost += 1;
                self.spare.push(datagram);
            }
            Err(LinkDrop::QueueFull) => {
                self.stats[i].queue_dropped += 1;
                self.spare.push(datagram);
            }
            Ok(times) => {
                let mut times = times.into_iter();
                let first = times.next();
                for at in times {
                    self.stats[i].duplicated += 1;
                    self.schedule(at, direction, datagram.clone());
                }
                if let Some(at) = first {
                    self.schedule(at, direction, datagram);
                }
            }
        }
    }

    fn schedule(&mut self, at: Instant, direction: Direction, datagram: Vec<u8>) {
        self.seq += 1;
        self.queued[direction.index()] += 1;
        self.in_flight.push(InFlight {
            at,
            seq: self.seq,
            direction,
            datagram,
        });
    }

    /// Hands every datagram due by now to its receiver.
    fn deliver_due(&mut self) -> bool {
        let mut any = false;
        while self.in_flight.peek().is_some_and(|f| f.at <= self.now) {
            let Some(mut f) = self.in_flight.pop() else {
                break;
            };
            any = true;
            self.queued[f.direction.index()] -= 1;
            let stats = &mut self.stats[f.direction.index()];
            stats.delivered += 1;
            stats.delivered_bytes += f.datagram.len() as u64;
            match f.direction {
                Direction::AToB => self.b.handle_receive(self.now, &mut f.datagram),
                Direction::BToA => self.a.handle_receive(self.now, &mut f.datagram),
            }
            self.spare.push(f.datagram);
        }
        any
    }

    fn fire_timeouts(&mut self) -> bool {
        let now = self.now;
        let mut any = false;
        if self.a.poll_timeout().is_some_and(|t| t <= now) {
            self.a.handle_timeout(now);
            any = true;
        }
        if self.b.poll_timeout().is_some_and(|t| t <= now) {
            self.b.handle_timeout(now);
            any = true;
        }
        any
    }

    fn collect_events(&mut self) -> bool {
        let before = self.events_a.len() + self.events_b.len();
        while let Some(e) = self.a.poll_event() {
            self.events_a.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.events_b.push(e);
        }
        self.events_a.len() + self.events_b.len() != before
    }
}
