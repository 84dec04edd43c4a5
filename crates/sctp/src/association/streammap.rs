//! A `HashMap` keyed by stream identifier with a cheap multiplicative hash:
//! the keys are small integers chosen by the endpoints, so SipHash's
//! flooding resistance buys nothing while costing a fifth of the data path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Fibonacci hashing of a `u16` stream id.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StreamIdHasher(u64);

impl Hasher for StreamIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u16(&mut self, n: u16) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Map from stream id.
pub(crate) type StreamMap<V> = HashMap<u16, V, BuildHasherDefault<StreamIdHasher>>;
