//! RFC 3711 Appendix B test vectors, byte exact, and RFC 6188 §7.2 for the
//! AES-256 key derivation used by AEAD_AES_256_GCM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::hex;
use fulmar_srtp::{derive_key, Config, Context, ProtectionProfile, SessionKeys};

/// RFC 3711 Appendix B.2: AES-CM keystream with session key 2B7E...3C and
/// session salt F0F1...FCFD. With SSRC 0 and packet index 0 the IV is
/// `F0F1...FCFD0000`, and encrypting a zero payload yields the keystream.
#[test]
fn b2_aes_cm_keystream() {
    let keys = SessionKeys::from_parts(
        ProtectionProfile::Aes128CmHmacSha1_80,
        &hex("2B7E151628AED2A6ABF7158809CF4F3C"),
        &[0; 20],
        &hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"),
    )
    .unwrap();
    let mut ctx = Context::from_session_keys(&keys, &keys, Config::default()).unwrap();
    // SSRC 0, sequence number 0; the payload spans counter blocks 0..=0xFF01.
    let blocks = 0xFF02;
    let mut packet = vec![0x80, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    packet.resize(12 + blocks * 16, 0);
    ctx.protect_rtp(&mut packet).unwrap();
    let keystream = &packet[12..12 + blocks * 16];
    let block = |i: usize| &keystream[i * 16..(i + 1) * 16];
    assert_eq!(block(0), hex("E03EAD0935C95E80E166B16DD92B4EB4"));
    assert_eq!(block(1), hex("D23513162B02D0F72A43A2FE4A5F97AB"));
    assert_eq!(block(2), hex("41E95B3BB0A2E8DD477901E4FCA894C0"));
    assert_eq!(block(0xFEFF), hex("EC8CDF7398607CB0F2D21675EA9EA1E4"));
    assert_eq!(block(0xFF00), hex("362B7C3C6773516318A077D7FC5073AE"));
    assert_eq!(block(0xFF01), hex("6A2CC3787889374FBEB4C81B17BA6C44"));
}

/// RFC 3711 Appendix B.3: key derivation with master key E1F9...4139 and
/// master salt 0EC6...ABE6, index 0, key derivation rate 0.
#[test]
fn b3_key_derivation() {
    let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
    let salt = hex("0EC675AD498AFEEBB6960B3AABE6");

    let mut cipher_key = [0u8; 16];
    derive_key(&key, &salt, 0x00, &mut cipher_key).unwrap();
    assert_eq!(cipher_key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));

    let mut cipher_salt = [0u8; 14];
    derive_key(&key, &salt, 0x02, &mut cipher_salt).unwrap();
    assert_eq!(cipher_salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));

    // The RFC lists 94 octets of authentication key; SHA-1 uses the first 20.
    let mut auth_key = [0u8; 94];
    derive_key(&key, &salt, 0x01, &mut auth_key).unwrap();
    assert_eq!(
        auth_key.to_vec(),
        hex(
            "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE
             E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25
             6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2"
        )
    );

    // The same through the profile-level API.
    let keys =
        SessionKeys::derive_srtp(ProtectionProfile::Aes128CmHmacSha1_80, &key, &salt).unwrap();
    assert_eq!(keys.encryption_key(), &cipher_key[..]);
    assert_eq!(keys.salt(), &cipher_salt[..]);
    assert_eq!(keys.auth_key(), &auth_key[..20]);
}

/// RFC 6188 §7.2: AES-256 key derivation (the PRF AEAD_AES_256_GCM uses).
#[test]
fn rfc6188_aes256_key_derivation() {
    let key = hex("F0F04914B513F2763A1B1FA130F10E2998F6F6E43E4309D1E622A0E332B9F1B6");
    let salt = hex("3B04803DE51EE7C96423AB5B78D2");

    let mut cipher_key = [0u8; 32];
    derive_key(&key, &salt, 0x00, &mut cipher_key).unwrap();
    assert_eq!(
        cipher_key.to_vec(),
        hex("5BA1064E30EC51613CAD926C5A28EF731EC7FB397F70A960653CAF06554CD8C4")
    );
    let mut cipher_salt = [0u8; 14];
    derive_key(&key, &salt, 0x02, &mut cipher_salt).unwrap();
    assert_eq!(cipher_salt.to_vec(), hex("FA31791685CA444A9E07C6C64E93"));
    let mut auth_key = [0u8; 20];
    derive_key(&key, &salt, 0x01, &mut auth_key).unwrap();
    assert_eq!(
        auth_key.to_vec(),
        hex("FD9C32D39ED5FBB5A9DC96B30818454D1313DC05")
    );
}

#[test]
fn derive_key_rejects_bad_lengths() {
    let mut out = [0u8; 16];
    assert!(derive_key(&[0; 24], &[0; 14], 0, &mut out).is_err());
    assert!(derive_key(&[0; 16], &[0; 15], 0, &mut out).is_err());
}
