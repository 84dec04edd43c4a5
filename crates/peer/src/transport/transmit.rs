//! Datagrams out, written into the caller's buffer when polled: the SCTP
//! packets sealed before close_notify, DTLS's handshake and alert records,
//! ICE's checks and responses, media (RTP from the send history and RTCP,
//! protected in place), and last the data-channel packets (due SACKs first)
//! built and sealed in place.

use std::net::SocketAddr;
use std::time::Instant;

use super::{Queued, MAX_TRANSMITS};
use crate::{PeerConnection, Transmit};

impl PeerConnection {
    /// Writes the next datagram to send into `buf` (replacing its contents)
    /// and says where it goes; `len` is `buf.len()`. Records, checks and
    /// data-channel packets are built into `buf` when polled, so a sender
    /// that reuses one buffer allocates nothing per datagram, and each
    /// packet is sent while its bytes are still in cache. Poll until `None`
    /// after every input.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<Transmit> {
        let (source, destination) = self.next_relayed(now, buf)?;
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += buf.len() as u64;
        Some(Transmit {
            source,
            destination,
            len: buf.len(),
        })
    }

    /// The next datagram into `buf`, and its path (before a TURN relay
    /// wraps it: `next_relayed`). The path of DTLS, media and SCTP is read
    /// once and copied out only with a datagram: this runs for every packet.
    pub(crate) fn next_datagram(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
    ) -> Option<(SocketAddr, SocketAddr)> {
        if let Some(q) = self.transport.transmits.pop_front() {
            buf.clear();
            buf.extend_from_slice(&q.payload);
            return Some((q.source, q.destination));
        }
        let has_path = self.transport.selected.is_some() || self.transport.dtls_peer.is_some();
        if has_path && self.poll_dtls(now, buf) {
            return self.data_path();
        }
        if let Some(t) = self
            .ice
            .agent
            .as_mut()
            .and_then(|ice| ice.poll_transmit(now, buf))
        {
            return Some((t.source, t.destination));
        }
        if !has_path || self.is_closed() {
            return None;
        }
        if self.poll_media(buf) || self.build_data_datagram(now, buf) {
            return self.data_path();
        }
        None
    }

    /// Where DTLS, media and SCTP go: the selected pair, or before ICE
    /// selects one, where DTLS records came from.
    fn data_path(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.transport.selected.or(self.transport.dtls_peer)
    }

    /// Protects the media engine's next RTP or RTCP packet into `buf`.
    fn poll_media(&mut self, buf: &mut Vec<u8>) -> bool {
        let (Some(m), Some(srtp)) = (
            self.media.engine.as_deref_mut(),
            self.transport.srtp.as_deref_mut(),
        ) else {
            return false;
        };
        m.poll_transmit(srtp, buf)
    }

    /// Writes DTLS's next handshake or alert datagram into `buf`.
    fn poll_dtls(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        self.transport
            .dtls
            .as_mut()
            .and_then(|d| d.poll_transmit(now, buf))
            .is_some()
    }

    /// Builds the next SCTP packet the association may send (a due SACK
    /// first, then what cwnd and the peer's window allow) and seals it as
    /// one DTLS record into `buf`.
    fn build_data_datagram(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        self.now = Some(self.now.map_or(now, |t| t.max(now)));
        if !self.seal_next_sctp(now, buf) {
            return false;
        }
        // Sending can cross a channel's low-water mark.
        self.drain_sctp_events();
        true
    }

    /// Builds SCTP's next packet into `buf` (replacing its contents) after
    /// room for the record's header, and has DTLS seal it where it lies.
    fn seal_next_sctp(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        let (Some(dc), Some(d)) = (self.data.sctp.get_mut(), self.transport.dtls.as_mut()) else {
            return false;
        };
        let Some(room) = d.record_prefix_len().filter(|_| d.is_connected()) else {
            return false;
        };
        buf.clear();
        buf.resize(room, 0);
        dc.poll_transmit(now, buf).is_some() && d.seal_application_data_in_place(buf).is_ok()
    }

    /// Seals all SCTP has to send (due SACKs first) into the transmit queue
    /// now instead of when polled (before close_notify; once, at close).
    pub(crate) fn seal_sctp_now(&mut self, now: Instant) {
        let Some((source, destination)) = self.data_path() else {
            return;
        };
        let mut payload = Vec::new();
        while self.seal_next_sctp(now, &mut payload) {
            if self.transport.transmits.len() < MAX_TRANSMITS {
                self.transport.transmits.push_back(Queued {
                    source,
                    destination,
                    payload: std::mem::take(&mut payload),
                });
            }
        }
    }
}
