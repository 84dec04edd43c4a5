//! proptest: protect then unprotect is the identity for random RTP/RTCP
//! packets (CSRCs, header extensions, any payload) under every profile, and
//! DTLS-SRTP keying material splits into matching local/remote contexts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use fulmar_srtp::{
    Config, Context, Error, KeyingMaterial, MasterKey, ProtectionProfile, MAX_KEYING_MATERIAL_LEN,
};
use proptest::prelude::*;

fn profile() -> impl Strategy<Value = ProtectionProfile> {
    prop::sample::select(ProtectionProfile::ALL.to_vec())
}

prop_compose! {
    /// A well-formed RTP packet: header, CSRCs, optional extension, payload.
    fn rtp_packet()(
        marker_pt in any::<u8>(),
        seq in any::<u16>(),
        ts in any::<u32>(),
        ssrc in any::<u32>(),
        csrcs in prop::collection::vec(any::<u32>(), 0..=15),
        ext in prop::option::of((any::<u16>(), prop::collection::vec(any::<u32>(), 0..8))),
        payload in prop::collection::vec(any::<u8>(), 0..1300),
    ) -> Vec<u8> {
        let mut p = vec![0x80 | csrcs.len() as u8 | if ext.is_some() { 0x10 } else { 0 }, marker_pt];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        for c in &csrcs {
            p.extend_from_slice(&c.to_be_bytes());
        }
        if let Some((profile, words)) = &ext {
            p.extend_from_slice(&profile.to_be_bytes());
            p.extend_from_slice(&(words.len() as u16).to_be_bytes());
            for w in words {
                p.extend_from_slice(&w.to_be_bytes());
            }
        }
        p.extend_from_slice(&payload);
        p
    }
}

prop_compose! {
    fn rtcp_packet()(
        first in 0x80u8..=0xbf,
        pt in any::<u8>(),
        ssrc in any::<u32>(),
        body in prop::collection::vec(any::<u8>(), 0..600),
    ) -> Vec<u8> {
        let mut p = vec![first, pt, 0, 0];
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&body);
        p
    }
}

fn pair(profile: ProtectionProfile, seed: u8, config: Config) -> (Context, Context) {
    let key: Vec<u8> = (0..profile.master_key_len() as u8)
        .map(|i| i.wrapping_mul(seed))
        .collect();
    let salt: Vec<u8> = (0..profile.master_salt_len() as u8)
        .map(|i| i ^ seed)
        .collect();
    (
        Context::new(profile, &key, &salt, config).unwrap(),
        Context::new(profile, &key, &salt, config).unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn rtp_roundtrip(profile in profile(), seed in any::<u8>(), packet in rtp_packet()) {
        let (mut tx, mut rx) = pair(profile, seed, Config::default());
        let mut buf = Vec::with_capacity(packet.len() + profile.rtp_overhead());
        buf.extend_from_slice(&packet);
        let capacity = buf.capacity();
        tx.protect_rtp(&mut buf).unwrap();
        prop_assert_eq!(buf.capacity(), capacity, "no reallocation with headroom");
        prop_assert_eq!(buf.len(), packet.len() + profile.rtp_overhead());
        let header_len = fulmar_srtp::RtpHeader::parse(&packet).unwrap().header_len;
        prop_assert_eq!(&buf[..header_len], &packet[..header_len], "header stays clear");
        rx.unprotect_rtp(&mut buf).unwrap();
        prop_assert_eq!(&buf, &packet);
    }

    #[test]
    fn rtcp_roundtrip(
        profile in profile(),
        seed in any::<u8>(),
        packet in rtcp_packet(),
        encrypt in any::<bool>(),
    ) {
        let config = Config::default().with_encrypt_rtcp(encrypt);
        let (mut tx, mut rx) = pair(profile, seed, config);
        let mut buf = BytesMut::with_capacity(packet.len() + profile.rtcp_overhead());
        buf.extend_from_slice(&packet);
        tx.protect_rtcp(&mut buf).unwrap();
        prop_assert_eq!(buf.len(), packet.len() + profile.rtcp_overhead());
        rx.unprotect_rtcp(&mut buf).unwrap();
        prop_assert_eq!(&buf[..], &packet[..]);
    }

    /// Random bytes into an unprotect context: a typed error or, for the
    /// astronomically unlikely valid forgery, a shorter packet; never a panic.
    #[test]
    fn garbage_is_rejected(profile in profile(), data in prop::collection::vec(any::<u8>(), 0..200)) {
        let (_, mut rx) = pair(profile, 3, Config::default());
        let mut a = data.clone();
        prop_assert!(rx.unprotect_rtp_in_place(&mut a).is_err());
        let mut b = data;
        prop_assert!(rx.unprotect_rtcp_in_place(&mut b).is_err());
        prop_assert_eq!(rx.stream_count(), 0);
    }

    /// A stream of packets with random sequence steps (forward jumps below
    /// 2^15 and reordering within the window) keeps both ROCs in step.
    #[test]
    fn roc_tracks_random_walks(start in any::<u16>(), steps in prop::collection::vec(1u16..3000, 1..60)) {
        let (mut tx, mut rx) = pair(ProtectionProfile::Aes128CmHmacSha1_80, 1, Config::default());
        let mut seq = start;
        let mut pending: Option<Vec<u8>> = None;
        for (i, step) in steps.iter().enumerate() {
            seq = seq.wrapping_add(*step);
            let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa, 0xbb];
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            tx.protect_rtp(&mut p).unwrap();
            // Hold every third packet back and deliver it after the next one
            // (never the first: a receiver starts with ROC 0, RFC 3711 §3.3.1).
            if i % 3 == 1 {
                if let Some(mut old) = pending.replace(p) {
                    rx.unprotect_rtp(&mut old).unwrap();
                }
            } else {
                rx.unprotect_rtp(&mut p).unwrap();
                if let Some(mut old) = pending.take() {
                    let r = rx.unprotect_rtp(&mut old);
                    // Late by one step, but the step may exceed the 64-packet window.
                    let acceptable = r.is_ok() || matches!(r, Err(Error::TooOld { .. }));
                    prop_assert!(acceptable, "{:?}", r);
                }
            }
        }
        if let Some(mut old) = pending {
            let r = rx.unprotect_rtp(&mut old);
            prop_assert!(r.is_ok(), "{:?}", r);
        }
        prop_assert_eq!(rx.received_index(1).map(|i| i & 0xffff), Some(u64::from(seq)));
        prop_assert_eq!(rx.received_index(1), tx.sent_index(1));
    }
}

#[test]
fn dtls_srtp_keying_material_split() {
    for profile in ProtectionProfile::ALL {
        let material: Vec<u8> = (0..profile.keying_material_len() as u8).collect();
        assert!(material.len() <= MAX_KEYING_MATERIAL_LEN);
        let keys = KeyingMaterial::split(profile, &material).unwrap();
        let (k, s) = (profile.master_key_len(), profile.master_salt_len());
        // RFC 5764 §4.2: client key, server key, client salt, server salt.
        assert_eq!(keys.client_write.key, &material[..k]);
        assert_eq!(keys.server_write.key, &material[k..2 * k]);
        assert_eq!(keys.client_write.salt, &material[2 * k..2 * k + s]);
        assert_eq!(keys.server_write.salt, &material[2 * k + s..]);

        // The client sends with client_write and receives with server_write;
        // the server the other way round.
        let cfg = Config::default();
        let mut client_tx = keys.client_write.context(profile, cfg).unwrap();
        let mut client_rx = keys.server_write.context(profile, cfg).unwrap();
        let mut server_tx = keys.server_write.context(profile, cfg).unwrap();
        let mut server_rx = keys.client_write.context(profile, cfg).unwrap();
        let rtp = vec![0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3];
        let mut p = rtp.clone();
        client_tx.protect_rtp(&mut p).unwrap();
        let mut wrong = p.clone();
        assert_eq!(
            client_rx.unprotect_rtp(&mut wrong),
            Err(Error::AuthenticationFailed),
            "the client does not accept its own key"
        );
        server_rx.unprotect_rtp(&mut p).unwrap();
        assert_eq!(p, rtp);
        server_tx.protect_rtp(&mut p).unwrap();
        client_rx.unprotect_rtp(&mut p).unwrap();
        assert_eq!(p, rtp);

        assert!(matches!(
            KeyingMaterial::split(profile, &material[1..]),
            Err(Error::InvalidKeyLength { .. })
        ));
        assert_eq!(ProtectionProfile::from_id(profile.id()), Ok(profile));

        // Keys handed over separately key contexts too, their lengths checked.
        let short = MasterKey {
            salt: &keys.server_write.salt[1..],
            ..keys.server_write
        };
        assert!(matches!(
            short.context(profile, cfg),
            Err(Error::InvalidKeyLength {
                what: "master salt",
                ..
            })
        ));
    }
}
