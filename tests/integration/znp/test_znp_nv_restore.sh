#!/usr/bin/env bash
# Joined devices kept in the coordinator's NV tables, as zigbee-herdsman (pinned, installed into
# the build tree as test_znp_herdsman does) sees it: two catalogue devices join a new network and
# the host's coordinator backup lists both with their link keys; hubsim znp restarted on the same
# NV file ('resumed') has them in the network again with no join, no announcement and no permit
# join, and the router answers a read; then a new NV file under the same host data restores the
# backup ('restored') and the router answers again.
#   test_znp_nv_restore.sh BUILD_DIR
set -euo pipefail

HERDSMAN_VERSION=2.1.9
BUILD=${1:?usage: test_znp_nv_restore.sh BUILD_DIR}
HUBSIM=${HUBSIM_BIN:-$BUILD/hubsim}
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=$BUILD/tests/integration/znp/node
WORK=$(mktemp -d /tmp/hubsim-znp-nv.XXXXXX)
ZNP_PID=
DEVICES=(--device lumi.weather --device lumi.curtain)

fail() {
  echo "test_znp_nv_restore: FAIL: $*" >&2
  exit 1
}

cleanup() {
  if [ -n "$ZNP_PID" ]; then kill "$ZNP_PID" 2>/dev/null || true; wait "$ZNP_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

. "$HERE/npm_pinned.sh"
npm_pinned zigbee-herdsman "$HERDSMAN_VERSION" "$HERE" "$PREFIX" "$WORK/npm.log" 300
export NODE_PATH=$PREFIX/node_modules

# hubsim znp on NV file $1 with the two devices; waits (bounded) for its ready file.
start_znp() {
  rm -f "$WORK/port"
  : >"$WORK/znp.err"
  "$HUBSIM" znp -v --nv "$1" --ready-file "$WORK/port" "${DEVICES[@]}" >>"$WORK/znp.out" 2>"$WORK/znp.err" &
  ZNP_PID=$!
  for _ in $(seq 1 100); do
    [ -s "$WORK/port" ] && break
    kill -0 "$ZNP_PID" 2>/dev/null || { cat "$WORK/znp.err" >&2; fail "hubsim znp exited at start"; }
    sleep 0.1
  done
  [ -s "$WORK/port" ] || fail "hubsim znp wrote no ready file within 10 s"
  PORT=$(cat "$WORK/port")
}

stop_znp() {
  kill -TERM "$ZNP_PID"
  local rc=0
  wait "$ZNP_PID" || rc=$?
  ZNP_PID=
  [ "$rc" -eq 0 ] || { cat "$WORK/znp.err" >&2; fail "hubsim znp exited $rc on SIGTERM"; }
}

# One host run: a name, then herdsman_nv.js's arguments after PORT DIR.
host() {
  local name=$1 log=$WORK/host-$1.log rc=0
  shift
  timeout 150 node "$HERE/herdsman_nv.js" "$1" "$PORT" "$WORK/host" "${@:2}" >"$log" 2>&1 || rc=$?
  grep "^RESULT" "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -30 "$log" >&2
    fail "run $name: zigbee-herdsman: $* did not hold (exit $rc)"
  fi
}

mkdir -p "$WORK/host"
start_znp "$WORK/a.nv"
host 1-join join 2
stop_znp
start_znp "$WORK/a.nv"
host 2-restarted known resumed 2 lumi.curtain
if grep -q 'joined as' "$WORK/znp.err"; then fail "a device joined again after hubsim znp restarted"; fi
stop_znp
start_znp "$WORK/b.nv"
host 3-restored known restored 2 lumi.curtain
if grep -q 'joined as' "$WORK/znp.err"; then fail "a device joined again after the restore"; fi
stop_znp
# The used address manager entries (user 03): zigbee-herdsman writes the free ones as zeros.
used() { grep -E '^01\.0001\.[0-9a-f]{4} 03' "$1" | sort; }
[ "$(used "$WORK/a.nv" | wc -l)" -eq 2 ] || fail "the NV file does not list the two devices"
[ "$(used "$WORK/a.nv")" = "$(used "$WORK/b.nv")" ] ||
  fail "the restored address manager table differs from the one the devices joined into"
echo "test_znp_nv_restore: zigbee-herdsman $HERDSMAN_VERSION: 2 devices in the backup with link keys; resumed after a restart and restored onto a new NV file, with no joins, and the router answered each time"
