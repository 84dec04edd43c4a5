//! The TURN client against the TURN server core, in process, in simulated
//! time (RFC 8656 §7–§12, RFC 8489 §9.2).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use fulmar_stun::attributes::{
    AdditionalAddressFamily, AddressErrorCode, ErrorCode, Lifetime, Nonce, PasswordAlgorithm,
    PasswordAlgorithmId, PasswordAlgorithms, Realm, RequestedAddressFamily, RequestedTransport,
    Username, XorPeerAddress, XorRelayedAddress,
};
use fulmar_stun::{Attribute, Class, IntegrityKey, Message, MessageBuilder, Method, TransactionId};
use fulmar_turn::{
    time_limited_credentials, AddressFamily, Client, ClientConfig, ClientEvent, ClientState,
    ClientTransport, FiveTuple, PeerPolicy, Received, Server, ServerConfig, ServerEvent,
    StreamFramer, TransportProtocol,
};
use rand::{rngs::StdRng, SeedableRng};

const SERVER: &str = "198.51.100.1:3478";
const PEER: &str = "192.0.2.50:9000";
const REALM: &str = "fulmar.test";

fn server_addr() -> SocketAddr {
    SERVER.parse().unwrap()
}

fn peer() -> SocketAddr {
    PEER.parse().unwrap()
}

fn config() -> ServerConfig {
    ServerConfig::new(REALM, "198.51.100.1".parse().unwrap())
        .with_user("alice", "secret")
        .with_user("bob", "hunter2")
}

struct Endpoint {
    client: Client,
    ft: FiveTuple,
    /// Stream transport: bytes pass through framers, cut in odd pieces.
    to_server: StreamFramer,
    to_client: StreamFramer,
    events: Vec<ClientEvent>,
    received: Vec<(SocketAddr, Vec<u8>)>,
}

struct Harness {
    now: Instant,
    server: Server,
    eps: Vec<Endpoint>,
    /// What the server relayed to peers: (relayed, peer, data).
    to_peers: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    server_events: Vec<ServerEvent>,
    /// Drop everything between clients and server (to test retransmissions).
    blackhole: bool,
}

impl Harness {
    fn new(config: ServerConfig) -> Self {
        let now = Instant::now();
        Harness {
            now,
            server: Server::new(config, now, StdRng::seed_from_u64(7)),
            eps: Vec::new(),
            to_peers: Vec::new(),
            server_events: Vec::new(),
            blackhole: false,
        }
    }

    fn add_client(&mut self, cc: ClientConfig, port: u16) -> usize {
        let protocol = match cc.transport {
            ClientTransport::Udp => TransportProtocol::Udp,
            ClientTransport::Stream => TransportProtocol::Tcp,
        };
        let ft = FiveTuple {
            client: SocketAddr::new("203.0.113.10".parse().unwrap(), port),
            server: server_addr(),
            protocol,
        };
        let seed = u64::from(port);
        self.eps.push(Endpoint {
            client: Client::new(cc, StdRng::seed_from_u64(seed)),
            ft,
            to_server: StreamFramer::new(),
            to_client: StreamFramer::new(),
            events: Vec::new(),
            received: Vec::new(),
        });
        self.eps.len() - 1
    }

    fn alice(&mut self) -> usize {
        let n = self.eps.len() as u16;
        self.add_client(
            ClientConfig::new(server_addr(), "alice", "secret"),
            40000 + n,
        )
    }

    /// Carries bytes client `i` wrote to the server (through the stream
    /// framer, in uneven pieces, for a stream client).
    fn carry_to_server(&mut self, i: usize, bytes: &[u8]) {
        if self.blackhole {
            return;
        }
        let ft = self.eps[i].ft;
        let frames: Vec<Vec<u8>> = if ft.protocol.is_stream() {
            // Deliver in two uneven pieces through the framer.
            let f = &mut self.eps[i].to_server;
            let cut = bytes.len() / 3;
            f.push(&bytes[..cut]);
            let mut out = Vec::new();
            while let Some(fr) = f.next_frame().unwrap() {
                out.push(fr.to_vec());
            }
            f.push(&bytes[cut..]);
            while let Some(fr) = f.next_frame().unwrap() {
                out.push(fr.to_vec());
            }
            out
        } else {
            vec![bytes.to_vec()]
        };
        for fr in frames {
            if let Some(r) = self.server.handle_client(self.now, ft, &fr) {
                self.to_peers.push((r.relayed, r.peer, r.data.to_vec()));
            }
        }
    }

    /// Client `i` sends `data` to `peer` through its allocation.
    fn send(&mut self, i: usize, peer: SocketAddr, data: &[u8]) {
        let mut out = Vec::new();
        let t = self.eps[i]
            .client
            .send_to(self.now, peer, data, &mut out)
            .unwrap();
        assert_eq!((t.destination, t.len), (server_addr(), out.len()));
        self.carry_to_server(i, &out);
    }

    /// Move messages until nothing is in flight.
    fn pump(&mut self) {
        let mut buf = Vec::new();
        for _ in 0..1000 {
            let mut moved = false;
            for i in 0..self.eps.len() {
                while let Some(t) = self.eps[i].client.poll_transmit(self.now, &mut buf) {
                    moved = true;
                    assert_eq!(t.destination, server_addr());
                    self.carry_to_server(i, &buf);
                }
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                if self.blackhole {
                    continue;
                }
                self.deliver(t.five_tuple, &t.payload);
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
            }
            for ep in &mut self.eps {
                while let Some(e) = ep.client.poll_event() {
                    ep.events.push(e);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("pump did not settle");
    }

    fn deliver(&mut self, ft: FiveTuple, payload: &[u8]) {
        let now = self.now;
        let Some(ep) = self.eps.iter_mut().find(|e| e.ft == ft) else {
            return;
        };
        let frames: Vec<Vec<u8>> = if ft.protocol.is_stream() {
            ep.to_client.push(payload);
            let mut out = Vec::new();
            while let Some(fr) = ep.to_client.next_frame().unwrap() {
                out.push(fr.to_vec());
            }
            out
        } else {
            vec![payload.to_vec()]
        };
        for fr in frames {
            if let Received::PeerData { peer, data } =
                ep.client.handle_receive(now, server_addr(), &fr)
            {
                ep.received.push((peer, data.to_vec()));
            }
        }
    }

    /// A peer sends to a relayed address.
    fn peer_sends(&mut self, relayed: SocketAddr, from: SocketAddr, data: &[u8]) -> bool {
        let mut buf = [0u8; 2048];
        match self
            .server
            .handle_peer(self.now, relayed, from, data, &mut buf)
        {
            Some((ft, n)) => {
                self.deliver(ft, &buf[..n]);
                true
            }
            None => false,
        }
    }

    /// Advance simulated time by `d`, stopping at every deadline.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.pump();
            let next = self
                .eps
                .iter()
                .filter_map(|e| e.client.poll_timeout())
                .chain(self.server.poll_timeout())
                .min()
                .map_or(end, |t| t.max(self.now).min(end));
            self.now = next;
            for ep in &mut self.eps {
                ep.client.handle_timeout(next);
            }
            self.server.handle_timeout(next);
            self.pump();
            if next >= end {
                return;
            }
        }
    }

    fn allocate(&mut self, i: usize) -> SocketAddr {
        self.eps[i].client.allocate(self.now).unwrap();
        self.pump();
        match self.eps[i].events.first() {
            Some(ClientEvent::Allocated { relayed, .. }) => *relayed,
            e => panic!("no allocation: {e:?}"),
        }
    }

    fn ep(&self, i: usize) -> &Endpoint {
        &self.eps[i]
    }
}

#[test]
fn rfc8656_allocate_challenge_sha256_and_relay_both_ways() {
    let mut h = Harness::new(config());
    let a = h.alice();
    let relayed = h.allocate(a);
    assert_eq!(relayed.ip(), "198.51.100.1".parse::<IpAddr>().unwrap());
    let stats = h.server.stats();
    assert_eq!(
        stats.challenges, 1,
        "one 401 to the credential-less Allocate"
    );
    assert_eq!(stats.allocations_created, 1);
    assert_eq!(h.ep(a).client.mapped_address(), Some(h.ep(a).ft.client));
    assert!(matches!(
        h.server_events[0],
        ServerEvent::AllocationCreated { ref username, .. } if username == "alice"
    ));

    // Before any permission, data from the peer is dropped.
    assert!(!h.peer_sends(relayed, peer(), b"too early"));

    // Send indication path (permission requested automatically).
    h.send(a, peer(), b"one");
    h.pump();
    // The first Send raced the CreatePermission; the second one flows.
    h.send(a, peer(), b"two");
    h.pump();
    assert!(h.ep(a).client.has_permission(peer().ip()));
    assert!(h.to_peers.contains(&(relayed, peer(), b"two".to_vec())));
    assert!(h.peer_sends(relayed, peer(), b"data indication"));
    assert_eq!(
        h.ep(a).received.last(),
        Some(&(peer(), b"data indication".to_vec()))
    );

    // ChannelData path.
    let ch = h.eps[a].client.bind_channel(h.now, peer()).unwrap();
    h.pump();
    assert!(h.ep(a).events.contains(&ClientEvent::ChannelBound {
        peer: peer(),
        channel: ch
    }));
    assert_eq!(h.ep(a).client.channel(peer()), Some(ch));
    let mut buf = Vec::new();
    let payload = [0xA5u8; 1200];
    let n = h.eps[a]
        .client
        .send_to(h.now, peer(), &payload, &mut buf)
        .unwrap()
        .len;
    assert_eq!(n, 1204, "ChannelData: 4-byte header");
    assert_eq!(&buf[..2], &ch.to_be_bytes());
    let r = h
        .server
        .handle_client(h.now, h.ep(a).ft, &buf[..n])
        .unwrap();
    assert_eq!((r.relayed, r.peer, r.data), (relayed, peer(), &payload[..]));
    let mut out = [0u8; 1300];
    let (ft, m) = h
        .server
        .handle_peer(h.now, relayed, peer(), &payload, &mut out)
        .unwrap();
    assert_eq!((ft, m), (h.ep(a).ft, 1204));
    assert_eq!(&out[..2], &ch.to_be_bytes());
    let got = h.eps[a]
        .client
        .handle_receive(h.now, server_addr(), &out[..m]);
    assert_eq!(
        got,
        Received::PeerData {
            peer: peer(),
            data: &payload[..]
        }
    );

    // Data from an address not permitted is dropped.
    let stranger: SocketAddr = "192.0.2.99:1".parse().unwrap();
    assert!(!h.peer_sends(relayed, stranger, b"x"));
    let g = h.server.gauges(h.now);
    assert_eq!((g.allocations, g.permissions, g.channels), (1, 1, 1));
}

#[test]
fn rfc8489_9_2_sha256_key_is_used_when_offered_and_md5_otherwise() {
    // Offered: a request signed with an MD5 key fails, SHA-256 works.
    for offer in [true, false] {
        let mut cfg = config();
        cfg.offer_sha256 = offer;
        let mut h = Harness::new(cfg);
        let now = h.now;
        let ft = FiveTuple {
            client: "203.0.113.1:1000".parse().unwrap(),
            server: server_addr(),
            protocol: TransportProtocol::Udp,
        };
        let mut buf = [0u8; 512];
        let mut b = MessageBuilder::new(
            &mut buf,
            Class::Request,
            Method::ALLOCATE,
            TransactionId::new([1; 12]),
        );
        b.add(&RequestedTransport::UDP);
        let req = b.finish().unwrap().to_vec();
        assert!(h.server.handle_client(now, ft, &req).is_none());
        let resp = h.server.poll_transmit().unwrap().payload;
        let m = Message::parse(&resp).unwrap();
        assert_eq!(m.get::<ErrorCode>().unwrap().code, 401);
        let nonce = m.get::<Nonce>().unwrap().0.to_owned();
        assert_eq!(nonce.starts_with("obMatJos2"), offer);
        assert_eq!(m.get::<PasswordAlgorithms>().is_ok(), offer);
        assert_eq!(m.get::<Realm>().unwrap().0, REALM);

        let alg = if offer {
            PasswordAlgorithmId::SHA256
        } else {
            PasswordAlgorithmId::MD5
        };
        let key = IntegrityKey::long_term("alice", REALM, "secret", alg);
        let list = [
            PasswordAlgorithm::new(PasswordAlgorithmId::SHA256),
            PasswordAlgorithm::new(PasswordAlgorithmId::MD5),
        ];
        let mut buf = [0u8; 512];
        let mut b = MessageBuilder::new(
            &mut buf,
            Class::Request,
            Method::ALLOCATE,
            TransactionId::new([2; 12]),
        );
        b.add(&RequestedTransport::UDP)
            .add(&Username("alice"))
            .add(&Realm(REALM))
            .add(&Nonce(&nonce));
        if offer {
            b.add(&PasswordAlgorithms::new(&list))
                .add(&PasswordAlgorithm::new(alg));
        }
        b.add_message_integrity(&key).add_fingerprint();
        let req = b.finish().unwrap().to_vec();
        h.server.handle_client(now, ft, &req);
        let resp = h.server.poll_transmit().unwrap().payload;
        let m = Message::parse(&resp).unwrap();
        assert_eq!(m.class(), Class::SuccessResponse, "offer={offer}");
        m.verify_integrity(&key).unwrap();
        m.verify_fingerprint().unwrap();
    }
}

#[test]
fn downgraded_password_algorithms_list_is_rejected() {
    let mut h = Harness::new(config());
    let now = h.now;
    let ft = FiveTuple {
        client: "203.0.113.1:1000".parse().unwrap(),
        server: server_addr(),
        protocol: TransportProtocol::Udp,
    };
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::ALLOCATE,
        TransactionId::new([1; 12]),
    );
    b.add(&RequestedTransport::UDP);
    h.server.handle_client(now, ft, b.finish().unwrap());
    let resp = h.server.poll_transmit().unwrap().payload;
    let nonce = Message::parse(&resp)
        .unwrap()
        .get::<Nonce>()
        .unwrap()
        .0
        .to_owned();
    // An attacker stripped SHA-256 from the list: the server must notice.
    let list = [PasswordAlgorithm::new(PasswordAlgorithmId::MD5)];
    let key = IntegrityKey::long_term("alice", REALM, "secret", PasswordAlgorithmId::MD5);
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::ALLOCATE,
        TransactionId::new([2; 12]),
    );
    b.add(&RequestedTransport::UDP)
        .add(&Username("alice"))
        .add(&Realm(REALM))
        .add(&Nonce(&nonce))
        .add(&PasswordAlgorithms::new(&list))
        .add(&PasswordAlgorithm::new(PasswordAlgorithmId::MD5))
        .add_message_integrity(&key);
    h.server.handle_client(now, ft, b.finish().unwrap());
    let resp = h.server.poll_transmit().unwrap().payload;
    assert_eq!(
        Message::parse(&resp)
            .unwrap()
            .get::<ErrorCode>()
            .unwrap()
            .code,
        400
    );
    assert_eq!(h.server.allocation_count(), 0);
}

#[test]
fn unauthenticated_requests_get_401_and_leave_no_state() {
    let mut h = Harness::new(config());
    let now = h.now;
    for i in 0..500u32 {
        let ft = FiveTuple {
            client: SocketAddr::new("203.0.113.77".parse().unwrap(), 1000 + i as u16),
            server: server_addr(),
            protocol: TransportProtocol::Udp,
        };
        let method = [
            Method::ALLOCATE,
            Method::REFRESH,
            Method::CREATE_PERMISSION,
            Method::CHANNEL_BIND,
        ][i as usize % 4];
        let mut buf = [0u8; 128];
        let mut tid = [0u8; 12];
        tid[..4].copy_from_slice(&i.to_be_bytes());
        let mut b = MessageBuilder::new(&mut buf, Class::Request, method, TransactionId::new(tid));
        b.add(&RequestedTransport::UDP);
        h.server.handle_client(now, ft, b.finish().unwrap());
        let resp = h.server.poll_transmit().unwrap();
        assert_eq!(resp.five_tuple, ft);
        let m = Message::parse(&resp.payload).unwrap();
        assert_eq!(m.class(), Class::ErrorResponse);
        assert_eq!(m.get::<ErrorCode>().unwrap().code, 401);
        assert!(!m.has_message_integrity());
    }
    assert_eq!(h.server.allocation_count(), 0);
    assert_eq!(h.server.poll_timeout(), None, "no timers: no state");
    assert_eq!(h.server.stats().challenges, 500);
    assert!(h.server.poll_event().is_none());
}

#[test]
fn wrong_password_fails_and_is_counted() {
    let mut h = Harness::new(config());
    let i = h.add_client(ClientConfig::new(server_addr(), "alice", "wrong"), 40001);
    h.eps[i].client.allocate(h.now).unwrap();
    h.pump();
    assert_eq!(
        h.ep(i).events,
        vec![ClientEvent::AllocationFailed { code: Some(401) }]
    );
    assert_eq!(h.ep(i).client.state(), ClientState::Closed);
    assert_eq!(h.server.stats().auth_failures, 1);
    assert_eq!(h.server.allocation_count(), 0);

    let j = h.add_client(ClientConfig::new(server_addr(), "mallory", "x"), 40002);
    h.eps[j].client.allocate(h.now).unwrap();
    h.pump();
    assert_eq!(
        h.ep(j).events,
        vec![ClientEvent::AllocationFailed { code: Some(401) }]
    );
    assert_eq!(h.server.stats().auth_failures, 2);
}

#[test]
fn time_limited_credentials_use_auth_secret() {
    let mut cfg = config();
    cfg.auth_secret = Some("north-wind".into());
    cfg.unix_time_at_start = 1_800_000_000;
    let mut h = Harness::new(cfg);
    let (user, pass) = time_limited_credentials("north-wind", "carol", 1_800_000_600);
    assert_eq!(user, "1800000600:carol");
    let i = h.add_client(ClientConfig::new(server_addr(), &user, &pass), 40001);
    h.allocate(i);

    // Expired credentials are refused.
    let (user, pass) = time_limited_credentials("north-wind", "carol", 1_799_999_999);
    let j = h.add_client(ClientConfig::new(server_addr(), &user, &pass), 40002);
    h.eps[j].client.allocate(h.now).unwrap();
    h.pump();
    assert_eq!(
        h.ep(j).events,
        vec![ClientEvent::AllocationFailed { code: Some(401) }]
    );
    // A wrong secret too.
    let (user, pass) = time_limited_credentials("south-wind", "carol", 1_800_000_600);
    let k = h.add_client(ClientConfig::new(server_addr(), &user, &pass), 40003);
    h.eps[k].client.allocate(h.now).unwrap();
    h.pump();
    assert_eq!(
        h.ep(k).events,
        vec![ClientEvent::AllocationFailed { code: Some(401) }]
    );
    assert_eq!(h.server.allocation_count(), 1);
}

#[test]
fn rfc8656_7_4_stale_nonce_is_renewed_transparently() {
    let mut cfg = config();
    cfg.nonce_lifetime = Duration::from_secs(60);
    let mut h = Harness::new(cfg);
    let a = h.alice();
    h.allocate(a);
    h.advance(Duration::from_secs(120));
    h.eps[a]
        .client
        .create_permission(h.now, peer().ip())
        .unwrap();
    h.pump();
    assert!(h.ep(a).client.has_permission(peer().ip()));
    assert!(h.server.stats().stale_nonces >= 1);
}

#[test]
fn twenty_minute_call_keeps_allocation_permission_and_channel() {
    let mut h = Harness::new(config());
    let a = h.alice();
    let relayed = h.allocate(a);
    h.eps[a].client.bind_channel(h.now, peer()).unwrap();
    h.pump();
    for minute in 1..=20 {
        h.advance(Duration::from_secs(60));
        let payload = format!("minute {minute}");
        assert!(
            h.peer_sends(relayed, peer(), payload.as_bytes()),
            "minute {minute}"
        );
        let mut buf = Vec::new();
        let n = h.eps[a]
            .client
            .send_to(h.now, peer(), b"up", &mut buf)
            .unwrap()
            .len;
        assert_eq!(n, 6, "still on the channel at minute {minute}");
        assert!(h
            .server
            .handle_client(h.now, h.ep(a).ft, &buf[..n])
            .is_some());
    }
    assert_eq!(h.ep(a).client.state(), ClientState::Allocated);
    assert_eq!(h.ep(a).received.len(), 20);
    let refreshes = h
        .ep(a)
        .events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Refreshed { .. }))
        .count();
    assert!(
        refreshes >= 2,
        "10-minute allocation refreshed twice in 20 min, got {refreshes}"
    );
    assert_eq!(h.server.stats().allocations_expired, 0);
}

#[test]
fn without_refresh_everything_expires() {
    let mut h = Harness::new(config());
    let a = h.alice();
    let relayed = h.allocate(a);
    h.eps[a]
        .client
        .create_permission(h.now, peer().ip())
        .unwrap();
    h.pump();
    // Silence the server: refreshes get lost, so the client gives up too.
    h.blackhole = true;
    h.advance(Duration::from_secs(301));
    assert!(
        !h.peer_sends(relayed, peer(), b"late"),
        "permission expired at 300 s"
    );
    h.advance(Duration::from_secs(300));
    assert_eq!(h.server.allocation_count(), 0);
    assert_eq!(h.server.stats().allocations_expired, 1);
    assert!(h
        .server_events
        .iter()
        .any(|e| matches!(e, ServerEvent::AllocationDeleted { expired: true, .. })));
    assert_eq!(h.ep(a).client.state(), ClientState::Closed);
    assert!(h
        .ep(a)
        .events
        .contains(&ClientEvent::Closed { graceful: false }));
    assert!(h.ep(a).client.stats().retransmissions > 0);
}

#[test]
fn close_deallocates_and_frees_the_port() {
    let mut cfg = config();
    cfg.relay_ports = (50000, 50000); // a single relay port
    let mut h = Harness::new(cfg);
    let a = h.alice();
    let relayed = h.allocate(a);
    h.eps[a].client.close(h.now);
    h.pump();
    assert_eq!(h.ep(a).client.state(), ClientState::Closed);
    assert!(h
        .ep(a)
        .events
        .contains(&ClientEvent::Closed { graceful: true }));
    assert_eq!(h.server.allocation_count(), 0);
    assert_eq!(h.server.stats().allocations_deleted, 1);
    // The port is free again for the next client.
    let b = h.alice();
    assert_eq!(h.allocate(b), relayed);
}

#[test]
fn quotas_per_user_and_total() {
    let mut cfg = config();
    cfg.max_allocations_per_user = 2;
    cfg.max_allocations = 3;
    let mut h = Harness::new(cfg);
    for _ in 0..2 {
        let i = h.alice();
        h.allocate(i);
    }
    let i = h.alice();
    h.eps[i].client.allocate(h.now).unwrap();
    h.pump();
    assert_eq!(
        h.ep(i).events,
        vec![ClientEvent::AllocationFailed { code: Some(486) }]
    );
    let b = h.add_client(ClientConfig::new(server_addr(), "bob", "hunter2"), 41000);
    h.allocate(b);
    let b2 = h.add_client(ClientConfig::new(server_addr(), "bob", "hunter2"), 41001);
    h.eps[b2].client.allocate(h.now).unwrap();
    h.pump();
    assert_eq!(
        h.ep(b2).events,
        vec![ClientEvent::AllocationFailed { code: Some(508) }]
    );
    assert_eq!(h.server.allocation_count(), 3);
    assert_eq!(h.server.stats().quota_rejections, 2);
}

#[test]
fn lifetime_bounds() {
    let mut cfg = config();
    cfg.max_lifetime = Duration::from_secs(1800);
    let mut h = Harness::new(cfg);
    for (asked, granted) in [
        (Some(30), 600),
        (Some(100_000), 1800),
        (Some(900), 900),
        (None, 600),
    ] {
        let mut cc = ClientConfig::new(server_addr(), "bob", "hunter2");
        cc.lifetime = asked.map(Duration::from_secs);
        let n = h.eps.len() as u16;
        let i = h.add_client(cc, 42000 + n);
        h.allocate(i);
        match h.ep(i).events[0] {
            ClientEvent::Allocated { lifetime, .. } => {
                assert_eq!(lifetime, Duration::from_secs(granted), "asked {asked:?}")
            }
            ref e => panic!("{e:?}"),
        }
    }
}

#[test]
fn bandwidth_limit_drops_excess() {
    let mut cfg = config();
    cfg.bandwidth_limit = Some(12_000); // bytes per second
    let mut h = Harness::new(cfg);
    let a = h.alice();
    let relayed = h.allocate(a);
    h.eps[a].client.bind_channel(h.now, peer()).unwrap();
    h.pump();
    let payload = [1u8; 1200];
    let mut buf = Vec::new();
    let mut relayed_count = 0;
    for _ in 0..50 {
        let n = h.eps[a]
            .client
            .send_to(h.now, peer(), &payload, &mut buf)
            .unwrap()
            .len;
        if h.server
            .handle_client(h.now, h.ep(a).ft, &buf[..n])
            .is_some()
        {
            relayed_count += 1;
        }
    }
    assert_eq!(relayed_count, 10, "one second of burst");
    assert_eq!(h.server.stats().dropped_bandwidth, 40);
    h.advance(Duration::from_millis(500));
    let mut more = 0;
    for _ in 0..50 {
        if h.peer_sends(relayed, peer(), &payload) {
            more += 1;
        }
    }
    assert_eq!(more, 5, "half a second refills half the bucket");
}

#[test]
fn peer_policy_denies_loopback_and_private_by_default() {
    let mut h = Harness::new(config());
    let a = h.alice();
    h.allocate(a);
    for ip in ["127.0.0.1", "10.0.0.1", "192.168.0.1", "169.254.0.1"] {
        let ip: IpAddr = ip.parse().unwrap();
        h.eps[a].client.create_permission(h.now, ip).unwrap();
        h.pump();
        assert!(h.ep(a).events.contains(&ClientEvent::PermissionFailed {
            peer: ip,
            code: Some(403)
        }));
    }
    let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    h.eps[a].client.bind_channel(h.now, lo).unwrap();
    h.pump();
    assert!(h.ep(a).events.contains(&ClientEvent::ChannelBindFailed {
        peer: lo,
        code: Some(403)
    }));
    assert_eq!(h.server.stats().peer_denied, 5);

    let mut cfg = config();
    cfg.peer_policy = PeerPolicy {
        allow_loopback: true,
        ..PeerPolicy::default()
    };
    let mut h = Harness::new(cfg);
    let a = h.alice();
    h.allocate(a);
    h.eps[a].client.create_permission(h.now, lo.ip()).unwrap();
    h.pump();
    assert!(h.ep(a).client.has_permission(lo.ip()));
}

#[test]
fn malformed_input_is_dropped_and_counted() {
    let mut h = Harness::new(config());
    let a = h.alice();
    let relayed = h.allocate(a);
    let ch = h.eps[a].client.bind_channel(h.now, peer()).unwrap();
    h.pump();
    let ft = h.ep(a).ft;
    let before = h.server.stats().malformed;
    let ch = ch.to_be_bytes();
    let bad: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x40],
        vec![ch[0], ch[1], 0x00, 0x10, 1, 2, 3], // ChannelData shorter than its length
        vec![0x80, 0, 0, 0],                     // neither STUN nor ChannelData
        vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42], // truncated STUN header
        {
            // STUN whose length field overruns the datagram
            let mut v = vec![0x00, 0x16, 0x01, 0x00, 0x21, 0x12, 0xA4, 0x42];
            v.extend_from_slice(&[0; 12]);
            v
        },
        {
            // A Send indication with a broken FINGERPRINT
            let mut buf = [0u8; 128];
            let mut b = MessageBuilder::new(
                &mut buf,
                Class::Indication,
                Method::SEND,
                TransactionId::new([3; 12]),
            );
            b.add(&XorPeerAddress(peer())).add_fingerprint();
            let mut v = b.finish().unwrap().to_vec();
            let last = v.len() - 1;
            v[last] ^= 1;
            v
        },
        {
            // A Send indication without DATA
            let mut buf = [0u8; 128];
            let mut b = MessageBuilder::new(
                &mut buf,
                Class::Indication,
                Method::SEND,
                TransactionId::new([4; 12]),
            );
            b.add(&XorPeerAddress(peer()));
            b.finish().unwrap().to_vec()
        },
        vec![0xFF; 70_000], // oversized
    ];
    for d in &bad {
        assert!(h.server.handle_client(h.now, ft, d).is_none());
    }
    assert_eq!(h.server.stats().malformed - before, bad.len() as u64);
    assert!(h.server.poll_transmit().is_none(), "no answer to garbage");
    // ChannelData on an unbound channel is dropped as well (not malformed).
    assert!(h
        .server
        .handle_client(h.now, ft, &[0x4F, 0xFF, 0, 1, 9, 0, 0, 0])
        .is_none());
    assert_eq!(h.server.stats().dropped_no_permission, 1);
    // The allocation is unharmed.
    assert!(h.peer_sends(relayed, peer(), b"still fine"));

    // The client drops garbage too.
    let c = &mut h.eps[a].client;
    for d in &bad {
        assert_eq!(
            c.handle_receive(h.now, server_addr(), d),
            Received::Consumed
        );
    }
    assert_eq!(
        c.handle_receive(h.now, "192.0.2.1:1".parse().unwrap(), b"x"),
        Received::NotFromServer
    );
    assert!(c.stats().dropped >= bad.len() as u64);
    assert_eq!(c.state(), ClientState::Allocated);
}

#[test]
fn retransmitted_allocate_gets_same_answer_and_other_gets_437() {
    let mut h = Harness::new(config());
    let a = h.alice();
    h.allocate(a);
    let ft = h.ep(a).ft;
    // Replay the client's authenticated Allocate with a new transaction ID:
    // rebuild it by hand with alice's key and a fresh nonce.
    let nonce = fresh_nonce(&mut h, ft, Method::ALLOCATE, 5);
    let key = IntegrityKey::long_term("alice", REALM, "secret", PasswordAlgorithmId::MD5);
    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::ALLOCATE,
        TransactionId::new([6; 12]),
    );
    b.add(&RequestedTransport::UDP)
        .add(&Lifetime(600))
        .add(&Username("alice"))
        .add(&Realm(REALM))
        .add(&Nonce(&nonce))
        .add_message_integrity(&key);
    h.server.handle_client(h.now, ft, b.finish().unwrap());
    let resp = h.server.poll_transmit().unwrap().payload;
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.get::<ErrorCode>().unwrap().code, 437);
    m.verify_integrity(&key).unwrap();
    assert_eq!(h.server.allocation_count(), 1);
}

#[test]
fn binding_requests_are_answered_without_auth() {
    let mut h = Harness::new(config());
    let ft = FiveTuple {
        client: "203.0.113.9:5555".parse().unwrap(),
        server: server_addr(),
        protocol: TransportProtocol::Udp,
    };
    let mut buf = [0u8; 64];
    let b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId::new([8; 12]),
    );
    h.server.handle_client(h.now, ft, b.finish().unwrap());
    let resp = h.server.poll_transmit().unwrap().payload;
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.class(), Class::SuccessResponse);
    assert_eq!(
        m.get::<fulmar_stun::attributes::XorMappedAddress>()
            .unwrap()
            .0,
        ft.client
    );
    assert_eq!(h.server.stats().binding_requests, 1);
}

#[test]
fn stream_transport_pads_channel_data_and_frames() {
    let mut h = Harness::new(config());
    let cc =
        ClientConfig::new(server_addr(), "alice", "secret").with_transport(ClientTransport::Stream);
    let a = h.add_client(cc, 43000);
    let relayed = h.allocate(a);
    let ch = h.eps[a].client.bind_channel(h.now, peer()).unwrap();
    h.pump();
    assert_eq!(h.ep(a).client.channel(peer()), Some(ch));
    let mut out = Vec::new();
    let t = h.eps[a]
        .client
        .send_to(h.now, peer(), b"abcde", &mut out)
        .unwrap();
    assert_eq!(t.len, 12, "ChannelData padded to 4 over a stream");
    let r = h.server.handle_client(h.now, h.ep(a).ft, &out).unwrap();
    assert_eq!(r.data, b"abcde");
    let mut out = [0u8; 64];
    let (_, n) = h
        .server
        .handle_peer(h.now, relayed, peer(), b"xyz", &mut out)
        .unwrap();
    assert_eq!(n, 8);
    assert!(h.peer_sends(relayed, peer(), b"over tcp"));
    assert_eq!(h.ep(a).received, vec![(peer(), b"over tcp".to_vec())]);
    // No retransmissions over a stream.
    h.blackhole = true;
    h.eps[a]
        .client
        .create_permission(h.now, "192.0.2.51".parse().unwrap())
        .unwrap();
    h.advance(Duration::from_secs(30));
    assert_eq!(h.ep(a).client.stats().retransmissions, 0);
}

#[test]
fn udp_retransmits_lost_requests() {
    let mut h = Harness::new(config());
    let a = h.alice();
    h.blackhole = true;
    h.eps[a].client.allocate(h.now).unwrap();
    h.advance(Duration::from_secs(40));
    assert_eq!(h.ep(a).client.stats().retransmissions, 6);
    assert_eq!(
        h.ep(a).events,
        vec![ClientEvent::AllocationFailed { code: None }]
    );
}

// ---- IPv6 and dual allocations (RFC 8656 §7.1–§7.3, §8.2, §18.11–§18.12) ----

const V6_RELAY: &str = "2001:db8::1";
const V6_PEER: &str = "[2001:db8:2::5]:9000";

fn v6_peer() -> SocketAddr {
    V6_PEER.parse().unwrap()
}

fn dual_config() -> ServerConfig {
    config().with_relay_ip_v6(V6_RELAY.parse().unwrap())
}

/// A nonce from the 401 the server gives an unauthenticated `method` request on `ft`.
fn fresh_nonce(h: &mut Harness, ft: FiveTuple, method: Method, tid: u8) -> String {
    let mut buf = [0u8; 128];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        method,
        TransactionId::new([tid; 12]),
    );
    b.add(&RequestedTransport::UDP);
    h.server.handle_client(h.now, ft, b.finish().unwrap());
    let resp = h.server.poll_transmit().unwrap().payload;
    Message::parse(&resp)
        .unwrap()
        .get::<Nonce>()
        .unwrap()
        .0
        .to_owned()
}

/// Send `request` (built by `body`, then signed with alice's MD5 key and a
/// fresh nonce) on `ft` and return the server's answer.
fn signed_request(
    h: &mut Harness,
    ft: FiveTuple,
    method: Method,
    tid: u8,
    body: impl Fn(&mut MessageBuilder<'_>),
) -> Vec<u8> {
    let nonce = fresh_nonce(h, ft, method, tid);
    let key = IntegrityKey::long_term("alice", REALM, "secret", PasswordAlgorithmId::MD5);
    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        method,
        TransactionId::new([tid.wrapping_add(1); 12]),
    );
    body(&mut b);
    b.add(&Username("alice"))
        .add(&Realm(REALM))
        .add(&Nonce(&nonce))
        .add_message_integrity(&key);
    h.server.handle_client(h.now, ft, b.finish().unwrap());
    h.server.poll_transmit().unwrap().payload
}

fn udp_ft(port: u16) -> FiveTuple {
    FiveTuple {
        client: SocketAddr::new("203.0.113.10".parse().unwrap(), port),
        server: server_addr(),
        protocol: TransportProtocol::Udp,
    }
}

#[test]
fn rfc8656_7_2_requested_address_family_ipv6() {
    let mut h = Harness::new(dual_config());
    let cc = ClientConfig::new(server_addr(), "alice", "secret")
        .with_requested_family(AddressFamily::Ipv6);
    let a = h.add_client(cc, 44000);
    let relayed = h.allocate(a);
    assert_eq!(relayed.ip(), V6_RELAY.parse::<IpAddr>().unwrap());
    assert!(matches!(
        h.ep(a).events[0],
        ClientEvent::Allocated {
            additional_relayed: None,
            ..
        }
    ));
    // An IPv4 peer does not fit an IPv6 allocation: the client refuses, and
    // the server answers 443 (RFC 8656 §9.2) to a request sent anyway.
    assert!(matches!(
        h.eps[a].client.create_permission(h.now, peer().ip()),
        Err(fulmar_turn::Error::PeerAddressFamilyMismatch(_))
    ));
    let ft = h.ep(a).ft;
    let resp = signed_request(&mut h, ft, Method::CREATE_PERMISSION, 18, |b| {
        b.add(&XorPeerAddress(peer()));
    });
    assert_eq!(
        Message::parse(&resp)
            .unwrap()
            .get::<ErrorCode>()
            .unwrap()
            .code,
        443
    );
    // An IPv6 peer relays both ways, over a channel.
    h.eps[a].client.bind_channel(h.now, v6_peer()).unwrap();
    h.pump();
    h.send(a, v6_peer(), b"to v6");
    h.pump();
    assert_eq!(h.to_peers, vec![(relayed, v6_peer(), b"to v6".to_vec())]);
    assert!(h.peer_sends(relayed, v6_peer(), b"from v6"));
    assert_eq!(h.ep(a).received, vec![(v6_peer(), b"from v6".to_vec())]);
    // Refresh naming IPv4, which the allocation lacks: 443 (RFC 8656 §8.2).
    let resp = signed_request(&mut h, ft, Method::REFRESH, 20, |b| {
        b.add(&RequestedAddressFamily(AddressFamily::Ipv4));
    });
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.get::<ErrorCode>().unwrap().code, 443);
    let resp = signed_request(&mut h, ft, Method::REFRESH, 22, |b| {
        b.add(&RequestedAddressFamily(AddressFamily::Ipv6));
    });
    assert_eq!(
        Message::parse(&resp).unwrap().class(),
        Class::SuccessResponse
    );
}

#[test]
fn rfc8656_7_2_dual_allocation_relays_each_family_from_its_own_address() {
    let mut h = Harness::new(dual_config());
    let cc = ClientConfig::new(server_addr(), "alice", "secret").with_dual_allocation();
    let a = h.add_client(cc, 44001);
    let v4 = h.allocate(a);
    let ClientEvent::Allocated {
        additional_relayed: Some(v6),
        ..
    } = h.ep(a).events[0]
    else {
        panic!("no dual allocation: {:?}", h.ep(a).events);
    };
    assert!(v4.is_ipv4() && v6.is_ipv6());
    assert_eq!(h.ep(a).client.relayed_address_for(v6_peer()), Some(v6));
    assert_eq!(h.ep(a).client.relayed_address_for(peer()), Some(v4));
    let ft = h.ep(a).ft;
    let both = h.server.relayed_addresses(&ft).unwrap();
    assert_eq!((both.ipv4, both.ipv6), (Some(v4), Some(v6)));
    assert_eq!(h.server.five_tuple_of(v6), Some(ft));

    for p in [peer(), v6_peer()] {
        h.eps[a].client.bind_channel(h.now, p).unwrap();
        h.pump();
        h.send(a, p, b"hi");
        h.pump();
    }
    assert_eq!(
        h.to_peers,
        vec![
            (v4, peer(), b"hi".to_vec()),
            (v6, v6_peer(), b"hi".to_vec())
        ]
    );
    assert!(h.peer_sends(v4, peer(), b"4"));
    assert!(h.peer_sends(v6, v6_peer(), b"6"));
    // Permissions are per peer IP: another IPv6 peer is dropped.
    assert!(!h.peer_sends(v6, "[2001:db8:3::1]:1".parse().unwrap(), b"x"));
    assert_eq!(
        h.ep(a).received,
        vec![(peer(), b"4".to_vec()), (v6_peer(), b"6".to_vec())]
    );

    // Deallocation frees both addresses.
    h.eps[a].client.close(h.now);
    h.pump();
    assert!(h.server_events.iter().any(|e| matches!(
        e,
        ServerEvent::AllocationDeleted { relayed, .. } if relayed.ipv4 == Some(v4) && relayed.ipv6 == Some(v6)
    )));
    assert_eq!(h.server.five_tuple_of(v6), None);
    assert!(!h.peer_sends(v6, v6_peer(), b"late"));
}

#[test]
fn rfc8656_7_2_dual_allocation_without_ipv6_gets_ipv4_and_address_error_code() {
    let mut h = Harness::new(config()); // IPv4 only
    let ft = udp_ft(44002);
    let resp = signed_request(&mut h, ft, Method::ALLOCATE, 30, |b| {
        b.add(&RequestedTransport::UDP)
            .add(&AdditionalAddressFamily(AddressFamily::Ipv6));
    });
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.class(), Class::SuccessResponse);
    let relayed: Vec<_> = m
        .attributes()
        .filter(|a| a.attribute_type == XorRelayedAddress::TYPE)
        .collect();
    assert_eq!(relayed.len(), 1);
    assert!(m.get::<XorRelayedAddress>().unwrap().0.is_ipv4());
    let e = m.get::<AddressErrorCode>().unwrap();
    assert_eq!((e.family, e.code), (AddressFamily::Ipv6, 440));
    assert_eq!(h.server.allocation_count(), 1);

    // The client takes such an answer as an IPv4-only allocation.
    let cc = ClientConfig::new(server_addr(), "alice", "secret").with_dual_allocation();
    let a = h.add_client(cc, 44003);
    h.allocate(a);
    assert!(matches!(
        h.ep(a).events[0],
        ClientEvent::Allocated {
            additional_relayed: None,
            ..
        }
    ));
}

#[test]
fn rfc8656_7_2_family_errors() {
    let mut h = Harness::new(config()); // IPv4 only
    type Body = fn(&mut MessageBuilder<'_>);
    let cases: [(&str, u16, Body); 4] = [
        ("IPv6 on an IPv4-only server", 440, |b| {
            b.add(&RequestedTransport::UDP)
                .add(&RequestedAddressFamily(AddressFamily::Ipv6));
        }),
        ("both family attributes", 400, |b| {
            b.add(&RequestedTransport::UDP)
                .add(&RequestedAddressFamily(AddressFamily::Ipv4))
                .add(&AdditionalAddressFamily(AddressFamily::Ipv6));
        }),
        ("ADDITIONAL-ADDRESS-FAMILY IPv4", 400, |b| {
            b.add(&RequestedTransport::UDP)
                .add(&AdditionalAddressFamily(AddressFamily::Ipv4));
        }),
        ("unknown family value", 400, |b| {
            b.add(&RequestedTransport::UDP)
                .add_raw(RequestedAddressFamily::TYPE, &[9, 0, 0, 0]);
        }),
    ];
    for (i, (what, code, body)) in cases.into_iter().enumerate() {
        let ft = udp_ft(45000 + i as u16);
        let resp = signed_request(&mut h, ft, Method::ALLOCATE, 40 + 2 * i as u8, body);
        let m = Message::parse(&resp).unwrap();
        assert_eq!(m.get::<ErrorCode>().unwrap().code, code, "{what}");
    }
    assert_eq!(h.server.allocation_count(), 0);
    assert!(
        h.server.poll_event().is_none(),
        "no state from refused allocations"
    );
}

#[test]
fn allocation_flood_stops_at_the_total_quota_and_frees_nothing_it_should_not() {
    let mut cfg = config();
    cfg.max_allocations = 50;
    cfg.max_allocations_per_user = 1000;
    let mut h = Harness::new(cfg);
    let mut granted = 0;
    let mut refused = 0;
    for i in 0..200u16 {
        let c = h.alice();
        h.eps[c].client.allocate(h.now).unwrap();
        h.pump();
        match h.ep(c).events.last() {
            Some(ClientEvent::Allocated { .. }) => granted += 1,
            Some(ClientEvent::AllocationFailed { code: Some(508) }) => refused += 1,
            e => panic!("client {i}: {e:?}"),
        }
    }
    assert_eq!((granted, refused), (50, 150));
    assert_eq!(h.server.allocation_count(), 50);
    assert_eq!(h.server.stats().quota_rejections, 150);
    let created = h
        .server_events
        .iter()
        .filter(|e| matches!(e, ServerEvent::AllocationCreated { .. }))
        .count();
    assert_eq!(created, 50, "refused requests open no relay");
    // One allocation closed: exactly one more fits.
    h.eps[0].client.close(h.now);
    h.pump();
    let c = h.alice();
    h.allocate(c);
    let d = h.alice();
    h.eps[d].client.allocate(h.now).unwrap();
    h.pump();
    assert_eq!(
        h.ep(d).events,
        vec![ClientEvent::AllocationFailed { code: Some(508) }]
    );
}
