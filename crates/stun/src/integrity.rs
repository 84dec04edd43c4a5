//! Credentials and the computations behind MESSAGE-INTEGRITY,
//! MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (RFC 8489 §9, §14.5–§14.7).

use core::fmt;

use hmac::digest::generic_array::GenericArray;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::attributes::PasswordAlgorithmId;

/// The value FINGERPRINT's CRC-32 is XORed with (RFC 8489 §14.7).
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

const CRC32: crc::Crc<u32, crc::Table<16>> =
    crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 (ISO HDLC, as in Ethernet) of `parts`, concatenated.
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    let mut d = CRC32.digest();
    for p in parts {
        d.update(p);
    }
    d.finalize()
}

/// The key that signs and verifies MESSAGE-INTEGRITY (HMAC-SHA1) and
/// MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256).
///
/// Build it once per credential and reuse it: the HMAC inner and outer pads
/// are precomputed, so each message costs only the hashing of its own bytes.
#[derive(Clone)]
pub struct IntegrityKey {
    sha1: Hmac<Sha1>,
    sha256: Hmac<Sha256>,
}

impl fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IntegrityKey(..)")
    }
}

/// A 64-byte HMAC key block: the key zero-padded, or hashed first when it is
/// longer than a block (RFC 2104 §2); the result is the same HMAC as with the
/// raw key.
fn key_block<D: Digest>(key: &[u8]) -> [u8; 64] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        let h = D::digest(key);
        let n = h.len().min(64);
        block[..n].copy_from_slice(&h[..n]);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    block
}

impl IntegrityKey {
    /// A key from raw bytes: the password itself for short-term credentials
    /// (RFC 8489 §9.1.1), or a long-term key derived with
    /// [`long_term_key_md5`] / [`long_term_key_sha256`].
    pub fn new(key: &[u8]) -> IntegrityKey {
        let b1 = key_block::<Sha1>(key);
        let b256 = key_block::<Sha256>(key);
        IntegrityKey {
            sha1: <Hmac<Sha1> as KeyInit>::new(GenericArray::from_slice(&b1)),
            sha256: <Hmac<Sha256> as KeyInit>::new(GenericArray::from_slice(&b256)),
        }
    }

    /// Short-term credential key: the password (RFC 8489 §9.1.1; for ICE the
    /// remote or local ice-pwd, RFC 8445 §7.2.2).
    pub fn short_term(password: &str) -> IntegrityKey {
        IntegrityKey::new(password.as_bytes())
    }

    /// Long-term credential key for `algorithm` (RFC 8489 §9.2.2). Strings are
    /// used as given: apply the OpaqueString profile (RFC 8265) beforehand if
    /// they may contain non-ASCII characters. Unknown algorithms fall back to MD5.
    pub fn long_term(
        username: &str,
        realm: &str,
        password: &str,
        algorithm: PasswordAlgorithmId,
    ) -> IntegrityKey {
        if algorithm == PasswordAlgorithmId::SHA256 {
            IntegrityKey::new(&long_term_key_sha256(username, realm, password))
        } else {
            IntegrityKey::new(&long_term_key_md5(username, realm, password))
        }
    }

    /// HMAC-SHA1 of the concatenated parts.
    pub(crate) fn hmac_sha1(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut m = self.sha1.clone();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// Constant-time check of an HMAC-SHA1 tag.
    pub(crate) fn verify_sha1(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut m = self.sha1.clone();
        for p in parts {
            m.update(p);
        }
        m.verify_slice(tag).is_ok()
    }

    /// HMAC-SHA256 of the concatenated parts.
    pub(crate) fn hmac_sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = self.sha256.clone();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// Constant-time check of a (possibly truncated) HMAC-SHA256 tag.
    pub(crate) fn verify_sha256(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut m = self.sha256.clone();
        for p in parts {
            m.update(p);
        }
        m.verify_truncated_left(tag).is_ok()
    }
}

/// The long-term key with the MD5 algorithm: MD5(username ":" realm ":" password)
/// (RFC 8489 §9.2.2).
pub fn long_term_key_md5(username: &str, realm: &str, password: &str) -> [u8; 16] {
    let mut h = Md5::new();
    for (i, p) in [username, realm, password].iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// The long-term key with the SHA-256 algorithm: SHA-256(username ":" realm ":" password)
/// (RFC 8489 §9.2.2).
pub fn long_term_key_sha256(username: &str, realm: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for (i, p) in [username, realm, password].iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_keys_hash_like_hmac() {
        // A key longer than a block must give the same HMAC as the raw key.
        let long = [7u8; 100];
        let k = IntegrityKey::new(&long);
        let mut m = <Hmac<Sha1> as Mac>::new_from_slice(&long).unwrap();
        m.update(b"abc");
        assert_eq!(
            k.hmac_sha1(&[b"abc"]),
            <[u8; 20]>::from(m.finalize().into_bytes())
        );
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&long).unwrap();
        m.update(b"abc");
        assert_eq!(
            k.hmac_sha256(&[b"a", b"bc"]),
            <[u8; 32]>::from(m.finalize().into_bytes())
        );
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
    }
}
