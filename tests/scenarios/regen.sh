#!/bin/sh
# Regenerates the golden summaries of the scenario library (tests/scenarios/golden/NAME.json)
# with the command line test_scenarios.c checks them with. Read README.md first: a golden
# changes only when a figure is meant to change.
#
#   tests/scenarios/regen.sh [BUILD_DIR]     # default: build; or HUBSIM_BIN=path/to/hubsim
#
# It stops at the first scenario that does not exit 0 (its expectations must hold), and
# leaves that golden untouched.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${HUBSIM_BIN:-$root/${1:-build}/hubsim}
[ -x "$bin" ] || { echo "regen.sh: no hubsim at $bin (build it, or give BUILD_DIR)" >&2; exit 2; }
seed=1 # GOLDEN_SEED of test_scenarios.c
mkdir -p "$here/golden"
for f in "$root"/scenarios/*.lua; do
  name=$(basename "$f" .lua)
  tmp="$here/golden/.$name.json.tmp"
  rc=0
  "$bin" run "$name" --clock virtual --seed "$seed" -q --summary "$tmp" >/dev/null || rc=$?
  if [ "$rc" -ne 0 ]; then
    rm -f "$tmp"
    echo "regen.sh: $name exited $rc: fix the scenario or the engine first" >&2
    exit 1
  fi
  if [ -f "$here/golden/$name.json" ] && cmp -s "$tmp" "$here/golden/$name.json"; then
    rm -f "$tmp"
    echo "unchanged  $name"
  else
    mv "$tmp" "$here/golden/$name.json"
    echo "written    $name"
  fi
done
