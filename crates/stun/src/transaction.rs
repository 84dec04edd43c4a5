//! Client transaction timing (RFC 8489 §6.2.1): when to retransmit a request
//! over UDP and when to give up, as a sans-IO helper driven by `now`.
//!
//! With the defaults (RTO 500 ms, Rc 7, Rm 16) a request is sent at 0, 500,
//! 1500, 3500, 7500, 15500 and 31500 ms, and the transaction fails at
//! 39500 ms if no response came.

use std::time::{Duration, Instant};

/// Retransmission parameters (RFC 8489 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionConfig {
    /// Initial retransmission timeout; doubles after each retransmission.
    pub rto: Duration,
    /// Rc: the total number of transmissions (1 means no retransmission).
    pub max_transmissions: u32,
    /// Rm: after the last transmission, wait `rm * rto` before failing.
    pub last_wait_factor: u32,
    /// Cap on every wait, the doubled ones and the last (RFC 8489 §6.2.1
    /// allows an upper bound on RTO; ICE checks cap it, RFC 8445 §14.3).
    pub max_rto: Duration,
}

impl Default for TransactionConfig {
    /// RTO 500 ms, Rc 7, Rm 16 (RFC 8489 §6.2.1).
    fn default() -> Self {
        TransactionConfig {
            rto: Duration::from_millis(500),
            max_transmissions: 7,
            last_wait_factor: 16,
            max_rto: MAX_RTO,
        }
    }
}

impl TransactionConfig {
    /// Over a reliable transport (TCP, TLS): send once, fail after Ti = 39.5 s
    /// (RFC 8489 §6.2.2).
    pub fn reliable() -> Self {
        TransactionConfig {
            rto: Duration::from_millis(39_500),
            max_transmissions: 1,
            last_wait_factor: 1,
            max_rto: MAX_RTO,
        }
    }

    /// The defaults with another initial RTO (e.g. from a measured RTT, RFC 8489 §6.2.1).
    pub fn with_rto(rto: Duration) -> Self {
        TransactionConfig {
            rto,
            ..Self::default()
        }
    }

    /// Caps every wait at `max_rto`.
    pub fn with_max_rto(mut self, max_rto: Duration) -> Self {
        self.max_rto = max_rto;
        self
    }
}

/// Longest RTO and largest Rc/Rm honoured, so that deadlines stay representable.
const MAX_RTO: Duration = Duration::from_secs(600);
const MAX_TRANSMISSIONS: u32 = 32;
const MAX_DOUBLINGS: u32 = 16;
const MAX_LAST_WAIT_FACTOR: u32 = 1 << MAX_DOUBLINGS;

/// The retransmission state of one client transaction.
///
/// Loop: when [`ClientTransaction::poll_transmit`] says so, send (or resend)
/// the request; sleep until [`ClientTransaction::poll_timeout`]; call
/// [`ClientTransaction::handle_timeout`]; stop when a response arrives
/// ([`ClientTransaction::handle_response`]) or [`ClientTransaction::is_timed_out`].
///
/// ```
/// use std::time::{Duration, Instant};
/// use fulmar_stun::transaction::{ClientTransaction, TransactionConfig};
///
/// let t0 = Instant::now();
/// let mut tx = ClientTransaction::new(t0, TransactionConfig::default());
/// assert!(tx.poll_transmit()); // first transmission, now
/// assert!(!tx.poll_transmit());
/// assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(500)));
/// tx.handle_timeout(t0 + Duration::from_millis(500));
/// assert!(tx.poll_transmit()); // first retransmission
/// assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(1500)));
/// ```
#[derive(Debug, Clone)]
pub struct ClientTransaction {
    rto: Duration,
    max_rto: Duration,
    max_transmissions: u32,
    last_wait_factor: u32,
    transmissions: u32,
    /// When the pending or last transmission became due.
    due_at: Instant,
    /// When the next timer fires (valid when nothing is pending).
    next_at: Instant,
    pending: bool,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Done,
    TimedOut,
}

impl ClientTransaction {
    /// Start a transaction at `now`; its first transmission is due at once.
    pub fn new(now: Instant, config: TransactionConfig) -> Self {
        ClientTransaction {
            rto: config.rto.min(MAX_RTO),
            max_rto: config.max_rto.min(MAX_RTO),
            max_transmissions: config.max_transmissions.clamp(1, MAX_TRANSMISSIONS),
            last_wait_factor: config.last_wait_factor.clamp(1, MAX_LAST_WAIT_FACTOR),
            transmissions: 0,
            due_at: now,
            next_at: now,
            pending: true,
            state: State::Running,
        }
    }

    /// True once per due (re)transmission: send the request now.
    pub fn poll_transmit(&mut self) -> bool {
        if !self.pending || self.state != State::Running {
            return false;
        }
        self.pending = false;
        self.transmissions += 1;
        let wait = if self.transmissions < self.max_transmissions {
            // RTO doubles: intervals RTO, 2 RTO, 4 RTO, ...
            self.rto * (1u32 << (self.transmissions - 1).min(MAX_DOUBLINGS))
        } else {
            self.rto * self.last_wait_factor
        };
        self.next_at = self.due_at + wait.min(self.max_rto);
        true
    }

    /// Advance the clock: schedules a retransmission or times out when the
    /// deadline has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state != State::Running || self.pending || now < self.next_at {
            return;
        }
        if self.transmissions >= self.max_transmissions {
            self.state = State::TimedOut;
        } else {
            self.pending = true;
            self.due_at = self.next_at;
        }
    }

    /// The next deadline: now-ish when a transmission is pending, `None` once
    /// the transaction is over.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.state, self.pending) {
            (State::Running, true) => Some(self.due_at),
            (State::Running, false) => Some(self.next_at),
            _ => None,
        }
    }

    /// A response arrived: stop retransmitting.
    pub fn handle_response(&mut self) {
        if self.state == State::Running {
            self.state = State::Done;
            self.pending = false;
        }
    }

    /// True when the transaction failed for lack of a response.
    pub fn is_timed_out(&self) -> bool {
        self.state == State::TimedOut
    }

    /// True when it ended, by a response or a timeout.
    pub fn is_finished(&self) -> bool {
        self.state != State::Running
    }

    /// How many times the request has been sent so far.
    pub fn transmissions(&self) -> u32 {
        self.transmissions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drive with no response; return the send times (ms) and the failure time.
    fn run(config: TransactionConfig) -> (Vec<u128>, u128) {
        let t0 = Instant::now();
        let mut tx = ClientTransaction::new(t0, config);
        let mut sends = Vec::new();
        let mut now = t0;
        for _ in 0..100 {
            if tx.poll_transmit() {
                sends.push((now - t0).as_millis());
            }
            match tx.poll_timeout() {
                Some(t) => now = now.max(t),
                None => break,
            }
            tx.handle_timeout(now);
        }
        assert!(tx.is_timed_out());
        (sends, (now - t0).as_millis())
    }

    #[test]
    fn rfc8489_6_2_1_default_schedule() {
        let (sends, fail) = run(TransactionConfig::default());
        assert_eq!(sends, [0, 500, 1500, 3500, 7500, 15500, 31500]);
        assert_eq!(fail, 39500);
    }

    #[test]
    fn reliable_sends_once_and_waits_ti() {
        let (sends, fail) = run(TransactionConfig::reliable());
        assert_eq!(sends, [0]);
        assert_eq!(fail, 39500);
    }

    #[test]
    fn response_stops_everything() {
        let t0 = Instant::now();
        let mut tx =
            ClientTransaction::new(t0, TransactionConfig::with_rto(Duration::from_millis(100)));
        assert!(tx.poll_transmit());
        tx.handle_timeout(t0 + Duration::from_millis(50));
        assert!(!tx.poll_transmit());
        tx.handle_response();
        assert!(tx.is_finished() && !tx.is_timed_out());
        assert_eq!(tx.poll_timeout(), None);
        tx.handle_timeout(t0 + Duration::from_secs(100));
        assert!(!tx.poll_transmit());
        assert_eq!(tx.transmissions(), 1);
    }

    #[test]
    fn extreme_config_does_not_overflow() {
        let (sends, _) = run(TransactionConfig {
            rto: Duration::MAX,
            max_transmissions: u32::MAX,
            last_wait_factor: u32::MAX,
            max_rto: Duration::MAX,
        });
        assert_eq!(sends.len(), MAX_TRANSMISSIONS as usize);
    }

    #[test]
    fn max_rto_caps_every_wait_including_the_last() {
        // ICE's use: RTO 500 ms doubling to a 2 s cap, the last wait
        // continuing the doubling (RFC 8445 §14.3).
        let config = TransactionConfig {
            rto: Duration::from_millis(500),
            max_transmissions: 5,
            last_wait_factor: 1 << 4,
            max_rto: Duration::from_secs(2),
        };
        let (sends, end) = run(config);
        assert_eq!(sends, vec![0, 500, 1500, 3500, 5500]);
        assert_eq!(end, 7500);
        assert_eq!(
            TransactionConfig::default()
                .with_max_rto(Duration::from_secs(1))
                .max_rto,
            Duration::from_secs(1)
        );
    }
}
