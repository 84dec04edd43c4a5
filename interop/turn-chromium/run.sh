#!/bin/sh
# Chromium relayed through fulmar-turnd to a Fulmar peer (issue #9), loopback
# only, inside a private network namespace: headless Chromium with
# iceTransportPolicy "relay" and fulmar-turnd as its only ICE server (UDP with
# long-term and with time-limited credentials, TCP, TLS) connects to the
# interop-chromium example and data flows; the fake camera's video goes
# through the relay and Fulmar's echo of it is decoded; both sides relay-only,
# Fulmar's own relay allocated over UDP, TCP and TLS; a wrong password yields
# no relay candidate; turnd's metrics count the allocations and relayed bytes.
# fulmar-turnd runs with a config that allows loopback peers. Prints a
# pass/fail table (interop/chromium/harness.py) and exits non-zero on failure,
# also when the page reports another number of checks than EXPECTED_CHECKS (30).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

if ! command -v chromium >/dev/null 2>&1 || ! command -v certutil >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium libnss3-tools
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# BIN=<dir with fulmar-turnd and examples/interop-chromium> skips the build.
if [ -z "${BIN:-}" ]; then
    cargo build -q --release -p fulmar-turnd --bins
    cargo build -q --release -p fulmar-examples --example interop-chromium
    BIN="$CARGO_TARGET_DIR/release"
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# A CA and a certificate for "localhost" (TURN over TLS).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=Fulmar interop CA" -keyout "$WORK/ca.key" -out "$WORK/ca.pem" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
    -keyout "$WORK/key.pem" -out "$WORK/csr.pem" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$WORK/ext.cnf"
openssl x509 -req -in "$WORK/csr.pem" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
    -days 1 -extfile "$WORK/ext.cnf" -out "$WORK/cert.pem" >/dev/null 2>&1

# Chromium trusts the CA through its NSS database under $HOME (a fresh one):
# certificate verification stays on for TURN over TLS.
mkdir -p "$WORK/home/.pki/nssdb"
certutil -N -d "sql:$WORK/home/.pki/nssdb" --empty-password
certutil -A -d "sql:$WORK/home/.pki/nssdb" -n "Fulmar interop CA" -t "C,," -i "$WORK/ca.pem"

TURN_SECRET=interop-secret
cat > "$WORK/turnd.toml" <<CONF
realm = "fulmar.test"
listen_udp = ["127.0.0.1:3478"]
listen_tcp = ["127.0.0.1:3478"]
listen_tls = ["127.0.0.1:5349"]
tls_cert = "$WORK/cert.pem"
tls_key = "$WORK/key.pem"
relay_ip = "127.0.0.1"
metrics = "127.0.0.1:9641"
auth_secret = "$TURN_SECRET"
[users]
alice = "secret"
[peer_policy]
allow_loopback = true
CONF

# interop-chromium's "relay*" sessions allocate on fulmar-turnd themselves:
# over UDP, or over TCP and TLS ("relay-tcp*", "relay-tls*" sessions).
export FULMAR_TURN="127.0.0.1:3478 alice secret"
export FULMAR_TURN_TCP="turn:127.0.0.1:3478?transport=tcp"
export FULMAR_TURN_TLS="turns:localhost:5349?transport=tcp"
export FULMAR_TURN_CA="$WORK/ca.pem"
export EXPECTED_CHECKS="${EXPECTED_CHECKS:-30}"
export BIN WORK TURN_SECRET TURN_METRICS=http://127.0.0.1:9641/metrics
unshare -n sh -c '
ip link set lo up
RUST_LOG=info timeout 150 "$BIN/fulmar-turnd" --config "$WORK/turnd.toml" >"$WORK/turnd.log" 2>&1 &
TURND=$!
sleep 0.5
HOME="$WORK/home" timeout 140 python3 interop/chromium/harness.py interop/turn-chromium/turn.html \
    "interop=$BIN/examples/interop-chromium@127.0.0.1:8082"
rc=$?
kill $TURND 2>/dev/null; wait $TURND 2>/dev/null
[ $rc -eq 0 ] || { echo "--- turnd log (tail)"; tail -20 "$WORK/turnd.log"; }
exit $rc'
