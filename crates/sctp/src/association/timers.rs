//! The timers: T1-init and T1-cookie, T2-shutdown, the delayed SACK,
//! heartbeats (RFC 9260 §8.3), the RE-CONFIG retransmission, T3-rtx and
//! housekeeping of idle buffers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::chunk::Chunk;

use super::recv::Receiver;
use super::{Association, CloseReason, RetransmissionLimit, State};

/// How long after activity the buffers of an idle association are returned.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

impl Association {
    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.t1.is_some_and(|t| t <= now) {
            self.t1_count += 1;
            if self.t1_count > self.config.max_init_retransmits {
                self.close(CloseReason::Timeout(RetransmissionLimit::Init));
                return;
            }
            let backoff = self
                .config
                .rto_initial
                .saturating_mul(1 << self.t1_count.min(16));
            self.t1 = Some(now + backoff.min(self.config.rto_max));
            match self.state {
                State::CookieWait => self.queue_init(),
                State::CookieEchoed => {
                    if let Some(c) = self.cookie_echo.clone() {
                        self.queue_chunk(&Chunk::CookieEcho { cookie: &c });
                    }
                }
                _ => self.t1 = None,
            }
        }
        if self.t2.is_some_and(|t| t <= now) {
            self.t2_count += 1;
            if self.t2_count > self.config.max_association_retransmits {
                self.close(CloseReason::Timeout(RetransmissionLimit::Shutdown));
                return;
            }
            self.t2 = Some(now + self.sender.rto);
            self.sender.backoff_rto();
            match self.state {
                State::ShutdownSent => self.queue_shutdown(),
                State::ShutdownAckSent => self.queue_chunk(&Chunk::ShutdownAck),
                _ => self.t2 = None,
            }
        }
        if self.sack_at.is_some_and(|t| t <= now) {
            self.sack_at = None;
            self.sack_now = true;
        }
        if self.hb_outstanding.is_some_and(|(_, at)| at <= now) {
            self.hb_outstanding = None;
            self.error_count += 1;
            self.sender.backoff_rto();
            if self.error_count > self.config.max_association_retransmits {
                self.close(CloseReason::Timeout(RetransmissionLimit::Association));
                return;
            }
        }
        if self.hb_next.is_some_and(|t| t <= now) && self.is_established() {
            self.send_heartbeat(now);
        }
        if self.reconfig_timer.is_some_and(|t| t <= now) {
            self.reconfig_timer = None;
            if let Some(req) = &self.reconfig_outstanding {
                let (seq, last_tsn, streams) = (req.seq, req.last_tsn, req.streams.clone());
                self.queue_reconfig_request(seq, last_tsn, &streams);
                self.reconfig_timer = Some(now + self.sender.rto);
            }
        }
        if self.sender.t3.is_some_and(|t| t <= now) {
            self.stats.t3_expirations += 1;
            self.error_count += 1;
            if self.error_count > self.config.max_association_retransmits {
                self.close(CloseReason::Timeout(RetransmissionLimit::Association));
                return;
            }
            self.sender.on_t3_expired(now, &mut self.stats);
        }
        if self.housekeeping_at.is_some_and(|t| t <= now) {
            // Not while data still arrives: the buffers of its messages
            // would only be allocated again.
            let receiving = self
                .last_data_at
                .is_some_and(|t| now.saturating_duration_since(t) < HOUSEKEEPING_INTERVAL);
            self.housekeeping_at = if receiving {
                Some(now + HOUSEKEEPING_INTERVAL)
            } else {
                self.release_idle_buffers();
                None
            };
        }
    }

    /// Arms the housekeeping timer when the association just went idle
    /// (nothing queued or in flight): a second later, if still idle, it
    /// returns the buffers it kept for reuse. An idle connection keeps no
    /// packet buffers; a busy one reallocates nothing per packet.
    pub(super) fn schedule_housekeeping(&mut self, now: Instant) {
        if self.housekeeping_at.is_none()
            && self.is_established()
            && self.sender.all_done()
            && self.control.is_empty()
            && (self.control.capacity() != 0
                || self.gap_scratch.capacity() != 0
                || self.due.holds_buffers()
                || self.sender.holds_buffers()
                || self.receiver.as_ref().is_some_and(Receiver::holds_buffers))
        {
            self.housekeeping_at = Some(now + HOUSEKEEPING_INTERVAL);
        }
    }

    /// Returns buffers kept for reuse (emptied queues, scratch lists, the
    /// buffers of reassembled messages) to the allocator if no data is
    /// queued or in flight. Runs from the housekeeping timer about a second
    /// after activity, so the owner never has to.
    fn release_idle_buffers(&mut self) {
        if !self.sender.all_done() {
            return;
        }
        self.sender.release_idle_buffers();
        if self.control.is_empty() {
            self.control = VecDeque::new();
        }
        self.gap_scratch = Vec::new();
        self.dup_scratch = Vec::new();
        self.due.release_if_empty();
        if let Some(r) = self.receiver.as_mut() {
            r.release_idle_buffers();
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
        if self.reset_queue.is_empty() {
            self.reset_queue = Vec::new();
        }
    }

    /// A random heartbeat nonce (RFC 9260 §8.3); the key moves on with
    /// every draw.
    fn next_nonce(&mut self) -> u64 {
        let mut stream = StdRng::from_seed(self.nonce_key);
        let nonce = stream.next_u64();
        stream.fill_bytes(&mut self.nonce_key);
        nonce
    }

    fn send_heartbeat(&mut self, now: Instant) {
        let nonce = self.next_nonce();
        let mut info = [0u8; 16];
        info[..8].copy_from_slice(&nonce.to_be_bytes());
        let ms = now.saturating_duration_since(self.epoch).as_millis() as u64;
        info[8..].copy_from_slice(&ms.to_be_bytes());
        self.queue_chunk(&Chunk::Heartbeat { info: &info });
        self.hb_outstanding = Some((nonce, now + self.sender.rto));
        self.hb_next = self
            .config
            .heartbeat_interval
            .map(|i| now + i + self.sender.rto);
    }

    pub(super) fn on_heartbeat_ack(&mut self, now: Instant, info: &[u8]) {
        let Some((nonce, _)) = self.hb_outstanding else {
            return;
        };
        let Some(got) = info.get(..8) else { return };
        if got != nonce.to_be_bytes() {
            return;
        }
        let mut ms = [0u8; 8];
        if let Some(b) = info.get(8..16) {
            ms.copy_from_slice(b);
        }
        let sent = self.epoch + Duration::from_millis(u64::from_be_bytes(ms));
        self.hb_outstanding = None;
        self.error_count = 0;
        self.sender.rtt_sample(now.saturating_duration_since(sent));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::Bytes;
    use fulmar_netsim::{Pair, Party};
    use rand::SeedableRng;

    use super::super::{Config, Event, SendOptions};
    use super::*;

    /// The association on fulmar-netsim's link: its verbs are the contract's.
    impl Party for Association {
        type Event = Event;
        fn handle_receive(&mut self, now: Instant, datagram: &mut [u8]) {
            Association::handle_receive(self, now, datagram);
        }
        fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
            buf.clear();
            Association::poll_transmit(self, now, buf)
        }
        fn poll_event(&mut self) -> Option<Event> {
            Association::poll_event(self)
        }
        fn handle_timeout(&mut self, now: Instant) {
            Association::handle_timeout(self, now);
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Association::poll_timeout(self)
        }
    }

    #[test]
    fn housekeeping_returns_the_buffers_of_an_idle_association() {
        let now = Instant::now();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let a = Association::new(Config::default(), &mut rng, now);
        let b = Association::new(Config::default(), &mut rng, now);
        let mut p = Pair::new(now, a, b, 3);
        p.a.connect(now).unwrap();
        p.b.connect(now).unwrap();
        assert!(p.run_until(Duration::from_secs(1), |p| p.a.is_established()
            && p.b.is_established()));
        let message = Bytes::from(vec![7; 20_000]);
        p.a.send(p.now(), 1, 53, message, SendOptions::default())
            .unwrap();
        assert!(p.run_until(Duration::from_secs(1), |p| p
            .events_b
            .iter()
            .any(|e| matches!(e, Event::Message(_)))));
        p.events_b.clear();
        p.run_for(Duration::from_millis(300));
        // Busy a moment ago: the buffers are kept for the next messages.
        assert!(p.b.receiver.as_ref().is_some_and(Receiver::holds_buffers));
        assert!(p.a.sender.holds_buffers());
        assert!(
            p.b.due.holds_buffers(),
            "due SACKs were built in slow start"
        );
        assert!(p.b.housekeeping_at.is_some());
        p.run_for(2 * HOUSEKEEPING_INTERVAL);
        // A second of quiet later, they are gone.
        assert!(!p.b.receiver.as_ref().is_some_and(Receiver::holds_buffers));
        assert!(!p.a.sender.holds_buffers());
        assert!(!p.b.due.holds_buffers());
        assert_eq!(p.a.control.capacity() + p.a.gap_scratch.capacity(), 0);
        assert!(p.a.housekeeping_at.is_none() && p.b.housekeeping_at.is_none());
    }
}
