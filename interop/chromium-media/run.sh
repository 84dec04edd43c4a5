#!/bin/sh
# fulmar-gateway media against headless Chromium (Debian's chromium) with its
# fake camera and microphone, loopback only, inside a private network
# namespace. harness.py starts the gateway, serves test.html from another
# origin (CORS for real) and checks: WHIP publish with fetch() as VP8 then
# H.264 (offer restricted), with Opus, recorded files decoding without error
# (ffprobe/ffmpeg); WHEP playback of the sample VP8/Opus clips (framesDecoded
# > 50, audio samples); echo through POST /offer (>= 120 frames decoded in
# 5 s, no freeze > 1 s, chat echoed), again through a 5%-each-way lossy UDP
# relay (observed drop rate 3-7% each way; Chromium's stats must show NACKs
# sent and retransmitted packets received); renegotiation (tracks added after
# connect by Chromium and by Fulmar, a transceiver stopped); the demo page
# itself. Prints a pass/fail table and exits non-zero on any failure, or when
# the run reports another number of checks than EXPECTED_CHECKS (39).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

if ! command -v chromium >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium ffmpeg
fi
if [ -z "${GATEWAY:-}" ]; then
    cargo build -q --release -p fulmar-gateway
    GATEWAY="${CARGO_TARGET_DIR:-$PWD/target}/release/fulmar-gateway"
fi
export EXPECTED_CHECKS="${EXPECTED_CHECKS:-39}"
export GATEWAY HARNESS="$here/harness.py"
exec unshare -n sh -c 'ip link set lo up; exec timeout 240 python3 "$HARNESS" "$GATEWAY"'
