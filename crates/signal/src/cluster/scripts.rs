//! The Lua scripts that change the shared state. Each runs atomically in
//! Redis, so a room's cap, a session's sequence numbers and the single
//! `peer-left` of a departed peer hold whichever node runs them.
//!
//! Every script takes the key prefix as `ARGV[1]` and builds its keys from
//! it (the layout is in the README), so they suit one Redis server (or a
//! primary with replicas), not Redis Cluster's sharding.

use redis::Script;

/// Shared functions, prepended to every script.
///
/// `deliver` numbers an event for one session, holds it in the session's
/// outbox (bounded in frames and bytes; a detached session that loses a
/// frame is marked `lost`, so it can no longer be resumed exactly once) and
/// publishes it to the owning node's channel as
/// `f <session> <seq> <event>\n<frame>`.
const PRELUDE: &str = r#"
local P = ARGV[1]
local function skey(sid) return P .. ':s:' .. sid end
local function okey(sid) return P .. ':o:' .. sid end
local function rkey(room) return P .. ':r:' .. room end
local function deliver(sid, event, head, tail, maxf, maxb)
  local sk = skey(sid)
  local node = redis.call('HGET', sk, 'node')
  if not node then return false end
  local seq = redis.call('HINCRBY', sk, 'seq', 1)
  local frame = head .. ',"seq":' .. seq .. tail
  local ok = okey(sid)
  local n = redis.call('RPUSH', ok, frame)
  local bytes = redis.call('HINCRBY', sk, 'bytes', #frame)
  local dropped = false
  while n > maxf or bytes > maxb do
    local f = redis.call('LPOP', ok)
    if not f then break end
    bytes = redis.call('HINCRBY', sk, 'bytes', -#f)
    n = n - 1
    dropped = true
  end
  if dropped and redis.call('HGET', sk, 'attached') ~= '1' then
    redis.call('HSET', sk, 'lost', '1')
  end
  local ttl = redis.call('PTTL', sk)
  if ttl > 0 then redis.call('PEXPIRE', ok, ttl) end
  if node ~= '' then
    redis.call('PUBLISH', P .. ':n:' .. node, 'f ' .. sid .. ' ' .. seq .. ' ' .. event .. '\n' .. frame)
  end
  return true
end
local function roomcast(room, except, only_sub, event, head, tail, maxf, maxb)
  local members = redis.call('HGETALL', rkey(room))
  local sent = 0
  for i = 1, #members, 2 do
    local sid, sub = members[i], members[i + 1]
    if sid ~= except and (only_sub ~= '1' or sub == '1') then
      if deliver(sid, event, head, tail, maxf, maxb) then sent = sent + 1 end
    end
  end
  return sent
end
local function seq_of(frame) return tonumber(string.match(frame, '"seq":(%d+)')) end
local function ack(sid, upto)
  local sk, ok = skey(sid), okey(sid)
  while true do
    local f = redis.call('LINDEX', ok, 0)
    if not f or seq_of(f) > upto then return end
    redis.call('LPOP', ok)
    redis.call('HINCRBY', sk, 'bytes', -#f)
  end
end
local function end_session(sid, head, tail, maxf, maxb)
  local sk = skey(sid)
  local s = redis.call('HMGET', sk, 'room', 'node')
  redis.call('DEL', sk, okey(sid))
  redis.call('ZREM', P .. ':orphans', sid)
  if not s[1] then return 0 end
  if s[2] and s[2] ~= '' then redis.call('SREM', P .. ':owned:' .. s[2], sid) end
  if redis.call('HDEL', rkey(s[1]), sid) == 1 then
    roomcast(s[1], sid, '0', 'peer-left', head, tail, maxf, maxb)
  end
  return 1
end
local function peers_of(room, except, out)
  local members = redis.call('HKEYS', rkey(room))
  for _, p in ipairs(members) do
    if p ~= except then
      local info = redis.call('HMGET', skey(p), 'name', 'meta')
      if info[1] then
        out[#out + 1] = p
        out[#out + 1] = info[1]
        out[#out + 1] = info[2]
      end
    end
  end
  return out
end
"#;

/// Joins a room if it has space (or the joiner is admin), stores the
/// session and announces it: `ARGV` = prefix, session, node, room, name,
/// meta, publish, subscribe, admin, expiry, resume token, room cap,
/// `peer-joined` head and tail, outbox frames and bytes. Returns `full`,
/// or `ok` followed by (id, name, meta) of each peer already there.
const JOIN: &str = r#"
local sid, node, room = ARGV[2], ARGV[3], ARGV[4]
local admin, cap = ARGV[9], tonumber(ARGV[12])
if redis.call('HLEN', rkey(room)) >= cap and admin ~= '1' then return {'full'} end
redis.call('HSET', skey(sid), 'room', room, 'name', ARGV[5], 'meta', ARGV[6],
  'pub', ARGV[7], 'sub', ARGV[8], 'admin', admin, 'exp', ARGV[10],
  'token', redis.sha1hex(ARGV[11]), 'node', node, 'seq', 0, 'bytes', 0, 'attached', '1')
local out = peers_of(room, sid, {'ok'})
roomcast(room, sid, '0', 'peer-joined', ARGV[13], ARGV[14], tonumber(ARGV[15]), tonumber(ARGV[16]))
redis.call('HSET', rkey(room), sid, ARGV[8])
redis.call('SADD', P .. ':owned:' .. node, sid)
return out
"#;

/// Takes a session over for this node: `ARGV` = prefix, session, resume
/// token, last seq, node. Returns `gone`, `token` or `lost`, or `ok`, the
/// node that held it (`''` when none), room, last seq, publish, subscribe,
/// admin, expiry, the takeover's generation, the display name, the number
/// of peers, (id, name, meta) of each, then the frames after the last seq
/// in order. The node that held it gets `t <session> <generation>`.
const RESUME: &str = r#"
local sid, last, node = ARGV[2], tonumber(ARGV[4]), ARGV[5]
local sk, ok = skey(sid), okey(sid)
local s = redis.call('HMGET', sk, 'token', 'room', 'seq', 'pub', 'sub', 'admin', 'exp', 'node', 'lost', 'name')
if not s[1] then return {'gone'} end
if s[1] ~= redis.sha1hex(ARGV[3]) then return {'token'} end
local seq = tonumber(s[3])
if s[9] == '1' or last > seq then return {'lost'} end
ack(sid, last)
local first = redis.call('LINDEX', ok, 0)
local first_seq = seq + 1
if first then first_seq = seq_of(first) end
if first_seq ~= last + 1 then return {'lost'} end
local old = s[8]
local gen = redis.call('HINCRBY', sk, 'gen', 1)
redis.call('HSET', sk, 'node', node, 'attached', '1')
redis.call('PERSIST', sk)
redis.call('PERSIST', ok)
redis.call('ZREM', P .. ':orphans', sid)
if old ~= node then
  if old ~= '' then
    redis.call('SREM', P .. ':owned:' .. old, sid)
    redis.call('PUBLISH', P .. ':n:' .. old, 't ' .. sid .. ' ' .. gen)
  end
  redis.call('SADD', P .. ':owned:' .. node, sid)
end
local out = {'ok', old, s[2], s[3], s[4], s[5], s[6], s[7] or '', tostring(gen), s[10] or ''}
local peers = peers_of(s[2], sid, {})
out[#out + 1] = tostring(#peers / 3)
for _, v in ipairs(peers) do out[#out + 1] = v end
for _, f in ipairs(redis.call('LRANGE', ok, 0, -1)) do out[#out + 1] = f end
return out
"#;

/// Relays one message: `ARGV` = prefix, from, to, room, whether it is an
/// offer, event, head, tail, outbox frames and bytes. Returns `ok`,
/// `no-peer` or `no-subscribe`.
const RELAY: &str = r#"
local from, to, room = ARGV[2], ARGV[3], ARGV[4]
local t = redis.call('HMGET', skey(to), 'room', 'sub')
if from == to or t[1] ~= room then return 'no-peer' end
if ARGV[5] == '1' and t[2] ~= '1' then return 'no-subscribe' end
deliver(to, ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]))
return 'ok'
"#;

/// Sends an event to the room but one: `ARGV` = prefix, room, except,
/// subscribers only, event, head, tail, outbox frames and bytes, and
/// optionally new metadata for `except` (an `update`). Returns how many
/// got it.
const ROOMCAST: &str = r#"
if ARGV[11] then redis.call('HSET', skey(ARGV[3]), 'meta', ARGV[11]) end
return roomcast(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9]))
"#;

/// Ends a session and tells its room: `ARGV` = prefix, session, the node
/// that must hold it (`''`: any), whether it must be detached,
/// `peer-left` head and tail, outbox frames and bytes. Returns 1 if it
/// ended.
const END: &str = r#"
local sid, need_node = ARGV[2], ARGV[3]
local s = redis.call('HMGET', skey(sid), 'node', 'attached')
if need_node ~= '' and s[1] ~= need_node then return 0 end
if ARGV[4] == '1' and s[2] == '1' then return 0 end
return end_session(sid, ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]))
"#;

/// Kicks a peer of the same room: `ARGV` = prefix, target, room, kicker,
/// `peer-left` head and tail, outbox frames and bytes. Returns `no-peer`
/// or `ok`; tells the target's node with `k <target> <kicker>`.
const KICK: &str = r#"
local sid, room = ARGV[2], ARGV[3]
local s = redis.call('HMGET', skey(sid), 'room', 'node')
if s[1] ~= room then return 'no-peer' end
if s[2] and s[2] ~= '' then redis.call('PUBLISH', P .. ':n:' .. s[2], 'k ' .. sid .. ' ' .. ARGV[4]) end
end_session(sid, ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]))
return 'ok'
"#;

/// The connection of a session held by this node dropped: `ARGV` =
/// prefix, session, node, TTL in ms, the takeover generation the dropped
/// connection held (0 after a join). The keys expire unless resumed.
/// Returns 0 when a later takeover holds the session: a resume on the same
/// node whose `RESUME` reached Redis before this `DETACH` must stay attached.
const DETACH: &str = r#"
local sk = skey(ARGV[2])
local s = redis.call('HMGET', sk, 'node', 'gen')
if s[1] ~= ARGV[3] or (tonumber(s[2]) or 0) ~= tonumber(ARGV[5]) then return 0 end
redis.call('HSET', sk, 'attached', '0')
redis.call('PEXPIRE', sk, ARGV[4])
redis.call('PEXPIRE', okey(ARGV[2]), ARGV[4])
return 1
"#;

/// Forgets frames up to a seq: `ARGV` = prefix, session, seq.
const ACK: &str = r#"
ack(ARGV[2], tonumber(ARGV[3]))
return 1
"#;

/// Refreshes this node's liveness: `ARGV` = prefix, node, TTL in ms,
/// whether the node registered before. Returns `reaped` when another node
/// found it dead meanwhile (its sessions are orphans now).
const HEARTBEAT: &str = r#"
local node = ARGV[2]
redis.call('SET', P .. ':alive:' .. node, '1', 'PX', ARGV[3])
local added = redis.call('SADD', P .. ':nodes', node)
if added == 1 and ARGV[4] == '1' then return 'reaped' end
return 'ok'
"#;

/// Finds dead nodes and orphans their sessions: `ARGV` = prefix, grace
/// in ms, key TTL in ms. An orphan can be resumed on any node until its
/// deadline, then [`DUE`] ends it. Returns how many sessions were
/// orphaned.
const REAP: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local orphaned = 0
for _, node in ipairs(redis.call('SMEMBERS', P .. ':nodes')) do
  if redis.call('EXISTS', P .. ':alive:' .. node) == 0 then
    redis.call('SREM', P .. ':nodes', node)
    local owned = P .. ':owned:' .. node
    for _, sid in ipairs(redis.call('SMEMBERS', owned)) do
      local sk = skey(sid)
      if redis.call('HGET', sk, 'node') == node then
        redis.call('HSET', sk, 'node', '', 'attached', '0')
        redis.call('PEXPIRE', sk, ARGV[3])
        redis.call('PEXPIRE', okey(sid), ARGV[3])
        redis.call('ZADD', P .. ':orphans', now + tonumber(ARGV[2]), sid)
        orphaned = orphaned + 1
      end
    end
    redis.call('DEL', owned)
  end
end
return orphaned
"#;

/// Ends an orphan whose deadline passed: `ARGV` = prefix, session,
/// `peer-left` head and tail, outbox frames and bytes. Returns 1 if it
/// ended (one node wins; a resumed session is no orphan any more).
const DUE: &str = r#"
local sid = ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = redis.call('ZSCORE', P .. ':orphans', sid)
if not deadline or tonumber(deadline) > now then return 0 end
redis.call('ZREM', P .. ':orphans', sid)
if redis.call('HGET', skey(sid), 'node') ~= '' then return 0 end
return end_session(sid, ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
"#;

/// The scripts, loaded once (invoked by hash, sent again if Redis lost
/// them).
pub(super) struct Scripts {
    pub(super) join: Script,
    pub(super) resume: Script,
    pub(super) relay: Script,
    pub(super) roomcast: Script,
    pub(super) end: Script,
    pub(super) kick: Script,
    pub(super) detach: Script,
    pub(super) ack: Script,
    pub(super) heartbeat: Script,
    pub(super) reap: Script,
    pub(super) due: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let s = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            join: s(JOIN),
            resume: s(RESUME),
            relay: s(RELAY),
            roomcast: s(ROOMCAST),
            end: s(END),
            kick: s(KICK),
            detach: s(DETACH),
            ack: s(ACK),
            heartbeat: s(HEARTBEAT),
            reap: s(REAP),
            due: s(DUE),
        }
    }
}
