//! The room core both transports share: connections, sessions, rooms,
//! presence, relaying, limits and resume. It is synchronous and takes the
//! time as an argument; the transports hold it behind one mutex and hand
//! it each parsed message. Everything it sends to a connection (replies
//! and events alike) goes through that connection's bounded queue, so a
//! connection sees its replies and events in the order the hub made them.

mod outbox;
pub(crate) mod wire;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use rand::RngCore;
use serde::Serialize;
use serde_json::value::RawValue;
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, Notify};

pub use outbox::Frame;
use outbox::{Gap, Outbox};

use crate::auth::{Auth, Grants};
use crate::error::{ErrorCode, Rejection};
use crate::limits::{Limits, RateLimiter};
use crate::metrics::Metrics;
use crate::protocol::{Parsed, RelayKind, Request, VERSION};

/// A connection's number in the hub.
pub type ConnId = u64;

/// How the hub reaches a connection: its bounded frame queue, and a
/// signal that tells its task to close (kicked, abusive, or not reading).
#[derive(Debug, Clone)]
pub struct ConnHandle {
    frames: mpsc::Sender<Frame>,
    close: Arc<Notify>,
}

impl ConnHandle {
    /// A handle and the receiving ends its connection task reads: frames to
    /// write, and the close signal.
    pub fn new(queue: usize) -> (Self, mpsc::Receiver<Frame>, Arc<Notify>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let close = Arc::new(Notify::new());
        (
            ConnHandle {
                frames: tx,
                close: close.clone(),
            },
            rx,
            close,
        )
    }

    /// Queues `frame`; a connection whose queue is full is not reading and
    /// is told to close (its session stays resumable).
    pub(crate) fn send(&self, frame: Frame) -> bool {
        if self.frames.try_send(frame).is_ok() {
            return true;
        }
        self.close.notify_one();
        false
    }

    pub(crate) fn close(&self) {
        self.close.notify_one();
    }
}

struct Conn {
    handle: ConnHandle,
    session: Option<Arc<str>>,
    rate: RateLimiter,
    strikes: u32,
}

struct Session {
    id: Arc<str>,
    resume_token: String,
    room: Arc<str>,
    name: String,
    meta: Box<RawValue>,
    grants: Grants,
    conn: Option<ConnId>,
    /// When the session ends unless resumed (while detached).
    deadline: Option<Instant>,
    outbox: Outbox,
}

/// The room core.
pub struct Hub {
    limits: Limits,
    auth: Auth,
    metrics: Metrics,
    next_conn: ConnId,
    conns: HashMap<ConnId, Conn>,
    sessions: HashMap<Arc<str>, Session>,
    /// Each room's peers in join order.
    rooms: HashMap<Arc<str>, Vec<Arc<str>>>,
    /// Detached sessions in deadline order (the grace is constant).
    expiring: VecDeque<(Instant, Arc<str>)>,
    rng: rand::rngs::StdRng,
}

impl Hub {
    /// A hub with these limits and this auth mode.
    pub fn new(limits: Limits, auth: Auth, metrics: Metrics) -> Self {
        use rand::SeedableRng;
        Hub {
            limits,
            auth,
            metrics,
            next_conn: 1,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            rooms: HashMap::new(),
            expiring: VecDeque::new(),
            rng: rand::rngs::StdRng::from_entropy(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sessions held (attached or resumable).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Open connections.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Registers a new connection and greets it with `hello`.
    pub fn connect(&mut self, handle: ConnHandle, now: Instant) -> ConnId {
        let id = self.next_conn;
        self.next_conn += 1;
        let hello = wire::Hello {
            v: VERSION,
            auth: if self.auth.is_open() { "open" } else { "jwt" },
            max_message_bytes: self.limits.max_message_bytes,
            resume_grace_ms: self.limits.resume_grace.as_millis() as u64,
        };
        handle.send(frame("hello", None, None, hello));
        self.conns.insert(
            id,
            Conn {
                handle,
                session: None,
                rate: RateLimiter::new(&self.limits, now),
                strikes: 0,
            },
        );
        self.metrics.connections.set(self.conns.len() as i64);
        id
    }

    /// The connection closed: its session (if any) waits `resume_grace` to
    /// be resumed before it ends. Returns the session the connection held.
    pub fn disconnect(&mut self, conn: ConnId, now: Instant) -> Option<Arc<str>> {
        let c = self.conns.remove(&conn)?;
        self.metrics.connections.set(self.conns.len() as i64);
        let sid = c.session?;
        if let Some(s) = self.sessions.get_mut(&sid) {
            if s.conn == Some(conn) {
                s.conn = None;
                tracing::debug!(session = %sid, conn, "connection lost; the session may resume");
                let deadline = now + self.limits.resume_grace;
                s.deadline = Some(deadline);
                self.expiring.push_back((deadline, sid.clone()));
            }
        }
        Some(sid)
    }

    /// Counts `conn`'s message against its rate: `None` when the connection
    /// is unknown or over its rate (it was answered with an error), else
    /// the session it holds. For the Redis room core, which handles the
    /// message itself.
    pub(crate) fn admit(
        &mut self,
        conn: ConnId,
        re: Option<u64>,
        now: Instant,
    ) -> Option<Option<Arc<str>>> {
        let c = self.conns.get_mut(&conn)?;
        if !c.rate.allow(now) {
            self.reject(
                conn,
                re,
                &Rejection::new(ErrorCode::RateLimited, "too many messages"),
            );
            return None;
        }
        Some(c.session.clone())
    }

    /// Sets the session `conn` holds; false if the connection is gone.
    pub(crate) fn attach(&mut self, conn: ConnId, session: Option<Arc<str>>) -> bool {
        match self.conns.get_mut(&conn) {
            Some(c) => {
                c.session = session;
                true
            }
            None => false,
        }
    }

    /// The queue of `conn`, if it is open.
    pub(crate) fn handle_of(&self, conn: ConnId) -> Option<ConnHandle> {
        self.conns.get(&conn).map(|c| c.handle.clone())
    }

    /// Checks a `join`'s fields and token: the grants, or why not.
    pub(crate) fn check_join(
        &self,
        room: &str,
        name: &str,
        meta: &RawValue,
        token: Option<&str>,
        unix_ms: u64,
    ) -> Result<Grants, Rejection> {
        check_room(&self.limits, room)?;
        if name.len() > self.limits.max_name_bytes {
            return Err(too_large("name"));
        }
        check_meta(&self.limits, meta)?;
        let grants = self.auth.grants(token, room)?;
        if grants.expired(unix_ms / 1000) {
            return Err(Rejection::new(ErrorCode::Unauthorized, "the token expired"));
        }
        Ok(grants)
    }

    /// Ends the sessions whose grace ran out; returns when to call again.
    pub fn expire(&mut self, now: Instant) -> Option<Instant> {
        while let Some((deadline, sid)) = self.expiring.front().cloned() {
            if deadline > now {
                return Some(deadline);
            }
            self.expiring.pop_front();
            let due = self
                .sessions
                .get(&sid)
                .is_some_and(|s| s.conn.is_none() && s.deadline == Some(deadline));
            if due {
                self.end_session(&sid);
            }
        }
        None
    }

    /// Handles one message from `conn`, answering it (and relaying what it
    /// asks) through the connection queues.
    pub fn receive(&mut self, conn: ConnId, parsed: Parsed, now: Instant, unix_ms: u64) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let re = parsed.id;
        if !c.rate.allow(now) {
            self.reject(
                conn,
                re,
                &Rejection::new(ErrorCode::RateLimited, "too many messages"),
            );
            return;
        }
        let result = parsed
            .request
            .and_then(|request| self.handle(conn, re, request, unix_ms));
        if let Err(rejection) = result {
            self.reject(conn, re, &rejection);
        }
    }

    /// Answers `conn` with an error; repeated abuse closes the connection.
    pub fn reject(&mut self, conn: ConnId, re: Option<u64>, rejection: &Rejection) {
        self.metrics.errors.inc();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.handle
            .send(frame("error", None, re, wire::ErrorBody::from(rejection)));
        if rejection.code.is_abuse() {
            c.strikes += 1;
            if c.strikes >= self.limits.max_strikes {
                self.metrics.closed_for_abuse.inc();
                c.handle.close();
            }
        }
    }

    fn handle(
        &mut self,
        conn: ConnId,
        re: Option<u64>,
        request: Request,
        unix_ms: u64,
    ) -> Result<(), Rejection> {
        match request {
            Request::Join {
                room,
                name,
                meta,
                token,
            } => self.join(conn, re, room, name, meta, token.as_deref(), unix_ms),
            Request::Resume {
                session,
                token,
                last_seq,
            } => self.resume(conn, re, &session, &token, last_seq, unix_ms),
            Request::Ping { t } => {
                let pong = wire::Pong {
                    t: t.as_deref(),
                    server_time: unix_ms,
                };
                self.reply(conn, "pong", re, pong);
                Ok(())
            }
            request => {
                let sid = self.session_of(conn)?;
                self.handle_joined(conn, re, &sid, request)
            }
        }
    }

    fn handle_joined(
        &mut self,
        conn: ConnId,
        re: Option<u64>,
        sid: &Arc<str>,
        request: Request,
    ) -> Result<(), Rejection> {
        match request {
            Request::Relay { kind, to, body } => self.relay(sid, kind, &to, &body)?,
            Request::Broadcast { data } => self.broadcast(sid, &data)?,
            Request::Update { meta } => {
                check_meta(&self.limits, &meta)?;
                if let Some(s) = self.sessions.get_mut(sid) {
                    s.meta = meta;
                }
                self.announce(sid, "peer-updated");
            }
            Request::Leave => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.session = None;
                }
                self.end_session(sid);
            }
            Request::Ack { seq } => {
                if let Some(s) = self.sessions.get_mut(sid) {
                    s.outbox.ack(seq);
                }
            }
            Request::Kick { id } => self.kick(sid, &id)?,
            Request::Join { .. } | Request::Resume { .. } | Request::Ping { .. } => {}
        }
        self.reply(conn, "ok", re, wire::Empty {});
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn join(
        &mut self,
        conn: ConnId,
        re: Option<u64>,
        room: String,
        name: String,
        meta: Box<RawValue>,
        token: Option<&str>,
        unix_ms: u64,
    ) -> Result<(), Rejection> {
        if self.conns.get(&conn).is_some_and(|c| c.session.is_some()) {
            return Err(Rejection::new(
                ErrorCode::AlreadyJoined,
                "already in a room",
            ));
        }
        let grants = self.check_join(&room, &name, &meta, token, unix_ms)?;
        if self.sessions.len() >= self.limits.max_sessions {
            return Err(Rejection::new(
                ErrorCode::ServerFull,
                "no room for more sessions",
            ));
        }
        let peers = self.rooms.get(room.as_str()).map_or(0, Vec::len);
        if peers >= self.limits.max_room_peers && !grants.admin {
            return Err(Rejection::new(ErrorCode::RoomFull, "the room is full"));
        }
        let id: Arc<str> = Arc::from(self.random_hex(16));
        let room: Arc<str> = match self.rooms.get_key_value(room.as_str()) {
            Some((k, _)) => k.clone(),
            None => Arc::from(room),
        };
        let session = Session {
            id: id.clone(),
            resume_token: self.random_hex(32),
            room: room.clone(),
            name,
            meta,
            grants,
            conn: Some(conn),
            deadline: None,
            outbox: Outbox::new(),
        };
        self.sessions.insert(id.clone(), session);
        self.rooms.entry(room).or_default().push(id.clone());
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(id.clone());
        }
        self.metrics.joins.inc();
        self.update_gauges();
        self.send_joined(conn, re, &id, "joined");
        self.announce(&id, "peer-joined");
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn resume(
        &mut self,
        conn: ConnId,
        re: Option<u64>,
        sid: &str,
        token: &str,
        last_seq: u64,
        unix_ms: u64,
    ) -> Result<(), Rejection> {
        let failed = |why: &str| Rejection::new(ErrorCode::ResumeFailed, why);
        if self.conns.get(&conn).is_some_and(|c| c.session.is_some()) {
            return Err(Rejection::new(
                ErrorCode::AlreadyJoined,
                "already in a room",
            ));
        }
        let s = self
            .sessions
            .get_mut(sid)
            .ok_or_else(|| failed("no such session (it may have expired)"))?;
        if !bool::from(s.resume_token.as_bytes().ct_eq(token.as_bytes())) {
            return Err(failed("wrong resume token"));
        }
        if s.grants.expired(unix_ms / 1000) {
            return Err(failed("the session's token expired"));
        }
        if s.outbox.resume_from(last_seq) == Gap::Lost {
            return Err(failed("events after lastSeq are no longer held"));
        }
        let id = s.id.clone();
        // A connection that has not noticed it died yet is replaced.
        if let Some(old) = s.conn.replace(conn) {
            if let Some(c) = self.conns.get_mut(&old) {
                c.session = None;
                c.handle.close();
            }
        }
        s.deadline = None;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(id.clone());
        }
        self.metrics.resumes.inc();
        tracing::debug!(session = %id, conn, last_seq, "session resumed");
        self.send_joined(conn, re, &id, "resumed");
        // Then what was missed, in order, exactly once.
        if let (Some(s), Some(c)) = (self.sessions.get(&id), self.conns.get(&conn)) {
            for f in s.outbox.frames() {
                if !c.handle.send(f.clone()) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn relay(
        &mut self,
        sid: &Arc<str>,
        kind: RelayKind,
        to: &str,
        body: &RawValue,
    ) -> Result<(), Rejection> {
        if body.get().len() > self.limits.max_message_bytes {
            return Err(too_large(kind.name()));
        }
        let from = self.sessions.get(sid).ok_or_else(not_joined)?;
        let target = self
            .sessions
            .get(to)
            .filter(|t| t.room == from.room && t.id != from.id)
            .ok_or_else(no_such_peer)?;
        if kind == RelayKind::Offer {
            if !from.grants.publish {
                return Err(forbidden("the token does not grant publishing"));
            }
            if !target.grants.subscribe {
                return Err(forbidden("that peer may not subscribe"));
            }
        }
        let json = match kind {
            RelayKind::Offer | RelayKind::Answer => {
                let body = wire::RelayedSdp {
                    from: sid,
                    sdp: body,
                };
                self.event_text(to, kind.name(), body)
            }
            RelayKind::Candidate => {
                let body = wire::RelayedCandidate {
                    from: sid,
                    candidate: body,
                };
                self.event_text(to, kind.name(), body)
            }
        };
        if let Some((seq, json)) = json {
            self.push(to, seq, kind.name(), json);
            self.metrics.messages_relayed.inc();
        }
        Ok(())
    }

    fn broadcast(&mut self, sid: &Arc<str>, data: &RawValue) -> Result<(), Rejection> {
        let s = self.sessions.get(sid).ok_or_else(not_joined)?;
        if !s.grants.publish {
            return Err(forbidden("the token does not grant publishing"));
        }
        let others = self.others(sid, |t| t.grants.subscribe);
        for to in others {
            let body = wire::Broadcast { from: sid, data };
            if let Some((seq, json)) = self.event_text(&to, "broadcast", body) {
                self.push(&to, seq, "broadcast", json);
                self.metrics.messages_relayed.inc();
            }
        }
        Ok(())
    }

    fn kick(&mut self, sid: &Arc<str>, target: &str) -> Result<(), Rejection> {
        let s = self.sessions.get(sid).ok_or_else(not_joined)?;
        if !s.grants.admin {
            return Err(forbidden("the token does not grant admin"));
        }
        let t = self
            .sessions
            .get(target)
            .filter(|t| t.room == s.room)
            .ok_or_else(no_such_peer)?;
        let (tid, tconn) = (t.id.clone(), t.conn);
        if let Some(c) = tconn.and_then(|c| self.conns.get_mut(&c)) {
            c.handle
                .send(frame("kicked", None, None, wire::Kicked { by: sid }));
            c.session = None;
            c.handle.close();
        }
        self.end_session(&tid);
        Ok(())
    }

    /// Removes a session and tells its room.
    fn end_session(&mut self, sid: &Arc<str>) {
        let Some(s) = self.sessions.remove(sid) else {
            return;
        };
        if let Some(peers) = self.rooms.get_mut(&s.room) {
            peers.retain(|p| p != sid);
            if peers.is_empty() {
                self.rooms.remove(&s.room);
            }
        }
        let others = self.room_peers(&s.room);
        for to in others {
            if let Some((seq, json)) = self.event_text(&to, "peer-left", wire::PeerLeft { id: sid })
            {
                self.push(&to, seq, "peer-left", json);
            }
        }
        self.update_gauges();
    }

    /// Tells everyone else in `sid`'s room about it (`peer-joined`,
    /// `peer-updated`).
    fn announce(&mut self, sid: &Arc<str>, event: &'static str) {
        for to in self.others(sid, |_| true) {
            let Some(seq) = self.sessions.get_mut(&to).map(|t| t.outbox.take_seq()) else {
                continue;
            };
            let Some(s) = self.sessions.get(sid) else {
                return;
            };
            let info = wire::PeerInfo {
                id: &s.id,
                name: &s.name,
                meta: &s.meta,
            };
            let json = wire::write(event, Some(seq), None, info);
            self.push(&to, seq, event, json);
        }
    }

    /// The other peers of `sid`'s room that pass `keep`.
    fn others(&self, sid: &Arc<str>, keep: impl Fn(&Session) -> bool) -> Vec<Arc<str>> {
        let Some(s) = self.sessions.get(sid) else {
            return Vec::new();
        };
        self.rooms
            .get(&s.room)
            .map(|peers| {
                peers
                    .iter()
                    .filter(|p| *p != sid)
                    .filter(|p| self.sessions.get(*p).is_some_and(&keep))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn room_peers(&self, room: &str) -> Vec<Arc<str>> {
        self.rooms.get(room).cloned().unwrap_or_default()
    }

    /// Numbers and writes an event for session `to`.
    fn event_text<B: Serialize>(
        &mut self,
        to: &str,
        event: &str,
        body: B,
    ) -> Option<(u64, String)> {
        let s = self.sessions.get_mut(to)?;
        let seq = s.outbox.take_seq();
        Some((seq, wire::write(event, Some(seq), None, body)))
    }

    /// Holds a numbered event in `to`'s outbox and sends it if attached.
    /// A detached session whose outbox overflows ends (it could not be
    /// resumed exactly once any more).
    fn push(&mut self, to: &str, seq: u64, event: &'static str, json: String) {
        let (max_frames, max_bytes) = (self.limits.outbox_frames, self.limits.outbox_bytes);
        let Some(s) = self.sessions.get_mut(to) else {
            return;
        };
        let f = Frame {
            event,
            json: Arc::from(json),
            re: None,
        };
        let dropped = s.outbox.push(seq, f.clone(), max_frames, max_bytes);
        match s.conn.and_then(|c| self.conns.get(&c)) {
            Some(c) => {
                c.handle.send(f);
            }
            None if dropped => {
                let id = s.id.clone();
                self.end_session(&id);
            }
            None => {}
        }
    }

    fn send_joined(&mut self, conn: ConnId, re: Option<u64>, sid: &Arc<str>, event: &'static str) {
        let Some(s) = self.sessions.get(sid) else {
            return;
        };
        let peers = self
            .rooms
            .get(&s.room)
            .into_iter()
            .flatten()
            .filter(|p| *p != sid)
            .filter_map(|p| self.sessions.get(p))
            .map(|p| wire::PeerInfo {
                id: &p.id,
                name: &p.name,
                meta: &p.meta,
            })
            .collect();
        let body = wire::Joined {
            id: &s.id,
            room: &s.room,
            resume_token: &s.resume_token,
            peers,
            seq: s.outbox.next_seq() - 1,
        };
        let f = frame(event, None, re, body);
        if let Some(c) = self.conns.get(&conn) {
            c.handle.send(f);
        }
    }

    pub(crate) fn reply<B: Serialize>(
        &self,
        conn: ConnId,
        event: &'static str,
        re: Option<u64>,
        body: B,
    ) {
        if let Some(c) = self.conns.get(&conn) {
            c.handle.send(frame(event, None, re, body));
        }
    }

    fn session_of(&self, conn: ConnId) -> Result<Arc<str>, Rejection> {
        self.conns
            .get(&conn)
            .and_then(|c| c.session.clone())
            .ok_or_else(not_joined)
    }

    fn update_gauges(&self) {
        self.metrics.sessions.set(self.sessions.len() as i64);
        self.metrics.rooms.set(self.rooms.len() as i64);
    }

    fn random_hex(&mut self, bytes: usize) -> String {
        let mut b = vec![0u8; bytes];
        self.rng.fill_bytes(&mut b);
        hex::encode(b)
    }
}

/// A frame with `type` = `event`.
pub(crate) fn frame<B: Serialize>(
    event: &'static str,
    seq: Option<u64>,
    re: Option<u64>,
    body: B,
) -> Frame {
    Frame {
        event,
        json: Arc::from(wire::write(event, seq, re, body)),
        re,
    }
}

fn check_room(limits: &Limits, room: &str) -> Result<(), Rejection> {
    if room.is_empty() || room.chars().any(char::is_control) {
        return Err(Rejection::bad(
            "a room name is 1 or more printable characters",
        ));
    }
    if room.len() > limits.max_room_name_bytes {
        return Err(too_large("room"));
    }
    Ok(())
}

pub(crate) fn check_meta(limits: &Limits, meta: &RawValue) -> Result<(), Rejection> {
    if meta.get().len() > limits.max_meta_bytes {
        return Err(too_large("meta"));
    }
    Ok(())
}

pub(crate) fn too_large(field: &str) -> Rejection {
    Rejection::new(ErrorCode::TooLarge, format!("`{field}` is too large"))
}

pub(crate) fn forbidden(why: &str) -> Rejection {
    Rejection::new(ErrorCode::Forbidden, why)
}

pub(crate) fn no_such_peer() -> Rejection {
    Rejection::new(ErrorCode::NoSuchPeer, "no such peer in the room")
}

pub(crate) fn not_joined() -> Rejection {
    Rejection::new(ErrorCode::NotJoined, "join a room first")
}
