//! Full-packet AES-CM vectors: the packet of libsrtp's `srtp_validate`
//! self-test under the RFC 3711 Appendix B.3 master key, as protected by
//! libsrtp 2.5 (Debian libsrtp2; see interop/libsrtp). The AEAD profiles'
//! full-packet vectors are RFC 7714's, in rfc7714.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::hex;
use fulmar_srtp::{Config, Context, Error, ProtectionProfile};

const MASTER_KEY: &str = "e1f97a0d3e018be0d64fa32c06de4139";
const MASTER_SALT: &str = "0ec675ad498afeebb6960b3aabe6";
const RTP: &str = "800f1234decafbadcafebabe abababab abababab abababab abababab";
const RTCP: &str = "81c8000bcafebabe abababab abababab abababab abababab";

fn context(profile: ProtectionProfile) -> Context {
    Context::new(
        profile,
        &hex(MASTER_KEY),
        &hex(MASTER_SALT),
        Config::default(),
    )
    .unwrap()
}

fn check_rtp(profile: ProtectionProfile, protected: &str) {
    let mut packet = hex(RTP);
    context(profile).protect_rtp(&mut packet).unwrap();
    assert_eq!(packet, hex(protected));
    let mut rx = context(profile);
    rx.unprotect_rtp(&mut packet).unwrap();
    assert_eq!(packet, hex(RTP));
}

#[test]
fn srtp_aes128_cm_hmac_sha1_80() {
    check_rtp(
        ProtectionProfile::Aes128CmHmacSha1_80,
        "800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb",
    );
}

#[test]
fn srtp_aes128_cm_hmac_sha1_32() {
    check_rtp(
        ProtectionProfile::Aes128CmHmacSha1_32,
        "800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc",
    );
}

/// SRTCP with index 1 (libsrtp's first) and the E flag: 80000001.
#[test]
fn srtcp_aes128_cm_hmac_sha1_80() {
    let protected =
        hex("81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798");
    let mut tx = context(ProtectionProfile::Aes128CmHmacSha1_80);
    tx.set_next_srtcp_index(0xcafe_babe, 1).unwrap();
    let mut packet = hex(RTCP);
    tx.protect_rtcp(&mut packet).unwrap();
    assert_eq!(packet, protected);
    let mut rx = context(ProtectionProfile::Aes128CmHmacSha1_80);
    rx.unprotect_rtcp(&mut packet).unwrap();
    assert_eq!(packet, hex(RTCP));
    let mut again = protected;
    assert_eq!(
        rx.unprotect_rtcp(&mut again),
        Err(Error::Replayed { index: 1 })
    );
}
