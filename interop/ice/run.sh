#!/bin/sh
# fulmar-ice against libnice (Debian libnice-dev 0.1.21, the ICE agent of
# Janus and GStreamer), loopback only, inside a private network namespace.
#
# nice-peer.c is a small libnice agent (nice_agent_attach_recv on a GLib main
# loop) and examples/ice-peer.rs a fulmar-ice agent on a UDP socket; they
# exchange ufrag/pwd and candidates as lines over two FIFOs (trickle-style:
# CRED, CAND a=candidate:..., DONE), connect, and each sends one datagram over
# its selected pair. Each run passes when both sides selected a pair and got
# the other's datagram. Runs: libnice controlling / fulmar controlled, the
# reverse, and both role conflicts (both controlling, both controlled). It
# also runs examples/stun-server --self-test (two fulmar-ice agents gathering
# through fulmar's STUN server and connecting over real sockets).
# Exits non-zero on any failure, and unless exactly EXPECTED_CHECKS (5) passed.
set -eu
cd "$(dirname "$0")/../.."

if ! pkg-config --exists nice 2>/dev/null; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y libnice-dev pkg-config
fi

WORK="$(mktemp -d)"
cc -O1 -o "$WORK/nice-peer" interop/ice/nice-peer.c $(pkg-config --cflags --libs nice)
if [ -z "${ICE_PEER:-}" ]; then
    cargo build -q --example ice-peer --example stun-server
    ICE_PEER="${CARGO_TARGET_DIR:-$PWD/target}/debug/examples/ice-peer"
fi
STUN_SERVER="${STUN_SERVER:-$(dirname "$ICE_PEER")/stun-server}"
export WORK ICE_PEER STUN_SERVER

status=0
unshare -n sh -c '
set -u
ip link set lo up
status=0
passed=0
EXPECTED_CHECKS=5
# The stun-server example: two fulmar-ice agents gather through it and connect.
if timeout 20 "$STUN_SERVER" --self-test >"$WORK/stun-server.log" 2>&1; then
    echo "PASS stun-server self-test: $(tail -n 1 "$WORK/stun-server.log")"; passed=$((passed + 1))
else
    echo "FAIL stun-server self-test"; cat "$WORK/stun-server.log"; status=1
fi
for roles in "controlling controlled" "controlled controlling" "controlling controlling" "controlled controlled"; do
    set -- $roles
    d="$WORK/$1-$2"
    mkdir -p "$d"
    mkfifo "$d/to_nice" "$d/to_fulmar"
    ( timeout 25 "$WORK/nice-peer" "$1" <"$d/to_nice" 2>"$d/nice.err"; echo $? >"$d/nice.rc" ) \
        | tee "$d/nice.out" >"$d/to_fulmar" &
    ( timeout 25 "$ICE_PEER" "$2" <"$d/to_fulmar" 2>"$d/fulmar.err"; echo $? >"$d/fulmar.rc" ) \
        | tee "$d/fulmar.out" >"$d/to_nice"
    wait
    nrc=$(cat "$d/nice.rc"); frc=$(cat "$d/fulmar.rc")
    if [ "$nrc" = 0 ] && [ "$frc" = 0 ] \
        && grep -q "RECV hello from fulmar" "$d/nice.out" \
        && grep -q "RECV hello from libnice" "$d/fulmar.err"; then
        echo "PASS libnice $1 / fulmar $2: $(grep "selected pair stats" "$d/fulmar.err" | sed "s/ice-peer: //")"
        passed=$((passed + 1))
    else
        echo "FAIL libnice $1 (exit $nrc) / fulmar $2 (exit $frc)"
        echo "--- libnice"; cat "$d/nice.out" "$d/nice.err"
        echo "--- fulmar"; cat "$d/fulmar.out" "$d/fulmar.err"
        status=1
    fi
done
if [ "$passed" -ne "$EXPECTED_CHECKS" ]; then
    echo "FAIL $passed checks passed, $EXPECTED_CHECKS expected"; status=1
fi
exit $status
' || status=$?
rm -rf "$WORK"
exit $status
