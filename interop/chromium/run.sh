#!/bin/sh
# Fulmar data channels against headless Chromium (Debian's chromium), loopback
# only, inside a private network namespace. harness.py starts the Fulmar
# datachannel-echo example, serves test.html (the scenarios: strings, binary,
# empty, 256 KiB, unordered with maxRetransmits 0, 50 channels, close, an
# 8 MiB checksummed transfer; then Fulmar offering with a negotiated channel
# while Chromium trickles, closes from either side, a page reload), launches Chromium at it and prints a pass/fail
# table. Exits non-zero on any failure.
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
