#!/bin/sh
# Fulmar data channels against headless Chromium (Debian's chromium), loopback
# only, inside a private network namespace. harness.py starts the Fulmar
# datachannel-echo and datachannel-offer examples, serves test.html and
# launches Chromium at it. Scenarios: Chromium offering (non-trickle) with
# strings, binary, empty and 256 KiB messages, unordered maxRetransmits 0,
# 50 channels, a close, 100 MiB each way with a checksum; Fulmar offering
# (a channel of its own, a negotiated one) while Chromium trickles, closes
# from Fulmar's side; a page reload that reconnects. Prints a pass/fail table
# and exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
if [ -z "${ECHO_PEER:-}" ]; then
    cargo build -q --release --example datachannel-echo --example datachannel-offer
    ECHO_PEER="${CARGO_TARGET_DIR:-$PWD/target}/release/examples/datachannel-echo"
fi
OFFER_PEER="${OFFER_PEER:-$(dirname "$ECHO_PEER")/datachannel-offer}"
export ECHO_PEER OFFER_PEER
exec unshare -n sh -c 'ip link set lo up; exec timeout 180 python3 interop/chromium/harness.py "$ECHO_PEER" "$OFFER_PEER"'
