#!/bin/sh
# fulmar-stun against coturn (Debian coturn 4.6), loopback only, inside a
# private network namespace:
#   1. fulmar's client (examples/stun-probe --query) asks coturn's turnserver
#      for a Binding, then allocates a TURN relay with long-term credentials
#      (401 challenge, MESSAGE-INTEGRITY with the MD5 key, verified response)
#      and releases it;
#   2. coturn's turnutils_stunclient asks fulmar's Binding responder
#      (examples/stun-probe --serve).
# Exits non-zero on any failure.
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
timeout 60 turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port=3478 \
    --lt-cred-mech --user=alice:secret --realm=fulmar.test --no-tls --no-dtls \
    --allow-loopback-peers --cli-password=x --no-cli --log-file=stdout >"$LOG/turnserver.log" 2>&1 &
TS=$!
timeout 60 "$PROBE" --serve 127.0.0.1:3479 >"$LOG/responder.log" 2>&1 &
SV=$!
sleep 1

status=0
echo "== fulmar client -> coturn turnserver"
if timeout 20 "$PROBE" --query 127.0.0.1:3478 --turn alice:secret; then
    echo "PASS fulmar client vs coturn"
else
    echo "FAIL fulmar client vs coturn"; status=1
fi

echo "== coturn turnutils_stunclient -> fulmar responder"
if timeout 20 turnutils_stunclient -p 3479 127.0.0.1 >"$LOG/stunclient.log" 2>&1 \
    && grep -q "127.0.0.1" "$LOG/stunclient.log"; then
    grep -i "addr" "$LOG/stunclient.log" | head -5
    echo "PASS coturn client vs fulmar responder"
else
    cat "$LOG/stunclient.log"
    echo "FAIL coturn client vs fulmar responder"; status=1
fi

kill "$SV" "$TS" 2>/dev/null || true
wait "$SV" "$TS" 2>/dev/null || true
exit $status
'
