//! Two associations over a small lossy, reordering link in simulated time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use fulmar_sctp::chunk::chunk_type;
use fulmar_sctp::param::cause_code;
use fulmar_sctp::param::{GapAckBlock, StreamSsn};
use fulmar_sctp::*;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};

struct Link {
    loss: f64,
    reorder: f64,
    delay: Duration,
    up: bool,
    queue: Vec<(Instant, Bytes)>,
}

impl Link {
    fn new(loss: f64, reorder: f64) -> Self {
        Link {
            loss,
            reorder,
            delay: Duration::from_millis(10),
            up: true,
            queue: Vec::new(),
        }
    }
}

struct Pair {
    a: Association,
    b: Association,
    now: Instant,
    ab: Link,
    ba: Link,
    rng: StdRng,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
    buf: Vec<u8>,
}

/// Writes the next packet `assoc` sends into `buf`, alone (`poll_transmit`
/// appends); false when there is none.
fn next_packet(assoc: &mut Association, now: Instant, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    let len = assoc.poll_transmit(now, buf);
    assert_eq!(
        len,
        len.map(|_| buf.len()),
        "the length of what was written"
    );
    len.is_some()
}

/// The next packet `assoc` sends, in a buffer of its own.
fn poll(assoc: &mut Association, now: Instant) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    next_packet(assoc, now, &mut buf).then_some(buf)
}

impl Pair {
    fn new(seed: u64, ca: Config, cb: Config, loss: f64, reorder: f64) -> Self {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(seed);
        let a = Association::new(ca, &mut rng, now);
        let b = Association::new(cb, &mut rng, now);
        Pair {
            a,
            b,
            now,
            ab: Link::new(loss, reorder),
            ba: Link::new(loss, reorder),
            rng,
            a_events: Vec::new(),
            b_events: Vec::new(),
            buf: Vec::new(),
        }
    }

    fn default(seed: u64, loss: f64, reorder: f64) -> Self {
        Self::new(seed, Config::default(), Config::default(), loss, reorder)
    }

    /// One round: collect transmissions, deliver due packets, drain events;
    /// when idle, jump to the next deadline. Returns false if nothing is left.
    fn step(&mut self) -> bool {
        let mut progressed = false;
        for dir in 0..2 {
            let (from, link) = if dir == 0 {
                (&mut self.a, &mut self.ab)
            } else {
                (&mut self.b, &mut self.ba)
            };
            while next_packet(from, self.now, &mut self.buf) {
                progressed = true;
                if !link.up || self.rng.gen_bool(link.loss) {
                    continue;
                }
                let mut at = self.now + link.delay;
                if self.rng.gen_bool(link.reorder) {
                    at += Duration::from_millis(self.rng.gen_range(1..20));
                }
                link.queue.push((at, Bytes::copy_from_slice(&self.buf)));
            }
        }
        for dir in 0..2 {
            let (to, link) = if dir == 0 {
                (&mut self.b, &mut self.ab)
            } else {
                (&mut self.a, &mut self.ba)
            };
            let now = self.now;
            let mut due: Vec<(Instant, Bytes)> = Vec::new();
            link.queue.retain(|(at, p)| {
                if *at <= now {
                    due.push((*at, p.clone()));
                    false
                } else {
                    true
                }
            });
            due.sort_by_key(|(at, _)| *at);
            for (_, p) in due {
                progressed = true;
                to.handle_receive(self.now, &p);
            }
        }
        while let Some(e) = self.a.poll_event() {
            progressed = true;
            self.a_events.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            progressed = true;
            self.b_events.push(e);
        }
        if progressed {
            return true;
        }
        let next = [
            self.a.poll_timeout(),
            self.b.poll_timeout(),
            self.ab.queue.iter().map(|(t, _)| *t).min(),
            self.ba.queue.iter().map(|(t, _)| *t).min(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        true
    }

    fn drive_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Pair) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            self.drain_events();
            if done(self) {
                return true;
            }
            if !self.step() {
                self.drain_events();
                return done(self);
            }
        }
        self.drain_events();
        done(self)
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.a.poll_event() {
            self.a_events.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.b_events.push(e);
        }
    }

    fn connect_both(&mut self) {
        self.a.connect(self.now).unwrap();
        self.b.connect(self.now).unwrap();
        assert!(
            self.drive_until(Duration::from_secs(30), |p| p.a.is_established()
                && p.b.is_established())
        );
        assert!(self.a_events.contains(&Event::Connected));
        assert!(self.b_events.contains(&Event::Connected));
    }

    fn b_messages(&mut self) -> Vec<Message> {
        let mut out = Vec::new();
        self.b_events.retain(|e| match e {
            Event::Message(m) => {
                out.push(m.clone());
                false
            }
            _ => true,
        });
        out
    }
}

fn count_messages(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Message(_)))
        .count()
}

#[test]
fn setup_one_active_side() {
    let mut p = Pair::default(1, 0.0, 0.0);
    p.a.connect(p.now).unwrap();
    assert!(
        p.drive_until(Duration::from_secs(5), |p| p.a.is_established()
            && p.b.is_established())
    );
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.a.outbound_streams(), 65535);
}

#[test]
fn init_collision_both_orders() {
    for seed in 0..8 {
        let mut p = Pair::default(seed, 0.0, 0.0);
        if seed % 2 == 0 {
            p.a.connect(p.now).unwrap();
            p.b.connect(p.now).unwrap();
        } else {
            p.b.connect(p.now).unwrap();
            p.a.connect(p.now).unwrap();
        }
        assert!(
            p.drive_until(Duration::from_secs(5), |p| p.a.is_established()
                && p.b.is_established())
        );
        p.a.send(
            p.now,
            1,
            51,
            Bytes::from_static(b"hi"),
            SendOptions::default(),
        )
        .unwrap();
        p.b.send(
            p.now,
            2,
            51,
            Bytes::from_static(b"yo"),
            SendOptions::default(),
        )
        .unwrap();
        assert!(
            p.drive_until(Duration::from_secs(5), |p| count_messages(&p.b_events) == 1
                && count_messages(&p.a_events) == 1)
        );
    }
}

#[test]
fn setup_survives_loss() {
    let mut p = Pair::default(3, 0.3, 0.2);
    p.connect_both();
}

fn pattern(len: usize, seed: u64) -> Bytes {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    Bytes::from(v)
}

#[test]
fn large_messages_ordered_and_unordered() {
    let mut p = Pair::default(4, 0.0, 0.0);
    p.connect_both();
    let sizes = [1usize, 1171, 1172, 1173, 5000, 65536, 256 * 1024];
    for (i, &n) in sizes.iter().enumerate() {
        let o = SendOptions {
            unordered: i % 2 == 1,
            ..Default::default()
        };
        p.a.send(p.now, 7, 53, pattern(n, i as u64), o).unwrap();
    }
    assert!(
        p.drive_until(Duration::from_secs(30), |p| count_messages(&p.b_events)
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
    let e = p.a.send(
        p.now,
        7,
        53,
        pattern(256 * 1024 + 1, 0),
        SendOptions::default(),
    );
    assert!(matches!(e, Err(Error::MessageTooLarge { .. })));
    assert_eq!(
        p.a.send(p.now, 7, 53, Bytes::new(), SendOptions::default()),
        Err(Error::EmptyMessage)
    );
}

/// An application that leaves a full window of messages unread closes the
/// window to the peer's DATA, but the association still takes the peer's
/// SACKs for its own data; reading reopens the window at once (a window
/// update SACK, not the peer's backed-off probe).
#[test]
fn unread_bytes_close_the_window_but_not_the_sack_path() {
    let mut p = Pair::default(21, 0.0, 0.0);
    p.connect_both();
    let window = Config::default().receive_window;
    p.b.set_unread_bytes(window);
    for i in 0..32 {
        p.a.send(p.now, 1, 53, pattern(16 * 1024, i), SendOptions::default())
            .unwrap();
        p.b.send(p.now, 2, 53, pattern(64 * 1024, i), SendOptions::default())
            .unwrap();
    }
    // B's 2 MiB reach A: B processes A's SACKs while its own window is shut.
    assert!(
        p.drive_until(Duration::from_secs(10), |p| count_messages(&p.a_events)
            == 32)
    );
    // A's data is held back for a long while: A's probes back off, and the
    // SACKs answering them keep the association from timing out
    // (RFC 9260 §6.1: probes answered by SACKs are not errors).
    p.drive_until(Duration::from_secs(600), |_| false);
    assert!(p.b_messages().is_empty(), "data passed a closed window");
    assert!(p.a.is_established() && p.b.is_established());
    let reopened = p.now;
    p.b.set_unread_bytes(0);
    assert!(
        p.drive_until(Duration::from_secs(2), |p| count_messages(&p.b_events)
            == 32)
    );
    assert!(
        p.now - reopened < Duration::from_secs(1),
        "window reopened late"
    );
}

fn transfer_with_loss(seed: u64, loss: f64, reorder: f64, total: usize) {
    transfer(Pair::default(seed, loss, reorder), seed, loss, total);
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
        p.a.send(p.now, stream, 53, data, SendOptions::default())
            .unwrap();
        queued += n;
        // Keep the queue short so that back-pressure is exercised.
        while (0..4).map(|s| p.a.buffered_amount(s)).sum::<usize>() > 512 * 1024 {
            assert!(p.step());
            take(&mut p, &mut recv_sum, &mut recv_len, &mut recv_msgs);
        }
    }
    assert!(
        p.drive_until(Duration::from_secs(36_000), |p| {
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
    let st = p.a.stats();
    if loss > 0.0 {
        assert!(st.retransmissions > 0);
    }
    assert_eq!(p.b.stats().bytes_received, queued as u64);
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
fn pr_sctp_max_retransmits_zero_drops_but_never_stalls() {
    let mut p = Pair::default(8, 0.0, 0.0);
    p.connect_both();
    p.ab.loss = 0.2;
    let o = SendOptions {
        unordered: true,
        max_retransmits: Some(0),
        lifetime: None,
    };
    for i in 0..300u32 {
        p.a.send(p.now, 3, 53, pattern(100, u64::from(i)), o)
            .unwrap();
    }
    // Then reliable ordered data on another stream must still get through.
    p.a.send(p.now, 4, 53, pattern(3000, 999), SendOptions::default())
        .unwrap();
    assert!(
        p.drive_until(Duration::from_secs(120), |p| p.a.buffered_amount(3) == 0
            && p.b_events
                .iter()
                .any(|e| matches!(e, Event::Message(m) if m.stream == 4)))
    );
    // Let the lossy link settle every loss into an abandonment first.
    p.drive_until(Duration::from_secs(10), |_| false);
    p.ab.loss = 0.0;
    p.drive_until(Duration::from_secs(10), |_| false);
    let got = p.b_messages();
    let partial = got.iter().filter(|m| m.stream == 3).count();
    assert!(partial < 300 && partial > 150, "delivered {partial}");
    assert!(p.a.stats().abandoned_messages > 0);
    // Nothing is stuck: a reliable message on the same stream follows.
    p.a.send(
        p.now,
        3,
        53,
        Bytes::from_static(b"tail"),
        SendOptions::default(),
    )
    .unwrap();
    assert!(
        p.drive_until(Duration::from_secs(10), |p| count_messages(&p.b_events)
            == 1)
    );
    assert_eq!(&p.b_messages()[0].data[..], b"tail");
}

#[test]
fn pr_sctp_ordered_lifetime_skips_ssns() {
    let mut p = Pair::default(9, 0.0, 0.0);
    p.connect_both();
    p.ab.up = false;
    let o = SendOptions {
        unordered: false,
        max_retransmits: None,
        lifetime: Some(Duration::from_millis(500)),
    };
    for i in 0..5u32 {
        p.a.send(p.now, 1, 53, pattern(2000, u64::from(i)), o)
            .unwrap();
    }
    p.drive_until(Duration::from_secs(3), |_| false);
    p.ab.up = true;
    p.a.send(
        p.now,
        1,
        53,
        Bytes::from_static(b"after"),
        SendOptions::default(),
    )
    .unwrap();
    assert!(
        p.drive_until(Duration::from_secs(30), |p| count_messages(&p.b_events)
            >= 1)
    );
    let got = p.b_messages();
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].data[..], b"after");
    assert!(p.a.stats().abandoned_messages >= 5);
}

#[test]
fn stream_reset_round_trip() {
    let mut p = Pair::default(10, 0.0, 0.0);
    p.connect_both();
    p.a.send(
        p.now,
        9,
        51,
        Bytes::from_static(b"one"),
        SendOptions::default(),
    )
    .unwrap();
    p.a.send(
        p.now,
        9,
        51,
        Bytes::from_static(b"two"),
        SendOptions::default(),
    )
    .unwrap();
    p.a.reset_streams(&[9]).unwrap();
    assert_eq!(
        p.a.send(
            p.now,
            9,
            51,
            Bytes::from_static(b"x"),
            SendOptions::default()
        ),
        Err(Error::StreamResetting(9))
    );
    assert!(p.drive_until(Duration::from_secs(10), |p| p
        .a_events
        .contains(&Event::OutgoingStreamsReset(vec![9]))));
    assert!(p.b_events.contains(&Event::IncomingStreamsReset(vec![9])));
    let got = p.b_messages();
    assert_eq!(got.len(), 2);
    // The stream is usable again, starting at SSN 0 on both sides.
    p.a.send(
        p.now,
        9,
        51,
        Bytes::from_static(b"again"),
        SendOptions::default(),
    )
    .unwrap();
    assert!(p.drive_until(Duration::from_secs(5), |p| count_messages(&p.b_events) == 1));
    assert_eq!(&p.b_messages()[0].data[..], b"again");
}

#[test]
fn stream_reset_under_loss() {
    let mut p = Pair::default(11, 0.2, 0.1);
    p.connect_both();
    for i in 0..20 {
        p.a.send(p.now, 2, 51, pattern(1500, i), SendOptions::default())
            .unwrap();
    }
    p.a.reset_streams(&[2]).unwrap();
    assert!(p.drive_until(Duration::from_secs(120), |p| p
        .a_events
        .contains(&Event::OutgoingStreamsReset(vec![2]))));
    assert!(
        p.drive_until(Duration::from_secs(10), |p| count_messages(&p.b_events)
            == 20)
    );
    assert!(p.b_events.contains(&Event::IncomingStreamsReset(vec![2])));
}

#[test]
fn graceful_shutdown_after_data() {
    let mut p = Pair::default(12, 0.05, 0.0);
    p.connect_both();
    for i in 0..10 {
        p.a.send(p.now, 0, 53, pattern(10_000, i), SendOptions::default())
            .unwrap();
    }
    p.a.shutdown(p.now).unwrap();
    assert!(
        p.drive_until(Duration::from_secs(120), |p| p.a.state() == State::Closed
            && p.b.state() == State::Closed)
    );
    assert!(p.a_events.contains(&Event::Closed(CloseReason::Shutdown)));
    assert!(p.b_events.contains(&Event::Closed(CloseReason::Shutdown)));
    assert_eq!(count_messages(&p.b_events), 10);
}

#[test]
fn abort_reaches_peer_with_cause() {
    let mut p = Pair::default(13, 0.0, 0.0);
    p.connect_both();
    p.a.abort();
    assert!(p.drive_until(Duration::from_secs(5), |p| p.b.state() == State::Closed));
    let peer_abort = CloseReason::PeerAbort(Some(AbortCause {
        code: cause_code::USER_INITIATED_ABORT,
        info: Vec::new(),
    }));
    assert!(p.b_events.contains(&Event::Closed(peer_abort.clone())));
    assert_eq!(p.b.close_reason(), Some(&peer_abort));
    assert!(peer_abort.is_peer_failure());
    assert!(p.a_events.contains(&Event::Closed(CloseReason::UserAbort)));
    assert_eq!(p.a.close_reason(), Some(&CloseReason::UserAbort));
    assert!(!CloseReason::UserAbort.is_peer_failure());
}

#[test]
fn peer_disappears_mid_transfer_times_out() {
    let mut p = Pair::default(14, 0.0, 0.0);
    p.connect_both();
    for i in 0..50 {
        p.a.send(p.now, 0, 53, pattern(10_000, i), SendOptions::default())
            .unwrap();
    }
    p.drive_until(Duration::from_millis(30), |_| false);
    p.ab.up = false;
    p.ba.up = false;
    assert!(p.drive_until(Duration::from_secs(3600), |p| p.a.state() == State::Closed));
    let reason = CloseReason::Timeout(RetransmissionLimit::Association);
    assert!(p.a_events.contains(&Event::Closed(reason.clone())));
    assert_eq!(p.a.close_reason(), Some(&reason));
}

#[test]
fn idle_peer_that_stops_answering_heartbeats_times_out() {
    let config = Config {
        heartbeat_interval: Some(Duration::from_secs(1)),
        ..Config::default()
    };
    let mut p = Pair::new(44, config.clone(), config, 0.0, 0.0);
    p.connect_both();
    p.ab.up = false;
    p.ba.up = false;
    assert!(p.drive_until(Duration::from_secs(3600), |p| p.a.state() == State::Closed));
    assert_eq!(
        p.a.close_reason(),
        Some(&CloseReason::Timeout(RetransmissionLimit::Association))
    );
    assert_eq!(p.a.stats().t3_expirations, 0, "heartbeats alone");
}

#[test]
fn shutdown_never_answered_times_out() {
    let mut p = Pair::default(43, 0.0, 0.0);
    p.connect_both();
    p.ab.up = false;
    p.ba.up = false;
    p.a.shutdown(p.now).unwrap();
    assert_eq!(p.a.state(), State::ShutdownSent);
    assert!(p.drive_until(Duration::from_secs(3600), |p| p.a.state() == State::Closed));
    let reason = CloseReason::Timeout(RetransmissionLimit::Shutdown);
    assert!(p.a_events.contains(&Event::Closed(reason.clone())));
    assert!(reason.is_peer_failure());
}

#[test]
fn init_never_answered_times_out() {
    let mut p = Pair::default(15, 0.0, 0.0);
    p.ab.up = false;
    p.a.connect(p.now).unwrap();
    assert!(p.drive_until(Duration::from_secs(3600), |p| p.a.state() == State::Closed));
    let reason = CloseReason::Timeout(RetransmissionLimit::Init);
    assert!(p.a_events.contains(&Event::Closed(reason.clone())));
    assert_eq!(p.a.close_reason(), Some(&reason));
}

#[test]
fn zero_checksum_negotiation() {
    // Both offer: established traffic carries checksum 0.
    let mut p = Pair::default(16, 0.0, 0.0);
    p.connect_both();
    p.a.send(
        p.now,
        0,
        53,
        Bytes::from_static(b"z"),
        SendOptions::default(),
    )
    .unwrap();
    let pkt = poll(&mut p.a, p.now).unwrap();
    assert_eq!(Packet::parse(&pkt).unwrap().checksum(), 0);
    p.b.handle_receive(p.now, &pkt);
    assert_eq!(
        p.b.poll_event(),
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
    let mut p = Pair::new(17, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    p.a.send(
        p.now,
        0,
        53,
        Bytes::from_static(b"z"),
        SendOptions::default(),
    )
    .unwrap();
    let pkt = poll(&mut p.a, p.now).unwrap();
    let v = Packet::parse(&pkt).unwrap();
    assert_ne!(v.checksum(), 0);
    v.verify_checksum(false).unwrap();
    // And B rejects a zero checksum since it did not offer it.
    let mut z = pkt.clone();
    z[8..12].fill(0);
    let before = p.b.stats().packets_dropped;
    p.b.handle_receive(p.now, &z);
    assert_eq!(p.b.stats().packets_dropped, before + 1);
}

#[test]
fn heartbeat_measures_rtt_when_idle() {
    let mut p = Pair::default(18, 0.0, 0.0);
    p.connect_both();
    p.drive_until(Duration::from_secs(100), |_| false);
    let s = p.a.stats();
    let srtt = s.srtt.expect("heartbeat RTT");
    assert!(
        srtt >= Duration::from_millis(19) && srtt <= Duration::from_millis(25),
        "{srtt:?}"
    );
    assert_eq!(p.a.state(), State::Established);
}

#[test]
fn garbage_into_established_association_is_dropped() {
    let mut p = Pair::default(19, 0.0, 0.0);
    p.connect_both();
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..500 {
        let n = rng.gen_range(0..200);
        let mut v = vec![0u8; n];
        rng.fill_bytes(&mut v);
        p.b.handle_receive(p.now, &v);
    }
    // A packet with the right ports and tag but a chunk whose length runs
    // past the packet, and one with a TSN far outside the window.
    let tag = {
        p.a.send(
            p.now,
            0,
            53,
            Bytes::from_static(b"q"),
            SendOptions::default(),
        )
        .unwrap();
        let pkt = poll(&mut p.a, p.now).unwrap();
        let v = Packet::parse(&pkt).unwrap();
        p.b.handle_receive(p.now, &pkt);
        v.verification_tag()
    };
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    w.buffer().extend_from_slice(&[0, 3, 0x10, 0, 0, 0, 0, 1]);
    w.finish(false);
    p.b.handle_receive(p.now, &buf);
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    fulmar_sctp::chunk::emit_data(w.buffer(), 3, 0x4000_0000, 0, 0, 53, b"far");
    w.finish(false);
    p.b.handle_receive(p.now, &buf);
    assert!(p.b.stats().packets_dropped >= 400);
    assert!(p.drive_until(Duration::from_secs(2), |p| count_messages(&p.b_events) == 1));
    // Still healthy afterwards.
    p.a.send(
        p.now,
        0,
        53,
        Bytes::from_static(b"ok"),
        SendOptions::default(),
    )
    .unwrap();
    assert!(p.drive_until(Duration::from_secs(2), |p| count_messages(&p.b_events) == 2));
}

#[test]
fn flood_of_tiny_data_is_bounded_by_window() {
    let cb = Config {
        receive_window: 64 * 1024,
        ..Config::default()
    };
    let mut p = Pair::new(20, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    let tag = {
        p.a.send(
            p.now,
            0,
            53,
            Bytes::from_static(b"q"),
            SendOptions::default(),
        )
        .unwrap();
        let pkt = poll(&mut p.a, p.now).unwrap();
        Packet::parse(&pkt).unwrap().verification_tag()
    };
    // Out-of-window TSNs from a forged sender (gap after the first TSN so
    // nothing is ever delivered): memory must stay bounded by the window.
    for i in 0..200_000u32 {
        let mut buf = Vec::new();
        let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
        fulmar_sctp::chunk::emit_data(w.buffer(), 1, 0x1000 + i, 0, 0, 53, &[0u8; 64]);
        w.finish(false);
        p.b.handle_receive(p.now, &buf);
        while next_packet(&mut p.b, p.now, &mut p.buf) {}
    }
    // The advertised window bottoms out rather than memory growing.
    let st = p.b.stats();
    assert!(st.receive_buffered <= 64 * 1024, "{}", st.receive_buffered);
    assert!(st.packets_received > 1000);
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
    let out = poll(&mut b, now).unwrap();
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
    assert!(poll(&mut b, now).is_none());
}

#[test]
fn unknown_chunk_with_report_bits_gets_error() {
    let mut p = Pair::default(22, 0.0, 0.0);
    p.connect_both();
    p.a.send(
        p.now,
        0,
        53,
        Bytes::from_static(b"q"),
        SendOptions::default(),
    )
    .unwrap();
    let pkt = poll(&mut p.a, p.now).unwrap();
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
    p.b.handle_receive(p.now, &buf);
    let out = poll(&mut p.b, p.now).unwrap();
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

/// Runs a handshake by hand up to the COOKIE-ECHO that `a` sends.
fn cookie_echo_packet(seed: u64) -> (Association, Association, Instant, Vec<u8>) {
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut a = Association::new(Config::default(), &mut rng, now);
    let mut b = Association::new(Config::default(), &mut rng, now);
    a.connect(now).unwrap();
    let init = poll(&mut a, now).unwrap();
    b.handle_receive(now, &init);
    let init_ack = poll(&mut b, now).unwrap();
    a.handle_receive(now, &init_ack);
    let echo = poll(&mut a, now).unwrap();
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
    let out = poll(&mut b, now).unwrap();
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
    assert!(poll(&mut b, now).is_none());
    b.handle_receive(now, &echo);
    assert_eq!(b.state(), State::Established);
    assert_eq!(b.poll_event(), Some(Event::Connected));
}

/// The TSN of the next DATA chunk `assoc` sends: a one-byte message on
/// stream 0 is queued, and its packet built and dropped (it is
/// retransmitted later).
fn first_tsn_of(assoc: &mut Association) -> u32 {
    let now = Instant::now();
    assoc
        .send(now, 0, 53, Bytes::from_static(b"f"), SendOptions::default())
        .unwrap();
    let mut buf = Vec::new();
    while next_packet(assoc, now, &mut buf) {
        for c in Packet::parse(&buf).unwrap().chunks() {
            if let Ok(Chunk::Data(d)) = c {
                return d.tsn;
            }
        }
    }
    panic!("no DATA sent");
}

/// The first error cause of the ABORT `assoc` sends next.
fn abort_cause_sent(assoc: &mut Association, now: Instant) -> (u16, Vec<u8>) {
    let mut buf = Vec::new();
    while next_packet(assoc, now, &mut buf) {
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
    let mut p = Pair::default(45, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    // b has sent nothing: acknowledging its first TSN is a lie.
    let unsent = first_tsn_of(&mut p.b).wrapping_add(1);
    let sack = Chunk::Sack(Sack {
        cumulative_tsn_ack: unsent,
        a_rwnd: 65536,
        gap_blocks: List::empty(),
        duplicate_tsns: List::empty(),
    });
    p.b.handle_receive(p.now, &forge(tag, &[sack]));
    let reason = CloseReason::ProtocolViolation(ProtocolViolation::AckOfUnsentTsn);
    assert_eq!(p.b.state(), State::Closed);
    assert_eq!(p.b.close_reason(), Some(&reason));
    assert!(reason.is_peer_failure());
    let (code, _) = abort_cause_sent(&mut p.b, p.now);
    assert_eq!(code, cause_code::PROTOCOL_VIOLATION);
    p.drain_events();
    assert!(p.b_events.contains(&Event::Closed(reason)));
}

#[test]
fn data_without_user_data_aborts_with_no_user_data() {
    let mut p = Pair::default(47, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    // RFC 9260 §6.2: a DATA chunk of length 16 (TSN 0x01020304) must be
    // answered with ABORT and the No User Data cause naming its TSN.
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    w.buffer()
        .extend_from_slice(&[0, 3, 0, 16, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 53]);
    w.finish(false);
    p.b.handle_receive(p.now, &buf);
    assert_eq!(
        p.b.close_reason(),
        Some(&CloseReason::ProtocolViolation(
            ProtocolViolation::NoUserData
        ))
    );
    let abort = abort_cause_sent(&mut p.b, p.now);
    assert_eq!(abort, (cause_code::NO_USER_DATA, vec![1, 2, 3, 4]));
}

#[test]
fn shutdown_acknowledging_unsent_tsn_aborts_and_the_peer_learns_why() {
    let mut p = Pair::default(48, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    let unsent = first_tsn_of(&mut p.b).wrapping_add(7);
    let shutdown = Chunk::Shutdown {
        cumulative_tsn_ack: unsent,
    };
    p.b.handle_receive(p.now, &forge(tag, &[shutdown]));
    assert_eq!(
        p.b.close_reason(),
        Some(&CloseReason::ProtocolViolation(
            ProtocolViolation::AckOfUnsentTsn
        ))
    );
    assert!(p.drive_until(Duration::from_secs(5), |p| p.a.state() == State::Closed));
    let Some(CloseReason::PeerAbort(Some(cause))) = p.a.close_reason() else {
        panic!("{:?}", p.a.close_reason());
    };
    assert_eq!(cause.code, cause_code::PROTOCOL_VIOLATION);
    assert_eq!(
        &cause.info[..],
        b"cumulative TSN ack beyond the highest TSN sent"
    );
}

/// The verification tag that `b` expects, learned from a packet `a` sends.
fn tag_for_b(p: &mut Pair) -> u32 {
    p.a.send(
        p.now,
        0,
        53,
        Bytes::from_static(b"t"),
        SendOptions::default(),
    )
    .unwrap();
    let pkt = poll(&mut p.a, p.now).unwrap();
    let tag = Packet::parse(&pkt).unwrap().verification_tag();
    p.b.handle_receive(p.now, &pkt);
    while next_packet(&mut p.b, p.now, &mut p.buf) {}
    tag
}

fn forge(tag: u32, chunks: &[Chunk<'_>]) -> Bytes {
    let mut buf = Vec::new();
    let mut w = PacketWriter::new(&mut buf, 5000, 5000, tag);
    for c in chunks {
        w.push(c);
    }
    w.finish(false);
    Bytes::from(buf)
}

fn chunks_of(pkt: &[u8]) -> Vec<Vec<u8>> {
    let p = Packet::parse(pkt).unwrap();
    let mut out = Vec::new();
    for c in p.chunks() {
        let mut v = Vec::new();
        c.unwrap().emit(&mut v);
        out.push(v);
    }
    out
}

#[test]
fn reconfig_with_bad_sequence_number_is_answered() {
    let mut p = Pair::default(40, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    let req = [ReconfigParam::OutgoingSsnResetRequest {
        request_seq: 12345,
        response_seq: 0,
        last_tsn: 0,
        streams: List::Items(&[1]),
    }];
    p.b.handle_receive(
        p.now,
        &forge(
            tag,
            &[Chunk::ReConfig {
                params: TlvList::Items(&req),
            }],
        ),
    );
    let out = poll(&mut p.b, p.now).unwrap();
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
        .b_events
        .iter()
        .any(|e| matches!(e, Event::IncomingStreamsReset(_))));
}

#[test]
fn data_on_unnegotiated_stream_gets_invalid_stream_error() {
    let cb = Config {
        num_streams: 8,
        ..Config::default()
    };
    let mut p = Pair::new(41, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    assert_eq!(p.a.outbound_streams(), 8);
    assert_eq!(
        p.a.send(
            p.now,
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
    p.b.handle_receive(p.now, &buf);
    let mut found = false;
    while let Some(out) = poll(&mut p.b, p.now) {
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
        p.a.send(
            p.now,
            1,
            53,
            Bytes::from_static(b"n"),
            SendOptions::default(),
        )
        .unwrap();
        let pkt = poll(&mut p.a, p.now).unwrap();
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
    p.b.handle_receive(p.now, &buf);
    while let Some(out) = poll(&mut p.b, p.now) {
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
fn bogus_sack_and_forward_tsn_do_not_derail() {
    let mut p = Pair::default(42, 0.0, 0.0);
    p.connect_both();
    let tag = tag_for_b(&mut p);
    // A SACK with a gap block past the end and made-up duplicates (its
    // cumulative ack is just below b's first TSN, the one TSN b has sent,
    // so the block covers only TSNs never sent).
    let sack = Chunk::Sack(Sack {
        cumulative_tsn_ack: first_tsn_of(&mut p.b).wrapping_sub(1),
        a_rwnd: 0,
        gap_blocks: List::Items(&[GapAckBlock {
            start: 2,
            end: 65535,
        }]),
        duplicate_tsns: List::Items(&[1, 2, 3]),
    });
    p.b.handle_receive(p.now, &forge(tag, &[sack]));
    // A FORWARD-TSN far beyond the window.
    let fwd = Chunk::ForwardTsn(ForwardTsn {
        new_cumulative_tsn: 0x8000_0000,
        streams: List::Items(&[StreamSsn {
            stream: 0,
            ssn: 900,
        }]),
    });
    p.b.handle_receive(p.now, &forge(tag, &[fwd]));
    // Traffic in both directions still flows, in order.
    for i in 0..20u8 {
        p.a.send(
            p.now,
            0,
            53,
            Bytes::from(vec![i; 3000]),
            SendOptions::default(),
        )
        .unwrap();
        p.b.send(
            p.now,
            0,
            53,
            Bytes::from(vec![i; 3000]),
            SendOptions::default(),
        )
        .unwrap();
    }
    // b's "f" (built and dropped above) arrives by retransmission first.
    assert!(
        p.drive_until(Duration::from_secs(30), |p| count_messages(&p.b_events)
            == 21
            && count_messages(&p.a_events) == 21)
    );
    let from_b: Vec<_> = p
        .a_events
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

#[test]
fn tiny_mtu_and_zero_streams_are_clamped() {
    let c = Config {
        mtu: 1,
        num_streams: 0,
        receive_window: 0,
        ..Config::default()
    };
    let mut p = Pair::new(43, c.clone(), c, 0.0, 0.0);
    p.connect_both();
    assert_eq!(p.a.outbound_streams(), 1);
    // 4 bytes of user data per packet, under a 1500-byte window.
    p.a.send(p.now, 0, 53, pattern(1000, 1), SendOptions::default())
        .unwrap();
    assert!(
        p.drive_until(Duration::from_secs(60), |p| count_messages(&p.b_events)
            == 1)
    );
    assert_eq!(p.b_messages()[0].data, pattern(1000, 1));
}

#[test]
fn incoming_reset_request_triggers_our_outgoing_reset() {
    let mut p = Pair::default(44, 0.0, 0.0);
    p.connect_both();
    // a's first DATA TSN is its initial TSN, which seeds the re-configuration
    // request sequence numbers (RFC 6525 §5.1.1).
    p.a.send(
        p.now,
        0,
        53,
        Bytes::from_static(b"t"),
        SendOptions::default(),
    )
    .unwrap();
    let pkt = poll(&mut p.a, p.now).unwrap();
    let tag = Packet::parse(&pkt).unwrap().verification_tag();
    let first_tsn = chunks_of(&pkt)
        .iter()
        .find_map(|c| match Chunk::parse(c).unwrap().0 {
            Chunk::Data(d) => Some(d.tsn),
            _ => None,
        })
        .unwrap();
    p.b.handle_receive(p.now, &pkt);
    p.b.send(
        p.now,
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
    p.b.handle_receive(
        p.now,
        &forge(
            tag,
            &[Chunk::ReConfig {
                params: TlvList::Items(&req),
            }],
        ),
    );
    assert!(p.drive_until(Duration::from_secs(10), |p| p
        .b_events
        .contains(&Event::OutgoingStreamsReset(vec![6]))));
    assert!(p.a_events.contains(&Event::IncomingStreamsReset(vec![6])));
    assert!(p
        .a_events
        .iter()
        .any(|e| matches!(e, Event::Message(m) if &m.data[..] == b"before")));
}

#[test]
fn streams_are_served_round_robin() {
    let mut p = Pair::default(45, 0.0, 0.0);
    p.connect_both();
    for i in 0..16 {
        p.a.send(p.now, 1, 53, pattern(64 * 1024, i), SendOptions::default())
            .unwrap();
    }
    p.a.send(
        p.now,
        2,
        51,
        Bytes::from_static(b"chat"),
        SendOptions::default(),
    )
    .unwrap();
    assert!(p.drive_until(Duration::from_secs(30), |p| p
        .b_events
        .iter()
        .any(|e| matches!(e, Event::Message(m) if m.stream == 2))));
    let bulk_before = p
        .b_events
        .iter()
        .filter(|e| matches!(e, Event::Message(m) if m.stream == 1))
        .count();
    assert!(
        bulk_before <= 2,
        "chat waited behind {bulk_before} bulk messages"
    );
    assert!(
        p.drive_until(Duration::from_secs(30), |p| count_messages(&p.b_events)
            == 17)
    );
    let got = p.b_messages();
    let bulk: Vec<_> = got.iter().filter(|m| m.stream == 1).collect();
    for (i, m) in bulk.iter().enumerate() {
        assert_eq!(m.data, pattern(64 * 1024, i as u64));
    }
}

#[test]
fn window_update_sack_after_the_application_drains() {
    let cb = Config {
        receive_window: 64 * 1024,
        ..Config::default()
    };
    let mut p = Pair::new(46, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    for i in 0..20 {
        p.a.send(p.now, 0, 53, pattern(16 * 1024, i), SendOptions::default())
            .unwrap();
    }
    // Move packets without the application on b reading anything.
    for _ in 0..200 {
        while let Some(x) = poll(&mut p.a, p.now) {
            p.b.handle_receive(p.now, &x);
        }
        while let Some(x) = poll(&mut p.b, p.now) {
            p.a.handle_receive(p.now, &x);
        }
    }
    assert!(p.b.stats().receive_buffered >= 48 * 1024);
    assert!(poll(&mut p.b, p.now).is_none());
    while p.b.poll_event().is_some() {}
    let update = poll(&mut p.b, p.now).expect("window update");
    let sack = chunks_of(&update)
        .into_iter()
        .find_map(|c| match Chunk::parse(&c).unwrap().0 {
            Chunk::Sack(s) => Some(s.a_rwnd),
            _ => None,
        });
    assert!(sack.unwrap() >= 32 * 1024);
    // And the transfer completes.
    assert!(
        p.drive_until(Duration::from_secs(30), |p| p.b.stats().bytes_received
            == 20 * 16 * 1024)
    );
}

/// An idle association runs its housekeeping timer (which returns its
/// reusable buffers, see the unit test in `timers.rs`) by itself about a
/// second after the last activity, and works on afterwards.
#[test]
fn idle_association_runs_housekeeping_and_works_on() {
    let mut p = Pair::default(5, 0.0, 0.0);
    p.connect_both();
    p.a.send(p.now, 1, 53, pattern(4000, 1), SendOptions::default())
        .unwrap();
    assert!(p.drive_until(Duration::from_secs(5), |p| count_messages(&p.b_events) == 1));
    let start = p.now;
    // The housekeeping timer is armed within a second of going idle...
    let due = p.a.poll_timeout().unwrap();
    assert!(due <= start + Duration::from_secs(1));
    p.drive_until(Duration::from_secs(2), |_| false);
    // It still works afterwards.
    p.a.send(p.now, 1, 53, pattern(4000, 2), SendOptions::default())
        .unwrap();
    assert!(p.drive_until(Duration::from_secs(5), |p| count_messages(&p.b_events) == 2));
}

#[test]
fn packets_appended_after_room_match_packets_written_alone() {
    let mut p = Pair::default(23, 0.0, 0.0);
    p.connect_both();
    let o = SendOptions::default();
    p.a.send(p.now, 1, 53, pattern(3000, 1), o).unwrap();
    let mut room = vec![0xee; 21];
    let len = p.a.poll_transmit(p.now, &mut room).unwrap();
    assert_eq!(&room[..21], &[0xee; 21], "the room is left alone");
    let appended = room.split_off(21);
    assert_eq!(appended.len(), len);
    // The same packet from a twin association, written alone.
    let mut twin = Pair::default(23, 0.0, 0.0);
    twin.connect_both();
    twin.a.send(twin.now, 1, 53, pattern(3000, 1), o).unwrap();
    let mut alone = Vec::new();
    assert!(next_packet(&mut twin.a, twin.now, &mut alone));
    assert_eq!(appended, alone);
    // Nothing left to send (the window is open, the message was split into
    // packets): drain, then a poll leaves the buffer as it was.
    while p.a.poll_transmit(p.now, &mut Vec::new()).is_some() {}
    let mut untouched = vec![1, 2, 3];
    assert_eq!(p.a.poll_transmit(p.now, &mut untouched), None);
    assert_eq!(untouched, [1, 2, 3]);
}

/// Sends `packets` full DATA packets from a to b, each handed to b alone;
/// returns them as b received them.
fn full_packets(p: &mut Pair, packets: usize, seed: u64) -> Vec<Vec<u8>> {
    let room = Config::default().mtu - 12 - 16;
    p.a.send(
        p.now,
        0,
        53,
        pattern(room * packets, seed),
        SendOptions::default(),
    )
    .unwrap();
    let mut out = Vec::new();
    while out.len() < packets && next_packet(&mut p.a, p.now, &mut p.buf) {
        out.push(p.buf.clone());
    }
    out
}

/// Hands `packets` to b without polling it in between, as an owner reading
/// a batch of datagrams does; returns whether b built a packet meanwhile
/// (a due SACK the peer counts on is built at once, acknowledging what had
/// arrived by then; another waits for the poll).
fn receive_batch<'a>(p: &mut Pair, packets: impl IntoIterator<Item = &'a Vec<u8>>) -> bool {
    let built = p.b.stats().packets_sent;
    for packet in packets {
        p.b.handle_receive(p.now, packet);
    }
    p.b.stats().packets_sent > built
}

/// Polls b and hands what it sends to a; returns how many SACKs went.
fn return_sacks(p: &mut Pair) -> usize {
    let mut sacks = 0;
    while next_packet(&mut p.b, p.now, &mut p.buf) {
        let chunks = Packet::parse(&p.buf).unwrap().chunks();
        sacks += chunks.filter(|c| matches!(c, Ok(Chunk::Sack(_)))).count();
        p.a.handle_receive(p.now, &p.buf);
    }
    sacks
}

#[test]
fn due_sacks_wait_only_past_slow_start_and_without_gaps() {
    // A 16-packet window: the peer's slow start lasts 2 x 16 packets.
    let mut cb = Config::default();
    cb.receive_window = 16 * cb.mtu;
    let mut p = Pair::new(41, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    let mut in_order = 0;
    let mut waited = None;
    while waited.is_none() && in_order < 64 {
        let packets = full_packets(&mut p, 2, in_order as u64);
        if !receive_batch(&mut p, &packets) {
            waited = Some(in_order + 2);
        }
        in_order += 2;
        // Polled: the SACK goes back and opens a's window.
        assert_eq!(return_sacks(&mut p), 1, "every second packet");
        p.drain_events();
    }
    assert_eq!(waited, Some(32), "in-order SACKs wait after 32 packets");
    // The first of the next packets is lost: the SACK reporting the gap
    // cannot wait, nor can those after it until the ramp is over again.
    let packets = full_packets(&mut p, 4, 99);
    assert!(receive_batch(&mut p, &packets[1..2]), "a gap");
    assert!(next_packet(&mut p.b, p.now, &mut p.buf));
    assert!(
        receive_batch(&mut p, [&packets[0], &packets[2]]),
        "gap filled"
    );
}

#[test]
fn a_pause_of_rto_min_restarts_the_slow_start_allowance() {
    let mut cb = Config::default();
    cb.receive_window = 4 * cb.mtu;
    let rto_min = cb.rto_min;
    let mut p = Pair::new(42, Config::default(), cb, 0.0, 0.0);
    p.connect_both();
    for round in 0..8 {
        let packets = full_packets(&mut p, 2, round);
        receive_batch(&mut p, &packets);
        return_sacks(&mut p);
        p.drain_events();
    }
    let packets = full_packets(&mut p, 2, 9);
    assert!(!receive_batch(&mut p, &packets), "past the ramp: waits");
    assert_eq!(return_sacks(&mut p), 1);
    // Data resumes after a pause: the peer may have shrunk cwnd (§7.2.1).
    p.now += rto_min;
    let packets = full_packets(&mut p, 2, 10);
    assert!(receive_batch(&mut p, &packets), "built at once again");
}

#[test]
fn sacks_read_in_a_batch_each_grow_cwnd_in_slow_start() {
    let mut p = Pair::default(43, 0.0, 0.0);
    p.connect_both();
    let mtu = Config::default().mtu;
    let initial = p.a.stats().cwnd;
    p.a.send(p.now, 0, 53, pattern(64 << 10, 43), SendOptions::default())
        .unwrap();
    // The flight cwnd allows, each packet acknowledged by b as it comes.
    let mut flight = Vec::new();
    while next_packet(&mut p.a, p.now, &mut p.buf) {
        flight.push(p.buf.clone());
    }
    let mut sacks = Vec::new();
    for packet in flight {
        p.b.handle_receive(p.now, &packet);
        while next_packet(&mut p.b, p.now, &mut p.buf) {
            // Packets of SACK chunks only (the first chunk type at byte 12).
            if p.buf.get(12) == Some(&chunk_type::SACK) {
                sacks.push(p.buf.clone());
            }
        }
    }
    assert!(sacks.len() >= 2, "{}", sacks.len());
    // Read together, each SACK still finds cwnd fully used (RFC 9260
    // §7.2.1: a was held back by it when it last sent), so each grows it
    // by one MTU, as if they had arrived spaced out.
    for sack in &sacks {
        p.a.handle_receive(p.now, sack);
    }
    assert_eq!(p.a.stats().cwnd, initial + sacks.len() * mtu);
}

#[test]
fn an_application_limited_sender_does_not_grow_cwnd() {
    let mut p = Pair::default(44, 0.0, 0.0);
    p.connect_both();
    let initial = p.a.stats().cwnd;
    // Two packets' worth, well inside cwnd: acknowledged, cwnd stays.
    p.a.send(p.now, 0, 53, pattern(2_000, 44), SendOptions::default())
        .unwrap();
    assert!(p.drive_until(Duration::from_secs(5), |p| p.b_messages().len() == 1));
    assert!(
        p.drive_until(Duration::from_secs(5), |p| !p.a.has_queued_data()
            && p.a.stats().cwnd == initial)
    );
}

#[test]
fn buffers_of_dropped_messages_carry_the_next_ones() {
    let mut p = Pair::default(45, 0.0, 0.0);
    p.connect_both();
    let receive = |p: &mut Pair, seed: u64| {
        let sent = pattern(10_000, seed);
        p.a.send(p.now, 0, 53, sent.clone(), SendOptions::default())
            .unwrap();
        let mut got = Vec::new();
        assert!(p.drive_until(Duration::from_secs(5), |p| {
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
    p.drive_until(Duration::from_secs(2), |_| false);
    receive(&mut p, 4);
}
