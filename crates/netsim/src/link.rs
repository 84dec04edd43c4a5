//! Link conditions: delay, jitter, loss, duplication, reordering, bandwidth.

use std::time::{Duration, Instant};

use rand::Rng;

/// The conditions one direction of a link imposes on the datagrams it carries.
///
/// Every node (host or NAT) has an access link with an up (egress) and a down
/// (ingress) direction; a datagram crossing the network meets the sender's
/// uplink, then the uplinks/downlinks of any NATs on the way, then the
/// receiver's downlink. The one-way delay between two hosts on the same zone
/// is therefore `sender.up.delay + receiver.down.delay`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LinkConfig {
    /// Fixed propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` for each datagram; jitter
    /// larger than the spacing of datagrams reorders them.
    pub jitter: Duration,
    /// Probability in `0.0..=1.0` that a datagram is lost.
    pub loss: f64,
    /// Probability that a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back by `reorder_delay`, so that
    /// later datagrams overtake it.
    pub reorder: f64,
    /// How long a reordered datagram is held back.
    pub reorder_delay: Duration,
    /// Serialisation rate in bits per second; `None` means unlimited.
    pub bandwidth_bps: Option<u64>,
    /// Drop-tail queue limit in bytes when `bandwidth_bps` is set.
    pub queue_limit: usize,
    /// Drop-tail queue limit in time when `bandwidth_bps` is set: a datagram
    /// that would wait longer than this behind the queued ones is dropped,
    /// like a router buffer sized in milliseconds (the bottleneck a
    /// congestion controller must not overfill). `None`: bytes only.
    pub queue_delay_limit: Option<Duration>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self::ideal()
    }
}

impl LinkConfig {
    /// A perfect link: no delay, no loss, unlimited bandwidth.
    pub fn ideal() -> Self {
        Self {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(10),
            bandwidth_bps: None,
            queue_limit: 64 * 1024,
            queue_delay_limit: None,
        }
    }

    /// Whether the link leaves datagrams as they are: no delay, jitter,
    /// loss, duplication, reordering or bandwidth limit.
    pub(crate) fn is_unimpaired(&self) -> bool {
        self.delay.is_zero()
            && self.jitter.is_zero()
            && self.loss <= 0.0
            && self.duplicate <= 0.0
            && self.reorder <= 0.0
            && self.bandwidth_bps.is_none()
    }

    /// A link that loses everything (a cable pulled out).
    pub fn down() -> Self {
        Self::ideal().with_loss(1.0)
    }

    /// Sets the fixed delay.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the jitter.
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the loss probability.
    pub fn with_loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    /// Sets the duplication probability.
    pub fn with_duplicate(mut self, duplicate: f64) -> Self {
        self.duplicate = duplicate;
        self
    }

    /// Sets the reordering probability and hold-back delay.
    pub fn with_reorder(mut self, probability: f64, hold_back: Duration) -> Self {
        self.reorder = probability;
        self.reorder_delay = hold_back;
        self
    }

    /// Sets a bandwidth limit in bits per second.
    pub fn with_bandwidth(mut self, bits_per_second: u64) -> Self {
        self.bandwidth_bps = Some(bits_per_second);
        self
    }

    /// Sets the drop-tail queue limit in bytes.
    pub fn with_queue_limit(mut self, bytes: usize) -> Self {
        self.queue_limit = bytes;
        self
    }

    /// Sets the drop-tail queue limit in time (see
    /// [`LinkConfig::queue_delay_limit`]).
    pub fn with_queue_delay_limit(mut self, limit: Duration) -> Self {
        self.queue_delay_limit = Some(limit);
        self
    }
}

/// Both directions of a node's access link.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    /// Egress: datagrams leaving the node.
    pub up: LinkConfig,
    /// Ingress: datagrams arriving at the node.
    pub down: LinkConfig,
}

impl Link {
    /// The same conditions in both directions.
    pub fn symmetric(config: LinkConfig) -> Self {
        Self {
            up: config.clone(),
            down: config,
        }
    }
}

/// Why a link did not carry a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkDrop {
    Loss,
    QueueFull,
}

/// The mutable state of one link direction (its serialisation queue).
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkState {
    busy_until: Option<Instant>,
}

impl LinkState {
    /// Passes a datagram of `len` bytes through the link at `now`: returns the
    /// arrival times of its copies (one, or two when duplicated).
    pub(crate) fn carry<R: Rng>(
        &mut self,
        config: &LinkConfig,
        now: Instant,
        len: usize,
        rng: &mut R,
    ) -> Result<Vec<Instant>, LinkDrop> {
        if config.loss > 0.0 && rng.gen_bool(config.loss.clamp(0.0, 1.0)) {
            return Err(LinkDrop::Loss);
        }
        let mut leave = now;
        if let Some(bps) = config.bandwidth_bps.filter(|b| *b > 0) {
            let start = self.busy_until.map_or(now, |b| b.max(now));
            let waiting = start - now;
            let backlog_bytes = waiting.as_secs_f64() * bps as f64 / 8.0;
            if backlog_bytes > config.queue_limit as f64
                || config
                    .queue_delay_limit
                    .is_some_and(|limit| waiting > limit)
            {
                return Err(LinkDrop::QueueFull);
            }
            let tx = Duration::from_secs_f64(len as f64 * 8.0 / bps as f64);
            leave = start + tx;
            self.busy_until = Some(leave);
        }
        let mut first = leave + config.delay + jitter(config, rng);
        if config.reorder > 0.0 && rng.gen_bool(config.reorder.clamp(0.0, 1.0)) {
            first += config.reorder_delay;
        }
        let mut out = vec![first];
        if config.duplicate > 0.0 && rng.gen_bool(config.duplicate.clamp(0.0, 1.0)) {
            out.push(leave + config.delay + jitter(config, rng));
        }
        Ok(out)
    }
}

fn jitter<R: Rng>(config: &LinkConfig, rng: &mut R) -> Duration {
    if config.jitter.is_zero() {
        Duration::ZERO
    } else {
        let max = u64::try_from(config.jitter.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.gen_range(0..=max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn bandwidth_serialises_back_to_back_datagrams() {
        let cfg = LinkConfig::ideal().with_bandwidth(8_000); // 1000 bytes/s
        let mut st = LinkState::default();
        let mut rng = StdRng::seed_from_u64(1);
        let now = Instant::now();
        let a = st.carry(&cfg, now, 100, &mut rng).unwrap();
        let b = st.carry(&cfg, now, 100, &mut rng).unwrap();
        assert_eq!(a, vec![now + Duration::from_millis(100)]);
        assert_eq!(b, vec![now + Duration::from_millis(200)]);
    }

    #[test]
    fn queue_limit_drops_tail() {
        let cfg = LinkConfig::ideal()
            .with_bandwidth(8_000)
            .with_queue_limit(150);
        let mut st = LinkState::default();
        let mut rng = StdRng::seed_from_u64(1);
        let now = Instant::now();
        assert!(st.carry(&cfg, now, 100, &mut rng).is_ok());
        assert!(st.carry(&cfg, now, 100, &mut rng).is_ok());
        assert_eq!(st.carry(&cfg, now, 100, &mut rng), Err(LinkDrop::QueueFull));
    }

    #[test]
    fn queue_delay_limit_drops_what_would_wait_too_long() {
        // 1000 bytes/s: each 100-byte datagram occupies the link for 100 ms.
        let cfg = LinkConfig::ideal()
            .with_bandwidth(8_000)
            .with_queue_limit(usize::MAX)
            .with_queue_delay_limit(Duration::from_millis(250));
        let mut st = LinkState::default();
        let mut rng = StdRng::seed_from_u64(1);
        let now = Instant::now();
        // Waits 0, 100, 200 ms: carried; the fourth would wait 300 ms.
        for _ in 0..3 {
            assert!(st.carry(&cfg, now, 100, &mut rng).is_ok());
        }
        assert_eq!(st.carry(&cfg, now, 100, &mut rng), Err(LinkDrop::QueueFull));
        // Once the queue drained a little, it is accepted again.
        let later = now + Duration::from_millis(100);
        assert_eq!(
            st.carry(&cfg, later, 100, &mut rng),
            Ok(vec![now + Duration::from_millis(400)])
        );
    }

    #[test]
    fn full_loss_drops_everything_and_duplicate_doubles() {
        let mut rng = StdRng::seed_from_u64(7);
        let now = Instant::now();
        let mut st = LinkState::default();
        assert_eq!(
            st.carry(&LinkConfig::down(), now, 10, &mut rng),
            Err(LinkDrop::Loss)
        );
        let dup = LinkConfig::ideal().with_duplicate(1.0);
        assert_eq!(st.carry(&dup, now, 10, &mut rng).unwrap().len(), 2);
    }
}
