//! What a node keeps of the sessions attached to it (or resuming on it):
//! the members, their deadlines, and how many of them each room has.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use crate::auth::Grants;
use crate::hub::{ConnHandle, ConnId, Frame};

/// A session attached to (or resuming on) this node.
pub(super) struct Member {
    pub(super) room: Arc<str>,
    pub(super) name: String,
    pub(super) grants: Grants,
    /// The connection, while attached.
    pub(super) conn: Option<(ConnId, ConnHandle)>,
    /// The last seq written to the connection.
    pub(super) sent: u64,
    /// While a join or resume is in flight: the events that arrived
    /// meanwhile, written once it completes.
    pub(super) pending: Option<Vec<(u64, Frame)>>,
    /// Which takeover of the session this node holds (see `RESUME`).
    pub(super) generation: u64,
    /// When it ends unless resumed (while detached).
    pub(super) deadline: Option<Instant>,
}

impl Member {
    /// Writes `frame` numbered `seq` unless it was written already; holds
    /// it while a join or resume is in flight.
    pub(super) fn deliver(&mut self, seq: u64, f: Frame) {
        if let Some(pending) = &mut self.pending {
            pending.push((seq, f));
            return;
        }
        if seq <= self.sent {
            return;
        }
        if let Some((_, handle)) = &self.conn {
            if handle.send(f) {
                self.sent = seq;
            }
        }
    }

    /// Ends the in-flight phase: writes what arrived meanwhile.
    pub(super) fn go_live(&mut self) {
        for (seq, f) in self.pending.take().unwrap_or_default() {
            self.deliver(seq, f);
        }
    }
}

#[derive(Default)]
/// The members of this node.
pub(super) struct Local {
    /// Changed only through the methods below, which keep `rooms` true.
    pub(super) members: HashMap<Arc<str>, Member>,
    /// Detached members in deadline order.
    pub(super) expiring: VecDeque<(Instant, Arc<str>)>,
    /// How many members each room has on this node (the `rooms` gauge).
    rooms: HashMap<Arc<str>, usize>,
}

impl Local {
    /// Adds (or replaces) a member.
    pub(super) fn insert(&mut self, sid: Arc<str>, member: Member) {
        self.enter(member.room.clone());
        if let Some(old) = self.members.insert(sid, member) {
            self.leave(&old.room);
        }
    }

    /// Forgets a member.
    pub(super) fn remove(&mut self, sid: &str) -> Option<Member> {
        let m = self.members.remove(sid)?;
        self.leave(&m.room);
        Some(m)
    }

    /// Moves a member to `room` (a resume learns it from Redis).
    pub(super) fn set_room(&mut self, sid: &str, room: Arc<str>) {
        let Some(m) = self.members.get_mut(sid) else {
            return;
        };
        let old = std::mem::replace(&mut m.room, room.clone());
        self.leave(&old);
        self.enter(room);
    }

    /// Forgets every member (this node was declared dead).
    pub(super) fn drain(&mut self) -> Vec<Member> {
        self.rooms.clear();
        self.members.drain().map(|(_, m)| m).collect()
    }

    /// Sessions and rooms on this node.
    pub(super) fn counts(&self) -> (usize, usize) {
        (self.members.len(), self.rooms.len())
    }

    fn enter(&mut self, room: Arc<str>) {
        // A resume's placeholder has no room yet.
        if !room.is_empty() {
            *self.rooms.entry(room).or_default() += 1;
        }
    }

    fn leave(&mut self, room: &str) {
        if let Some(n) = self.rooms.get_mut(room) {
            *n -= 1;
            if *n == 0 {
                self.rooms.remove(room);
            }
        }
    }
}
