// Helpers shared by the Chromium interop pages (served by harness.py as /common.js).
// check() records a result; post() sends them to the harness's /result.
const results = [];
const log = (s) => { document.getElementById("log").textContent += s + "\n"; };
const check = (name, pass, detail = "") => { results.push({name, pass: !!pass, detail: String(detail)}); log((pass ? "PASS " : "FAIL ") + name + " " + detail); };
const timeout = (p, ms, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), ms))]);
const bytesEqual = (a, b) => { if (a.byteLength !== b.byteLength) return false; const x = new Uint8Array(a), y = new Uint8Array(b); for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false; return true; };
const opened = (dc) => dc.readyState === "open" ? Promise.resolve() : new Promise((res, rej) => { dc.onopen = res; dc.onclose = () => rej(new Error("closed before open")); });
function collector(dc) {
  const q = [], waiters = [];
  dc.binaryType = "arraybuffer";
  dc.onmessage = (e) => { const w = waiters.shift(); if (w) w(e.data); else q.push(e.data); };
  return () => q.length ? Promise.resolve(q.shift()) : new Promise((r) => waiters.push(r));
}
const gathered = (pc) => pc.iceGatheringState === "complete" ? Promise.resolve() :
  timeout(new Promise((r) => pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && r())), 5000, "gathering");
const ufragOf = (sdp) => (sdp.match(/a=ice-ufrag:(\S+)/) || [])[1];
// Applies a local description and waits for the gathering it starts to
// complete (after an ICE restart the state still reads "complete" from the
// previous generation until Chromium starts gathering again).
async function setLocalAndGather(pc, desc) {
  const done = new Promise((r) => {
    const f = () => { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", f); r(); } };
    pc.addEventListener("icegatheringstatechange", f);
  });
  await pc.setLocalDescription(desc);
  await timeout(done, 5000, "gathering");
}
const pwdOf = (sdp) => (sdp.match(/a=ice-pwd:(\S+)/) || [])[1];
const peerStats = async (s) => (await fetch(`/peer/${s}/stats`)).json();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The selected candidate pair as Chromium reports it, with both candidates.
async function selected(pc) {
  const stats = await pc.getStats();
  let id = "";
  stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) id = s.selectedCandidatePairId; });
  const pair = stats.get(id);
  if (!pair) return null;
  return {pair, local: stats.get(pair.localCandidateId), remote: stats.get(pair.remoteCandidateId)};
}
// Chromium offers (non-trickle) to session s and applies Fulmar's answer.
async function offerTo(pc, s) {
  await setLocalAndGather(pc, await pc.createOffer());
  const r = await fetch(`/peer/${s}/offer`, {method: "POST", body: pc.localDescription.sdp});
  const answer = await r.text();
  if (r.status !== 200) throw new Error(`offer refused (${r.status}): ${answer}`);
  await pc.setRemoteDescription({type: "answer", sdp: answer});
  return {offer: pc.localDescription.sdp, answer};
}
async function until(what, ms, f) {
  const end = performance.now() + ms;
  for (;;) { const v = await f(); if (v) return v; if (performance.now() > end) throw new Error("timeout: " + what); await sleep(100); }
}
const post = (final) => fetch("/result", {method: "POST", body: JSON.stringify({checks: results, final})});
