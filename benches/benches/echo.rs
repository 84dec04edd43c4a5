//! CPU per video packet through the echo path of many concurrent sessions on
//! one core: a datagram arrives, SRTP is unprotected, the RTP packet is
//! routed to its transceiver and handed to the application
//! ([`Event::Rtp`]), which writes it back on its own video track
//! ([`PeerConnection::write_rtp`]: new SSRC, sequence number and header
//! extensions), where it is protected and queued for sending
//! (`poll_transmit`). Buffers are handed back with `recycle`, as a driver
//! does.
//!
//! - `fulmar-peer`: 100 connected pairs of in-memory `fulmar_peer`
//!   `PeerConnection`s (the answerer echoes); packets of 1,100-byte payload
//!   (AES_CM_128_HMAC_SHA1_80, what DTLS-SRTP negotiates first), made by the
//!   offerer outside the timing, then fed round-robin over the 100 sessions.
//!   Only the echoing side's work is timed.
//! - `rtc-srtp+rtc-rtp`: the same per-packet work with webrtc-rs's sans-IO
//!   building blocks (0.21): `decrypt_rtp`, a HashMap route by SSRC,
//!   `Packet::unmarshal`, header rewrite, `marshal`, `encrypt_rtp`, per
//!   session contexts. This is a lower bound for webrtc-rs's echo path (its
//!   `RTCPeerConnection` adds interceptors on top), not the full peer.
//!
//! Throughput is in packets per second (one core: criterion runs on one thread).
//!
//! Run: `cd benches && cargo bench --bench echo`.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fulmar_peer::{
    Config, Event, MediaKind, PeerConnection, PeerConnectionState, ReceiveMode, SessionDescription,
    TransceiverId,
};
use rand::{rngs::StdRng, SeedableRng};

const SESSIONS: usize = 100;
const PAYLOAD: usize = 1100;
/// Packets per session made per timed batch.
const PER_SESSION: usize = 64;

struct Session {
    a: PeerConnection,
    b: PeerConnection,
    av: TransceiverId,
    bv: TransceiverId,
    seq: u16,
}

fn pump(a: &mut PeerConnection, b: &mut PeerConnection, mut now: Instant) -> Instant {
    for _ in 0..2000 {
        let mut moved = false;
        while let Some(t) = a.poll_transmit() {
            b.handle_receive(now, t.source, t.destination, &t.payload);
            moved = true;
        }
        while let Some(t) = b.poll_transmit() {
            a.handle_receive(now, t.source, t.destination, &t.payload);
            moved = true;
        }
        while a.poll_event().is_some() {}
        while b.poll_event().is_some() {}
        if a.connection_state() == PeerConnectionState::Connected
            && b.connection_state() == PeerConnectionState::Connected
            && !moved
        {
            return now;
        }
        if !moved {
            if let Some(t) = [a.poll_timeout(), b.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
            {
                now = now.max(t);
            }
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
    }
    panic!("pair did not connect");
}

fn session(
    i: usize,
    certs: &(Arc<fulmar_dtls::Certificate>, Arc<fulmar_dtls::Certificate>),
) -> Session {
    let now = Instant::now();
    let cfg = |c: &Arc<fulmar_dtls::Certificate>| {
        let mut cfg = Config::default();
        cfg.certificate = Some(c.clone());
        cfg
    };
    let mut a = PeerConnection::new(cfg(&certs.0), StdRng::seed_from_u64(i as u64 * 2)).unwrap();
    let mut b =
        PeerConnection::new(cfg(&certs.1), StdRng::seed_from_u64(i as u64 * 2 + 1)).unwrap();
    let port = 10_000 + i as u16;
    a.add_host_candidate(now, SocketAddr::from(([10, 0, 0, 1], port)))
        .unwrap();
    b.add_host_candidate(now, SocketAddr::from(([10, 0, 0, 2], port)))
        .unwrap();
    a.end_of_local_candidates(now);
    b.end_of_local_candidates(now);
    let av = a.add_track(MediaKind::Video, "s", "v");
    let offer = a.create_offer().unwrap();
    a.set_local_description(now, offer.clone()).unwrap();
    b.set_remote_description(
        now,
        SessionDescription::offer(&offer.sdp.to_string()).unwrap(),
    )
    .unwrap();
    let bv = b.add_track(MediaKind::Video, "echo", "v");
    b.set_receive_mode(bv, ReceiveMode::Rtp);
    let answer = b.create_answer().unwrap();
    b.set_local_description(now, answer.clone()).unwrap();
    a.set_remote_description(
        now,
        SessionDescription::answer(&answer.sdp.to_string()).unwrap(),
    )
    .unwrap();
    pump(&mut a, &mut b, now);
    Session {
        a,
        b,
        av,
        bv,
        seq: 0,
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

/// Prints CPU time per packet over `n` packets of `run` (batches made by `make`, untimed).
fn cpu_per_packet<T>(
    name: &str,
    n: usize,
    mut make: impl FnMut() -> Vec<T>,
    mut run: impl FnMut(&T),
) {
    let (mut cpu, mut done) = (Duration::ZERO, 0usize);
    while done < n {
        let batch = make();
        let t0 = thread_cpu();
        for d in &batch {
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
}

/// Makes `PER_SESSION` SRTP datagrams per session from its offerer, interleaved.
fn make_batch(sessions: &mut [Session], now: Instant) -> Vec<Datagram> {
    let mut per: Vec<std::collections::VecDeque<Datagram>> = Vec::new();
    for (i, s) in sessions.iter_mut().enumerate() {
        let mut v = std::collections::VecDeque::with_capacity(PER_SESSION);
        for _ in 0..PER_SESSION {
            s.seq = s.seq.wrapping_add(1);
            s.a.write_rtp(now, s.av, &rtp(s.seq)).unwrap();
            while let Some(t) = s.a.poll_transmit() {
                v.push_back((i, t.source, t.destination, t.payload));
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
fn echo(s: &mut Session, now: Instant, src: SocketAddr, dst: SocketAddr, data: &[u8]) -> usize {
    s.b.handle_receive(now, src, dst, data);
    while let Some(e) = s.b.poll_event() {
        if let Event::Rtp(r) = e {
            let _ = s.b.write_rtp(now, s.bv, &r.packet);
            s.b.recycle(r.packet);
        }
    }
    let mut n = 0;
    while let Some(t) = s.b.poll_transmit() {
        black_box(&t.payload);
        s.b.recycle(t.payload);
        n += 1;
    }
    n
}

fn fulmar(c: &mut Criterion) {
    let certs = (
        Arc::new(fulmar_dtls::Certificate::generate().unwrap()),
        Arc::new(fulmar_dtls::Certificate::generate().unwrap()),
    );
    let mut sessions: Vec<Session> = (0..SESSIONS).map(|i| session(i, &certs)).collect();
    let now = Instant::now();
    // Warm up: pools filled, streams known, and the echo actually works.
    let warm = make_batch(&mut sessions, now);
    let mut echoed = 0;
    for (i, src, dst, d) in &warm {
        echoed += echo(&mut sessions[*i], now, *src, *dst, d);
    }
    assert_eq!(echoed, warm.len(), "every packet echoed");
    let st = sessions[0].b.media_stats(sessions[0].bv).unwrap();
    assert_eq!(st.packets_lost, 0, "warm-up: {st:?}");
    let mut g = c.benchmark_group("echo_path");
    g.throughput(Throughput::Elements(1));
    // Packets left over from one sample are used by the next (criterion
    // calls the routine once per sample): no session ever sees a gap.
    let mut queue: std::collections::VecDeque<Datagram> = std::collections::VecDeque::new();
    g.bench_function(format!("fulmar-peer/{SESSIONS}-sessions"), |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                if queue.is_empty() {
                    queue.extend(make_batch(&mut sessions, now));
                }
                let take = queue.len().min((iters - done) as usize);
                let batch: Vec<Datagram> = queue.drain(..take).collect();
                let start = Instant::now();
                for (i, src, dst, d) in &batch {
                    black_box(echo(&mut sessions[*i], now, *src, *dst, d));
                }
                total += start.elapsed();
                done += take as u64;
            }
            total
        })
    });
    g.finish();
    // The same work measured in thread CPU time (what the goal counts).
    for (i, src, dst, d) in queue.drain(..) {
        echo(&mut sessions[i], now, src, dst, &d);
    }
    let cell = std::cell::RefCell::new(&mut sessions);
    cpu_per_packet(
        &format!("fulmar-peer/{SESSIONS}-sessions"),
        1_000_000,
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
}

struct RtcSession {
    rx: rtc_srtp::context::Context,
    tx: rtc_srtp::context::Context,
    ssrc: u32,
    seq: u16,
}

fn rtc_ctx(key: u8) -> rtc_srtp::context::Context {
    let provider = rtc_srtp::crypto::default_provider().expect("ring provider");
    rtc_srtp::context::Context::new(
        &[key; 16],
        &[key ^ 0x55; 14],
        rtc_srtp::protection_profile::ProtectionProfile::Aes128CmHmacSha1_80,
        Some(rtc_srtp::option::srtp_replay_protection(64)),
        Some(rtc_srtp::option::srtcp_replay_protection(64)),
        provider.crypto(),
    )
    .unwrap()
}

fn rtc(c: &mut Criterion) {
    use rtc_shared::marshal::{Marshal, Unmarshal};
    let mut senders: Vec<(rtc_srtp::context::Context, u32, u16)> = Vec::new();
    let mut sessions: Vec<RtcSession> = Vec::new();
    let mut route: HashMap<u32, usize> = HashMap::new();
    for i in 0..SESSIONS {
        let in_ssrc = 0x1000_0000 + i as u32;
        senders.push((rtc_ctx(i as u8), in_ssrc, 0));
        sessions.push(RtcSession {
            rx: rtc_ctx(i as u8),
            tx: rtc_ctx(i as u8 ^ 0xff),
            ssrc: 0x2000_0000 + i as u32,
            seq: 0,
        });
        route.insert(in_ssrc, i);
    }
    let make = |senders: &mut Vec<(rtc_srtp::context::Context, u32, u16)>| {
        let mut out = Vec::with_capacity(SESSIONS * PER_SESSION);
        for _ in 0..PER_SESSION {
            for (ctx, ssrc, seq) in senders.iter_mut() {
                *seq = seq.wrapping_add(1);
                let mut p = rtp(*seq);
                p[8..12].copy_from_slice(&ssrc.to_be_bytes());
                out.push(ctx.encrypt_rtp(&p).unwrap());
            }
        }
        out
    };
    let mut g = c.benchmark_group("echo_path");
    g.throughput(Throughput::Elements(1));
    let mut queue: std::collections::VecDeque<_> = std::collections::VecDeque::new();
    g.bench_function(format!("rtc-srtp+rtc-rtp/{SESSIONS}-sessions"), |bch| {
        bch.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                if queue.is_empty() {
                    queue.extend(make(&mut senders));
                }
                let take = queue.len().min((iters - done) as usize);
                let batch: Vec<_> = queue.drain(..take).collect();
                let start = Instant::now();
                for d in &batch {
                    let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
                    let Some(&i) = route.get(&ssrc) else { continue };
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
                total += start.elapsed();
                done += take as u64;
            }
            total
        })
    });
    g.finish();
    queue.clear();
    let cell = std::cell::RefCell::new((&mut senders, &mut sessions));
    cpu_per_packet(
        &format!("rtc-srtp+rtc-rtp/{SESSIONS}-sessions"),
        1_000_000,
        || {
            let mut c = cell.borrow_mut();
            let mut out = Vec::with_capacity(SESSIONS * PER_SESSION);
            for _ in 0..PER_SESSION {
                for (ctx, ssrc, seq) in c.0.iter_mut() {
                    *seq = seq.wrapping_add(1);
                    let mut p = rtp(*seq);
                    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
                    out.push(ctx.encrypt_rtp(&p).unwrap());
                }
            }
            out
        },
        |d| {
            let mut c = cell.borrow_mut();
            let ssrc = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
            let Some(&i) = route.get(&ssrc) else { return };
            let s = &mut c.1[i];
            let plain = s.rx.decrypt_rtp(d).unwrap();
            let mut buf = &plain[..];
            let mut pkt = rtc_rtp::packet::Packet::unmarshal(&mut buf).unwrap();
            pkt.header.ssrc = s.ssrc;
            pkt.header.sequence_number = s.seq;
            s.seq = s.seq.wrapping_add(1);
            let out = pkt.marshal().unwrap();
            black_box(s.tx.encrypt_rtp(&out).unwrap());
        },
    );
}

criterion_group!(benches, fulmar, rtc);
criterion_main!(benches);
