//! The crypto seam: every primitive the protocol uses goes through this
//! module (currently backed by ring), so another provider can be swapped in
//! without touching the handshake or record code.

use ring::{aead, agreement, digest, hmac, signature};

use crate::error::{Error, Result};
use crate::record::{
    additional_data, record_header, ContentType, ProtocolVersion, RecordFields, RECORD_HEADER_LEN,
};

/// Hash algorithms used by PRF, transcripts and fingerprints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// SHA-1 (fingerprints only).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512 (fingerprints only).
    Sha512,
}

impl HashAlgorithm {
    fn ring(self) -> &'static digest::Algorithm {
        match self {
            HashAlgorithm::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlgorithm::Sha256 => &digest::SHA256,
            HashAlgorithm::Sha384 => &digest::SHA384,
            HashAlgorithm::Sha512 => &digest::SHA512,
        }
    }

    /// Hashes `data`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        digest::digest(self.ring(), data).as_ref().to_vec()
    }

    /// The SDP name (RFC 8122 §5).
    pub fn sdp_name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "sha-1",
            HashAlgorithm::Sha256 => "sha-256",
            HashAlgorithm::Sha384 => "sha-384",
            HashAlgorithm::Sha512 => "sha-512",
        }
    }

    /// From the SDP name, case-insensitively (RFC 8122 §5).
    pub fn from_sdp_name(name: &str) -> Option<Self> {
        [
            HashAlgorithm::Sha1,
            HashAlgorithm::Sha256,
            HashAlgorithm::Sha384,
            HashAlgorithm::Sha512,
        ]
        .into_iter()
        .find(|h| h.sdp_name().eq_ignore_ascii_case(name))
    }

    /// Length of a digest in bytes.
    pub fn digest_len(self) -> usize {
        self.ring().output_len()
    }
}

/// TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed) filling `out`.
pub fn prf(hash: HashAlgorithm, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let alg = match hash {
        HashAlgorithm::Sha384 => hmac::HMAC_SHA384,
        _ => hmac::HMAC_SHA256,
    };
    let key = hmac::Key::new(alg, secret);
    // A(1) = HMAC(secret, label + seed)
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(label);
    ctx.update(seed);
    let mut a = ctx.sign();
    let mut filled = 0;
    while filled < out.len() {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(label);
        ctx.update(seed);
        let block = ctx.sign();
        let n = (out.len() - filled).min(block.as_ref().len());
        out[filled..filled + n].copy_from_slice(&block.as_ref()[..n]);
        filled += n;
        a = hmac::sign(&key, a.as_ref());
    }
}

/// Cipher suites implemented (ECDHE with AEAD ciphers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CipherSuite {
    /// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (0xc02b, RFC 5289).
    EcdheEcdsaAes128GcmSha256,
    /// TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (0xc02c, RFC 5289).
    EcdheEcdsaAes256GcmSha384,
    /// TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 (0xcca9, RFC 7905).
    EcdheEcdsaChacha20Poly1305Sha256,
    /// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 (0xc02f, RFC 5289); client only,
    /// for servers with RSA certificates.
    EcdheRsaAes128GcmSha256,
    /// TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 (0xc030, RFC 5289); client only.
    EcdheRsaAes256GcmSha384,
    /// TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (0xcca8, RFC 7905); client only.
    EcdheRsaChacha20Poly1305Sha256,
}

impl CipherSuite {
    /// All suites, in our preference order (ECDSA first).
    pub const ALL: [CipherSuite; 6] = [
        CipherSuite::EcdheEcdsaAes128GcmSha256,
        CipherSuite::EcdheEcdsaAes256GcmSha384,
        CipherSuite::EcdheEcdsaChacha20Poly1305Sha256,
        CipherSuite::EcdheRsaAes128GcmSha256,
        CipherSuite::EcdheRsaAes256GcmSha384,
        CipherSuite::EcdheRsaChacha20Poly1305Sha256,
    ];

    /// The IANA value.
    pub fn id(self) -> u16 {
        match self {
            CipherSuite::EcdheEcdsaAes128GcmSha256 => 0xc02b,
            CipherSuite::EcdheEcdsaAes256GcmSha384 => 0xc02c,
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256 => 0xcca9,
            CipherSuite::EcdheRsaAes128GcmSha256 => 0xc02f,
            CipherSuite::EcdheRsaAes256GcmSha384 => 0xc030,
            CipherSuite::EcdheRsaChacha20Poly1305Sha256 => 0xcca8,
        }
    }

    /// From the IANA value.
    pub fn from_id(id: u16) -> Option<Self> {
        CipherSuite::ALL.into_iter().find(|s| s.id() == id)
    }

    /// Whether the server authenticates with ECDSA (else RSA).
    pub fn is_ecdsa(self) -> bool {
        matches!(
            self,
            CipherSuite::EcdheEcdsaAes128GcmSha256
                | CipherSuite::EcdheEcdsaAes256GcmSha384
                | CipherSuite::EcdheEcdsaChacha20Poly1305Sha256
        )
    }

    /// PRF and transcript hash.
    pub fn hash(self) -> HashAlgorithm {
        match self {
            CipherSuite::EcdheEcdsaAes256GcmSha384 | CipherSuite::EcdheRsaAes256GcmSha384 => {
                HashAlgorithm::Sha384
            }
            _ => HashAlgorithm::Sha256,
        }
    }

    fn aead(self) -> &'static aead::Algorithm {
        match self {
            CipherSuite::EcdheEcdsaAes128GcmSha256 | CipherSuite::EcdheRsaAes128GcmSha256 => {
                &aead::AES_128_GCM
            }
            CipherSuite::EcdheEcdsaAes256GcmSha384 | CipherSuite::EcdheRsaAes256GcmSha384 => {
                &aead::AES_256_GCM
            }
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256
            | CipherSuite::EcdheRsaChacha20Poly1305Sha256 => &aead::CHACHA20_POLY1305,
        }
    }

    fn is_chacha(self) -> bool {
        matches!(
            self,
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256
                | CipherSuite::EcdheRsaChacha20Poly1305Sha256
        )
    }

    /// Encryption key length.
    pub fn key_len(self) -> usize {
        self.aead().key_len()
    }

    /// Implicit IV length from the key block (RFC 5288 §3: 4; RFC 7905 §2: 12).
    pub fn fixed_iv_len(self) -> usize {
        if self.is_chacha() {
            12
        } else {
            4
        }
    }

    /// Explicit nonce bytes carried in each record.
    pub fn explicit_nonce_len(self) -> usize {
        if self.is_chacha() {
            0
        } else {
            8
        }
    }

    /// Bytes a protected record adds to its plaintext.
    pub fn overhead(self) -> usize {
        self.explicit_nonce_len() + 16
    }
}

/// Bytes of an AEAD tag (AES-GCM and ChaCha20-Poly1305).
const TAG_LEN: usize = 16;

/// What opening a protected record needs besides its bytes.
///
/// The additional data is not among them: built right where the AEAD reads
/// it, it is never moved, because moving 13 bytes splits them into stores
/// of other sizes that the AEAD's reads then stall on.
struct OpenParts {
    nonce: aead::Nonce,
    /// Where the ciphertext lies in the fragment.
    ct: core::ops::Range<usize>,
    tag: aead::Tag,
}

/// One direction's AEAD record protection (RFC 5246 §6.2.3.3).
pub struct RecordCipher {
    suite: CipherSuite,
    key: aead::LessSafeKey,
    /// IV bytes 0..8 and 8..12, big-endian.
    iv_head: u64,
    iv_last: u32,
}

impl core::fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RecordCipher")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

impl RecordCipher {
    /// A cipher from a key and the fixed IV of the key block.
    pub fn new(suite: CipherSuite, key: &[u8], fixed_iv: &[u8]) -> Result<Self> {
        let unbound =
            aead::UnboundKey::new(suite.aead(), key).map_err(|_| Error::Crypto("aead key"))?;
        let mut iv = [0u8; 12];
        let n = fixed_iv.len().min(12);
        iv[..n].copy_from_slice(&fixed_iv[..n]);
        let [h0, h1, h2, h3, h4, h5, h6, h7, l0, l1, l2, l3] = iv;
        Ok(RecordCipher {
            suite,
            key: aead::LessSafeKey::new(unbound),
            iv_head: u64::from_be_bytes([h0, h1, h2, h3, h4, h5, h6, h7]),
            iv_last: u32::from_be_bytes([l0, l1, l2, l3]),
        })
    }

    /// The suite.
    pub fn suite(&self) -> CipherSuite {
        self.suite
    }

    /// The per-record nonce: the 12-byte IV xor the 8-byte explicit part
    /// (epoch and sequence number) padded on the left. For AES-GCM the IV is
    /// the 4-byte salt followed by zeros, which makes this salt || explicit
    /// (RFC 5288 §3); for ChaCha20-Poly1305 it is RFC 7905 §2 as written.
    fn nonce(&self, explicit: [u8; 8]) -> aead::Nonce {
        let explicit = u64::from_be_bytes(explicit);
        // Built as one 8-byte and one 4-byte word, the way ring reads it
        // back: a read spanning two smaller stores defeats the CPU's
        // store-to-load forwarding and stalls every record.
        let head = self.iv_head ^ (explicit >> 32);
        let last = self.iv_last ^ (explicit as u32);
        let mut n = [0u8; 12];
        n[..8].copy_from_slice(&head.to_be_bytes());
        n[8..].copy_from_slice(&last.to_be_bytes());
        aead::Nonce::assume_unique_for_key(n)
    }

    /// Appends a whole protected record (header included) to `out`.
    pub fn seal(
        &self,
        out: &mut Vec<u8>,
        content_type: ContentType,
        version: ProtocolVersion,
        epoch: u16,
        seq: u64,
        plaintext: &[u8],
    ) -> Result<()> {
        let start = out.len();
        let prefix = self.record_prefix_len();
        out.reserve(prefix + plaintext.len() + TAG_LEN);
        out.resize(start + prefix, 0);
        out.extend_from_slice(plaintext);
        self.seal_in_place(out, start, content_type, version, epoch, seq)
    }

    /// Bytes before the plaintext in a protected record: the header and the
    /// explicit nonce.
    pub fn record_prefix_len(&self) -> usize {
        RECORD_HEADER_LEN + self.suite.explicit_nonce_len()
    }

    /// Protects, where it lies, the record that starts at `start` in `buf`:
    /// [`Self::record_prefix_len`] bytes of room, then the plaintext up to
    /// the end of `buf`. The header and explicit nonce are written into the
    /// room and the tag is appended; the plaintext is never copied.
    pub fn seal_in_place(
        &self,
        buf: &mut Vec<u8>,
        start: usize,
        content_type: ContentType,
        version: ProtocolVersion,
        epoch: u16,
        seq: u64,
    ) -> Result<()> {
        let body_start = start + self.record_prefix_len();
        let plain_len = buf
            .len()
            .checked_sub(body_start)
            .ok_or(Error::TooLarge("record"))?;
        let len = u16::try_from(plain_len + self.suite.overhead())
            .map_err(|_| Error::TooLarge("record"))?;
        let mut explicit = [0u8; 8];
        explicit[..2].copy_from_slice(&epoch.to_be_bytes());
        explicit[2..].copy_from_slice(&seq.to_be_bytes()[2..]);
        let header = record_header(content_type, version, epoch, seq, len);
        // Room for the tag: no reallocation between sealing and the tag.
        buf.extend_from_slice(&[0; TAG_LEN]);
        let (prefix, rest) = buf[start..].split_at_mut(body_start - start);
        let (head, explicit_room) = prefix.split_at_mut(RECORD_HEADER_LEN);
        head.copy_from_slice(&header);
        explicit_room.copy_from_slice(&explicit[..explicit_room.len()]);
        let (body, tag_room) = rest.split_at_mut(plain_len);
        let ad = additional_data(content_type, version, epoch, seq, plain_len as u16);
        let sealed =
            self.key
                .seal_in_place_separate_tag(self.nonce(explicit), aead::Aad::from(ad), body);
        // The tag is copied from where ring left it in one piece: moving it
        // out of the result first splits it into loads that stall on ring's
        // single store.
        let Ok(tag) = &sealed else {
            return Err(Error::Crypto("seal"));
        };
        tag_room.copy_from_slice(tag.as_ref());
        Ok(())
    }

    /// The nonce, additional data, ciphertext range and tag of a protected
    /// record whose header is `rec` and whose fragment is `fragment`.
    fn open_parts(&self, rec: &RecordFields, fragment: &[u8]) -> Result<OpenParts> {
        let en = self.suite.explicit_nonce_len();
        let Some(ct_end) = fragment.len().checked_sub(TAG_LEN).filter(|&e| e >= en) else {
            return Err(Error::BadRecordMac);
        };
        let mut explicit = [0u8; 8];
        if en > 0 {
            explicit.copy_from_slice(&fragment[..8]);
        } else {
            explicit[..2].copy_from_slice(&rec.epoch.to_be_bytes());
            explicit[2..].copy_from_slice(&rec.sequence_number.to_be_bytes()[2..]);
        }
        let tag = aead::Tag::try_from(&fragment[ct_end..]).map_err(|_| Error::BadRecordMac)?;
        Ok(OpenParts {
            nonce: self.nonce(explicit),
            ct: en..ct_end,
            tag,
        })
    }

    /// The additional data of the record `rec` with `len` plaintext bytes.
    fn aad(rec: &RecordFields, len: usize) -> aead::Aad<[u8; 13]> {
        aead::Aad::from(additional_data(
            rec.content_type,
            rec.version,
            rec.epoch,
            rec.sequence_number,
            len as u16,
        ))
    }

    /// Opens the protected `fragment` of the record with header `rec` where
    /// it lies, returning the plaintext (moved to the fragment's start): no
    /// copy at all. On failure the fragment's contents are unspecified.
    pub fn open_in_place<'f>(
        &self,
        rec: &RecordFields,
        fragment: &'f mut [u8],
    ) -> Result<&'f mut [u8]> {
        let OpenParts { nonce, ct, tag } = self.open_parts(rec, fragment)?;
        let aad = Self::aad(rec, ct.len());
        let in_out = fragment.get_mut(..ct.end).ok_or(Error::BadRecordMac)?;
        self.key
            .open_in_place_separate_tag(nonce, aad, tag, in_out, ct.start..)
            .map_err(|_| Error::BadRecordMac)
    }
}

/// Named groups (RFC 8422 §5.1.1, RFC 7748).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NamedGroup {
    /// x25519 (29).
    X25519,
    /// secp256r1 (23).
    Secp256r1,
    /// secp384r1 (24).
    Secp384r1,
}

impl NamedGroup {
    /// Our preference order.
    pub const ALL: [NamedGroup; 3] = [
        NamedGroup::X25519,
        NamedGroup::Secp256r1,
        NamedGroup::Secp384r1,
    ];

    /// The IANA value.
    pub fn id(self) -> u16 {
        match self {
            NamedGroup::X25519 => 29,
            NamedGroup::Secp256r1 => 23,
            NamedGroup::Secp384r1 => 24,
        }
    }

    /// From the IANA value.
    pub fn from_id(id: u16) -> Option<Self> {
        NamedGroup::ALL.into_iter().find(|g| g.id() == id)
    }

    fn ring(self) -> &'static agreement::Algorithm {
        match self {
            NamedGroup::X25519 => &agreement::X25519,
            NamedGroup::Secp256r1 => &agreement::ECDH_P256,
            NamedGroup::Secp384r1 => &agreement::ECDH_P384,
        }
    }
}

/// An ephemeral ECDHE key pair.
pub struct KeyExchange {
    group: NamedGroup,
    private: agreement::EphemeralPrivateKey,
    public: Vec<u8>,
}

impl core::fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl KeyExchange {
    /// Generates a key pair on `group` (from the system's secure random source).
    pub fn generate(group: NamedGroup) -> Result<Self> {
        let rng = ring::rand::SystemRandom::new();
        let private = agreement::EphemeralPrivateKey::generate(group.ring(), &rng)
            .map_err(|_| Error::Crypto("ecdhe keygen"))?;
        let public = private
            .compute_public_key()
            .map_err(|_| Error::Crypto("ecdhe public"))?
            .as_ref()
            .to_vec();
        Ok(KeyExchange {
            group,
            private,
            public,
        })
    }

    /// Our public key in wire form.
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The premaster secret with the peer's public key; fails on an invalid point.
    pub fn complete(self, peer: &[u8]) -> Result<Vec<u8>> {
        let peer = agreement::UnparsedPublicKey::new(self.group.ring(), peer);
        agreement::agree_ephemeral(self.private, &peer, |k| k.to_vec()).map_err(|_| {
            Error::protocol(
                crate::alert::AlertDescription::IllegalParameter,
                "invalid ECDHE public key",
            )
        })
    }
}

/// Signature schemes (RFC 8446 §4.2.3 code points, used in TLS 1.2's
/// SignatureAndHashAlgorithm slots).
pub mod scheme {
    /// ecdsa_secp256r1_sha256
    pub const ECDSA_SECP256R1_SHA256: u16 = 0x0403;
    /// ecdsa_secp384r1_sha384
    pub const ECDSA_SECP384R1_SHA384: u16 = 0x0503;
    /// rsa_pkcs1_sha256
    pub const RSA_PKCS1_SHA256: u16 = 0x0401;
    /// rsa_pkcs1_sha384
    pub const RSA_PKCS1_SHA384: u16 = 0x0501;
    /// rsa_pss_rsae_sha256
    pub const RSA_PSS_RSAE_SHA256: u16 = 0x0804;
    /// rsa_pss_rsae_sha384
    pub const RSA_PSS_RSAE_SHA384: u16 = 0x0805;
    /// What we accept from peers, in preference order.
    pub const SUPPORTED: [u16; 6] = [
        ECDSA_SECP256R1_SHA256,
        ECDSA_SECP384R1_SHA384,
        RSA_PSS_RSAE_SHA256,
        RSA_PKCS1_SHA256,
        RSA_PSS_RSAE_SHA384,
        RSA_PKCS1_SHA384,
    ];
}

/// Signs `msg` with an ECDSA P-256 key (ecdsa_secp256r1_sha256, DER signature).
pub fn sign_ecdsa_p256(key: &signature::EcdsaKeyPair, msg: &[u8]) -> Result<Vec<u8>> {
    let rng = ring::rand::SystemRandom::new();
    key.sign(&rng, msg)
        .map(|s| s.as_ref().to_vec())
        .map_err(|_| Error::Crypto("sign"))
}

/// Loads a PKCS#8 ECDSA P-256 private key.
pub fn ecdsa_p256_key(pkcs8: &[u8]) -> Result<signature::EcdsaKeyPair> {
    let rng = ring::rand::SystemRandom::new();
    signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
        .map_err(|_| Error::Certificate("not a PKCS#8 ECDSA P-256 key"))
}

/// The kind of public key in a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
    /// RSA.
    Rsa,
}

/// Verifies a TLS 1.2 signature of `scheme` by a public key of `kind`
/// (`key` is the SubjectPublicKeyInfo's BIT STRING contents).
pub fn verify(kind: KeyKind, key: &[u8], scheme: u16, msg: &[u8], sig: &[u8]) -> Result<()> {
    use signature as s;
    // In TLS 1.2, an ECDSA scheme names the hash only; the curve comes from the key.
    let alg: &dyn s::VerificationAlgorithm = match (kind, scheme) {
        (KeyKind::EcdsaP256, scheme::ECDSA_SECP256R1_SHA256) => &s::ECDSA_P256_SHA256_ASN1,
        (KeyKind::EcdsaP256, scheme::ECDSA_SECP384R1_SHA384) => &s::ECDSA_P256_SHA384_ASN1,
        (KeyKind::EcdsaP384, scheme::ECDSA_SECP256R1_SHA256) => &s::ECDSA_P384_SHA256_ASN1,
        (KeyKind::EcdsaP384, scheme::ECDSA_SECP384R1_SHA384) => &s::ECDSA_P384_SHA384_ASN1,
        (KeyKind::Rsa, scheme::RSA_PKCS1_SHA256) => &s::RSA_PKCS1_2048_8192_SHA256,
        (KeyKind::Rsa, scheme::RSA_PKCS1_SHA384) => &s::RSA_PKCS1_2048_8192_SHA384,
        (KeyKind::Rsa, scheme::RSA_PSS_RSAE_SHA256) => &s::RSA_PSS_2048_8192_SHA256,
        (KeyKind::Rsa, scheme::RSA_PSS_RSAE_SHA384) => &s::RSA_PSS_2048_8192_SHA384,
        _ => {
            return Err(Error::protocol(
                crate::alert::AlertDescription::IllegalParameter,
                "signature scheme does not match the certificate key",
            ))
        }
    };
    s::UnparsedPublicKey::new(alg, key)
        .verify(msg, sig)
        .map_err(|_| {
            Error::protocol(
                crate::alert::AlertDescription::DecryptError,
                "bad signature",
            )
        })
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut acc = 0u8;
    for (x, y) in a.iter().zip(b) {
        acc |= x ^ y;
    }
    core::hint::black_box(acc) == 0
}

/// HMAC-SHA256 of `data` under `key` (for stateless cookies).
pub fn hmac_sha256(key: &[u8], data: &[&[u8]]) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&k);
    for d in data {
        ctx.update(d);
    }
    ctx.sign().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPLICIT: [u8; 8] = [0x00, 0x01, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78];

    #[test]
    fn aes_gcm_nonce_is_salt_then_explicit_part() {
        let suite = CipherSuite::EcdheEcdsaAes128GcmSha256;
        let c = RecordCipher::new(suite, &[0u8; 16], &[0xa1, 0xa2, 0xa3, 0xa4]).unwrap();
        let n = c.nonce(EXPLICIT);
        let want = [0xa1, 0xa2, 0xa3, 0xa4, 0, 1, 0, 0, 0x12, 0x34, 0x56, 0x78];
        assert_eq!(n.as_ref(), &want);
    }

    #[test]
    fn sealing_in_place_matches_sealing_a_copy_and_opens() {
        for suite in [
            CipherSuite::EcdheEcdsaAes128GcmSha256,
            CipherSuite::EcdheEcdsaChacha20Poly1305Sha256,
        ] {
            let key = vec![7u8; suite.key_len()];
            let c = RecordCipher::new(suite, &key, &[1; 12]).unwrap();
            let (ct, v) = (ContentType::ApplicationData, ProtocolVersion::DTLS1_2);
            let plaintext: Vec<u8> = (0..1184u32).map(|i| i as u8).collect();
            let mut copied = b"earlier record".to_vec();
            c.seal(&mut copied, ct, v, 1, 5, &plaintext).unwrap();
            let mut in_place = vec![0u8; c.record_prefix_len()];
            in_place.extend_from_slice(&plaintext);
            c.seal_in_place(&mut in_place, 0, ct, v, 1, 5).unwrap();
            assert_eq!(&copied[14..], &in_place[..]);
            let (rec, rest) = crate::record::Record::parse(&in_place).unwrap();
            assert!(rest.is_empty());
            let fields = RecordFields::of(&rec);
            let fragment = &mut in_place[RECORD_HEADER_LEN..];
            let opened = c.open_in_place(&fields, fragment).unwrap();
            assert_eq!(opened, &plaintext[..]);
        }
    }

    #[test]
    fn chacha_nonce_is_iv_xor_padded_sequence() {
        let suite = CipherSuite::EcdheEcdsaChacha20Poly1305Sha256;
        let iv: [u8; 12] = core::array::from_fn(|i| 0xf0 | i as u8);
        let c = RecordCipher::new(suite, &[0u8; 32], &iv).unwrap();
        let n = c.nonce(EXPLICIT);
        let mut want = iv;
        for (w, e) in want[4..].iter_mut().zip(EXPLICIT) {
            *w ^= e;
        }
        assert_eq!(n.as_ref(), &want);
    }
}
