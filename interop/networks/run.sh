#!/bin/sh
# Fulmar on real networks (issue 18), inside network namespaces of its own,
# addresses from 198.18.0.0/15 only.
#
# 1. Interfaces: a namespace with loopback and two interfaces (the ends of
#    a veth pair: 198.18.1.1/24, 198.18.2.1/24); the ignored tests of
#    crates/fulmar/tests/interfaces.rs check that 0.0.0.0 / [::] binds gather
#    one host candidate per interface address (loopback only when asked) and
#    that two such peers connect; crates/fulmar/tests/ice_servers.rs checks
#    that a STUN URL whose host does not resolve is a clear error.
# Exits non-zero on any failure. Every step is bounded by `timeout`.
set -eu
cd "$(dirname "$0")/../.."

TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
bin() { # the test binary of crates/fulmar/tests/$1.rs
    cargo test -q -p fulmar --test "$1" --no-run --message-format=json 2>/dev/null \
        | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}
IFACES_TEST="$(bin interfaces)"
ICE_SERVERS_TEST="$(bin ice_servers)"
for b in "$IFACES_TEST" "$ICE_SERVERS_TEST"; do
    [ -x "$b" ] || { echo "FAIL: a test binary did not build"; exit 1; }
done
export IFACES_TEST ICE_SERVERS_TEST

status=0
if timeout 120 unshare -n sh -c '
set -eu
ip link set lo up
# A veth pair with both ends here stands for two interfaces (this kernel
# may have no dummy driver).
ip link add fa type veth peer name fb
ip addr add 198.18.1.1/24 dev fa
ip addr add 198.18.2.1/24 dev fb
ip link set fa up
ip link set fb up
FULMAR_NETNS_ADDRS=198.18.1.1,198.18.2.1 "$IFACES_TEST" --ignored --test-threads 1
# No route to any resolver here: an unresolvable STUN host is a clear error.
"$ICE_SERVERS_TEST" --ignored --exact unresolvable_host_is_a_clear_error
'; then
    echo "PASS interfaces: one host candidate per interface address, peers connect; unresolvable STUN host refused"
else
    echo "FAIL interfaces"; status=1
fi
exit $status
