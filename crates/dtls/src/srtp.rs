//! DTLS-SRTP (RFC 5764): protection profiles and the exported keying material.

/// SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SrtpProfile {
    /// SRTP_AES128_CM_HMAC_SHA1_80 (0x0001).
    Aes128CmHmacSha1_80,
    /// SRTP_AES128_CM_HMAC_SHA1_32 (0x0002).
    Aes128CmHmacSha1_32,
    /// SRTP_AEAD_AES_128_GCM (0x0007).
    AeadAes128Gcm,
    /// SRTP_AEAD_AES_256_GCM (0x0008).
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Default preference order: AEAD first, then the RFC 5764 mandatory profile.
    pub const DEFAULT: [SrtpProfile; 4] = [
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32,
    ];

    /// The IANA value.
    pub fn id(self) -> u16 {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 => 0x0001,
            SrtpProfile::Aes128CmHmacSha1_32 => 0x0002,
            SrtpProfile::AeadAes128Gcm => 0x0007,
            SrtpProfile::AeadAes256Gcm => 0x0008,
        }
    }

    /// From the IANA value.
    pub fn from_id(id: u16) -> Option<Self> {
        SrtpProfile::DEFAULT.into_iter().find(|p| p.id() == id)
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes.
    pub fn salt_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 12,
            _ => 14,
        }
    }

    /// Length of the keying material exported for this profile (RFC 5764 §4.2).
    pub fn keying_material_len(self) -> usize {
        2 * (self.key_len() + self.salt_len())
    }
}

/// The exporter label of RFC 5764 §4.2.
pub const EXPORTER_LABEL: &[u8] = b"EXTRACTOR-dtls_srtp";

/// SRTP master keys and salts split from the exported keying material
/// (RFC 5764 §4.2: client key, server key, client salt, server salt).
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeyingMaterial {
    /// The negotiated profile.
    pub profile: SrtpProfile,
    /// client_write_SRTP_master_key.
    pub client_key: Vec<u8>,
    /// server_write_SRTP_master_key.
    pub server_key: Vec<u8>,
    /// client_write_SRTP_master_salt.
    pub client_salt: Vec<u8>,
    /// server_write_SRTP_master_salt.
    pub server_salt: Vec<u8>,
}

impl core::fmt::Debug for SrtpKeyingMaterial {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SrtpKeyingMaterial")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl SrtpKeyingMaterial {
    /// Splits exported material of [`SrtpProfile::keying_material_len`] bytes.
    pub fn split(profile: SrtpProfile, material: &[u8]) -> Option<Self> {
        if material.len() != profile.keying_material_len() {
            return None;
        }
        let (k, s) = (profile.key_len(), profile.salt_len());
        Some(SrtpKeyingMaterial {
            profile,
            client_key: material[..k].to_vec(),
            server_key: material[k..2 * k].to_vec(),
            client_salt: material[2 * k..2 * k + s].to_vec(),
            server_salt: material[2 * k + s..].to_vec(),
        })
    }
}
