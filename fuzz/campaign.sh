#!/usr/bin/env bash
# Runs fuzz targets for a fixed time each, in parallel up to the cores, and
# prints a summary table (target, runs, exec/s, coverage, crashes).
#
#   fuzz/campaign.sh TIME [TARGETS...]          a recorded campaign
#   fuzz/campaign.sh --smoke TIME [TARGETS...]  CI's smoke run
#
# TIME is in seconds; no TARGETS means every file in fuzz/fuzz_targets.
# Each target starts from its checked-in corpus (fuzz/corpus/<target>). A
# campaign then merges what it found into that corpus, keeping only inputs
# that add edges (libFuzzer's -merge=1, what `cargo fuzz cmin` runs, with
# -use_counters=0 so that hit counts alone do not keep an input), so the
# named seeds stay and the new entries are few. A smoke run leaves
# the corpus untouched. Either fails if any target crashed, printing the
# input as hex and the command that reproduces it. Stable Rust works:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")"

smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
secs="${1:?usage: fuzz/campaign.sh [--smoke] TIME [TARGETS...]}"
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi
jobs="${FUZZ_JOBS:-$(nproc)}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
echo "== building ${#targets[@]} fuzz targets"
cargo fuzz build 2>&1 | tail -n 3
bin_dir="target/$(rustc -vV | sed -n 's/^host: //p')/release"

work="$(mktemp -d "${TMPDIR:-/tmp}/fulmar-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Runs one target for $secs into $work/<target>/ (corpus, artifacts, log).
run_one() {
  local t="$1" dir="$work/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  # The first corpus folder takes new inputs; the checked-in one is read only.
  timeout -k 10 $((secs + 120)) "$bin_dir/$t" -max_total_time="$secs" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "$dir/corpus" "corpus/$t" >"$dir/log" 2>&1 || echo "$?" >"$dir/status"
}
export -f run_one
export work secs bin_dir

echo "== fuzzing each target for ${secs}s, $jobs at a time"
start=$(date +%s)
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
echo "   done in $(($(date +%s) - start))s"

if [ "$smoke" -eq 0 ]; then
  echo "== merging new coverage into fuzz/corpus"
  for t in "${targets[@]}"; do
    before=$(find "corpus/$t" -type f | wc -l)
    timeout -k 10 1200 "$bin_dir/$t" -merge=1 -use_counters=0 -rss_limit_mb=2048 -timeout=10 \
      "corpus/$t" "$work/$t/corpus" >"$work/$t/merge.log" 2>&1 || true
    echo "   $t: $before -> $(find "corpus/$t" -type f | wc -l) inputs"
  done
fi

# The summary: libFuzzer's final stats and the last coverage it printed.
crashed=0
printf '\n| target | runs | exec/s | coverage (edges) | features | crashes |\n|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
  log="$work/$t/log"
  # A target that crashed at once printed no stats: the fields stay empty.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1 || true)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
  found=$(find "$work/$t/artifacts" -type f | wc -l)
  if [ -f "$work/$t/status" ] && [ "$found" -eq 0 ]; then found="exit $(cat "$work/$t/status")"; fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$found"
  if [ "$found" != 0 ]; then crashed=1; fi
done

if [ "$crashed" -ne 0 ]; then
  echo
  for t in "${targets[@]}"; do
    for a in "$work/$t"/artifacts/*; do
      [ -f "$a" ] || continue
      name="$(basename "$a")"
      echo "!! $t crashed: $name ($(wc -c <"$a") bytes). Input as hex:"
      od -An -v -tx1 "$a" | tr -d ' \n' | fold -w 128
      echo
      echo "   reproduce: save the hex as bytes (xxd -r -p hex.txt fuzz/$name), then"
      echo "   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $t $name"
    done
    if [ -f "$work/$t/status" ]; then
      echo "!! $t exited with status $(cat "$work/$t/status"); the end of its log:"
      tail -n 40 "$work/$t/log"
    fi
  done
  exit 1
fi
echo "no crashes"
