//! STUN hot paths, fulmar-stun beside webrtc-rs `rtc-stun` 0.21 in the same run:
//!
//! - `stun_verify`: parse an ICE Binding request (USERNAME, GOOG-NETWORK-INFO,
//!   ICE-CONTROLLING, USE-CANDIDATE, PRIORITY, MESSAGE-INTEGRITY, FINGERPRINT) and
//!   verify MESSAGE-INTEGRITY and FINGERPRINT;
//! - `stun_build_sign`: build and sign the same request.
//!
//! rtc-stun is given its leanest path: a reused `Message` (no `build()` with
//! boxed setters), `add` for the ICE attributes it has no types for (rtc-ice
//! does the same internally). fulmar is measured with a prepared
//! `IntegrityKey` (what an ICE agent keeps per session) and, for the verify
//! case, also with the key derived from the password on every message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use fulmar_stun::attributes::{GoogNetworkInfo, IceControlling, Priority, UseCandidate, Username};
use fulmar_stun::{Class, IntegrityKey, Message, MessageBuilder, Method, TransactionId};

use rtc_stun::attributes::{
    AttrType, ATTR_ICE_CONTROLLING, ATTR_PRIORITY, ATTR_USERNAME, ATTR_USE_CANDIDATE,
};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::{Message as RtcMessage, Setter, BINDING_REQUEST};

const USERNAME: &str = "k3Hf9s2Q:p0Wz";
const PASSWORD: &str = "a-22-char-ice-password-xyz";
const TID: [u8; 12] = [
    0x4a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5,
];
const TIE_BREAKER: u64 = 0x1234_5678_9abc_def0;
const PRIORITY: u32 = 0x6e7f_1eff;

fn fulmar_build<'b>(buf: &'b mut [u8], key: &IntegrityKey) -> &'b [u8] {
    let mut b = MessageBuilder::new(
        buf,
        Class::Request,
        Method::BINDING,
        TransactionId::new(TID),
    );
    b.add(&Username(USERNAME))
        .add(&GoogNetworkInfo {
            network_id: 1,
            network_cost: 10,
        })
        .add(&IceControlling(TIE_BREAKER))
        .add(&UseCandidate)
        .add(&Priority(PRIORITY))
        .add_message_integrity(key)
        .add_fingerprint();
    b.finish().unwrap()
}

fn rtc_build(m: &mut RtcMessage, integrity: &MessageIntegrity<'_>) {
    m.reset();
    m.typ = BINDING_REQUEST;
    m.transaction_id = rtc_stun::message::TransactionId(TID);
    m.write_header();
    m.add(ATTR_USERNAME, USERNAME.as_bytes());
    m.add(AttrType(0xC057), &[0, 1, 0, 10]);
    m.add(ATTR_ICE_CONTROLLING, &TIE_BREAKER.to_be_bytes());
    m.add(ATTR_USE_CANDIDATE, &[]);
    m.add(ATTR_PRIORITY, &PRIORITY.to_be_bytes());
    integrity.add_to(m).unwrap();
    FINGERPRINT.add_to(m).unwrap();
}

fn benches(c: &mut Criterion) {
    let provider = rtc_stun::crypto::default_provider().unwrap();
    let crypto = provider.crypto();
    let key = IntegrityKey::short_term(PASSWORD);
    let integrity =
        MessageIntegrity::new_short_term_integrity_with_provider(PASSWORD.to_owned(), crypto);

    // Both stacks produce the same bytes, and each verifies the other's.
    let mut buf = [0u8; 256];
    let request = fulmar_build(&mut buf, &key).to_vec();
    let mut rm = RtcMessage::new();
    rtc_build(&mut rm, &integrity);
    assert_eq!(rm.raw, request, "both stacks must build the same request");
    let mut check = RtcMessage::new();
    check.unmarshal_binary(&request).unwrap();
    MessageIntegrity::check(&mut check, PASSWORD.as_bytes(), crypto).unwrap();
    FINGERPRINT.check(&check).unwrap();
    println!("ICE Binding request: {} bytes", request.len());

    // The machine is shared: besides criterion's sequential groups, print a
    // load-robust paired ratio (rounds alternate the two stacks; median of
    // the per-round ratios).
    let mut rtc_m = RtcMessage::new();
    let mut rtc_b = RtcMessage::new();
    let mut out = [0u8; 256];
    paired_ratio(
        "verify",
        || {
            let m = Message::parse(black_box(&request)).unwrap();
            m.verify_integrity(&key).unwrap();
            m.verify_fingerprint().unwrap();
        },
        || {
            rtc_m.unmarshal_binary(black_box(&request)).unwrap();
            MessageIntegrity::check(&mut rtc_m, PASSWORD.as_bytes(), crypto).unwrap();
            FINGERPRINT.check(&rtc_m).unwrap();
        },
    );
    // rtc-stun keys its HMAC from the password on every check; the same
    // work on our side is deriving the key per message.
    paired_ratio(
        "verify, key per message",
        || {
            let m = Message::parse(black_box(&request)).unwrap();
            m.verify_integrity(&IntegrityKey::short_term(black_box(PASSWORD)))
                .unwrap();
            m.verify_fingerprint().unwrap();
        },
        || {
            rtc_m.unmarshal_binary(black_box(&request)).unwrap();
            MessageIntegrity::check(&mut rtc_m, PASSWORD.as_bytes(), crypto).unwrap();
            FINGERPRINT.check(&rtc_m).unwrap();
        },
    );
    paired_ratio(
        "build+sign",
        || {
            black_box(fulmar_build(&mut out, black_box(&key)).len());
        },
        || {
            rtc_build(&mut rtc_b, black_box(&integrity));
            black_box(rtc_b.raw.len());
        },
    );

    let mut g = c.benchmark_group("stun_verify");
    g.bench_function("fulmar", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(&request)).unwrap();
            m.verify_integrity(&key).unwrap();
            m.verify_fingerprint().unwrap();
            black_box(m.transaction_id());
        })
    });
    g.bench_function("fulmar_key_per_message", |b| {
        b.iter(|| {
            let m = Message::parse(black_box(&request)).unwrap();
            m.verify_integrity(&IntegrityKey::short_term(black_box(PASSWORD)))
                .unwrap();
            m.verify_fingerprint().unwrap();
            black_box(m.transaction_id());
        })
    });
    let mut rtc = RtcMessage::new();
    g.bench_function("rtc-stun", |b| {
        b.iter(|| {
            rtc.unmarshal_binary(black_box(&request)).unwrap();
            MessageIntegrity::check(&mut rtc, PASSWORD.as_bytes(), crypto).unwrap();
            FINGERPRINT.check(&rtc).unwrap();
            black_box(rtc.transaction_id);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("stun_build_sign");
    let mut out = [0u8; 256];
    g.bench_function("fulmar", |b| {
        b.iter(|| {
            black_box(fulmar_build(&mut out, black_box(&key)).len());
        })
    });
    let mut m = RtcMessage::new();
    g.bench_function("rtc-stun", |b| {
        b.iter(|| {
            rtc_build(&mut m, black_box(&integrity));
            black_box(m.raw.len());
        })
    });
    g.finish();
}

/// Alternate `ours` and `theirs` in rounds of equal iteration counts and
/// print the median time per call of each and the median per-round ratio.
fn paired_ratio(name: &str, mut ours: impl FnMut(), mut theirs: impl FnMut()) {
    const ROUNDS: usize = 41;
    const ITERS: u32 = 20_000;
    let time = |f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        for _ in 0..ITERS {
            f();
        }
        t.elapsed().as_nanos() as f64 / f64::from(ITERS)
    };
    time(&mut ours);
    time(&mut theirs);
    let mut a = Vec::with_capacity(ROUNDS);
    let mut b = Vec::with_capacity(ROUNDS);
    let mut r = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let x = time(&mut ours);
        let y = time(&mut theirs);
        a.push(x);
        b.push(y);
        r.push(y / x);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "paired {name}: fulmar {:.0} ns, rtc-stun {:.0} ns, ratio {:.2}x (median of {ROUNDS} alternating rounds)",
        median(&mut a),
        median(&mut b),
        median(&mut r)
    );
}

criterion_group!(stun, benches);
criterion_main!(stun);
