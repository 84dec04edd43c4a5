//! Media counters per transceiver (`inbound-rtp`/`outbound-rtp`).

use super::*;

/// Media counters of one transceiver, comparable to `getStats()`'s
/// `outbound-rtp`, `inbound-rtp` and `remote-inbound-rtp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaStats {
    /// The transceiver.
    pub transceiver: usize,
    /// Its mid.
    pub mid: Option<String>,
    /// RTP packets sent (retransmissions excluded).
    pub packets_sent: u64,
    /// Payload bytes sent (retransmissions excluded).
    pub bytes_sent: u64,
    /// Frames given to [`crate::PeerConnection::write_frame`].
    pub frames_sent: u64,
    /// Packets retransmitted in answer to NACKs.
    pub retransmitted_packets_sent: u64,
    /// RTP packets received (all layers, retransmissions included once).
    pub packets_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Packets lost (expected minus received, RFC 3550 A.3).
    pub packets_lost: i64,
    /// Interarrival jitter (RFC 3550 A.8) of the first layer.
    pub jitter: Duration,
    /// Frames assembled.
    pub frames_received: u64,
    /// Keyframes assembled.
    pub keyframes_received: u64,
    /// NACK packets sent / received.
    pub nack_sent: u64,
    /// NACK packets received.
    pub nack_received: u64,
    /// PLIs sent.
    pub pli_sent: u64,
    /// PLIs received.
    pub pli_received: u64,
    /// FIRs sent.
    pub fir_sent: u64,
    /// FIRs received.
    pub fir_received: u64,
    /// Round-trip time from the last report block about our stream (RFC 3550 §6.4.1).
    pub round_trip_time: Option<Duration>,
    /// Fraction lost the remote reported about our stream, in 1/256.
    pub remote_fraction_lost: u8,
    /// The last REMB bitrate the remote announced for our stream, bit/s.
    pub remb_bitrate: Option<u64>,
    /// Transport-wide CC feedback packets received.
    pub twcc_feedback_received: u64,
    /// Sender reports received.
    pub sr_received: u64,
}

impl Media {
    /// Media counters of every transceiver that has media state.
    pub(crate) fn stats(&self) -> Vec<MediaStats> {
        self.tracks
            .iter()
            .filter(|t| t.kind.is_some())
            .map(|t| {
                let mut s = t.stats.clone();
                s.packets_lost = t.layers.iter().map(|l| l.stats.cumulative_lost()).sum();
                if let (Some(l), Some(c)) = (t.layers.first(), t.codecs.first()) {
                    s.jitter = Duration::from_nanos(
                        u64::from(l.stats.jitter()) * 1_000_000_000
                            / u64::from(c.clock_rate.max(1)),
                    );
                }
                s
            })
            .collect()
    }
}
