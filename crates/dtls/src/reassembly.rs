//! Handshake reassembly (RFC 6347 §4.2.3): fragments may arrive out of order,
//! overlap, or be duplicated; messages are released whole and in
//! `message_seq` order. Memory is bounded by [`MAX_PENDING_MESSAGES`] and
//! [`MAX_BUFFERED_BYTES`].

use crate::error::{Error, Result};
use crate::handshake::{HandshakeFragment, HandshakeType};

/// How many messages ahead of the next expected one are buffered.
pub const MAX_PENDING_MESSAGES: u16 = 16;
/// Total bytes buffered across pending messages.
pub const MAX_BUFFERED_BYTES: usize = 256 * 1024;
/// Most disjoint byte ranges tracked per message (tiny hostile fragments).
pub const MAX_RANGES: usize = 64;

#[derive(Debug, Clone)]
struct Pending {
    seq: u16,
    msg_type: HandshakeType,
    body: Vec<u8>,
    /// Sorted, merged, half-open received ranges.
    ranges: Vec<(u32, u32)>,
}

impl Pending {
    fn complete(&self) -> bool {
        self.body.is_empty() || self.ranges == [(0, self.body.len() as u32)]
    }

    fn add(&mut self, start: u32, end: u32) -> Result<()> {
        if start == end {
            return Ok(());
        }
        let mut merged = Vec::with_capacity(self.ranges.len() + 1);
        let (mut s, mut e) = (start, end);
        for &(a, b) in &self.ranges {
            if b < s || a > e {
                merged.push((a, b));
            } else {
                s = s.min(a);
                e = e.max(b);
            }
        }
        merged.push((s, e));
        merged.sort_unstable();
        if merged.len() > MAX_RANGES {
            return Err(Error::TooLarge("handshake fragment count"));
        }
        self.ranges = merged;
        Ok(())
    }
}

/// Messages that may open a peer's first flight (released while floating).
fn starts_flight(t: HandshakeType) -> bool {
    matches!(
        t,
        HandshakeType::ClientHello | HandshakeType::HelloVerifyRequest | HandshakeType::ServerHello
    )
}

/// What happened to an inserted fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Buffered (or a duplicate of bytes already held).
    Buffered,
    /// Belongs to a message already delivered: a retransmission by the peer.
    Old,
    /// Too far ahead of the next expected message; dropped.
    TooFarAhead,
}

/// A whole handshake message released by the reassembler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Message type.
    pub msg_type: HandshakeType,
    /// Its message_seq.
    pub message_seq: u16,
    /// Its body.
    pub body: Vec<u8>,
}

/// Buffers handshake fragments and releases whole messages in order.
#[derive(Debug, Clone, Default)]
pub struct Reassembler {
    next_seq: u16,
    pending: Vec<Pending>,
    buffered: usize,
    /// While true, the first complete message at or after `next_seq` is
    /// released even if earlier ones are missing (a peer's first flight,
    /// whose starting message_seq we do not know yet).
    floating: bool,
}

impl Reassembler {
    /// A reassembler expecting message_seq `next_seq` first.
    #[cfg(test)]
    pub fn new(next_seq: u16) -> Self {
        Reassembler {
            next_seq,
            ..Default::default()
        }
    }

    /// A reassembler for a peer's first flight, whose message_seq may start anywhere from `from`.
    pub fn floating(from: u16) -> Self {
        Reassembler {
            next_seq: from,
            floating: true,
            ..Default::default()
        }
    }

    /// Stops floating: from now on messages are released strictly in order.
    pub fn set_strict(&mut self) {
        self.floating = false;
    }

    /// Returns the buffer of pending messages to the allocator when none are
    /// pending (an idle connection keeps no handshake memory).
    pub fn release_if_idle(&mut self) {
        if self.pending.is_empty() && self.pending.capacity() != 0 {
            self.pending = Vec::new();
        }
    }

    /// The next message_seq expected.
    #[cfg(test)]
    pub fn next_seq(&self) -> u16 {
        self.next_seq
    }

    /// Inserts a fragment.
    pub fn insert(&mut self, frag: &HandshakeFragment<'_>) -> Result<Inserted> {
        if frag.message_seq < self.next_seq {
            return Ok(Inserted::Old);
        }
        if frag.message_seq - self.next_seq >= MAX_PENDING_MESSAGES {
            return Ok(Inserted::TooFarAhead);
        }
        let idx = match self.pending.iter().position(|p| p.seq == frag.message_seq) {
            Some(i) => {
                let p = &self.pending[i];
                if p.msg_type != frag.msg_type || p.body.len() != frag.length as usize {
                    return Err(Error::Malformed(
                        "handshake fragment disagrees with earlier fragments",
                    ));
                }
                i
            }
            None => {
                let len = frag.length as usize;
                if self.buffered + len > MAX_BUFFERED_BYTES {
                    return Err(Error::TooLarge("buffered handshake data"));
                }
                self.buffered += len;
                self.pending.push(Pending {
                    seq: frag.message_seq,
                    msg_type: frag.msg_type,
                    body: vec![0; len],
                    ranges: Vec::new(),
                });
                self.pending.len() - 1
            }
        };
        let p = &mut self.pending[idx];
        let start = frag.fragment_offset as usize;
        let end = start + frag.body.len();
        // HandshakeFragment::parse checked end <= length.
        if let Some(dst) = p.body.get_mut(start..end) {
            dst.copy_from_slice(frag.body);
        } else {
            return Err(Error::Malformed("handshake fragment range"));
        }
        p.add(start as u32, end as u32)?;
        Ok(Inserted::Buffered)
    }

    /// Releases the next whole message, if it is complete.
    pub fn pop(&mut self) -> Option<Message> {
        let idx = if self.floating {
            self.pending
                .iter()
                .enumerate()
                .filter(|(_, p)| p.complete() && starts_flight(p.msg_type))
                .min_by_key(|(_, p)| p.seq)
                .map(|(i, _)| i)?
        } else {
            self.pending
                .iter()
                .position(|p| p.seq == self.next_seq && p.complete())?
        };
        let p = self.pending.swap_remove(idx);
        self.buffered -= p.body.len();
        self.next_seq = p.seq.wrapping_add(1);
        let next = self.next_seq;
        let before = self.pending.len();
        self.pending.retain(|q| q.seq >= next);
        if self.pending.len() != before {
            self.buffered = self.pending.iter().map(|q| q.body.len()).sum();
        }
        Some(Message {
            msg_type: p.msg_type,
            message_seq: p.seq,
            body: p.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(seq: u16, len: u32, off: u32, body: &[u8]) -> HandshakeFragment<'_> {
        HandshakeFragment {
            msg_type: HandshakeType::Certificate,
            length: len,
            message_seq: seq,
            fragment_offset: off,
            body,
        }
    }

    #[test]
    fn out_of_order_overlapping_duplicate() {
        let msg: Vec<u8> = (0..100u8).collect();
        let mut r = Reassembler::new(0);
        assert_eq!(
            r.insert(&frag(0, 100, 50, &msg[50..])).unwrap(),
            Inserted::Buffered
        );
        assert!(r.pop().is_none());
        r.insert(&frag(0, 100, 10, &msg[10..60])).unwrap();
        r.insert(&frag(0, 100, 10, &msg[10..60])).unwrap();
        assert!(r.pop().is_none());
        r.insert(&frag(0, 100, 0, &msg[..20])).unwrap();
        let m = r.pop().unwrap();
        assert_eq!(m.body, msg);
        assert_eq!(
            r.insert(&frag(0, 100, 0, &msg[..20])).unwrap(),
            Inserted::Old
        );
    }

    #[test]
    fn in_order_release_and_bounds() {
        let mut r = Reassembler::new(0);
        r.insert(&frag(1, 3, 0, b"abc")).unwrap();
        assert!(r.pop().is_none(), "seq 0 still missing");
        r.insert(&frag(0, 2, 0, b"xy")).unwrap();
        assert_eq!(r.pop().unwrap().message_seq, 0);
        assert_eq!(r.pop().unwrap().message_seq, 1);
        assert_eq!(
            r.insert(&frag(40, 1, 0, b"z")).unwrap(),
            Inserted::TooFarAhead
        );
        // Disagreeing length for the same message.
        r.insert(&frag(2, 10, 0, b"a")).unwrap();
        assert!(r.insert(&frag(2, 11, 0, b"a")).is_err());
    }

    #[test]
    fn floating_releases_first_complete() {
        let mut r = Reassembler::floating(0);
        let ch = |seq, len, body| HandshakeFragment {
            msg_type: HandshakeType::ClientHello,
            ..frag(seq, len, 0, body)
        };
        r.insert(&ch(0, 10, b"abc")).unwrap();
        r.insert(&frag(2, 3, 0, b"abc")).unwrap();
        assert!(r.pop().is_none(), "a Certificate never opens a flight");
        r.insert(&ch(1, 3, b"abc")).unwrap();
        assert_eq!(r.pop().unwrap().message_seq, 1);
        assert_eq!(r.next_seq(), 2);
        r.set_strict();
        assert_eq!(r.pop().unwrap().message_seq, 2);
    }

    #[test]
    fn many_tiny_disjoint_fragments_are_bounded() {
        let mut r = Reassembler::new(0);
        let mut err = false;
        for i in 0..200u32 {
            if r.insert(&frag(0, 1000, i * 3, b"a")).is_err() {
                err = true;
                break;
            }
        }
        assert!(err);
    }
}
