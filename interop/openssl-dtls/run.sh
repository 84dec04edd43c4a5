#!/usr/bin/env bash
# Interop of fulmar-dtls with openssl's DTLS 1.2 (Debian openssl), on loopback
# inside `unshare -n`: the Fulmar client against `openssl s_server` and
# `openssl s_client` against the Fulmar server, with ECDSA P-256 and RSA-2048
# certificates on the openssl side. Each run must complete the handshake,
# negotiate an SRTP profile, export the same keying material as openssl's
# `-keymatexport EXTRACTOR-dtls_srtp`, and carry application data both ways.
# Set DTLS_PEER_BIN to use a prebuilt crates/dtls/examples/dtls-peer.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! command -v openssl >/dev/null; then
  echo "installing openssl"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi
if ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq util-linux iproute2 >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -n "${DTLS_PEER_BIN:-}" ]; then
  cp "$DTLS_PEER_BIN" "$work/dtls-peer"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
  (cd "$root" && timeout 900 cargo build --quiet --release -p fulmar-dtls --example dtls-peer)
  cp "$CARGO_TARGET_DIR/release/examples/dtls-peer" "$work/dtls-peer"
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$work/ec.key" -out "$work/ec.pem" -subj /CN=openssl-ec -days 30 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes \
  -keyout "$work/rsa.key" -out "$work/rsa.pem" -subj /CN=openssl-rsa -days 30 2>/dev/null

timeout 300 unshare -n sh -c '(ip link set lo up 2>/dev/null || true); exec bash "$0" "$1"' \
  "$here/check.sh" "$work"
