//! Tampered, truncated and malformed packets are rejected with typed errors,
//! and a rejected packet changes no state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{rtcp, rtp};
use fulmar_srtp::{Config, Context, Error, ProtectionProfile};

fn pair(profile: ProtectionProfile) -> (Context, Context) {
    let key = vec![0x11; profile.master_key_len()];
    let salt = vec![0x22; profile.master_salt_len()];
    (
        Context::new(profile, &key, &salt, Config::default()).unwrap(),
        Context::new(profile, &key, &salt, Config::default()).unwrap(),
    )
}

#[test]
fn every_flipped_bit_fails_authentication() {
    for profile in ProtectionProfile::ALL {
        let (mut tx, mut rx) = pair(profile);
        let mut p = rtp(10, 0xabcd, b"some media payload");
        tx.protect_rtp(&mut p).unwrap();
        // Skip the version bits (checked before authentication) and the
        // header length bits (CC, X) which make it a different, truncated packet.
        for byte in 1..p.len() {
            for bit in 0..8 {
                let mut q = p.clone();
                q[byte] ^= 1 << bit;
                let r = rx.unprotect_rtp(&mut q);
                assert!(
                    matches!(r, Err(Error::AuthenticationFailed | Error::TooOld { .. })),
                    "{profile} byte {byte} bit {bit}: {r:?}"
                );
            }
        }
        assert_eq!(rx.stream_count(), 0);
        rx.unprotect_rtp(&mut p).unwrap();

        let mut c = rtcp(0xabcd, b"report block ...........");
        tx.protect_rtcp(&mut c).unwrap();
        for byte in 1..c.len() {
            let mut q = c.clone();
            q[byte] ^= 0x04;
            assert_eq!(
                rx.unprotect_rtcp(&mut q),
                Err(Error::AuthenticationFailed),
                "{profile} rtcp byte {byte}"
            );
        }
        rx.unprotect_rtcp(&mut c).unwrap();
    }
}

#[test]
fn truncated_packets() {
    for profile in ProtectionProfile::ALL {
        let (mut tx, mut rx) = pair(profile);
        let mut p = rtp(10, 1, b"payload");
        tx.protect_rtp(&mut p).unwrap();
        for len in 0..p.len() {
            let mut q = p[..len].to_vec();
            let r = rx.unprotect_rtp(&mut q);
            assert!(
                matches!(
                    r,
                    Err(Error::Truncated { .. } | Error::AuthenticationFailed)
                ),
                "{profile} len {len}: {r:?}"
            );
        }
        // Shorter than header plus tag is Truncated, never a crypto attempt.
        let mut q = p[..12 + profile.rtp_auth_tag_len() - 1].to_vec();
        assert_eq!(
            rx.unprotect_rtp(&mut q),
            Err(Error::Truncated {
                len: 12 + profile.rtp_auth_tag_len() - 1,
                needed: 12 + profile.rtp_auth_tag_len()
            })
        );
        let mut c = rtcp(1, b"abcd");
        tx.protect_rtcp(&mut c).unwrap();
        for len in 0..c.len() {
            let mut q = c[..len].to_vec();
            let r = rx.unprotect_rtcp(&mut q);
            assert!(
                matches!(
                    r,
                    Err(Error::Truncated { .. } | Error::AuthenticationFailed)
                ),
                "{profile} rtcp len {len}: {r:?}"
            );
        }
    }
}

#[test]
fn bad_version_and_bad_headers() {
    let (mut tx, mut rx) = pair(ProtectionProfile::Aes128CmHmacSha1_80);
    let mut p = rtp(1, 1, b"abc");
    p[0] = 0x40;
    assert_eq!(tx.protect_rtp(&mut p.clone()), Err(Error::BadVersion(1)));
    assert_eq!(rx.unprotect_rtp(&mut p), Err(Error::BadVersion(1)));
    // CSRC count larger than the packet.
    let mut p = rtp(1, 1, &[0; 20]);
    p[0] = 0x8f;
    assert!(matches!(
        tx.protect_rtp(&mut p),
        Err(Error::Truncated { needed: 72, .. })
    ));
    let mut c = rtcp(1, &[0; 30]);
    c[0] = 0x00;
    assert_eq!(rx.unprotect_rtcp(&mut c), Err(Error::BadVersion(0)));
}

#[test]
fn buffers_too_small() {
    let (mut tx, _) = pair(ProtectionProfile::AeadAes128Gcm);
    let p = rtp(1, 1, b"abc");
    let mut buf = [0u8; 64];
    buf[..p.len()].copy_from_slice(&p);
    assert_eq!(
        tx.protect_rtp_in_place(&mut buf[..p.len() + 15], p.len()),
        Err(Error::BufferTooSmall {
            needed: p.len() + 16,
            available: p.len() + 15
        })
    );
    assert_eq!(
        tx.protect_rtp_in_place(&mut buf, 65),
        Err(Error::BufferTooSmall {
            needed: 81,
            available: 64
        })
    );
    let n = tx.protect_rtp_in_place(&mut buf, p.len()).unwrap();
    assert_eq!(n, p.len() + 16);
    let c = rtcp(1, b"");
    buf[..8].copy_from_slice(&c);
    assert!(matches!(
        tx.protect_rtcp_in_place(&mut buf[..27], 8),
        Err(Error::BufferTooSmall { needed: 28, .. })
    ));
}

#[test]
fn wrong_key_fails() {
    let profile = ProtectionProfile::Aes128CmHmacSha1_80;
    let (mut tx, _) = pair(profile);
    let mut rx = Context::new(profile, &[0x12; 16], &[0x22; 14], Config::default()).unwrap();
    let mut p = rtp(1, 1, b"abc");
    tx.protect_rtp(&mut p).unwrap();
    assert_eq!(rx.unprotect_rtp(&mut p), Err(Error::AuthenticationFailed));
}

#[test]
fn bad_keys_are_api_errors() {
    for profile in ProtectionProfile::ALL {
        let key = vec![0; profile.master_key_len()];
        let salt = vec![0; profile.master_salt_len()];
        assert!(matches!(
            Context::new(profile, &key[1..], &salt, Config::default()),
            Err(Error::InvalidKeyLength { .. })
        ));
        assert!(matches!(
            Context::new(profile, &key, &[0; 13], Config::default()),
            Err(Error::InvalidKeyLength { .. })
        ));
    }
    assert_eq!(
        ProtectionProfile::from_id(0x0003),
        Err(Error::UnsupportedProfile(3))
    );
}
