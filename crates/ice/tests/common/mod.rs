//! A harness that runs ICE agents over fulmar-netsim with in-test signaling.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use fulmar_ice::{
    Candidate, IceAgent, IceConfig, IceConnectionState, IceEvent, IceRole, SelectedPair,
};
use fulmar_netsim::{
    Datagram, Endpoint, HostId, Link, LinkConfig, NatConfig, Network, ZoneId, INTERNET,
};
use fulmar_stun::server::BindingResponder;
use rand::{rngs::StdRng, SeedableRng};

/// An ICE agent as a netsim endpoint; records its events with timestamps.
pub struct IcePeer {
    pub agent: IceAgent,
    pub events: Vec<(Instant, IceEvent)>,
    /// Non-STUN datagrams received (application data).
    pub app_data: Vec<Vec<u8>>,
}

impl IcePeer {
    pub fn new(config: IceConfig, seed: u64) -> Self {
        IcePeer {
            agent: IceAgent::new(config, StdRng::seed_from_u64(seed)),
            events: Vec::new(),
            app_data: Vec::new(),
        }
    }

    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.agent.poll_event() {
            self.events.push((now, e));
        }
    }

    /// When the agent first reached `state`.
    pub fn reached(&self, state: IceConnectionState) -> Option<Instant> {
        self.events.iter().find_map(|(t, e)| match e {
            IceEvent::ConnectionStateChange(s) if *s == state => Some(*t),
            _ => None,
        })
    }

    /// When the agent first became Connected or Completed.
    pub fn connected_at(&self) -> Option<Instant> {
        self.events.iter().find_map(|(t, e)| match e {
            IceEvent::ConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) => Some(*t),
            _ => None,
        })
    }

    pub fn states(&self) -> Vec<IceConnectionState> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                IceEvent::ConnectionStateChange(s) => Some(*s),
                _ => None,
            })
            .collect()
    }
}

impl Endpoint for IcePeer {
    fn handle_receive(&mut self, now: Instant, d: Datagram) {
        if !self
            .agent
            .handle_receive(now, d.source, d.destination, &d.payload)
        {
            self.app_data.push(d.payload);
        }
        self.drain(now);
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.agent.handle_timeout(now);
        self.drain(now);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        let mut payload = Vec::new();
        let t = self.agent.poll_transmit(now, &mut payload)?;
        Some(Datagram {
            source: t.source,
            destination: t.destination,
            payload,
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.agent.poll_timeout()
    }
}

/// fulmar-stun's Binding responder as a netsim endpoint.
pub struct StunServer {
    pub addr: SocketAddr,
    pub responder: BindingResponder,
}

impl Endpoint for StunServer {
    fn handle_receive(&mut self, now: Instant, d: Datagram) {
        if d.destination == self.addr {
            self.responder
                .handle_receive(now, d.source, d.destination, &d.payload);
        }
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        let mut buf = Vec::new();
        let t = self.responder.poll_transmit(now, &mut buf)?;
        Some(Datagram {
            source: t.source,
            destination: t.destination,
            payload: buf,
        })
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        None
    }
}

pub const STUN_SERVER: &str = "198.51.100.1:3478";

/// How a peer is attached.
#[derive(Clone)]
pub struct Side {
    pub config: IceConfig,
    pub nat: Option<NatConfig>,
    /// Host addresses (with the port added).
    pub addrs: Vec<IpAddr>,
    pub port: u16,
    pub link: LinkConfig,
}

impl Side {
    pub fn new(role: IceRole) -> Self {
        Side {
            config: IceConfig::new(role),
            nat: None,
            addrs: vec![],
            port: 5000,
            link: LinkConfig::ideal(),
        }
    }
    pub fn nat(mut self, nat: NatConfig) -> Self {
        self.nat = Some(nat);
        self
    }
    pub fn config(mut self, f: impl FnOnce(IceConfig) -> IceConfig) -> Self {
        self.config = f(self.config);
        self
    }
    pub fn link(mut self, link: LinkConfig) -> Self {
        self.link = link;
        self
    }
    pub fn addrs(mut self, addrs: &[&str]) -> Self {
        self.addrs = addrs.iter().map(|a| a.parse().unwrap()).collect();
        self
    }
}

/// Two peers, an optional STUN server, and signaling between them.
pub struct Scenario {
    pub net: Network,
    pub a: HostId,
    pub b: HostId,
    pub stun: Option<HostId>,
    cursor: [usize; 2],
    /// Forward candidates between the peers (trickle).
    pub signaling: bool,
    /// Candidates are delivered no earlier than this after they were emitted.
    pub signal_delay: Duration,
    /// Only candidates passing this filter are signalled.
    pub signal_filter: fn(&Candidate) -> bool,
}

impl Scenario {
    /// Builds the network: each peer directly on the Internet or behind its
    /// own NAT; the STUN server on the Internet when `stun`.
    pub fn new(seed: u64, a: Side, b: Side, stun: bool) -> Self {
        let mut net = Network::new(seed);
        let stun_id = stun.then(|| {
            let addr: SocketAddr = STUN_SERVER.parse().unwrap();
            net.add_host(
                INTERNET,
                &[addr.ip()],
                StunServer {
                    addr,
                    responder: BindingResponder::new(),
                },
            )
        });
        let place = |side: &Side, idx: u8, net: &mut Network| -> (ZoneId, Vec<IpAddr>) {
            match &side.nat {
                Some(n) => {
                    let ext: IpAddr = format!("203.0.113.{}", idx).parse().unwrap();
                    let (_nat, zone) = net.add_nat(INTERNET, ext, n.clone());
                    let addrs = if side.addrs.is_empty() {
                        vec![format!("192.168.{idx}.2").parse().unwrap()]
                    } else {
                        side.addrs.clone()
                    };
                    (zone, addrs)
                }
                None => {
                    let addrs = if side.addrs.is_empty() {
                        vec![format!("203.0.113.{}", 100 + idx).parse().unwrap()]
                    } else {
                        side.addrs.clone()
                    };
                    (INTERNET, addrs)
                }
            }
        };
        let (za, aa) = place(&a, 1, &mut net);
        let (zb, ab) = place(&b, 2, &mut net);
        let ha = net.add_host(za, &aa, IcePeer::new(a.config.clone(), seed * 2 + 1));
        let hb = net.add_host(zb, &ab, IcePeer::new(b.config.clone(), seed * 2 + 2));
        net.set_link(ha, Link::symmetric(a.link.clone()));
        net.set_link(hb, Link::symmetric(b.link.clone()));
        let mut s = Scenario {
            net,
            a: ha,
            b: hb,
            stun: stun_id,
            cursor: [0, 0],
            signaling: true,
            signal_delay: Duration::ZERO,
            signal_filter: |_| true,
        };
        s.exchange_credentials();
        let now = s.net.now();
        for (h, side) in [(ha, &a), (hb, &b)] {
            let addrs: Vec<IpAddr> = s.net.host_addrs(h).to_vec();
            let p = s.peer_mut(h);
            for ip in addrs {
                p.agent
                    .add_host_candidate(now, 1, SocketAddr::new(ip, side.port))
                    .unwrap();
            }
            p.agent.end_of_local_candidates(now);
            p.drain(now);
        }
        s
    }

    /// Both peers behind one NAT (with the STUN server outside).
    pub fn same_nat(seed: u64, nat: NatConfig, a: Side, b: Side) -> Self {
        let mut net = Network::new(seed);
        let addr: SocketAddr = STUN_SERVER.parse().unwrap();
        let stun = net.add_host(
            INTERNET,
            &[addr.ip()],
            StunServer {
                addr,
                responder: BindingResponder::new(),
            },
        );
        let (_nat, lan) = net.add_nat(INTERNET, "203.0.113.1".parse().unwrap(), nat);
        let ha = net.add_host(
            lan,
            &["192.168.1.2".parse().unwrap()],
            IcePeer::new(a.config.clone(), seed * 2 + 1),
        );
        let hb = net.add_host(
            lan,
            &["192.168.1.3".parse().unwrap()],
            IcePeer::new(b.config.clone(), seed * 2 + 2),
        );
        let mut s = Scenario {
            net,
            a: ha,
            b: hb,
            stun: Some(stun),
            cursor: [0, 0],
            signaling: true,
            signal_delay: Duration::ZERO,
            signal_filter: |_| true,
        };
        s.exchange_credentials();
        let now = s.net.now();
        for (h, side) in [(ha, &a), (hb, &b)] {
            let ip = s.net.host_addrs(h)[0];
            let p = s.peer_mut(h);
            p.agent
                .add_host_candidate(now, 1, SocketAddr::new(ip, side.port))
                .unwrap();
            p.agent.end_of_local_candidates(now);
            p.drain(now);
        }
        s
    }

    pub fn peer(&self, h: HostId) -> &IcePeer {
        self.net.endpoint::<IcePeer>(h).unwrap()
    }

    pub fn peer_mut(&mut self, h: HostId) -> &mut IcePeer {
        self.net.endpoint_mut::<IcePeer>(h).unwrap()
    }

    pub fn exchange_credentials(&mut self) {
        let now = self.net.now();
        let ca = self.peer(self.a).agent.local_credentials().clone();
        let cb = self.peer(self.b).agent.local_credentials().clone();
        let (a, b) = (self.a, self.b);
        self.peer_mut(a)
            .agent
            .set_remote_credentials(now, &cb.ufrag, &cb.pwd)
            .unwrap();
        self.peer_mut(b)
            .agent
            .set_remote_credentials(now, &ca.ufrag, &ca.pwd)
            .unwrap();
    }

    /// Forwards new local candidates and end-of-candidates between peers.
    pub fn signal(&mut self) {
        if !self.signaling {
            return;
        }
        let now = self.net.now();
        for (i, (from, to)) in [(self.a, self.b), (self.b, self.a)].into_iter().enumerate() {
            let p = self.peer(from);
            let mut msgs: Vec<Option<Candidate>> = Vec::new();
            let mut c = self.cursor[i];
            while let Some((t, e)) = p.events.get(c) {
                if *t + self.signal_delay > now {
                    break;
                }
                match e {
                    IceEvent::LocalCandidate(cand) if (self.signal_filter)(cand) => {
                        msgs.push(Some(cand.clone()))
                    }
                    IceEvent::GatheringComplete => msgs.push(None),
                    _ => {}
                }
                c += 1;
            }
            self.cursor[i] = c;
            let q = self.peer_mut(to);
            for m in msgs {
                match m {
                    Some(cand) => q.agent.add_remote_candidate(now, cand).unwrap(),
                    None => q.agent.end_of_remote_candidates(now),
                }
            }
            q.drain(now);
        }
    }

    /// Skips the signaling of everything emitted so far (after a restart the
    /// old candidates must not be re-sent).
    pub fn skip_signaled(&mut self) {
        self.cursor = [
            self.peer(self.a).events.len(),
            self.peer(self.b).events.len(),
        ];
    }

    /// Runs with signaling until `cond` holds or `limit` passes.
    pub fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Scenario) -> bool) -> bool {
        let deadline = self.net.now() + limit;
        loop {
            self.signal();
            if cond(self) {
                return true;
            }
            let next = self.net.next_deadline();
            // Pending signaling also wakes us up.
            let next = if self.signal_delay > Duration::ZERO {
                let wake = self.net.now() + Duration::from_millis(10);
                next.map_or(Some(wake), |n| Some(n.min(wake)))
            } else {
                next
            };
            match next {
                Some(t) if t <= deadline => {
                    if t > self.net.now() && self.net.next_deadline().is_none_or(|n| n > t) {
                        self.net.run_until(t);
                    } else {
                        self.net.step();
                    }
                }
                _ => {
                    self.net.run_until(deadline);
                    self.signal();
                    return cond(self);
                }
            }
        }
    }

    pub fn state(&self, h: HostId) -> IceConnectionState {
        self.peer(h).agent.state()
    }

    pub fn both_connected(&self) -> bool {
        use IceConnectionState::*;
        matches!(self.state(self.a), Connected | Completed)
            && matches!(self.state(self.b), Connected | Completed)
    }

    pub fn both(&self, s: IceConnectionState) -> bool {
        self.state(self.a) == s && self.state(self.b) == s
    }

    pub fn selected(&self, h: HostId) -> Option<SelectedPair> {
        self.peer(h).agent.selected_pair(1).cloned()
    }

    /// Sends application data both ways over the selected pairs and checks
    /// that it arrives: the selected path really works through the NATs.
    pub fn assert_data_flows(&mut self) {
        let sa = self.selected(self.a).expect("a has a selected pair");
        let sb = self.selected(self.b).expect("b has a selected pair");
        let before = (
            self.peer(self.a).app_data.len(),
            self.peer(self.b).app_data.len(),
        );
        self.net.inject(
            self.a,
            Datagram {
                source: sa.source,
                destination: sa.destination,
                payload: vec![0x80, 1],
            },
        );
        self.net.inject(
            self.b,
            Datagram {
                source: sb.source,
                destination: sb.destination,
                payload: vec![0x80, 2],
            },
        );
        self.net.run_for(Duration::from_secs(2));
        assert!(
            self.peer(self.b).app_data[before.1..].contains(&vec![0x80, 1]),
            "a -> b data lost"
        );
        assert!(
            self.peer(self.a).app_data[before.0..].contains(&vec![0x80, 2]),
            "b -> a data lost"
        );
    }

    pub fn elapsed_since_start(&self, t: Instant) -> Duration {
        t - self.net.start()
    }
}
