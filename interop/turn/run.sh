#!/bin/sh
# TURN interop on loopback, inside a network namespace that has only `lo`:
#  1. Fulmar's TURN client (turn-probe over fulmar-turn) allocates and relays
#     through coturn over UDP, TCP and TLS (Send indications, then ChannelData).
#  2. coturn's turnutils_uclient allocates and relays through fulmar-turnd
#     over UDP, TCP and TLS (client-to-client mode, -y): every one of its
#     20 x 2 messages must be counted as received (tot_recv_msgs), none lost.
#  3. turn-probe against fulmar-turnd over UDP, TCP and TLS.
# Fails on any failed check, and unless exactly EXPECTED_CHECKS (11) passed.
# Every process is bounded by `timeout` and ended by its PID.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

if ! command -v turnserver >/dev/null 2>&1 || ! command -v turnutils_uclient >/dev/null 2>&1; then
    apt-get update >/dev/null && apt-get install -y coturn >/dev/null
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cargo build --release -q -p fulmar-turnd --bins
BIN="$CARGO_TARGET_DIR/release"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/turnd.toml" <<CONF
realm = "fulmar.test"
listen_udp = ["127.0.0.1:3479"]
listen_tcp = ["127.0.0.1:3479"]
listen_tls = ["127.0.0.1:5350"]
relay_ip = "127.0.0.1"
metrics = "127.0.0.1:9641"
[users]
alice = "secret"
[peer_policy]
allow_loopback = true
CONF

cat > "$WORK/inner.sh" <<'INNER'
set -u
ip link set lo up
BIN=$1; WORK=$2
fail=0
passed=0
EXPECTED_CHECKS=11
check() { if [ "$1" -eq 0 ]; then echo "PASS: $2"; passed=$((passed + 1)); else echo "FAIL: $2"; fail=1; fi; }
# turnutils_uclient's totals: every message it sent (-n 20 -m 2: 40) came back
# through the relay, and none was lost.
relayed() {
    totals=$(grep -o "tot_send_msgs=[0-9]*, tot_recv_msgs=[0-9]*$" "$1" | tail -n 1)
    echo "   $totals"
    [ "$totals" = "tot_send_msgs=40, tot_recv_msgs=40" ] && grep -q "Total lost packets 0 " "$1"
}

# --- coturn as the server ---
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=localhost -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1
timeout 60 turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port=3478 \
    --tls-listening-port=5349 --cert="$WORK/cert.pem" --pkey="$WORK/key.pem" \
    --lt-cred-mech --user=alice:secret --realm=fulmar.test --no-dtls \
    --allow-loopback-peers --cli-password=x --log-file=stdout >"$WORK/coturn.log" 2>&1 &
COTURN=$!
sleep 1
timeout 30 "$BIN/turn-probe" --server 127.0.0.1:3478 >"$WORK/probe-coturn-udp.log" 2>&1
check $? "fulmar client -> coturn over UDP"
timeout 30 "$BIN/turn-probe" --server 127.0.0.1:3478 --tcp >"$WORK/probe-coturn-tcp.log" 2>&1
check $? "fulmar client -> coturn over TCP"
timeout 30 "$BIN/turn-probe" --server 127.0.0.1:5349 --tls >"$WORK/probe-coturn-tls.log" 2>&1
check $? "fulmar client -> coturn over TLS"
kill "$COTURN" 2>/dev/null; wait "$COTURN" 2>/dev/null

# --- fulmar-turnd as the server ---
RUST_LOG=info timeout 60 "$BIN/fulmar-turnd" --config "$WORK/turnd.toml" >"$WORK/turnd.log" 2>&1 &
TURND=$!
sleep 1
timeout 30 turnutils_uclient -c -u alice -w secret -p 3479 -y -n 20 -m 2 127.0.0.1 >"$WORK/uclient-udp.log" 2>&1
relayed "$WORK/uclient-udp.log"
check $? "coturn turnutils_uclient -> fulmar-turnd over UDP"
timeout 30 turnutils_uclient -c -t -u alice -w secret -p 3479 -y -n 20 -m 2 127.0.0.1 >"$WORK/uclient-tcp.log" 2>&1
relayed "$WORK/uclient-tcp.log"
check $? "coturn turnutils_uclient -> fulmar-turnd over TCP"
timeout 30 turnutils_uclient -c -t -S -u alice -w secret -p 5350 -y -n 20 -m 2 127.0.0.1 >"$WORK/uclient-tls.log" 2>&1
relayed "$WORK/uclient-tls.log"
check $? "coturn turnutils_uclient -> fulmar-turnd over TLS"
timeout 30 "$BIN/turn-probe" --server 127.0.0.1:3479 >"$WORK/probe-turnd-udp.log" 2>&1
check $? "fulmar client -> fulmar-turnd over UDP"
timeout 30 "$BIN/turn-probe" --server 127.0.0.1:3479 --tcp >"$WORK/probe-turnd-tcp.log" 2>&1
check $? "fulmar client -> fulmar-turnd over TCP"
timeout 30 "$BIN/turn-probe" --server 127.0.0.1:5350 --tls >"$WORK/probe-turnd-tls.log" 2>&1
check $? "fulmar client -> fulmar-turnd over TLS"
# Metrics are served and count the relayed packets.
sleep 1.5
timeout 5 python3 -c 'import urllib.request;print(urllib.request.urlopen("http://127.0.0.1:9641/metrics").read().decode())' >"$WORK/metrics.txt" 2>&1
grep -q "^fulmar_turn_packets_to_peer_total [1-9]" "$WORK/metrics.txt"
check $? "fulmar-turnd metrics"
kill -TERM "$TURND" 2>/dev/null; wait "$TURND" 2>/dev/null
grep -q "stopped" "$WORK/turnd.log"
check $? "fulmar-turnd graceful shutdown on SIGTERM"

if [ "$passed" -ne "$EXPECTED_CHECKS" ]; then
    echo "FAIL: $passed checks passed, $EXPECTED_CHECKS expected"; fail=1
fi
[ -n "${TURN_INTEROP_LOGS:-}" ] && cp "$WORK"/*.log "$WORK"/metrics.txt "$TURN_INTEROP_LOGS"/ 2>/dev/null
if [ "$fail" -ne 0 ]; then
    for f in "$WORK"/*.log; do echo "=== $f"; tail -25 "$f"; done
fi
exit $fail
INNER

# Set TURN_INTEROP_LOGS=<dir> to keep the logs.
unshare -n env TURN_INTEROP_LOGS="${TURN_INTEROP_LOGS:-}" sh "$WORK/inner.sh" "$BIN" "$WORK"
