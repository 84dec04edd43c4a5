//! Data-channel throughput, whole peers: two peer connections in one process
//! (ICE, DTLS 1.2 with AES-128-GCM, SCTP, DCEP), wired back to back in
//! memory with no sockets and no loss, moving 64 MiB per iteration as
//! 16 KiB or 64 KiB binary messages on one reliable ordered channel.
//!
//! Fulmar (two `fulmar-peer` PeerConnections) beside str0m 0.25 (two `Rtc`)
//! and webrtc-rs `rtc` 0.21 (two `RTCPeerConnection`), doing the same work in
//! the same run: every stack computes and verifies CRC32c on every SCTP
//! packet (`fulmar`). Two Fulmar peers by default negotiate RFC 9653 zero
//! checksum instead (DTLS already authenticates every packet), which the
//! others cannot; that is reported as its own row,
//! `fulmar-zero-checksum-rfc9653`, not as the same work. Fulmar and webrtc-rs senders keep at most `QUEUE_LIMIT`
//! bytes queued in the channel; str0m keeps its own default limit (128 KiB
//! of buffered amount), which is also where it is fastest: its cost per
//! packet grows with the amount queued (256 KiB: 1.7x the CPU time, 512 KiB:
//! 3x).
//!
//! Each side is handed the other's datagrams as one batch before it is
//! polled, as a driver reading with `recvmmsg` is. Acknowledgements then
//! differ by stack: webrtc-rs sends one SACK per poll; Fulmar one per two
//! packets while the sender may be in slow start (about the first 2 MiB)
//! and after any loss, then one per batch (see fulmar-sctp's
//! `Association::due_sack_cannot_wait`); str0m is polled after every datagram.
//!
//! Time is simulated for all three: it stands still while packets move and
//! jumps to the earliest deadline when both sides are idle (Fulmar's peers
//! run on fulmar-netsim's two-party `Pair`, whose ideal link hands each
//! datagram straight across in the buffer it was written into; the others
//! on [`Clock`]), so only the CPU work of the stacks is measured, never a
//! timer wait. What is measured
//! is the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`; everything runs on
//! the bench thread), so one core's throughput is reported even when other
//! work shares the machine; `DC_WALL_CLOCK=1` measures wall-clock time
//! instead.
//!
//! `cd benches && cargo bench --bench datachannel`

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};

const TOTAL: usize = 64 << 20;
const QUEUE_LIMIT: usize = 1 << 20;
const A: &str = "127.0.0.1:4000";
const B: &str = "127.0.0.1:5000";

/// Simulated time of the str0m and webrtc-rs pairs: it stands still while
/// packets move and jumps to the earliest deadline either side asked for
/// when both are idle (1 ms when that deadline is already due), so the
/// figures do not depend on how the scheduler treats the process and no
/// stack is measured sleeping.
struct Clock {
    now: Instant,
}

impl Clock {
    fn new() -> Self {
        Clock {
            now: Instant::now(),
        }
    }
    fn now(&self) -> Instant {
        self.now
    }
    /// Jumps to `deadline`, or 1 ms on when it is due or absent.
    fn jump(&mut self, deadline: Option<Instant>) -> Instant {
        self.now = match deadline {
            Some(d) if d > self.now => d,
            _ => self.now + Duration::from_millis(1),
        };
        self.now
    }
}

/// The peer tests' harness: two `fulmar-peer` connections on
/// fulmar-netsim's `Pair`.
#[path = "../../crates/peer/tests/common/mod.rs"]
mod common;

mod fulmar {
    use super::*;
    use fulmar_datachannel::ChannelConfig;
    use fulmar_netsim::LinkConfig;
    use fulmar_peer::{ChannelId, Config, Event};

    /// Two peers on fulmar-netsim's pair over an ideal link: each side
    /// reads the other's datagrams as one batch, each in the one buffer it
    /// was written into, before it is polled; time jumps to the next
    /// deadline when both are idle.
    pub struct Pair {
        p: fulmar_netsim::Pair<common::Peer, common::Peer>,
        ch: ChannelId,
    }

    impl Pair {
        /// `zero_checksum`: negotiate RFC 9653 (no CRC32c) as Fulmar does
        /// by default; `false` computes and checks CRC32c on every packet,
        /// the same work as the other stacks.
        pub fn new(zero_checksum: bool) -> Self {
            let mut config = Config::default();
            config.sctp.zero_checksum = zero_checksum;
            let configs = (config.clone(), config);
            let mut p = common::unnegotiated(configs, (1, 2, 0), LinkConfig::ideal());
            let ch = p.a.create_data_channel(ChannelConfig::new("bulk")).unwrap();
            common::negotiate(&mut p, |_| {}, |sdp| sdp);
            let open = p.run_until(Duration::from_secs(60), |p| {
                p.events_a.contains(&Event::DataChannelOpen(ch))
            });
            assert!(open, "fulmar: channel opened");
            Pair { p, ch }
        }

        pub fn transfer(&mut self, msg: &Bytes, total: usize) {
            let (mut sent, mut received) = (0, 0);
            let ch = self.ch;
            // Checked before every step: A's application refills the
            // channel, B's reads what arrived.
            let done = self.p.run_until(Duration::from_secs(24 * 3600), |p| {
                let now = p.now();
                while sent < total && p.a.buffered_amount(ch) < QUEUE_LIMIT {
                    p.a.send(now, ch, msg.clone(), true).unwrap();
                    sent += msg.len();
                }
                for e in p.events_b.drain(..) {
                    if let Event::DataChannelMessage { data, .. } = e {
                        received += data.len();
                    }
                }
                p.events_a.clear();
                received >= total
            });
            assert!(done, "fulmar: the transfer stalled");
            assert_eq!(received, total);
        }
    }
}

mod str0m_pair {
    use super::*;
    use std::collections::VecDeque;
    use str0m_025::channel::ChannelId;
    use str0m_025::net::{Protocol, Receive};
    use str0m_025::{Candidate, Event, Input, Output, Rtc};

    type Datagram = (SocketAddr, SocketAddr, Vec<u8>);

    /// One str0m peer and the datagrams it has sent but the other side has
    /// not yet been handed. str0m wants its output polled after every
    /// input (its DTLS receive queue is bounded), so datagrams are queued
    /// and delivered one at a time.
    struct Side {
        rtc: Rtc,
        out: VecDeque<Datagram>,
        timeout: Instant,
        received: usize,
        open: Option<ChannelId>,
    }

    impl Side {
        /// Polls until str0m asks for a timeout.
        fn poll(&mut self) {
            loop {
                match self.rtc.poll_output().unwrap() {
                    Output::Timeout(t) => {
                        self.timeout = t;
                        return;
                    }
                    Output::Transmit(t) => {
                        self.out
                            .push_back((t.source, t.destination, t.contents.into()))
                    }
                    Output::Event(Event::ChannelData(d)) => self.received += d.data.len(),
                    Output::Event(Event::ChannelOpen(id, _)) => self.open = Some(id),
                    Output::Event(_) => {}
                }
            }
        }

        fn receive(&mut self, now: Instant, (source, destination, contents): Datagram) {
            let r = Receive {
                proto: Protocol::Udp,
                source,
                destination,
                contents: (&contents[..]).try_into().unwrap(),
            };
            self.rtc.handle_input(Input::Receive(now, r)).unwrap();
            self.poll();
        }
    }

    pub struct Pair {
        a: Side,
        b: Side,
        ch: ChannelId,
        clock: Clock,
    }

    impl Pair {
        pub fn new() -> Self {
            let clock = Clock::new();
            let now = clock.now();
            let build = || {
                // aws-lc-rs: str0m's default crypto provider.
                Rtc::builder()
                    .set_crypto_provider(std::sync::Arc::new(str0m_aws_lc_rs::default_provider()))
                    .build(now)
            };
            let (mut a, mut b) = (build(), build());
            a.add_local_candidate(Candidate::host(A.parse().unwrap(), "udp").unwrap());
            b.add_local_candidate(Candidate::host(B.parse().unwrap(), "udp").unwrap());
            let mut change = a.sdp_api();
            let ch = change.add_channel("bulk".into());
            let (offer, pending) = change.apply().unwrap();
            let answer = b.sdp_api().accept_offer(offer).unwrap();
            a.sdp_api().accept_answer(pending, answer).unwrap();
            let side = |rtc| Side {
                rtc,
                out: VecDeque::new(),
                timeout: now,
                received: 0,
                open: None,
            };
            let mut p = Pair {
                a: side(a),
                b: side(b),
                ch,
                clock,
            };
            for _ in 0..10_000 {
                let moved = p.pump();
                if p.a.open == Some(ch) {
                    break;
                }
                p.tick(moved);
            }
            assert_eq!(p.a.open, Some(ch), "str0m: channel opened");
            p
        }

        /// Delivers queued datagrams both ways until none are left.
        fn pump(&mut self) -> bool {
            let now = self.clock.now();
            self.a.poll();
            self.b.poll();
            let mut moved = false;
            while !self.a.out.is_empty() || !self.b.out.is_empty() {
                moved = true;
                while let Some(d) = self.a.out.pop_front() {
                    self.b.receive(now, d);
                }
                while let Some(d) = self.b.out.pop_front() {
                    self.a.receive(now, d);
                }
            }
            moved
        }

        /// Hands both sides a timeout: now, or the earliest deadline when idle.
        fn tick(&mut self, moved: bool) {
            let now = if moved {
                self.clock.now()
            } else {
                self.clock.jump(Some(self.a.timeout.min(self.b.timeout)))
            };
            self.a.rtc.handle_input(Input::Timeout(now)).unwrap();
            self.b.rtc.handle_input(Input::Timeout(now)).unwrap();
        }

        pub fn transfer(&mut self, msg: &Bytes, total: usize) {
            let mut sent = 0;
            self.b.received = 0;
            while self.b.received < total {
                if let Some(mut c) = self.a.rtc.channel(self.ch) {
                    while sent < total && c.write(true, msg).unwrap() {
                        sent += msg.len();
                    }
                }
                let moved = self.pump();
                self.tick(moved);
            }
            assert_eq!(self.b.received, total);
        }
    }
}

mod rtc_pair {
    use super::*;
    use bytes::BytesMut;
    use rtc::data_channel::RTCDataChannelId;
    use rtc::peer_connection::configuration::RTCConfigurationBuilder;
    use rtc::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
    use rtc::peer_connection::message::RTCMessage;
    use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCIceCandidate};
    use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
    use rtc::sansio::Protocol;
    use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};

    pub struct Pair {
        a: RTCPeerConnection,
        b: RTCPeerConnection,
        a_addr: SocketAddr,
        b_addr: SocketAddr,
        ch: RTCDataChannelId,
        clock: Clock,
    }

    fn peer(now: Instant, addr: SocketAddr) -> RTCPeerConnection {
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .build(now)
            .unwrap();
        let c = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: addr.ip().to_string(),
                port: addr.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .unwrap();
        pc.add_local_candidate(RTCIceCandidate::from(&c).to_json().unwrap())
            .unwrap();
        pc
    }

    /// Moves `from`'s datagrams into `to`.
    fn forward(
        from: &mut RTCPeerConnection,
        to: &mut RTCPeerConnection,
        to_addr: SocketAddr,
        now: Instant,
    ) -> bool {
        let mut moved = false;
        while let Some(m) = from.poll_write() {
            moved = true;
            let _ = to.handle_read(TaggedBytesMut {
                now,
                transport: TransportContext {
                    local_addr: to_addr,
                    peer_addr: m.transport.local_addr,
                    ecn: None,
                    transport_protocol: TransportProtocol::UDP,
                },
                message: m.message,
            });
        }
        moved
    }

    impl Pair {
        pub fn new() -> Self {
            let clock = Clock::new();
            let now = clock.now();
            let (a_addr, b_addr): (SocketAddr, SocketAddr) =
                (A.parse().unwrap(), B.parse().unwrap());
            let mut a = peer(now, a_addr);
            let mut b = peer(now, b_addr);
            let ch = a.create_data_channel("bulk", None).unwrap().id();
            let offer = a.create_offer(None).unwrap();
            a.set_local_description(now, offer.clone()).unwrap();
            b.set_remote_description(now, offer).unwrap();
            let answer = b.create_answer(None).unwrap();
            b.set_local_description(now, answer.clone()).unwrap();
            a.set_remote_description(now, answer).unwrap();
            let mut p = Pair {
                a,
                b,
                a_addr,
                b_addr,
                ch,
                clock,
            };
            let mut open = false;
            for _ in 0..10_000 {
                let moved = p.pump(&mut 0);
                while let Some(e) = p.a.poll_event() {
                    if let RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnOpen(id)) =
                        e
                    {
                        open |= id == ch;
                    }
                }
                if open {
                    break;
                }
                p.tick(moved);
            }
            assert!(open, "rtc: channel opened");
            p
        }

        fn pump(&mut self, received: &mut usize) -> bool {
            let now = self.clock.now();
            let m1 = forward(&mut self.a, &mut self.b, self.b_addr, now);
            while let Some(m) = self.b.poll_read() {
                if let RTCMessage::DataChannelMessage(_, d) = m.message {
                    *received += d.data.len();
                }
            }
            while self.b.poll_event().is_some() {}
            let m2 = forward(&mut self.b, &mut self.a, self.a_addr, now);
            while self.a.poll_read().is_some() {}
            m1 || m2
        }

        fn tick(&mut self, moved: bool) {
            let now = if moved {
                self.clock.now()
            } else {
                let d = [self.a.poll_timeout(), self.b.poll_timeout()]
                    .into_iter()
                    .flatten()
                    .min();
                self.clock.jump(d)
            };
            let _ = self.a.handle_timeout(now);
            let _ = self.b.handle_timeout(now);
        }

        pub fn transfer(&mut self, msg: &Bytes, total: usize) {
            let (mut sent, mut received) = (0, 0);
            while received < total {
                let now = self.clock.now();
                if let Some(mut dc) = self.a.data_channel(self.ch) {
                    while sent < total && dc.outstanding_bytes() < QUEUE_LIMIT {
                        dc.send(now, BytesMut::from(&msg[..])).unwrap();
                        sent += msg.len();
                    }
                }
                let moved = self.pump(&mut received);
                while self.a.poll_event().is_some() {}
                self.tick(moved);
            }
            assert_eq!(received, total);
        }
    }
}

/// On-CPU time of this thread (all three stacks run on the calling thread),
/// so that the figures hold on a machine shared with other work; wall-clock
/// time where the thread clock is not available.
fn measure(iters: u64, mut f: impl FnMut()) -> Duration {
    use nix::time::{clock_gettime, ClockId};
    let cpu = || {
        clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
            .ok()
            .map(Duration::from)
    };
    let (wall, start) = (Instant::now(), cpu());
    for _ in 0..iters {
        f();
    }
    match (start, cpu()) {
        (Some(a), Some(b)) if std::env::var_os("DC_WALL_CLOCK").is_none() => b - a,
        _ => wall.elapsed(),
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("datachannel");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(TOTAL as u64));
    for size in [16 << 10, 64 << 10] {
        let msg = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let kib = size >> 10;
        // Like for like first: CRC32c on every packet, as the others do.
        let mut f = fulmar::Pair::new(false);
        g.bench_with_input(
            BenchmarkId::new("fulmar", format!("{kib}KiB")),
            &msg,
            |b, m| b.iter_custom(|n| measure(n, || f.transfer(m, TOTAL))),
        );
        drop(f);
        // What two Fulmar peers do by default: RFC 9653, no CRC32c.
        let mut z = fulmar::Pair::new(true);
        g.bench_with_input(
            BenchmarkId::new("fulmar-zero-checksum-rfc9653", format!("{kib}KiB")),
            &msg,
            |b, m| b.iter_custom(|n| measure(n, || z.transfer(m, TOTAL))),
        );
        drop(z);
        let mut s = str0m_pair::Pair::new();
        g.bench_with_input(
            BenchmarkId::new("str0m", format!("{kib}KiB")),
            &msg,
            |b, m| b.iter_custom(|n| measure(n, || s.transfer(m, TOTAL))),
        );
        let mut r = rtc_pair::Pair::new();
        g.bench_with_input(
            BenchmarkId::new("webrtc-rs", format!("{kib}KiB")),
            &msg,
            |b, m| b.iter_custom(|n| measure(n, || r.transfer(m, TOTAL))),
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
