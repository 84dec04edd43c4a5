//! Maps keyed by SSRC on the media path, with a multiplicative hash instead
//! of SipHash. For maps that hold only streams a negotiation signalled or an
//! authenticated packet opened, and that are capped, so that flooding is not
//! a concern and a received packet's lookup costs a few instructions (the
//! SRTP contexts' streams, fulmar-peer's routes).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map from SSRC to `V`.
pub type SsrcMap<V> = HashMap<u32, V, BuildHasherDefault<SsrcHasher>>;

/// Fibonacci hashing of a 32-bit SSRC.
#[derive(Default)]
pub struct SsrcHasher(u64);

impl Hasher for SsrcHasher {
    fn finish(&self) -> u64 {
        let h = self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^ (h >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_ssrc_apart() {
        let mut m: SsrcMap<u32> = SsrcMap::default();
        for s in (0..1000u32).map(|i| i.wrapping_mul(0x0100_0193)) {
            m.insert(s, !s);
        }
        assert_eq!(m.len(), 1000);
        assert!((0..1000u32)
            .map(|i| i.wrapping_mul(0x0100_0193))
            .all(|s| m.get(&s) == Some(&!s)));
    }
}
