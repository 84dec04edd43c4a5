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
# 2. Server-reflexive candidates across a NAT, two hosts: host A
#    (198.18.0.1) runs fulmar-turnd (STUN on 3478) and a Fulmar server; a
#    NAT namespace (nftables masquerade; 198.18.0.2 towards A, 198.19.0.1
#    towards B) routes host B (198.19.0.2), whose Fulmar client learns its
#    srflx address 198.18.0.2 from the STUN server, offers it, connects to
#    the server and gets a data-channel message echoed
#    (crates/fulmar/tests/two_hosts.rs). Installs nftables if missing.
# 3. A server in a "VM" namespace (198.19.1.2) behind a static 1:1 NAT
#    (the NAT namespace maps 198.18.0.3 to it, nftables dnat/snat) advertises
#    198.18.0.3 (Config::with_public_address); a client on host A reaches it.
# 4. The same, the server learning 198.18.0.3 from fulmar-turnd's STUN
#    (fulmar::public_address_from_stun).
# Exits non-zero on any failure, and unless exactly 4 checks passed. Every step is bounded by `timeout`; the
# namespaces (fulmar-net-a, -nat, -b, -vm) are deleted by name at the end
# (KEEP_WORK=1 keeps the logs' folder).
set -eu
cd "$(dirname "$0")/../.."

TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
bin() { # the test binary of crates/fulmar/tests/$1.rs
    cargo test -q -p fulmar --test "$1" --no-run --message-format=json 2>/dev/null \
        | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1
}
if ! command -v nft >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables >/dev/null
fi
cargo build -q -p fulmar-turnd
TURND="$TARGET/debug/fulmar-turnd"
IFACES_TEST="$(bin interfaces)"
ICE_SERVERS_TEST="$(bin ice_servers)"
TWO_HOSTS_TEST="$(bin two_hosts)"
for b in "$IFACES_TEST" "$ICE_SERVERS_TEST" "$TWO_HOSTS_TEST" "$TURND"; do
    [ -x "$b" ] || { echo "FAIL: a test binary did not build"; exit 1; }
done
export IFACES_TEST ICE_SERVERS_TEST

status=0
passed=0
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
    passed=$((passed + 1))
else
    echo "FAIL interfaces"; status=1
fi

# --- 2. two hosts and a NAT ---
A=fulmar-net-a; R=fulmar-net-nat; B=fulmar-net-b; V=fulmar-net-vm
WORK="$(mktemp -d)"
cleanup() {
    for p in $(cat "$WORK"/*.pid 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    for n in $A $R $B $V; do ip netns del "$n" 2>/dev/null || true; done
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
for n in $A $R $B $V; do ip netns del "$n" 2>/dev/null || true; ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add fnet-a type veth peer name fnet-ra
ip link add fnet-b type veth peer name fnet-rb
ip link set fnet-a netns $A; ip link set fnet-ra netns $R
ip link set fnet-b netns $B; ip link set fnet-rb netns $R
ip -n $A addr add 198.18.0.1/24 dev fnet-a
ip -n $R addr add 198.18.0.2/24 dev fnet-ra
ip -n $R addr add 198.19.0.1/24 dev fnet-rb
ip -n $B addr add 198.19.0.2/24 dev fnet-b
ip -n $A link set fnet-a up; ip -n $R link set fnet-ra up; ip -n $R link set fnet-rb up; ip -n $B link set fnet-b up
ip -n $B route add default via 198.19.0.1
ip netns exec $R sysctl -q -w net.ipv4.ip_forward=1
ip netns exec $R nft -f - <<'NFT'
table ip nat {
    chain post {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "fnet-ra" masquerade
    }
}
NFT
cat >"$WORK/turnd.toml" <<'TOML'
realm = "fulmar.test"
listen_udp = ["198.18.0.1:3478"]
relay_ip = "198.18.0.1"
[users]
fulmar = "test"
TOML
ip netns exec $A sh -c "exec timeout 90 '$TURND' --config '$WORK/turnd.toml'" >"$WORK/turnd.log" 2>&1 &
echo $! >"$WORK/turnd.pid"
# run_call NAME SERVER_NS "SERVER_ENV" CLIENT_NS "CLIENT_ENV" CLIENT_TEST:
# the server test in one namespace, the client test in another (retrying
# its connect until the server listens); PASS/FAIL with the client's lines.
run_call() {
    name=$1; sns=$2; senv=$3; cns=$4; cenv=$5; ctest=$6
    ip netns exec "$sns" env $senv timeout 90 "$TWO_HOSTS_TEST" --ignored --exact server \
        --nocapture >"$WORK/$name-server.log" 2>&1 &
    server=$!
    echo $server >"$WORK/$name-server.pid"
    ok=0
    for i in 1 2 3 4 5 6 7 8 9 10; do
        if ip netns exec "$cns" env $cenv timeout 90 "$TWO_HOSTS_TEST" --ignored --exact "$ctest" \
            --nocapture >"$WORK/$name-client.log" 2>&1; then ok=1; break; fi
        grep -q "Connection refused" "$WORK/$name-client.log" || break
        sleep 0.5
    done
    if [ $ok = 1 ] && wait $server; then
        echo "PASS $name: $(grep '^client: ' "$WORK/$name-client.log" | sed 's/client: //' | tr '\n' ';')"
        passed=$((passed + 1))
    else
        echo "FAIL $name"; echo "--- client"; cat "$WORK/$name-client.log"
        echo "--- server"; cat "$WORK/$name-server.log"; echo "--- turnd"; cat "$WORK/turnd.log"
        kill $server 2>/dev/null || true
        status=1
    fi
}
run_call "srflx across a NAT" $A "FULMAR_SIGNAL=198.18.0.1:7000" \
    $B "FULMAR_SIGNAL=198.18.0.1:7000 FULMAR_STUN=198.18.0.1:3478 FULMAR_EXPECT_SRFLX=198.18.0.2" client

# --- 3. a server behind a static 1:1 NAT advertising its public address ---
# Namespace V (the "VM", 198.19.1.2) behind the NAT namespace, which maps
# 198.18.0.3 to it both ways; the client on host A sees only 198.18.0.3.
ip link add fnet-v type veth peer name fnet-rv
ip link set fnet-v netns $V; ip link set fnet-rv netns $R
ip -n $V addr add 198.19.1.2/24 dev fnet-v
ip -n $R addr add 198.19.1.1/24 dev fnet-rv
ip -n $R addr add 198.18.0.3/24 dev fnet-ra
ip -n $V link set fnet-v up; ip -n $R link set fnet-rv up
ip -n $V route add default via 198.19.1.1
ip netns exec $R nft -f - <<'NFT'
table ip static {
    chain pre {
        type nat hook prerouting priority dstnat; policy accept;
        ip daddr 198.18.0.3 dnat to 198.19.1.2
    }
    chain post {
        type nat hook postrouting priority srcnat - 1; policy accept;
        ip saddr 198.19.1.2 snat to 198.18.0.3
    }
}
NFT
run_call "public address behind a 1:1 NAT" $V "FULMAR_SIGNAL=198.19.1.2:7000 FULMAR_PUBLIC=198.18.0.3" \
    $A "FULMAR_SIGNAL=198.18.0.3:7000 FULMAR_EXPECT_PUBLIC=198.18.0.3" client_of_public_server
# The same, the server learning its public address from fulmar-turnd's STUN.
run_call "public address learnt from STUN" $V "FULMAR_SIGNAL=198.19.1.2:7000 FULMAR_PUBLIC=stun:198.18.0.1:3478" \
    $A "FULMAR_SIGNAL=198.18.0.3:7000 FULMAR_EXPECT_PUBLIC=198.18.0.3" client_of_public_server

EXPECTED_CHECKS=4
echo "networks: $passed of $EXPECTED_CHECKS checks passed"
[ "$passed" = "$EXPECTED_CHECKS" ] || status=1
exit $status
