//! The receiving half: TSN tracking for SACK (RFC 9260 §6.2), reassembly of
//! fragments (§6.9), ordered delivery by SSN (§6.5), FORWARD-TSN (RFC 3758
//! §3.6) and the receive window.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::chunk::{Data, DATA_FLAG_B, DATA_FLAG_E, DATA_FLAG_U};
use crate::param::{GapAckBlock, StreamSsn};

use super::pool::MessagePool;
use super::streammap::StreamMap;
use super::{Event, Message};

/// How far ahead of the cumulative TSN a DATA chunk may be (bounds the
/// tracking sets independently of the byte window).
const MAX_TSN_AHEAD: u64 = 1 << 16;
/// Largest reassembly capacity carried over from one message to the next.
const MAX_SIZE_HINT: usize = 256 * 1024;
/// Duplicate TSNs remembered for the next SACK.
const MAX_DUPS: usize = 16;
/// Gap Ack Blocks put in one SACK.
pub(crate) const MAX_GAP_BLOCKS: usize = 64;

/// Unwraps a 32-bit serial number to 64 bits near `reference`.
pub(crate) fn unwrap_near(reference: u64, value: u32) -> u64 {
    let diff = value.wrapping_sub(reference as u32) as i32;
    reference.wrapping_add_signed(i64::from(diff))
}

#[derive(Debug)]
struct Fragment {
    stream: u16,
    ssn: u16,
    ppid: u32,
    flags: u8,
    data: Bytes,
}

/// A message being reassembled from fragments that arrived in sequence:
/// the fast path that keeps them out of the fragment map.
#[derive(Debug)]
struct Partial {
    next_tsn: u64,
    stream: u16,
    ssn: u16,
    ppid: u32,
    flags: u8,
    /// The fragments so far, copied end to end.
    buf: Vec<u8>,
}

#[derive(Debug, Default)]
struct InStream {
    next_ssn: u16,
    pending: BTreeMap<u16, Message>,
}

/// What became of a DATA chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataOutcome {
    /// Accepted.
    New,
    /// Already received.
    Duplicate,
    /// Dropped: window full or too far ahead.
    Dropped,
}

#[derive(Debug)]
pub(crate) struct Receiver {
    /// Highest TSN received in sequence.
    pub cum: u64,
    ahead: BTreeSet<u64>,
    frags: BTreeMap<u64, Fragment>,
    partial: Option<Partial>,
    streams: StreamMap<InStream>,
    dups: Vec<u32>,
    /// Length of the last message reassembled in sequence: the capacity the
    /// next one starts with, so a stream of equal-sized large messages
    /// allocates once per message instead of growing by doubling.
    size_hint: usize,
    /// Buffers of reassembled messages the application has dropped.
    pool: MessagePool,
    /// Bytes held: fragments, out-of-order messages and undelivered events.
    pub buffered: usize,
    /// Bytes delivered to the application and not yet consumed by it.
    pub unread: usize,
    rwnd: usize,
}

impl Receiver {
    pub(crate) fn new(peer_initial_tsn: u32, rwnd: usize) -> Self {
        let cum = (1u64 << 32) + u64::from(peer_initial_tsn.wrapping_sub(1));
        Receiver {
            cum,
            ahead: BTreeSet::new(),
            frags: BTreeMap::new(),
            partial: None,
            streams: StreamMap::default(),
            dups: Vec::new(),
            size_hint: 0,
            pool: MessagePool::new(rwnd),
            buffered: 0,
            unread: 0,
            rwnd,
        }
    }

    pub(crate) fn cum_tsn(&self) -> u32 {
        self.cum as u32
    }

    /// Advertised receiver window: what is left of the receive buffer
    /// after what is held here and what the application has not read.
    pub(crate) fn a_rwnd(&self) -> u32 {
        u32::try_from(self.rwnd.saturating_sub(self.buffered + self.unread)).unwrap_or(u32::MAX)
    }

    pub(crate) fn has_gaps(&self) -> bool {
        !self.ahead.is_empty()
    }

    pub(crate) fn has_dups(&self) -> bool {
        !self.dups.is_empty()
    }

    /// Whether buffers are kept for reuse (see [`Self::release_idle_buffers`]).
    pub(crate) fn holds_buffers(&self) -> bool {
        self.pool.is_allocated()
    }

    /// Lets the buffers kept for reassembled messages go.
    pub(crate) fn release_idle_buffers(&mut self) {
        self.pool.release();
    }

    /// Takes a DATA chunk whose payload is `d.payload`, in the caller's
    /// buffer. Fragments arriving in sequence are copied into the message
    /// being reassembled; what is kept whole (a complete message, a
    /// fragment out of sequence) is copied out once.
    pub(crate) fn on_data(&mut self, d: &Data<'_>, events: &mut VecDeque<Event>) -> DataOutcome {
        let payload = d.payload;
        let keep = Bytes::copy_from_slice;
        let t = unwrap_near(self.cum, d.tsn);
        if t <= self.cum || self.ahead.contains(&t) {
            if self.dups.len() < MAX_DUPS {
                self.dups.push(d.tsn);
            }
            return DataOutcome::Duplicate;
        }
        if t > self.cum + MAX_TSN_AHEAD {
            return DataOutcome::Dropped;
        }
        let len = payload.len();
        // RFC 9260 §6.2: drop when there is no room, but always keep room for
        // the next in-sequence TSN so that reassembly can progress, unless
        // the application itself has a whole window unread.
        let limit = if t == self.cum + 1 && self.unread < self.rwnd {
            self.rwnd + 65536
        } else {
            self.rwnd
        };
        if self.buffered + self.unread + len > limit {
            return DataOutcome::Dropped;
        }
        let in_order = t == self.cum + 1;
        if in_order {
            self.cum = t;
            while self.ahead.remove(&(self.cum + 1)) {
                self.cum += 1;
            }
        } else {
            self.ahead.insert(t);
        }
        self.buffered += len;
        let unordered = d.unordered();
        if d.beginning() && d.ending() {
            self.deliver(
                d.stream,
                d.ssn,
                unordered,
                Message {
                    stream: d.stream,
                    ppid: d.ppid,
                    unordered,
                    data: keep(payload),
                },
                events,
            );
            return DataOutcome::New;
        }
        if in_order && self.on_data_in_sequence(t, d, events) {
            return DataOutcome::New;
        }
        self.frags.insert(
            t,
            Fragment {
                stream: d.stream,
                ssn: d.ssn,
                ppid: d.ppid,
                flags: d.flags,
                data: keep(payload),
            },
        );
        // Only an ending fragment, or one that fills a hole before later
        // fragments, can complete a message.
        if d.ending() || self.frags.contains_key(&(t + 1)) {
            self.try_assemble(t, events);
        }
        DataOutcome::New
    }

    /// The in-sequence fast path: returns false when the fragment must go to
    /// the fragment map instead.
    fn on_data_in_sequence(&mut self, t: u64, d: &Data<'_>, events: &mut VecDeque<Event>) -> bool {
        let continues = self.partial.as_ref().is_some_and(|p| {
            p.next_tsn == t
                && !d.beginning()
                && p.stream == d.stream
                && (p.flags ^ d.flags) & DATA_FLAG_U == 0
        });
        if !continues {
            if let Some(p) = self.partial.take() {
                // It can never complete (the peer broke fragment order).
                self.buffered = self.buffered.saturating_sub(p.buf.len());
            }
            if !d.beginning() {
                return false;
            }
            self.partial = Some(Partial {
                next_tsn: t,
                stream: d.stream,
                ssn: d.ssn,
                ppid: d.ppid,
                flags: d.flags,
                buf: self.pool.take(self.size_hint.max(d.payload.len())),
            });
        }
        let Some(p) = self.partial.as_mut() else {
            return false;
        };
        p.buf.extend_from_slice(d.payload);
        p.next_tsn = t + 1;
        let mut done = d.ending();
        // Later fragments that arrived early wait in the map: absorb them.
        while !done {
            let next = p.next_tsn;
            let fits = self.frags.get(&next).is_some_and(|f| {
                f.stream == p.stream
                    && (f.flags ^ p.flags) & DATA_FLAG_U == 0
                    && f.flags & DATA_FLAG_B == 0
            });
            if !fits {
                break;
            }
            let Some(f) = self.frags.remove(&next) else {
                break;
            };
            done = f.flags & DATA_FLAG_E != 0;
            p.buf.extend_from_slice(&f.data);
            p.next_tsn = next + 1;
        }
        if done {
            if let Some(p) = self.partial.take() {
                self.size_hint = p.buf.len().min(MAX_SIZE_HINT);
                let unordered = p.flags & DATA_FLAG_U != 0;
                let data = self.pool.freeze(p.buf);
                self.deliver(
                    p.stream,
                    p.ssn,
                    unordered,
                    Message {
                        stream: p.stream,
                        ppid: p.ppid,
                        unordered,
                        data,
                    },
                    events,
                );
            }
        }
        true
    }

    fn try_assemble(&mut self, t: u64, events: &mut VecDeque<Event>) {
        let Some(f) = self.frags.get(&t) else { return };
        let (stream, flags) = (f.stream, f.flags);
        let mut first = t;
        loop {
            let Some(f) = self.frags.get(&first) else {
                return;
            };
            if f.stream != stream || (f.flags ^ flags) & DATA_FLAG_U != 0 {
                return;
            }
            if f.flags & DATA_FLAG_B != 0 {
                break;
            }
            first -= 1;
        }
        let mut last = t;
        loop {
            let Some(f) = self.frags.get(&last) else {
                return;
            };
            if f.stream != stream
                || (f.flags ^ flags) & DATA_FLAG_U != 0
                || (last != first && f.flags & DATA_FLAG_B != 0)
            {
                return;
            }
            if f.flags & DATA_FLAG_E != 0 {
                break;
            }
            last += 1;
        }
        let total: usize = self
            .frags
            .range(first..=last)
            .map(|(_, f)| f.data.len())
            .sum();
        let mut buf = self.pool.take(total);
        let (mut ssn, mut ppid) = (0, 0);
        for tsn in first..=last {
            if let Some(f) = self.frags.remove(&tsn) {
                if tsn == first {
                    ssn = f.ssn;
                    ppid = f.ppid;
                }
                buf.extend_from_slice(&f.data);
            }
        }
        let unordered = flags & DATA_FLAG_U != 0;
        let data = self.pool.freeze(buf);
        self.deliver(
            stream,
            ssn,
            unordered,
            Message {
                stream,
                ppid,
                unordered,
                data,
            },
            events,
        );
    }

    fn deliver(
        &mut self,
        stream: u16,
        ssn: u16,
        unordered: bool,
        msg: Message,
        events: &mut VecDeque<Event>,
    ) {
        if unordered {
            events.push_back(Event::Message(msg));
            return;
        }
        let s = self.streams.entry(stream).or_default();
        if ssn == s.next_ssn {
            s.next_ssn = s.next_ssn.wrapping_add(1);
            events.push_back(Event::Message(msg));
            while let Some(m) = s.pending.remove(&s.next_ssn) {
                s.next_ssn = s.next_ssn.wrapping_add(1);
                events.push_back(Event::Message(m));
            }
        } else if (ssn.wrapping_sub(s.next_ssn) as i16) > 0 {
            if let Some(old) = s.pending.insert(ssn, msg) {
                self.buffered = self.buffered.saturating_sub(old.data.len());
            }
        } else {
            // A stale SSN (already delivered or skipped): drop it.
            self.buffered = self.buffered.saturating_sub(msg.data.len());
        }
    }

    /// Records a DATA chunk's TSN as received without keeping its payload
    /// (for chunks on streams that were never negotiated, RFC 9260 §6.5);
    /// returns whether it was new and inside the window.
    pub(crate) fn mark_received(&mut self, tsn: u32) -> bool {
        let t = unwrap_near(self.cum, tsn);
        if t <= self.cum || t > self.cum + MAX_TSN_AHEAD || self.ahead.contains(&t) {
            return false;
        }
        if t == self.cum + 1 {
            self.cum = t;
            while self.ahead.remove(&(self.cum + 1)) {
                self.cum += 1;
            }
        } else {
            self.ahead.insert(t);
        }
        true
    }

    /// The application took a message out of the event queue.
    pub(crate) fn released(&mut self, n: usize) {
        self.buffered = self.buffered.saturating_sub(n);
    }

    /// RFC 3758 §3.6: move the cumulative TSN forward, drop abandoned
    /// fragments and skip SSNs on ordered streams.
    pub(crate) fn on_forward_tsn<I: Iterator<Item = StreamSsn>>(
        &mut self,
        new_cum: u32,
        streams: I,
        events: &mut VecDeque<Event>,
    ) {
        let new = unwrap_near(self.cum, new_cum);
        // RFC 3758 §3.6: a FORWARD-TSN below our cumulative TSN is a
        // duplicate and one beyond the window is bogus: neither may skip
        // SSNs. One equal to it may still skip the SSN of a message whose
        // sent fragments all arrived before the sender abandoned the rest.
        if new < self.cum || new > self.cum + MAX_TSN_AHEAD {
            return;
        }
        if new > self.cum {
            self.cum = new;
            self.ahead = self.ahead.split_off(&(new + 1));
            while self.ahead.remove(&(self.cum + 1)) {
                self.cum += 1;
            }
            if self.partial.as_ref().is_some_and(|p| p.next_tsn <= new) {
                if let Some(p) = self.partial.take() {
                    self.buffered = self.buffered.saturating_sub(p.buf.len());
                }
            }
            let keep = self.frags.split_off(&(new + 1));
            let dropped = std::mem::replace(&mut self.frags, keep);
            for f in dropped.values() {
                self.buffered = self.buffered.saturating_sub(f.data.len());
            }
        }
        for StreamSsn { stream, ssn } in streams {
            if self.partial.as_ref().is_some_and(|p| {
                p.stream == stream
                    && p.flags & DATA_FLAG_U == 0
                    && (p.ssn.wrapping_sub(ssn) as i16) <= 0
            }) {
                if let Some(p) = self.partial.take() {
                    self.buffered = self.buffered.saturating_sub(p.buf.len());
                }
            }
            // Fragments of skipped ordered messages can never complete.
            let mut freed = 0;
            self.frags.retain(|_, f| {
                let skip = f.stream == stream
                    && f.flags & DATA_FLAG_U == 0
                    && (f.ssn.wrapping_sub(ssn) as i16) <= 0;
                if skip {
                    freed += f.data.len();
                }
                !skip
            });
            self.buffered = self.buffered.saturating_sub(freed);
            let Some(s) = self.streams.get_mut(&stream) else {
                self.streams.entry(stream).or_default().next_ssn = ssn.wrapping_add(1);
                continue;
            };
            if (ssn.wrapping_sub(s.next_ssn) as i16) >= 0 {
                // Drop held messages up to and including `ssn`.
                let mut freed = 0;
                s.pending.retain(|&k, m| {
                    let stale = (k.wrapping_sub(ssn) as i16) <= 0;
                    if stale {
                        freed += m.data.len();
                    }
                    !stale
                });
                self.buffered = self.buffered.saturating_sub(freed);
                s.next_ssn = ssn.wrapping_add(1);
                while let Some(m) = s.pending.remove(&s.next_ssn) {
                    s.next_ssn = s.next_ssn.wrapping_add(1);
                    events.push_back(Event::Message(m));
                }
            }
        }
    }

    /// RFC 6525 §5.2.2: the peer reset its outgoing streams; their next SSN
    /// is zero again. Empty means all streams.
    pub(crate) fn reset_streams(&mut self, streams: &[u16]) {
        if streams.is_empty() {
            for s in self.streams.values_mut() {
                s.next_ssn = 0;
            }
        } else {
            for id in streams {
                if let Some(s) = self.streams.get_mut(id) {
                    s.next_ssn = 0;
                    s.pending.clear();
                }
            }
        }
    }

    /// Writes the SACK body fields: calls `gap` for each Gap Ack Block and
    /// hands out the duplicate TSNs (clearing them).
    pub(crate) fn gap_blocks(&self, out: &mut Vec<GapAckBlock>) {
        out.clear();
        let mut run: Option<(u64, u64)> = None;
        for &t in &self.ahead {
            match run {
                Some((s, e)) if t == e + 1 => run = Some((s, t)),
                Some((s, e)) => {
                    if !self.push_block(out, s, e) {
                        return;
                    }
                    run = Some((t, t));
                }
                None => run = Some((t, t)),
            }
        }
        if let Some((s, e)) = run {
            self.push_block(out, s, e);
        }
    }

    fn push_block(&self, out: &mut Vec<GapAckBlock>, s: u64, e: u64) -> bool {
        if out.len() >= MAX_GAP_BLOCKS {
            return false;
        }
        let (Ok(start), Ok(end)) = (u16::try_from(s - self.cum), u16::try_from(e - self.cum))
        else {
            return false;
        };
        out.push(GapAckBlock { start, end });
        true
    }

    pub(crate) fn take_dups(&mut self, out: &mut Vec<u32>) {
        out.clear();
        out.append(&mut self.dups);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(tsn: u32, flags: u8, ssn: u16, p: &'static [u8]) -> Data<'static> {
        Data {
            flags,
            tsn,
            stream: 1,
            ssn,
            ppid: 53,
            payload: p,
        }
    }

    #[test]
    fn unwrap_across_wrap() {
        assert_eq!(unwrap_near(1 << 32, 5), (1 << 32) + 5);
        assert_eq!(
            unwrap_near((1 << 32) + u64::from(u32::MAX), 2),
            (2 << 32) + 2
        );
        assert_eq!(
            unwrap_near((2 << 32) + 1, u32::MAX),
            (1 << 32) + u64::from(u32::MAX)
        );
    }

    #[test]
    fn reassembles_out_of_order_and_reports_gaps() {
        let mut r = Receiver::new(100, 1 << 20);
        let mut ev = VecDeque::new();
        let d = data(102, DATA_FLAG_E, 0, b"c");
        assert_eq!(r.on_data(&d, &mut ev), DataOutcome::New);
        let mut gaps = Vec::new();
        r.gap_blocks(&mut gaps);
        assert_eq!(gaps, vec![GapAckBlock { start: 3, end: 3 }]);
        let d = data(100, DATA_FLAG_B, 0, b"a");
        r.on_data(&d, &mut ev);
        assert!(ev.is_empty());
        let d = data(101, 0, 0, b"b");
        r.on_data(&d, &mut ev);
        assert_eq!(r.cum_tsn(), 102);
        let Some(Event::Message(m)) = ev.pop_front() else {
            panic!()
        };
        assert_eq!(&m.data[..], b"abc");
        let d = data(101, 0, 0, b"b");
        assert_eq!(r.on_data(&d, &mut ev), DataOutcome::Duplicate);
        let mut dups = Vec::new();
        r.take_dups(&mut dups);
        assert_eq!(dups, vec![101]);
    }

    #[test]
    fn tsn_far_ahead_is_dropped() {
        let mut r = Receiver::new(0, 1 << 20);
        let mut ev = VecDeque::new();
        let d = data(1 << 20, DATA_FLAG_B | DATA_FLAG_E, 0, b"x");
        assert_eq!(r.on_data(&d, &mut ev), DataOutcome::Dropped);
    }
}
