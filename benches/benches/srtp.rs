//! SRTP and SRTCP protect and unprotect of 1200-byte payloads for every
//! profile: fulmar-srtp beside webrtc-rs `rtc-srtp` 0.21 (ring provider) and
//! beside the raw cryptography of the profile on the same bytes, which is the
//! floor (`raw/<profile>` in every group, measured in the same run):
//!
//! - AES_CM_128_HMAC_SHA1_80/32: AES-128-CTR over the payload plus HMAC-SHA1
//!   over the packet and a 4-byte trailer (the ROC for SRTP, `E || SRTCP
//!   index` for SRTCP), RustCrypto `aes`/`ctr`/`hmac`/`sha1` (AES-NI, SHA-NI),
//!   with the key schedule and HMAC pads computed once, as any SRTP stack
//!   keeps them; unprotect also compares the tag.
//! - AEAD_AES_128_GCM / AEAD_AES_256_GCM: ring's `seal_in_place_separate_tag`
//!   (protect) and `open_in_place_separate_tag` (unprotect) over the 1200-byte
//!   payload with a 12-byte AAD (the RTP header; for SRTCP the 8-byte header
//!   and `E || SRTCP index`), with a `LessSafeKey` built once.
//!
//! Protect works in place on one buffer per stack (fulmar and raw re-protect
//! it, fulmar with the next sequence number; the bytes' values do not change
//! the work; rtc-srtp's API copies into a new buffer). Unprotect gets a freshly
//! protected packet per operation, made outside the timing in batches of 64
//! (so they sit in cache), for all three alike; both stacks run with a
//! 64-packet replay window. Throughput is in packets per second.
//!
//! After the criterion groups a paired table is printed: the three stacks take
//! turns timing batches of 64 and the fastest batch of each is kept, which
//! stays meaningful when other processes load the machine (criterion's means
//! do not). `srtp_raw_crypto_1200` adds the parts (CTR alone, HMAC alone) and
//! the pure-Rust `aes-gcm` crate for reference.
//!
//! Run: `cd benches && cargo bench --bench srtp` (`SRTP_PAIRED_ROUNDS=0`
//! skips the paired table).

use std::hint::black_box;
use std::time::Instant;

use aes::cipher::{InnerIvInit, KeyInit, KeyIvInit, StreamCipher};
use criterion::{criterion_group, BatchSize, BenchmarkId, Criterion, Throughput};
use hmac::Mac;

const PAYLOAD: usize = 1200;
const SSRC: u32 = 0x1234_5678;
/// Packets protected per batch for the unprotect benches.
const BATCH: BatchSize = BatchSize::NumIterations(64);

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// An RTP packet: 12-byte header then `PAYLOAD` bytes.
fn rtp_packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x60];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((0..PAYLOAD).map(|i| i as u8));
    p
}

/// An RTCP APP packet (RFC 3550 §6.7): 8-byte header (the part SRTCP leaves
/// in clear) then `PAYLOAD` bytes (name and application data).
fn rtcp_packet() -> Vec<u8> {
    let words = (8 + PAYLOAD) / 4 - 1;
    let mut p = vec![0x80, 204];
    p.extend_from_slice(&(words as u16).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend_from_slice(b"TEST");
    p.extend((4..PAYLOAD).map(|i| i as u8));
    p
}

struct Profile {
    name: &'static str,
    fulmar: fulmar_srtp::ProtectionProfile,
    rtc: rtc_srtp::protection_profile::ProtectionProfile,
}

const PROFILES: [Profile; 4] = [
    Profile {
        name: "AES_CM_128_HMAC_SHA1_80",
        fulmar: fulmar_srtp::ProtectionProfile::Aes128CmHmacSha1_80,
        rtc: rtc_srtp::protection_profile::ProtectionProfile::Aes128CmHmacSha1_80,
    },
    Profile {
        name: "AES_CM_128_HMAC_SHA1_32",
        fulmar: fulmar_srtp::ProtectionProfile::Aes128CmHmacSha1_32,
        rtc: rtc_srtp::protection_profile::ProtectionProfile::Aes128CmHmacSha1_32,
    },
    Profile {
        name: "AEAD_AES_128_GCM",
        fulmar: fulmar_srtp::ProtectionProfile::AeadAes128Gcm,
        rtc: rtc_srtp::protection_profile::ProtectionProfile::AeadAes128Gcm,
    },
    Profile {
        name: "AEAD_AES_256_GCM",
        fulmar: fulmar_srtp::ProtectionProfile::AeadAes256Gcm,
        rtc: rtc_srtp::protection_profile::ProtectionProfile::AeadAes256Gcm,
    },
];

fn keys(p: &Profile) -> (Vec<u8>, Vec<u8>) {
    (
        (0..p.fulmar.master_key_len() as u8).collect(),
        (0..p.fulmar.master_salt_len() as u8)
            .map(|b| b ^ 0x5a)
            .collect(),
    )
}

fn fulmar_ctx(p: &Profile) -> fulmar_srtp::Context {
    let (k, s) = keys(p);
    fulmar_srtp::Context::new(p.fulmar, &k, &s, fulmar_srtp::Config::default()).unwrap()
}

fn rtc_ctx(p: &Profile) -> rtc_srtp::context::Context {
    let (k, s) = keys(p);
    let provider = rtc_srtp::crypto::default_provider().expect("ring provider");
    rtc_srtp::context::Context::new(
        &k,
        &s,
        p.rtc,
        Some(rtc_srtp::option::srtp_replay_protection(64)),
        Some(rtc_srtp::option::srtcp_replay_protection(64)),
        provider.crypto(),
    )
    .unwrap()
}

/// A value on a cache line of its own.
#[repr(align(64))]
struct CacheAligned<T>(T);

/// The raw cryptography of a profile, keyed once.
enum Raw {
    /// AES-128-CTR (expanded key, cloned per packet) and keyed HMAC-SHA1.
    Cm {
        aes: aes::Aes128Enc,
        mac: HmacSha1,
        tag_len: usize,
    },
    /// ring AES-GCM.
    Gcm(Box<CacheAligned<ring::aead::LessSafeKey>>),
}

impl Raw {
    /// The raw cryptography of `p` with `tag_len`-byte tags (AES-CM).
    fn new(p: &Profile, tag_len: usize) -> Self {
        match p.fulmar {
            fulmar_srtp::ProtectionProfile::AeadAes128Gcm => {
                Self::gcm(&ring::aead::AES_128_GCM, 16)
            }
            fulmar_srtp::ProtectionProfile::AeadAes256Gcm => {
                Self::gcm(&ring::aead::AES_256_GCM, 32)
            }
            _ => Raw::Cm {
                aes: aes::Aes128Enc::new(&[7u8; 16].into()),
                mac: <HmacSha1 as Mac>::new_from_slice(&[9u8; 20]).unwrap(),
                tag_len,
            },
        }
    }

    fn gcm(alg: &'static ring::aead::Algorithm, key_len: usize) -> Self {
        Raw::Gcm(Box::new(CacheAligned(ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(alg, &[7u8; 32][..key_len]).unwrap(),
        ))))
    }

    fn nonce() -> ring::aead::Nonce {
        ring::aead::Nonce::assume_unique_for_key([3u8; 12])
    }

    fn ctr(aes: &aes::Aes128Enc, data: &mut [u8]) {
        let core = ctr::CtrCore::<aes::Aes128Enc, ctr::flavors::Ctr128BE>::inner_iv_init(
            aes.clone(),
            &[1u8; 16].into(),
        );
        ctr::Ctr128BE::<aes::Aes128Enc>::from_core(core).apply_keystream(data);
    }

    fn hmac(mac: &HmacSha1, data: &[u8], trailer: [u8; 4]) -> [u8; 20] {
        let mut m = mac.clone();
        m.update(data);
        m.update(&trailer);
        m.finalize().into_bytes().into()
    }

    /// Protects `packet[..len]` (`clear` bytes of header left in clear and
    /// authenticated) writing the tag after it: the profile's cryptography
    /// alone. AES-CM also authenticates a 4-byte trailer (the ROC, or for
    /// SRTCP `E || index`); `rtcp_aad` is the separate 12-byte GCM AAD of
    /// SRTCP (else the AAD is the header).
    fn seal(&self, packet: &mut [u8], len: usize, clear: usize, rtcp_aad: Option<[u8; 12]>) {
        let (packet, trailer) = packet.split_at_mut(len);
        match self {
            Raw::Cm { aes, mac, tag_len } => {
                Self::ctr(aes, &mut packet[clear..]);
                let tag = Self::hmac(mac, packet, [0, 0, 0, 1]);
                trailer[..*tag_len].copy_from_slice(&tag[..*tag_len]);
            }
            Raw::Gcm(aligned) => {
                let key = &aligned.0;
                let (header, payload) = packet.split_at_mut(clear);
                let aad = rtcp_aad.as_ref().map_or(&*header, |a| &a[..]);
                let tag = key
                    .seal_in_place_separate_tag(Self::nonce(), ring::aead::Aad::from(aad), payload)
                    .unwrap();
                trailer[..16].copy_from_slice(tag.as_ref());
            }
        }
    }

    /// Verifies and decrypts what [`Raw::seal`] made: the cryptography of unprotect alone.
    fn open(&self, packet: &mut [u8], clear: usize, rtcp_aad: Option<[u8; 12]>) {
        match self {
            Raw::Cm { aes, mac, tag_len } => {
                let len = packet.len() - tag_len;
                let (packet, tag) = packet.split_at_mut(len);
                let expected = Self::hmac(mac, packet, [0, 0, 0, 1]);
                assert!(black_box(&expected[..*tag_len]) == tag);
                Self::ctr(aes, &mut packet[clear..]);
            }
            Raw::Gcm(aligned) => {
                let key = &aligned.0;
                let len = packet.len() - 16;
                let (packet, tag) = packet.split_at_mut(len);
                let (header, payload) = packet.split_at_mut(clear);
                let aad = rtcp_aad.as_ref().map_or(&*header, |a| &a[..]);
                let tag = ring::aead::Tag::try_from(&*tag).unwrap();
                key.open_in_place_separate_tag(
                    Self::nonce(),
                    ring::aead::Aad::from(aad),
                    tag,
                    payload,
                    0..,
                )
                .unwrap();
            }
        }
    }
}

/// A packet buffer with room for any SRTP/SRTCP trailer.
fn with_headroom(packet: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2048);
    v.extend_from_slice(packet);
    v
}

/// What is measured: protect or unprotect, of SRTP or SRTCP.
#[derive(Clone, Copy, PartialEq)]
enum Op {
    Protect,
    Unprotect,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Srtp,
    Srtcp,
}

/// The four measurements, as criterion groups.
const GROUPS: [(&str, Kind, Op); 4] = [
    ("srtp_protect_1200", Kind::Srtp, Op::Protect),
    ("srtp_unprotect_1200", Kind::Srtp, Op::Unprotect),
    ("srtcp_protect_1200", Kind::Srtcp, Op::Protect),
    ("srtcp_unprotect_1200", Kind::Srtcp, Op::Unprotect),
];

const STACKS: [&str; 3] = ["fulmar", "rtc-srtp", "raw"];

/// One stack's side of one measurement: `input` makes the input of one
/// operation outside the timing (a freshly protected packet for unprotect,
/// nothing for protect, which works in place on the case's own buffer) and
/// `run` is the timed operation.
struct Case {
    input: Box<dyn FnMut() -> Vec<u8>>,
    run: Box<dyn FnMut(&mut Vec<u8>)>,
}

/// The case of `stack` ("fulmar", "rtc-srtp" or "raw") for `kind`, `op`, `p`.
fn case(stack: &str, kind: Kind, op: Op, p: &Profile) -> Case {
    let plain = match kind {
        Kind::Srtp => rtp_packet(0),
        Kind::Srtcp => rtcp_packet(),
    };
    let nothing = || -> Box<dyn FnMut() -> Vec<u8>> { Box::new(Vec::new) };
    match (stack, op) {
        ("fulmar", Op::Protect) => {
            let mut ctx = fulmar_ctx(p);
            let mut buf = with_headroom(&plain);
            let mut seq = 0u16;
            Case {
                input: nothing(),
                run: Box::new(move |_| {
                    buf.truncate(plain.len());
                    if kind == Kind::Srtp {
                        seq = seq.wrapping_add(1);
                        buf[2..4].copy_from_slice(&seq.to_be_bytes());
                        ctx.protect_rtp(&mut buf).unwrap();
                    } else {
                        ctx.protect_rtcp(&mut buf).unwrap();
                    }
                    black_box(&buf);
                }),
            }
        }
        ("fulmar", Op::Unprotect) => {
            let mut tx = fulmar_ctx(p);
            let mut rx = fulmar_ctx(p);
            let mut seq = 0u16;
            Case {
                input: Box::new(move || {
                    let mut v = with_headroom(&plain);
                    if kind == Kind::Srtp {
                        seq = seq.wrapping_add(1);
                        v[2..4].copy_from_slice(&seq.to_be_bytes());
                        tx.protect_rtp(&mut v).unwrap();
                    } else {
                        tx.protect_rtcp(&mut v).unwrap();
                    }
                    v
                }),
                run: Box::new(move |packet| match kind {
                    Kind::Srtp => rx.unprotect_rtp(packet).unwrap(),
                    Kind::Srtcp => rx.unprotect_rtcp(packet).unwrap(),
                }),
            }
        }
        ("rtc-srtp", Op::Protect) => {
            let mut ctx = rtc_ctx(p);
            let mut plain = plain;
            let mut seq = 0u16;
            Case {
                input: nothing(),
                run: Box::new(move |_| {
                    if kind == Kind::Srtp {
                        seq = seq.wrapping_add(1);
                        plain[2..4].copy_from_slice(&seq.to_be_bytes());
                        black_box(ctx.encrypt_rtp(&plain).unwrap());
                    } else {
                        black_box(ctx.encrypt_rtcp(&plain).unwrap());
                    }
                }),
            }
        }
        ("rtc-srtp", Op::Unprotect) => {
            let mut tx = rtc_ctx(p);
            let mut rx = rtc_ctx(p);
            let mut plain = plain;
            let mut seq = 0u16;
            Case {
                input: Box::new(move || {
                    if kind == Kind::Srtp {
                        seq = seq.wrapping_add(1);
                        plain[2..4].copy_from_slice(&seq.to_be_bytes());
                        tx.encrypt_rtp(&plain).unwrap().to_vec()
                    } else {
                        tx.encrypt_rtcp(&plain).unwrap().to_vec()
                    }
                }),
                run: Box::new(move |packet| match kind {
                    Kind::Srtp => drop(black_box(rx.decrypt_rtp(packet).unwrap())),
                    Kind::Srtcp => drop(black_box(rx.decrypt_rtcp(packet).unwrap())),
                }),
            }
        }
        (_, op) => {
            // SRTP: the 12-byte header is the clear part and the GCM AAD.
            // SRTCP: the 8-byte header is clear; the GCM AAD is it and `E || index`.
            let (tag_len, clear, aad) = match kind {
                Kind::Srtp => (p.fulmar.rtp_auth_tag_len(), 12, None),
                Kind::Srtcp => {
                    let mut aad = [0x80; 12];
                    aad[..8].copy_from_slice(&plain[..8]);
                    (p.fulmar.rtcp_auth_tag_len(), 8, Some(aad))
                }
            };
            let raw = Raw::new(p, tag_len);
            let mut sealed = with_headroom(&plain);
            sealed.resize(plain.len() + tag_len, 0);
            raw.seal(&mut sealed, plain.len(), clear, aad);
            if op == Op::Protect {
                Case {
                    input: nothing(),
                    run: Box::new(move |_| {
                        raw.seal(&mut sealed, plain.len(), clear, aad);
                        black_box(&sealed);
                    }),
                }
            } else {
                Case {
                    input: Box::new(move || with_headroom(&sealed)),
                    run: Box::new(move |packet| raw.open(packet, clear, aad)),
                }
            }
        }
    }
}

/// Criterion: each group, each profile, the three stacks side by side.
fn stacks(c: &mut Criterion) {
    for (group_name, kind, op) in GROUPS {
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(1));
        for p in &PROFILES {
            for stack in STACKS {
                let Case { mut input, mut run } = case(stack, kind, op, p);
                group.bench_function(BenchmarkId::new(stack, p.name), |b| {
                    b.iter_batched_ref(&mut input, &mut run, BATCH)
                });
            }
        }
        group.finish();
    }
}

/// A load-tolerant paired comparison printed after the criterion runs: for
/// each group and profile the three stacks take turns, round after round,
/// each timing one batch of 64 operations on fresh inputs (after one untimed
/// operation to warm the caches); the fastest batch
/// of each stack estimates its cost on an idle core (criterion's means are
/// only meaningful on a quiet machine). Rounds: `SRTP_PAIRED_ROUNDS`
/// (default 300, 0 skips the table).
fn paired_table() {
    let rounds: usize = std::env::var("SRTP_PAIRED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    if rounds == 0 || std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    println!(
        "\nsrtp paired (fastest of {rounds} rounds of 64, ns/packet; ratio to raw):\n{:<22} {:<24} {:>8} {:>8} {:>8} {:>7} {:>7}",
        "group", "profile", "fulmar", "rtc-srtp", "raw", "fulmar", "rtc"
    );
    for (group_name, kind, op) in GROUPS {
        for p in &PROFILES {
            let mut cases: Vec<Case> = STACKS.iter().map(|s| case(s, kind, op, p)).collect();
            let mut best = [f64::MAX; 3];
            for _ in 0..rounds {
                for (case, best) in cases.iter_mut().zip(&mut best) {
                    let mut inputs: Vec<Vec<u8>> = (0..65).map(|_| (case.input)()).collect();
                    // One untimed operation first: the previous stack's turn
                    // may have evicted this one's buffers and keys from cache.
                    (case.run)(&mut inputs[0]);
                    let start = Instant::now();
                    for input in &mut inputs[1..] {
                        (case.run)(input);
                    }
                    *best = best.min(start.elapsed().as_nanos() as f64 / 64.0);
                }
            }
            println!(
                "{:<22} {:<24} {:>8.1} {:>8.1} {:>8.1} {:>7.3} {:>7.3}",
                group_name,
                p.name,
                best[0],
                best[1],
                best[2],
                best[0] / best[2],
                best[1] / best[2]
            );
        }
    }
}

/// The parts of the raw cryptography, and the pure-Rust `aes-gcm` crate.
fn raw_crypto(c: &mut Criterion) {
    use aes_gcm::aead::AeadInPlace;

    let mut group = c.benchmark_group("srtp_raw_crypto_1200");
    group.throughput(Throughput::Elements(1));
    let mut data = rtp_packet(1);
    let key = [7u8; 16];
    let aes = aes::Aes128Enc::new(&key.into());
    group.bench_function("aes128-ctr only (RustCrypto)", |b| {
        b.iter(|| {
            Raw::ctr(&aes, &mut data[12..]);
            black_box(&data);
        })
    });
    group.bench_function("aes128-ctr with key schedule (RustCrypto)", |b| {
        b.iter(|| {
            let mut c = ctr::Ctr128BE::<aes::Aes128>::new(&key.into(), &[1u8; 16].into());
            c.apply_keystream(&mut data[12..]);
            black_box(&data);
        })
    });
    let mac = <HmacSha1 as Mac>::new_from_slice(&[9u8; 20]).unwrap();
    group.bench_function("hmac-sha1 only (RustCrypto)", |b| {
        b.iter(|| black_box(Raw::hmac(&mac, &data, [0, 0, 0, 1])))
    });
    let gcm = aes_gcm::Aes128Gcm::new(&key.into());
    group.bench_function("aes128-gcm seal (aes-gcm)", |b| {
        b.iter(|| {
            let (aad, rest) = data.split_at_mut(12);
            let tag = gcm
                .encrypt_in_place_detached(&[3u8; 12].into(), aad, rest)
                .unwrap();
            black_box(tag);
        })
    });
    group.finish();
}

criterion_group!(benches, stacks, raw_crypto);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    paired_table();
}
