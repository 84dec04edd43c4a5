//! Session key derivation (RFC 3711 §4.3, RFC 6188 §7 for AES-256, RFC 7714 §11).

use aes::cipher::{KeyIvInit, StreamCipher};

use crate::{Error, ProtectionProfile};

/// Key derivation labels (RFC 3711 §4.3.1, §4.3.2).
mod label {
    pub const RTP_ENCRYPTION: u8 = 0x00;
    pub const RTP_AUTH: u8 = 0x01;
    pub const RTP_SALT: u8 = 0x02;
    pub const RTCP_ENCRYPTION: u8 = 0x03;
    pub const RTCP_AUTH: u8 = 0x04;
    pub const RTCP_SALT: u8 = 0x05;
}

/// Longest session key, salt or authentication key any profile uses.
const MAX_KEY_LEN: usize = 32;

/// The session keys of one direction for SRTP or SRTCP, derived from a
/// master key and master salt.
///
/// Fixed-size storage: the used prefix of each array is given by the profile.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    profile: ProtectionProfile,
    encryption_key: [u8; MAX_KEY_LEN],
    auth_key: [u8; MAX_KEY_LEN],
    salt: [u8; 14],
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.debug_struct("SessionKeys")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// Derives the SRTP session keys (labels 0, 1, 2) with key derivation rate 0,
    /// as DTLS-SRTP requires (RFC 5764 §4.1.2).
    pub fn derive_srtp(
        profile: ProtectionProfile,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, Error> {
        Self::derive(
            profile,
            master_key,
            master_salt,
            [label::RTP_ENCRYPTION, label::RTP_AUTH, label::RTP_SALT],
        )
    }

    /// Derives the SRTCP session keys (labels 3, 4, 5) with key derivation rate 0.
    pub fn derive_srtcp(
        profile: ProtectionProfile,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<Self, Error> {
        Self::derive(
            profile,
            master_key,
            master_salt,
            [label::RTCP_ENCRYPTION, label::RTCP_AUTH, label::RTCP_SALT],
        )
    }

    /// Session keys given directly (as the RFC 7714 test vectors do), skipping derivation.
    /// `auth_key` must be empty for AEAD profiles.
    pub fn from_parts(
        profile: ProtectionProfile,
        encryption_key: &[u8],
        auth_key: &[u8],
        salt: &[u8],
    ) -> Result<Self, Error> {
        check_len(
            "session key",
            profile.master_key_len(),
            encryption_key.len(),
        )?;
        check_len(
            "session auth key",
            profile.session_auth_key_len(),
            auth_key.len(),
        )?;
        check_len("session salt", profile.session_salt_len(), salt.len())?;
        let mut keys = Self::empty(profile);
        keys.encryption_key[..encryption_key.len()].copy_from_slice(encryption_key);
        keys.auth_key[..auth_key.len()].copy_from_slice(auth_key);
        keys.salt[..salt.len()].copy_from_slice(salt);
        Ok(keys)
    }

    fn empty(profile: ProtectionProfile) -> Self {
        Self {
            profile,
            encryption_key: [0; MAX_KEY_LEN],
            auth_key: [0; MAX_KEY_LEN],
            salt: [0; 14],
        }
    }

    fn derive(
        profile: ProtectionProfile,
        master_key: &[u8],
        master_salt: &[u8],
        labels: [u8; 3],
    ) -> Result<Self, Error> {
        check_len("master key", profile.master_key_len(), master_key.len())?;
        check_len("master salt", profile.master_salt_len(), master_salt.len())?;
        let mut keys = Self::empty(profile);
        let key_len = profile.master_key_len();
        let auth_len = profile.session_auth_key_len();
        let salt_len = profile.session_salt_len();
        prf(
            master_key,
            master_salt,
            labels[0],
            &mut keys.encryption_key[..key_len],
        );
        if auth_len > 0 {
            prf(
                master_key,
                master_salt,
                labels[1],
                &mut keys.auth_key[..auth_len],
            );
        }
        prf(
            master_key,
            master_salt,
            labels[2],
            &mut keys.salt[..salt_len],
        );
        Ok(keys)
    }

    /// The profile these keys are for.
    pub fn profile(&self) -> ProtectionProfile {
        self.profile
    }

    /// The session encryption key `k_e`.
    pub fn encryption_key(&self) -> &[u8] {
        &self.encryption_key[..self.profile.master_key_len()]
    }

    /// The session authentication key `k_a` (empty for AEAD profiles).
    pub fn auth_key(&self) -> &[u8] {
        &self.auth_key[..self.profile.session_auth_key_len()]
    }

    /// The session salt `k_s`.
    pub fn salt(&self) -> &[u8] {
        &self.salt[..self.profile.session_salt_len()]
    }
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), Error> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::InvalidKeyLength {
            what,
            expected,
            got,
        })
    }
}

/// The key derivation function of RFC 3711 §4.3 with key derivation rate 0:
/// fills `out` with the AES-CM PRF output for `label` (0..=5, §4.3.1/§4.3.2).
///
/// `master_key` is 16 or 32 bytes (AES-128 or AES-256, RFC 6188 §7), and
/// `master_salt` at most 14 bytes (shorter salts, as GCM's 12, are
/// right-padded with zeros, RFC 7714 §11). [`SessionKeys`] calls this; it is
/// public for test vectors and for other labels.
pub fn derive_key(
    master_key: &[u8],
    master_salt: &[u8],
    label: u8,
    out: &mut [u8],
) -> Result<(), Error> {
    if master_key.len() != 16 && master_key.len() != 32 {
        return Err(Error::InvalidKeyLength {
            what: "master key",
            expected: 16,
            got: master_key.len(),
        });
    }
    if master_salt.len() > 14 {
        return Err(Error::InvalidKeyLength {
            what: "master salt",
            expected: 14,
            got: master_salt.len(),
        });
    }
    prf(master_key, master_salt, label, out);
    Ok(())
}

/// The AES-CM pseudo-random function of RFC 3711 §4.3.3 with key derivation
/// rate 0: `x = label * 2^48 XOR master_salt` (the label sits in octet 7 of the
/// 112-bit salt; a 96-bit GCM salt is right-padded with zeros, RFC 7714 §11),
/// and `out` is the AES counter-mode keystream from `IV = x * 2^16`.
/// AES-128 or AES-256 is chosen by the master key length (RFC 6188 §7).
pub(crate) fn prf(master_key: &[u8], master_salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    let salt_len = master_salt.len().min(14);
    iv[..salt_len].copy_from_slice(&master_salt[..salt_len]);
    iv[7] ^= label;
    out.fill(0);
    if let Ok(mut c) = ctr::Ctr128BE::<aes::Aes256>::new_from_slices(master_key, &iv) {
        c.apply_keystream(out);
    } else if let Ok(mut c) = ctr::Ctr128BE::<aes::Aes128>::new_from_slices(master_key, &iv) {
        c.apply_keystream(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked() {
        let p = ProtectionProfile::Aes128CmHmacSha1_80;
        assert_eq!(
            SessionKeys::derive_srtp(p, &[0; 15], &[0; 14]),
            Err(Error::InvalidKeyLength {
                what: "master key",
                expected: 16,
                got: 15
            })
        );
        assert_eq!(
            SessionKeys::derive_srtcp(ProtectionProfile::AeadAes128Gcm, &[0; 16], &[0; 14]),
            Err(Error::InvalidKeyLength {
                what: "master salt",
                expected: 12,
                got: 14
            })
        );
        assert!(
            SessionKeys::from_parts(ProtectionProfile::AeadAes256Gcm, &[0; 32], &[], &[0; 12])
                .is_ok()
        );
        assert!(SessionKeys::from_parts(
            ProtectionProfile::AeadAes256Gcm,
            &[0; 32],
            &[0; 20],
            &[0; 12]
        )
        .is_err());
    }

    #[test]
    fn debug_hides_keys() {
        let k =
            SessionKeys::derive_srtp(ProtectionProfile::AeadAes128Gcm, &[7; 16], &[9; 12]).unwrap();
        assert!(!format!("{k:?}").contains('7'));
    }
}
