//! Building outgoing packets: control chunks, the SACK, FORWARD-TSN,
//! RE-CONFIG and DATA bundled up to the MTU (RFC 9260 §6.10).

use std::time::Instant;

use crate::chunk::Chunk;
use crate::list::List;
use crate::packet::PacketWriter;

use super::recv;
use super::{Association, State};

/// Control chunks held before the caller drains them.
const MAX_CONTROL_QUEUE: usize = 256;

#[derive(Debug)]
pub(super) struct ControlChunk {
    pub(super) bytes: Vec<u8>,
    /// Packet verification tag when it is not the peer's tag (INIT: 0,
    /// INIT-ACK: the INIT's Initiate Tag).
    pub(super) vtag: Option<u32>,
}

impl Association {
    pub(super) fn queue_chunk(&mut self, chunk: &Chunk<'_>) {
        // Bound what a flood of requests (HEARTBEAT, bad streams, ...) can
        // queue before the caller drains poll_transmit.
        if self.control.len() >= MAX_CONTROL_QUEUE {
            return;
        }
        let mut bytes = Vec::with_capacity(chunk.encoded_len());
        chunk.emit(&mut bytes);
        self.control.push_back(ControlChunk { bytes, vtag: None });
    }

    fn use_zero_checksum(&self) -> bool {
        self.peer_zero_checksum && self.is_established()
    }

    /// True while packets are sent without CRC32c (RFC 9653): both sides
    /// offered the zero checksum with DTLS as the alternate error detection
    /// method, and the association is established.
    pub fn zero_checksum_in_use(&self) -> bool {
        self.use_zero_checksum()
    }

    /// Writes the next SCTP packet to send at the end of `buf`, after what
    /// it already holds, and returns the packet's length; `None` when there
    /// is nothing to send now (cwnd and the peer's window allowing).
    ///
    /// Appending lets the layer below reserve room for its header and seal
    /// the packet where it lies (DTLS: clear `buf`, resize it to the record
    /// header, poll, seal in place); a caller that wants the packet alone
    /// clears `buf` first. The packet is built when polled, straight into
    /// the caller's buffer, so a caller that reuses one buffer allocates
    /// nothing per packet. SACKs the peer counts on that fell due while
    /// packets were being received come out first (see
    /// [`Self::handle_receive`]).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> Option<usize> {
        if let Some(packet) = self.due.pop() {
            buf.extend_from_slice(packet);
            return Some(packet.len());
        }
        let start = buf.len();
        self.write_packet(now, buf).then(|| buf.len() - start)
    }

    /// Appends the next packet to `out`; false (and `out` as it was) when
    /// there is nothing to send.
    pub(super) fn write_packet(&mut self, now: Instant, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        // Chunks with their own verification tag go alone (INIT, INIT-ACK).
        if let Some(ControlChunk {
            vtag: Some(tag), ..
        }) = self.control.front()
        {
            let tag = *tag;
            let Some(c) = self.control.pop_front() else {
                return false;
            };
            let mut w =
                PacketWriter::new(out, self.config.local_port, self.config.remote_port, tag);
            w.buffer().extend_from_slice(&c.bytes);
            w.finish(false);
            self.stats.packets_sent += 1;
            return true;
        }
        let zero = self.use_zero_checksum();
        let mtu = self.config.mtu;
        let mut w = PacketWriter::new(
            out,
            self.config.local_port,
            self.config.remote_port,
            self.peer_vtag,
        );
        while let Some(c) = self.control.front() {
            if c.vtag.is_some() || (!w.is_empty() && w.len() + c.bytes.len() > mtu) {
                break;
            }
            if let Some(c) = self.control.pop_front() {
                w.buffer().extend_from_slice(&c.bytes);
            }
        }
        if self.is_established() || self.state == State::ShutdownAckSent {
            // Piggyback a pending delayed SACK on outgoing data.
            if self.sack_at.is_some() && self.sender.has_data_to_send() {
                self.sack_now = true;
            }
            if self.sack_now && w.len() + 16 + 4 * recv::MAX_GAP_BLOCKS + 64 <= mtu.max(400) {
                self.write_sack(&mut w);
            }
            if self.peer_forward_tsn && self.sender.forward_tsn_pending() {
                self.sender.write_forward_tsn(&mut w, mtu);
            }
            self.maybe_send_reconfig(now);
            while let Some(c) = self.control.front() {
                if c.vtag.is_some() || w.len() + c.bytes.len() > mtu {
                    break;
                }
                if let Some(c) = self.control.pop_front() {
                    w.buffer().extend_from_slice(&c.bytes);
                }
            }
            if matches!(
                self.state,
                State::Established | State::ShutdownPending | State::ShutdownReceived
            ) {
                self.sender
                    .write_data(now, &mut w, mtu, &mut self.events, &mut self.stats);
            }
        }
        if w.is_empty() {
            out.truncate(start);
            return false;
        }
        w.finish(zero);
        self.stats.packets_sent += 1;
        true
    }

    fn write_sack(&mut self, w: &mut PacketWriter<'_>) {
        let Some(r) = self.receiver.as_mut() else {
            return;
        };
        r.gap_blocks(&mut self.gap_scratch);
        r.take_dups(&mut self.dup_scratch);
        Chunk::Sack(crate::chunk::Sack {
            cumulative_tsn_ack: r.cum_tsn(),
            a_rwnd: {
                self.last_a_rwnd_sent = r.a_rwnd();
                self.last_a_rwnd_sent
            },
            gap_blocks: List::Items(&self.gap_scratch),
            duplicate_tsns: List::Items(&self.dup_scratch),
        })
        .emit(w.buffer());
        self.sack_now = false;
        self.sack_at = None;
        self.data_packets_unacked = 0;
    }
}
