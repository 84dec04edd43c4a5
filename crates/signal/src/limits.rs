//! The server's limits: sizes, rates, caps and timeouts, with the
//! per-connection token bucket that enforces the message rate.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// Every limit the server enforces (the `[limits]` table of the config).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest client message, in bytes (WebSocket message or Socket.IO
    /// payload); larger ones close the connection.
    pub max_message_bytes: usize,
    /// Messages per second a connection may send on average.
    pub messages_per_second: f64,
    /// Messages a connection may send in a burst.
    pub message_burst: f64,
    /// Peers in one room (an admin grant may exceed it).
    pub max_room_peers: usize,
    /// Sessions on this node.
    pub max_sessions: usize,
    /// Longest room name, in bytes.
    pub max_room_name_bytes: usize,
    /// Longest display name, in bytes.
    pub max_name_bytes: usize,
    /// Largest metadata object, in bytes of JSON.
    pub max_meta_bytes: usize,
    /// A connection that sends nothing (not even a ping) for this long is
    /// closed.
    #[serde(with = "secs")]
    pub idle_timeout: Duration,
    /// How long a session whose connection dropped may be resumed.
    #[serde(with = "secs")]
    pub resume_grace: Duration,
    /// Abusive messages (malformed, unknown, too large, over the rate,
    /// unauthorised) after which the connection is closed.
    pub max_strikes: u32,
    /// Events held per session for resume.
    pub outbox_frames: usize,
    /// Bytes of events held per session for resume.
    pub outbox_bytes: usize,
    /// Frames queued for a connection before it counts as not reading
    /// and is closed.
    pub connection_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 * 1024,
            messages_per_second: 50.0,
            message_burst: 200.0,
            max_room_peers: 64,
            max_sessions: 200_000,
            max_room_name_bytes: 128,
            max_name_bytes: 64,
            max_meta_bytes: 4096,
            idle_timeout: Duration::from_secs(60),
            resume_grace: Duration::from_secs(10),
            max_strikes: 10,
            outbox_frames: 256,
            outbox_bytes: 256 * 1024,
            connection_queue: 512,
        }
    }
}

/// Durations as (fractional) seconds in the config.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = f64::deserialize(d)?;
        Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)
    }
}

/// A token bucket: `rate` tokens a second up to `burst`.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl RateLimiter {
    pub(crate) fn new(limits: &Limits, now: Instant) -> Self {
        RateLimiter {
            tokens: limits.message_burst,
            rate: limits.messages_per_second,
            burst: limits.message_burst,
            last: now,
        }
    }

    /// Takes a token if there is one.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_the_rate() {
        let limits = Limits {
            messages_per_second: 10.0,
            message_burst: 5.0,
            ..Limits::default()
        };
        let t0 = Instant::now();
        let mut r = RateLimiter::new(&limits, t0);
        assert_eq!((0..8).filter(|_| r.allow(t0)).count(), 5);
        // 0.25 s refills 2.5 tokens.
        let t1 = t0 + Duration::from_millis(250);
        assert_eq!((0..8).filter(|_| r.allow(t1)).count(), 2);
        // Never more than the burst, however long it waits.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!((0..100).filter(|_| r.allow(t2)).count(), 5);
    }
}
