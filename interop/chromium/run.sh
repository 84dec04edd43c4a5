#!/bin/sh
# Fulmar data channels against headless Chromium (Debian's chromium), loopback
# only, inside a private network namespace. harness.py starts the Fulmar
# datachannel-echo and datachannel-offer examples, serves test.html and
# launches Chromium at it. Scenarios: Chromium offering (non-trickle) with
# strings, binary, empty and 256 KiB messages, unordered maxRetransmits 0,
# 50 channels, a close, 100 MiB each way with a checksum; Fulmar offering
# (a channel of its own, a negotiated one) while Chromium trickles, closes
# from Fulmar's side; a page reload that reconnects. Against the
# interop-chromium example (named sessions that renegotiate): Chromium
# offers and trickles; Fulmar trickles its own candidates (next_local_candidate)
# as answerer and as offerer; ICE restarts by Chromium and by Fulmar in the
# middle of a reliable transfer (no message lost, the new credentials used by
# both sides); channels opened and closed from each side as both sides see
# it; the connection closed from Chromium as Fulmar sees it.
# Prints a pass/fail table and exits non-zero on any failure.
# PAGE_QUERY='?only=restart,lifecycle' runs only some scenarios; a full run
# must report exactly EXPECTED_CHECKS checks (58).
set -eu
cd "$(dirname "$0")/../.."

if ! command -v chromium >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi
if [ -z "${ECHO_PEER:-}" ]; then
    cargo build -q --release -p fulmar-examples --example datachannel-echo --example datachannel-offer --example interop-chromium
    ECHO_PEER="${CARGO_TARGET_DIR:-$PWD/target}/release/examples/datachannel-echo"
fi
OFFER_PEER="${OFFER_PEER:-$(dirname "$ECHO_PEER")/datachannel-offer}"
INTEROP_PEER="${INTEROP_PEER:-$(dirname "$ECHO_PEER")/interop-chromium}"
EXPECTED_CHECKS="${EXPECTED_CHECKS:-58}"
export ECHO_PEER OFFER_PEER INTEROP_PEER EXPECTED_CHECKS
exec unshare -n sh -c 'ip link set lo up; exec timeout 180 python3 interop/chromium/harness.py interop/chromium/test.html \
    "echo=$ECHO_PEER@127.0.0.1:8080" "offer=$OFFER_PEER@127.0.0.1:8081" "interop=$INTEROP_PEER@127.0.0.1:8082"'
