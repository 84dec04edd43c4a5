#!/bin/sh
# Fulmar on another host: two hosts as network namespaces joined by a veth
# pair (198.18.0.1 = A, 198.18.0.2 = B). fulmar-gateway runs on A with HTTP
# on 0.0.0.0:8080 and every session's media on ONE UDP socket bound to
# 0.0.0.0:40000. On B, headless Chromium with its default WebRTC settings
# opens a page served on B (harness.py, test.html; B's origin is treated as
# secure for getUserMedia) that talks to the demo on A:
# - without camera permission Chromium offers no address of its own (its
#   host candidates hidden behind mDNS; here none at all), so Fulmar learns
#   its address from its checks (peer-reflexive, RFC 8445 §7.3.1.3); a data
#   channel echoes 20 messages (up to 19 KB) in order;
# - with the fake camera (and so its permission): camera and microphone
#   echoed back and decoded, chat echoed; the demo page served by A, in a
#   frame, connects and sends its camera to Fulmar;
# - every time Fulmar's candidates are A's real address on the one port
#   (never 0.0.0.0) and the selected pair ends at A:40000.
# Then Firefox ESR, default prefs, the same checks: it offers only .local
# host candidates (and end-of-candidates), so it too is reached by
# peer-reflexive discovery. Last, the gateway process holds one UDP socket.
# Prints a pass/fail table; exits non-zero on
# any failure or on another number of checks than expected. Bounded in
# time; deletes its namespaces.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v firefox-esr >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium firefox-esr
fi
if [ -z "${GATEWAY:-}" ]; then
    cargo build -q --release -p fulmar-gateway
    GATEWAY="${CARGO_TARGET_DIR:-$PWD/target}/release/fulmar-gateway"
fi
# chromium: the data channel in a browser without camera permission (its
# addresses hidden); chromium-media: camera echo and the demo page; firefox:
# every scenario.
BROWSERS="${BROWSERS:-chromium chromium-media firefox}"
EXPECTED_CHECKS="${EXPECTED_CHECKS:-}"
MEDIA_PORT=40000
MEDIA_IP="${MEDIA_IP:-0.0.0.0}"

tag="$$"
A="fulmar-lan-a-$tag"
B="fulmar-lan-b-$tag"
VA="fla$tag"
VB="flb$tag"
out="$(mktemp -d)"
gw=""
cleanup() {
    if [ -n "$gw" ]; then kill "$gw" 2>/dev/null || true; wait "$gw" 2>/dev/null || true; fi
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

ip netns add "$A"
ip netns add "$B"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$A"
ip link set "$VB" netns "$B"
ip -n "$A" addr add 198.18.0.1/24 dev "$VA"
ip -n "$B" addr add 198.18.0.2/24 dev "$VB"
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
# Multicast on the veth link (the browsers' mDNS for their .local names
# stays between the two namespaces).
ip -n "$A" route add 224.0.0.0/4 dev "$VA"
ip -n "$B" route add 224.0.0.0/4 dev "$VB"

ip netns exec "$A" timeout 600 "$GATEWAY" --listen 0.0.0.0:8080 --media-ip "$MEDIA_IP" \
    --media-port "$MEDIA_PORT" >"$out/gateway.log" 2>&1 &
gw=$!
# Up when it answers from host B.
i=0
until ip netns exec "$B" timeout 2 python3 -c 'import urllib.request; urllib.request.urlopen("http://198.18.0.1:8080/sessions", timeout=1)' 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then echo "fulmar-gateway did not start:"; cat "$out/gateway.log"; exit 1; fi
    sleep 0.5
done

for browser in $BROWSERS; do
    ip netns exec "$B" timeout 150 python3 "$here/harness.py" "$browser" "http://198.18.0.1:8080" "$MEDIA_PORT" \
        >"$out/$browser.jsonl" 2>"$out/$browser.err" || true
done

# The gateway's sockets: its UDP ones are those whose inode is in A's
# /proc/net/udp and udp6 (the namespace's UDP sockets).
pid="$(ip netns exec "$A" sh -c "pgrep -P $gw -x fulmar-gateway || echo $gw")"
udp="$(ip netns exec "$A" python3 - "$pid" <<'PY'
import os, sys
pid = sys.argv[1]
held = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if link.startswith("socket:["):
        held.add(link[8:-1])
udp = set()
for f in ("/proc/net/udp", "/proc/net/udp6"):
    for line in open(f).read().splitlines()[1:]:
        udp.add(line.split()[9])
print(len(held & udp), len(held))
PY
)"
set -- $udp
python3 - "$out" "$BROWSERS" "$EXPECTED_CHECKS" "$1" "$2" <<'PY'
import json, os, sys
out, browsers, udp, sockets = sys.argv[1], sys.argv[2].split(), int(sys.argv[4]), int(sys.argv[5])
# Checks each browser's run reports, plus the socket check.
per_browser = {"chromium": 5, "chromium-media": 7, "firefox": 12}
expected = int(sys.argv[3]) if sys.argv[3] else sum(per_browser.get(b, 0) for b in browsers) + 1
checks = []
for b in browsers:
    path = os.path.join(out, f"{b}.jsonl")
    got = [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
    if not got:
        err = open(os.path.join(out, f"{b}.err")).read()[-300:] if os.path.exists(os.path.join(out, f"{b}.err")) else ""
        got = [{"name": "harness ran", "pass": False, "detail": err}]
    checks += [dict(c, name=f"{b}: {c['name']}") for c in got]
checks.append({"name": "the gateway holds one UDP socket for every session", "pass": udp == 1,
               "detail": f"{udp} UDP sockets, {sockets} sockets in all"})
if len(checks) != expected:
    checks.append({"name": "expected number of checks", "pass": False, "detail": f"{len(checks)} reported, {expected} expected"})
width = max(len(c["name"]) for c in checks)
print("Fulmar on host A (media 0.0.0.0, one UDP port) x browsers on host B")
for c in checks:
    print(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['name']:<{width}}  {c.get('detail', '')}")
failed = [c for c in checks if not c["pass"]]
print(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
if failed:
    print("gateway log (last lines):")
    print("".join(open(os.path.join(out, "gateway.log")).readlines()[-15:]))
sys.exit(1 if failed else 0)
PY
