#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Agent behaviour driven by hand-made STUN messages and explicit time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use fulmar_ice::{
    candidate_priority, compute_foundation, CandidateType, IceAgent, IceConfig, IceConnectionState,
    IceEvent, IceRole, MdnsResolution, MdnsResolver, PairState, RelayProtocol,
};
use fulmar_stun::attributes::{
    ErrorCode, IceControlled, IceControlling, Priority, UseCandidate, Username, XorMappedAddress,
};
use fulmar_stun::{Class, IntegrityKey, Message, MessageBuilder, Method, TransactionId};
use rand::{rngs::StdRng, SeedableRng};

const LOCAL: &str = "192.0.2.1:5000";
const REMOTE: &str = "192.0.2.2:6000";
const REMOTE_UFRAG: &str = "rfrg";
const REMOTE_PWD: &str = "remotepassword0123456789";

/// A datagram the agent wrote, with its bytes.
#[derive(Debug)]
struct Sent {
    source: SocketAddr,
    destination: SocketAddr,
    payload: Vec<u8>,
}

/// The agent's next datagram (the sans-IO `poll_transmit` into a buffer).
fn poll(agent: &mut IceAgent) -> Option<Sent> {
    let mut payload = Vec::new();
    let t = agent.poll_transmit(Instant::now(), &mut payload)?;
    assert_eq!(t.len, payload.len());
    Some(Sent {
        source: t.source,
        destination: t.destination,
        payload,
    })
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn agent(config: IceConfig, now: Instant) -> IceAgent {
    let mut a = IceAgent::new(config, StdRng::seed_from_u64(9));
    a.set_remote_credentials(now, REMOTE_UFRAG, REMOTE_PWD)
        .unwrap();
    a.add_host_candidate(now, 1, sa(LOCAL)).unwrap();
    a
}

fn host(addr: &str, prio: u32, foundation: &str) -> fulmar_ice::Candidate {
    fulmar_ice::Candidate::udp(
        CandidateType::Host,
        1,
        sa(addr),
        prio,
        foundation.into(),
        None,
    )
}

/// A check from the remote peer to `a`, signed with `pwd`.
fn request(
    a: &IceAgent,
    username: Option<String>,
    pwd: Option<&str>,
    extra: impl FnOnce(&mut MessageBuilder<'_>),
) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::Request,
        Method::BINDING,
        TransactionId::new([7; 12]),
    );
    if let Some(u) = &username {
        b.add(&Username(u));
    }
    b.add(&Priority(1_845_501_695));
    extra(&mut b);
    if let Some(p) = pwd {
        b.add_message_integrity(&IntegrityKey::short_term(p));
    }
    b.add_fingerprint();
    let _ = a;
    b.finish().unwrap().to_vec()
}

fn good_username(a: &IceAgent) -> String {
    format!("{}:{}", a.local_credentials().ufrag, REMOTE_UFRAG)
}

fn error_code(bytes: &[u8]) -> Option<u16> {
    let m = Message::parse(bytes).unwrap();
    assert_eq!(m.class(), Class::ErrorResponse);
    m.get::<ErrorCode>().ok().map(|e| e.code)
}

#[test]
fn answers_valid_check_with_signed_xor_mapped_address() {
    let now = Instant::now();
    let mut a = agent(IceConfig::new(IceRole::Controlled), now);
    let pwd = a.local_credentials().pwd.clone();
    let req = request(&a, Some(good_username(&a)), Some(&pwd), |b| {
        b.add(&IceControlling(1));
    });
    assert!(a.handle_receive(now, sa(REMOTE), sa(LOCAL), &req));
    let t = poll(&mut a).unwrap();
    assert_eq!((t.source, t.destination), (sa(LOCAL), sa(REMOTE)));
    let m = Message::parse(&t.payload).unwrap();
    assert_eq!(m.class(), Class::SuccessResponse);
    assert_eq!(m.transaction_id(), TransactionId::new([7; 12]));
    assert_eq!(m.get::<XorMappedAddress>().unwrap().0, sa(REMOTE));
    m.verify_integrity(&IntegrityKey::short_term(&pwd)).unwrap();
    m.verify_fingerprint().unwrap();
    // The unknown source became a peer-reflexive remote candidate.
    let r = a.remote_candidates();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].typ, CandidateType::PeerReflexive);
    assert_eq!(r[0].priority, 1_845_501_695);
    // And a triggered check goes back to it, signed with the remote password.
    a.handle_timeout(now);
    let check = poll(&mut a).expect("triggered check");
    let m = Message::parse(&check.payload).unwrap();
    assert_eq!(m.class(), Class::Request);
    assert_eq!(
        m.get::<Username>().unwrap().as_str(),
        format!("{REMOTE_UFRAG}:{}", a.local_credentials().ufrag)
    );
    assert!(m.get::<IceControlled>().is_ok());
    m.verify_integrity(&IntegrityKey::short_term(REMOTE_PWD))
        .unwrap();
}

#[test]
fn rejects_unauthenticated_checks_with_400_and_401() {
    let now = Instant::now();
    let mut a = agent(IceConfig::new(IceRole::Controlled), now);
    let pwd = a.local_credentials().pwd.clone();
    // No USERNAME: 400.
    let r = request(&a, None, Some(&pwd), |_| {});
    a.handle_receive(now, sa(REMOTE), sa(LOCAL), &r);
    assert_eq!(error_code(&poll(&mut a).unwrap().payload), Some(400));
    // No MESSAGE-INTEGRITY: 400.
    let r = request(&a, Some(good_username(&a)), None, |_| {});
    a.handle_receive(now, sa(REMOTE), sa(LOCAL), &r);
    assert_eq!(error_code(&poll(&mut a).unwrap().payload), Some(400));
    // Wrong password: 401.
    let r = request(
        &a,
        Some(good_username(&a)),
        Some("notthepasswordatall01234"),
        |_| {},
    );
    a.handle_receive(now, sa(REMOTE), sa(LOCAL), &r);
    assert_eq!(error_code(&poll(&mut a).unwrap().payload), Some(401));
    // Wrong ufrag: 401.
    let r = request(&a, Some("nope:rfrg".into()), Some(&pwd), |_| {});
    a.handle_receive(now, sa(REMOTE), sa(LOCAL), &r);
    assert_eq!(error_code(&poll(&mut a).unwrap().payload), Some(401));
    assert_eq!(a.stats().unauthenticated, 4);
    assert!(
        a.remote_candidates().is_empty(),
        "nothing learned from them"
    );
    // For an address that is not ours: dropped silently.
    let r = request(&a, Some(good_username(&a)), Some(&pwd), |_| {});
    a.handle_receive(now, sa(REMOTE), sa("192.0.2.99:1"), &r);
    assert!(poll(&mut a).is_none());
    assert_eq!(a.stats().unknown_destination, 1);
    // Not STUN: the application's.
    assert!(!a.handle_receive(now, sa(REMOTE), sa(LOCAL), &[0x80, 0, 0, 0]));
    assert!(a.handle_receive(now, sa(REMOTE), sa(LOCAL), &[0, 1, 0]));
    assert_eq!(a.stats().malformed, 1);
}

#[test]
fn role_conflict_487_and_switch() {
    let now = Instant::now();
    // Controlling with the smaller tie-breaker (whatever ours is, u64::MAX wins).
    let mut a = agent(IceConfig::new(IceRole::Controlling), now);
    let pwd = a.local_credentials().pwd.clone();
    let r = request(&a, Some(good_username(&a)), Some(&pwd), |b| {
        b.add(&IceControlling(u64::MAX));
    });
    a.handle_receive(now, sa(REMOTE), sa(LOCAL), &r);
    assert_eq!(a.role(), IceRole::Controlled);
    assert!(std::iter::from_fn(|| a.poll_event())
        .any(|e| e == IceEvent::RoleChange(IceRole::Controlled)));
    // Controlled meeting a controlled peer with tie-breaker 0: we win and
    // switch back to controlling.
    let r = request(&a, Some(good_username(&a)), Some(&pwd), |b| {
        b.add(&IceControlled(0));
    });
    while poll(&mut a).is_some() {}
    a.handle_receive(now, sa(REMOTE), sa(LOCAL), &r);
    assert_eq!(a.role(), IceRole::Controlling);
    // Controlling meeting controlling with tie-breaker 0: we keep the role
    // and answer 487 (RFC 8445 §7.3.1.1).
    while poll(&mut a).is_some() {}
    let r = request(&a, Some(good_username(&a)), Some(&pwd), |b| {
        b.add(&IceControlling(0));
    });
    a.handle_receive(now, sa(REMOTE), sa(LOCAL), &r);
    let t = poll(&mut a).unwrap();
    assert_eq!(error_code(&t.payload), Some(487));
    Message::parse(&t.payload)
        .unwrap()
        .verify_integrity(&IntegrityKey::short_term(&pwd))
        .unwrap();
    assert_eq!(a.role(), IceRole::Controlling);
}

/// Sends every transmit into the void and returns (time, destination).
fn drain_checks(a: &mut IceAgent, until: Instant, mut now: Instant) -> Vec<(Instant, SocketAddr)> {
    let mut out = Vec::new();
    loop {
        while let Some(t) = poll(a) {
            out.push((now, t.destination));
        }
        match a.poll_timeout() {
            Some(t) if t <= until => {
                now = t.max(now);
                a.handle_timeout(now);
            }
            _ => return out,
        }
    }
}

#[test]
fn ta_pacing_and_retransmission_schedule_then_failed() {
    let t0 = Instant::now();
    let mut a = agent(IceConfig::new(IceRole::Controlling), t0);
    for (i, port) in [6001, 6002, 6003].iter().enumerate() {
        let c = host(
            &format!("192.0.2.2:{port}"),
            2_000_000_000 - i as u32,
            &format!("f{i}"),
        );
        a.add_remote_candidate(t0, c).unwrap();
    }
    a.end_of_remote_candidates(t0);
    let sent = drain_checks(&mut a, t0 + Duration::from_secs(30), t0);
    // The first transmission of each pair: Ta (50 ms) apart, best first.
    let firsts: Vec<_> = [6001, 6002, 6003]
        .iter()
        .map(|p| sent.iter().find(|(_, d)| d.port() == *p).unwrap().0 - t0)
        .collect();
    assert_eq!(
        firsts,
        vec![
            Duration::ZERO,
            Duration::from_millis(50),
            Duration::from_millis(100)
        ]
    );
    // One pair's retransmissions: RTO 500 ms doubling, capped at 2 s, 7 in all.
    let times: Vec<_> = sent
        .iter()
        .filter(|(_, d)| d.port() == 6001)
        .map(|(t, _)| *t - t0)
        .collect();
    let ms = |v: u64| Duration::from_millis(v);
    assert_eq!(
        times,
        vec![
            ms(0),
            ms(500),
            ms(1500),
            ms(3500),
            ms(5500),
            ms(7500),
            ms(9500)
        ]
    );
    // Every pair failed and the remote ended its candidates, but a local
    // candidate (a relay, say) could still come: no failure yet (RFC 8838 §8).
    assert_eq!(a.state(), IceConnectionState::Checking);
    a.end_of_local_candidates(t0 + Duration::from_secs(30));
    assert_eq!(a.state(), IceConnectionState::Failed);
    assert!(a
        .pair_stats()
        .iter()
        .all(|p| p.state == PairState::Failed && p.requests_sent == 7));
}

#[test]
fn frozen_pairs_wait_for_their_foundation() {
    let t0 = Instant::now();
    let mut a = agent(IceConfig::new(IceRole::Controlling), t0);
    // Two remote candidates with the same foundation: one pair Waiting, the
    // other Frozen (RFC 8445 §6.1.2.6); a third foundation is Waiting.
    a.add_remote_candidate(t0, host("192.0.2.2:6001", 2_000, "same"))
        .unwrap();
    a.add_remote_candidate(t0, host("192.0.2.2:6002", 1_000, "same"))
        .unwrap();
    a.add_remote_candidate(t0, host("192.0.2.3:6003", 500, "other"))
        .unwrap();
    let states: Vec<_> = a
        .pair_stats()
        .iter()
        .map(|p| (p.remote.port(), p.state))
        .collect();
    assert_eq!(
        states,
        vec![
            (6001, PairState::Waiting),
            (6002, PairState::Frozen),
            (6003, PairState::Waiting)
        ]
    );
    // Answer the first check: its foundation's Frozen pair unfreezes.
    a.handle_timeout(t0);
    let t = poll(&mut a).unwrap();
    assert_eq!(t.destination.port(), 6001);
    let req = Message::parse(&t.payload).unwrap();
    let mut buf = [0u8; 256];
    let mut b = MessageBuilder::new(
        &mut buf,
        Class::SuccessResponse,
        Method::BINDING,
        req.transaction_id(),
    );
    b.add(&XorMappedAddress(sa(LOCAL)))
        .add_message_integrity(&IntegrityKey::short_term(REMOTE_PWD))
        .add_fingerprint();
    let resp = b.finish().unwrap().to_vec();
    a.handle_receive(
        t0 + Duration::from_millis(10),
        t.destination,
        t.source,
        &resp,
    );
    let st = a.pair_stats();
    assert_eq!(st[0].state, PairState::Succeeded);
    assert_eq!(st[0].current_rtt, Some(Duration::from_millis(10)));
    assert_eq!(st[1].state, PairState::Waiting);
}

#[test]
fn responses_from_the_wrong_address_or_unsigned_do_not_count() {
    let t0 = Instant::now();
    let mut a = agent(IceConfig::new(IceRole::Controlling), t0);
    a.add_remote_candidate(t0, host(REMOTE, 2_000, "x"))
        .unwrap();
    a.handle_timeout(t0);
    let t = poll(&mut a).unwrap();
    let tid = Message::parse(&t.payload).unwrap().transaction_id();
    let resp = |pwd: &str| {
        let mut buf = [0u8; 256];
        let mut b = MessageBuilder::new(&mut buf, Class::SuccessResponse, Method::BINDING, tid);
        b.add(&XorMappedAddress(sa(LOCAL)))
            .add_message_integrity(&IntegrityKey::short_term(pwd))
            .add_fingerprint();
        b.finish().unwrap().to_vec()
    };
    // Signed with the wrong password: ignored, the transaction lives on.
    a.handle_receive(t0, sa(REMOTE), sa(LOCAL), &resp("someotherpasswordxyz0123"));
    assert_eq!(a.pair_stats()[0].state, PairState::InProgress);
    // From another address: non-symmetric, the pair fails (RFC 8445 §7.2.5.2.1).
    a.handle_receive(t0, sa("192.0.2.9:6000"), sa(LOCAL), &resp(REMOTE_PWD));
    assert_eq!(a.pair_stats()[0].state, PairState::Failed);
    // A stray response: counted.
    a.handle_receive(t0, sa(REMOTE), sa(LOCAL), &resp(REMOTE_PWD));
    assert_eq!(a.stats().unmatched_responses, 1);
}

struct Table(Vec<(&'static str, MdnsResolution)>);
impl MdnsResolver for Table {
    fn resolve(&mut self, name: &str) -> MdnsResolution {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(MdnsResolution::NotFound, |(_, r)| *r)
    }
}

#[test]
fn mdns_candidates_need_the_resolver_hook() {
    let t0 = Instant::now();
    let line = |name: &str| {
        format!("candidate:1 1 udp 2122262783 {name} 6000 typ host")
            .parse::<fulmar_ice::Candidate>()
            .unwrap()
    };
    // Without a resolver: ignored with an event, not an error.
    let mut a = agent(IceConfig::new(IceRole::Controlling), t0);
    a.add_remote_candidate(t0, line("abc.local")).unwrap();
    assert!(a.remote_candidates().is_empty());
    assert!(std::iter::from_fn(|| a.poll_event()).any(|e| matches!(
        e,
        IceEvent::CandidateIgnored { reason, .. } if reason.contains("mDNS")
    )));
    // With a resolver: immediate, pending then resolved, and not found.
    let mut a = agent(IceConfig::new(IceRole::Controlling), t0);
    a.set_mdns_resolver(Box::new(Table(vec![
        (
            "now.local",
            MdnsResolution::Resolved("192.0.2.2".parse().unwrap()),
        ),
        ("later.local", MdnsResolution::Pending),
    ])));
    a.add_remote_candidate(t0, line("now.local")).unwrap();
    a.add_remote_candidate(t0, line("later.local")).unwrap();
    a.add_remote_candidate(t0, line("gone.local")).unwrap();
    assert_eq!(a.remote_candidates().len(), 1);
    a.handle_mdns_resolved(t0, "later.local", Some("192.0.2.3".parse().unwrap()));
    let addrs: Vec<_> = a.pair_stats().iter().map(|p| p.remote).collect();
    assert_eq!(addrs, vec![sa("192.0.2.2:6000"), sa("192.0.2.3:6000")]);
}

#[test]
fn relayed_candidates_send_from_the_relayed_address() {
    let t0 = Instant::now();
    let mut a = IceAgent::new(
        IceConfig::new(IceRole::Controlling),
        StdRng::seed_from_u64(1),
    );
    a.set_remote_credentials(t0, REMOTE_UFRAG, REMOTE_PWD)
        .unwrap();
    let relayed = sa("198.51.100.50:40000");
    let c = a
        .add_relayed_candidate(
            t0,
            1,
            relayed,
            sa("203.0.113.5:1234"),
            "198.51.100.50".parse().unwrap(),
        )
        .unwrap();
    assert_eq!(c.typ, CandidateType::Relay);
    assert_eq!(c.related_socket_addr(), Some(sa("203.0.113.5:1234")));
    assert_eq!(c.priority >> 24, 0, "type preference 0 for relayed");
    a.add_remote_candidate(t0, host(REMOTE, 2_000, "x"))
        .unwrap();
    a.handle_timeout(t0);
    let t = poll(&mut a).unwrap();
    assert_eq!((t.source, t.destination), (relayed, sa(REMOTE)));
    // Lite agents have no relayed candidates.
    let mut lite = IceAgent::new(IceConfig::lite(), StdRng::seed_from_u64(1));
    assert_eq!(
        lite.add_relayed_candidate(t0, 1, relayed, relayed, relayed.ip()),
        Err(fulmar_ice::Error::Lite)
    );
}

#[test]
fn relays_rank_udp_then_tcp_then_tls_with_their_own_foundations() {
    let t0 = Instant::now();
    let mut a = IceAgent::new(
        IceConfig::new(IceRole::Controlling),
        StdRng::seed_from_u64(1),
    );
    let (mapped, server) = (sa("203.0.113.5:1234"), "198.51.100.50".parse().unwrap());
    let mut add = |port: u16, protocol: RelayProtocol| {
        let relayed = sa(&format!("198.51.100.50:{port}"));
        a.add_relayed_candidate_over(t0, 1, relayed, mapped, server, protocol)
            .unwrap()
    };
    let udp = add(40000, RelayProtocol::Udp);
    let tcp = add(40001, RelayProtocol::Tcp);
    let tls = add(40002, RelayProtocol::Tls);
    assert!(udp.priority > tcp.priority && tcp.priority > tls.priority);
    assert_eq!(
        udp.priority,
        candidate_priority(&CandidateType::Relay, 65535, 1)
    );
    assert_eq!(
        udp.foundation,
        compute_foundation(&CandidateType::Relay, mapped.ip(), Some(server)),
        "UDP relays keep the foundation they always had"
    );
    assert_ne!(udp.foundation, tcp.foundation);
    assert_ne!(tcp.foundation, tls.foundation);
}

#[test]
fn controlled_agent_follows_use_candidate_and_lite_agent_never_checks() {
    let t0 = Instant::now();
    for lite in [false, true] {
        let cfg = if lite {
            IceConfig::lite()
        } else {
            IceConfig::new(IceRole::Controlled)
        };
        let mut a = agent(cfg, t0);
        let pwd = a.local_credentials().pwd.clone();
        let r = request(&a, Some(good_username(&a)), Some(&pwd), |b| {
            b.add(&IceControlling(5)).add(&UseCandidate);
        });
        a.handle_receive(t0, sa(REMOTE), sa(LOCAL), &r);
        let _ = poll(&mut a); // the response
        a.handle_timeout(t0);
        if lite {
            assert!(poll(&mut a).is_none(), "a lite agent sends no checks");
            assert_eq!(a.selected_pair(1).unwrap().destination, sa(REMOTE));
            assert_eq!(a.state(), IceConnectionState::Connected);
        } else {
            // Nominated before our own check succeeded: selection waits.
            assert!(a.selected_pair(1).is_none());
            let t = poll(&mut a).expect("triggered check");
            let tid = Message::parse(&t.payload).unwrap().transaction_id();
            let mut buf = [0u8; 256];
            let mut b = MessageBuilder::new(&mut buf, Class::SuccessResponse, Method::BINDING, tid);
            b.add(&XorMappedAddress(sa(LOCAL)))
                .add_message_integrity(&IntegrityKey::short_term(REMOTE_PWD))
                .add_fingerprint();
            let resp = b.finish().unwrap().to_vec();
            a.handle_receive(t0, sa(REMOTE), sa(LOCAL), &resp);
            assert_eq!(a.selected_pair(1).unwrap().destination, sa(REMOTE));
        }
    }
}

#[test]
fn remote_restart_by_new_credentials_and_close() {
    let t0 = Instant::now();
    let mut a = agent(IceConfig::new(IceRole::Controlling), t0);
    a.add_remote_candidate(t0, host(REMOTE, 2_000, "x"))
        .unwrap();
    assert_eq!(a.pair_stats().len(), 1);
    a.set_remote_credentials(t0, "newf", "anotherremotepassword123")
        .unwrap();
    assert!(a.pair_stats().is_empty() && a.remote_candidates().is_empty());
    // A candidate of the old generation is ignored.
    let mut old = host(REMOTE, 2_000, "x");
    old.extensions.push(("ufrag".into(), REMOTE_UFRAG.into()));
    a.add_remote_candidate(t0, old).unwrap();
    assert!(a.remote_candidates().is_empty());
    assert!(a.set_remote_credentials(t0, "x", "short").is_err());
    a.close();
    assert_eq!(a.state(), IceConnectionState::Closed);
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(
        a.add_host_candidate(t0, 1, sa(LOCAL)),
        Err(fulmar_ice::Error::Closed)
    );
}

#[test]
fn two_components_each_get_a_selected_pair() {
    let mut now = Instant::now();
    let cfg = |r| IceConfig::new(r).with_components(2);
    let mut a = IceAgent::new(cfg(IceRole::Controlling), StdRng::seed_from_u64(1));
    let mut b = IceAgent::new(cfg(IceRole::Controlled), StdRng::seed_from_u64(2));
    let (ca, cb) = (a.local_credentials().clone(), b.local_credentials().clone());
    a.set_remote_credentials(now, &cb.ufrag, &cb.pwd).unwrap();
    b.set_remote_credentials(now, &ca.ufrag, &ca.pwd).unwrap();
    for (c, pa, pb) in [(1u16, 5000u16, 6000u16), (2, 5001, 6001)] {
        let ha = a
            .add_host_candidate(now, c, SocketAddr::new("192.0.2.1".parse().unwrap(), pa))
            .unwrap();
        let hb = b
            .add_host_candidate(now, c, SocketAddr::new("192.0.2.2".parse().unwrap(), pb))
            .unwrap();
        assert_eq!(ha.component, c);
        // RTCP's candidate has the lower priority (256 - component).
        a.add_remote_candidate(now, hb).unwrap();
        b.add_remote_candidate(now, ha).unwrap();
    }
    assert_eq!(
        a.add_host_candidate(now, 3, sa(LOCAL)),
        Err(fulmar_ice::Error::NoSuchComponent(3))
    );
    for _ in 0..200 {
        while let Some(t) = poll(&mut a) {
            b.handle_receive(now, t.source, t.destination, &t.payload);
        }
        while let Some(t) = poll(&mut b) {
            a.handle_receive(now, t.source, t.destination, &t.payload);
        }
        if a.state() == IceConnectionState::Connected && b.state() == IceConnectionState::Connected
        {
            break;
        }
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        now = next.map_or(now, |t| t.max(now));
        a.handle_timeout(now);
        b.handle_timeout(now);
    }
    assert_eq!(a.state(), IceConnectionState::Connected);
    assert_eq!(b.state(), IceConnectionState::Connected);
    for (c, port) in [(1, 6001 - 1), (2, 6001)] {
        assert_eq!(a.selected_pair(c).unwrap().destination.port(), port);
        assert_eq!(b.selected_pair(c).unwrap().component, c);
    }
    // Pairs never cross components.
    assert!(a
        .pair_stats()
        .iter()
        .all(|p| (p.local.port() == 5000) == (p.component == 1)));
}

#[test]
fn messages_are_written_into_the_callers_buffer_when_polled() {
    let now = Instant::now();
    let mut a = agent(IceConfig::new(IceRole::Controlled), now);
    let pwd = a.local_credentials().pwd.clone();
    let good = request(&a, Some(good_username(&a)), Some(&pwd), |b| {
        b.add(&IceControlling(1));
    });
    let unsigned = request(&a, Some(good_username(&a)), None, |_| {});
    assert!(a.handle_receive(now, sa(REMOTE), sa(LOCAL), &good));
    assert!(a.handle_receive(now, sa(REMOTE), sa(LOCAL), &unsigned));
    // A success then a 400, each written over the last in one buffer.
    let mut buf = Vec::with_capacity(1500);
    let ptr = buf.as_ptr();
    let t = a.poll_transmit(now, &mut buf).unwrap();
    assert_eq!((t.len, buf.as_ptr()), (buf.len(), ptr));
    let m = Message::parse(&buf).unwrap();
    assert_eq!(m.class(), Class::SuccessResponse);
    m.verify_integrity(&IntegrityKey::short_term(&pwd)).unwrap();
    let t = a.poll_transmit(now, &mut buf).unwrap();
    assert_eq!((t.len, buf.as_ptr()), (buf.len(), ptr));
    assert_eq!(error_code(&buf), Some(400));
    Message::parse(&buf).unwrap().verify_fingerprint().unwrap();
}

#[test]
fn a_check_whose_transaction_ended_before_the_poll_is_not_sent() {
    let t0 = Instant::now();
    let mut a = agent(IceConfig::new(IceRole::Controlling), t0);
    a.add_remote_candidate(t0, host(REMOTE, 2_000, "x"))
        .unwrap();
    a.handle_timeout(t0);
    let queued = a.pair_stats().iter().map(|p| p.requests_sent).sum::<u64>();
    assert_eq!(queued, 1, "a check is queued");
    // The peer restarts before the check is polled: its pair and the
    // check's transaction are gone, and so is the check.
    a.set_remote_credentials(t0, "newf", "anotherremotepassword123")
        .unwrap();
    assert!(poll(&mut a).is_none());
}

#[test]
fn a_peer_hidden_behind_mdns_is_waited_for_after_its_end_of_candidates() {
    let t0 = Instant::now();
    let line = |name: &str| {
        format!("candidate:1 1 udp 2122262783 {name} 6000 typ host")
            .parse::<fulmar_ice::Candidate>()
            .unwrap()
    };
    // A browser with default settings: only a .local candidate (no resolver
    // here) and end-of-candidates. No pair, yet not failed: its checks will
    // come.
    let mut a = agent(IceConfig::new(IceRole::Controlled), t0);
    a.end_of_local_candidates(t0);
    a.add_remote_candidate(t0, line("abc.local")).unwrap();
    a.end_of_remote_candidates(t0);
    assert!(a.pair_stats().is_empty());
    assert_ne!(a.state(), IceConnectionState::Failed);
    // Its check arrives: a peer-reflexive candidate and a triggered check.
    let pwd = a.local_credentials().pwd.clone();
    let req = request(&a, Some(good_username(&a)), Some(&pwd), |b| {
        b.add(&IceControlling(1));
    });
    a.handle_receive(t0, sa(REMOTE), sa(LOCAL), &req);
    assert_eq!(a.remote_candidates()[0].typ, CandidateType::PeerReflexive);
    assert_ne!(a.state(), IceConnectionState::Failed);
    // A hidden peer that never checks: failed once the grace has passed,
    // and the agent asks to be woken for it.
    let mut b = agent(IceConfig::new(IceRole::Controlled), t0);
    b.end_of_local_candidates(t0);
    b.add_remote_candidate(t0, line("abc.local")).unwrap();
    b.end_of_remote_candidates(t0);
    let wake = b.poll_timeout().expect("a deadline for the grace");
    assert!(wake > t0);
    b.handle_timeout(wake - Duration::from_millis(1));
    assert_ne!(b.state(), IceConnectionState::Failed);
    b.handle_timeout(wake);
    assert_eq!(b.state(), IceConnectionState::Failed);
}
