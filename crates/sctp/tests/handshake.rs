//! Setting up an association: INIT collisions, cookies, parameters, zero checksum, heartbeats.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use fulmar_sctp::param::cause_code;
use fulmar_sctp::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn setup_one_active_side() {
    let mut p = pair(1, 0.0, 0.0);
    p.a.assoc.connect(p.now()).unwrap();
    assert!(
        p.run_until(Duration::from_secs(5), |p| p.a.assoc.is_established()
            && p.b.assoc.is_established())
    );
    assert_eq!(p.a.assoc.state(), State::Established);
    assert_eq!(p.a.assoc.outbound_streams(), 65535);
}

#[test]
fn init_collision_both_orders() {
    for seed in 0..8 {
        let mut p = pair(seed, 0.0, 0.0);
        if seed % 2 == 0 {
            p.a.assoc.connect(p.now()).unwrap();
            p.b.assoc.connect(p.now()).unwrap();
        } else {
            p.b.assoc.connect(p.now()).unwrap();
            p.a.assoc.connect(p.now()).unwrap();
        }
        assert!(
            p.run_until(Duration::from_secs(5), |p| p.a.assoc.is_established()
                && p.b.assoc.is_established())
        );
        p.a.assoc
            .send(
                p.now(),
                1,
                51,
                Bytes::from_static(b"hi"),
                SendOptions::default(),
            )
            .unwrap();
        p.b.assoc
            .send(
                p.now(),
                2,
                51,
                Bytes::from_static(b"yo"),
                SendOptions::default(),
            )
            .unwrap();
        assert!(
            p.run_until(Duration::from_secs(5), |p| count_messages(&p.events_b) == 1
                && count_messages(&p.events_a) == 1)
        );
    }
}

#[test]
fn setup_survives_loss() {
    let mut p = pair(3, 0.3, 0.2);
    p.connect_both();
}

#[test]
fn init_unknown_params_reported_in_init_ack() {
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(21);
    let mut b = Association::new(Config::default(), &mut rng, now);
    let params = [
        Param::Unknown {
            kind: 0xC123,
            value: b"rep",
        },
        Param::Unknown {
            kind: 0x8124,
            value: b"skip",
        },
        Param::ForwardTsnSupported,
    ];
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, 0);
    w.push(&Chunk::Init(Init {
        initiate_tag: 77,
        a_rwnd: 100_000,
        num_outbound_streams: 10,
        num_inbound_streams: 10,
        initial_tsn: 5,
        params: TlvList::Items(&params),
    }));
    w.finish(false);
    b.handle_receive(now, &buf);
    let out = b.poll_packet(now).unwrap();
    let pkt = Packet::parse(&out).unwrap();
    assert_eq!(pkt.verification_tag(), 77);
    pkt.verify_checksum(false).unwrap();
    let Chunk::InitAck(ack) = pkt.chunks().next().unwrap().unwrap() else {
        panic!()
    };
    let unrec: Vec<_> = ack
        .params
        .iter()
        .filter_map(|p| match p.unwrap() {
            Param::UnrecognizedParameter(v) => Some(v.to_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(unrec.len(), 1);
    assert_eq!(&unrec[0][..2], &[0xC1, 0x23]);
    // Passive side kept no state.
    assert_eq!(b.state(), State::Closed);
    // An INIT with a zero Initiate Tag is discarded silently.
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, 0);
    w.push(&Chunk::Init(Init {
        initiate_tag: 0,
        a_rwnd: 1,
        num_outbound_streams: 1,
        num_inbound_streams: 1,
        initial_tsn: 1,
        params: TlvList::empty(),
    }));
    w.finish(false);
    b.handle_receive(now, &buf);
    assert!(b.poll_packet(now).is_none());
}

/// Runs a handshake by hand up to the COOKIE-ECHO that `a` sends.
fn cookie_echo_packet(seed: u64) -> (Association, Association, Instant, Vec<u8>) {
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut a = Association::new(Config::default(), &mut rng, now);
    let mut b = Association::new(Config::default(), &mut rng, now);
    a.connect(now).unwrap();
    let init = a.poll_packet(now).unwrap();
    b.handle_receive(now, &init);
    let init_ack = b.poll_packet(now).unwrap();
    a.handle_receive(now, &init_ack);
    let echo = a.poll_packet(now).unwrap();
    assert!(matches!(
        Packet::parse(&echo).unwrap().chunks().next(),
        Some(Ok(Chunk::CookieEcho { .. }))
    ));
    (a, b, now, echo)
}

#[test]
fn stale_cookie_is_refused_with_error_cause() {
    let (_a, mut b, now, echo) = cookie_echo_packet(30);
    b.handle_receive(now + Duration::from_secs(61), &echo);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.poll_event(), None);
    let out = b.poll_packet(now).unwrap();
    let pkt = Packet::parse(&out).unwrap();
    let Some(Ok(Chunk::Error { causes })) = pkt.chunks().next() else {
        panic!("expected ERROR")
    };
    let cause = causes.iter().next().unwrap().unwrap();
    assert_eq!(cause.code, cause_code::STALE_COOKIE);
    assert!(u32::from_be_bytes(cause.info.try_into().unwrap()) >= 61_000_000);
}

#[test]
fn forged_cookie_is_ignored_and_good_one_accepted() {
    let (_a, mut b, now, echo) = cookie_echo_packet(31);
    let mut forged = echo.clone();
    let last = forged.len() - 1;
    forged[last - 40] ^= 0x01; // inside the signed fields
    let crc = fulmar_sctp::packet::compute_checksum(&forged);
    forged[8..12].copy_from_slice(&crc.to_le_bytes());
    b.handle_receive(now, &forged);
    assert_eq!(b.state(), State::Closed);
    assert!(b.poll_packet(now).is_none());
    b.handle_receive(now, &echo);
    assert_eq!(b.state(), State::Established);
    assert_eq!(b.poll_event(), Some(Event::Connected));
}

#[test]
fn zero_checksum_negotiation() {
    // Both offer: established traffic carries checksum 0.
    let mut p = pair(16, 0.0, 0.0);
    p.connect_both();
    p.a.assoc
        .send(
            p.now(),
            0,
            53,
            Bytes::from_static(b"z"),
            SendOptions::default(),
        )
        .unwrap();
    let pkt = p.a.assoc.poll_packet(p.now()).unwrap();
    assert_eq!(Packet::parse(&pkt).unwrap().checksum(), 0);
    p.b.assoc.handle_receive(p.now(), &pkt);
    assert_eq!(
        p.b.assoc.poll_event(),
        Some(Event::Message(Message {
            stream: 0,
            ppid: 53,
            unordered: false,
            data: Bytes::from_static(b"z")
        }))
    );
    // One side does not offer it: the other computes CRC32c.
    let cb = Config {
        zero_checksum: false,
        ..Config::default()
    };
    let mut p = pair_with(17, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    p.a.assoc
        .send(
            p.now(),
            0,
            53,
            Bytes::from_static(b"z"),
            SendOptions::default(),
        )
        .unwrap();
    let pkt = p.a.assoc.poll_packet(p.now()).unwrap();
    let v = Packet::parse(&pkt).unwrap();
    assert_ne!(v.checksum(), 0);
    v.verify_checksum(false).unwrap();
    // And B rejects a zero checksum since it did not offer it.
    let mut z = pkt.clone();
    z[8..12].fill(0);
    let before = p.b.assoc.stats().packets_dropped;
    p.b.assoc.handle_receive(p.now(), &z);
    assert_eq!(p.b.assoc.stats().packets_dropped, before + 1);
}

#[test]
fn tiny_mtu_and_zero_streams_are_clamped() {
    let c = Config {
        mtu: 1,
        num_streams: 0,
        receive_window: 0,
        ..Config::default()
    };
    let mut p = pair_with(43, c.clone(), c, 0.0, 0.0);
    p.connect_both();
    assert_eq!(p.a.assoc.outbound_streams(), 1);
    // 4 bytes of user data per packet, under a 1500-byte window.
    p.a.assoc
        .send(p.now(), 0, 53, pattern(1000, 1), SendOptions::default())
        .unwrap();
    assert!(
        p.run_until(Duration::from_secs(60), |p| count_messages(&p.events_b)
            == 1)
    );
    assert_eq!(p.b_messages()[0].data, pattern(1000, 1));
}

#[test]
fn heartbeat_measures_rtt_when_idle() {
    let mut p = pair(18, 0.0, 0.0);
    p.connect_both();
    p.run_for(Duration::from_secs(100));
    let s = p.a.assoc.stats();
    let srtt = s.srtt.expect("heartbeat RTT");
    assert!(
        srtt >= Duration::from_millis(19) && srtt <= Duration::from_millis(25),
        "{srtt:?}"
    );
    assert_eq!(p.a.assoc.state(), State::Established);
}
