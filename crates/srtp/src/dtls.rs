//! Keying from DTLS-SRTP (RFC 5764 §4.2).

use crate::{Config, Context, Error, ProtectionProfile};

/// Which end of the DTLS handshake we were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The DTLS client: protects with the client write key.
    Client,
    /// The DTLS server: protects with the server write key.
    Server,
}

/// The four master keys and salts of a DTLS-SRTP exporter output, borrowed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyingMaterial<'a> {
    /// `client_write_SRTP_master_key`.
    pub client_key: &'a [u8],
    /// `server_write_SRTP_master_key`.
    pub server_key: &'a [u8],
    /// `client_write_SRTP_master_salt`.
    pub client_salt: &'a [u8],
    /// `server_write_SRTP_master_salt`.
    pub server_salt: &'a [u8],
}

impl core::fmt::Debug for KeyingMaterial<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyingMaterial").finish_non_exhaustive()
    }
}

impl<'a> KeyingMaterial<'a> {
    /// Splits the output of the `EXTRACTOR-dtls_srtp` exporter, which is
    /// `client key || server key || client salt || server salt` (RFC 5764 §4.2),
    /// of length [`ProtectionProfile::keying_material_len`].
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
            client_key,
            server_key,
            client_salt,
            server_salt,
        })
    }

    /// The (master key, master salt) this `role` protects outgoing packets with.
    pub fn local(&self, role: Role) -> (&'a [u8], &'a [u8]) {
        match role {
            Role::Client => (self.client_key, self.client_salt),
            Role::Server => (self.server_key, self.server_salt),
        }
    }

    /// The (master key, master salt) the peer of `role` protects with.
    pub fn remote(&self, role: Role) -> (&'a [u8], &'a [u8]) {
        match role {
            Role::Client => (self.server_key, self.server_salt),
            Role::Server => (self.client_key, self.client_salt),
        }
    }

    /// Builds the `(local, remote)` contexts for `role` from keys and salts
    /// already split (as a DTLS stack hands them over), without
    /// re-concatenating them; each length is checked against `profile`.
    ///
    /// ```
    /// use fulmar_srtp::{Config, KeyingMaterial, ProtectionProfile, Role};
    ///
    /// let (client_key, server_key) = ([1u8; 16], [2u8; 16]);
    /// let (client_salt, server_salt) = ([3u8; 12], [4u8; 12]);
    /// let keys = KeyingMaterial {
    ///     client_key: &client_key,
    ///     server_key: &server_key,
    ///     client_salt: &client_salt,
    ///     server_salt: &server_salt,
    /// };
    /// let (tx, rx) = keys.contexts(ProtectionProfile::AeadAes128Gcm, Role::Server, Config::default())?;
    /// assert_eq!(tx.profile(), rx.profile());
    /// # Ok::<(), fulmar_srtp::Error>(())
    /// ```
    pub fn contexts(
        &self,
        profile: ProtectionProfile,
        role: Role,
        config: Config,
    ) -> Result<(Context, Context), Error> {
        let (local_key, local_salt) = self.local(role);
        let (remote_key, remote_salt) = self.remote(role);
        Ok((
            Context::new(profile, local_key, local_salt, config)?,
            Context::new(profile, remote_key, remote_salt, config)?,
        ))
    }
}

/// Builds the `(local, remote)` contexts from DTLS-SRTP keying material: the
/// local one protects what we send, the remote one unprotects what we receive.
/// `material` is the exporter output as one slice; when the keys and salts
/// come already split, use [`KeyingMaterial::contexts`].
pub fn dtls_srtp_contexts(
    profile: ProtectionProfile,
    material: &[u8],
    role: Role,
    config: Config,
) -> Result<(Context, Context), Error> {
    KeyingMaterial::split(profile, material)?.contexts(profile, role, config)
}
