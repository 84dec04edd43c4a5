//! SCTP throughput: two associations in one process over a clean in-memory
//! link (no DTLS, no sockets), moving 16 MiB per iteration as 1 KiB or
//! 64 KiB messages on one reliable ordered stream; fulmar-sctp (with the
//! RFC 9653 zero checksum both sides offer, and with CRC32c) beside
//! webrtc-rs `rtc-sctp` 0.21 doing the same work. Fulmar's associations run
//! on fulmar-netsim's two-party `Pair`, whose ideal link hands each packet
//! straight across in the buffer it was written into.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::SeedableRng;

const TOTAL: usize = 16 << 20;
const QUEUE_LIMIT: usize = 1 << 20;

/// The association tests' harness: fulmar-sctp on fulmar-netsim's `Pair`.
#[path = "../../crates/sctp/tests/common/mod.rs"]
mod common;

mod fulmar {
    use super::*;
    use common::Node;
    use fulmar_sctp::{Association, Config, Event, SendOptions};

    /// Two associations on fulmar-netsim's pair over an ideal link: each
    /// reads the other's packets as one batch, each in the one buffer it
    /// was written into, before it is polled; time jumps to the next
    /// deadline (delayed SACK, ...) when both are idle.
    pub struct Pair(fulmar_netsim::Pair<Node, Node>);

    impl Pair {
        pub fn new(zero_checksum: bool) -> Self {
            let now = Instant::now();
            let mut rng = rand::rngs::StdRng::seed_from_u64(1);
            let cfg = Config {
                zero_checksum,
                ..Config::default()
            };
            let a = Node {
                assoc: Association::new(cfg.clone(), &mut rng, now),
            };
            let b = Node {
                assoc: Association::new(cfg, &mut rng, now),
            };
            let mut p = fulmar_netsim::Pair::new(now, a, b, 0);
            p.a.assoc.connect(now).unwrap();
            p.b.assoc.connect(now).unwrap();
            let up = p.run_until(Duration::from_secs(10), |p| {
                p.a.assoc.is_established() && p.b.assoc.is_established()
            });
            assert!(up, "fulmar: associations established");
            Pair(p)
        }

        pub fn transfer(&mut self, msg: &Bytes, total: usize) {
            let (mut sent, mut received) = (0, 0);
            // Checked before every step: A's application refills the
            // stream, B's reads what arrived.
            let done = self.0.run_until(Duration::from_secs(24 * 3600), |p| {
                while sent < total && p.a.assoc.buffered_amount(1) < QUEUE_LIMIT {
                    let now = p.now();
                    p.a.assoc
                        .send(now, 1, 53, msg.clone(), SendOptions::default())
                        .unwrap();
                    sent += msg.len();
                }
                for e in p.events_b.drain(..) {
                    if let Event::Message(m) = e {
                        received += m.data.len();
                    }
                }
                p.events_a.clear();
                received >= total
            });
            assert!(done, "fulmar: the transfer stalled");
        }
    }
}

mod rtc {
    use super::*;
    use rtc_sctp::{
        Association, AssociationHandle, ClientConfig, DatagramEvent, Endpoint, EndpointConfig,
        Event, Payload, PayloadProtocolIdentifier, ServerConfig, TransportConfig,
    };
    use rtc_shared::TransportProtocol;

    pub struct Pair {
        client_ep: Endpoint,
        server_ep: Endpoint,
        client: (AssociationHandle, Association),
        server: Option<(AssociationHandle, Association)>,
        client_addr: SocketAddr,
        server_addr: SocketAddr,
        now: Instant,
        read_buf: Vec<u8>,
    }

    impl Pair {
        pub fn new() -> Self {
            let now = Instant::now();
            let client_addr: SocketAddr = "127.0.0.1:5001".parse().unwrap();
            let server_addr: SocketAddr = "127.0.0.1:5002".parse().unwrap();
            let ep_cfg = Arc::new(EndpointConfig::default());
            let mut client_ep =
                Endpoint::new(client_addr, TransportProtocol::UDP, ep_cfg.clone(), None);
            let server_ep = Endpoint::new(
                server_addr,
                TransportProtocol::UDP,
                ep_cfg,
                Some(Arc::new(ServerConfig::new(TransportConfig::default()))),
            );
            let client = client_ep
                .connect(
                    now,
                    ClientConfig::new(TransportConfig::default()),
                    server_addr,
                )
                .unwrap();
            let mut p = Pair {
                client_ep,
                server_ep,
                client,
                server: None,
                client_addr,
                server_addr,
                now,
                read_buf: vec![0u8; 300 * 1024],
            };
            for _ in 0..10 {
                p.pump(&mut 0);
            }
            assert!(p.server.is_some());
            p.client
                .1
                .open_stream(1, PayloadProtocolIdentifier::Binary)
                .unwrap();
            p
        }

        fn pump(&mut self, received: &mut usize) -> bool {
            let mut moved = false;
            // client -> server
            while let Some(t) = self.client.1.poll_transmit(self.now) {
                if let Payload::RawEncode(pkts) = t.message {
                    for pkt in pkts {
                        moved = true;
                        match self.server_ep.handle(self.now, self.client_addr, None, pkt) {
                            Some((ch, DatagramEvent::NewAssociation(a))) => {
                                self.server = Some((ch, a))
                            }
                            Some((_, DatagramEvent::AssociationEvent(ev))) => {
                                if let Some((_, s)) = self.server.as_mut() {
                                    s.handle_event(ev);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            while let Some(ev) = self.client.1.poll_endpoint_event() {
                self.client_ep.handle_event(self.client.0, ev);
            }
            if let Some((sch, s)) = self.server.as_mut() {
                while let Some(ev) = s.poll_endpoint_event() {
                    self.server_ep.handle_event(*sch, ev);
                }
                let mut readable = Vec::new();
                while let Some(ev) = s.poll() {
                    if let Event::Stream(
                        rtc_sctp::StreamEvent::Opened { id }
                        | rtc_sctp::StreamEvent::Readable { id },
                    ) = ev
                    {
                        readable.push(id);
                    }
                }
                while s.accept_stream().is_some() {}
                for id in readable {
                    if let Ok(mut st) = s.stream(id) {
                        while let Ok(Some(chunks)) = st.read_sctp() {
                            *received += chunks.read(&mut self.read_buf).unwrap_or(0);
                        }
                    }
                }
                // server -> client
                while let Some(t) = s.poll_transmit(self.now) {
                    if let Payload::RawEncode(pkts) = t.message {
                        for pkt in pkts {
                            moved = true;
                            if let Some((_, DatagramEvent::AssociationEvent(ev))) =
                                self.client_ep.handle(self.now, self.server_addr, None, pkt)
                            {
                                self.client.1.handle_event(ev);
                            }
                        }
                    }
                }
            }
            while self.client.1.poll().is_some() {}
            moved
        }

        pub fn transfer(&mut self, msg: &Bytes, total: usize) {
            let mut sent = 0;
            let mut received = 0;
            while received < total {
                while sent < total {
                    let mut st = self.client.1.stream(1).unwrap();
                    if st.buffered_amount().unwrap_or(0) >= QUEUE_LIMIT {
                        break;
                    }
                    st.write_sctp(self.now, msg, PayloadProtocolIdentifier::Binary)
                        .unwrap();
                    sent += msg.len();
                }
                if !self.pump(&mut received) {
                    let next = [
                        self.client.1.poll_timeout(),
                        self.server.as_ref().and_then(|s| s.1.poll_timeout()),
                    ]
                    .into_iter()
                    .flatten()
                    .min();
                    self.now = next
                        .unwrap_or(self.now + Duration::from_millis(1))
                        .max(self.now);
                    self.client.1.handle_timeout(self.now);
                    if let Some((_, s)) = self.server.as_mut() {
                        s.handle_timeout(self.now);
                    }
                }
            }
        }
    }
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("sctp_throughput");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(TOTAL as u64));
    for size in [1024usize, 64 * 1024] {
        let msg = Bytes::from(vec![0xA5u8; size]);
        let label = format!("{}KiB", size / 1024);
        g.bench_with_input(
            BenchmarkId::new("fulmar_zero_checksum", &label),
            &msg,
            |b, msg| {
                let mut p = fulmar::Pair::new(true);
                b.iter(|| p.transfer(msg, TOTAL));
            },
        );
        g.bench_with_input(BenchmarkId::new("fulmar_crc32c", &label), &msg, |b, msg| {
            let mut p = fulmar::Pair::new(false);
            b.iter(|| p.transfer(msg, TOTAL));
        });
        g.bench_with_input(BenchmarkId::new("rtc_sctp", &label), &msg, |b, msg| {
            let mut p = rtc::Pair::new();
            b.iter(|| p.transfer(msg, TOTAL));
        });
    }
    g.finish();
}

/// The CRC32c of a 1200-byte packet: the `crc32c` crate fulmar-sctp uses
/// (SSE4.2/ARMv8 instructions when present) beside the `crc` crate's table
/// implementation of the same CRC-32/ISCSI.
fn crc(c: &mut Criterion) {
    let mut g = c.benchmark_group("crc32c_1200B");
    let data = vec![0x5Au8; 1200];
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("crc32c_crate", |b| {
        b.iter(|| crc32c::crc32c(std::hint::black_box(&data)))
    });
    let table = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    g.bench_function("crc_crate", |b| {
        b.iter(|| table.checksum(std::hint::black_box(&data)))
    });
    g.finish();
}

criterion_group!(benches, throughput, crc);
criterion_main!(benches);
