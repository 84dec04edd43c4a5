//! Rollover counter (RFC 3711 Appendix A), replay window (§3.3.2), SRTCP
//! index and per-SSRC state, across every profile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{rtcp, rtp};
use fulmar_srtp::{Config, Context, Error, ProtectionProfile};

fn pair(profile: ProtectionProfile, config: Config) -> (Context, Context) {
    let key: Vec<u8> = (1..=profile.master_key_len() as u8).collect();
    let salt: Vec<u8> = (100..100 + profile.master_salt_len() as u8).collect();
    (
        Context::new(profile, &key, &salt, config).unwrap(),
        Context::new(profile, &key, &salt, config).unwrap(),
    )
}

fn protect(tx: &mut Context, seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = rtp(seq, ssrc, &seq.to_be_bytes().repeat(20));
    tx.protect_rtp(&mut p).unwrap();
    p
}

fn unprotect(rx: &mut Context, mut p: Vec<u8>) -> Result<Vec<u8>, Error> {
    rx.unprotect_rtp(&mut p).map(|()| p)
}

#[test]
fn sequence_wrap_increments_roc() {
    for profile in ProtectionProfile::ALL {
        let (mut tx, mut rx) = pair(profile, Config::default());
        let ssrc = 0xcafe_babe;
        let mut seq = 65_530u16;
        for i in 0..20u64 {
            let p = protect(&mut tx, seq, ssrc);
            let plain = unprotect(&mut rx, p).unwrap();
            assert_eq!(plain, rtp(seq, ssrc, &seq.to_be_bytes().repeat(20)));
            assert_eq!(rx.received_index(ssrc), Some(65_530 + i));
            seq = seq.wrapping_add(1);
        }
        // ROC is 1 on both sides after the wrap.
        assert_eq!(tx.sent_index(ssrc).unwrap() >> 16, 1);
        assert_eq!(rx.received_index(ssrc).unwrap() >> 16, 1);
    }
}

#[test]
fn several_wraps_with_gaps() {
    let (mut tx, mut rx) = pair(ProtectionProfile::Aes128CmHmacSha1_80, Config::default());
    let ssrc = 7;
    let mut seq = 0u16;
    // Steps below 2^15 keep the estimate right through five wraps.
    for _ in 0..12 {
        let p = protect(&mut tx, seq, ssrc);
        unprotect(&mut rx, p).unwrap();
        seq = seq.wrapping_add(30_000);
    }
    assert_eq!(rx.received_index(ssrc), Some(11 * 30_000));
    assert_eq!(rx.received_index(ssrc).unwrap() >> 16, 5);
}

#[test]
fn reordering_across_the_wrap() {
    for profile in ProtectionProfile::ALL {
        let (mut tx, mut rx) = pair(profile, Config::default());
        let ssrc = 42;
        let seqs = [65_533u16, 65_534, 65_535, 0, 1, 2];
        let packets: Vec<_> = seqs.iter().map(|&s| protect(&mut tx, s, ssrc)).collect();
        // Deliver 65533, then 1 (after the wrap), then the late ones from before it.
        for i in [0usize, 4, 1, 3, 2, 5] {
            let plain = unprotect(&mut rx, packets[i].clone()).unwrap();
            assert_eq!(&plain[2..4], &seqs[i].to_be_bytes());
        }
        assert_eq!(rx.received_index(ssrc), Some(0x1_0002));
        // Every one of them is now a replay, including the pre-wrap ones (ROC - 1).
        for p in &packets {
            assert!(matches!(
                unprotect(&mut rx, p.clone()),
                Err(Error::Replayed { .. })
            ));
        }
    }
}

#[test]
fn replay_window_default_64() {
    let (mut tx, mut rx) = pair(ProtectionProfile::AeadAes128Gcm, Config::default());
    let ssrc = 9;
    let old = protect(&mut tx, 1000, ssrc);
    let edge = protect(&mut tx, 1001, ssrc);
    let newest = protect(&mut tx, 1064, ssrc);
    unprotect(&mut rx, newest).unwrap();
    // 1064 - 1000 = 64: just outside; 1001 is the oldest index inside.
    assert_eq!(unprotect(&mut rx, old), Err(Error::TooOld { index: 1000 }));
    unprotect(&mut rx, edge.clone()).unwrap();
    assert_eq!(
        unprotect(&mut rx, edge),
        Err(Error::Replayed { index: 1001 })
    );
}

#[test]
fn replay_window_configurable_to_1024() {
    let config = Config::default().with_replay_window(1024);
    let (mut tx, mut rx) = pair(ProtectionProfile::Aes128CmHmacSha1_32, config);
    let ssrc = 9;
    let packets: Vec<_> = (0..1100u16).map(|s| protect(&mut tx, s, ssrc)).collect();
    unprotect(&mut rx, packets[1099].clone()).unwrap();
    // 1099 - 1023 = 76 is the oldest accepted.
    unprotect(&mut rx, packets[76].clone()).unwrap();
    assert_eq!(
        unprotect(&mut rx, packets[75].clone()),
        Err(Error::TooOld { index: 75 })
    );
    for p in &packets[77..1099] {
        unprotect(&mut rx, p.clone()).unwrap();
    }
    for p in &packets[76..1100] {
        assert!(matches!(
            unprotect(&mut rx, p.clone()),
            Err(Error::Replayed { .. })
        ));
    }
}

#[test]
fn srtcp_index_increments_and_replays_are_rejected() {
    for profile in ProtectionProfile::ALL {
        let (mut tx, mut rx) = pair(profile, Config::default());
        let ssrc = 0x0102_0304;
        let mut sent = Vec::new();
        for i in 0..5u32 {
            assert_eq!(tx.next_srtcp_index(ssrc), i);
            let mut p = rtcp(ssrc, &[i as u8; 24]);
            tx.protect_rtcp(&mut p).unwrap();
            assert_eq!(p.len(), 8 + 24 + profile.rtcp_overhead());
            sent.push(p);
        }
        for (i, p) in sent.iter().enumerate().rev() {
            let mut q = p.clone();
            rx.unprotect_rtcp(&mut q).unwrap();
            assert_eq!(q, rtcp(ssrc, &[i as u8; 24]));
        }
        let mut again = sent[2].clone();
        assert_eq!(
            rx.unprotect_rtcp(&mut again),
            Err(Error::Replayed { index: 2 })
        );
    }
}

#[test]
fn srtcp_e_flag() {
    for profile in ProtectionProfile::ALL {
        let (_, mut rx) = pair(profile, Config::default());
        let (mut tx_plain, _) = pair(profile, Config::default().with_encrypt_rtcp(false));
        let (mut tx_enc, _) = pair(profile, Config::default());
        let body = [0x5a; 20];
        let mut plain = rtcp(5, &body);
        tx_plain.protect_rtcp(&mut plain).unwrap();
        // Authentication only: the body travels in the clear and E is 0.
        assert_eq!(&plain[8..28], &body);
        let trailer_at = if profile.is_aead() {
            plain.len() - 4
        } else {
            28
        };
        assert_eq!(plain[trailer_at] & 0x80, 0);
        let mut enc = rtcp(5, &body);
        tx_enc.protect_rtcp(&mut enc).unwrap();
        assert_ne!(&enc[8..28], &body);
        assert_eq!(enc[trailer_at] & 0x80, 0x80);
        rx.unprotect_rtcp(&mut plain).unwrap();
        assert_eq!(plain, rtcp(5, &body));
        // Same SRTCP index 0 was used by both senders: the second is a replay.
        assert_eq!(
            rx.unprotect_rtcp(&mut enc),
            Err(Error::Replayed { index: 0 })
        );
    }
}

#[test]
fn srtcp_index_exhaustion() {
    let (mut tx, _) = pair(ProtectionProfile::AeadAes256Gcm, Config::default());
    tx.set_next_srtcp_index(1, 0x7fff_ffff).unwrap();
    let mut p = rtcp(1, &[]);
    tx.protect_rtcp(&mut p).unwrap();
    let mut p = rtcp(1, &[]);
    assert_eq!(tx.protect_rtcp(&mut p), Err(Error::IndexExhausted));
    assert_eq!(
        p,
        rtcp(1, &[]),
        "a failed protect leaves the packet as it was"
    );
}

#[test]
fn ssrc_state_is_capped_and_forged_packets_create_none() {
    let config = Config::default().with_max_streams(2);
    let (mut tx, mut rx) = pair(ProtectionProfile::Aes128CmHmacSha1_80, config);
    let a = protect(&mut tx, 1, 1);
    let b = protect(&mut tx, 1, 2);
    let mut p = rtp(1, 3, b"x");
    assert_eq!(
        tx.protect_rtp(&mut p),
        Err(Error::TooManyStreams { max: 2 })
    );
    // A forged packet from a new SSRC fails authentication and leaves no state.
    let mut forged = rtp(1, 99, &[0; 30]);
    assert_eq!(
        rx.unprotect_rtp(&mut forged),
        Err(Error::AuthenticationFailed)
    );
    assert_eq!(rx.stream_count(), 0);
    unprotect(&mut rx, a).unwrap();
    unprotect(&mut rx, b).unwrap();
    assert_eq!(rx.stream_count(), 2);
    let mut third = rtp(1, 3, &[0; 30]);
    assert!(matches!(
        rx.unprotect_rtp(&mut third),
        Err(Error::TooManyStreams { max: 2 })
    ));
    assert!(rx.remove_stream(1));
    assert_eq!(rx.stream_count(), 1);
}

#[test]
fn independent_ssrcs_have_independent_rocs() {
    let (mut tx, mut rx) = pair(ProtectionProfile::AeadAes128Gcm, Config::default());
    for seq in [65_535u16, 0, 1] {
        let p = protect(&mut tx, seq, 1);
        unprotect(&mut rx, p).unwrap();
    }
    let p = protect(&mut tx, 5, 2);
    unprotect(&mut rx, p).unwrap();
    assert_eq!(rx.received_index(1), Some(0x1_0001));
    assert_eq!(rx.received_index(2), Some(5));
}
