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
        /// The expanded encryption key (encryption only: counter mode never decrypts).
        aes: aes::Aes128Enc,
        /// HMAC-SHA1 keyed with the session authentication key.
        mac: HmacSha1,
        /// The 112-bit session salt as the top of a 128-bit counter block: `k_s * 2^16`.
        salt: u128,
    },
    /// AEAD_AES_128_GCM or AEAD_AES_256_GCM (RFC 7714).
    Gcm {
        /// The expanded AES-GCM key.
        aead: LessSafeKey,
        /// The 96-bit session salt.
        salt: u128,
    },
}

/// A salt of at most 16 bytes read as a big-endian integer.
fn salt_int(salt: &[u8]) -> u128 {
    salt.iter().fold(0, |acc, &b| (acc << 8) | u128::from(b))
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
                if salt.len() != 14 {
                    return Err(bad_key("session salt", 14, salt.len()));
                }
                Transform::Cm {
                    aes: aes::Aes128Enc::new_from_slice(key)
                        .map_err(|_| bad_key("session key", 16, key.len()))?,
                    mac: <HmacSha1 as Mac>::new_from_slice(keys.auth_key())
                        .map_err(|_| bad_key("session auth key", 20, keys.auth_key().len()))?,
                    salt: salt_int(salt) << 16,
                }
            }
            ProtectionProfile::AeadAes128Gcm | ProtectionProfile::AeadAes256Gcm => {
                let algorithm = if keys.profile() == ProtectionProfile::AeadAes256Gcm {
                    &ring::aead::AES_256_GCM
                } else {
                    &ring::aead::AES_128_GCM
                };
                if salt.len() != 12 {
                    return Err(bad_key("session salt", 12, salt.len()));
                }
                Transform::Gcm {
                    aead: LessSafeKey::new(
                        UnboundKey::new(algorithm, key)
                            .map_err(|_| bad_key("session key", algorithm.key_len(), key.len()))?,
                    ),
                    salt: salt_int(salt),
                }
            }
        })
    }

    /// AES-CM keystream applied to `data` with
    /// `IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16)` (RFC 3711 §4.1.1);
    /// `salt` is `k_s * 2^16` and `index` the 48-bit packet index (or, for
    /// SRTCP, the 31-bit SRTCP index, §4.1).
    #[inline]
    fn cm_apply(aes: &aes::Aes128Enc, salt: u128, ssrc: u32, index: u64, data: &mut [u8]) {
        let iv = salt ^ (u128::from(ssrc) << 64) ^ (u128::from(index) << 16);
        let core = ctr::CtrCore::<aes::Aes128Enc, ctr::flavors::Ctr128BE>::inner_iv_init(
            aes.clone(),
            &iv.to_be_bytes().into(),
        );
        let mut ctr = ctr::Ctr128BE::<aes::Aes128Enc>::from_core(core);
        ctr.apply_keystream(data);
    }

    /// HMAC-SHA1 over `data` then the optional rollover counter (callers truncate the tag).
    #[inline]
    fn cm_tag(mac: &HmacSha1, data: &[u8], roc: Option<u32>) -> [u8; 20] {
        let mut mac = mac.clone();
        mac.update(data);
        if let Some(roc) = roc {
            mac.update(&roc.to_be_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// The 12-byte AEAD IV of RFC 7714 §8.1 (SRTP) and §9.1 (SRTCP):
    /// `00 00 || SSRC || ROC || SEQ` (SRTP, `index = ROC * 2^16 + SEQ`) or
    /// `00 00 || SSRC || 00 00 || 0 || SRTCP index`, XORed with the 96-bit salt.
    #[inline]
    fn gcm_nonce(salt: u128, ssrc: u32, index: u64) -> Nonce {
        let iv = salt ^ (u128::from(ssrc) << 48) ^ u128::from(index & 0xffff_ffff_ffff);
        let bytes = iv.to_be_bytes();
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&bytes[4..]);
        Nonce::assume_unique_for_key(nonce)
    }

    /// Encrypts `data` in place and writes the 16-byte tag to the start of `tag_out`
    /// (at least 16 bytes, as the callers check).
    #[inline]
    fn gcm_seal(aead: &LessSafeKey, nonce: Nonce, aad: &[u8], data: &mut [u8], tag_out: &mut [u8]) {
        // Sealing only fails for inputs over 2^36 bytes, which no datagram
        // reaches; the tag is then left as it was and will not verify.
        if let (Ok(tag), Some(out)) = (
            aead.seal_in_place_separate_tag(nonce, Aad::from(aad), data),
            tag_out.get_mut(..GCM_TAG_LEN),
        ) {
            out.copy_from_slice(tag.as_ref());
        }
    }

    /// Verifies and decrypts `data` in place; on failure ring zeroes `data`.
    #[inline]
    fn gcm_open(
        aead: &LessSafeKey,
        nonce: Nonce,
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        let tag = ring::aead::Tag::try_from(tag).map_err(|_| Error::AuthenticationFailed)?;
        aead.open_in_place_separate_tag(nonce, Aad::from(aad), tag, data, 0..)
            .map(drop)
            .map_err(|_| Error::AuthenticationFailed)
    }

    /// Protects the RTP packet `buf[..len]` (header `header_len` bytes) with
    /// packet index `index`, writing the tag after it; returns the new length.
    /// The caller has checked that `buf` holds `len + tag_len` bytes and that
    /// `header_len <= len`.
    #[inline]
    pub(crate) fn protect_rtp(
        &self,
        buf: &mut [u8],
        len: usize,
        header_len: usize,
        ssrc: u32,
        index: u64,
        tag_len: usize,
    ) -> usize {
        let (packet, trailer) = buf.split_at_mut(len);
        let (header, payload) = packet.split_at_mut(header_len);
        match self {
            Transform::Cm { aes, mac, salt } => {
                Self::cm_apply(aes, *salt, ssrc, index, payload);
                // RFC 3711 §4.2: the tag covers the packet then the ROC.
                let tag = Self::cm_tag(mac, packet, Some((index >> 16) as u32));
                trailer[..tag_len].copy_from_slice(&tag[..tag_len]);
            }
            Transform::Gcm { aead, salt } => {
                // RFC 7714 §8: the header is the AAD, the payload the plaintext.
                let nonce = Self::gcm_nonce(*salt, ssrc, index);
                Self::gcm_seal(aead, nonce, header, payload, trailer);
            }
        }
        len + tag_len
    }

    /// Verifies and decrypts the SRTP packet `buf` (tag included) in place;
    /// returns the RTP packet length. The caller has checked
    /// `buf.len() >= header_len + tag_len`.
    #[inline]
    pub(crate) fn unprotect_rtp(
        &self,
        buf: &mut [u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
        tag_len: usize,
    ) -> Result<usize, Error> {
        let len = buf.len() - tag_len;
        let (packet, tag) = buf.split_at_mut(len);
        match self {
            Transform::Cm { aes, mac, salt } => {
                let expected = Self::cm_tag(mac, packet, Some((index >> 16) as u32));
                if !bool::from(expected[..tag_len].ct_eq(tag)) {
                    return Err(Error::AuthenticationFailed);
                }
                Self::cm_apply(aes, *salt, ssrc, index, &mut packet[header_len..]);
            }
            Transform::Gcm { aead, salt } => {
                let nonce = Self::gcm_nonce(*salt, ssrc, index);
                let (header, payload) = packet.split_at_mut(header_len);
                Self::gcm_open(aead, nonce, header, payload, tag)?;
            }
        }
        Ok(len)
    }

    /// Protects the RTCP packet `buf[..len]` with SRTCP index `index`, appending
    /// the trailer (`E || SRTCP index` and tag, in the profile's order); returns
    /// the new length. `encrypt` sets the E flag. The caller has checked that
    /// `buf` holds `len + 4 + tag_len` bytes and `len >= 8`.
    #[inline]
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
                    Self::cm_apply(aes, *salt, ssrc, u64::from(index), &mut buf[8..len]);
                }
                buf[len..len + 4].copy_from_slice(&e_index);
                let (authenticated, trailer) = buf.split_at_mut(len + 4);
                let tag = Self::cm_tag(mac, authenticated, None);
                trailer[..tag_len].copy_from_slice(&tag[..tag_len]);
            }
            Transform::Gcm { aead, salt } => {
                // RFC 7714 §9: ... || ciphertext || tag || E || SRTCP index.
                let nonce = Self::gcm_nonce(*salt, ssrc, u64::from(index));
                if encrypt {
                    // AAD: the 8-byte header then E || SRTCP index (§9.2).
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(&buf[..8]);
                    aad[8..].copy_from_slice(&e_index);
                    let (packet, trailer) = buf.split_at_mut(len);
                    Self::gcm_seal(aead, nonce, &aad, &mut packet[8..], trailer);
                } else {
                    // AAD: the whole packet then E || SRTCP index (§9.3); put the
                    // index where the tag goes to make the AAD contiguous.
                    buf[len..len + 4].copy_from_slice(&e_index);
                    let (aad, trailer) = buf.split_at_mut(len + 4);
                    let mut tag = [0u8; GCM_TAG_LEN];
                    Self::gcm_seal(aead, nonce, aad, &mut [], &mut tag);
                    aad[len..].copy_from_slice(&tag[..4]);
                    trailer[..GCM_TAG_LEN - 4].copy_from_slice(&tag[4..]);
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
    #[inline]
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
                let (authenticated, tag) = buf.split_at_mut(len + 4);
                let expected = Self::cm_tag(mac, authenticated, None);
                if !bool::from(expected[..tag_len].ct_eq(tag)) {
                    return Err(Error::AuthenticationFailed);
                }
                if encrypted {
                    Self::cm_apply(aes, *salt, ssrc, u64::from(index), &mut buf[8..len]);
                }
            }
            Transform::Gcm { aead, salt } => {
                let nonce = Self::gcm_nonce(*salt, ssrc, u64::from(index));
                let mut tag = [0u8; GCM_TAG_LEN];
                tag.copy_from_slice(&buf[len..len + GCM_TAG_LEN]);
                let e_bytes = e_index.to_be_bytes();
                if encrypted {
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(&buf[..8]);
                    aad[8..].copy_from_slice(&e_bytes);
                    Self::gcm_open(aead, nonce, &aad, &mut buf[8..len], &tag)?;
                } else {
                    // Make the AAD contiguous as in protect_rtcp, then restore on failure.
                    buf[len..len + 4].copy_from_slice(&e_bytes);
                    let verified = Self::gcm_open(aead, nonce, &buf[..len + 4], &mut [], &tag);
                    buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
                    verified?;
                }
            }
        }
        Ok(len)
    }
}
