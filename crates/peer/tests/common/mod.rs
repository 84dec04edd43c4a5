//! The one harness of fulmar-peer's behaviour tests: two peer connections
//! on fulmar-netsim's two-party `Pair`, after offer and answer. Integration
//! tests take it with `mod common;`, unit tests inside the crate as
//! `crate::test_harness` (the crate names itself `fulmar_peer` under
//! `cfg(test)`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use fulmar_datachannel::ChannelConfig;
use fulmar_netsim::{LinkConfig, Pair, Party};
use fulmar_peer::{
    ChannelId, Config, Event, Failure, PeerConnection, PeerConnectionState, SessionDescription,
};
use rand::{rngs::StdRng, SeedableRng};

/// A's host candidate, the link's address at A's end.
pub const A: &str = "198.51.100.1:4000";
/// B's host candidate.
pub const B: &str = "198.51.100.2:5000";

/// A peer connection on the pair's link: the link has one address at
/// each end, its host candidate.
pub struct Peer {
    pub pc: PeerConnection,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The application sends every data-channel message it receives back
    /// on its channel, at the instant it reads it.
    pub echo: bool,
    /// The application has stopped reading: events wait in the connection.
    pub hold: bool,
    /// The pair's clock, as last seen: when the application acts.
    now: Instant,
}

/// A peer reads as its connection: `pair.a.write_frame(..)`.
impl Deref for Peer {
    type Target = PeerConnection;
    fn deref(&self) -> &PeerConnection {
        &self.pc
    }
}

impl DerefMut for Peer {
    fn deref_mut(&mut self) -> &mut PeerConnection {
        &mut self.pc
    }
}

impl Party for Peer {
    type Event = Event;
    fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]) {
        self.now = now;
        self.pc
            .handle_receive(now, self.remote, self.local, datagram);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        self.now = now;
        self.pc.poll_transmit(now, buf).map(|t| t.len)
    }
    fn poll_event(&mut self) -> Option<Event> {
        if self.hold {
            return None;
        }
        let e = self.pc.poll_event()?;
        if let (true, Event::DataChannelMessage { id, data, binary }) = (self.echo, &e) {
            self.pc.send(self.now, *id, data.clone(), *binary).unwrap();
        }
        Some(e)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.pc.handle_timeout(now);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

/// A (at [`A`], configured with `configs.0`, seeded `seeds.0`) and B (at
/// [`B`], `configs.1`, `seeds.1`) on `link` (randomness `seeds.2`), with no
/// candidates yet.
pub fn peers(
    configs: (Config, Config),
    seeds: (u64, u64, u64),
    link: LinkConfig,
) -> Pair<Peer, Peer> {
    let now = Instant::now();
    let (a_addr, b_addr): (SocketAddr, SocketAddr) = (A.parse().unwrap(), B.parse().unwrap());
    let peer = |config, seed, local, remote| Peer {
        pc: PeerConnection::new(config, StdRng::seed_from_u64(seed)).unwrap(),
        local,
        remote,
        echo: false,
        hold: false,
        now,
    };
    let a = peer(configs.0, seeds.0, a_addr, b_addr);
    let b = peer(configs.1, seeds.1, b_addr, a_addr);
    Pair::new(now, a, b, seeds.2).with_link(link)
}

/// Each peer's host candidate (its end of the link) and the end of its
/// gathering.
pub fn add_host_candidates(p: &mut Pair<Peer, Peer>) {
    let now = p.now();
    for peer in [&mut p.a, &mut p.b] {
        peer.pc.add_host_candidate(now, peer.local).unwrap();
        peer.pc.end_of_local_candidates(now);
    }
}

/// [`peers`], each with its host candidate and gathering complete, not yet
/// negotiated.
pub fn unnegotiated(
    configs: (Config, Config),
    seeds: (u64, u64, u64),
    link: LinkConfig,
) -> Pair<Peer, Peer> {
    let mut p = peers(configs, seeds, link);
    add_host_candidates(&mut p);
    p
}

/// A offers, B answers, as text (the way signaling carries them): `prepare`
/// runs on B between its remote and local description, and `answer` may
/// rewrite B's answer on its way to A.
pub fn negotiate(
    p: &mut Pair<Peer, Peer>,
    prepare: impl FnOnce(&mut PeerConnection),
    answer: impl FnOnce(String) -> String,
) {
    let now = p.now();
    let (a, b) = (&mut p.a.pc, &mut p.b.pc);
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, offer.clone()).unwrap();
    let offer = SessionDescription::offer(&offer.sdp.to_string()).unwrap();
    b.set_remote_description(now, offer).unwrap();
    prepare(b);
    let reply = b.create_answer().unwrap();
    b.set_local_description(now, reply.clone()).unwrap();
    let reply = SessionDescription::answer(&answer(reply.sdp.to_string())).unwrap();
    a.set_remote_description(now, reply).unwrap();
}

/// A (the offerer, DTLS server, seeded `seeds.0`) and B (the answerer, DTLS
/// client) after offer and answer, with a data channel "chat" from A;
/// `answer` may rewrite B's answer on its way to A. The link is ideal with
/// 10 ms of delay each way.
pub fn negotiated(
    seeds: (u64, u64, u64),
    answer: impl FnOnce(String) -> String,
) -> (Pair<Peer, Peer>, ChannelId) {
    let link = LinkConfig::ideal().with_delay(Duration::from_millis(10));
    let mut p = unnegotiated((Config::default(), Config::default()), seeds, link);
    let chat = p.a.create_data_channel(ChannelConfig::new("chat")).unwrap();
    negotiate(&mut p, |_| {}, answer);
    (p, chat)
}

/// [`negotiated`] without rewriting, run until "chat" is open at both ends.
pub fn open_pair(seeds: (u64, u64, u64)) -> (Pair<Peer, Peer>, ChannelId) {
    let (mut p, chat) = negotiated(seeds, |sdp| sdp);
    let open = p.run_until(Duration::from_secs(10), |p| channel_open(p, chat));
    assert!(open, "the channel opened");
    (p, chat)
}

/// Whether A's channel `chat` is open at both ends (as their events said).
pub fn channel_open(p: &Pair<Peer, Peer>, chat: ChannelId) -> bool {
    p.events_a.contains(&Event::DataChannelOpen(chat))
        && p.events_b
            .iter()
            .any(|e| matches!(e, Event::DataChannelOpen(_)))
}

/// The failure a party's application was told of, if any.
pub fn failure(events: &[Event]) -> Option<Failure> {
    events.iter().find_map(|e| match e {
        Event::ConnectionStateChange(PeerConnectionState::Failed(f)) => Some(f.clone()),
        _ => None,
    })
}
