//! Sliding anti-replay window (RFC 6347 §4.1.2.6, after RFC 4303 §3.4.3).

/// A 64-record sliding window over 48-bit record sequence numbers.
///
/// [`ReplayWindow::check`] is called before authenticating a record and
/// [`ReplayWindow::update`] only after it authenticated, so forged records
/// cannot move the window.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    /// Highest sequence number accepted so far.
    top: u64,
    /// Bit i set means `top - i` was received.
    bits: u64,
    /// Whether any record was accepted yet.
    started: bool,
}

/// Width of the window in records.
pub const REPLAY_WINDOW: u64 = 64;

impl ReplayWindow {
    /// An empty window.
    #[cfg(test)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `seq` is new and not too old to judge.
    pub fn check(&self, seq: u64) -> bool {
        if !self.started || seq > self.top {
            return true;
        }
        let diff = self.top - seq;
        if diff >= REPLAY_WINDOW {
            return false;
        }
        self.bits & (1u64 << diff) == 0
    }

    /// Marks `seq` as received (after it authenticated).
    pub fn update(&mut self, seq: u64) {
        if !self.started {
            self.started = true;
            self.top = seq;
            self.bits = 1;
            return;
        }
        if seq > self.top {
            let shift = seq - self.top;
            self.bits = if shift >= REPLAY_WINDOW {
                0
            } else {
                self.bits << shift
            };
            self.bits |= 1;
            self.top = seq;
        } else {
            let diff = self.top - seq;
            if diff < REPLAY_WINDOW {
                self.bits |= 1u64 << diff;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_new_rejects_replays_and_old() {
        let mut w = ReplayWindow::new();
        assert!(w.check(5));
        w.update(5);
        assert!(!w.check(5));
        assert!(w.check(3));
        w.update(3);
        assert!(!w.check(3));
        w.update(100);
        assert!(!w.check(36), "36 is 64 behind 100: too old");
        assert!(w.check(37));
        assert!(!w.check(100));
        w.update(1000);
        assert!(w.check(999));
        assert!(!w.check(100));
    }
}
