#!/bin/sh
# fulmar-stun against coturn (Debian coturn 4.6), loopback only, inside a
# private network namespace:
#   1. fulmar's client (examples/stun-probe --query) asks coturn's turnserver
#      for a Binding, then allocates a TURN relay with long-term credentials
#      (401 challenge, MESSAGE-INTEGRITY with the MD5 key, verified response)
#      and releases it; the mapped address it reports must be its own socket's;
#   2. coturn's turnutils_stunclient asks fulmar's Binding responder
#      (examples/stun-probe --serve); the reflexive address it reports must be
#      its own socket's.
# The namespace's ephemeral port range is the one port CLIENT_PORT, so each
# client's socket (bound to 127.0.0.1:0) is 127.0.0.1:CLIENT_PORT: a mapped
# address with another port or address is a failure. (The servers bind fixed
# ports.) Exits non-zero on any failure, or unless exactly EXPECTED_CHECKS (4)
# checks passed.
set -eu
cd "$(dirname "$0")/../.."

if ! command -v turnserver >/dev/null 2>&1 || ! command -v turnutils_stunclient >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y coturn
fi

if [ -z "${PROBE:-}" ]; then
    cargo build -q --example stun-probe
    PROBE="${CARGO_TARGET_DIR:-$PWD/target}/debug/examples/stun-probe"
fi
LOG="$(mktemp -d)"
export PROBE LOG

unshare -n sh -c '
set -u
ip link set lo up
CLIENT_PORT=40000
EXPECTED_CHECKS=4
sysctl -qw net.ipv4.ip_local_port_range="$CLIENT_PORT $CLIENT_PORT"
timeout 60 turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port=3478 \
    --lt-cred-mech --user=alice:secret --realm=fulmar.test --no-tls --no-dtls \
    --allow-loopback-peers --cli-password=x --no-cli --log-file=stdout >"$LOG/turnserver.log" 2>&1 &
TS=$!
timeout 60 "$PROBE" --serve 127.0.0.1:3479 >"$LOG/responder.log" 2>&1 &
SV=$!
sleep 1

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }

echo "== fulmar client -> coturn turnserver"
if timeout 20 "$PROBE" --query 127.0.0.1:3478 --turn alice:secret >"$LOG/probe.log" 2>&1; then
    cat "$LOG/probe.log"
    pass "fulmar client vs coturn"
else
    cat "$LOG/probe.log"
    fail "fulmar client vs coturn"
fi
mapped=$(sed -n "s/.*mapped address (XOR-MAPPED-ADDRESS): //p" "$LOG/probe.log")
if [ "$mapped" = "127.0.0.1:$CLIENT_PORT" ]; then
    pass "fulmar client: mapped address $mapped is its socket 127.0.0.1:$CLIENT_PORT"
else
    fail "fulmar client: mapped address \"$mapped\" is not its socket 127.0.0.1:$CLIENT_PORT"
fi

echo "== coturn turnutils_stunclient -> fulmar responder"
if timeout 20 turnutils_stunclient -p 3479 127.0.0.1 >"$LOG/stunclient.log" 2>&1; then
    grep -i "addr" "$LOG/stunclient.log" | head -5
    pass "coturn client vs fulmar responder"
else
    cat "$LOG/stunclient.log"
    fail "coturn client vs fulmar responder"
fi
reflexive=$(sed -n "s/.*UDP reflexive addr: //p" "$LOG/stunclient.log" | sort -u)
if [ "$reflexive" = "127.0.0.1:$CLIENT_PORT" ]; then
    pass "coturn client: reflexive address $reflexive from fulmar is its socket 127.0.0.1:$CLIENT_PORT"
else
    fail "coturn client: reflexive address \"$reflexive\" from fulmar is not its socket 127.0.0.1:$CLIENT_PORT"
fi

kill "$SV" "$TS" 2>/dev/null || true
wait "$SV" "$TS" 2>/dev/null || true
if [ "$passed" -ne "$EXPECTED_CHECKS" ]; then
    fail "$passed checks passed, $EXPECTED_CHECKS expected"
fi
echo "interop/stun: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
'
