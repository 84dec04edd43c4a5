//! Sequence-number arithmetic and unwrapping (RFC 3550 Appendix A.1).

/// Extends 16-bit RTP sequence numbers to 64 bits across wrap-around, as
/// the "cycles" counter of RFC 3550 Appendix A.1 does. A number more than
/// 32767 behind the highest seen counts as older, not as a new cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SequenceUnwrapper {
    last: Option<u64>,
}

/// Offset of the first unwrapped value, so that packets older than the
/// first one still unwrap to non-negative numbers.
const BASE: u64 = 1 << 32;

impl SequenceUnwrapper {
    /// A fresh unwrapper.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extends `seq` near the highest value seen so far and remembers the
    /// new highest.
    pub fn unwrap(&mut self, seq: u16) -> u64 {
        let v = self.peek(seq);
        if self.last.is_none_or(|l| v > l) {
            self.last = Some(v);
        }
        v
    }

    /// Extends `seq` without updating the state.
    pub fn peek(&self, seq: u16) -> u64 {
        match self.last {
            None => BASE + u64::from(seq),
            Some(last) => {
                let delta = seq.wrapping_sub(last as u16) as i16;
                last.saturating_add_signed(i64::from(delta))
            }
        }
    }

    /// The highest extended value seen.
    pub fn highest(&self) -> Option<u64> {
        self.last
    }
}

/// True when `a` is newer than `b` in 16-bit serial arithmetic.
pub fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}
