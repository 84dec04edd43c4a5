//! SCTP packets that fell due before the application polled for datagrams.
//!
//! When the application hands in a batch of datagrams before polling, each
//! SACK the sender counts (during its slow start, and those reporting gaps
//! or duplicates) is built as it falls due, acknowledging what had arrived
//! by then (see `PeerConnection::queue_due_sctp`). Those packets are kept as plaintext
//! in one buffer, each behind its length, and sealed as DTLS records only
//! when polled: no allocation per packet, and each record is sealed
//! straight into the caller's datagram buffer.

/// Most packets held (a bound on what a peer can make us queue).
const MAX_PACKETS: usize = 4096;

/// The due packets, oldest first.
#[derive(Debug, Default)]
pub(crate) struct DuePackets {
    /// Each packet as a big-endian `u16` length, then its bytes.
    bytes: Vec<u8>,
    /// Where the oldest packet not yet taken starts.
    read: usize,
    /// Packets held.
    len: usize,
}

impl DuePackets {
    /// Appends a packet; one longer than `u16::MAX` or past the bound is
    /// dropped (SCTP retransmits what it covered).
    pub(crate) fn push(&mut self, packet: &[u8]) {
        let Ok(n) = u16::try_from(packet.len()) else {
            return;
        };
        if self.len >= MAX_PACKETS {
            return;
        }
        self.bytes.extend_from_slice(&n.to_be_bytes());
        self.bytes.extend_from_slice(packet);
        self.len += 1;
    }

    /// Packets held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Takes the oldest packet. Once none is left the buffer is freed, so
    /// an idle connection holds nothing; a burst costs a few reallocations.
    pub(crate) fn pop(&mut self) -> Option<&[u8]> {
        let Some(&[hi, lo]) = self.bytes.get(self.read..self.read + 2) else {
            *self = DuePackets::default();
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

    #[test]
    fn packets_come_out_in_order_and_the_buffer_is_freed() {
        let mut due = DuePackets::default();
        due.push(b"first");
        due.push(b"");
        due.push(&[7; 300]);
        assert_eq!(due.len(), 3);
        assert_eq!(due.pop(), Some(&b"first"[..]));
        assert_eq!(due.pop(), Some(&b""[..]));
        due.push(b"late");
        assert_eq!(due.pop(), Some(&[7; 300][..]));
        assert_eq!(due.pop(), Some(&b"late"[..]));
        assert_eq!(due.len(), 0);
        assert_eq!(due.pop(), None);
        assert_eq!(due.bytes.capacity(), 0, "freed once drained");
    }

    #[test]
    fn the_number_held_is_bounded() {
        let mut due = DuePackets::default();
        for _ in 0..MAX_PACKETS + 10 {
            due.push(b"sack");
        }
        assert_eq!(due.len(), MAX_PACKETS);
        assert_eq!(
            core::iter::from_fn(|| due.pop().map(<[u8]>::len)).count(),
            MAX_PACKETS
        );
    }
}
