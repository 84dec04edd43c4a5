#!/usr/bin/env bash
# Before/after figures for a change to a hot path, measured in one session:
# each bench runs on REV (checked out in a temporary git worktree) and then on
# the working tree, back to back, sharing one target directory so only the
# Fulmar crates are rebuilt. Criterion prints the change of the second run
# against the first. Fulmar's rows only (the filter after the bench name).
#
#   benches/ab.sh REV [bench[:filter]...]
#   benches/ab.sh 304901a datachannel:fulmar echo fullstack:throughput/fulmar
#
# Logs go to $AB_OUT (default target/ab/<bench>-{before,after}.log).
set -euo pipefail
rev=${1:?usage: benches/ab.sh REV [bench[:filter]...]}
shift
here="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
out="${AB_OUT:-$CARGO_TARGET_DIR/ab}"
mkdir -p "$out"
before="$(mktemp -d)/before"
git -C "$here" worktree add -q --detach "$before" "$rev"
trap 'git -C "$here" worktree remove --force "$before"' EXIT
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(datachannel:fulmar fullstack:fulmar echo srtp:fulmar dtls:handshake/fulmar "memory:fulmar fulmar-peer")
for spec in "${benches[@]}"; do
  name=${spec%%:*}
  filter=""
  [ "$name" != "$spec" ] && filter=${spec#*:}
  for side in before after; do
    dir="$here"
    [ $side = before ] && dir="$before/benches"
    echo "== $name ($side) $(date +%T)"
    # shellcheck disable=SC2086
    (cd "$dir" && ECHO_CPU_ONLY=1 timeout 1800 cargo bench -q --bench "$name" -- $filter) \
      > "$out/$name-$side.log" 2>&1 || echo "!! $name ($side) failed, see $out/$name-$side.log"
    grep -a -E "thrpt:|time:|CPU per packet|per peer connection|^\| fulmar" "$out/$name-$side.log" | grep -av '%\]' || true
  done
done
