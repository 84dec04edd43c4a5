//! SRTP protect and unprotect of a 1200-byte-payload RTP packet for every
//! profile, fulmar-srtp beside webrtc-rs `rtc-srtp` 0.21 (ring provider), plus the raw
//! cryptography on the same bytes as the floor:
//! AES-128-CTR + HMAC-SHA1 (RustCrypto `aes`/`ctr`/`hmac`/`sha1`) for
//! AES_CM_128_HMAC_SHA1_80, and AES-128-GCM seal (`aes-gcm` and ring) for
//! AEAD_AES_128_GCM. Both stacks run with a 64-packet replay window on
//! unprotect. Throughput is reported in packets per second.
//!
//! Run: `cd benches && cargo bench --bench srtp`.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

const PAYLOAD: usize = 1200;
const SSRC: u32 = 0x1234_5678;

fn rtp_packet(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x60];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 3000).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((0..PAYLOAD).map(|i| i as u8));
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
        (0..p.fulmar.master_salt_len() as u8).map(|b| b ^ 0x5a).collect(),
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

fn protect(c: &mut Criterion) {
    let mut group = c.benchmark_group("srtp_protect_1200");
    group.throughput(Throughput::Elements(1));
    for p in &PROFILES {
        let plain = rtp_packet(0);
        let mut ctx = fulmar_ctx(p);
        let mut buf = Vec::with_capacity(2048);
        let mut seq = 0u16;
        group.bench_function(BenchmarkId::new("fulmar", p.name), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                buf.clear();
                buf.extend_from_slice(&plain);
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                ctx.protect_rtp(&mut buf).unwrap();
                std::hint::black_box(&buf);
            })
        });
        let mut rtc = rtc_ctx(p);
        let mut plain_seq = plain.clone();
        let mut seq = 0u16;
        group.bench_function(BenchmarkId::new("rtc-srtp", p.name), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                plain_seq[2..4].copy_from_slice(&seq.to_be_bytes());
                std::hint::black_box(rtc.encrypt_rtp(&plain_seq).unwrap());
            })
        });
    }
    group.finish();
}

fn unprotect(c: &mut Criterion) {
    let mut group = c.benchmark_group("srtp_unprotect_1200");
    group.throughput(Throughput::Elements(1));
    for p in &PROFILES {
        // Each iteration gets a freshly protected packet (made outside the
        // timing) with the next sequence number, so the replay window accepts it.
        let mut tx = fulmar_ctx(p);
        let mut rx = fulmar_ctx(p);
        let mut seq = 0u16;
        let plain = rtp_packet(0);
        group.bench_function(BenchmarkId::new("fulmar", p.name), |b| {
            b.iter_batched_ref(
                || {
                    seq = seq.wrapping_add(1);
                    let mut v = Vec::with_capacity(2048);
                    v.extend_from_slice(&plain);
                    v[2..4].copy_from_slice(&seq.to_be_bytes());
                    tx.protect_rtp(&mut v).unwrap();
                    v
                },
                |packet| {
                    rx.unprotect_rtp(packet).unwrap();
                },
                BatchSize::SmallInput,
            )
        });
        let mut tx = rtc_ctx(p);
        let mut rx = rtc_ctx(p);
        let mut seq = 0u16;
        let mut plain_seq = plain.clone();
        group.bench_function(BenchmarkId::new("rtc-srtp", p.name), |b| {
            b.iter_batched_ref(
                || {
                    seq = seq.wrapping_add(1);
                    plain_seq[2..4].copy_from_slice(&seq.to_be_bytes());
                    tx.encrypt_rtp(&plain_seq).unwrap()
                },
                |packet| {
                    std::hint::black_box(rx.decrypt_rtp(packet).unwrap());
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// The cryptography alone on the same bytes: the floor for each profile.
fn raw_crypto(c: &mut Criterion) {
    use aes::cipher::{KeyInit, KeyIvInit, StreamCipher};
    use aes_gcm::aead::AeadInPlace;
    use hmac::Mac;

    let mut group = c.benchmark_group("srtp_raw_crypto_1200");
    group.throughput(Throughput::Elements(1));
    let mut data = rtp_packet(1);
    let key = [7u8; 16];
    let mac = <hmac::Hmac<sha1::Sha1> as Mac>::new_from_slice(&[9u8; 20]).unwrap();
    group.bench_function("aes128-ctr+hmac-sha1 (RustCrypto)", |b| {
        b.iter(|| {
            let mut c = ctr::Ctr128BE::<aes::Aes128>::new(&key.into(), &[1u8; 16].into());
            c.apply_keystream(&mut data[12..]);
            let mut m = mac.clone();
            m.update(&data);
            m.update(&[0, 0, 0, 0]);
            std::hint::black_box(m.finalize().into_bytes());
        })
    });
    group.bench_function("aes128-ctr only (RustCrypto)", |b| {
        b.iter(|| {
            let mut c = ctr::Ctr128BE::<aes::Aes128>::new(&key.into(), &[1u8; 16].into());
            c.apply_keystream(&mut data[12..]);
            std::hint::black_box(&data);
        })
    });
    group.bench_function("hmac-sha1 only (RustCrypto)", |b| {
        b.iter(|| {
            let mut m = mac.clone();
            m.update(&data);
            m.update(&[0, 0, 0, 0]);
            std::hint::black_box(m.finalize().into_bytes());
        })
    });
    let gcm = aes_gcm::Aes128Gcm::new(&key.into());
    group.bench_function("aes128-gcm seal (aes-gcm)", |b| {
        b.iter(|| {
            let (aad, rest) = data.split_at_mut(12);
            let tag = gcm
                .encrypt_in_place_detached(&[3u8; 12].into(), aad, rest)
                .unwrap();
            std::hint::black_box(tag);
        })
    });
    let ring_key_256 = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7u8; 32]).unwrap(),
    );
    group.bench_function("aes256-gcm seal (ring)", |b| {
        b.iter(|| {
            let (aad, rest) = data.split_at_mut(12);
            let tag = ring_key_256
                .seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key([3u8; 12]),
                    ring::aead::Aad::from(&*aad),
                    rest,
                )
                .unwrap();
            let _ = std::hint::black_box(tag);
        })
    });
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, &key).unwrap(),
    );
    group.bench_function("aes128-gcm seal (ring)", |b| {
        b.iter(|| {
            let (aad, rest) = data.split_at_mut(12);
            let tag = ring_key
                .seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key([3u8; 12]),
                    ring::aead::Aad::from(&*aad),
                    rest,
                )
                .unwrap();
            let _ = std::hint::black_box(tag);
        })
    });
    group.finish();
}

criterion_group!(benches, protect, unprotect, raw_crypto);
criterion_main!(benches);
