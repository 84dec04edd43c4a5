//! Two ICE agents, each behind an address-and-port-dependent (symmetric)
//! NAT, connect only through TURN relays, on fulmar-netsim in simulated
//! time; the allocations are refreshed across a 20-minute call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use fulmar_ice::{CandidateType, IceAgent, IceConfig, IceConnectionState, IceRole};
use fulmar_netsim::{Datagram, Endpoint, HostId, Link, LinkConfig, NatConfig, Network, INTERNET};
use fulmar_turn::{Client, ClientConfig, ClientEvent, ClientState, Received};
use rand::{rngs::StdRng, SeedableRng};

mod common {
    pub mod turn_host;
}

use common::turn_host::{TurnHost, TURN_PORT};

/// A peer: an ICE agent and a TURN client sharing one UDP socket.
struct Peer {
    local: SocketAddr,
    agent: IceAgent,
    turn: Client,
    turn_server: SocketAddr,
    turn_events: Vec<ClientEvent>,
    app_data: Vec<Vec<u8>>,
    relayed_added: bool,
    out: Vec<Datagram>,
}

impl Peer {
    fn new(role: IceRole, local: SocketAddr, turn_server: SocketAddr, seed: u64) -> Self {
        Peer {
            local,
            agent: IceAgent::new(IceConfig::new(role), StdRng::seed_from_u64(seed)),
            turn: Client::new(
                ClientConfig::new(turn_server, "user", "pass"),
                StdRng::seed_from_u64(seed + 100),
            ),
            turn_server,
            turn_events: Vec::new(),
            app_data: Vec::new(),
            relayed_added: false,
            out: Vec::new(),
        }
    }

    fn pump(&mut self, now: Instant) {
        while let Some(e) = self.turn.poll_event() {
            if let ClientEvent::Allocated {
                relayed, mapped, ..
            } = e
            {
                self.agent
                    .add_relayed_candidate(now, 1, relayed, mapped, self.turn_server.ip())
                    .unwrap();
                self.relayed_added = true;
            }
            self.turn_events.push(e);
        }
        // What ICE sends from the relayed candidate goes through the TURN client.
        let mut buf = Vec::new();
        while let Some(t) = self.agent.poll_transmit(now, &mut buf) {
            if Some(t.source) == self.turn.relayed_address() {
                if self.turn.state() == ClientState::Allocated {
                    let mut out = Vec::new();
                    let s = self.turn.send_to(now, t.destination, &buf, &mut out);
                    self.carry_to_server(s.unwrap(), out);
                }
            } else {
                self.out.push(Datagram {
                    source: t.source,
                    destination: t.destination,
                    payload: std::mem::take(&mut buf),
                });
            }
        }
        let mut buf = Vec::new();
        while let Some(t) = self.turn.poll_transmit(now, &mut buf) {
            self.carry_to_server(t, std::mem::take(&mut buf));
        }
    }

    /// What the TURN client wrote for its server goes out from our socket.
    fn carry_to_server(&mut self, t: fulmar_turn::Transmit, payload: Vec<u8>) {
        self.out.push(Datagram {
            source: self.local,
            destination: t.destination,
            payload,
        });
    }

    /// Application data over the selected pair.
    fn send_app(&mut self, now: Instant, data: &[u8]) {
        let pair = self.agent.selected_pair(1).unwrap().clone();
        if Some(pair.source) == self.turn.relayed_address() {
            let mut out = Vec::new();
            let t = self.turn.send_to(now, pair.destination, data, &mut out);
            self.carry_to_server(t.unwrap(), out);
        } else {
            self.out.push(Datagram {
                source: pair.source,
                destination: pair.destination,
                payload: data.to_vec(),
            });
        }
        self.pump(now);
    }
}

impl Endpoint for Peer {
    fn handle_receive(&mut self, now: Instant, d: Datagram) {
        let (source, destination, payload): (SocketAddr, SocketAddr, Vec<u8>) =
            match self.turn.handle_receive(now, d.source, &d.payload) {
                Received::PeerData { peer, data } => {
                    (peer, self.turn.relayed_address().unwrap(), data.to_vec())
                }
                Received::Consumed => {
                    self.pump(now);
                    return;
                }
                Received::NotFromServer => (d.source, d.destination, d.payload),
            };
        if !self
            .agent
            .handle_receive(now, source, destination, &payload)
        {
            self.app_data.push(payload);
        }
        self.pump(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.turn.handle_timeout(now);
        self.agent.handle_timeout(now);
        self.pump(now);
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        if self.out.is_empty() {
            None
        } else {
            Some(self.out.remove(0))
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        [self.turn.poll_timeout(), self.agent.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }
}

fn peer_mut(net: &mut Network, id: HostId) -> &mut Peer {
    net.endpoint_mut::<Peer>(id).unwrap()
}

#[test]
fn symmetric_nats_connect_through_turn_and_stay_up_for_twenty_minutes() {
    let mut net = Network::new(2026);
    let t0 = net.now();
    let s1: IpAddr = "198.51.100.1".parse().unwrap();
    let s2: IpAddr = "198.51.100.2".parse().unwrap();
    net.add_host(INTERNET, &[s1], TurnHost::new(s1, t0, 1));
    net.add_host(INTERNET, &[s2], TurnHost::new(s2, t0, 2));
    let (_, zone_a) = net.add_nat(
        INTERNET,
        "203.0.113.1".parse().unwrap(),
        NatConfig::symmetric(),
    );
    let (_, zone_b) = net.add_nat(
        INTERNET,
        "203.0.113.2".parse().unwrap(),
        NatConfig::symmetric(),
    );
    let la: SocketAddr = "192.168.1.2:5000".parse().unwrap();
    let lb: SocketAddr = "192.168.2.2:5000".parse().unwrap();
    let a = net.add_host(
        zone_a,
        &[la.ip()],
        Peer::new(IceRole::Controlling, la, SocketAddr::new(s1, TURN_PORT), 10),
    );
    let b = net.add_host(
        zone_b,
        &[lb.ip()],
        Peer::new(IceRole::Controlled, lb, SocketAddr::new(s2, TURN_PORT), 20),
    );
    for h in [a, b] {
        net.set_link(
            h,
            Link::symmetric(LinkConfig::ideal().with_delay(Duration::from_millis(20))),
        );
    }

    // Credentials, host candidates and allocations.
    let now = net.now();
    let ca = peer_mut(&mut net, a).agent.local_credentials().clone();
    let cb = peer_mut(&mut net, b).agent.local_credentials().clone();
    for (id, local, remote) in [(a, la, &cb), (b, lb, &ca)] {
        let p = peer_mut(&mut net, id);
        p.agent
            .set_remote_credentials(now, &remote.ufrag, &remote.pwd)
            .unwrap();
        p.agent.add_host_candidate(now, 1, local).unwrap();
        p.turn.allocate(now).unwrap();
        p.pump(now);
    }
    assert!(net.run_until_cond(Duration::from_secs(5), |n| {
        n.endpoint::<Peer>(a).unwrap().relayed_added && n.endpoint::<Peer>(b).unwrap().relayed_added
    }));

    // Signal every local candidate to the other side; each side installs
    // permissions (and a channel for relayed candidates) for what it learns.
    let now = net.now();
    let cands_a = peer_mut(&mut net, a).agent.local_candidates();
    let cands_b = peer_mut(&mut net, b).agent.local_candidates();
    assert!(cands_a.iter().any(|c| c.typ == CandidateType::Relay));
    for (id, remote) in [(a, &cands_b), (b, &cands_a)] {
        let p = peer_mut(&mut net, id);
        for c in remote {
            p.agent.add_remote_candidate(now, c.clone()).unwrap();
            let addr = c.socket_addr().unwrap();
            if c.typ == CandidateType::Relay {
                p.turn.bind_channel(now, addr).unwrap();
            } else {
                p.turn.create_permission(now, addr.ip()).unwrap();
            }
        }
        p.pump(now);
    }

    assert!(
        net.run_until_cond(Duration::from_secs(30), |n| {
            [a, b].iter().all(|&h| {
                matches!(
                    n.endpoint::<Peer>(h).unwrap().agent.state(),
                    IceConnectionState::Connected | IceConnectionState::Completed
                )
            })
        }),
        "ICE did not connect through the relays"
    );
    let connected_after = net.now() - t0;
    let relayed_a = peer_mut(&mut net, a).turn.relayed_address().unwrap();
    let relayed_b = peer_mut(&mut net, b).turn.relayed_address().unwrap();
    let pair = peer_mut(&mut net, a)
        .agent
        .selected_pair(1)
        .unwrap()
        .clone();
    assert_eq!((pair.source, pair.destination), (relayed_a, relayed_b));
    // Host and host-to-relay paths were all blocked by the symmetric NATs;
    // the private addresses were refused by the relay policy.
    assert!(peer_mut(&mut net, a).turn_events.iter().any(|e| matches!(
        e,
        ClientEvent::PermissionFailed {
            code: Some(403),
            ..
        }
    )));

    // A 20-minute call: data every 10 s in both directions.
    let mut sent = 0;
    for _ in 0..120 {
        net.run_for(Duration::from_secs(10));
        let now = net.now();
        peer_mut(&mut net, a).send_app(now, b"media from a");
        peer_mut(&mut net, b).send_app(now, b"media from b");
        sent += 1;
    }
    net.run_for(Duration::from_secs(1));
    assert!(net.now() - t0 >= Duration::from_secs(20 * 60));
    for h in [a, b] {
        let p = peer_mut(&mut net, h);
        assert!(
            matches!(
                p.agent.state(),
                IceConnectionState::Connected | IceConnectionState::Completed
            ),
            "{:?}",
            p.agent.state()
        );
        assert_eq!(p.turn.state(), ClientState::Allocated);
        assert_eq!(p.app_data.len(), sent, "every datagram relayed");
        let refreshes = p
            .turn_events
            .iter()
            .filter(|e| matches!(e, ClientEvent::Refreshed { .. }))
            .count();
        assert!(refreshes >= 2, "allocation refreshed: {refreshes}");
        // Consent checks and media used the channel, not Send indications.
        assert!(p
            .turn
            .channel(if h == a { relayed_b } else { relayed_a })
            .is_some());
    }
    assert!(
        connected_after < Duration::from_secs(10),
        "{connected_after:?}"
    );
}
