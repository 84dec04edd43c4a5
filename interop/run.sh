#!/usr/bin/env bash
# Runs every interop suite (interop/*/run.sh) against real peers. Each suite
# installs its peer (Debian packages) when missing and runs inside a fresh
# network namespace that has only loopback. Usage: interop/run.sh [suite...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  for d in "$here"/*/; do [ -x "$d/run.sh" ] && suites+=("$(basename "$d")"); done
fi
passed=0
failed=0
for s in "${suites[@]}"; do
  echo "== interop: $s"
  if "$here/$s/run.sh"; then passed=$((passed + 1)); else echo "!! interop suite $s failed"; failed=$((failed + 1)); fi
done
echo "interop suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
