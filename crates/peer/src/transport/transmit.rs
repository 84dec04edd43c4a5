//! Datagrams out: queued ones, and data-channel packets (due SACKs first)
//! built and sealed when polled.

use std::time::Instant;

use super::MAX_TRANSMITS;
use crate::{PeerConnection, Transmit, TransmitPath};

/// Most datagram buffers kept for reuse.
const MAX_SPARE_PAYLOADS: usize = 32;
/// Room a DTLS record adds to an SCTP packet (header, explicit nonce, tag),
/// rounded up.
const DATAGRAM_OVERHEAD: usize = 64;

/// A buffer for one datagram: a recycled one from `pool`, or a new one of
/// `capacity`.
fn take_spare(pool: &mut Vec<Vec<u8>>, capacity: usize) -> Vec<u8> {
    match pool.pop() {
        Some(mut b) => {
            b.clear();
            b
        }
        None => Vec::with_capacity(capacity),
    }
}

impl PeerConnection {
    /// The next datagram to send, in a new buffer (see
    /// [`Self::poll_transmit_into`] for the form that reuses one).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.transport.transmits.pop_front() {
            self.count_sent(t.payload.len());
            return Some(t);
        }
        // No association, no data datagram: take no buffer for one.
        self.data.sctp.get()?;
        let capacity = self.config.sctp.mtu + DATAGRAM_OVERHEAD;
        let mut payload = take_spare(&mut self.transport.spare_payloads, capacity);
        let Some(path) = self.build_data_datagram(&mut payload) else {
            self.keep_spare(payload);
            return None;
        };
        Some(Transmit {
            source: path.source,
            destination: path.destination,
            payload,
        })
    }

    /// Writes the next datagram to send into `buf` (replacing its contents)
    /// and says where it goes. Data-channel packets are built and sealed
    /// straight into `buf` when polled, so a sender that reuses one buffer
    /// allocates nothing per datagram, and each packet is sent while its
    /// bytes are still in cache.
    pub fn poll_transmit_into(&mut self, buf: &mut Vec<u8>) -> Option<TransmitPath> {
        if let Some(t) = self.transport.transmits.pop_front() {
            self.count_sent(t.payload.len());
            buf.clear();
            buf.extend_from_slice(&t.payload);
            self.keep_spare(t.payload);
            return Some(TransmitPath {
                source: t.source,
                destination: t.destination,
            });
        }
        self.build_data_datagram(buf)
    }

    /// Keeps `buf` for a later datagram while data waits to be sent, if it
    /// is big enough and the pool is not full (an idle connection keeps
    /// none); returns it otherwise.
    pub(crate) fn keep_spare(&mut self, buf: Vec<u8>) -> Option<Vec<u8>> {
        let sending = self
            .data
            .sctp
            .get()
            .is_some_and(|dc| dc.association().has_queued_data());
        if sending
            && self.transport.spare_payloads.len() < MAX_SPARE_PAYLOADS
            && buf.capacity() >= self.config.sctp.mtu + DATAGRAM_OVERHEAD
        {
            self.transport.spare_payloads.push(buf);
            None
        } else {
            Some(buf)
        }
    }

    fn count_sent(&mut self, len: usize) {
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += len as u64;
    }

    /// Builds the next SCTP packet the association may send (a due SACK
    /// first, then what cwnd and the peer's window allow) and seals it as
    /// one DTLS record into `buf`.
    pub(crate) fn build_data_datagram(&mut self, buf: &mut Vec<u8>) -> Option<TransmitPath> {
        let now = self.now.filter(|_| !self.is_closed())?;
        let path = self.seal_next_sctp(now, buf)?;
        self.count_sent(buf.len());
        // Sending can cross a channel's low-water mark.
        self.drain_sctp_events();
        Some(path)
    }

    /// Builds SCTP's next packet into `buf` (replacing its contents) after
    /// room for the record's header, and has DTLS seal it where it lies.
    fn seal_next_sctp(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<TransmitPath> {
        let (source, destination) = self.transport.selected.or(self.transport.dtls_peer)?;
        let (dc, d) = (self.data.sctp.get_mut()?, self.transport.dtls.as_mut()?);
        if !d.is_connected() {
            return None;
        }
        let room = d.record_prefix_len()?;
        buf.clear();
        buf.resize(room, 0);
        dc.poll_transmit(now, buf)?;
        d.seal_application_data_in_place(buf).ok()?;
        Some(TransmitPath {
            source,
            destination,
        })
    }

    /// Seals all SCTP has to send (due SACKs first) into the transmit queue
    /// now instead of when polled (before close_notify).
    pub(crate) fn seal_sctp_now(&mut self, now: Instant) {
        let capacity = self.config.sctp.mtu + DATAGRAM_OVERHEAD;
        loop {
            let mut payload = take_spare(&mut self.transport.spare_payloads, capacity);
            let Some(path) = self.seal_next_sctp(now, &mut payload) else {
                self.keep_spare(payload);
                return;
            };
            if self.transport.transmits.len() < MAX_TRANSMITS {
                self.transport.transmits.push_back(Transmit {
                    source: path.source,
                    destination: path.destination,
                    payload,
                });
            }
        }
    }
}
