//! The sans-IO contract: packets appended after room for a lower layer's header, SACK batching when packets are handed in a batch, buffers kept while busy and released when idle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use fulmar_sctp::chunk::chunk_type;
use fulmar_sctp::*;

#[test]
fn packets_appended_after_room_match_packets_written_alone() {
    let mut p = pair(23, 0.0, 0.0);
    p.connect_both();
    let o = SendOptions::default();
    p.a.assoc.send(p.now(), 1, 53, pattern(3000, 1), o).unwrap();
    let mut room = vec![0xee; 21];
    let len = p.a.assoc.poll_transmit(p.now(), &mut room).unwrap();
    assert_eq!(&room[..21], &[0xee; 21], "the room is left alone");
    let appended = room.split_off(21);
    assert_eq!(appended.len(), len);
    // The same packet from a twin association, written alone.
    let mut twin = pair(23, 0.0, 0.0);
    twin.connect_both();
    twin.a
        .assoc
        .send(twin.now(), 1, 53, pattern(3000, 1), o)
        .unwrap();
    let mut alone = Vec::new();
    assert!(twin.a.assoc.next_packet(twin.now(), &mut alone));
    assert_eq!(appended, alone);
    // Nothing left to send (the window is open, the message was split into
    // packets): drain, then a poll leaves the buffer as it was.
    while p.a.assoc.poll_transmit(p.now(), &mut Vec::new()).is_some() {}
    let mut untouched = vec![1, 2, 3];
    assert_eq!(p.a.assoc.poll_transmit(p.now(), &mut untouched), None);
    assert_eq!(untouched, [1, 2, 3]);
}

/// Sends `packets` full DATA packets from a (as many as its window
/// allows), built but not delivered; returns them.
fn full_packets(p: &mut Pair, packets: usize, seed: u64) -> Vec<Vec<u8>> {
    let room = Config::default().mtu - 12 - 16;
    p.a.assoc
        .send(
            p.now(),
            0,
            53,
            pattern(room * packets, seed),
            SendOptions::default(),
        )
        .unwrap();
    let mut out = Vec::new();
    while out.len() < packets {
        let Some(packet) = p.a.assoc.poll_packet(p.now()) else {
            break;
        };
        out.push(packet);
    }
    out
}

/// The TSN of the (last) DATA chunk in `packet`.
fn tsn_of(packet: &[u8]) -> u32 {
    let tsns = Packet::parse(packet)
        .unwrap()
        .chunks()
        .filter_map(|c| match c {
            Ok(Chunk::Data(d)) => Some(d.tsn),
            _ => None,
        });
    tsns.last().expect("a DATA chunk")
}

/// Hands `packets` to b without polling it in between, as an owner reading
/// a batch of datagrams does; returns whether b built a packet meanwhile
/// (a due SACK the peer counts on is built at once, acknowledging what had
/// arrived by then; another waits for the poll).
fn receive_batch<'a>(p: &mut Pair, packets: impl IntoIterator<Item = &'a Vec<u8>>) -> bool {
    let built = p.b.assoc.stats().packets_sent;
    for packet in packets {
        p.b.assoc.handle_receive(p.now(), packet);
    }
    p.b.assoc.stats().packets_sent > built
}

/// Polls b and hands what it sends to a; returns the cumulative TSN ack of
/// each SACK that went.
fn return_sacks(p: &mut Pair) -> Vec<u32> {
    let mut acks = Vec::new();
    let mut buf = Vec::new();
    while p.b.assoc.next_packet(p.now(), &mut buf) {
        for c in Packet::parse(&buf).unwrap().chunks() {
            if let Ok(Chunk::Sack(s)) = c {
                acks.push(s.cumulative_tsn_ack);
            }
        }
        p.a.assoc.handle_receive(p.now(), &buf);
    }
    acks
}

/// Runs rounds of two packets, each round's SACK polled, until b's SACKs
/// no longer count for a (its slow-start allowance is used up); returns
/// how many packets that took.
fn pass_the_ramp(p: &mut Pair) -> usize {
    let mut in_order = 0;
    while in_order < 256 {
        let packets = full_packets(p, 2, in_order as u64);
        assert_eq!(packets.len(), 2, "cwnd and window allow two");
        let built_at_once = receive_batch(p, &packets);
        in_order += 2;
        // Polled: the SACK goes back and opens a's window.
        assert_eq!(return_sacks(p).len(), 1, "every second packet");
        p.drain_events();
        if !built_at_once {
            return in_order;
        }
    }
    panic!("b's SACKs never stopped counting");
}

/// Past the peer's slow start, a batch of in-order packets read before a
/// poll is acknowledged by one SACK: the SACKs falling due in between
/// would all have left together at the poll, and the last acknowledges
/// what they would have (acknowledgement compression).
#[test]
fn a_batch_past_slow_start_is_acknowledged_by_one_sack() {
    let mut cb = Config::default();
    cb.receive_window = 16 * cb.mtu;
    let mut p = pair_with(46, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    pass_the_ramp(&mut p);
    // The rounds left a's cwnd as it started (they never filled it): four
    // packets.
    let packets = full_packets(&mut p, 4, 7);
    assert_eq!(packets.len(), 4, "cwnd allows four");
    assert!(!receive_batch(&mut p, &packets), "nothing built meanwhile");
    let sent_before = p.b.assoc.stats().packets_sent;
    assert_eq!(return_sacks(&mut p), vec![tsn_of(&packets[3])]);
    assert_eq!(p.b.assoc.stats().packets_sent, sent_before + 1);
    // Polled after each pair of packets instead, b acknowledges each pair.
    let packets = full_packets(&mut p, 4, 8);
    assert_eq!(packets.len(), 4);
    let mut acks = Vec::new();
    for two in packets.chunks(2) {
        receive_batch(&mut p, two);
        acks.extend(return_sacks(&mut p));
    }
    let expected: Vec<u32> = packets.chunks(2).map(|two| tsn_of(&two[1])).collect();
    assert_eq!(acks, expected);
}

/// While the peer may be in slow start, where each SACK grows its cwnd,
/// a batch read before a poll still yields a SACK per two packets, each
/// acknowledging what had arrived by then; they come out of the poll in
/// order, after whatever room the caller keeps in front (a DTLS record
/// header), as any packet does.
#[test]
fn in_slow_start_a_batch_gets_every_sack_the_peer_counts_on() {
    let mut p = pair(47, 0.0, 0.0);
    p.connect_both();
    let packets = full_packets(&mut p, 4, 47);
    assert_eq!(packets.len(), 4, "the initial cwnd allows four");
    assert!(receive_batch(&mut p, &packets), "built while reading");
    let room = [0xd7; 13];
    let mut acks = Vec::new();
    let mut buf = room.to_vec();
    while let Some(len) = p.b.assoc.poll_transmit(p.now(), &mut buf) {
        assert_eq!(buf[..room.len()], room, "the room is left alone");
        let packet = &buf[room.len()..];
        assert_eq!(packet.len(), len);
        let packet = Packet::parse(packet).unwrap();
        packet.verify_checksum(true).unwrap();
        for c in packet.chunks() {
            if let Ok(Chunk::Sack(s)) = c {
                acks.push(s.cumulative_tsn_ack);
            }
        }
        buf.truncate(room.len());
    }
    assert_eq!(acks, vec![tsn_of(&packets[1]), tsn_of(&packets[3])]);
}

#[test]
fn due_sacks_wait_only_past_slow_start_and_without_gaps() {
    // A 16-packet window: the peer's slow start lasts 2 x 16 packets.
    let mut cb = Config::default();
    cb.receive_window = 16 * cb.mtu;
    let mut p = pair_with(41, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    assert_eq!(
        pass_the_ramp(&mut p),
        32,
        "in-order SACKs wait after 32 packets"
    );
    // The first of the next packets is lost: the SACK reporting the gap
    // cannot wait, nor can those after it until the ramp is over again.
    let packets = full_packets(&mut p, 4, 99);
    assert!(receive_batch(&mut p, &packets[1..2]), "a gap");
    assert!(p.b.assoc.poll_packet(p.now()).is_some());
    assert!(
        receive_batch(&mut p, [&packets[0], &packets[2]]),
        "gap filled"
    );
}

#[test]
fn a_pause_of_rto_min_restarts_the_slow_start_allowance() {
    let mut cb = Config::default();
    cb.receive_window = 16 * cb.mtu;
    let rto_min = cb.rto_min;
    let mut p = pair_with(42, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    pass_the_ramp(&mut p);
    let packets = full_packets(&mut p, 2, 9);
    assert!(!receive_batch(&mut p, &packets), "past the ramp: waits");
    assert_eq!(return_sacks(&mut p).len(), 1);
    // Data resumes after a pause: the peer may have shrunk cwnd (§7.2.1).
    assert!(!p.a.assoc.has_queued_data(), "nothing sent in the pause");
    p.run_for(rto_min);
    let packets = full_packets(&mut p, 2, 10);
    assert!(receive_batch(&mut p, &packets), "built at once again");
}

#[test]
fn sacks_read_in_a_batch_each_grow_cwnd_in_slow_start() {
    let mut p = pair(43, 0.0, 0.0);
    p.connect_both();
    let mtu = Config::default().mtu;
    let initial = p.a.assoc.stats().cwnd;
    p.a.assoc
        .send(
            p.now(),
            0,
            53,
            pattern(64 << 10, 43),
            SendOptions::default(),
        )
        .unwrap();
    // The flight cwnd allows, each packet acknowledged by b as it comes.
    let mut flight = Vec::new();
    let mut buf = Vec::new();
    while p.a.assoc.next_packet(p.now(), &mut buf) {
        flight.push(buf.clone());
    }
    let mut sacks = Vec::new();
    for packet in flight {
        p.b.assoc.handle_receive(p.now(), &packet);
        while p.b.assoc.next_packet(p.now(), &mut buf) {
            // Packets of SACK chunks only (the first chunk type at byte 12).
            if buf.get(12) == Some(&chunk_type::SACK) {
                sacks.push(buf.clone());
            }
        }
    }
    assert!(sacks.len() >= 2, "{}", sacks.len());
    // Read together, each SACK still finds cwnd fully used (RFC 9260
    // §7.2.1: a was held back by it when it last sent), so each grows it
    // by one MTU, as if they had arrived spaced out.
    for sack in &sacks {
        p.a.assoc.handle_receive(p.now(), sack);
    }
    assert_eq!(p.a.assoc.stats().cwnd, initial + sacks.len() * mtu);
}

/// An idle association runs its housekeeping timer (which returns its
/// reusable buffers, see the unit test in `timers.rs`) by itself about a
/// second after the last activity, and works on afterwards.
#[test]
fn idle_association_runs_housekeeping_and_works_on() {
    let mut p = pair(5, 0.0, 0.0);
    p.connect_both();
    p.a.assoc
        .send(p.now(), 1, 53, pattern(4000, 1), SendOptions::default())
        .unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| count_messages(&p.events_b) == 1));
    let start = p.now();
    // The housekeeping timer is armed within a second of going idle...
    let due = p.a.assoc.poll_timeout().unwrap();
    assert!(due <= start + Duration::from_secs(1));
    p.run_for(Duration::from_secs(2));
    // It still works afterwards.
    p.a.assoc
        .send(p.now(), 1, 53, pattern(4000, 2), SendOptions::default())
        .unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| count_messages(&p.events_b) == 2));
}

#[test]
fn buffers_of_dropped_messages_carry_the_next_ones() {
    let mut p = pair(45, 0.0, 0.0);
    p.connect_both();
    let receive = |p: &mut Pair, seed: u64| {
        let sent = pattern(10_000, seed);
        p.a.assoc
            .send(p.now(), 0, 53, sent.clone(), SendOptions::default())
            .unwrap();
        let mut got = Vec::new();
        assert!(p.run_until(Duration::from_secs(5), |p| {
            got.extend(p.b_messages());
            !got.is_empty()
        }));
        let m = got.remove(0);
        assert_eq!(m.data, sent);
        m.data
    };
    let first = receive(&mut p, 1);
    // Held by the application: the next message gets another buffer.
    let second = receive(&mut p, 2);
    assert_ne!(second.as_ptr(), first.as_ptr());
    let second_ptr = second.as_ptr();
    drop(first);
    drop(second);
    // Dropped: the next message is built in the one handed back last.
    let third = receive(&mut p, 3);
    assert_eq!(third.as_ptr(), second_ptr);
    drop(third);
    // Once idle, the association lets its buffers go, and goes on.
    p.run_for(Duration::from_secs(2));
    receive(&mut p, 4);
}
