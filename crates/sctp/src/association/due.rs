//! Packets built when a SACK fell due that the peer counts on, waiting for
//! [`Association::poll_transmit`](super::Association::poll_transmit).
//!
//! A receiver owes a SACK for every second packet (RFC 9260 §6.2). When the
//! owner hands in a batch of packets before polling, the SACKs falling due
//! in between would all leave at the poll, and the last one acknowledges
//! everything the others did: building only that one spares a packet (and
//! a DTLS record to seal and open) per two received. That is
//! acknowledgement compression, as TCP receivers do it with GRO. But the
//! peer counts some SACKs: while it may be in slow start it grows cwnd per
//! SACK, and SACKs reporting gaps or duplicates count towards fast
//! retransmit. Those are built at once, each acknowledging what had arrived
//! by then, and kept here in one buffer, each behind its length: no
//! allocation per packet. The buffer is kept for the next ones once
//! drained, and released by the association's housekeeping once it is
//! idle.

/// Most packets held (a bound on what a peer can make us queue).
const MAX_PACKETS: usize = 4096;

/// The due packets, oldest first.
#[derive(Debug, Default)]
pub(super) struct DuePackets {
    /// Each packet as a big-endian `u16` length, then its bytes.
    bytes: Vec<u8>,
    /// Where the oldest packet not yet taken starts.
    read: usize,
    /// Packets held.
    len: usize,
}

impl DuePackets {
    /// Appends the packet `write` appends to the buffer it is given, if it
    /// writes one (returns true) and the bound leaves room; returns whether
    /// a packet was kept.
    pub(super) fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
        if self.len >= MAX_PACKETS {
            return false;
        }
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&[0, 0]);
        let written = write(&mut self.bytes);
        let n = u16::try_from(self.bytes.len() - at - 2);
        match (written, n, self.bytes.get_mut(at..at + 2)) {
            (true, Ok(n), Some(len)) => {
                len.copy_from_slice(&n.to_be_bytes());
                self.len += 1;
                true
            }
            _ => {
                self.bytes.truncate(at);
                false
            }
        }
    }

    /// Packets held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds memory.
    pub(super) fn holds_buffers(&self) -> bool {
        self.bytes.capacity() != 0
    }

    /// Lets the buffer go if no packet waits in it.
    pub(super) fn release_if_empty(&mut self) {
        if self.len == 0 {
            *self = DuePackets::default();
        }
    }

    /// Takes the oldest packet. Once none is left the buffer is emptied
    /// for the next ones.
    pub(super) fn pop(&mut self) -> Option<&[u8]> {
        let Some(&[hi, lo]) = self.bytes.get(self.read..self.read + 2) else {
            self.bytes.clear();
            self.read = 0;
            self.len = 0;
            return None;
        };
        let start = self.read + 2;
        let end = start + usize::from(u16::from_be_bytes([hi, lo]));
        self.read = end;
        self.len = self.len.saturating_sub(1);
        self.bytes.get(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(due: &mut DuePackets, packet: &[u8]) -> bool {
        due.push_with(|b| {
            b.extend_from_slice(packet);
            true
        })
    }

    #[test]
    fn packets_come_out_in_order_and_the_buffer_is_kept_until_released() {
        let mut due = DuePackets::default();
        push(&mut due, b"first");
        assert!(!due.push_with(|b| {
            b.extend_from_slice(b"written, then refused");
            false
        }));
        push(&mut due, &[7; 300]);
        assert_eq!(due.len(), 2);
        assert_eq!(due.pop(), Some(&b"first"[..]));
        push(&mut due, b"late");
        assert_eq!(due.pop(), Some(&[7; 300][..]));
        assert_eq!(due.pop(), Some(&b"late"[..]));
        assert_eq!(due.len(), 0);
        assert_eq!(due.pop(), None);
        assert!(due.holds_buffers(), "kept for the next ones");
        push(&mut due, b"again");
        due.release_if_empty();
        assert!(due.holds_buffers(), "not while a packet waits");
        assert_eq!(due.pop(), Some(&b"again"[..]));
        assert_eq!(due.pop(), None);
        due.release_if_empty();
        assert!(!due.holds_buffers());
    }

    #[test]
    fn the_number_held_is_bounded() {
        let mut due = DuePackets::default();
        for _ in 0..MAX_PACKETS + 10 {
            push(&mut due, b"sack");
        }
        assert_eq!(due.len(), MAX_PACKETS);
        assert_eq!(
            core::iter::from_fn(|| due.pop().map(<[u8]>::len)).count(),
            MAX_PACKETS
        );
    }

    #[test]
    fn a_packet_too_long_for_its_length_field_is_dropped() {
        let mut due = DuePackets::default();
        assert!(!push(&mut due, &vec![1; 70_000]));
        assert!(push(&mut due, b"next"));
        assert_eq!(due.pop(), Some(&b"next"[..]));
    }
}
