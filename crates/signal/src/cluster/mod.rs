//! The room core over Redis, for several `fulmar-signal` nodes sharing
//! rooms: sessions, room membership and every session's numbered outbox
//! live in Redis, changed by atomic Lua scripts (`scripts.rs`); each node
//! keeps only its own connections and the sessions attached to them.
//!
//! An event for a session (presence or relayed) is numbered and held in the
//! session's outbox by the script that makes it, then published on the
//! channel of the node holding the session, which writes it to the
//! connection. Because numbering, holding and publishing are one atomic
//! step, a session that resumes on any node (after its connection or its
//! whole node died) gets every event after its `lastSeq` exactly once, in
//! order: from the outbox, then from its new node's channel, duplicates
//! dropped by number.
//!
//! Each node refreshes a liveness key (TTL `node_ttl`); every node looks
//! for nodes whose key expired and orphans their sessions, which may then
//! be resumed on any node within `resume_grace`, after which one node ends
//! them and the room gets `peer-left`.
//!
//! The validation, auth, limits, wire format and connection plumbing are
//! the [`Hub`](crate::hub::Hub)'s, shared with the single-node core.

mod members;
mod scripts;
mod tasks;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use rand::RngCore;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::auth::Grants;
use crate::error::{ErrorCode, Rejection};
use crate::hub::{
    check_meta, forbidden, frame, no_such_peer, not_joined, too_large, wire, ConnId, Frame,
};
use crate::limits::Limits;
use crate::protocol::{Parsed, RelayKind, Request};
use crate::server::Signal;
use members::{Local, Member};
use scripts::Scripts;
use tasks::{listen, now_ms, sweep};

/// How much longer than the grace the keys of a detached session live, so
/// the node (or the sweep) that ends it still finds its room.
const KEY_MARGIN: Duration = Duration::from_secs(30);

/// The `[redis]` table of the config: where the shared state is and how
/// fast a dead node is noticed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// The Redis URL (`redis://host:port/db`).
    pub url: String,
    /// A node whose liveness key is older than this is dead (seconds in
    /// the config); the key is refreshed three times per TTL.
    #[serde(with = "crate::limits::secs")]
    pub node_ttl: Duration,
    /// The prefix of every key and channel, so several deployments can
    /// share one Redis.
    pub prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".to_owned(),
            node_ttl: Duration::from_secs(3),
            prefix: "fulmar".to_owned(),
        }
    }
}

/// The Redis room core of one node.
pub(crate) struct Cluster {
    node: String,
    config: RedisConfig,
    limits: Limits,
    client: redis::Client,
    redis: ConnectionManager,
    scripts: Scripts,
    local: Mutex<Local>,
}

/// Why the Redis core cannot start.
#[derive(Debug, thiserror::Error)]
#[error("redis: {0}")]
pub struct ClusterError(#[from] redis::RedisError);

/// The head (`{"type":"<event>"`) and the rest (`,<fields>}`) of an event,
/// between which a script puts `"seq":N`.
fn parts<B: Serialize>(event: &str, body: B) -> (String, String) {
    let head = format!("{{\"type\":\"{event}\"");
    let full = wire::write(event, None, None, body);
    let tail = full.get(head.len()..).unwrap_or("}").to_owned();
    (head, tail)
}

/// The event names scripts publish, as the `'static` names frames carry.
fn event_name(name: &str) -> Option<&'static str> {
    [
        "offer",
        "answer",
        "candidate",
        "broadcast",
        "peer-joined",
        "peer-left",
        "peer-updated",
    ]
    .into_iter()
    .find(|e| *e == name)
}

fn unavailable(e: redis::RedisError) -> Rejection {
    tracing::warn!("redis: {e}");
    Rejection::new(ErrorCode::Unavailable, "the shared state is unreachable")
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).unwrap_or_else(|_| crate::protocol::null())
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

impl Cluster {
    /// Connects to Redis (the node's id is random).
    pub(crate) async fn connect(config: RedisConfig, limits: Limits) -> Result<Self, ClusterError> {
        let client = redis::Client::open(config.url.as_str())?;
        let redis = client.get_connection_manager().await?;
        Ok(Cluster {
            node: random_hex(8),
            config,
            limits,
            client,
            redis,
            scripts: Scripts::new(),
            local: Mutex::new(Local::default()),
        })
    }

    /// This node's id.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    fn local(&self) -> MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn p(&self) -> &str {
        &self.config.prefix
    }

    fn outbox_args(&self) -> (usize, usize) {
        (self.limits.outbox_frames, self.limits.outbox_bytes)
    }

    fn key_ttl_ms(&self) -> u64 {
        (self.limits.resume_grace + KEY_MARGIN).as_millis() as u64
    }

    /// Starts the node's background work: its channel, its heartbeat and
    /// the sweep for dead nodes and orphans.
    pub(crate) async fn start(&self, signal: Weak<Signal>) -> Result<(), ClusterError> {
        self.heartbeat(false).await?;
        let mut pubsub = self.client.get_async_pubsub().await?;
        let channel = format!("{}:n:{}", self.p(), self.node);
        pubsub.subscribe(&channel).await?;
        tokio::spawn(listen(signal.clone(), pubsub, channel));
        tokio::spawn(sweep(signal, self.config.node_ttl / 3));
        tracing::info!(node = %self.node, url = %self.config.url, "sharing rooms through redis");
        Ok(())
    }

    async fn heartbeat(&self, registered: bool) -> Result<bool, redis::RedisError> {
        let ttl = self.config.node_ttl.as_millis() as u64;
        let r: String = self
            .scripts
            .heartbeat
            .arg(self.p())
            .arg(&self.node)
            .arg(ttl)
            .arg(flag(registered))
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(r == "reaped")
    }

    /// One message from this node's channel.
    fn on_message(&self, s: &Signal, payload: &str) {
        let (line, json) = payload.split_once('\n').unwrap_or((payload, ""));
        let mut words = line.split(' ');
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("f"), Some(sid), Some(seq), Some(event)) => {
                let (Ok(seq), Some(event)) = (seq.parse::<u64>(), event_name(event)) else {
                    return;
                };
                let f = Frame {
                    event,
                    json: Arc::from(json),
                    re: None,
                };
                if let Some(m) = self.local().members.get_mut(sid) {
                    m.deliver(seq, f);
                }
            }
            // Taken over by another node: forget it, close the connection.
            (Some("t"), Some(sid), Some(generation), _) => {
                let generation = generation.parse::<u64>().unwrap_or(u64::MAX);
                let gone = {
                    let mut local = self.local();
                    let newer = local
                        .members
                        .get(sid)
                        .is_some_and(|m| m.pending.is_none() && m.generation < generation);
                    if newer {
                        local.remove(sid)
                    } else {
                        None
                    }
                };
                if let Some((conn, handle)) = gone.and_then(|m| m.conn) {
                    s.hub().attach(conn, None);
                    handle.close();
                }
            }
            (Some("k"), Some(sid), Some(by), _) => {
                let gone = self.local().remove(sid);
                if let Some((conn, handle)) = gone.and_then(|m| m.conn) {
                    s.hub().attach(conn, None);
                    handle.send(frame("kicked", None, None, wire::Kicked { by }));
                    handle.close();
                }
            }
            _ => tracing::debug!("ignoring a malformed channel message"),
        }
    }

    /// Handles one message from `conn`, like [`Hub::receive`](crate::hub::Hub::receive).
    pub(crate) async fn receive(
        &self,
        s: &Signal,
        conn: ConnId,
        parsed: Parsed,
        now: Instant,
        unix_ms: u64,
    ) {
        let re = parsed.id;
        let Some(session) = s.hub().admit(conn, re, now) else {
            return;
        };
        let result = match parsed.request {
            Ok(request) => self.handle(s, conn, re, session, request, unix_ms).await,
            Err(r) => Err(r),
        };
        if let Err(r) = result {
            s.hub().reject(conn, re, &r);
        }
    }

    async fn handle(
        &self,
        s: &Signal,
        conn: ConnId,
        re: Option<u64>,
        session: Option<Arc<str>>,
        request: Request,
        unix_ms: u64,
    ) -> Result<(), Rejection> {
        let already = || Rejection::new(ErrorCode::AlreadyJoined, "already in a room");
        match request {
            Request::Join {
                room,
                name,
                meta,
                token,
            } => {
                if session.is_some() {
                    return Err(already());
                }
                let grants = s
                    .hub()
                    .check_join(&room, &name, &meta, token.as_deref(), unix_ms)?;
                self.join(s, conn, re, room, name, meta, grants).await
            }
            Request::Resume {
                session: sid,
                token,
                last_seq,
            } => {
                if session.is_some() {
                    return Err(already());
                }
                self.resume(s, conn, re, &sid, &token, last_seq, unix_ms)
                    .await
            }
            Request::Ping { t } => {
                let pong = wire::Pong {
                    t: t.as_deref(),
                    server_time: unix_ms,
                };
                s.hub().reply(conn, "pong", re, pong);
                Ok(())
            }
            request => {
                let sid = session.ok_or_else(not_joined)?;
                self.handle_joined(s, conn, &sid, request).await?;
                s.hub().reply(conn, "ok", re, wire::Empty {});
                Ok(())
            }
        }
    }

    /// The room, name and grants of a member of this node.
    fn member(&self, sid: &str) -> Result<(Arc<str>, String, Grants), Rejection> {
        self.local()
            .members
            .get(sid)
            .map(|m| (m.room.clone(), m.name.clone(), m.grants.clone()))
            .ok_or_else(not_joined)
    }

    async fn handle_joined(
        &self,
        s: &Signal,
        conn: ConnId,
        sid: &Arc<str>,
        request: Request,
    ) -> Result<(), Rejection> {
        let (room, name, grants) = self.member(sid)?;
        let (maxf, maxb) = self.outbox_args();
        let mut redis = self.redis.clone();
        match request {
            Request::Relay { kind, to, body } => {
                if body.get().len() > self.limits.max_message_bytes {
                    return Err(too_large(kind.name()));
                }
                if kind == RelayKind::Offer && !grants.publish {
                    return Err(forbidden("the token does not grant publishing"));
                }
                let (head, tail) = match kind {
                    RelayKind::Offer | RelayKind::Answer => parts(
                        kind.name(),
                        wire::RelayedSdp {
                            from: sid,
                            sdp: &body,
                        },
                    ),
                    RelayKind::Candidate => parts(
                        kind.name(),
                        wire::RelayedCandidate {
                            from: sid,
                            candidate: &body,
                        },
                    ),
                };
                let r: String = self
                    .scripts
                    .relay
                    .arg(self.p())
                    .arg(sid.as_ref())
                    .arg(&to)
                    .arg(room.as_ref())
                    .arg(flag(kind == RelayKind::Offer))
                    .arg(kind.name())
                    .arg(head)
                    .arg(tail)
                    .arg(maxf)
                    .arg(maxb)
                    .invoke_async(&mut redis)
                    .await
                    .map_err(unavailable)?;
                match r.as_str() {
                    "ok" => s.metrics().messages_relayed.inc(),
                    "no-subscribe" => return Err(forbidden("that peer may not subscribe")),
                    _ => return Err(no_such_peer()),
                };
            }
            Request::Broadcast { data } => {
                if !grants.publish {
                    return Err(forbidden("the token does not grant publishing"));
                }
                let (head, tail) = parts(
                    "broadcast",
                    wire::Broadcast {
                        from: sid,
                        data: &data,
                    },
                );
                let n: u64 = self
                    .roomcast(&room, sid, true, "broadcast", head, tail, None)
                    .await?;
                s.metrics().messages_relayed.inc_by(n);
            }
            Request::Update { meta } => {
                check_meta(&self.limits, &meta)?;
                let info = wire::PeerInfo {
                    id: sid,
                    name: &name,
                    meta: &meta,
                };
                let (head, tail) = parts("peer-updated", info);
                self.roomcast(
                    &room,
                    sid,
                    false,
                    "peer-updated",
                    head,
                    tail,
                    Some(meta.get()),
                )
                .await?;
            }
            Request::Leave => {
                self.end(sid, "", false).await.map_err(unavailable)?;
                self.local().remove(sid);
                s.hub().attach(conn, None);
                s.update_gauges_cluster(self.local().counts());
            }
            Request::Ack { seq } => {
                let _: u64 = self
                    .scripts
                    .ack
                    .arg(self.p())
                    .arg(sid.as_ref())
                    .arg(seq)
                    .invoke_async(&mut redis)
                    .await
                    .map_err(unavailable)?;
            }
            Request::Kick { id } => {
                if !grants.admin {
                    return Err(forbidden("the token does not grant admin"));
                }
                let (head, tail) = parts("peer-left", wire::PeerLeft { id: &id });
                let r: String = self
                    .scripts
                    .kick
                    .arg(self.p())
                    .arg(&id)
                    .arg(room.as_ref())
                    .arg(sid.as_ref())
                    .arg(head)
                    .arg(tail)
                    .arg(maxf)
                    .arg(maxb)
                    .invoke_async(&mut redis)
                    .await
                    .map_err(unavailable)?;
                if r != "ok" {
                    return Err(no_such_peer());
                }
            }
            Request::Join { .. } | Request::Resume { .. } | Request::Ping { .. } => {}
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn roomcast(
        &self,
        room: &str,
        except: &str,
        only_subscribers: bool,
        event: &str,
        head: String,
        tail: String,
        new_meta: Option<&str>,
    ) -> Result<u64, Rejection> {
        let (maxf, maxb) = self.outbox_args();
        let mut call = self.scripts.roomcast.arg(self.p());
        call.arg(room)
            .arg(except)
            .arg(flag(only_subscribers))
            .arg(event)
            .arg(head)
            .arg(tail)
            .arg(maxf)
            .arg(maxb);
        if let Some(meta) = new_meta {
            // ARGV[10] is unused; the metadata is ARGV[11].
            call.arg("").arg(meta);
        }
        call.invoke_async(&mut self.redis.clone())
            .await
            .map_err(unavailable)
    }

    /// Ends `sid` (if `node` is not empty, only while that node holds it;
    /// if `detached`, only while detached).
    async fn end(&self, sid: &str, node: &str, detached: bool) -> Result<u64, redis::RedisError> {
        let (maxf, maxb) = self.outbox_args();
        let (head, tail) = parts("peer-left", wire::PeerLeft { id: sid });
        self.scripts
            .end
            .arg(self.p())
            .arg(sid)
            .arg(node)
            .arg(flag(detached))
            .arg(head)
            .arg(tail)
            .arg(maxf)
            .arg(maxb)
            .invoke_async(&mut self.redis.clone())
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn join(
        &self,
        s: &Signal,
        conn: ConnId,
        re: Option<u64>,
        room: String,
        name: String,
        meta: Box<RawValue>,
        grants: Grants,
    ) -> Result<(), Rejection> {
        let handle = s.hub().handle_of(conn).ok_or_else(not_joined)?;
        let id: Arc<str> = Arc::from(random_hex(16));
        let token = random_hex(32);
        let room: Arc<str> = Arc::from(room);
        {
            let mut local = self.local();
            if local.members.len() >= self.limits.max_sessions {
                return Err(Rejection::new(
                    ErrorCode::ServerFull,
                    "no room for more sessions",
                ));
            }
            local.insert(
                id.clone(),
                Member {
                    room: room.clone(),
                    name: name.clone(),
                    grants: grants.clone(),
                    conn: Some((conn, handle.clone())),
                    sent: 0,
                    pending: Some(Vec::new()),
                    generation: 0,
                    deadline: None,
                },
            );
        }
        let (head, tail) = parts(
            "peer-joined",
            wire::PeerInfo {
                id: &id,
                name: &name,
                meta: &meta,
            },
        );
        let (maxf, maxb) = self.outbox_args();
        let r: Result<Vec<String>, _> = self
            .scripts
            .join
            .arg(self.p())
            .arg(id.as_ref())
            .arg(&self.node)
            .arg(room.as_ref())
            .arg(&name)
            .arg(meta.get())
            .arg(flag(grants.publish))
            .arg(flag(grants.subscribe))
            .arg(flag(grants.admin))
            .arg(grants.expires.map(|e| e.to_string()).unwrap_or_default())
            .arg(&token)
            .arg(self.limits.max_room_peers)
            .arg(head)
            .arg(tail)
            .arg(maxf)
            .arg(maxb)
            .invoke_async(&mut self.redis.clone())
            .await;
        let peers = match r {
            Ok(r) if r.first().map(String::as_str) == Some("ok") => r,
            Ok(_) => {
                self.local().remove(&id);
                return Err(Rejection::new(ErrorCode::RoomFull, "the room is full"));
            }
            Err(e) => {
                self.local().remove(&id);
                return Err(unavailable(e));
            }
        };
        s.hub().attach(conn, Some(id.clone()));
        s.metrics().joins.inc();
        let metas: Vec<_> = peers
            .get(1..)
            .unwrap_or_default()
            .chunks_exact(3)
            .map(|p| (p[0].as_str(), p[1].as_str(), raw(&p[2])))
            .collect();
        let body = wire::Joined {
            id: &id,
            room: &room,
            resume_token: &token,
            peers: metas
                .iter()
                .map(|(id, name, meta)| wire::PeerInfo { id, name, meta })
                .collect(),
            seq: 0,
        };
        let mut local = self.local();
        handle.send(frame("joined", None, re, body));
        if let Some(m) = local.members.get_mut(&id) {
            m.go_live();
        }
        s.update_gauges_cluster(local.counts());
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn resume(
        &self,
        s: &Signal,
        conn: ConnId,
        re: Option<u64>,
        sid: &str,
        token: &str,
        last_seq: u64,
        unix_ms: u64,
    ) -> Result<(), Rejection> {
        let failed = |why: &str| Rejection::new(ErrorCode::ResumeFailed, why);
        let handle = s.hub().handle_of(conn).ok_or_else(not_joined)?;
        let mut redis = self.redis.clone();
        let exp: Option<String> = redis::cmd("HGET")
            .arg(format!("{}:s:{sid}", self.p()))
            .arg("exp")
            .query_async(&mut redis)
            .await
            .map_err(unavailable)?;
        let Some(exp) = exp else {
            return Err(failed("no such session (it may have expired)"));
        };
        let expired = Grants {
            expires: exp.parse().ok(),
            ..Grants::open()
        }
        .expired(unix_ms / 1000);
        if expired {
            return Err(failed("the session's token expired"));
        }
        // Hold what arrives for the session until its backlog is written.
        let id: Arc<str> = {
            let mut local = self.local();
            match local.members.get_key_value(sid) {
                Some((_, m)) if m.pending.is_some() => {
                    return Err(failed("the session is resuming on another connection"))
                }
                Some((k, _)) => {
                    let k = k.clone();
                    if let Some(m) = local.members.get_mut(&k) {
                        m.pending = Some(Vec::new());
                    }
                    k
                }
                None => {
                    let k: Arc<str> = Arc::from(sid);
                    local.insert(
                        k.clone(),
                        Member {
                            room: Arc::from(""),
                            name: String::new(),
                            grants: Grants::open(),
                            conn: None,
                            sent: 0,
                            pending: Some(Vec::new()),
                            generation: 0,
                            deadline: None,
                        },
                    );
                    k
                }
            }
        };
        let r: Result<Vec<String>, _> = self
            .scripts
            .resume
            .arg(self.p())
            .arg(sid)
            .arg(token)
            .arg(last_seq)
            .arg(&self.node)
            .invoke_async(&mut redis)
            .await;
        let r = match r {
            Ok(r) if r.first().map(String::as_str) == Some("ok") => Ok(r),
            Ok(r) => Err(match r.first().map(String::as_str) {
                Some("token") => failed("wrong resume token"),
                Some("lost") => failed("events after lastSeq are no longer held"),
                _ => failed("no such session (it may have expired)"),
            }),
            Err(e) => Err(unavailable(e)),
        };
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                // Back as it was: a prior member goes on, a new one goes.
                let mut local = self.local();
                let keep = local
                    .members
                    .get(&id)
                    .is_some_and(|m| m.conn.is_some() || m.deadline.is_some());
                if keep {
                    if let Some(m) = local.members.get_mut(&id) {
                        m.go_live();
                    }
                } else {
                    local.remove(&id);
                }
                return Err(e);
            }
        };
        // ok, old node, room, seq, pub, sub, admin, exp, generation, name,
        // peer count, peers, frames.
        let field = |i: usize| r.get(i).map_or("", String::as_str);
        let seq: u64 = field(3).parse().unwrap_or(0);
        let generation: u64 = field(8).parse().unwrap_or(0);
        let npeers: usize = field(10).parse().unwrap_or(0);
        let peers_end = npeers.saturating_mul(3).saturating_add(11).min(r.len());
        let peer_fields = r.get(11..peers_end).unwrap_or_default();
        let metas: Vec<_> = peer_fields
            .chunks_exact(3)
            .map(|p| (p[0].as_str(), p[1].as_str(), raw(&p[2])))
            .collect();
        let backlog = r.get(peers_end..).unwrap_or_default();
        let room: Arc<str> = Arc::from(field(2));
        let grants = Grants {
            room: room.to_string(),
            publish: field(4) == "1",
            subscribe: field(5) == "1",
            admin: field(6) == "1",
            expires: field(7).parse().ok(),
        };
        let old_conn = {
            let mut local = self.local();
            local.set_room(&id, room.clone());
            let Some(m) = local.members.get_mut(&id) else {
                return Err(failed("the session ended meanwhile"));
            };
            let old = m.conn.replace((conn, handle.clone()));
            m.name = field(9).to_owned();
            m.grants = grants;
            m.generation = generation;
            m.deadline = None;
            m.sent = last_seq;
            let body = wire::Joined {
                id: &id,
                room: &room,
                resume_token: token,
                peers: metas
                    .iter()
                    .map(|(id, name, meta)| wire::PeerInfo { id, name, meta })
                    .collect(),
                seq,
            };
            handle.send(frame("resumed", None, re, body));
            // The backlog, then what arrived meanwhile; `deliver` drops
            // what the backlog already had.
            let queued = m.pending.take().unwrap_or_default();
            for json in backlog {
                let head = json.split('"').nth(3).and_then(event_name);
                let n = json
                    .split("\"seq\":")
                    .nth(1)
                    .and_then(|t| t.split([',', '}']).next())
                    .and_then(|n| n.parse::<u64>().ok());
                if let (Some(event), Some(n)) = (head, n) {
                    let f = Frame {
                        event,
                        json: Arc::from(json.as_str()),
                        re: None,
                    };
                    m.deliver(n, f);
                }
            }
            for (n, f) in queued {
                m.deliver(n, f);
            }
            s.update_gauges_cluster(local.counts());
            old.filter(|(c, _)| *c != conn)
        };
        if let Some((c, h)) = old_conn {
            s.hub().attach(c, None);
            h.close();
        }
        s.hub().attach(conn, Some(id.clone()));
        s.metrics().resumes.inc();
        tracing::debug!(session = %id, conn, last_seq, "session resumed");
        Ok(())
    }

    /// `conn` closed while holding `sid`: the session waits for a resume.
    pub(crate) async fn disconnect(&self, sid: &Arc<str>, conn: ConnId, now: Instant) {
        let deadline = now + self.limits.resume_grace;
        let generation = {
            let mut local = self.local();
            let Some(m) = local.members.get_mut(sid) else {
                return;
            };
            if m.conn.as_ref().map(|(c, _)| *c) != Some(conn) {
                return;
            }
            m.conn = None;
            m.deadline = Some(deadline);
            let generation = m.generation;
            local.expiring.push_back((deadline, sid.clone()));
            generation
        };
        let r: Result<u64, _> = self
            .scripts
            .detach
            .arg(self.p())
            .arg(sid.as_ref())
            .arg(&self.node)
            .arg(self.key_ttl_ms())
            .arg(generation)
            .invoke_async(&mut self.redis.clone())
            .await;
        if let Err(e) = r {
            tracing::warn!("redis: detaching {sid}: {e}");
        }
    }

    /// Ends the detached members whose grace ran out.
    pub(crate) async fn expire(&self, s: &Signal, now: Instant) {
        let due: Vec<Arc<str>> = {
            let mut local = self.local();
            let mut due = Vec::new();
            while let Some((deadline, sid)) = local.expiring.front().cloned() {
                if deadline > now {
                    break;
                }
                local.expiring.pop_front();
                let is_due = local
                    .members
                    .get(&sid)
                    .is_some_and(|m| m.conn.is_none() && m.deadline == Some(deadline));
                if is_due {
                    local.remove(&sid);
                    due.push(sid);
                }
            }
            if !due.is_empty() {
                s.update_gauges_cluster(local.counts());
            }
            due
        };
        for sid in due {
            if let Err(e) = self.end(&sid, &self.node, true).await {
                tracing::warn!("redis: ending {sid}: {e}");
            }
        }
    }

    /// One round of the heartbeat and the sweep.
    async fn tick(&self) -> Result<(), redis::RedisError> {
        if self.heartbeat(true).await? {
            // Another node found this one dead (Redis was unreachable
            // longer than the TTL): its sessions are orphans now, so its
            // clients must resume, on this node or another.
            tracing::warn!(node = %self.node, "this node was declared dead; closing its connections");
            let gone: Vec<Member> = self.local().drain();
            for (_, handle) in gone.into_iter().filter_map(|m| m.conn) {
                handle.close();
            }
        }
        let mut redis = self.redis.clone();
        let grace = self.limits.resume_grace.as_millis() as u64;
        let orphaned: u64 = self
            .scripts
            .reap
            .arg(self.p())
            .arg(grace)
            .arg(self.key_ttl_ms())
            .invoke_async(&mut redis)
            .await?;
        if orphaned > 0 {
            tracing::info!(orphaned, "a node died; its sessions may resume here");
        }
        let (maxf, maxb) = self.outbox_args();
        let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(format!("{}:orphans", self.p()))
            .arg("-inf")
            .arg(now_ms(&mut redis).await?)
            .arg("LIMIT")
            .arg(0)
            .arg(100)
            .query_async(&mut redis)
            .await?;
        for sid in due {
            let (head, tail) = parts("peer-left", wire::PeerLeft { id: &sid });
            let _: u64 = self
                .scripts
                .due
                .arg(self.p())
                .arg(&sid)
                .arg(head)
                .arg(tail)
                .arg(maxf)
                .arg(maxb)
                .invoke_async(&mut redis)
                .await?;
        }
        Ok(())
    }
}
