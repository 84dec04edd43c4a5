#!/bin/sh
# fulmar-signal's demo page in two headless Chromium instances (Debian's
# chromium, fake camera and microphone), plus Fulmar's echo bot, all in one
# room, loopback only, inside a private network namespace. harness.py checks
# that the browsers call each other (video decoded both ways, chat both
# ways), that each calls the bot (its own video echoed back and decoded,
# chat echoed), and that a browser whose signaling WebSocket is cut resumes
# without the call dropping. Exits non-zero on any failure, or when the run
# reports another number of checks than EXPECTED_CHECKS (11).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
cargo build -q --release -p fulmar-signal -p fulmar-signal-client --bin fulmar-signal --example bot
target="${CARGO_TARGET_DIR:-$PWD/target}/release"
export SIGNAL="$target/fulmar-signal" BOT="$target/examples/bot"
export EXPECTED_CHECKS="${EXPECTED_CHECKS:-11}"
export HARNESS="$here/harness.py"
exec unshare -n sh -c 'ip link set lo up; exec timeout 180 python3 "$HARNESS"'
