#!/bin/sh
# The stock socket.io-client (npm, v4; Node.js) against fulmar-signal, loopback
# only, inside a private network namespace: join, presence, offer/answer/
# candidate relay, broadcast, errors by acknowledgement, ping and leave, over
# the WebSocket transport and HTTP long-polling (client.js). Exits non-zero on
# any failure, or when another number of checks than EXPECTED_CHECKS (11)
# ran.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
fi
modules="${TMPDIR:-/tmp}/fulmar-socketio-client"
if [ ! -d "$modules/node_modules/socket.io-client" ]; then
    mkdir -p "$modules"
    (cd "$modules" && timeout 300 npm install --silent --no-audit --no-fund socket.io-client@4)
fi
cargo build -q --release -p fulmar-signal
export SIGNAL="${CARGO_TARGET_DIR:-$PWD/target}/release/fulmar-signal"
export NODE_PATH="$modules/node_modules" EXPECTED_CHECKS="${EXPECTED_CHECKS:-11}" CLIENT="$here/client.js"
exec unshare -n sh -c '
    ip link set lo up
    timeout 60 "$SIGNAL" --open --listen 127.0.0.1:8443 >"${TMPDIR:-/tmp}/fulmar-socketio-server.log" 2>&1 &
    server=$!
    sleep 0.5
    status=0
    timeout 60 node "$CLIENT" http://127.0.0.1:8443 || status=$?
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    exit $status'
