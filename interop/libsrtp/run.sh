#!/usr/bin/env bash
# Cross-checks fulmar-srtp against libsrtp (Debian libsrtp2-dev) for every
# protection profile, SRTP and SRTCP: both protect the same packets with the
# same master key and must produce the same bytes; each unprotects what the
# other protected; both reject tampered and replayed packets.
# No network is involved; the checks run inside `unshare -n` anyway.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ ! -f /usr/include/srtp2/srtp.h ] || ! command -v cc >/dev/null; then
  echo "installing libsrtp2-dev"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsrtp2-dev gcc >/dev/null
fi
if ! command -v unshare >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq util-linux >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cc -O2 -Wall -Wextra -o "$work/libsrtp-harness" "$here/harness.c" -lsrtp2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && timeout 900 cargo build --quiet --release -p fulmar-srtp --example srtp-tool)
cp "$CARGO_TARGET_DIR/release/examples/srtp-tool" "$work/srtp-tool"

timeout 300 unshare -n sh -c '(ip link set lo up 2>/dev/null || true); exec bash "$0" "$1"' \
  "$here/check.sh" "$work"
