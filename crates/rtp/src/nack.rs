//! A sans-IO generic-NACK generator (RFC 4585 §6.2.1) with RTT-aware retries.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::rtcp::NackRepr;
use crate::seq::SequenceUnwrapper;

/// Settings of a [`NackGenerator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackConfig {
    /// Most packets tracked as missing; a larger gap resets tracking.
    pub max_missing: usize,
    /// Requests per missing packet before giving up.
    pub max_retries: u32,
    /// Age after which a missing packet is given up.
    pub max_age: Duration,
    /// Round-trip time used until [`NackGenerator::set_rtt`] is called.
    pub initial_rtt: Duration,
}

impl Default for NackConfig {
    fn default() -> Self {
        NackConfig {
            max_missing: 1000,
            max_retries: 10,
            max_age: Duration::from_secs(1),
            initial_rtt: Duration::from_millis(100),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Missing {
    first_seen: Instant,
    last_sent: Option<Instant>,
    retries: u32,
}

/// Tracks missing sequence numbers of one SSRC and says when to NACK them:
/// at once, then again each RTT until received, too old, or out of retries.
#[derive(Debug)]
pub struct NackGenerator {
    config: NackConfig,
    rtt: Duration,
    unwrapper: SequenceUnwrapper,
    highest: Option<u64>,
    missing: BTreeMap<u64, Missing>,
    sender_ssrc: u32,
    media_ssrc: u32,
}

impl NackGenerator {
    /// A generator for the media stream `media_ssrc`, NACKs sent as `sender_ssrc`.
    pub fn new(config: NackConfig, sender_ssrc: u32, media_ssrc: u32) -> Self {
        NackGenerator {
            config,
            rtt: config.initial_rtt,
            unwrapper: SequenceUnwrapper::new(),
            highest: None,
            missing: BTreeMap::new(),
            sender_ssrc,
            media_ssrc,
        }
    }

    /// Updates the round-trip time that spaces retries.
    pub fn set_rtt(&mut self, rtt: Duration) {
        self.rtt = rtt;
    }

    /// Number of packets currently considered missing.
    pub fn missing_count(&self) -> usize {
        self.missing.len()
    }

    /// Records a received packet. Returns false for a packet seen before
    /// (or older than everything tracked): a duplicate, e.g. a retransmission
    /// that crossed a repeated NACK.
    pub fn handle_packet(&mut self, now: Instant, sequence_number: u16) -> bool {
        let ext = self.unwrapper.unwrap(sequence_number);
        match self.highest {
            None => self.highest = Some(ext),
            Some(h) if ext > h => {
                let gap = ext - h - 1;
                if gap as usize > self.config.max_missing {
                    // Too large a jump (a restart or a long outage): start over.
                    self.missing.clear();
                } else {
                    for s in h + 1..ext {
                        self.missing.insert(
                            s,
                            Missing {
                                first_seen: now,
                                last_sent: None,
                                retries: 0,
                            },
                        );
                    }
                    while self.missing.len() > self.config.max_missing {
                        self.missing.pop_first();
                    }
                }
                self.highest = Some(ext);
            }
            Some(_) => {
                return self.missing.remove(&ext).is_some();
            }
        }
        true
    }

    /// Drops packets that are too old or out of retries.
    fn expire(&mut self, now: Instant) {
        let (max_age, max_retries) = (self.config.max_age, self.config.max_retries);
        self.missing.retain(|_, m| {
            now.saturating_duration_since(m.first_seen) < max_age && m.retries < max_retries
        });
    }

    /// The NACK to send now, if any packet is due (new, or unanswered for an RTT).
    pub fn poll_nack(&mut self, now: Instant) -> Option<NackRepr> {
        self.expire(now);
        let rtt = self.rtt;
        let mut due = Vec::new();
        for (&s, m) in self.missing.iter_mut() {
            if m.last_sent
                .is_none_or(|t| now.saturating_duration_since(t) >= rtt)
            {
                m.last_sent = Some(now);
                m.retries += 1;
                due.push(s as u16);
            }
        }
        (!due.is_empty()).then(|| NackRepr::from_lost(self.sender_ssrc, self.media_ssrc, due))
    }

    /// When [`NackGenerator::poll_nack`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.missing
            .values()
            .map(|m| m.last_sent.map_or(m.first_seen, |t| t + self.rtt))
            .min()
    }
}
