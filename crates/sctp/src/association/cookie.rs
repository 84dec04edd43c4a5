//! The State Cookie (RFC 9260 §5.1.3): the TCB fields the passive side needs
//! to build the association from COOKIE-ECHO, signed with HMAC-SHA256 so that
//! the endpoint keeps no state for an INIT it answered.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Length of a serialized cookie (fields + 32-byte MAC).
pub(crate) const COOKIE_LEN: usize = 33 + 32;

/// Fields carried in the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CookieFields {
    pub my_vtag: u32,
    pub peer_vtag: u32,
    pub my_initial_tsn: u32,
    pub peer_initial_tsn: u32,
    pub peer_a_rwnd: u32,
    pub peer_outbound_streams: u16,
    pub peer_inbound_streams: u16,
    /// bit 0: forward-tsn, bit 1: re-config, bit 2: zero checksum.
    pub peer_features: u8,
    /// Milliseconds since the association's epoch when the cookie was made.
    pub created_ms: u64,
}

impl CookieFields {
    pub(crate) fn sign(&self, key: &[u8; 32]) -> [u8; COOKIE_LEN] {
        let mut out = [0u8; COOKIE_LEN];
        out[0..4].copy_from_slice(&self.my_vtag.to_be_bytes());
        out[4..8].copy_from_slice(&self.peer_vtag.to_be_bytes());
        out[8..12].copy_from_slice(&self.my_initial_tsn.to_be_bytes());
        out[12..16].copy_from_slice(&self.peer_initial_tsn.to_be_bytes());
        out[16..20].copy_from_slice(&self.peer_a_rwnd.to_be_bytes());
        out[20..22].copy_from_slice(&self.peer_outbound_streams.to_be_bytes());
        out[22..24].copy_from_slice(&self.peer_inbound_streams.to_be_bytes());
        out[24] = self.peer_features;
        out[25..33].copy_from_slice(&self.created_ms.to_be_bytes());
        let mac = mac(key, &out[..33]);
        out[33..].copy_from_slice(&mac);
        out
    }

    /// Verifies the MAC (in constant time) and decodes.
    pub(crate) fn verify(key: &[u8; 32], cookie: &[u8]) -> Option<Self> {
        if cookie.len() != COOKIE_LEN {
            return None;
        }
        let (body, tag) = cookie.split_at(33);
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
        m.update(body);
        m.verify_slice(tag).ok()?;
        let u32_at =
            |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
        let u16_at = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
        let mut ms = [0u8; 8];
        ms.copy_from_slice(&body[25..33]);
        Some(CookieFields {
            my_vtag: u32_at(0),
            peer_vtag: u32_at(4),
            my_initial_tsn: u32_at(8),
            peer_initial_tsn: u32_at(12),
            peer_a_rwnd: u32_at(16),
            peer_outbound_streams: u16_at(20),
            peer_inbound_streams: u16_at(22),
            peer_features: body[24],
            created_ms: u64::from_be_bytes(ms),
        })
    }
}

fn mac(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(key) {
        m.update(data);
        out.copy_from_slice(&m.finalize().into_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let key = [7u8; 32];
        let f = CookieFields {
            my_vtag: 1,
            peer_vtag: 2,
            my_initial_tsn: 3,
            peer_initial_tsn: 4,
            peer_a_rwnd: 5,
            peer_outbound_streams: 6,
            peer_inbound_streams: 7,
            peer_features: 3,
            created_ms: 99,
        };
        let c = f.sign(&key);
        assert_eq!(CookieFields::verify(&key, &c), Some(f));
        let mut bad = c;
        bad[3] ^= 1;
        assert_eq!(CookieFields::verify(&key, &bad), None);
        assert_eq!(CookieFields::verify(&[8u8; 32], &c), None);
        assert_eq!(CookieFields::verify(&key, &c[..10]), None);
    }
}
