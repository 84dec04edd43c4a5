//! Replay protection (RFC 3711 §3.3.2) and rollover-counter estimation
//! (RFC 3711 Appendix A).

use crate::Error;

/// Smallest replay window, in packets (RFC 3711 §3.3.2 asks for at least 64).
pub const MIN_REPLAY_WINDOW: usize = 64;
/// Largest replay window, in packets.
pub const MAX_REPLAY_WINDOW: usize = 32768;

/// A sliding window of received packet indices.
///
/// Bit `i mod ring` of a ring of `ring >= size` bits (a power of two, so
/// the position is a mask, not a division) records whether index `i` in
/// `(highest - size, highest]` was received, so advancing the window clears
/// only the bits it passes over instead of shifting the whole bitmap.
#[derive(Debug, Clone)]
pub(crate) struct ReplayWindow {
    bits: Box<[u64]>,
    /// The window size in packets (a multiple of 64).
    size: u64,
    highest: Option<u64>,
}

impl ReplayWindow {
    /// A window of `size` packets, rounded up to a multiple of 64 and
    /// clamped to `[MIN_REPLAY_WINDOW, MAX_REPLAY_WINDOW]`.
    pub(crate) fn new(size: usize) -> Self {
        let words = size
            .clamp(MIN_REPLAY_WINDOW, MAX_REPLAY_WINDOW)
            .div_ceil(64);
        Self {
            bits: vec![0u64; words.next_power_of_two()].into_boxed_slice(),
            size: words as u64 * 64,
            highest: None,
        }
    }

    /// The window size in packets.
    fn size(&self) -> u64 {
        self.size
    }

    /// The highest index accepted so far.
    pub(crate) fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// The word and bit of `index` in the ring.
    #[inline]
    fn bit(&self, index: u64) -> (usize, u64) {
        // The ring length is a power of two: the mask is the modulo.
        let ring_mask = (self.bits.len() as u64 * 64) - 1;
        let pos = index & ring_mask;
        ((pos / 64) as usize, 1u64 << (pos % 64))
    }

    /// Whether `index` may be accepted: ahead of the window, or inside it and
    /// not yet seen.
    #[inline]
    pub(crate) fn check(&self, index: u64) -> Result<(), Error> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if index > highest {
            return Ok(());
        }
        if highest - index >= self.size() {
            return Err(Error::TooOld { index });
        }
        let (word, mask) = self.bit(index);
        match self.bits.get(word) {
            Some(w) if w & mask != 0 => Err(Error::Replayed { index }),
            _ => Ok(()),
        }
    }

    /// Records `index` as received; call only after the packet authenticated.
    #[inline]
    pub(crate) fn accept(&mut self, index: u64) {
        match self.highest {
            Some(highest) if index <= highest => {}
            // In order: the window moves by one and no other bit changes.
            Some(highest) if index == highest + 1 => self.highest = Some(index),
            _ => self.advance(index),
        }
        let (word, mask) = self.bit(index);
        if let Some(w) = self.bits.get_mut(word) {
            *w |= mask;
        }
    }

    /// Moves the window's top to `index` (past `highest + 1`, or the first index).
    #[cold]
    fn advance(&mut self, index: u64) {
        match self.highest {
            Some(highest) if index > highest && index - highest < self.size() => {
                // Forget the indices the window slides over.
                for i in highest + 1..index {
                    let (word, mask) = self.bit(i);
                    if let Some(w) = self.bits.get_mut(word) {
                        *w &= !mask;
                    }
                }
            }
            _ => self.bits.iter_mut().for_each(|w| *w = 0),
        }
        self.highest = Some(index);
    }
}

/// Largest 48-bit SRTP packet index.
const MAX_SRTP_INDEX: u64 = (1 << 48) - 1;

/// Estimates the 48-bit SRTP packet index `i = 2^16 * v + SEQ` of a packet with
/// sequence number `seq`, given the highest index `highest` seen so far
/// (`ROC = highest >> 16`, `s_l = highest & 0xffff`), following RFC 3711
/// Appendix A. Without history the rollover counter is taken as 0.
#[inline]
pub(crate) fn estimate_index(highest: Option<u64>, seq: u16) -> Result<u64, Error> {
    let seq = u64::from(seq);
    let Some(highest) = highest else {
        return Ok(seq);
    };
    let roc = highest >> 16;
    let s_l = highest & 0xffff;
    let v = if s_l < 0x8000 {
        if seq > s_l + 0x8000 {
            // A packet from before the last wrap; with ROC 0 it predates the stream.
            match roc.checked_sub(1) {
                Some(v) => v,
                None => return Err(Error::TooOld { index: seq }),
            }
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq {
        roc + 1
    } else {
        roc
    };
    let index = (v << 16) | seq;
    if index > MAX_SRTP_INDEX {
        return Err(Error::IndexExhausted);
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_new_rejects_seen_and_old() {
        let mut w = ReplayWindow::new(64);
        assert_eq!(w.check(100), Ok(()));
        w.accept(100);
        assert_eq!(w.check(100), Err(Error::Replayed { index: 100 }));
        assert_eq!(w.check(99), Ok(()));
        w.accept(99);
        assert_eq!(w.check(99), Err(Error::Replayed { index: 99 }));
        assert_eq!(w.check(37), Ok(()));
        assert_eq!(w.check(36), Err(Error::TooOld { index: 36 }));
        w.accept(164);
        assert_eq!(w.check(100), Err(Error::TooOld { index: 100 }));
        assert_eq!(w.check(101), Ok(()));
        assert_eq!(w.check(164), Err(Error::Replayed { index: 164 }));
        // A jump larger than the window clears everything.
        w.accept(10_000);
        assert_eq!(w.check(9_999), Ok(()));
        assert_eq!(w.check(10_000 - 64), Err(Error::TooOld { index: 9_936 }));
    }

    #[test]
    fn window_slides_clear_stale_bits() {
        let mut w = ReplayWindow::new(64);
        for i in 0..64 {
            w.accept(i);
        }
        // Advancing by 10 must forget the ring bits of 64..74 (they aliased 0..10).
        w.accept(74);
        for i in 65..74 {
            assert_eq!(w.check(i), Ok(()), "index {i}");
        }
        assert_eq!(w.check(20), Err(Error::Replayed { index: 20 }));
        assert_eq!(w.check(10), Err(Error::TooOld { index: 10 }));
    }

    #[test]
    fn window_sizes_round_and_clamp() {
        assert_eq!(ReplayWindow::new(0).size(), 64);
        assert_eq!(ReplayWindow::new(65).size(), 128);
        assert_eq!(ReplayWindow::new(1024).size(), 1024);
        assert_eq!(
            ReplayWindow::new(usize::MAX).size(),
            MAX_REPLAY_WINDOW as u64
        );
        let mut w = ReplayWindow::new(1024);
        w.accept(5000);
        assert_eq!(w.check(5000 - 1023), Ok(()));
        assert_eq!(w.check(5000 - 1024), Err(Error::TooOld { index: 3976 }));
    }

    #[test]
    fn window_smaller_than_its_ring() {
        // 192 packets: a 256-bit ring, but the window edge stays at 192.
        let mut w = ReplayWindow::new(192);
        assert_eq!(w.size(), 192);
        w.accept(1000);
        assert_eq!(w.check(1000 - 191), Ok(()));
        assert_eq!(w.check(1000 - 192), Err(Error::TooOld { index: 808 }));
        for i in (1000 - 191)..1000 {
            w.accept(i);
        }
        // Slide by less than the window, then by the ring size minus one:
        // every index newly inside the window must read as unseen.
        w.accept(1100);
        for i in 1001..1100 {
            assert_eq!(w.check(i), Ok(()), "index {i}");
        }
        assert_eq!(w.check(1000), Err(Error::Replayed { index: 1000 }));
        w.accept(1100 + 191);
        for i in 1101..1291 {
            assert_eq!(w.check(i), Ok(()), "index {i}");
        }
        assert_eq!(w.check(1100), Err(Error::Replayed { index: 1100 }));
    }

    #[test]
    fn index_estimation_follows_appendix_a() {
        assert_eq!(estimate_index(None, 7), Ok(7));
        // In order, no wrap.
        assert_eq!(estimate_index(Some(100), 101), Ok(101));
        // Wrap forward: s_l near the top, SEQ small => ROC + 1.
        assert_eq!(estimate_index(Some(0xfff0), 0x0005), Ok(0x1_0005));
        // Late packet from before the wrap: s_l small, SEQ large => ROC - 1.
        assert_eq!(estimate_index(Some(0x1_0005), 0xfff0), Ok(0xfff0));
        // ... but with ROC 0 it predates the stream.
        assert_eq!(
            estimate_index(Some(0x0005), 0xfff0),
            Err(Error::TooOld { index: 0xfff0 })
        );
        // Far jumps within half the space stay on the same ROC.
        assert_eq!(estimate_index(Some(0x3_8000), 0x0001), Ok(0x3_0001));
        assert_eq!(estimate_index(Some(0x3_7fff), 0xffff), Ok(0x3_ffff));
        // The 48-bit index space is finite.
        assert_eq!(
            estimate_index(Some(MAX_SRTP_INDEX), 0),
            Err(Error::IndexExhausted)
        );
    }
}
