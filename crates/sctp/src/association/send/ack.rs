//! What SACKs, SHUTDOWN's cumulative ack and T3-rtx do to the chunks in
//! flight: RTT and RTO (RFC 9260 §6.3), gap acks and fast retransmit
//! (§7.2.4), congestion control (§7.2.1-§7.2.3).

use std::time::{Duration, Instant};

use crate::chunk::Sack;
use crate::list::List;

use super::super::recv::unwrap_near;
use super::super::Stats;
use super::Sender;

impl Sender {
    pub(crate) fn backoff_rto(&mut self) {
        self.rto = (self.rto * 2).min(self.rto_max);
    }

    /// RFC 9260 §6.3.1.
    pub(crate) fn rtt_sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = self.rttvar * 3 / 4 + diff / 4;
                self.srtt = Some(srtt * 7 / 8 + r / 8);
            }
        }
        let srtt = self.srtt.unwrap_or(r);
        self.rto = (srtt + 4 * self.rttvar).clamp(self.rto_min, self.rto_max);
    }

    pub(crate) fn on_t3_expired(&mut self, now: Instant, stats: &mut Stats) {
        self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
        self.cwnd = self.mtu;
        self.pba = 0;
        self.fast_recovery_exit = None;
        self.rtt_probe = None;
        self.backoff_rto();
        let mut abandon = Vec::new();
        for s in self.inflight.iter_mut() {
            if s.gap_acked || s.abandoned {
                continue;
            }
            if s.should_abandon(now) {
                abandon.push(s.msg_id);
                continue;
            }
            if !s.rtx {
                s.rtx = true;
                self.rtx_marked += 1;
            }
            if s.in_flight {
                s.in_flight = false;
                self.flight_size -= s.data.len();
            }
        }
        abandon.dedup();
        for id in abandon {
            self.abandon_msg(id, stats);
        }
        self.update_adv_point();
        self.t3 = if self.inflight.is_empty() {
            None
        } else {
            Some(now + self.rto)
        };
    }

    /// Whether a cumulative TSN ack names a TSN not sent yet: the peer
    /// acknowledges what it cannot have received.
    pub(crate) fn acks_unsent(&self, cum: u32) -> bool {
        unwrap_near(self.cum_acked, cum) >= self.next_tsn
    }

    pub(crate) fn on_cum_ack(&mut self, now: Instant, cum: u32, stats: &mut Stats) -> bool {
        let sack = Sack {
            cumulative_tsn_ack: cum,
            a_rwnd: self.peer_a_rwnd as u32,
            gap_blocks: List::empty(),
            duplicate_tsns: List::empty(),
        };
        self.on_sack(now, &sack, stats)
    }

    /// Processes a SACK (RFC 9260 §6.2.1, §7.2); returns whether the
    /// cumulative ack advanced.
    pub(crate) fn on_sack(&mut self, now: Instant, sack: &Sack<'_>, stats: &mut Stats) -> bool {
        let cum = unwrap_near(self.cum_acked, sack.cumulative_tsn_ack);
        if cum < self.cum_acked || cum >= self.next_tsn {
            return false;
        }
        let flight_before = self.flight_size;
        let advanced = cum > self.cum_acked;
        let mut acked_bytes = 0usize;
        while self.cum_acked < cum {
            let Some(s) = self.inflight.pop_front() else {
                break;
            };
            let tsn = self.cum_acked + 1;
            self.cum_acked = tsn;
            if s.in_flight {
                self.flight_size -= s.data.len();
            }
            if s.rtx {
                self.rtx_marked -= 1;
            }
            if !s.gap_acked && !s.abandoned {
                acked_bytes += s.data.len();
            }
            if let Some((ptsn, at)) = self.rtt_probe {
                if ptsn == tsn {
                    if s.tx_count == 1 {
                        self.rtt_sample(now.saturating_duration_since(at));
                    }
                    self.rtt_probe = None;
                }
            }
        }
        if self.rtt_probe.is_some_and(|(t, _)| t <= self.cum_acked) {
            self.rtt_probe = None;
        }
        let mut highest_new: Option<u64> = advanced.then_some(cum);
        let mut any_gap = false;
        for g in sack.gap_blocks.iter() {
            any_gap = true;
            let start = cum + u64::from(g.start);
            let end = (cum + u64::from(g.end)).min(self.next_tsn - 1);
            if g.start == 0 || start > end {
                continue;
            }
            for t in start..=end {
                let Some(s) = self.inflight.get_mut((t - self.cum_acked - 1) as usize) else {
                    break;
                };
                if s.gap_acked {
                    continue;
                }
                s.gap_acked = true;
                if s.in_flight {
                    s.in_flight = false;
                    self.flight_size -= s.data.len();
                }
                if s.rtx {
                    s.rtx = false;
                    self.rtx_marked -= 1;
                }
                if !s.abandoned {
                    acked_bytes += s.data.len();
                }
                highest_new = Some(highest_new.map_or(t, |h| h.max(t)));
            }
        }
        // Miss indications (§7.2.4, HTNA).
        let mut fast = false;
        if let (true, Some(h)) = (any_gap, highest_new) {
            let limit = (h - self.cum_acked) as usize;
            for s in self.inflight.iter_mut().take(limit) {
                if s.gap_acked || s.abandoned || s.rtx || s.fast_rtx_done {
                    continue;
                }
                s.missing = s.missing.saturating_add(1);
                if s.missing >= 3 {
                    s.rtx = true;
                    s.fast_rtx_done = true;
                    self.rtx_marked += 1;
                    if s.in_flight {
                        s.in_flight = false;
                        self.flight_size -= s.data.len();
                    }
                    fast = true;
                }
            }
        }
        if let Some(e) = self.fast_recovery_exit {
            if self.cum_acked >= e {
                self.fast_recovery_exit = None;
            }
        }
        if fast {
            stats.fast_retransmits += 1;
            if self.fast_recovery_exit.is_none() {
                self.ssthresh = (self.cwnd / 2).max(4 * self.mtu);
                self.cwnd = self.ssthresh;
                self.pba = 0;
                self.fast_recovery_exit = Some(self.next_tsn - 1);
            }
            self.fast_rtx_pending = true;
        }
        // Congestion window (§7.2.1, §7.2.2), grown only while it is fully
        // used: by what is in flight now, or by the last chance to send,
        // since SACKs read in a batch each see the flight their
        // predecessors emptied.
        let fully_used = self.cwnd_limited || flight_before + self.mtu >= self.cwnd;
        if advanced && self.fast_recovery_exit.is_none() && acked_bytes > 0 {
            if self.cwnd <= self.ssthresh {
                if fully_used {
                    self.cwnd += acked_bytes.min(self.mtu);
                }
            } else {
                self.pba += acked_bytes;
                if self.pba >= self.cwnd && fully_used {
                    self.pba -= self.cwnd;
                    self.cwnd += self.mtu;
                }
            }
        }
        self.peer_a_rwnd = sack.a_rwnd as usize;
        self.recover_window_probe();
        self.peer_rwnd = self.peer_a_rwnd.saturating_sub(self.flight_size);
        if self.inflight.is_empty() {
            self.t3 = None;
        } else if advanced || self.t3.is_none() {
            self.t3 = Some(now + self.rto);
        }
        self.update_adv_point();
        advanced
    }

    /// A zero-window probe the peer dropped would wait for T3-rtx, backed
    /// off by then, although the peer has announced room (a window update
    /// SACK when its application read, RFC 9260 §6.2): once a SACK
    /// announces room for it and it is still unacknowledged, it is marked
    /// for retransmission at once, without a congestion response (it was
    /// not lost to congestion; usrsctp's window probe recovery). A probe
    /// that crossed the SACK is merely sent twice.
    fn recover_window_probe(&mut self) {
        let Some(tsn) = self.window_probe else {
            return;
        };
        let probe = tsn
            .checked_sub(self.cum_acked + 1)
            .and_then(|i| self.inflight.get_mut(usize::try_from(i).ok()?));
        let Some(s) = probe.filter(|s| s.in_flight && !s.rtx && !s.gap_acked && !s.abandoned)
        else {
            // Acknowledged, abandoned or marked already.
            self.window_probe = None;
            return;
        };
        if self.peer_a_rwnd < s.data.len() {
            return;
        }
        s.in_flight = false;
        s.rtx = true;
        self.flight_size -= s.data.len();
        self.rtx_marked += 1;
        self.window_probe = None;
    }
}
