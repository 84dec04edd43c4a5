//! A session's pushed events, numbered, held until acknowledged so a
//! resumed session gets what it missed in order and exactly once.

use std::collections::VecDeque;
use std::sync::Arc;

/// One frame for a connection: the event name (the Socket.IO event) and
/// the whole JSON object (the WebSocket text message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The event name, which is also the object's `type`.
    pub event: &'static str,
    /// The JSON object.
    pub json: Arc<str>,
    /// The request id this frame answers (`re`), if it is a reply.
    pub re: Option<u64>,
}

/// Numbered frames not yet acknowledged, bounded in count and bytes.
#[derive(Debug)]
pub(crate) struct Outbox {
    frames: VecDeque<(u64, Frame)>,
    bytes: usize,
    /// The sequence number the next frame gets (the first is 1).
    next_seq: u64,
}

/// What [`Outbox::resume_from`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Gap {
    /// Every frame after the client's last one is still held.
    None,
    /// Some frames after it were already dropped (or it names the future).
    Lost,
}

impl Outbox {
    pub(crate) fn new() -> Self {
        Outbox {
            frames: VecDeque::new(),
            bytes: 0,
            next_seq: 1,
        }
    }

    /// The sequence number the next frame will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Takes the next sequence number for a frame about to be pushed.
    pub(crate) fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Holds `frame` numbered `seq`; drops the oldest frames while more
    /// than `max_frames` or `max_bytes` are held. Returns whether any frame
    /// was dropped.
    pub(crate) fn push(
        &mut self,
        seq: u64,
        frame: Frame,
        max_frames: usize,
        max_bytes: usize,
    ) -> bool {
        self.bytes += frame.json.len();
        self.frames.push_back((seq, frame));
        let mut dropped = false;
        while self.frames.len() > max_frames || self.bytes > max_bytes {
            match self.frames.pop_front() {
                Some((_, f)) => {
                    self.bytes -= f.json.len();
                    dropped = true;
                }
                None => break,
            }
        }
        dropped
    }

    /// Forgets every frame up to and including `seq`.
    pub(crate) fn ack(&mut self, seq: u64) {
        while let Some((s, _)) = self.frames.front() {
            if *s > seq {
                break;
            }
            if let Some((_, f)) = self.frames.pop_front() {
                self.bytes -= f.json.len();
            }
        }
    }

    /// Acknowledges up to `last_seq` and says whether every later frame is
    /// still held.
    pub(crate) fn resume_from(&mut self, last_seq: u64) -> Gap {
        if last_seq >= self.next_seq {
            return Gap::Lost;
        }
        self.ack(last_seq);
        let first_held = self.frames.front().map_or(self.next_seq, |(s, _)| *s);
        if first_held == last_seq + 1 {
            Gap::None
        } else {
            Gap::Lost
        }
    }

    /// The held frames, oldest first.
    pub(crate) fn frames(&self) -> impl Iterator<Item = &Frame> {
        self.frames.iter().map(|(_, f)| f)
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &str) -> Frame {
        Frame {
            event: "broadcast",
            json: Arc::from(s),
            re: None,
        }
    }

    #[test]
    fn resume_replays_what_follows_the_last_seen_and_detects_gaps() {
        let mut o = Outbox::new();
        let dropped: Vec<bool> = ["a", "b", "c", "d"]
            .into_iter()
            .map(|text| {
                let seq = o.take_seq();
                o.push(seq, frame(text), 3, 1 << 20)
            })
            .collect();
        assert_eq!(dropped, [false, false, false, true]);
        // Four frames into room for three: the first went.
        assert_eq!(o.frames().count(), 3);
        assert_eq!(o.resume_from(0), Gap::Lost);
        let mut o2 = Outbox::new();
        for text in ["a", "b", "c"] {
            let seq = o2.take_seq();
            o2.push(seq, frame(text), 8, 1 << 20);
        }
        assert_eq!(o2.resume_from(1), Gap::None);
        let held: Vec<_> = o2.frames().map(|f| f.json.to_string()).collect();
        assert_eq!(held, ["b", "c"]);
        // Everything seen: nothing to replay, no gap.
        assert_eq!(o2.resume_from(3), Gap::None);
        assert_eq!(o2.frames().count(), 0);
        assert_eq!(o2.bytes(), 0);
        // A seq from the future is a gap, not a replay.
        assert_eq!(o2.resume_from(9), Gap::Lost);
    }

    #[test]
    fn byte_bound_drops_oldest() {
        let mut o = Outbox::new();
        for _ in 0..10 {
            let seq = o.take_seq();
            o.push(seq, frame("0123456789"), 100, 35);
        }
        assert_eq!(o.frames().count(), 3);
        assert_eq!(o.bytes(), 30);
    }
}
