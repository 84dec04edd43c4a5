#!/bin/sh
# fulmar-signal nodes sharing rooms through a real Redis (Debian's
# redis-server on a loopback port, no persistence), inside a private network
# namespace: the ignored tests of crates/signal/tests/redis.rs, run with
# --ignored (cross-node join, presence, relay, broadcast, the room cap
# across nodes, resume on another node exactly once, and a killed node's
# peers leaving within the TTL while its clients resume elsewhere). Exits
# non-zero on any failure.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server
fi
# Built outside the namespace (cargo may fetch); run offline inside it.
cargo test -q -p fulmar-signal --test redis --lib --no-run
export REDIS_PORT="${REDIS_PORT:-6391}"
exec unshare -n sh -c '
    ip link set lo up
    log="${TMPDIR:-/tmp}/fulmar-signal-redis-server.log"
    timeout 300 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$log" 2>&1 &
    redis=$!
    tries=0
    until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then echo "redis-server did not start:"; cat "$log"; kill "$redis" 2>/dev/null || true; exit 1; fi
        sleep 0.1
    done
    status=0
    FULMAR_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" timeout 240 \
        cargo test --offline -q -p fulmar-signal --test redis -- --ignored || status=$?
    FULMAR_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" timeout 240 \
        cargo test --offline -q -p fulmar-signal --lib -- --ignored cluster::tests || status=$?
    kill "$redis" 2>/dev/null || true
    wait "$redis" 2>/dev/null || true
    exit $status'
