// The stock socket.io-client (npm, v4) against fulmar-signal: two clients
// join one room over Socket.IO (one on the WebSocket transport, one on
// HTTP long-polling), see each other's presence, relay an offer, an answer
// and candidates (with end-of-candidates), broadcast, get errors through
// acknowledgements, and see each other leave. Prints one line per check
// and exits non-zero if any fails. Usage: node client.js http://HOST:PORT
"use strict";
const { io } = require("socket.io-client");
const url = process.argv[2];
const checks = [];
const check = (name, ok, detail = "") => checks.push({ name, ok: !!ok, detail });

// The next emitted event named `name` on `socket`, or a rejection after 5 s.
const next = (socket, name) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${name}`)), 5000);
    socket.once(name, (v) => { clearTimeout(t); resolve(v); });
  });
// Emits with an acknowledgement; resolves with the reply.
const ask = (socket, event, data) =>
  socket.timeout(5000).emitWithAck(event, data);

async function main() {
  const a = io(url, { transports: ["websocket"], reconnection: false });
  const b = io(url, { transports: ["polling"], reconnection: false });
  const [ha, hb] = await Promise.all([next(a, "hello"), next(b, "hello")]);
  check("hello on both transports", ha.v === 1 && hb.v === 1, `websocket ${ha.auth}, polling ${hb.auth}`);

  const ja = await ask(a, "join", { room: "sio", name: "alice", meta: { n: 1 } });
  check("join acknowledged", ja.type === "joined" && ja.peers.length === 0, ja.id);
  const joinedB = next(a, "peer-joined");
  const jb = await ask(b, "join", { room: "sio", name: "bob" });
  check("second join lists the first peer", jb.peers.length === 1 && jb.peers[0].id === ja.id && jb.peers[0].meta.n === 1);
  const pj = await joinedB;
  check("presence: peer-joined", pj.id === jb.id && pj.name === "bob" && pj.seq === 1);

  const offer = next(b, "offer");
  const ok = await ask(a, "offer", { to: jb.id, sdp: "v=0 offer" });
  const o = await offer;
  check("offer relayed", ok.type === "ok" && o.from === ja.id && o.sdp === "v=0 offer");
  const answer = next(a, "answer");
  await ask(b, "answer", { to: ja.id, sdp: "v=0 answer" });
  const an = await answer;
  check("answer relayed", an.from === jb.id && an.sdp === "v=0 answer");

  const cands = [];
  const got = new Promise((resolve) => b.on("candidate", (c) => { cands.push(c); if (cands.length === 2) resolve(); }));
  const init = { candidate: "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host", sdpMid: "0", sdpMLineIndex: 0 };
  await ask(a, "candidate", { to: jb.id, candidate: init });
  await ask(a, "candidate", { to: jb.id, candidate: null });
  await got;
  check("candidates and end-of-candidates relayed",
    cands[0].candidate.candidate === init.candidate && cands[1].candidate === null);

  const bc = next(a, "broadcast");
  await ask(b, "broadcast", { data: { chat: "hi" } });
  const m = await bc;
  check("broadcast", m.from === jb.id && m.data.chat === "hi");

  const err = await ask(a, "offer", { to: "nobody", sdp: "x" });
  check("errors come back through the acknowledgement", err.type === "error" && err.code === "no-such-peer", err.message);
  const pong = await ask(a, "ping", { t: 42 });
  check("ping/pong", pong.type === "pong" && pong.t === 42);

  const left = next(a, "peer-left");
  await ask(b, "leave", {});
  const l = await left;
  check("presence: peer-left", l.id === jb.id);
  a.close();
  b.close();
}

main()
  .catch((e) => check("scenario completed", false, e.message))
  .finally(() => {
    for (const c of checks) console.log(`${c.ok ? "PASS" : "FAIL"}  ${c.name}  ${c.detail}`);
    const failed = checks.filter((c) => !c.ok).length;
    console.log(`socketio: ${checks.length - failed}/${checks.length} checks passed`);
    process.exit(failed || checks.length !== Number(process.env.EXPECTED_CHECKS || checks.length) ? 1 : 0);
  });
