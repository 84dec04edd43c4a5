//! Ending an association: shutdown, abort, timeouts, protocol violations, and the close reason each leaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use fulmar_netsim::{Direction, LinkConfig};
use fulmar_sctp::param::cause_code;
use fulmar_sctp::*;

#[test]
fn graceful_shutdown_after_data() {
    let mut p = pair(12, 0.05, 0.0);
    p.connect_both();
    for i in 0..10 {
        p.a.assoc
            .send(p.now(), 0, 53, pattern(10_000, i), SendOptions::default())
            .unwrap();
    }
    p.a.assoc.shutdown(p.now()).unwrap();
    assert!(p.run_until(Duration::from_secs(120), |p| p.a.assoc.state()
        == State::Closed
        && p.b.assoc.state() == State::Closed));
    assert!(p.events_a.contains(&Event::Closed(CloseReason::Shutdown)));
    assert!(p.events_b.contains(&Event::Closed(CloseReason::Shutdown)));
    assert_eq!(count_messages(&p.events_b), 10);
}

#[test]
fn abort_reaches_peer_with_cause() {
    let mut p = pair(13, 0.0, 0.0);
    p.connect_both();
    p.a.assoc.abort();
    assert!(p.run_until(Duration::from_secs(5), |p| p.b.assoc.state()
        == State::Closed));
    let peer_abort = CloseReason::PeerAbort(Some(AbortCause {
        code: cause_code::USER_INITIATED_ABORT,
        info: Vec::new(),
    }));
    assert!(p.events_b.contains(&Event::Closed(peer_abort.clone())));
    assert_eq!(p.b.assoc.close_reason(), Some(&peer_abort));
    assert!(peer_abort.is_peer_failure());
    assert!(p.events_a.contains(&Event::Closed(CloseReason::UserAbort)));
    assert_eq!(p.a.assoc.close_reason(), Some(&CloseReason::UserAbort));
    assert!(!CloseReason::UserAbort.is_peer_failure());
}

#[test]
fn peer_disappears_mid_transfer_times_out() {
    let mut p = pair(14, 0.0, 0.0);
    p.connect_both();
    for i in 0..50 {
        p.a.assoc
            .send(p.now(), 0, 53, pattern(10_000, i), SendOptions::default())
            .unwrap();
    }
    p.run_for(Duration::from_millis(30));
    p.set_link(Direction::AToB, LinkConfig::down());
    p.set_link(Direction::BToA, LinkConfig::down());
    assert!(p.run_until(Duration::from_secs(3600), |p| p.a.assoc.state()
        == State::Closed));
    let reason = CloseReason::Timeout(RetransmissionLimit::Association);
    assert!(p.events_a.contains(&Event::Closed(reason.clone())));
    assert_eq!(p.a.assoc.close_reason(), Some(&reason));
}

#[test]
fn idle_peer_that_stops_answering_heartbeats_times_out() {
    let config = Config {
        heartbeat_interval: Some(Duration::from_secs(1)),
        ..Config::default()
    };
    let mut p = pair_with(44, config.clone(), config, 0.0, 0.0);
    p.connect_both();
    p.set_link(Direction::AToB, LinkConfig::down());
    p.set_link(Direction::BToA, LinkConfig::down());
    assert!(p.run_until(Duration::from_secs(3600), |p| p.a.assoc.state()
        == State::Closed));
    assert_eq!(
        p.a.assoc.close_reason(),
        Some(&CloseReason::Timeout(RetransmissionLimit::Association))
    );
    assert_eq!(p.a.assoc.stats().t3_expirations, 0, "heartbeats alone");
}

#[test]
fn shutdown_never_answered_times_out() {
    let mut p = pair(43, 0.0, 0.0);
    p.connect_both();
    p.set_link(Direction::AToB, LinkConfig::down());
    p.set_link(Direction::BToA, LinkConfig::down());
    p.a.assoc.shutdown(p.now()).unwrap();
    assert_eq!(p.a.assoc.state(), State::ShutdownSent);
    assert!(p.run_until(Duration::from_secs(3600), |p| p.a.assoc.state()
        == State::Closed));
    let reason = CloseReason::Timeout(RetransmissionLimit::Shutdown);
    assert!(p.events_a.contains(&Event::Closed(reason.clone())));
    assert!(reason.is_peer_failure());
}

#[test]
fn init_never_answered_times_out() {
    let mut p = pair(15, 0.0, 0.0);
    p.set_link(Direction::AToB, LinkConfig::down());
    p.a.assoc.connect(p.now()).unwrap();
    assert!(p.run_until(Duration::from_secs(3600), |p| p.a.assoc.state()
        == State::Closed));
    let reason = CloseReason::Timeout(RetransmissionLimit::Init);
    assert!(p.events_a.contains(&Event::Closed(reason.clone())));
    assert_eq!(p.a.assoc.close_reason(), Some(&reason));
}

/// The first error cause of the ABORT b sends next.
fn abort_cause_sent(p: &mut Pair) -> (u16, Vec<u8>) {
    let mut buf = Vec::new();
    while p.b.assoc.next_packet(p.now(), &mut buf) {
        for c in Packet::parse(&buf).unwrap().chunks() {
            if let Ok(Chunk::Abort { causes, .. }) = c {
                let cause = causes.iter().next().unwrap().unwrap();
                return (cause.code, cause.info.to_vec());
            }
        }
    }
    panic!("no ABORT sent");
}

#[test]
fn sack_of_unsent_tsn_aborts_with_protocol_violation() {
    let mut p = pair(45, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    // b has sent nothing: acknowledging its first TSN is a lie.
    let unsent = first_tsn_of(&mut p.b.assoc).wrapping_add(1);
    let sack = Chunk::Sack(Sack {
        cumulative_tsn_ack: unsent,
        a_rwnd: 65536,
        gap_blocks: List::empty(),
        duplicate_tsns: List::empty(),
    });
    p.b.assoc.handle_receive(p.now(), &forge(tag, &[sack]));
    let reason = CloseReason::ProtocolViolation(ProtocolViolation::AckOfUnsentTsn);
    assert_eq!(p.b.assoc.state(), State::Closed);
    assert_eq!(p.b.assoc.close_reason(), Some(&reason));
    assert!(reason.is_peer_failure());
    let (code, _) = abort_cause_sent(&mut p);
    assert_eq!(code, cause_code::PROTOCOL_VIOLATION);
    p.drain_events();
    assert!(p.events_b.contains(&Event::Closed(reason)));
}

#[test]
fn data_without_user_data_aborts_with_no_user_data() {
    let mut p = pair(47, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    // RFC 9260 §6.2: a DATA chunk of length 16 (TSN 0x01020304) must be
    // answered with ABORT and the No User Data cause naming its TSN.
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    w.buffer()
        .extend_from_slice(&[0, 3, 0, 16, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 53]);
    w.finish(false);
    p.b.assoc.handle_receive(p.now(), &buf);
    assert_eq!(
        p.b.assoc.close_reason(),
        Some(&CloseReason::ProtocolViolation(
            ProtocolViolation::NoUserData
        ))
    );
    let abort = abort_cause_sent(&mut p);
    assert_eq!(abort, (cause_code::NO_USER_DATA, vec![1, 2, 3, 4]));
}

#[test]
fn shutdown_acknowledging_unsent_tsn_aborts_and_the_peer_learns_why() {
    let mut p = pair(48, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    let unsent = first_tsn_of(&mut p.b.assoc).wrapping_add(7);
    let shutdown = Chunk::Shutdown {
        cumulative_tsn_ack: unsent,
    };
    p.b.assoc.handle_receive(p.now(), &forge(tag, &[shutdown]));
    assert_eq!(
        p.b.assoc.close_reason(),
        Some(&CloseReason::ProtocolViolation(
            ProtocolViolation::AckOfUnsentTsn
        ))
    );
    assert!(p.run_until(Duration::from_secs(5), |p| p.a.assoc.state()
        == State::Closed));
    let Some(CloseReason::PeerAbort(Some(cause))) = p.a.assoc.close_reason() else {
        panic!("{:?}", p.a.assoc.close_reason());
    };
    assert_eq!(cause.code, cause_code::PROTOCOL_VIOLATION);
    assert_eq!(
        &cause.info[..],
        b"cumulative TSN ack beyond the highest TSN sent"
    );
}
