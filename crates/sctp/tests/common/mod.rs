//! The harness under the association tests: two associations on
//! fulmar-netsim's two-party [`Pair`](fulmar_netsim::Pair), with the
//! helpers several test files share.
//!
//! `p.a.assoc` and `p.b.assoc` are the associations; `p.now()` the
//! simulated time; `p.events_a` and `p.events_b` what they reported.
#![allow(dead_code)] // each test file uses its share

use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_netsim::{LinkConfig, Party};
use fulmar_sctp::{Association, Chunk, Config, Event, Message, Packet, PacketWriter, SendOptions};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// One association as a party on the simulated link: the verbs are the
/// contract's, so this is delegation.
pub struct Node {
    /// The association under test.
    pub assoc: Association,
}

impl Party for Node {
    type Event = Event;
    fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]) {
        self.assoc.handle_receive(now, datagram);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        buf.clear();
        self.assoc.poll_transmit(now, buf)
    }
    fn poll_event(&mut self) -> Option<Event> {
        self.assoc.poll_event()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.assoc.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.assoc.poll_timeout()
    }
}

/// Two associations on one simulated link.
pub type Pair = fulmar_netsim::Pair<Node, Node>;

/// The link of most tests: 10 ms each way, `loss`, and a share `reorder`
/// of the packets held back 10 ms (overtaken by later ones).
pub fn link(loss: f64, reorder: f64) -> LinkConfig {
    LinkConfig::ideal()
        .with_delay(Duration::from_millis(10))
        .with_loss(loss)
        .with_reorder(reorder, Duration::from_millis(10))
}

/// Two associations with their own configurations on [`link`]; all
/// randomness from `seed`.
pub fn pair_with(seed: u64, ca: Config, cb: Config, loss: f64, reorder: f64) -> Pair {
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let a = Node {
        assoc: Association::new(ca, &mut rng, now),
    };
    let b = Node {
        assoc: Association::new(cb, &mut rng, now),
    };
    Pair::new(now, a, b, seed).with_link(link(loss, reorder))
}

/// Two associations with the default configuration on [`link`].
pub fn pair(seed: u64, loss: f64, reorder: f64) -> Pair {
    pair_with(seed, Config::default(), Config::default(), loss, reorder)
}

/// What the tests do with a pair beyond running it.
pub trait PairExt {
    /// Both ends send INIT (as browsers do); both get `Connected`, and the
    /// last handshake packet has arrived (none is left to bundle with the
    /// first DATA).
    fn connect_both(&mut self);
    /// Collects the events of packets handed in by hand.
    fn drain_events(&mut self);
    /// Takes the messages b received out of its events.
    fn b_messages(&mut self) -> Vec<Message>;
}

impl PairExt for Pair {
    fn connect_both(&mut self) {
        self.a.assoc.connect(self.now()).unwrap();
        self.b.assoc.connect(self.now()).unwrap();
        assert!(
            self.run_until(Duration::from_secs(30), |p| p.a.assoc.is_established()
                && p.b.assoc.is_established())
        );
        self.step();
        assert!(self.run_until(Duration::from_secs(30), |p| p.in_flight() == 0));
        self.drain_events();
        assert!(self.events_a.contains(&Event::Connected));
        assert!(self.events_b.contains(&Event::Connected));
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.a.assoc.poll_event() {
            self.events_a.push(e);
        }
        while let Some(e) = self.b.assoc.poll_event() {
            self.events_b.push(e);
        }
    }

    fn b_messages(&mut self) -> Vec<Message> {
        self.drain_events();
        let mut out = Vec::new();
        self.events_b.retain(|e| match e {
            Event::Message(m) => {
                out.push(m.clone());
                false
            }
            _ => true,
        });
        out
    }
}

/// Packets out of an association by hand.
pub trait PacketsOut {
    /// Writes the next packet into `buf`, alone (`poll_transmit` appends,
    /// so `buf` is cleared first); false when there is none.
    fn next_packet(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool;
    /// The next packet, in a buffer of its own.
    fn poll_packet(&mut self, now: Instant) -> Option<Vec<u8>>;
}

impl PacketsOut for Association {
    fn next_packet(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let len = self.poll_transmit(now, buf);
        assert_eq!(
            len,
            len.map(|_| buf.len()),
            "the length of what was written"
        );
        len.is_some()
    }

    fn poll_packet(&mut self, now: Instant) -> Option<Vec<u8>> {
        let mut buf = Vec::new();
        self.next_packet(now, &mut buf).then_some(buf)
    }
}

/// Messages among `events`.
pub fn count_messages(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count()
}

/// `len` bytes drawn from `seed`.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    Bytes::from(v)
}

/// The verification tag that `b` expects, learned from a packet `a` sends
/// (and b receives and answers).
pub fn tag_for_b(p: &mut Pair) -> u32 {
    p.a.assoc
        .send(
            p.now(),
            0,
            53,
            Bytes::from_static(b"t"),
            SendOptions::default(),
        )
        .unwrap();
    let pkt = p.a.assoc.poll_packet(p.now()).unwrap();
    let tag = Packet::parse(&pkt).unwrap().verification_tag();
    p.b.assoc.handle_receive(p.now(), &pkt);
    let mut buf = Vec::new();
    while p.b.assoc.next_packet(p.now(), &mut buf) {}
    tag
}

/// A packet to b on the default ports with `tag`, holding `chunks`.
pub fn forge(tag: u32, chunks: &[Chunk<'_>]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    for c in chunks {
        w.push(c);
    }
    w.finish(false);
    buf
}

/// The chunks of `pkt`, each written out on its own.
pub fn chunks_of(pkt: &[u8]) -> Vec<Vec<u8>> {
    let p = Packet::parse(pkt).unwrap();
    let mut out = Vec::new();
    for c in p.chunks() {
        let mut v = Vec::new();
        c.unwrap().emit(&mut v);
        out.push(v);
    }
    out
}

/// The TSN of the next DATA chunk `assoc` sends: a one-byte message on
/// stream 0 is queued, and its packet built and dropped (it is
/// retransmitted later).
pub fn first_tsn_of(assoc: &mut Association) -> u32 {
    let now = Instant::now();
    assoc
        .send(now, 0, 53, Bytes::from_static(b"f"), SendOptions::default())
        .unwrap();
    let mut buf = Vec::new();
    while assoc.next_packet(now, &mut buf) {
        for c in Packet::parse(&buf).unwrap().chunks() {
            if let Ok(Chunk::Data(d)) = c {
                return d.tsn;
            }
        }
    }
    panic!("no DATA sent");
}
