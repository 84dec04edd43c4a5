//! Receiver statistics (RFC 3550 §6.4.1, Appendix A.3 and A.8), sender
//! statistics for sender reports, and NTP ↔ RTP time mapping.

use std::time::{Duration, Instant};

use crate::rtcp::{ReportBlock, SenderReportRepr};
use crate::seq::SequenceUnwrapper;

/// A 64-bit NTP timestamp clock anchored to an `Instant` (the caller gives
/// one wall-clock reading; later times come from `Instant`s, so nothing here
/// reads a clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtpClock {
    base_instant: Instant,
    base_ntp: u64,
}

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

impl NtpClock {
    /// Anchors `ntp` (64-bit NTP format) at `now`.
    pub fn new(now: Instant, ntp: u64) -> Self {
        NtpClock {
            base_instant: now,
            base_ntp: ntp,
        }
    }
    /// Anchors a Unix time (since 1970) at `now`.
    pub fn from_unix(now: Instant, since_unix_epoch: Duration) -> Self {
        Self::new(
            now,
            duration_to_ntp(since_unix_epoch + Duration::from_secs(NTP_UNIX_OFFSET)),
        )
    }
    /// The NTP timestamp at `now`.
    pub fn ntp_at(&self, now: Instant) -> u64 {
        self.base_ntp.wrapping_add(duration_to_ntp(
            now.saturating_duration_since(self.base_instant),
        ))
    }
}

/// Converts a duration to 32.32 fixed-point seconds.
pub fn duration_to_ntp(d: Duration) -> u64 {
    (d.as_secs() << 32).wrapping_add((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
}

/// The middle 32 bits of an NTP timestamp (RFC 3550 §6.4.1 LSR).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// `d` in ticks of a `clock_rate` Hz clock, modulo 2^32 (what RTP
/// timestamps need): whole seconds times the rate plus the ticks of the
/// fraction, in 64-bit arithmetic (a 128-bit division costs more than the
/// rest of a received packet's statistics).
fn rtp_ticks(d: Duration, clock_rate: u32) -> u32 {
    let rate = u64::from(clock_rate);
    let whole = d.as_secs().wrapping_mul(rate);
    // subsec_nanos < 10^9 and rate < 2^32: the product fits in 64 bits.
    let fraction = u64::from(d.subsec_nanos()) * rate / 1_000_000_000;
    whole.wrapping_add(fraction) as u32
}

/// Round-trip time from a report block (RFC 3550 §6.4.1): arrival time
/// minus LSR minus DLSR, all in 1/65536 s; `None` without an LSR.
pub fn rtt_from_report(now_ntp: u64, block: &ReportBlock) -> Option<Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let a = ntp_middle(now_ntp);
    let rtt = a
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr);
    (rtt < 0x8000_0000).then(|| Duration::from_nanos(u64::from(rtt) * 1_000_000_000 / 65_536))
}

/// Maps RTP timestamps of one source to NTP time through its last sender
/// report (RFC 3550 §6.4.1: the SR pairs an NTP and an RTP timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpNtpMapping {
    /// NTP time of the sender report.
    pub ntp_time: u64,
    /// RTP timestamp of the same instant.
    pub rtp_time: u32,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
}

impl RtpNtpMapping {
    /// The NTP time of `rtp` (within ±2^31 ticks of the report).
    pub fn ntp_for_rtp(&self, rtp: u32) -> u64 {
        let ticks = i64::from(rtp.wrapping_sub(self.rtp_time) as i32);
        let delta = ((ticks.unsigned_abs() as u128) << 32) / u128::from(self.clock_rate.max(1));
        if ticks >= 0 {
            self.ntp_time.wrapping_add(delta as u64)
        } else {
            self.ntp_time.wrapping_sub(delta as u64)
        }
    }
    /// The RTP timestamp at NTP time `ntp`.
    pub fn rtp_for_ntp(&self, ntp: u64) -> u32 {
        let d = ntp.wrapping_sub(self.ntp_time) as i64;
        let ticks = (i128::from(d) * i128::from(self.clock_rate)) >> 32;
        self.rtp_time.wrapping_add(ticks as u32)
    }
}

/// Reception statistics of one source (RFC 3550 Appendix A.3, A.8).
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    ssrc: u32,
    clock_rate: u32,
    epoch: Option<Instant>,
    unwrapper: SequenceUnwrapper,
    base_seq: Option<u64>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Jitter in timestamp units, ×16 (RFC 3550 A.8 integer form).
    jitter_q4: u64,
    last_transit: Option<i64>,
    last_sr: Option<(u32, Instant)>,
}

impl ReceiverStats {
    /// Statistics for source `ssrc` with an RTP clock of `clock_rate` Hz.
    pub fn new(ssrc: u32, clock_rate: u32) -> Self {
        ReceiverStats {
            ssrc,
            clock_rate: clock_rate.max(1),
            epoch: None,
            unwrapper: SequenceUnwrapper::new(),
            base_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter_q4: 0,
            last_transit: None,
            last_sr: None,
        }
    }

    /// Records a packet arriving at `now`.
    pub fn handle_packet(&mut self, now: Instant, sequence_number: u16, rtp_timestamp: u32) {
        let ext = self.unwrapper.unwrap(sequence_number);
        self.base_seq = Some(self.base_seq.map_or(ext, |b| b.min(ext)));
        self.received += 1;
        let epoch = *self.epoch.get_or_insert(now);
        let arrival = rtp_ticks(now.saturating_duration_since(epoch), self.clock_rate);
        // Transit time in timestamp units, modulo 2^32 (A.8).
        let transit = i64::from(arrival.wrapping_sub(rtp_timestamp) as i32);
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs();
            self.jitter_q4 = self.jitter_q4 + d - ((self.jitter_q4 + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// Records a sender report from this source arriving at `now`.
    pub fn handle_sender_report(&mut self, now: Instant, ntp_time: u64) {
        self.last_sr = Some((ntp_middle(ntp_time), now));
    }

    /// Extended highest sequence number received.
    pub fn extended_highest_sequence(&self) -> u32 {
        self.unwrapper
            .highest()
            .map_or(0, |h| (h - (1 << 32)) as u32)
    }

    /// Cumulative packets lost (expected minus received; may be negative with duplicates).
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    fn expected(&self) -> u64 {
        match (self.base_seq, self.unwrapper.highest()) {
            (Some(b), Some(h)) => h - b + 1,
            _ => 0,
        }
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        (self.jitter_q4 >> 4) as u32
    }

    /// The report block for this source at `now`; starts a new interval
    /// for the fraction-lost computation (A.3).
    pub fn report_block(&mut self, now: Instant) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received - self.received_prior;
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let d = now.saturating_duration_since(at);
                (
                    lsr,
                    (d.as_nanos() * 65_536 / 1_000_000_000).min(u128::from(u32::MAX)) as u32,
                )
            }
            None => (0, 0),
        };
        ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-(1 << 23), (1 << 23) - 1) as i32,
            extended_highest_sequence: self.extended_highest_sequence(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// Sending statistics of one source, for its sender reports.
#[derive(Debug, Clone)]
pub struct SenderStats {
    ssrc: u32,
    clock_rate: u32,
    packets: u32,
    octets: u32,
    last: Option<(u32, Instant)>,
}

impl SenderStats {
    /// Statistics for source `ssrc` with an RTP clock of `clock_rate` Hz.
    pub fn new(ssrc: u32, clock_rate: u32) -> Self {
        SenderStats {
            ssrc,
            clock_rate: clock_rate.max(1),
            packets: 0,
            octets: 0,
            last: None,
        }
    }

    /// Records a packet sent at `now` with `payload_len` payload octets.
    pub fn handle_sent(&mut self, now: Instant, rtp_timestamp: u32, payload_len: usize) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.last = Some((rtp_timestamp, now));
    }

    /// A sender report for `now`: the RTP timestamp is extrapolated from
    /// the last packet sent so that it matches the NTP time (RFC 3550 §6.4.1).
    pub fn sender_report(
        &self,
        now: Instant,
        clock: &NtpClock,
        reports: Vec<ReportBlock>,
    ) -> SenderReportRepr {
        let rtp_time = self.last.map_or(0, |(ts, at)| {
            let elapsed = now.saturating_duration_since(at).as_nanos()
                * u128::from(self.clock_rate)
                / 1_000_000_000;
            ts.wrapping_add(elapsed as u32)
        });
        SenderReportRepr {
            ssrc: self.ssrc,
            ntp_time: clock.ntp_at(now),
            rtp_time,
            packet_count: self.packets,
            octet_count: self.octets,
            reports,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_ticks_match_the_exact_128_bit_formula() {
        let exact =
            |d: Duration, rate: u32| (d.as_nanos() * u128::from(rate) / 1_000_000_000) as u32;
        for rate in [1, 8_000, 48_000, 90_000, u32::MAX] {
            for d in [
                Duration::ZERO,
                Duration::from_nanos(1),
                Duration::from_nanos(999_999_999),
                Duration::from_millis(20),
                Duration::new(1, 11_111),
                Duration::new(47_721, 858_835_000),
                Duration::new(86_400 * 365, 123_456_789),
                Duration::new(u64::MAX / 2, 999_999_999),
            ] {
                assert_eq!(rtp_ticks(d, rate), exact(d, rate), "{d:?} at {rate} Hz");
            }
        }
    }
}
