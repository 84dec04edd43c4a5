//! Moving data: large messages, windows, bulk transfers under loss and reordering, congestion control.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use fulmar_netsim::Direction;
use fulmar_sctp::*;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

#[test]
fn large_messages_ordered_and_unordered() {
    let mut p = pair(4, 0.0, 0.0);
    p.connect_both();
    let sizes = [1usize, 1171, 1172, 1173, 5000, 65536, 256 * 1024];
    for (i, &n) in sizes.iter().enumerate() {
        let o = SendOptions {
            unordered: i % 2 == 1,
            ..Default::default()
        };
        p.a.assoc
            .send(p.now(), 7, 53, pattern(n, i as u64), o)
            .unwrap();
    }
    assert!(
        p.run_until(Duration::from_secs(30), |p| count_messages(&p.events_b)
            == sizes.len())
    );
    let mut got = p.b_messages();
    got.sort_by_key(|m| m.data.len());
    for (i, m) in got.iter().enumerate() {
        let idx = sizes.iter().position(|&n| n == m.data.len()).unwrap();
        assert_eq!(m.data, pattern(sizes[idx], idx as u64), "message {i}");
        assert_eq!(m.stream, 7);
    }
    // Too large for the peer.
    let e = p.a.assoc.send(
        p.now(),
        7,
        53,
        pattern(256 * 1024 + 1, 0),
        SendOptions::default(),
    );
    assert!(matches!(e, Err(Error::MessageTooLarge { .. })));
    assert_eq!(
        p.a.assoc
            .send(p.now(), 7, 53, Bytes::new(), SendOptions::default()),
        Err(Error::EmptyMessage)
    );
}

/// An application that leaves a full window of messages unread closes the
/// window to the peer's DATA, but the association still takes the peer's
/// SACKs for its own data; reading reopens the window at once: a window
/// update SACK (RFC 9260 §6.2), on which the peer retransmits its dropped
/// zero-window probe rather than wait for its backed-off T3-rtx.
#[test]
fn unread_bytes_close_the_window_but_not_the_sack_path() {
    let mut p = pair(21, 0.0, 0.0);
    let start = p.now();
    p.connect_both();
    let window = Config::default().receive_window;
    p.b.assoc.set_unread_bytes(window);
    for i in 0..32 {
        p.a.assoc
            .send(
                p.now(),
                1,
                53,
                pattern(16 * 1024, i),
                SendOptions::default(),
            )
            .unwrap();
        p.b.assoc
            .send(
                p.now(),
                2,
                53,
                pattern(64 * 1024, i),
                SendOptions::default(),
            )
            .unwrap();
    }
    // B's 2 MiB reach A: B processes A's SACKs while its own window is shut.
    assert!(
        p.run_until(Duration::from_secs(10), |p| count_messages(&p.events_a)
            == 32)
    );
    // A's data is held back for a long while: A's probes back off, and the
    // SACKs answering them keep the association from timing out
    // (RFC 9260 §6.1: probes answered by SACKs are not errors).
    p.run_for(Duration::from_secs(600));
    assert!(p.b_messages().is_empty(), "data passed a closed window");
    assert!(p.a.assoc.is_established() && p.b.assoc.is_established());
    let reopened = p.now();
    p.enable_trace();
    p.b.assoc.set_unread_bytes(0);
    assert!(
        p.run_until(Duration::from_secs(10), |p| count_messages(&p.events_b)
            == 32)
    );
    assert!(
        p.now() - reopened < Duration::from_secs(1),
        "window reopened late: {:?} (the peer's RTO {:?})",
        p.now() - reopened,
        p.a.assoc.stats().rto
    );
    // The first thing b sends is a SACK announcing the window, at once.
    let first = &p.trace()[0];
    assert_eq!(
        (first.at, first.direction),
        (reopened - start, Direction::BToA)
    );
    let update =
        chunks_of(&first.datagram)
            .into_iter()
            .find_map(|c| match Chunk::parse(&c).unwrap().0 {
                Chunk::Sack(s) => Some(s.a_rwnd as usize),
                _ => None,
            });
    assert_eq!(update, Some(window), "window update");
}

fn transfer_with_loss(seed: u64, loss: f64, reorder: f64, total: usize) {
    transfer(pair(seed, loss, reorder), seed, loss, total);
}

fn transfer(mut p: Pair, seed: u64, loss: f64, total: usize) {
    p.connect_both();
    let mut rng = StdRng::seed_from_u64(seed ^ 0xABCD);
    // Order-sensitive checksums (CRC32c over the concatenation) and byte
    // counts per stream, so that even 1 GiB needs no copy kept for comparison.
    let mut sent_sum = [0u32; 4];
    let mut sent_len = [0usize; 4];
    let mut sent_msgs = 0usize;
    let mut recv_sum = [0u32; 4];
    let mut recv_len = [0usize; 4];
    let mut recv_msgs = 0usize;
    let mut queued = 0;
    let take = |p: &mut Pair,
                recv_sum: &mut [u32; 4],
                recv_len: &mut [usize; 4],
                recv_msgs: &mut usize| {
        for m in p.b_messages() {
            let s = usize::from(m.stream);
            recv_sum[s] = crc32c::crc32c_append(recv_sum[s], &m.data);
            recv_len[s] += m.data.len();
            *recv_msgs += 1;
        }
    };
    while queued < total {
        let n = rng.gen_range(1..=65536usize).min(total - queued);
        let stream = rng.gen_range(0..4u16);
        let data = pattern(n, rng.next_u64());
        let s = usize::from(stream);
        sent_sum[s] = crc32c::crc32c_append(sent_sum[s], &data);
        sent_len[s] += n;
        sent_msgs += 1;
        p.a.assoc
            .send(p.now(), stream, 53, data, SendOptions::default())
            .unwrap();
        queued += n;
        // Keep the queue short so that back-pressure is exercised.
        while (0..4).map(|s| p.a.assoc.buffered_amount(s)).sum::<usize>() > 512 * 1024 {
            assert!(p.step());
            take(&mut p, &mut recv_sum, &mut recv_len, &mut recv_msgs);
        }
    }
    assert!(
        p.run_until(Duration::from_secs(36_000), |p| {
            take(p, &mut recv_sum, &mut recv_len, &mut recv_msgs);
            recv_msgs == sent_msgs
        }),
        "received {recv_msgs} of {sent_msgs} messages"
    );
    assert_eq!(recv_len, sent_len, "bytes per stream");
    assert_eq!(
        recv_sum, sent_sum,
        "CRC32c per stream (byte-exact, in order)"
    );
    let st = p.a.assoc.stats();
    if loss > 0.0 {
        assert!(st.retransmissions > 0);
    }
    assert_eq!(p.b.assoc.stats().bytes_received, queued as u64);
}

#[test]
fn transfer_clean() {
    transfer_with_loss(5, 0.0, 0.0, 8 << 20);
}

#[test]
fn transfer_one_percent_loss_with_reordering() {
    transfer_with_loss(6, 0.01, 0.05, 4 << 20);
}

#[test]
fn transfer_five_percent_loss_with_reordering() {
    transfer_with_loss(7, 0.05, 0.1, 2 << 20);
}

/// The receive path a DTLS layer uses: each packet lent from a reused
/// buffer, so whole messages and early fragments are copied out of it.
/// The 1 GiB transfers (run with `cargo test --release -p
/// fulmar-sctp --test association -- --ignored one_gib`).
#[test]
#[ignore]
fn one_gib_clean() {
    transfer_with_loss(100, 0.0, 0.0, 1 << 30);
}

/// 1 GiB with 1% loss and reordering.
#[test]
#[ignore]
fn one_gib_one_percent_loss() {
    transfer_with_loss(101, 0.01, 0.05, 1 << 30);
}

/// 1 GiB with 5% loss and reordering.
#[test]
#[ignore]
fn one_gib_five_percent_loss() {
    transfer_with_loss(102, 0.05, 0.1, 1 << 30);
}

#[test]
fn window_update_sack_after_the_application_drains() {
    let cb = Config {
        receive_window: 64 * 1024,
        ..Config::default()
    };
    let mut p = pair_with(46, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    for i in 0..20 {
        p.a.assoc
            .send(
                p.now(),
                0,
                53,
                pattern(16 * 1024, i),
                SendOptions::default(),
            )
            .unwrap();
    }
    // Move packets without the application on b reading anything.
    for _ in 0..200 {
        while let Some(x) = p.a.assoc.poll_packet(p.now()) {
            p.b.assoc.handle_receive(p.now(), &x);
        }
        while let Some(x) = p.b.assoc.poll_packet(p.now()) {
            p.a.assoc.handle_receive(p.now(), &x);
        }
    }
    assert!(p.b.assoc.stats().receive_buffered >= 48 * 1024);
    assert!(p.b.assoc.poll_packet(p.now()).is_none());
    while p.b.assoc.poll_event().is_some() {}
    let update = p.b.assoc.poll_packet(p.now()).expect("window update");
    let sack = chunks_of(&update)
        .into_iter()
        .find_map(|c| match Chunk::parse(&c).unwrap().0 {
            Chunk::Sack(s) => Some(s.a_rwnd),
            _ => None,
        });
    assert!(sack.unwrap() >= 32 * 1024);
    // And the transfer completes.
    assert!(p.run_until(Duration::from_secs(30), |p| p
        .b
        .assoc
        .stats()
        .bytes_received
        == 20 * 16 * 1024));
}

#[test]
fn an_application_limited_sender_does_not_grow_cwnd() {
    let mut p = pair(44, 0.0, 0.0);
    p.connect_both();
    let initial = p.a.assoc.stats().cwnd;
    // Two packets' worth, well inside cwnd: acknowledged, cwnd stays.
    p.a.assoc
        .send(p.now(), 0, 53, pattern(2_000, 44), SendOptions::default())
        .unwrap();
    assert!(p.run_until(Duration::from_secs(5), |p| p.b_messages().len() == 1));
    assert!(
        p.run_until(Duration::from_secs(5), |p| !p.a.assoc.has_queued_data()
            && p.a.assoc.stats().cwnd == initial)
    );
}
