//! `StdRng` (ChaCha12) kept as its seed and stream position instead of a
//! ChaCha block buffer: 48 bytes per generator instead of 320 for an idle
//! peer connection, with exactly the same output stream.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha12Rng;

/// Each draw rebuilds the ChaCha12 stream at the saved word position, draws,
/// and saves the position again; the outputs are those of `StdRng` with the
/// same seed. Meant for a few draws per connection (seeds, tags, SSRCs,
/// transaction ids, timer jitter), not for bulk randomness.
pub(crate) struct CompactRng {
    seed: [u8; 32],
    word_pos: u128,
}

impl CompactRng {
    /// The stream of `StdRng::from_seed(seed)`.
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        CompactRng { seed, word_pos: 0 }
    }

    /// The stream of `StdRng::seed_from_u64(state)`.
    pub(crate) fn seed_from_u64(state: u64) -> Self {
        CompactRng::from_seed(ChaCha12Rng::seed_from_u64(state).get_seed())
    }

    fn draw<T>(&mut self, f: impl FnOnce(&mut ChaCha12Rng) -> T) -> T {
        let mut stream = ChaCha12Rng::from_seed(self.seed);
        stream.set_word_pos(self.word_pos);
        let out = f(&mut stream);
        self.word_pos = stream.get_word_pos();
        out
    }
}

impl RngCore for CompactRng {
    fn next_u32(&mut self) -> u32 {
        self.draw(|s| s.next_u32())
    }

    fn next_u64(&mut self) -> u64 {
        self.draw(|s| s.next_u64())
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.draw(|s| s.fill_bytes(dest));
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::Rng;

    #[test]
    fn same_stream_as_std_rng() {
        let mut a = CompactRng::seed_from_u64(42);
        let mut b = StdRng::seed_from_u64(42);
        for i in 0..40 {
            match i % 4 {
                0 => assert_eq!(a.next_u32(), b.next_u32()),
                1 => assert_eq!(a.next_u64(), b.next_u64()),
                2 => {
                    let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
                    a.fill_bytes(&mut x);
                    b.fill_bytes(&mut y);
                    assert_eq!(x, y);
                }
                _ => assert_eq!(a.gen_range(0.5..1.5f64), b.gen_range(0.5..1.5f64)),
            }
        }
        let mut c = CompactRng::from_seed([9; 32]);
        assert_eq!(c.next_u64(), StdRng::from_seed([9; 32]).next_u64());
        assert!(std::mem::size_of::<CompactRng>() <= 48);
    }
}
