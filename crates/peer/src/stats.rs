//! Counters comparable to `getStats()`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{MediaStats, PeerConnection};

/// Counters comparable to `getStats()` (transport, candidate pair, channels).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams and bytes sent on the transport.
    pub packets_sent: u64,
    /// Bytes sent on the transport.
    pub bytes_sent: u64,
    /// Datagrams received on the transport.
    pub packets_received: u64,
    /// Bytes received on the transport.
    pub bytes_received: u64,
    /// Datagrams dropped by the RFC 7983 classifier (unknown first byte).
    pub unknown_packets: u64,
    /// SRTP/SRTCP datagrams received (media is handled by a later layer).
    pub rtp_packets_received: u64,
    /// Data-channel messages sent.
    pub messages_sent: u64,
    /// Data-channel messages received.
    pub messages_received: u64,
    /// Data channels opened (either side).
    pub data_channels_opened: u64,
    /// Data channels closed.
    pub data_channels_closed: u64,
    /// The selected candidate pair, local then remote address.
    pub selected_pair: Option<(SocketAddr, SocketAddr)>,
    /// The negotiated DTLS cipher suite.
    pub dtls_cipher: Option<fulmar_dtls::CipherSuite>,
    /// The SRTP protection profile DTLS agreed on (use_srtp).
    pub srtp_profile: Option<fulmar_srtp::ProtectionProfile>,
    /// SCTP packets go without CRC32c: both sides negotiated RFC 9653 zero
    /// checksum (DTLS authenticates every packet).
    pub sctp_zero_checksum: bool,
    /// Round-trip time of the selected pair, if measured.
    pub rtt: Option<Duration>,
    /// SRTP/SRTCP datagrams dropped (authentication, replay, unroutable).
    pub rtp_packets_dropped: u64,
    /// Media counters per transceiver (`inbound-rtp`/`outbound-rtp`).
    pub media: Vec<MediaStats>,
}

impl PeerConnection {
    /// Counters comparable to `getStats()`.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.selected_pair = self.transport.selected;
        if let Some(d) = &self.transport.dtls {
            s.dtls_cipher = d.cipher_suite();
            s.srtp_profile = d
                .srtp_profile()
                .and_then(|id| fulmar_srtp::ProtectionProfile::from_id(id).ok());
        }
        if let Some(dc) = self.data.sctp.get() {
            s.sctp_zero_checksum = dc.association().zero_checksum_in_use();
        }
        if let Some(m) = self.media.engine.as_deref() {
            s.rtp_packets_dropped = m.dropped;
            s.media = m.stats();
        }
        s.rtt = self.stats_rtt();
        s
    }

    /// The round-trip time ICE measured on the selected pair.
    pub(crate) fn stats_rtt(&self) -> Option<Duration> {
        let (Some(ice), Some((src, dst))) = (&self.ice.agent, self.transport.selected) else {
            return None;
        };
        ice.pair_stats()
            .into_iter()
            .find(|p| p.local == src && p.remote == dst)
            .and_then(|p| p.current_rtt)
    }
}
