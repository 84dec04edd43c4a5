//! Server-side credentials: stateless nonces with expiry, static long-term
//! users, and the time-limited `expiry:user` scheme with a shared secret
//! (coturn's use-auth-secret, draft-uberti-behave-turn-rest).

use std::net::SocketAddr;

use base64::prelude::{Engine, BASE64_STANDARD};
use fulmar_stun::attributes::{PasswordAlgorithmId, SecurityFeatures};
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// Length of the hex expiry in a nonce.
const EXPIRY_HEX: usize = 8;
/// Length of the hex MAC in a nonce.
const MAC_HEX: usize = 16;

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    Valid,
    /// Well-formed and ours, but past its expiry, or not ours at all: 438.
    Stale,
}

/// Makes and checks nonces that need no server state: the expiry (seconds
/// since the server's epoch) and a MAC over it and the client's address.
#[derive(Clone)]
pub(crate) struct NonceMaker {
    secret: [u8; 32],
    features: Option<SecurityFeatures>,
}

fn addr_bytes(addr: SocketAddr, out: &mut [u8; 18]) {
    match addr {
        SocketAddr::V4(a) => out[..4].copy_from_slice(&a.ip().octets()),
        SocketAddr::V6(a) => out[..16].copy_from_slice(&a.ip().octets()),
    }
    out[16..].copy_from_slice(&addr.port().to_be_bytes());
}

impl NonceMaker {
    pub(crate) fn new(secret: [u8; 32], features: Option<SecurityFeatures>) -> Self {
        NonceMaker { secret, features }
    }

    fn mac(&self, expiry: u32, client: SocketAddr) -> Option<HmacSha1> {
        let mut m = HmacSha1::new_from_slice(&self.secret).ok()?;
        let mut a = [0u8; 18];
        addr_bytes(client, &mut a);
        m.update(&expiry.to_be_bytes());
        m.update(&a);
        Some(m)
    }

    /// A nonce for `client` valid until `expiry` (seconds since the epoch).
    pub(crate) fn make(&self, expiry: u32, client: SocketAddr) -> String {
        let mut s = String::with_capacity(13 + EXPIRY_HEX + MAC_HEX);
        if let Some(f) = self.features {
            s.extend(f.nonce_prefix().iter().map(|&b| char::from(b)));
        }
        s.push_str(&hex::encode(expiry.to_be_bytes()));
        if let Some(m) = self.mac(expiry, client) {
            let tag = m.finalize().into_bytes();
            s.push_str(&hex::encode(&tag[..MAC_HEX / 2]));
        }
        s
    }

    /// Check a nonce received from `client` at `now_secs`.
    pub(crate) fn check(&self, nonce: &str, client: SocketAddr, now_secs: u32) -> NonceCheck {
        let body = match self.features {
            Some(f) => match nonce.as_bytes().strip_prefix(&f.nonce_prefix()[..]) {
                Some(b) => b,
                None => return NonceCheck::Stale,
            },
            None => nonce.as_bytes(),
        };
        if body.len() != EXPIRY_HEX + MAC_HEX {
            return NonceCheck::Stale;
        }
        let mut raw = [0u8; (EXPIRY_HEX + MAC_HEX) / 2];
        if hex::decode_to_slice(body, &mut raw).is_err() {
            return NonceCheck::Stale;
        }
        let expiry = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let Some(m) = self.mac(expiry, client) else {
            return NonceCheck::Stale;
        };
        if m.verify_truncated_left(&raw[4..]).is_err() || expiry < now_secs {
            return NonceCheck::Stale;
        }
        NonceCheck::Valid
    }
}

/// The password for a time-limited `username` (`expiry:user`, expiry in
/// Unix seconds) under `secret`: base64(HMAC-SHA1(secret, username)), as
/// coturn's use-auth-secret and the TURN REST API draft define it.
pub fn time_limited_password(secret: &str, username: &str) -> String {
    match HmacSha1::new_from_slice(secret.as_bytes()) {
        Ok(mut m) => {
            m.update(username.as_bytes());
            BASE64_STANDARD.encode(m.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// A time-limited username for `user` valid until `expiry_unix` and its
/// password: what a web app hands its clients.
pub fn time_limited_credentials(secret: &str, user: &str, expiry_unix: u64) -> (String, String) {
    let username = format!("{expiry_unix}:{user}");
    let password = time_limited_password(secret, &username);
    (username, password)
}

/// The expiry of a time-limited username (`expiry:user` or a bare number).
pub(crate) fn time_limited_expiry(username: &str) -> Option<u64> {
    let ts = username.split(':').next()?;
    if ts.is_empty() || ts.len() > 20 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    ts.parse().ok()
}

/// The password algorithms a server offers, in its order of preference.
pub(crate) const OFFERED: [PasswordAlgorithmId; 2] =
    [PasswordAlgorithmId::SHA256, PasswordAlgorithmId::MD5];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_round_trip_and_expiry() {
        let m = NonceMaker::new([9; 32], Some(SecurityFeatures::PASSWORD_ALGORITHMS));
        let c: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let n = m.make(100, c);
        assert!(n.starts_with("obMatJos2"));
        assert_eq!(m.check(&n, c, 99), NonceCheck::Valid);
        assert_eq!(m.check(&n, c, 100), NonceCheck::Valid);
        assert_eq!(m.check(&n, c, 101), NonceCheck::Stale);
        let other: SocketAddr = "192.0.2.1:5001".parse().unwrap();
        assert_eq!(m.check(&n, other, 0), NonceCheck::Stale);
        assert_eq!(m.check("obMatJos2AAAAxyz", c, 0), NonceCheck::Stale);
        assert_eq!(m.check("", c, 0), NonceCheck::Stale);
    }

    #[test]
    fn expiry_parse() {
        assert_eq!(time_limited_expiry("1700000000:alice"), Some(1_700_000_000));
        assert_eq!(time_limited_expiry("1700000000"), Some(1_700_000_000));
        assert_eq!(time_limited_expiry("alice"), None);
        assert_eq!(time_limited_expiry(":alice"), None);
    }
}
