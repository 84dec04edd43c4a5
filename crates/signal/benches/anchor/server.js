// The anchor of fulmar-signal's `anchor` bench: the server most teams write
// for themselves, Node.js socket.io 4.8 (with @socket.io/redis-adapter on
// ioredis when several nodes share rooms), speaking fulmar-signal's Socket.IO protocol
// (README, "Signaling server"): the same event names and payloads, so the
// same client load drives both.
//
//   node server.js --listen 127.0.0.1:PORT [--redis redis://127.0.0.1:6379]
//
// What it does, as such servers do: `join` puts the socket in a Socket.IO
// room and lists the room's peers (across nodes through the adapter's
// fetchSockets), presence goes to the room, `offer`/`answer`/`candidate` go
// to the target socket's own room, `broadcast` to the room. Requests are
// answered through the acknowledgement callback when the client passes one,
// else with an `ok`/`error` event carrying the request's `id` as `re`.
//
// What it leaves out, against fulmar-signal (each makes this server's work
// smaller, never larger): tokens and grants (it is open), resume (no
// per-session outbox, no `seq` on events; `ack` is answered and ignored),
// rate limits and strikes, `kick`, errors for unknown events, and the
// target check of a relay when the target is on another node (that would
// cost a fetchSockets round trip per message).
//
// It prints `listening` once it accepts connections. SIGUSR2 runs a full
// garbage collection when node runs with --expose-gc (the bench does so
// before it reads the resident memory), SIGTERM ends it.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const VERSION = 1;
const MAX_MESSAGE_BYTES = 64 * 1024;
const MAX_ROOM_PEERS = 64;

function args() {
  const out = { listen: "127.0.0.1:8443", redis: null };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === "--listen") out.listen = argv[i + 1];
    else if (argv[i] === "--redis") out.redis = argv[i + 1];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return out;
}

// Sends `type` with `body` as the answer to a request.
function reply(socket, ack, id, type, body) {
  if (typeof ack === "function") ack({ type, ...body });
  else socket.emit(type, { type, re: id, ...body });
}

function fail(socket, ack, id, code, message) {
  reply(socket, ack, id, "error", { code, message });
}

function relay(io, shared, socket, kind, field) {
  socket.on(kind, (m, ack) => {
    m = m || {};
    const me = socket.data;
    if (!me.room) return fail(socket, ack, m.id, "not-joined", "join a room first");
    if (typeof m.to !== "string") return fail(socket, ack, m.id, "bad-message", `\`${kind}\` needs \`to\``);
    const body = m[field] === undefined ? null : m[field];
    if (kind !== "candidate" && body === null) {
      return fail(socket, ack, m.id, "bad-message", `\`${kind}\` needs \`${field}\``);
    }
    // A target on this node is checked; one on another node is reached
    // through the adapter.
    const local = io.of("/").sockets.get(m.to);
    if (m.to === socket.id || (local && local.data.room !== me.room) || (!local && !shared)) {
      return fail(socket, ack, m.id, "no-such-peer", "no such peer in the room");
    }
    io.to(m.to).emit(kind, { type: kind, from: socket.id, [field]: body });
    reply(socket, ack, m.id, "ok", {});
  });
}

function leave(socket) {
  const room = socket.data.room;
  if (!room) return;
  socket.data.room = null;
  socket.leave(room);
  socket.to(room).emit("peer-left", { type: "peer-left", id: socket.id });
}

function onConnection(io, shared, socket) {
  socket.data = { room: null, name: "", meta: null };
  socket.emit("hello", { type: "hello", v: VERSION, auth: "open", maxMessageBytes: MAX_MESSAGE_BYTES, resumeGraceMs: 0 });

  socket.on("join", async (m, ack) => {
    m = m || {};
    if (socket.data.room) return fail(socket, ack, m.id, "already-joined", "already in a room");
    if (typeof m.room !== "string" || m.room === "") return fail(socket, ack, m.id, "bad-message", "`join` needs `room`");
    const others = await io.in(m.room).fetchSockets();
    if (others.length >= MAX_ROOM_PEERS) return fail(socket, ack, m.id, "room-full", "the room is full");
    const me = { room: m.room, name: typeof m.name === "string" ? m.name : "", meta: m.meta === undefined ? null : m.meta };
    socket.data = me;
    socket.join(m.room);
    const peers = others.map((s) => ({ id: s.id, name: s.data.name, meta: s.data.meta }));
    reply(socket, ack, m.id, "joined", { id: socket.id, room: m.room, resumeToken: "", peers, seq: 0 });
    socket.to(m.room).emit("peer-joined", { type: "peer-joined", id: socket.id, name: me.name, meta: me.meta });
  });
  relay(io, shared, socket, "offer", "sdp");
  relay(io, shared, socket, "answer", "sdp");
  relay(io, shared, socket, "candidate", "candidate");
  socket.on("broadcast", (m, ack) => {
    m = m || {};
    if (!socket.data.room) return fail(socket, ack, m.id, "not-joined", "join a room first");
    socket.to(socket.data.room).emit("broadcast", { type: "broadcast", from: socket.id, data: m.data });
    reply(socket, ack, m.id, "ok", {});
  });
  socket.on("update", (m, ack) => {
    m = m || {};
    const me = socket.data;
    if (!me.room) return fail(socket, ack, m.id, "not-joined", "join a room first");
    me.meta = m.meta === undefined ? null : m.meta;
    socket.to(me.room).emit("peer-updated", { type: "peer-updated", id: socket.id, name: me.name, meta: me.meta });
    reply(socket, ack, m.id, "ok", {});
  });
  socket.on("leave", (m, ack) => {
    leave(socket);
    reply(socket, ack, (m || {}).id, "ok", {});
  });
  socket.on("ping", (m, ack) => {
    m = m || {};
    reply(socket, ack, m.id, "pong", { t: m.t, serverTime: Date.now() });
  });
  socket.on("ack", (m, ack) => reply(socket, ack, (m || {}).id, "ok", {}));
  socket.on("disconnect", () => leave(socket));
}

async function main() {
  const a = args();
  const [host, port] = [a.listen.slice(0, a.listen.lastIndexOf(":")), Number(a.listen.slice(a.listen.lastIndexOf(":") + 1))];
  const server = http.createServer();
  const io = new Server(server, { serveClient: false, maxHttpBufferSize: MAX_MESSAGE_BYTES });
  let shared = false;
  if (a.redis) {
    // ioredis: with the `redis` package 4.7 the subscriber garbled large
    // messages under this load (notepack "trailing bytes", the process died).
    const Redis = require("ioredis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = new Redis(a.redis);
    const sub = pub.duplicate();
    io.adapter(createAdapter(pub, sub));
    shared = true;
  }
  io.on("connection", (socket) => onConnection(io, shared, socket));
  process.on("SIGUSR2", () => { if (global.gc) global.gc(); });
  process.on("SIGTERM", () => process.exit(0));
  server.listen(port, host, () => console.log(`listening on ${a.listen}${a.redis ? ` with Redis ${a.redis}` : ""}`));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
