#!/usr/bin/env bash
# zigbee-herdsman against `hubsim znp --script radio.lua`: the radio opens joining by itself, a
# device joins, leaves on its own (the host sees deviceLeave), joins again and is interviewed
# again; the radio resets on its own (SYS_RESET_IND, watchdog); a host started again resumes the
# network, the device that joined before the reset still answers, and a device joining later is
# interviewed. zigbee-herdsman is the pinned one of tests/integration/znp, installed into the
# build tree there (once, shared with test_znp_herdsman). Skipped (77) under AddressSanitizer.
#   test_znp_script_herdsman.sh BUILD_DIR
set -euo pipefail

BUILD=${1:?usage: test_znp_script_herdsman.sh BUILD_DIR}
HUBSIM=${HUBSIM_BIN:-$BUILD/hubsim}
HERE=$(cd "$(dirname "$0")" && pwd)
ZNP=$HERE/../znp
PREFIX=$BUILD/tests/integration/znp/node
WORK=$(mktemp -d /tmp/hubsim-znp-script.XXXXXX)
ZNP_PID=

fail() {
  echo "test_znp_script_herdsman: FAIL: $*" >&2
  [ -f "$WORK/znp.out" ] && tail -30 "$WORK/znp.out" >&2
  exit 1
}

cleanup() {
  if [ -n "$ZNP_PID" ]; then kill "$ZNP_PID" 2>/dev/null || true; wait "$ZNP_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${HUBSIM_SANITIZE:-0}" = 1 ]; then
  echo "test_znp_script_herdsman: skipped under AddressSanitizer (two host starts take too long there)"
  exit 77
fi

. "$ZNP/npm_pinned.sh"
npm_pinned zigbee-herdsman "$(node -p "require('$ZNP/package.json').dependencies['zigbee-herdsman']")" \
  "$ZNP" "$PREFIX" "$WORK/npm.log" 300
export NODE_PATH=$PREFIX/node_modules

"$HUBSIM" znp -v --nv "$WORK/nv.txt" --ready-file "$WORK/port" --script "$HERE/radio.lua" \
  >"$WORK/znp.out" 2>"$WORK/znp.err" &
ZNP_PID=$!
# the ready file, or hubsim znp gone: at most 10 s
timeout 10 sh -c "while [ ! -s '$WORK/port' ] && kill -0 $ZNP_PID 2>/dev/null; do sleep 0.1; done" || true
[ -s "$WORK/port" ] || { cat "$WORK/znp.err" >&2; fail "hubsim znp wrote no ready file within 10 s"; }
PORT=$(cat "$WORK/port")

host() {
  local rc=0
  timeout 60 node "$HERE/herdsman_script.js" "$PORT" "$WORK/host" "$1" >"$WORK/host-$1.log" 2>&1 || rc=$?
  grep '^RESULT' "$WORK/host-$1.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -30 "$WORK/host-$1.log" >&2
    fail "the $1 host run failed (exit $rc)"
  fi
}

mkdir -p "$WORK/host"
host first
host second
# The script ends once its last step ran: wait for it (bounded), then the run must be clean.
for _ in $(seq 1 100); do
  grep -q '^script done$' "$WORK/znp.out" && break
  sleep 0.1
done
grep -q '^script done$' "$WORK/znp.out" || fail "the script did not finish"
kill -TERM "$ZNP_PID"
rc=0
wait "$ZNP_PID" || rc=$?
ZNP_PID=
[ "$rc" -eq 0 ] || { cat "$WORK/znp.err" >&2; fail "hubsim znp exited $rc"; }
grep -q 'script .* reset (watchdog)' "$WORK/znp.out" || fail "the script's reset is not in its log"
grep 'hubsim znp:' "$WORK/znp.err" || true
echo "test_znp_script_herdsman: joining opened by the radio; a device joined, left (deviceLeave), joined again; after a watchdog reset the host resumed, the device still answered and a new one was interviewed"
