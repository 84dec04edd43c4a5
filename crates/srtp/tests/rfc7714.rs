//! RFC 7714 §16 (SRTP) and §17 (SRTCP) AES-GCM test vectors, byte exact.
//! The vectors give session keys directly, so the contexts are built with
//! [`SessionKeys::from_parts`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::hex;
use fulmar_srtp::{Config, Context, Error, ProtectionProfile, SessionKeys};

const KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
const KEY_256: &str = "000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f";
/// "Quid pro quo".
const SALT: &str = "517569642070726f2071756f";

/// §16: the RTP packet (SSRC 0x5501a0b2, SEQ 0xf17b, ROC 0), "Gallia est omnis divisa in partes tres".
const RTP: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
                   20646976 69736120 696e2070 61727465 73207472 6573";
/// §17: the RTCP packet (SSRC "Mars"), sent with SRTCP index 0x5d4.
const RTCP: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
                    4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";
const RTCP_SSRC: u32 = 0x4d61_7273;

fn context(profile: ProtectionProfile, key: &str, config: Config) -> Context {
    let keys = SessionKeys::from_parts(profile, &hex(key), &[], &hex(SALT)).unwrap();
    Context::from_session_keys(&keys, &keys, config).unwrap()
}

fn gcm128(config: Config) -> Context {
    context(ProtectionProfile::AeadAes128Gcm, KEY_128, config)
}

fn gcm256(config: Config) -> Context {
    context(ProtectionProfile::AeadAes256Gcm, KEY_256, config)
}

fn check_rtp(mut ctx: Context, mut rx: Context, protected: &str) {
    let mut packet = hex(RTP);
    ctx.protect_rtp(&mut packet).unwrap();
    assert_eq!(packet, hex(protected));
    rx.unprotect_rtp(&mut packet).unwrap();
    assert_eq!(packet, hex(RTP));
}

fn check_rtcp(mut ctx: Context, mut rx: Context, protected: &str) {
    ctx.set_next_srtcp_index(RTCP_SSRC, 0x5d4).unwrap();
    let mut packet = hex(RTCP);
    ctx.protect_rtcp(&mut packet).unwrap();
    assert_eq!(packet, hex(protected));
    assert_eq!(ctx.next_srtcp_index(RTCP_SSRC), 0x5d5);
    rx.unprotect_rtcp(&mut packet).unwrap();
    assert_eq!(packet, hex(RTCP));
    // And the second delivery is a replay.
    let mut again = hex(protected);
    assert_eq!(
        rx.unprotect_rtcp(&mut again),
        Err(Error::Replayed { index: 0x5d4 })
    );
}

/// §16.1.1 / §16.1.2: AEAD_AES_128_GCM encryption and decryption.
#[test]
fn srtp_aead_aes_128_gcm() {
    check_rtp(
        gcm128(Config::default()),
        gcm128(Config::default()),
        "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca
         be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1
         6a9152cf 765ee439 0cce",
    );
}

/// §16.2.1 / §16.2.2: AEAD_AES_256_GCM encryption and decryption.
#[test]
fn srtp_aead_aes_256_gcm() {
    check_rtp(
        gcm256(Config::default()),
        gcm256(Config::default()),
        "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa
         b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff
         d6b0f9bb 7878d7a7 6c13",
    );
}

/// §17.1: SRTCP AEAD_AES_128_GCM, E flag set.
#[test]
fn srtcp_aead_aes_128_gcm_encrypted() {
    check_rtcp(
        gcm128(Config::default()),
        gcm128(Config::default()),
        "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7
         6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458
         96cf4d2f c5abf872 45d9eade 800005d4",
    );
}

/// §17.2: SRTCP AEAD_AES_256_GCM, E flag set.
#[test]
fn srtcp_aead_aes_256_gcm_encrypted() {
    check_rtcp(
        gcm256(Config::default()),
        gcm256(Config::default()),
        "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d
         bffe0a50 a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c
         4446839f 57ff6f6c b26ac3be 800005d4",
    );
}

/// §17.3: SRTCP AEAD_AES_128_GCM, authentication only (E flag clear).
#[test]
fn srtcp_aead_aes_128_gcm_auth_only() {
    check_rtcp(
        gcm128(Config::default().with_encrypt_rtcp(false)),
        gcm128(Config::default()),
        "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
         4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef 841dd968
         3dd78ec9 2ae58790 125f62b3 000005d4",
    );
}

/// §17.4: SRTCP AEAD_AES_256_GCM, authentication only (E flag clear).
#[test]
fn srtcp_aead_aes_256_gcm_auth_only() {
    check_rtcp(
        gcm256(Config::default().with_encrypt_rtcp(false)),
        gcm256(Config::default()),
        "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
         4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef 91db4afb
         feee5a97 8fab4393 ed2615fe 000005d4",
    );
}

/// Flipping the E flag of an authentication-only packet must not verify, and
/// a failed authentication-only check leaves the packet as it was.
#[test]
fn srtcp_auth_only_tamper_leaves_packet_intact() {
    let mut tx = gcm128(Config::default().with_encrypt_rtcp(false));
    tx.set_next_srtcp_index(RTCP_SSRC, 0x5d4).unwrap();
    let mut packet = hex(RTCP);
    tx.protect_rtcp(&mut packet).unwrap();
    let original = packet.clone();
    packet[20] ^= 1;
    let tampered = packet.clone();
    let mut rx = gcm128(Config::default());
    assert_eq!(
        rx.unprotect_rtcp(&mut packet),
        Err(Error::AuthenticationFailed)
    );
    assert_eq!(packet, tampered);
    rx.unprotect_rtcp(&mut original.clone()).unwrap();
}
