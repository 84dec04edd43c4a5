//! A peer connection on a fulmar-netsim host, shared by the tests that run
//! peers on a [`Network`] of hosts and NATs (relay.rs, nat.rs).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Instant;

use fulmar_netsim::{Datagram, Endpoint, HostId, Link, LinkConfig, Network};
use fulmar_peer::{Event, PeerConnection, PeerConnectionState};

/// A peer connection on a netsim host.
pub struct NetPeer {
    pub pc: PeerConnection,
    pub events: Vec<Event>,
    /// Local candidates not yet signalled to the other peer.
    pub trickle: VecDeque<String>,
    pub buf: Vec<u8>,
}

impl NetPeer {
    /// Wraps a peer connection.
    pub fn new(pc: PeerConnection) -> Self {
        NetPeer {
            pc,
            events: Vec::new(),
            trickle: VecDeque::new(),
            buf: Vec::new(),
        }
    }

    pub fn drain(&mut self) {
        while let Some(e) = self.pc.poll_event() {
            if let Event::LocalCandidate(c) = &e {
                self.trickle.push_back(c.clone());
            }
            self.events.push(e);
        }
    }

    pub fn candidates(&self) -> impl Iterator<Item = &String> {
        self.events.iter().filter_map(|e| match e {
            Event::LocalCandidate(c) => Some(c),
            _ => None,
        })
    }

    pub fn messages(&self) -> usize {
        let msg = |e: &&Event| matches!(e, Event::DataChannelMessage { .. });
        self.events.iter().filter(msg).count()
    }
}

impl Endpoint for NetPeer {
    fn handle_receive(&mut self, now: Instant, mut d: Datagram) {
        self.pc
            .handle_receive(now, d.source, d.destination, &mut d.payload);
        self.drain();
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.pc.handle_timeout(now);
        self.drain();
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        self.drain();
        let t = self.pc.poll_transmit(now, &mut self.buf)?;
        Some(Datagram {
            source: t.source,
            destination: t.destination,
            payload: self.buf.clone(),
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.pc.poll_timeout()
    }
}

/// The peer on host `h`.
pub fn peer(net: &mut Network, h: HostId) -> &mut NetPeer {
    net.endpoint_mut::<NetPeer>(h).expect("a NetPeer host")
}

/// Whether the peer on `h` is connected.
pub fn connected(net: &Network, h: HostId) -> bool {
    net.endpoint::<NetPeer>(h)
        .is_some_and(|p| p.pc.connection_state() == PeerConnectionState::Connected)
}

/// Runs `net` for at most `limit`, trickling candidates both ways between
/// `a` and `b`, until `done`.
pub fn run_trickling(
    net: &mut Network,
    a: HostId,
    b: HostId,
    limit: std::time::Duration,
    mut done: impl FnMut(&mut Network) -> bool,
) -> bool {
    net.run_until_cond(limit, |net| {
        let now = net.now();
        for (from, to) in [(a, b), (b, a)] {
            while let Some(c) = peer(net, from).trickle.pop_front() {
                peer(net, to)
                    .pc
                    .add_ice_candidate(now, &c)
                    .expect("the other side takes every trickled candidate");
            }
        }
        done(net)
    })
}

/// Gives each of `hosts` an ideal access link with `delay` each way.
pub fn set_delay(net: &mut Network, hosts: &[HostId], delay: std::time::Duration) {
    for h in hosts {
        let link = LinkConfig::ideal().with_delay(delay);
        net.set_link(*h, Link::symmetric(link));
    }
}
