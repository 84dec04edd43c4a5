#!/bin/sh
# fulmar-signal scaled out: two nodes sharing one Redis (Debian's
# redis-server, loopback, no persistence), the demo page in two headless
# Chromium instances, one per node, and Fulmar's echo bot, in one room,
# inside a private network namespace (one namespace on loopback, not the
# two-host recipe). interop/signal/harness.py with MODE=failover checks
# that the browsers call each other across the nodes (video decoded both
# ways, chat both ways) and each calls the bot, then kills browser B's node
# with SIGKILL mid-call: B's page resumes its session on the other node
# (the page's ?signal= list) while the calls go on, and no one sees B
# leave. Exits non-zero on any failure, or when another number of checks
# than EXPECTED_CHECKS (11) ran.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium redis-server
fi
cargo build -q --release -p fulmar-signal -p fulmar-signal-client --bin fulmar-signal --example bot
target="${CARGO_TARGET_DIR:-$PWD/target}/release"
export SIGNAL="$target/fulmar-signal" BOT="$target/examples/bot" MODE=failover
export EXPECTED_CHECKS="${EXPECTED_CHECKS:-11}"
export HARNESS="$here/../signal/harness.py"
exec unshare -n sh -c 'ip link set lo up; exec timeout 240 python3 "$HARNESS"'
