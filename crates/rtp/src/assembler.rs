//! A reorder buffer that turns RTP packets into complete frames.
//!
//! Packets are kept in a fixed number of slots keyed by extended sequence
//! number. A frame is a run of consecutive packets with one timestamp that
//! starts right after the previous frame (or with a packet the codec marks
//! as a frame start) and ends with the marker bit (or a codec-specific
//! end, or a following packet with another timestamp). When the window
//! overflows, the oldest packets are dropped and assembly resumes at the
//! next frame start.

use std::collections::VecDeque;

use crate::codec::Depacketizer;
use crate::seq::SequenceUnwrapper;

/// A complete frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// RTP timestamp of the frame.
    pub timestamp: u32,
    /// True when the frame is a keyframe (decoder refresh point).
    pub keyframe: bool,
    /// The codec bitstream (Annex-B for H.264, OBUs for AV1, ...).
    pub data: Vec<u8>,
    /// Extended sequence number of the first packet.
    pub first_sequence: u64,
    /// Extended sequence number of the last packet.
    pub last_sequence: u64,
}

/// Counters kept by the assembler.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssemblerStats {
    /// Frames emitted.
    pub frames: u64,
    /// Frames abandoned (lost packets, window overflow or depacketizer errors).
    pub frames_dropped: u64,
    /// Packets that came too late or twice.
    pub packets_discarded: u64,
}

#[derive(Debug, Default)]
struct Slot {
    seq: Option<u64>,
    timestamp: u32,
    marker: bool,
    start: bool,
    end: bool,
    keyframe: bool,
    payload: Vec<u8>,
}

/// Jitter/reorder buffer keyed by sequence number, with a bounded number of
/// packets, yielding complete frames.
pub struct FrameAssembler<D: Depacketizer + ?Sized = dyn Depacketizer + Send> {
    slots: Vec<Slot>,
    unwrapper: SequenceUnwrapper,
    /// Extended sequence of the next frame's first packet.
    head: Option<u64>,
    /// True when `head` is known to be a frame boundary.
    head_is_start: bool,
    ready: VecDeque<Frame>,
    stats: AssemblerStats,
    max_reorder: u64,
    depacketizer: Box<D>,
}

/// Default number of newer packets after which a missing packet counts as lost.
pub const DEFAULT_MAX_REORDER: u64 = 32;

impl<D: Depacketizer + ?Sized> core::fmt::Debug for FrameAssembler<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameAssembler")
            .field("head", &self.head)
            .field("stats", &self.stats)
            .finish()
    }
}

impl<D: Depacketizer + ?Sized> FrameAssembler<D> {
    /// An assembler holding at most `capacity` packets (at least 2).
    pub fn new(depacketizer: Box<D>, capacity: usize) -> Self {
        let capacity = capacity.max(2);
        FrameAssembler {
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            unwrapper: SequenceUnwrapper::new(),
            head: None,
            head_is_start: false,
            ready: VecDeque::new(),
            stats: AssemblerStats::default(),
            max_reorder: DEFAULT_MAX_REORDER,
            depacketizer,
        }
    }

    /// Sets how many packets newer than a missing one must arrive before
    /// the assembler gives up on it and jumps to the next complete keyframe.
    pub fn set_max_reorder(&mut self, packets: u64) {
        self.max_reorder = packets.max(1);
    }

    /// Counters.
    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }

    fn idx(&self, seq: u64) -> usize {
        (seq % self.slots.len() as u64) as usize
    }

    fn slot(&self, seq: u64) -> Option<&Slot> {
        let s = &self.slots[self.idx(seq)];
        (s.seq == Some(seq)).then_some(s)
    }

    /// Feeds one packet from a checked RTP view.
    pub fn push_packet<T: AsRef<[u8]>>(&mut self, packet: &crate::RtpPacket<T>) {
        self.push(
            packet.sequence_number(),
            packet.timestamp(),
            packet.marker(),
            packet.payload(),
        );
    }

    /// Feeds one packet's fields and payload.
    pub fn push(&mut self, sequence_number: u16, timestamp: u32, marker: bool, payload: &[u8]) {
        let seq = self.unwrapper.unwrap(sequence_number);
        let cap = self.slots.len() as u64;
        let head = match self.head {
            Some(h) => h,
            None => {
                // The very first packet starts the first frame if it can;
                // otherwise assembly waits for a packet that surely does.
                self.head = Some(seq);
                self.head_is_start = self.depacketizer.may_start_frame(payload);
                seq
            }
        };
        if seq < head || self.slot(seq).is_some() || payload.is_empty() {
            self.stats.packets_discarded += 1;
            return;
        }
        if seq >= head + cap {
            self.advance_to(seq + 1 - cap);
        }
        let start = self.depacketizer.is_frame_start(payload);
        let end = self.depacketizer.is_frame_end(payload, marker);
        let keyframe = self.depacketizer.is_keyframe(payload);
        let i = self.idx(seq);
        let s = &mut self.slots[i];
        s.seq = Some(seq);
        s.timestamp = timestamp;
        s.marker = marker;
        s.start = start;
        s.end = end;
        s.keyframe = keyframe;
        s.payload.clear();
        s.payload.extend_from_slice(payload);
        self.assemble();
        // Give up on the first missing packet once `max_reorder` newer ones came.
        if let Some(h) = self.head {
            let missing = (h..=seq).find(|&s| self.slot(s).is_none());
            if missing.is_some_and(|m| seq >= m + self.max_reorder) {
                self.skip_to_keyframe();
            }
        }
    }

    /// Drops everything before `new_head` and looks for the next frame start.
    fn advance_to(&mut self, new_head: u64) {
        let Some(head) = self.head else { return };
        let mut dropped_any = false;
        for s in head..new_head.min(head + self.slots.len() as u64) {
            let i = self.idx(s);
            if self.slots[i].seq == Some(s) {
                self.slots[i].seq = None;
                dropped_any = true;
            }
        }
        if dropped_any || !self.head_is_start {
            self.stats.frames_dropped += 1;
        }
        self.head = Some(new_head);
        self.head_is_start = false;
        self.find_start();
    }

    /// Moves `head` forward to the first stored packet that surely starts a frame.
    fn find_start(&mut self) {
        let Some(head) = self.head else { return };
        if self.head_is_start {
            return;
        }
        for s in head..head + self.slots.len() as u64 {
            let Some(slot) = self.slot(s) else { continue };
            let prev_ends = s > 0
                && self
                    .slot(s - 1)
                    .is_some_and(|p| p.end || p.timestamp != slot.timestamp);
            if slot.start || prev_ends {
                for d in head..s {
                    let i = self.idx(d);
                    self.slots[i].seq = None;
                }
                self.head = Some(s);
                self.head_is_start = true;
                return;
            }
        }
    }

    /// When the head packet is missing (given up as lost) and a later
    /// keyframe is complete, jump to it: nothing before a keyframe is needed.
    fn skip_to_keyframe(&mut self) {
        let Some(head) = self.head else { return };
        for s in head + 1..head + self.slots.len() as u64 {
            let Some(slot) = self.slot(s) else { continue };
            if slot.start && slot.keyframe && self.frame_end(s).is_some() {
                self.advance_to(s);
                self.assemble();
                return;
            }
        }
    }

    /// Last sequence of a complete frame starting at `first`, if complete.
    fn frame_end(&self, first: u64) -> Option<u64> {
        let ts = self.slot(first)?.timestamp;
        let mut s = first;
        loop {
            match self.slot(s) {
                Some(p) if p.timestamp == ts => {
                    if p.end {
                        return Some(s);
                    }
                }
                Some(_) => return (s > first).then(|| s - 1),
                None => return None,
            }
            s += 1;
            if s >= first + self.slots.len() as u64 {
                return None;
            }
        }
    }

    fn assemble(&mut self) {
        loop {
            self.find_start();
            let Some(head) = self.head else { return };
            if !self.head_is_start {
                return;
            }
            let Some(last) = self.frame_end(head) else {
                return;
            };
            let mut data = Vec::new();
            self.depacketizer.begin_frame(&mut data);
            let mut keyframe = false;
            let mut ok = true;
            let timestamp = self.slot(head).map_or(0, |s| s.timestamp);
            for s in head..=last {
                let i = self.idx(s);
                let slot = &mut self.slots[i];
                slot.seq = None;
                keyframe |= slot.keyframe;
                if ok
                    && self
                        .depacketizer
                        .depacketize(&slot.payload, &mut data)
                        .is_err()
                {
                    ok = false;
                }
            }
            self.head = Some(last + 1);
            self.head_is_start = true;
            if ok {
                self.stats.frames += 1;
                self.ready.push_back(Frame {
                    timestamp,
                    keyframe,
                    data,
                    first_sequence: head,
                    last_sequence: last,
                });
            } else {
                self.stats.frames_dropped += 1;
            }
        }
    }

    /// Takes the next complete frame, oldest first.
    pub fn poll_frame(&mut self) -> Option<Frame> {
        self.ready.pop_front()
    }
}
