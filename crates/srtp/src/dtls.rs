//! Keying from DTLS-SRTP (RFC 5764 §4.2): the exporter label, and the split
//! of the exported block into the client's and the server's write keys.
//! Which of the two protects what we send depends on our DTLS role, which
//! the caller knows: the client sends with `client_write`, the server with
//! `server_write`.

use crate::{Config, Context, Error, ProtectionProfile};

/// The label of the DTLS exporter (RFC 5705) that DTLS-SRTP keys come from
/// (RFC 5764 §4.2); export [`ProtectionProfile::keying_material_len`] bytes.
pub const DTLS_SRTP_EXPORTER_LABEL: &[u8] = b"EXTRACTOR-dtls_srtp";

/// The longest DTLS-SRTP keying material of any profile (AES-256-GCM's 88
/// bytes), for a buffer on the stack.
pub const MAX_KEYING_MATERIAL_LEN: usize = 88;

/// One direction's SRTP master key and master salt, borrowed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MasterKey<'a> {
    /// The master key.
    pub key: &'a [u8],
    /// The master salt.
    pub salt: &'a [u8],
}

impl core::fmt::Debug for MasterKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MasterKey").finish_non_exhaustive()
    }
}

impl MasterKey<'_> {
    /// A context keyed with this master key and salt for `profile`.
    pub fn context(&self, profile: ProtectionProfile, config: Config) -> Result<Context, Error> {
        Context::new(profile, self.key, self.salt, config)
    }
}

/// The DTLS-SRTP exporter output split into the two directions' keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyingMaterial<'a> {
    /// `client_write_SRTP_master_key` and `_salt`: what the DTLS client sends with.
    pub client_write: MasterKey<'a>,
    /// `server_write_SRTP_master_key` and `_salt`: what the DTLS server sends with.
    pub server_write: MasterKey<'a>,
}

impl<'a> KeyingMaterial<'a> {
    /// Splits the output of the `EXTRACTOR-dtls_srtp` exporter, which is
    /// `client key || server key || client salt || server salt` (RFC 5764
    /// §4.2), of length [`ProtectionProfile::keying_material_len`].
    ///
    /// ```
    /// use fulmar_srtp::{Config, KeyingMaterial, ProtectionProfile};
    ///
    /// let profile = ProtectionProfile::AeadAes128Gcm;
    /// // What the DTLS exporter gave both ends.
    /// let material: Vec<u8> = (0..profile.keying_material_len() as u8).collect();
    /// let keys = KeyingMaterial::split(profile, &material)?;
    /// // The DTLS client sends with the client's write key; the server
    /// // receives with it.
    /// let mut client_tx = keys.client_write.context(profile, Config::default())?;
    /// let mut server_rx = keys.client_write.context(profile, Config::default())?;
    /// let rtp = [0x80, 0x60, 0, 1, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, b'h', b'i'];
    /// let mut packet = rtp.to_vec();
    /// client_tx.protect_rtp(&mut packet)?;
    /// server_rx.unprotect_rtp(&mut packet)?;
    /// assert_eq!(packet, rtp);
    /// # Ok::<(), fulmar_srtp::Error>(())
    /// ```
    pub fn split(profile: ProtectionProfile, material: &'a [u8]) -> Result<Self, Error> {
        let key = profile.master_key_len();
        let salt = profile.master_salt_len();
        if material.len() != profile.keying_material_len() {
            return Err(Error::InvalidKeyLength {
                what: "DTLS-SRTP keying material",
                expected: profile.keying_material_len(),
                got: material.len(),
            });
        }
        let (client_key, rest) = material.split_at(key);
        let (server_key, rest) = rest.split_at(key);
        let (client_salt, server_salt) = rest.split_at(salt);
        Ok(Self {
            client_write: MasterKey {
                key: client_key,
                salt: client_salt,
            },
            server_write: MasterKey {
                key: server_key,
                salt: server_salt,
            },
        })
    }
}
