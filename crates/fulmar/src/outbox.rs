//! The datagrams of a connection that the socket has not taken yet, laid
//! end to end in one buffer: consecutive datagrams on one path are already
//! the contiguous batch a GSO send takes, and a busy connection allocates
//! nothing per datagram.

use std::collections::VecDeque;
use std::net::SocketAddr;

/// Once the sent datagrams at the front of the buffer take this many
/// bytes, the rest moves down.
const COMPACT_AFTER: usize = 64 << 10;

/// One datagram waiting in an [`Outbox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Queued {
    /// The local address to send from.
    pub(crate) source: SocketAddr,
    /// Where to send.
    pub(crate) destination: SocketAddr,
    /// Where its bytes start in the outbox's buffer.
    start: usize,
    /// Its length.
    pub(crate) len: usize,
}

/// Datagrams waiting for the socket, in order.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    bytes: Vec<u8>,
    queued: VecDeque<Queued>,
}

impl Outbox {
    /// Datagrams waiting.
    pub(crate) fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether none waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Queues a copy of `datagram`, sent from `source` to `destination`.
    pub(crate) fn push(&mut self, source: SocketAddr, destination: SocketAddr, datagram: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(datagram);
        self.queued.push_back(Queued {
            source,
            destination,
            start,
            len: datagram.len(),
        });
    }

    /// The datagrams waiting, first first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Queued> {
        self.queued.iter()
    }

    /// The first datagram waiting.
    pub(crate) fn front(&self) -> Option<&Queued> {
        self.queued.front()
    }

    /// The bytes of the first `n` datagrams, end to end.
    pub(crate) fn first_bytes(&self, n: usize) -> &[u8] {
        let Some(first) = self.queued.front() else {
            return &[];
        };
        let last = self.queued.get(n.min(self.queued.len()).saturating_sub(1));
        let end = last.map_or(first.start, |q| q.start + q.len);
        self.bytes.get(first.start..end).unwrap_or_default()
    }

    /// Forgets the first `n` datagrams (sent, or lost as UDP may lose them).
    pub(crate) fn pop(&mut self, n: usize) {
        self.queued.drain(..n.min(self.queued.len()));
        match self.queued.front() {
            None => self.bytes.clear(),
            Some(first) if first.start >= COMPACT_AFTER => {
                let sent = first.start;
                self.bytes.drain(..sent);
                for q in &mut self.queued {
                    q.start -= sent;
                }
            }
            Some(_) => {}
        }
    }

    /// Forgets every datagram.
    pub(crate) fn clear(&mut self) {
        self.queued.clear();
        self.bytes.clear();
    }

    /// Gives the memory of an empty outbox back (an idle connection holds
    /// none).
    pub(crate) fn release_if_empty(&mut self) {
        if self.queued.is_empty() {
            *self = Outbox::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn datagrams_lie_end_to_end_until_sent() {
        let mut o = Outbox::default();
        o.push(addr(1), addr(2), b"abc");
        o.push(addr(1), addr(2), b"de");
        o.push(addr(1), addr(3), b"f");
        assert_eq!(o.len(), 3);
        assert_eq!(o.first_bytes(2), b"abcde");
        o.pop(1);
        assert_eq!(o.front().map(|q| q.len), Some(2));
        assert_eq!(o.first_bytes(5), b"def");
        o.pop(2);
        assert!(o.is_empty());
        assert_eq!(o.first_bytes(1), b"");
        o.release_if_empty();
        assert_eq!(o.bytes.capacity(), 0);
    }

    #[test]
    fn a_long_backlog_moves_down_once_its_front_is_sent() {
        let mut o = Outbox::default();
        let big = vec![7u8; COMPACT_AFTER];
        o.push(addr(1), addr(2), &big);
        o.push(addr(1), addr(2), b"tail");
        o.pop(1);
        assert_eq!(o.bytes.len(), 4);
        assert_eq!(o.first_bytes(1), b"tail");
    }
}
