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

/// CRC-32 (ISO HDLC, as in Ethernet) of `parts`, concatenated.
pub(crate) fn crc32(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

/// SHA-1 initial state (FIPS 180-4 §5.3.1).
const SHA1_IV: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// One 64-byte SHA-1 input block.
type Block = GenericArray<u8, hmac::digest::consts::U64>;

fn sha1_block(state: &mut [u32; 5], block: &Block) {
    sha1::compress(state, core::slice::from_ref(block));
}

/// HMAC-SHA1 (RFC 2104) with the inner and outer states precomputed: a STUN
/// message of up to ~100 bytes costs three SHA-1 compressions and no setup.
#[derive(Clone)]
struct HmacSha1 {
    inner: [u32; 5],
    outer: [u32; 5],
}

impl HmacSha1 {
    fn new(key: &[u8]) -> Self {
        let k = key_block::<Sha1>(key);
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5Cu8; 64];
        for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(k) {
            *i ^= k;
            *o ^= k;
        }
        let mut inner = SHA1_IV;
        sha1_block(&mut inner, &Block::from(ipad));
        let mut outer = SHA1_IV;
        sha1_block(&mut outer, &Block::from(opad));
        HmacSha1 { inner, outer }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut st = self.inner;
        let mut buf = Block::default();
        let mut fill = 0usize;
        let mut total = 64u64; // the ipad block
        for part in parts {
            let mut p: &[u8] = part;
            total += p.len() as u64;
            if fill > 0 {
                let n = (64 - fill).min(p.len());
                buf[fill..fill + n].copy_from_slice(&p[..n]);
                fill += n;
                p = &p[n..];
                if fill < 64 {
                    continue;
                }
                sha1_block(&mut st, &buf);
            }
            let mut chunks = p.chunks_exact(64);
            for c in &mut chunks {
                sha1_block(&mut st, Block::from_slice(c));
            }
            let rest = chunks.remainder();
            buf[..rest.len()].copy_from_slice(rest);
            fill = rest.len();
        }
        // Padding: 0x80, zeros, 64-bit big-endian bit length (FIPS 180-4 §5.1.1).
        buf[fill] = 0x80;
        buf[fill + 1..].fill(0);
        if fill >= 56 {
            sha1_block(&mut st, &buf);
            buf = Block::default();
        }
        buf[56..].copy_from_slice(&(total * 8).to_be_bytes());
        sha1_block(&mut st, &buf);

        let mut ob = Block::default();
        for (o, w) in ob.chunks_exact_mut(4).zip(st) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        ob[20] = 0x80;
        ob[56..].copy_from_slice(&((64u64 + 20) * 8).to_be_bytes());
        let mut st = self.outer;
        sha1_block(&mut st, &ob);
        let mut out = [0u8; 20];
        for (o, w) in out.chunks_exact_mut(4).zip(st) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

/// The key that signs and verifies MESSAGE-INTEGRITY (HMAC-SHA1) and
/// MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256).
///
/// Build it once per credential and reuse it: the HMAC inner and outer pads
/// (HMAC-SHA1) are precomputed, so each message costs only the hashing of its
/// own bytes: three SHA-1 compressions for a typical ICE check.
#[derive(Clone)]
pub struct IntegrityKey {
    sha1: HmacSha1,
    /// The HMAC-SHA256 key block; its pads are computed only when used, as
    /// MESSAGE-INTEGRITY-SHA256 is rare next to MESSAGE-INTEGRITY.
    sha256_block: [u8; 64],
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
        IntegrityKey {
            sha1: HmacSha1::new(key),
            sha256_block: key_block::<Sha256>(key),
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
        self.sha1.mac(parts)
    }

    /// Constant-time check of an HMAC-SHA1 tag.
    pub(crate) fn verify_sha1(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        let mac = self.sha1.mac(parts);
        if tag.len() != mac.len() {
            return false;
        }
        // Branch-free accumulation of the differences, one final comparison.
        let diff = mac.iter().zip(tag).fold(0u8, |d, (a, b)| d | (a ^ b));
        bool::from(diff.ct_eq(&0))
    }

    fn sha256(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new(GenericArray::from_slice(&self.sha256_block))
    }

    /// HMAC-SHA256 of the concatenated parts.
    pub(crate) fn hmac_sha256(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = self.sha256();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// Constant-time check of a (possibly truncated) HMAC-SHA256 tag.
    pub(crate) fn verify_sha256(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut m = self.sha256();
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
    fn hmac_sha1_matches_rustcrypto_for_every_length() {
        // Split points and lengths around the 55/56/64-byte padding edges.
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for key_len in [0usize, 1, 20, 64, 65, 100] {
            let key = &data[..key_len];
            let k = IntegrityKey::new(key);
            for len in 0..200 {
                let mut m = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap();
                m.update(&data[..len]);
                let want: [u8; 20] = m.finalize().into_bytes().into();
                let split = len / 3;
                assert_eq!(k.hmac_sha1(&[&data[..split], &data[split..len]]), want);
                assert!(k.verify_sha1(&[&data[..len]], &want));
                assert!(!k.verify_sha1(&[&data[..len]], &want[..19]));
            }
        }
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
    }
}
