//! ICE over TURN in the sans-IO core, on fulmar-netsim in simulated time:
//! two peers behind symmetric NATs reach each other only through a TURN
//! server (fulmar-turn's server core as the middle node). The peers
//! allocate, offer their relayed addresses, bind channels, exchange
//! data-channel messages as ChannelData, and delete their allocations on
//! close; a TURN server that never answers only delays gathering.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use fulmar_datachannel::ChannelConfig;
use fulmar_netsim::{HostId, NatConfig, Network, INTERNET};
use fulmar_peer::{
    ChannelId, Config, Event, PeerConnection, PeerConnectionState, SessionDescription, TurnServer,
};
use rand::{rngs::StdRng, SeedableRng};

/// fulmar-turn's server core on a netsim host, shared with its own tests.
#[path = "../../turn/tests/common/turn_host.rs"]
mod turn_host;

use turn_host::{Sent, TurnHost};

mod netpeer;

use netpeer::{connected, peer, NetPeer};

/// The TURN server, on the Internet.
const TURN: &str = "203.0.113.10:3478";

/// A peer allocating on [`TURN`] from `local`, relay candidates only if
/// `relay_only`; its socket is its only host and it has no other.
fn new_peer(now: Instant, seed: u64, local: SocketAddr, relay_only: bool) -> PeerConnection {
    let mut config = Config::default();
    config.turn_servers = vec![TurnServer::new(TURN.parse().unwrap(), "user", "pass")];
    config.relay_only = relay_only;
    let mut pc = PeerConnection::new(config, StdRng::seed_from_u64(seed)).unwrap();
    pc.add_host_candidate(now, local).unwrap();
    pc.end_of_local_candidates(now);
    pc
}

/// The TURN server and two peers, each behind its own symmetric NAT (so
/// only relayed addresses reach each other), after offer and answer; A
/// offers only its relayed candidate.
struct Relayed {
    net: Network,
    turn: HostId,
    a: HostId,
    b: HostId,
    chat: ChannelId,
    nat_a: IpAddr,
    nat_b: IpAddr,
}

fn relayed_pair(seed: u64) -> Relayed {
    let mut net = Network::new(seed);
    let now = net.now();
    let turn_addr: SocketAddr = TURN.parse().unwrap();
    let turn = net.add_host(
        INTERNET,
        &[turn_addr.ip()],
        TurnHost::new(turn_addr.ip(), now, 7),
    );
    let (nat_a, nat_b): (IpAddr, IpAddr) = (
        "198.51.100.1".parse().unwrap(),
        "198.51.100.2".parse().unwrap(),
    );
    let (_, zone_a) = net.add_nat(INTERNET, nat_a, NatConfig::symmetric());
    let (_, zone_b) = net.add_nat(INTERNET, nat_b, NatConfig::symmetric());
    let la: SocketAddr = "192.168.1.2:5000".parse().unwrap();
    let lb: SocketAddr = "192.168.2.2:5000".parse().unwrap();
    let mut pa = new_peer(now, seed + 1, la, true);
    let mut pb = new_peer(now, seed + 2, lb, false);
    let chat = pa.create_data_channel(ChannelConfig::new("chat")).unwrap();
    let offer = pa.create_offer().unwrap();
    pa.set_local_description(now, offer.clone()).unwrap();
    let offer = SessionDescription::offer(&offer.sdp.to_string()).unwrap();
    pb.set_remote_description(now, offer).unwrap();
    let answer = pb.create_answer().unwrap();
    pb.set_local_description(now, answer.clone()).unwrap();
    let answer = SessionDescription::answer(&answer.sdp.to_string()).unwrap();
    pa.set_remote_description(now, answer).unwrap();
    let new = NetPeer::new;
    let a = net.add_host(zone_a, &[la.ip()], new(pa));
    let b = net.add_host(zone_b, &[lb.ip()], new(pb));
    netpeer::set_delay(&mut net, &[a, b], Duration::from_millis(20));
    Relayed {
        net,
        turn,
        a,
        b,
        chat,
        nat_a,
        nat_b,
    }
}

impl Relayed {
    /// Runs for at most `limit`, trickling candidates both ways, until
    /// `done`.
    fn run_until(&mut self, limit: Duration, done: impl FnMut(&mut Network) -> bool) -> bool {
        netpeer::run_trickling(&mut self.net, self.a, self.b, limit, done)
    }

    fn turn(&self) -> &TurnHost {
        self.net.endpoint::<TurnHost>(self.turn).unwrap()
    }
}

#[test]
fn peers_connect_through_turn_and_bind_channels() {
    let mut r = relayed_pair(2026);
    let (a, b, chat) = (r.a, r.b, r.chat);
    assert!(
        r.run_until(Duration::from_secs(30), |n| connected(n, a)
            && connected(n, b)),
        "connected through the relay"
    );
    // A offered its relayed address only; both selected relayed pairs.
    let turn_ip = r.turn().addr.ip();
    let cands: Vec<String> = peer(&mut r.net, a).candidates().cloned().collect();
    assert!(
        !cands.is_empty() && cands.iter().all(|c| c.contains(" typ relay")),
        "{cands:?}"
    );
    for h in [a, b] {
        let (local, remote) = peer(&mut r.net, h).pc.stats().selected_pair.unwrap();
        assert_eq!(
            (local.ip(), remote.ip()),
            (turn_ip, turn_ip),
            "relayed pair"
        );
    }
    assert!(
        peer(&mut r.net, b)
            .candidates()
            .any(|c| c.contains(" typ host")),
        "B offers its host too"
    );
    assert!(peer(&mut r.net, a)
        .events
        .contains(&Event::GatheringComplete));

    // Until a channel is bound, the first checks went as Send indications.
    for nat in [r.nat_a, r.nat_b] {
        assert!(r.turn().sent_by(nat, 0).contains(&Sent::SendIndication));
    }
    // Let the other checks end, then messages both ways: every datagram
    // to a peer is ChannelData now (RFC 8656 §12), over bound channels.
    r.net.run_for(Duration::from_secs(60));
    let (skip_a, skip_b) = (
        r.turn().sent_by(r.nat_a, 0).len(),
        r.turn().sent_by(r.nat_b, 0).len(),
    );
    let now = r.net.now();
    for i in 0..20 {
        let text = format!("message {i}");
        peer(&mut r.net, a).pc.send_text(now, chat, &text).unwrap();
    }
    assert!(r.run_until(Duration::from_secs(10), |n| {
        n.endpoint::<NetPeer>(b).unwrap().messages() == 20
    }));
    let now = r.net.now();
    let back = peer(&mut r.net, b)
        .events
        .iter()
        .find_map(|e| match e {
            Event::DataChannelOpen(id) => Some(*id),
            _ => None,
        })
        .unwrap();
    peer(&mut r.net, b)
        .pc
        .send(now, back, bytes::Bytes::from(vec![7u8; 10_000]), true)
        .unwrap();
    assert!(r.run_until(Duration::from_secs(10), |n| {
        n.endpoint::<NetPeer>(a).unwrap().messages() == 1
    }));
    for (nat, skip) in [(r.nat_a, skip_a), (r.nat_b, skip_b)] {
        let sent = r.turn().sent_by(nat, skip);
        assert!(sent.contains(&Sent::ChannelData), "{sent:?}");
        assert!(!sent.contains(&Sent::SendIndication), "{sent:?}");
    }
    let stats = r.turn().server.stats();
    assert!(stats.channels_bound >= 2, "{stats:?}");
    assert_eq!(stats.allocations_created, 2);
}

/// Closing deletes the allocation (a Refresh with lifetime 0, RFC 8656
/// §7.5) after the last datagrams went through it: the other peer hears
/// the close.
#[test]
fn close_deletes_the_allocation() {
    let mut r = relayed_pair(7);
    let (a, b, turn) = (r.a, r.b, r.turn);
    assert!(r.run_until(Duration::from_secs(30), |n| connected(n, a)
        && connected(n, b)));
    assert_eq!(r.turn().server.allocation_count(), 2);
    let now = r.net.now();
    peer(&mut r.net, a).pc.close(now);
    assert!(r.run_until(Duration::from_secs(5), |n| {
        n.endpoint::<TurnHost>(turn)
            .unwrap()
            .server
            .allocation_count()
            == 1
    }));
    assert_eq!(r.turn().server.stats().allocations_deleted, 1);
    assert!(
        r.run_until(Duration::from_secs(5), |n| {
            n.endpoint::<NetPeer>(b).unwrap().pc.connection_state() == PeerConnectionState::Closed
        }),
        "close_notify went through the relay before it was deleted"
    );
    // Nothing is left to do for A: no timer, nothing to send.
    r.net.run_for(Duration::from_secs(1));
    assert_eq!(peer(&mut r.net, a).pc.poll_timeout(), None);
}

/// A TURN server that never answers: the Allocate times out (RFC 8489
/// §6.2.1, 39.5 s) and gathering completes without a relayed candidate.
#[test]
fn a_silent_turn_server_only_delays_gathering() {
    let mut net = Network::new(3);
    let now = net.now();
    let turn_addr: SocketAddr = TURN.parse().unwrap();
    net.add_host(
        INTERNET,
        &[turn_addr.ip()],
        TurnHost::new(turn_addr.ip(), now, 7).silent(),
    );
    let local: SocketAddr = "198.51.100.7:5000".parse().unwrap();
    let mut pc = new_peer(now, 4, local, false);
    pc.create_data_channel(ChannelConfig::new("x")).unwrap();
    let offer = pc.create_offer().unwrap();
    pc.set_local_description(now, offer).unwrap();
    let p = NetPeer {
        pc,
        events: Vec::new(),
        trickle: VecDeque::new(),
        buf: Vec::new(),
    };
    let h = net.add_host(INTERNET, &[local.ip()], p);
    let complete = |n: &mut Network| {
        let p = n.endpoint::<NetPeer>(h).unwrap();
        p.events.contains(&Event::GatheringComplete)
    };
    assert!(!net.run_until_cond(Duration::from_secs(30), complete));
    assert!(net.run_until_cond(Duration::from_secs(15), complete));
    let p = peer(&mut net, h);
    let cands: Vec<&String> = p.candidates().collect();
    assert_eq!(cands.len(), 1, "{cands:?}");
    assert!(cands[0].contains(" typ host"));
    let sdp = p.pc.local_description().unwrap().sdp.to_string();
    assert!(sdp.contains("a=end-of-candidates"), "{sdp}");
}
