//! SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2).

use crate::Error;

/// An SRTP protection profile: the cipher, authentication and key sizes used
/// for both SRTP and SRTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtectionProfile {
    /// `SRTP_AES128_CM_HMAC_SHA1_80` (RFC 5764 §4.1.2): AES-128 counter mode,
    /// 80-bit HMAC-SHA1 tag for SRTP and SRTCP.
    Aes128CmHmacSha1_80,
    /// `SRTP_AES128_CM_HMAC_SHA1_32` (RFC 5764 §4.1.2): AES-128 counter mode,
    /// 32-bit HMAC-SHA1 tag for SRTP, 80-bit for SRTCP.
    Aes128CmHmacSha1_32,
    /// `SRTP_AEAD_AES_128_GCM` (RFC 7714 §14.2): AES-128-GCM, 16-byte tag.
    AeadAes128Gcm,
    /// `SRTP_AEAD_AES_256_GCM` (RFC 7714 §14.2): AES-256-GCM, 16-byte tag.
    AeadAes256Gcm,
}

impl ProtectionProfile {
    /// Every profile this crate implements.
    pub const ALL: [ProtectionProfile; 4] = [
        ProtectionProfile::Aes128CmHmacSha1_80,
        ProtectionProfile::Aes128CmHmacSha1_32,
        ProtectionProfile::AeadAes128Gcm,
        ProtectionProfile::AeadAes256Gcm,
    ];

    /// The order a WebRTC endpoint prefers them in DTLS-SRTP negotiation
    /// (RFC 5764 §4.1.1): AEAD first (RFC 8827 §6.5 recommends it), then the
    /// RFC 5764 mandatory `SRTP_AES128_CM_HMAC_SHA1_80` and its 32-bit twin.
    pub const PREFERRED: [ProtectionProfile; 4] = [
        ProtectionProfile::AeadAes128Gcm,
        ProtectionProfile::AeadAes256Gcm,
        ProtectionProfile::Aes128CmHmacSha1_80,
        ProtectionProfile::Aes128CmHmacSha1_32,
    ];

    /// The profile for a DTLS-SRTP `SRTPProtectionProfile` value (RFC 5764 §4.1.2).
    pub fn from_id(id: u16) -> Result<Self, Error> {
        match id {
            0x0001 => Ok(Self::Aes128CmHmacSha1_80),
            0x0002 => Ok(Self::Aes128CmHmacSha1_32),
            0x0007 => Ok(Self::AeadAes128Gcm),
            0x0008 => Ok(Self::AeadAes256Gcm),
            other => Err(Error::UnsupportedProfile(other)),
        }
    }

    /// The DTLS-SRTP `SRTPProtectionProfile` value (RFC 5764 §4.1.2, RFC 7714 §14.2).
    pub fn id(self) -> u16 {
        match self {
            Self::Aes128CmHmacSha1_80 => 0x0001,
            Self::Aes128CmHmacSha1_32 => 0x0002,
            Self::AeadAes128Gcm => 0x0007,
            Self::AeadAes256Gcm => 0x0008,
        }
    }

    /// The profile's name as registered with IANA.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes128CmHmacSha1_80 => "SRTP_AES128_CM_HMAC_SHA1_80",
            Self::Aes128CmHmacSha1_32 => "SRTP_AES128_CM_HMAC_SHA1_32",
            Self::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            Self::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        }
    }

    /// Whether the profile is an AEAD (AES-GCM, RFC 7714) profile.
    pub fn is_aead(self) -> bool {
        matches!(self, Self::AeadAes128Gcm | Self::AeadAes256Gcm)
    }

    /// Master key length in bytes.
    pub fn master_key_len(self) -> usize {
        match self {
            Self::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes (112 bits for AES-CM, 96 bits for AES-GCM).
    pub fn master_salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// Session salt length in bytes (equal to the master salt length).
    pub fn session_salt_len(self) -> usize {
        self.master_salt_len()
    }

    /// Session authentication key length in bytes (160 bits for HMAC-SHA1, none for AEAD).
    pub fn session_auth_key_len(self) -> usize {
        if self.is_aead() {
            0
        } else {
            20
        }
    }

    /// Authentication tag length appended to SRTP packets.
    pub fn rtp_auth_tag_len(self) -> usize {
        match self {
            Self::Aes128CmHmacSha1_80 => 10,
            Self::Aes128CmHmacSha1_32 => 4,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }

    /// Authentication tag length appended to SRTCP packets (80 bits for both
    /// AES-CM profiles, RFC 5764 §4.1.2).
    pub fn rtcp_auth_tag_len(self) -> usize {
        match self {
            Self::Aes128CmHmacSha1_80 | Self::Aes128CmHmacSha1_32 => 10,
            Self::AeadAes128Gcm | Self::AeadAes256Gcm => 16,
        }
    }

    /// Bytes an SRTP packet grows by when protected.
    pub fn rtp_overhead(self) -> usize {
        self.rtp_auth_tag_len()
    }

    /// Bytes an SRTCP packet grows by when protected (tag plus E flag and SRTCP index).
    pub fn rtcp_overhead(self) -> usize {
        self.rtcp_auth_tag_len() + 4
    }

    /// Length of the DTLS-SRTP exporter output for this profile:
    /// `2 * (master key + master salt)` (RFC 5764 §4.2).
    pub fn keying_material_len(self) -> usize {
        2 * (self.master_key_len() + self.master_salt_len())
    }
}

impl core::fmt::Display for ProtectionProfile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
