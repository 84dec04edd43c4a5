//! What a peer or an attacker can send: garbage, floods, unknown chunks, bogus acknowledgements.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use fulmar_sctp::chunk::chunk_type;
use fulmar_sctp::param::cause_code;
use fulmar_sctp::*;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

#[test]
fn garbage_into_established_association_is_dropped() {
    let mut p = pair(19, 0.0, 0.0);
    p.connect_both();
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..500 {
        let n = rng.gen_range(0..200);
        let mut v = vec![0u8; n];
        rng.fill_bytes(&mut v);
        p.b.assoc.handle_receive(p.now(), &v);
    }
    // A packet with the right ports and tag but a chunk whose length runs
    // past the packet, and one with a TSN far outside the window.
    let tag = {
        p.a.assoc
            .send(
                p.now(),
                0,
                53,
                Bytes::from_static(b"q"),
                SendOptions::default(),
            )
            .unwrap();
        let pkt = p.a.assoc.poll_packet(p.now()).unwrap();
        let v = Packet::parse(&pkt).unwrap();
        p.b.assoc.handle_receive(p.now(), &pkt);
        v.verification_tag()
    };
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    w.buffer().extend_from_slice(&[0, 3, 0x10, 0, 0, 0, 0, 1]);
    w.finish(false);
    p.b.assoc.handle_receive(p.now(), &buf);
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    fulmar_sctp::chunk::emit_data(w.buffer(), 3, 0x4000_0000, 0, 0, 53, b"far");
    w.finish(false);
    p.b.assoc.handle_receive(p.now(), &buf);
    assert!(p.b.assoc.stats().packets_dropped >= 400);
    assert!(p.run_until(Duration::from_secs(2), |p| count_messages(&p.events_b) == 1));
    // Still healthy afterwards.
    p.a.assoc
        .send(
            p.now(),
            0,
            53,
            Bytes::from_static(b"ok"),
            SendOptions::default(),
        )
        .unwrap();
    assert!(p.run_until(Duration::from_secs(2), |p| count_messages(&p.events_b) == 2));
}

#[test]
fn flood_of_tiny_data_is_bounded_by_window() {
    let cb = Config {
        receive_window: 64 * 1024,
        ..Config::default()
    };
    let mut p = pair_with(20, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    let tag = {
        p.a.assoc
            .send(
                p.now(),
                0,
                53,
                Bytes::from_static(b"q"),
                SendOptions::default(),
            )
            .unwrap();
        let pkt = p.a.assoc.poll_packet(p.now()).unwrap();
        Packet::parse(&pkt).unwrap().verification_tag()
    };
    // Out-of-window TSNs from a forged sender (gap after the first TSN so
    // nothing is ever delivered): memory must stay bounded by the window.
    for i in 0..200_000u32 {
        let mut buf = Vec::new();
        let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
        fulmar_sctp::chunk::emit_data(w.buffer(), 1, 0x1000 + i, 0, 0, 53, &[0u8; 64]);
        w.finish(false);
        p.b.assoc.handle_receive(p.now(), &buf);
        while p.b.assoc.next_packet(p.now(), &mut buf) {}
    }
    // The advertised window bottoms out rather than memory growing.
    let st = p.b.assoc.stats();
    assert!(st.receive_buffered <= 64 * 1024, "{}", st.receive_buffered);
    assert!(st.packets_received > 1000);
}

#[test]
fn unknown_chunk_with_report_bits_gets_error() {
    let mut p = pair(22, 0.0, 0.0);
    p.connect_both();
    p.a.assoc
        .send(
            p.now(),
            0,
            53,
            Bytes::from_static(b"q"),
            SendOptions::default(),
        )
        .unwrap();
    let pkt = p.a.assoc.poll_packet(p.now()).unwrap();
    let tag = Packet::parse(&pkt).unwrap().verification_tag();
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    w.push(&Chunk::Unknown(UnknownChunk {
        chunk_type: 0xC9,
        flags: 0,
        value: b"abcd",
        raw: &[],
    }));
    w.finish(false);
    p.b.assoc.handle_receive(p.now(), &buf);
    let out = p.b.assoc.poll_packet(p.now()).unwrap();
    let pkt = Packet::parse(&out).unwrap();
    let found = pkt.chunks().any(|c| match c.unwrap() {
        Chunk::Error { causes } => causes
            .iter()
            .any(|c| c.unwrap().code == cause_code::UNRECOGNIZED_CHUNK_TYPE),
        _ => false,
    });
    assert!(found);
    let _ = chunk_type::ERROR;
}

#[test]
fn bogus_sack_and_forward_tsn_do_not_derail() {
    let mut p = pair(42, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    // A SACK with a gap block past the end and made-up duplicates (its
    // cumulative ack is just below b's first TSN, the one TSN b has sent,
    // so the block covers only TSNs never sent).
    let sack = Chunk::Sack(Sack {
        cumulative_tsn_ack: first_tsn_of(&mut p.b.assoc).wrapping_sub(1),
        a_rwnd: 0,
        gap_blocks: List::Items(&[GapAckBlock {
            start: 2,
            end: 65535,
        }]),
        duplicate_tsns: List::Items(&[1, 2, 3]),
    });
    p.b.assoc.handle_receive(p.now(), &forge(tag, &[sack]));
    // A FORWARD-TSN far beyond the window.
    let fwd = Chunk::ForwardTsn(ForwardTsn {
        new_cumulative_tsn: 0x8000_0000,
        streams: List::Items(&[StreamSsn {
            stream: 0,
            ssn: 900,
        }]),
    });
    p.b.assoc.handle_receive(p.now(), &forge(tag, &[fwd]));
    // Traffic in both directions still flows, in order.
    for i in 0..20u8 {
        p.a.assoc
            .send(
                p.now(),
                0,
                53,
                Bytes::from(vec![i; 3000]),
                SendOptions::default(),
            )
            .unwrap();
        p.b.assoc
            .send(
                p.now(),
                0,
                53,
                Bytes::from(vec![i; 3000]),
                SendOptions::default(),
            )
            .unwrap();
    }
    // b's "f" (built and dropped above) arrives by retransmission first.
    assert!(
        p.run_until(Duration::from_secs(30), |p| count_messages(&p.events_b)
            == 21
            && count_messages(&p.events_a) == 21)
    );
    let from_b: Vec<_> = p
        .events_a
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(&from_b[0][..], b"f");
    for (i, m) in from_b[1..].iter().enumerate() {
        assert_eq!(m[0], i as u8);
    }
    let got = p.b_messages();
    assert_eq!(&got[0].data[..], b"t");
    for (i, m) in got[1..].iter().enumerate() {
        assert_eq!(m.data[0], i as u8);
    }
}
