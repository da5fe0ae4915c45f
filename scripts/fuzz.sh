#!/usr/bin/env bash
# Runs fuzz targets (tests/fuzz/fuzz_NAME.c, built in BUILD) for SECONDS each, JOBS at a time:
# each libFuzzer run is single-threaded, so on a machine of N cores N of them take the time of
# one. Every target starts from its corpus (tests/fuzz/corpus/NAME, the files listed in
# tests/fuzz/fuzz_NAME.seeds) and its flags (tests/fuzz/fuzz_NAME.args); its output is printed
# whole, one target after another, once it ends. Exit status: 0 when every target ended cleanly,
# 1 when any found a crash, a leak or a timeout (its output says which input), 2 for bad usage.
#
# usage: scripts/fuzz.sh BUILD SECONDS JOBS TARGET...
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 4 ] || ! [[ $2 =~ ^[0-9]+$ ]] || ! [[ $3 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh BUILD SECONDS JOBS TARGET..." >&2
  exit 2
fi
build=$1 seconds=$2 jobs=$3
shift 3
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# One target: corpus prepared, then libFuzzer; its status in LOGS/NAME.rc, its output in
# LOGS/NAME.log.
one() {
  local t=$1 corpus=$build/corpus/$1 rc=0
  mkdir -p "$corpus"
  if [ -d "tests/fuzz/corpus/$t" ]; then cp -r "tests/fuzz/corpus/$t/." "$corpus/"; fi
  if [ -f "tests/fuzz/fuzz_$t.seeds" ]; then
    for g in $(cat "tests/fuzz/fuzz_$t.seeds"); do cp "$g" "$corpus/"; done
  fi
  local args=()
  if [ -f "tests/fuzz/fuzz_$t.args" ]; then read -r -a args < "tests/fuzz/fuzz_$t.args"; fi
  {
    echo "fuzz_$t: $seconds s"
    "./$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
      "${args[@]}" "$corpus" 2>&1 || rc=$?
  } > "$logs/$t.log"
  echo "$rc" > "$logs/$t.rc"
}

running=0
for t in "$@"; do
  [ -x "$build/tests/fuzz/fuzz_$t" ] || { echo "scripts/fuzz.sh: no fuzz_$t in $build" >&2; exit 2; }
  one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=0
for t in "$@"; do
  cat "$logs/$t.log"
  rc=$(cat "$logs/$t.rc" 2>/dev/null || echo 1)
  if [ "$rc" != 0 ]; then
    echo "fuzz_$t: FAILED (exit $rc)"
    failed=1
  fi
done
exit "$failed"
