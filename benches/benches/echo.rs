//! CPU per video packet through the echo path of many concurrent sessions on
//! one core: a datagram arrives, SRTP is unprotected, the RTP packet is
//! routed to its transceiver and handed to the application
//! ([`Event::Rtp`]), which writes it back on its own video track
//! ([`PeerConnection::write_rtp`]: new SSRC, sequence number and header
//! extensions), where it is protected and sent (`poll_transmit` into one
//! reused buffer). Received packets are handed back with `recycle`, as a
//! forwarder does.
//!
//! Two rows, one per SRTP protection profile, each stack pinned to the same
//! profile: AEAD_AES_128_GCM (what two Fulmar peers or two browsers pick
//! first), then AES_CM_128_HMAC_SHA1_80 (what Chromium picks as DTLS server,
//! so what a call with it uses today). In each row:
//!
//! - `fulmar-peer`: 100 connected pairs of in-memory `fulmar_peer`
//!   `PeerConnection`s, both ends configured with only that profile
//!   (`Config::srtp_profiles`; the bench checks what DTLS-SRTP negotiated),
//!   the answerer echoing; packets of 1,100-byte payload, made by the
//!   offerer outside the timing (with Fulmar's `mid`, abs-send-time and
//!   transport-wide CC header extensions), then fed round-robin over the 100
//!   sessions. Only the echoing side's work is timed.
//! - `rtc-srtp+rtc-rtp`: the same per-packet work with webrtc-rs's sans-IO
//!   building blocks (0.21) keyed with the same profile: `decrypt_rtp`, a
//!   HashMap route by SSRC, `Packet::unmarshal`, header rewrite, `marshal`,
//!   `encrypt_rtp`, per session contexts. This is a lower bound for
//!   webrtc-rs's echo path (its `RTCPeerConnection` adds interceptors on
//!   top), not the full peer.
//! - `fulmar-srtp-only` and `rtc-srtp-only` (thread-CPU figures only): the
//!   SRTP part alone, unprotect then protect of the same packets (same
//!   sizes and header extensions, 100 sessions' contexts round-robin; each
//!   stack takes the datagram into a buffer of its own first, as its echo
//!   path does), so each stack's work beside the cryptography is the
//!   difference, printed as `non-crypto`.
//!
//! Throughput is in packets per second (one core: criterion runs on one
//! thread). After the criterion groups, the same work is measured in thread
//! CPU time over `ECHO_PACKETS` packets (default 1,000,000), which holds on a
//! loaded machine where wall time does not.
//!
//! Run: `cd benches && cargo bench --bench echo` (a filter such as
//! `-- AES128_CM` or `-- GCM` keeps one row; `ECHO_CPU_ONLY=1` skips the criterion groups).

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fulmar_netsim::LinkConfig;
use fulmar_peer::{
    Config, Event, MediaKind, PeerConnection, PeerConnectionState, ReceiveMode, TransceiverId,
};
use fulmar_srtp::ProtectionProfile;
use rtc_srtp::protection_profile::ProtectionProfile as RtcProfile;

const SESSIONS: usize = 100;
const PAYLOAD: usize = 1100;
/// Packets per session made per timed batch.
const PER_SESSION: usize = 64;

/// One row of the report: the profile both stacks are pinned to.
#[derive(Clone, Copy)]
struct Row {
    fulmar: ProtectionProfile,
    rtc: RtcProfile,
}

const ROWS: [Row; 2] = [
    Row {
        fulmar: ProtectionProfile::AeadAes128Gcm,
        rtc: RtcProfile::AeadAes128Gcm,
    },
    Row {
        fulmar: ProtectionProfile::Aes128CmHmacSha1_80,
        rtc: RtcProfile::Aes128CmHmacSha1_80,
    },
];

impl Row {
    fn name(&self) -> &'static str {
        self.fulmar.name()
    }
}

/// The filter given after `--` (criterion's own), applied to the CPU figures too.
fn selected(name: &str) -> bool {
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    name.contains(&filter)
}

/// Packets measured for each thread-CPU figure.
fn cpu_packets() -> usize {
    std::env::var("ECHO_PACKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn criterion_wanted() -> bool {
    std::env::var_os("ECHO_CPU_ONLY").is_none()
}

struct Session {
    a: PeerConnection,
    b: PeerConnection,
    av: TransceiverId,
    bv: TransceiverId,
    seq: u16,
    /// The echo side's send buffer.
    tx: Vec<u8>,
}

/// The peer tests' harness: two `fulmar-peer` connections on
/// fulmar-netsim's `Pair`.
#[path = "../../crates/peer/tests/common/mod.rs"]
mod common;

/// Session `i`: A with a video track offers, B answers with its own (it
/// echoes RTP), both pinned to `profile`; connected on fulmar-netsim's pair
/// over an ideal link, every datagram of the last instant delivered.
fn session(
    i: usize,
    certs: &(Arc<fulmar_dtls::Certificate>, Arc<fulmar_dtls::Certificate>),
    profile: ProtectionProfile,
) -> Session {
    let cfg = |c: &Arc<fulmar_dtls::Certificate>| {
        let mut cfg = Config::default();
        cfg.certificate = Some(c.clone());
        cfg.srtp_profiles = vec![profile];
        cfg
    };
    let seeds = (i as u64 * 2, i as u64 * 2 + 1, 0);
    let mut p = common::unnegotiated((cfg(&certs.0), cfg(&certs.1)), seeds, LinkConfig::ideal());
    let av = p.a.add_track(MediaKind::Video, "s", "v");
    let mut bv = None;
    common::negotiate(
        &mut p,
        |b| {
            let t = b.add_track(MediaKind::Video, "echo", "v");
            b.set_receive_mode(t, ReceiveMode::Rtp);
            bv = Some(t);
        },
        |sdp| sdp,
    );
    let connected = p.run_until(Duration::from_secs(10), |p| {
        p.a.connection_state() == PeerConnectionState::Connected
            && p.b.connection_state() == PeerConnectionState::Connected
    });
    assert!(connected, "pair did not connect");
    p.run_for(Duration::ZERO);
    let (a, b) = p.into_parties();
    for pc in [&a.pc, &b.pc] {
        assert_eq!(pc.stats().srtp_profile, Some(profile), "negotiated profile");
    }
    Session {
        a: a.pc,
        b: b.pc,
        av,
        bv: bv.expect("B answered"),
        seq: 0,
        tx: Vec::new(),
    }
}

/// An RTP packet (VP8 payload type 96 as negotiated) with a 1,100-byte payload.
fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&0x1111_2222u32.to_be_bytes());
    p.push(0x10); // VP8 payload descriptor: start of partition
    p.extend((1..PAYLOAD).map(|i| i as u8));
    p
}

type Datagram = (usize, SocketAddr, SocketAddr, Vec<u8>);

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (ns),
/// so that the figure holds on a busy machine where wall time does not.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// CPU time per packet over `n` packets of `run` (batches made by `make`,
/// untimed); prints it and returns it in ns.
fn cpu_per_packet<T>(
    name: &str,
    n: usize,
    mut make: impl FnMut() -> Vec<T>,
    mut run: impl FnMut(&mut T),
) -> f64 {
    let (mut cpu, mut done) = (Duration::ZERO, 0usize);
    while done < n {
        let mut batch = make();
        let t0 = thread_cpu();
        for d in &mut batch {
            run(d);
        }
        cpu += thread_cpu() - t0;
        done += batch.len();
    }
    let per = cpu.as_secs_f64() / done as f64;
    println!(
        "echo_path/{name}: {:.0} ns CPU per packet = {:.0} packets/s per core ({done} packets)",
        per * 1e9,
        1.0 / per
    );
    per * 1e9
}

/// Makes `PER_SESSION` SRTP datagrams per session from its offerer, interleaved.
fn make_batch(sessions: &mut [Session], now: Instant) -> Vec<Datagram> {
    let mut per: Vec<VecDeque<Datagram>> = Vec::new();
    for (i, s) in sessions.iter_mut().enumerate() {
        let mut v = VecDeque::with_capacity(PER_SESSION);
        for _ in 0..PER_SESSION {
            s.seq = s.seq.wrapping_add(1);
            s.a.write_rtp(now, s.av, &rtp(s.seq)).unwrap();
            while let Some(t) = s.a.poll_transmit(now, &mut s.tx) {
                v.push_back((i, t.source, t.destination, s.tx.clone()));
            }
        }
        per.push(v);
    }
    let mut out = Vec::with_capacity(SESSIONS * PER_SESSION);
    for _ in 0..PER_SESSION {
        for v in &mut per {
            if let Some(d) = v.pop_front() {
                out.push(d);
            }
        }
    }
    out
}

/// The echo side's work for one datagram; returns datagrams sent.
#[inline(never)]
fn echo(s: &mut Session, now: Instant, src: SocketAddr, dst: SocketAddr, data: &mut [u8]) -> usize {
    s.b.handle_receive(now, src, dst, data);
    while let Some(e) = s.b.poll_event() {
        if let Event::Rtp(r) = e {
            let _ = s.b.write_rtp(now, s.bv, &r.packet);
            s.b.recycle(r.packet);
        }
    }
    let mut n = 0;
    while s.b.poll_transmit(now, &mut s.tx).is_some() {
        black_box(&s.tx);
        n += 1;
    }
    n
}

/// The echo path of 100 Fulmar sessions in `row`'s profile; returns the
/// thread-CPU ns per packet of the echo, and of its SRTP part alone.
fn fulmar(c: &mut Criterion, row: Row) -> (f64, f64) {
    let certs = (
        Arc::new(fulmar_dtls::Certificate::generate().unwrap()),
        Arc::new(fulmar_dtls::Certificate::generate().unwrap()),
    );
    let mut sessions: Vec<Session> = (0..SESSIONS)
        .map(|i| session(i, &certs, row.fulmar))
        .collect();
    let now = Instant::now();
    // Warm up: pools filled, streams known, and the echo actually works.
    let mut warm = make_batch(&mut sessions, now);
    let mut echoed = 0;
    for (i, src, dst, d) in &mut warm {
        echoed += echo(&mut sessions[*i], now, *src, *dst, d);
    }
    assert_eq!(echoed, warm.len(), "every packet echoed");
    let st = sessions[0].b.media_stats(sessions[0].bv).unwrap();
    assert_eq!(st.packets_lost, 0, "warm-up: {st:?}");
    let name = format!("{}/fulmar-peer/{SESSIONS}-sessions", row.name());
    if criterion_wanted() {
        let mut g = c.benchmark_group("echo_path");
        g.throughput(Throughput::Elements(1));
        // Packets left over from one sample are used by the next (criterion
        // calls the routine once per sample): no session ever sees a gap.
        let mut queue: VecDeque<Datagram> = VecDeque::new();
        g.bench_function(&name, |bch| {
            bch.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    if queue.is_empty() {
                        queue.extend(make_batch(&mut sessions, now));
                    }
                    let take = queue.len().min((iters - done) as usize);
                    let mut batch: Vec<Datagram> = queue.drain(..take).collect();
                    let start = Instant::now();
                    for (i, src, dst, d) in &mut batch {
                        black_box(echo(&mut sessions[*i], now, *src, *dst, d));
                    }
                    total += start.elapsed();
                    done += take as u64;
                }
                total
            })
        });
        g.finish();
        for (i, src, dst, mut d) in queue.drain(..) {
            echo(&mut sessions[i], now, src, dst, &mut d);
        }
    }
    // The same work measured in thread CPU time (what the goal counts).
    let cell = std::cell::RefCell::new(&mut sessions);
    let total = cpu_per_packet(
        &name,
        cpu_packets(),
        || make_batch(&mut cell.borrow_mut(), now),
        |(i, src, dst, d)| {
            black_box(echo(&mut cell.borrow_mut()[*i], now, *src, *dst, d));
        },
    );
    for s in &sessions {
        let st = s.b.media_stats(s.bv).unwrap();
        assert_eq!(st.packets_sent, st.packets_received);
        assert_eq!(st.nack_sent, 0, "no gaps: {st:?}");
    }
    // The SRTP part alone on packets of the same shape: each session's
    // sender protects (untimed); the echo side copies the datagram into its
    // buffer, unprotects, rewrites SSRC and sequence number, and protects
    // again (timed).
    let mut sample = make_batch(&mut sessions[..1], now);
    let shape = sample.pop().expect("a datagram").3;
    let plain_len = shape.len() - row.fulmar.rtp_overhead();
    let material: Vec<u8> = (0..row.fulmar.keying_material_len() as u8).collect();
    let keys = fulmar_srtp::KeyingMaterial::split(row.fulmar, &material).unwrap();
    let context = |key: fulmar_srtp::MasterKey<'_>| {
        key.context(row.fulmar, fulmar_srtp::Config::default())
            .unwrap()
    };
    // The DTLS client sends; the echo side (the server) receives with the
    // client's write key and sends with its own.
    let mut senders: Vec<(fulmar_srtp::Context, u16)> = (0..SESSIONS)
        .map(|_| (context(keys.client_write), 0))
        .collect();
    let mut echoers: Vec<(fulmar_srtp::Context, fulmar_srtp::Context, u16)> = (0..SESSIONS)
        .map(|_| (context(keys.client_write), context(keys.server_write), 0))
        .collect();
    let cell = std::cell::RefCell::new((&mut senders, &mut echoers, Vec::with_capacity(1500)));
    let crypto = cpu_per_packet(
        &format!("{}/fulmar-srtp-only/{SESSIONS}-sessions", row.name()),
        cpu_packets(),
        || {
            let mut c = cell.borrow_mut();
            let mut out = Vec::with_capacity(SESSIONS * PER_SESSION);
            for _ in 0..PER_SESSION {
                for (i, (ctx, seq)) in c.0.iter_mut().enumerate() {
                    *seq = seq.wrapping_add(1);
                    // Fulmar's packet, header extensions included, as plain RTP.
                    let mut p = shape.clone();
                    p[0] = 0x90;
                    p[1] = 96;
                    p[2..4].copy_from_slice(&seq.to_be_bytes());
                    p[8..12].copy_from_slice(&(0x1000_0000 + i as u32).to_be_bytes());
                    ctx.protect_rtp_in_place(&mut p, plain_len).unwrap();
                    out.push((i, p));
                }
            }
            out
        },
        |(i, d)| {
            let mut c = cell.borrow_mut();
            // As the peer does: the datagram copied into a buffer of its own
            // (rtc-srtp's decrypt makes a new one too), then worked in place.
            let mut buf = std::mem::take(&mut c.2);
            buf.clear();
            buf.extend_from_slice(d);
            let (rx, tx, seq) = &mut c.1[*i];
            let n = rx.unprotect_rtp_in_place(&mut buf).unwrap();
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            buf[8..12].copy_from_slice(&(0x2000_0000 + *i as u32).to_be_bytes());
            *seq = seq.wrapping_add(1);
            black_box(tx.protect_rtp_in_place(&mut buf, n).unwrap());
            c.2 = buf;
        },
    );
    (total, crypto)
}

struct RtcSession {
    rx: rtc_srtp::context::Context,
    tx: rtc_srtp::context::Context,
    ssrc: u32,
    seq: u16,
}

fn rtc_ctx(key: u8, profile: RtcProfile) -> rtc_srtp::context::Context {
    let provider = rtc_srtp::crypto::default_provider().expect("ring provider");
    rtc_srtp::context::Context::new(
        &vec![key; profile.key_len()],
        &vec![key ^ 0x55; profile.salt_len()],
        profile,
        Some(rtc_srtp::option::srtp_replay_protection(64)),
        Some(rtc_srtp::option::srtcp_replay_protection(64)),
        provider.crypto(),
    )
    .unwrap()
}

type RtcSender = (rtc_srtp::context::Context, u32, u16);

/// `PER_SESSION` SRTP packets per sender, interleaved.
fn rtc_batch(senders: &mut [RtcSender]) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(SESSIONS * PER_SESSION);
    for _ in 0..PER_SESSION {
        for (ctx, ssrc, seq) in senders.iter_mut() {
            *seq = seq.wrapping_add(1);
            let mut p = rtp(*seq);
            p[8..12].copy_from_slice(&ssrc.to_be_bytes());
            out.push(ctx.encrypt_rtp(&p).unwrap().to_vec());
        }
    }
    out
}

/// webrtc-rs's echo of one packet.
fn rtc_echo(route: &HashMap<u32, usize>, sessions: &mut [RtcSession], d: &[u8]) {
    use rtc_shared::marshal::{Marshal, Unmarshal};
    let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
    let Some(&i) = route.get(&ssrc) else { return };
    let s = &mut sessions[i];
    let plain = s.rx.decrypt_rtp(d).unwrap();
    let mut buf = &plain[..];
    let mut pkt = rtc_rtp::packet::Packet::unmarshal(&mut buf).unwrap();
    pkt.header.ssrc = s.ssrc;
    pkt.header.sequence_number = s.seq;
    s.seq = s.seq.wrapping_add(1);
    let out = pkt.marshal().unwrap();
    black_box(s.tx.encrypt_rtp(&out).unwrap());
}

/// The same work with webrtc-rs's pieces; returns the thread-CPU ns per
/// packet of the echo, and of its SRTP part alone.
fn rtc(c: &mut Criterion, row: Row) -> (f64, f64) {
    let mut senders: Vec<RtcSender> = Vec::new();
    let mut sessions: Vec<RtcSession> = Vec::new();
    let mut route: HashMap<u32, usize> = HashMap::new();
    for i in 0..SESSIONS {
        let in_ssrc = 0x1000_0000 + i as u32;
        senders.push((rtc_ctx(i as u8, row.rtc), in_ssrc, 0));
        sessions.push(RtcSession {
            rx: rtc_ctx(i as u8, row.rtc),
            tx: rtc_ctx(i as u8 ^ 0xff, row.rtc),
            ssrc: 0x2000_0000 + i as u32,
            seq: 0,
        });
        route.insert(in_ssrc, i);
    }
    let name = format!("{}/rtc-srtp+rtc-rtp/{SESSIONS}-sessions", row.name());
    if criterion_wanted() {
        let mut g = c.benchmark_group("echo_path");
        g.throughput(Throughput::Elements(1));
        let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
        g.bench_function(&name, |bch| {
            bch.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    if queue.is_empty() {
                        queue.extend(rtc_batch(&mut senders));
                    }
                    let take = queue.len().min((iters - done) as usize);
                    let batch: Vec<_> = queue.drain(..take).collect();
                    let start = Instant::now();
                    for d in &batch {
                        rtc_echo(&route, &mut sessions, d);
                    }
                    total += start.elapsed();
                    done += take as u64;
                }
                total
            })
        });
        g.finish();
        for d in queue.drain(..) {
            rtc_echo(&route, &mut sessions, &d);
        }
    }
    let cell = std::cell::RefCell::new((&mut senders, &mut sessions));
    let total = cpu_per_packet(
        &name,
        cpu_packets(),
        || rtc_batch(&mut cell.borrow_mut().0[..]),
        |d| rtc_echo(&route, &mut cell.borrow_mut().1[..], d),
    );
    let crypto = cpu_per_packet(
        &format!("{}/rtc-srtp-only/{SESSIONS}-sessions", row.name()),
        cpu_packets(),
        || rtc_batch(&mut cell.borrow_mut().0[..]),
        |d| {
            let mut c = cell.borrow_mut();
            let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
            let Some(&i) = route.get(&ssrc) else { return };
            let s = &mut c.1[i];
            let mut plain = s.rx.decrypt_rtp(d).unwrap();
            plain[2..4].copy_from_slice(&s.seq.to_be_bytes());
            plain[8..12].copy_from_slice(&s.ssrc.to_be_bytes());
            s.seq = s.seq.wrapping_add(1);
            black_box(s.tx.encrypt_rtp(&plain).unwrap());
        },
    );
    (total, crypto)
}

fn echo_rows(c: &mut Criterion) {
    for row in ROWS {
        if !selected(row.name()) {
            continue;
        }
        let (f, f_srtp) = fulmar(c, row);
        let (r, r_srtp) = rtc(c, row);
        println!(
            "echo_path/{}: fulmar-peer {f:.0} ns ({:.0} pkt/s), non-crypto {:.0} ns; \
             rtc-srtp+rtc-rtp {r:.0} ns ({:.0} pkt/s), non-crypto {:.0} ns; ratio {:.2}x",
            row.name(),
            1e9 / f,
            f - f_srtp,
            1e9 / r,
            r - r_srtp,
            r / f,
        );
    }
}

criterion_group!(benches, echo_rows);
criterion_main!(benches);
