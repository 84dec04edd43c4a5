//! Streams: PR-SCTP (RFC 3758), stream reset (RFC 6525), stream limits and scheduling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use fulmar_netsim::{Direction, LinkConfig};
use fulmar_sctp::param::cause_code;
use fulmar_sctp::*;

#[test]
fn pr_sctp_max_retransmits_zero_drops_but_never_stalls() {
    let mut p = pair(8, 0.0, 0.0);
    p.connect_both();
    p.set_link(Direction::AToB, link(0.2, 0.0));
    let o = SendOptions {
        unordered: true,
        max_retransmits: Some(0),
        lifetime: None,
    };
    for i in 0..300u32 {
        p.a.assoc
            .send(p.now(), 3, 53, pattern(100, u64::from(i)), o)
            .unwrap();
    }
    // Then reliable ordered data on another stream must still get through.
    p.a.assoc
        .send(p.now(), 4, 53, pattern(3000, 999), SendOptions::default())
        .unwrap();
    assert!(
        p.run_until(Duration::from_secs(120), |p| p.a.assoc.buffered_amount(3)
            == 0
            && p.events_b
                .iter()
                .any(|e| matches!(e, Event::Message(m) if m.stream == 4)))
    );
    // Let the lossy link settle every loss into an abandonment first.
    p.run_for(Duration::from_secs(10));
    p.set_link(Direction::AToB, link(0.0, 0.0));
    p.run_for(Duration::from_secs(10));
    let got = p.b_messages();
    let partial = got.iter().filter(|m| m.stream == 3).count();
    assert!(partial < 300 && partial > 150, "delivered {partial}");
    assert!(p.a.assoc.stats().abandoned_messages > 0);
    // Nothing is stuck: a reliable message on the same stream follows.
    p.a.assoc
        .send(
            p.now(),
            3,
            53,
            Bytes::from_static(b"tail"),
            SendOptions::default(),
        )
        .unwrap();
    assert!(
        p.run_until(Duration::from_secs(10), |p| count_messages(&p.events_b)
            == 1)
    );
    assert_eq!(&p.b_messages()[0].data[..], b"tail");
}

#[test]
fn pr_sctp_ordered_lifetime_skips_ssns() {
    let mut p = pair(9, 0.0, 0.0);
    p.connect_both();
    p.set_link(Direction::AToB, LinkConfig::down());
    let o = SendOptions {
        unordered: false,
        max_retransmits: None,
        lifetime: Some(Duration::from_millis(500)),
    };
    for i in 0..5u32 {
        p.a.assoc
            .send(p.now(), 1, 53, pattern(2000, u64::from(i)), o)
            .unwrap();
    }
    p.run_for(Duration::from_secs(3));
    p.set_link(Direction::AToB, link(0.0, 0.0));
    p.a.assoc
        .send(
            p.now(),
            1,
            53,
            Bytes::from_static(b"after"),
            SendOptions::default(),
        )
        .unwrap();
    assert!(
        p.run_until(Duration::from_secs(30), |p| count_messages(&p.events_b)
            >= 1)
    );
    let got = p.b_messages();
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].data[..], b"after");
    assert!(p.a.assoc.stats().abandoned_messages >= 5);
}

#[test]
fn stream_reset_round_trip() {
    let mut p = pair(10, 0.0, 0.0);
    p.connect_both();
    p.a.assoc
        .send(
            p.now(),
            9,
            51,
            Bytes::from_static(b"one"),
            SendOptions::default(),
        )
        .unwrap();
    p.a.assoc
        .send(
            p.now(),
            9,
            51,
            Bytes::from_static(b"two"),
            SendOptions::default(),
        )
        .unwrap();
    p.a.assoc.reset_streams(&[9]).unwrap();
    assert_eq!(
        p.a.assoc.send(
            p.now(),
            9,
            51,
            Bytes::from_static(b"x"),
            SendOptions::default()
        ),
        Err(Error::StreamResetting(9))
    );
    assert!(p.run_until(Duration::from_secs(10), |p| p
        .events_a
        .contains(&Event::OutgoingStreamsReset(vec![9]))));
    assert!(p.events_b.contains(&Event::IncomingStreamsReset(vec![9])));
    let got = p.b_messages();
    assert_eq!(got.len(), 2);
    // The stream is usable again, starting at SSN 0 on both sides.
    p.a.assoc
        .send(
            p.now(),
            9,
            51,
            Bytes::from_static(b"again"),
            SendOptions::default(),
        )
        .unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| count_messages(&p.events_b) == 1));
    assert_eq!(&p.b_messages()[0].data[..], b"again");
}

#[test]
fn stream_reset_under_loss() {
    let mut p = pair(11, 0.2, 0.1);
    p.connect_both();
    for i in 0..20 {
        p.a.assoc
            .send(p.now(), 2, 51, pattern(1500, i), SendOptions::default())
            .unwrap();
    }
    p.a.assoc.reset_streams(&[2]).unwrap();
    assert!(p.run_until(Duration::from_secs(120), |p| p
        .events_a
        .contains(&Event::OutgoingStreamsReset(vec![2]))));
    assert!(
        p.run_until(Duration::from_secs(10), |p| count_messages(&p.events_b)
            == 20)
    );
    assert!(p.events_b.contains(&Event::IncomingStreamsReset(vec![2])));
}

#[test]
fn reconfig_with_bad_sequence_number_is_answered() {
    let mut p = pair(40, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    let req = [ReconfigParam::OutgoingSsnResetRequest {
        request_seq: 12345,
        response_seq: 0,
        last_tsn: 0,
        streams: List::Items(&[1]),
    }];
    p.b.assoc.handle_receive(
        p.now(),
        &forge(
            tag,
            &[Chunk::ReConfig {
                params: TlvList::Items(&req),
            }],
        ),
    );
    let out = p.b.assoc.poll_packet(p.now()).unwrap();
    let found = chunks_of(&out)
        .iter()
        .any(|c| match Chunk::parse(c).unwrap().0 {
            Chunk::ReConfig { params } => params.iter().any(|r| {
                matches!(r.unwrap(), ReconfigParam::Response { response_seq: 12345, result, .. }
                if result == fulmar_sctp::param::reconfig_result::ERROR_BAD_SEQUENCE_NUMBER)
            }),
            _ => false,
        });
    assert!(found);
    assert!(!p
        .events_b
        .iter()
        .any(|e| matches!(e, Event::IncomingStreamsReset(_))));
}

#[test]
fn incoming_reset_request_triggers_our_outgoing_reset() {
    let mut p = pair(44, 0.0, 0.0);
    p.connect_both();
    // a's first DATA TSN is its initial TSN, which seeds the re-configuration
    // request sequence numbers (RFC 6525 §5.1.1).
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
    let first_tsn = chunks_of(&pkt)
        .iter()
        .find_map(|c| match Chunk::parse(c).unwrap().0 {
            Chunk::Data(d) => Some(d.tsn),
            _ => None,
        })
        .unwrap();
    p.b.assoc.handle_receive(p.now(), &pkt);
    p.b.assoc
        .send(
            p.now(),
            6,
            53,
            Bytes::from_static(b"before"),
            SendOptions::default(),
        )
        .unwrap();
    let req = [ReconfigParam::IncomingSsnResetRequest {
        request_seq: first_tsn,
        streams: List::Items(&[6]),
    }];
    p.b.assoc.handle_receive(
        p.now(),
        &forge(
            tag,
            &[Chunk::ReConfig {
                params: TlvList::Items(&req),
            }],
        ),
    );
    assert!(p.run_until(Duration::from_secs(10), |p| p
        .events_b
        .contains(&Event::OutgoingStreamsReset(vec![6]))));
    assert!(p.events_a.contains(&Event::IncomingStreamsReset(vec![6])));
    assert!(p
        .events_a
        .iter()
        .any(|e| matches!(e, Event::Message(m) if &m.data[..] == b"before")));
}

#[test]
fn data_on_unnegotiated_stream_gets_invalid_stream_error() {
    let cb = Config {
        num_streams: 8,
        ..Config::default()
    };
    let mut p = pair_with(41, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    assert_eq!(p.a.assoc.outbound_streams(), 8);
    assert_eq!(
        p.a.assoc.send(
            p.now(),
            9,
            53,
            Bytes::from_static(b"x"),
            SendOptions::default()
        ),
        Err(Error::InvalidStream(9))
    );
    let tag = tag_for_b(&mut p);
    // A forged DATA chunk on stream 20 (outside the 8 negotiated).
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    fulmar_sctp::chunk::emit_data(w.buffer(), 3, 0x7777_0000, 20, 0, 53, b"bad");
    w.finish(false);
    p.b.assoc.handle_receive(p.now(), &buf);
    let mut found = false;
    while let Some(out) = p.b.assoc.poll_packet(p.now()) {
        found |= chunks_of(&out)
            .iter()
            .any(|c| match Chunk::parse(c).unwrap().0 {
                Chunk::Error { causes } => causes
                    .iter()
                    .any(|c| c.unwrap().code == cause_code::INVALID_STREAM_IDENTIFIER),
                _ => false,
            });
    }
    // The far-away TSN is dropped silently; an in-window one is reported.
    assert!(!found);
    let tsn = {
        p.a.assoc
            .send(
                p.now(),
                1,
                53,
                Bytes::from_static(b"n"),
                SendOptions::default(),
            )
            .unwrap();
        let pkt = p.a.assoc.poll_packet(p.now()).unwrap();
        let c = chunks_of(&pkt);
        let Chunk::Data(d) = Chunk::parse(c.last().unwrap()).unwrap().0 else {
            panic!()
        };
        d.tsn
    };
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    fulmar_sctp::chunk::emit_data(w.buffer(), 3, tsn, 20, 0, 53, b"bad");
    w.finish(false);
    p.b.assoc.handle_receive(p.now(), &buf);
    while let Some(out) = p.b.assoc.poll_packet(p.now()) {
        found |= chunks_of(&out)
            .iter()
            .any(|c| match Chunk::parse(c).unwrap().0 {
                Chunk::Error { causes } => causes
                    .iter()
                    .any(|c| c.unwrap().code == cause_code::INVALID_STREAM_IDENTIFIER),
                _ => false,
            });
    }
    assert!(found);
}

#[test]
fn streams_are_served_round_robin() {
    let mut p = pair(45, 0.0, 0.0);
    p.connect_both();
    for i in 0..16 {
        p.a.assoc
            .send(
                p.now(),
                1,
                53,
                pattern(64 * 1024, i),
                SendOptions::default(),
            )
            .unwrap();
    }
    p.a.assoc
        .send(
            p.now(),
            2,
            51,
            Bytes::from_static(b"chat"),
            SendOptions::default(),
        )
        .unwrap();
    assert!(p.run_until(Duration::from_secs(30), |p| p
        .events_b
        .iter()
        .any(|e| matches!(e, Event::Message(m) if m.stream == 2))));
    let bulk_before = p
        .events_b
        .iter()
        .filter(|e| matches!(e, Event::Message(m) if m.stream == 1))
        .count();
    assert!(
        bulk_before <= 2,
        "chat waited behind {bulk_before} bulk messages"
    );
    assert!(
        p.run_until(Duration::from_secs(30), |p| count_messages(&p.events_b)
            == 17)
    );
    let got = p.b_messages();
    let bulk: Vec<_> = got.iter().filter(|m| m.stream == 1).collect();
    for (i, m) in bulk.iter().enumerate() {
        assert_eq!(m.data, pattern(64 * 1024, i as u64));
    }
}
