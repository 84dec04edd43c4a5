//! The per-packet cryptographic transforms: AES-CM with HMAC-SHA1
//! (RFC 3711 §4.1.1, §4.2.1) and AEAD AES-GCM (RFC 7714).
//!
//! Every cipher and HMAC is keyed once per context; per packet we only clone
//! the expanded AES key schedule and the keyed HMAC state (no allocation).
//! AES-CM uses RustCrypto's `aes` + `ctr` (AES-NI) and `hmac` + `sha1`
//! (SHA-NI); AES-GCM uses ring, whose AES-GCM is about four times faster
//! than the pure-Rust `aes-gcm` crate on the development machine.

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher};
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::{Error, ProtectionProfile, SessionKeys};

type HmacSha1 = Hmac<Sha1>;

/// Length of the AES-GCM authentication tag (RFC 7714 §14.2).
pub(crate) const GCM_TAG_LEN: usize = 16;

/// One keyed transform, for SRTP or for SRTCP of one direction.
// Two per context, built once and never moved per packet: size is no concern.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum Transform {
    /// AES-128 counter mode with HMAC-SHA1 (RFC 3711).
    Cm {
        aes: aes::Aes128,
        mac: HmacSha1,
        salt: [u8; 14],
    },
    /// AEAD_AES_128_GCM or AEAD_AES_256_GCM (RFC 7714).
    Gcm { aead: LessSafeKey, salt: [u8; 12] },
}

impl Transform {
    /// Keys the transform once with `keys`.
    pub(crate) fn new(keys: &SessionKeys) -> Result<Self, Error> {
        let bad_key = |what, expected, got| Error::InvalidKeyLength {
            what,
            expected,
            got,
        };
        let key = keys.encryption_key();
        let salt = keys.salt();
        Ok(match keys.profile() {
            ProtectionProfile::Aes128CmHmacSha1_80 | ProtectionProfile::Aes128CmHmacSha1_32 => {
                Transform::Cm {
                    aes: aes::Aes128::new_from_slice(key)
                        .map_err(|_| bad_key("session key", 16, key.len()))?,
                    mac: <HmacSha1 as Mac>::new_from_slice(keys.auth_key())
                        .map_err(|_| bad_key("session auth key", 20, keys.auth_key().len()))?,
                    salt: salt
                        .try_into()
                        .map_err(|_| bad_key("session salt", 14, salt.len()))?,
                }
            }
            ProtectionProfile::AeadAes128Gcm | ProtectionProfile::AeadAes256Gcm => {
                let algorithm = if keys.profile() == ProtectionProfile::AeadAes256Gcm {
                    &ring::aead::AES_256_GCM
                } else {
                    &ring::aead::AES_128_GCM
                };
                Transform::Gcm {
                    aead: LessSafeKey::new(
                        UnboundKey::new(algorithm, key)
                            .map_err(|_| bad_key("session key", algorithm.key_len(), key.len()))?,
                    ),
                    salt: salt
                        .try_into()
                        .map_err(|_| bad_key("session salt", 12, salt.len()))?,
                }
            }
        })
    }

    /// AES-CM keystream applied to `data` with
    /// `IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16)` (RFC 3711 §4.1.1).
    fn cm_apply(aes: &aes::Aes128, salt: &[u8; 14], ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        let core = ctr::CtrCore::<aes::Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(
            aes.clone(),
            &iv.into(),
        );
        let mut ctr = ctr::Ctr128BE::<aes::Aes128>::from_core(core);
        ctr.apply_keystream(data);
    }

    /// HMAC-SHA1 over the concatenation of `parts` (callers truncate the tag).
    fn cm_tag(mac: &HmacSha1, parts: &[&[u8]]) -> [u8; 20] {
        let mut mac = mac.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    /// The 12-byte AEAD IV of RFC 7714 §8.1 (SRTP) and §9.1 (SRTCP):
    /// `00 00 || SSRC || word || low16`, XORed with the session salt.
    fn gcm_iv(salt: &[u8; 12], ssrc: u32, word: u32, low: u16) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..10].copy_from_slice(&word.to_be_bytes());
        iv[10..12].copy_from_slice(&low.to_be_bytes());
        for (b, s) in iv.iter_mut().zip(salt) {
            *b ^= s;
        }
        iv
    }

    fn gcm_seal(
        aead: &LessSafeKey,
        iv: [u8; 12],
        aad: &[u8],
        data: &mut [u8],
    ) -> [u8; GCM_TAG_LEN] {
        let nonce = Nonce::assume_unique_for_key(iv);
        // Sealing only fails for inputs over 2^36 bytes, which no datagram reaches.
        let mut out = [0u8; GCM_TAG_LEN];
        if let Ok(tag) = aead.seal_in_place_separate_tag(nonce, Aad::from(aad), data) {
            out.copy_from_slice(tag.as_ref());
        }
        out
    }

    /// Verifies and decrypts `data` in place; on failure ring zeroes `data`.
    fn gcm_open(
        aead: &LessSafeKey,
        iv: [u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        let nonce = Nonce::assume_unique_for_key(iv);
        let tag = ring::aead::Tag::try_from(tag).map_err(|_| Error::AuthenticationFailed)?;
        aead.open_in_place_separate_tag(nonce, Aad::from(aad), tag, data, 0..)
            .map(drop)
            .map_err(|_| Error::AuthenticationFailed)
    }

    /// Protects the RTP packet `buf[..len]` (header `header_len` bytes) with
    /// packet index `index`, writing the tag after it; returns the new length.
    /// The caller has checked that `buf` holds `len + tag_len` bytes.
    pub(crate) fn protect_rtp(
        &self,
        buf: &mut [u8],
        len: usize,
        header_len: usize,
        ssrc: u32,
        index: u64,
        tag_len: usize,
    ) -> usize {
        let roc = (index >> 16) as u32;
        match self {
            Transform::Cm { aes, mac, salt } => {
                Self::cm_apply(aes, salt, ssrc, index, &mut buf[header_len..len]);
                let tag = Self::cm_tag(mac, &[&buf[..len], &roc.to_be_bytes()]);
                buf[len..len + tag_len].copy_from_slice(&tag[..tag_len]);
            }
            Transform::Gcm { aead, salt } => {
                let iv = Self::gcm_iv(salt, ssrc, roc, index as u16);
                let (aad, rest) = buf.split_at_mut(header_len);
                let tag = Self::gcm_seal(aead, iv, aad, &mut rest[..len - header_len]);
                buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
            }
        }
        len + tag_len
    }

    /// Verifies and decrypts the SRTP packet `buf` (tag included) in place;
    /// returns the RTP packet length. The caller has checked
    /// `buf.len() >= header_len + tag_len`.
    pub(crate) fn unprotect_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
        tag_len: usize,
    ) -> Result<usize, Error> {
        let roc = (index >> 16) as u32;
        let len = buf.len() - tag_len;
        match self {
            Transform::Cm { aes, mac, salt } => {
                let expected = Self::cm_tag(mac, &[&buf[..len], &roc.to_be_bytes()]);
                if !bool::from(expected[..tag_len].ct_eq(&buf[len..])) {
                    return Err(Error::AuthenticationFailed);
                }
                Self::cm_apply(aes, salt, ssrc, index, &mut buf[header_len..len]);
            }
            Transform::Gcm { aead, salt } => {
                let iv = Self::gcm_iv(salt, ssrc, roc, index as u16);
                let (aad, rest) = buf.split_at_mut(header_len);
                let (data, tag) = rest.split_at_mut(len - header_len);
                Self::gcm_open(aead, iv, aad, data, tag)?;
            }
        }
        Ok(len)
    }

    /// Protects the RTCP packet `buf[..len]` with SRTCP index `index`, appending
    /// the trailer (`E || SRTCP index` and tag, in the profile's order); returns
    /// the new length. `encrypt` sets the E flag. The caller has checked that
    /// `buf` holds `len + 4 + tag_len` bytes and `len >= 8`.
    pub(crate) fn protect_rtcp(
        &self,
        buf: &mut [u8],
        len: usize,
        ssrc: u32,
        index: u32,
        encrypt: bool,
        tag_len: usize,
    ) -> usize {
        let e_index = (index | if encrypt { 0x8000_0000 } else { 0 }).to_be_bytes();
        match self {
            Transform::Cm { aes, mac, salt } => {
                // RFC 3711 §3.4: ... || E || SRTCP index || MKI || tag.
                if encrypt {
                    Self::cm_apply(aes, salt, ssrc, u64::from(index), &mut buf[8..len]);
                }
                buf[len..len + 4].copy_from_slice(&e_index);
                let tag = Self::cm_tag(mac, &[&buf[..len + 4]]);
                buf[len + 4..len + 4 + tag_len].copy_from_slice(&tag[..tag_len]);
            }
            Transform::Gcm { aead, salt } => {
                // RFC 7714 §9: ... || ciphertext || tag || E || SRTCP index.
                let iv = Self::gcm_iv(salt, ssrc, 0, 0);
                let iv = xor_index(iv, index);
                if encrypt {
                    // AAD: the 8-byte header then E || SRTCP index (§9.2).
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(&buf[..8]);
                    aad[8..].copy_from_slice(&e_index);
                    let tag = Self::gcm_seal(aead, iv, &aad, &mut buf[8..len]);
                    buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
                } else {
                    // AAD: the whole packet then E || SRTCP index (§9.3); put the
                    // index where the tag goes to make the AAD contiguous.
                    buf[len..len + 4].copy_from_slice(&e_index);
                    let tag = Self::gcm_seal(aead, iv, &buf[..len + 4], &mut []);
                    buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
                }
                buf[len + GCM_TAG_LEN..len + GCM_TAG_LEN + 4].copy_from_slice(&e_index);
            }
        }
        len + 4 + tag_len
    }

    /// Verifies and (when the E flag is set) decrypts the SRTCP packet `buf` in
    /// place; returns the RTCP packet length. `e_index` is the packet's
    /// `E || SRTCP index` word. The caller has checked
    /// `buf.len() >= 8 + 4 + tag_len`.
    pub(crate) fn unprotect_rtcp(
        &self,
        buf: &mut [u8],
        ssrc: u32,
        e_index: u32,
        tag_len: usize,
    ) -> Result<usize, Error> {
        let encrypted = e_index & 0x8000_0000 != 0;
        let index = e_index & 0x7fff_ffff;
        let len = buf.len() - tag_len - 4;
        match self {
            Transform::Cm { aes, mac, salt } => {
                let authenticated = buf.len() - tag_len;
                let expected = Self::cm_tag(mac, &[&buf[..authenticated]]);
                if !bool::from(expected[..tag_len].ct_eq(&buf[authenticated..])) {
                    return Err(Error::AuthenticationFailed);
                }
                if encrypted {
                    Self::cm_apply(aes, salt, ssrc, u64::from(index), &mut buf[8..len]);
                }
            }
            Transform::Gcm { aead, salt } => {
                let iv = xor_index(Self::gcm_iv(salt, ssrc, 0, 0), index);
                let mut tag = [0u8; GCM_TAG_LEN];
                tag.copy_from_slice(&buf[len..len + GCM_TAG_LEN]);
                let e_bytes = e_index.to_be_bytes();
                if encrypted {
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(&buf[..8]);
                    aad[8..].copy_from_slice(&e_bytes);
                    Self::gcm_open(aead, iv, &aad, &mut buf[8..len], &tag)?;
                } else {
                    // Make the AAD contiguous as in protect_rtcp, then restore on failure.
                    buf[len..len + 4].copy_from_slice(&e_bytes);
                    let verified = Self::gcm_open(aead, iv, &buf[..len + 4], &mut [], &tag);
                    buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
                    verified?;
                }
            }
        }
        Ok(len)
    }
}

/// XORs the 31-bit SRTCP index into the last four IV bytes (RFC 7714 §9.1:
/// `00 00 || SSRC || 00 00 || 0 || SRTCP index`).
fn xor_index(mut iv: [u8; 12], index: u32) -> [u8; 12] {
    for (b, s) in iv[8..12].iter_mut().zip(index.to_be_bytes()) {
        *b ^= s;
    }
    iv
}
