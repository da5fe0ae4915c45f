# Sourced by the tests here that run zigbee-herdsman against `hubsim znp`: failing with a
# message, cleaning up at exit, starting and stopping the coordinator, running one host. The
# caller sets TEST (its name), BUILD, HUBSIM, HERE and WORK (a fresh folder, removed at exit).

HERDSMAN_VERSION=2.1.9
ZNP_PID=

fail() {
  echo "$TEST: FAIL: $*" >&2
  exit 1
}

cleanup() {
  if [ -n "$ZNP_PID" ]; then kill "$ZNP_PID" 2>/dev/null || true; wait "$ZNP_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The pinned zigbee-herdsman (package.json, and every dependency in package-lock.json), in the
# build tree; NODE_PATH points there.
herdsman_install() {
  . "$HERE/npm_pinned.sh"
  npm_pinned zigbee-herdsman "$HERDSMAN_VERSION" "$HERE" "$BUILD/tests/integration/znp/node" "$WORK/npm.log" 300
  export NODE_PATH=$BUILD/tests/integration/znp/node/node_modules
}

# Starts hubsim znp on $WORK/nv.txt with the given flags and waits (bounded) for its ready
# file; its first line (the port, or the --pty path) is then in TARGET (znp_proc.sh).
. "$HERE/znp_proc.sh"
start_znp() { znp_start "$WORK/nv.txt" "$@"; }
stop_znp() { znp_stop; }

# One host run against $TARGET (herdsman_start.js): the expected start() result, a name, and
# how many devices must join and be interviewed (optional). Its log: $WORK/host-NAME.log.
host() {
  local expect=$1 log=$WORK/host-$2.log rc=0
  timeout 120 node "$HERE/herdsman_start.js" "$TARGET" "$WORK/host" "$expect" ${3:-} >"$log" 2>&1 || rc=$?
  grep '^RESULT' "$log" || true
  if [ "$rc" -ne 0 ]; then
    tail -40 "$log" >&2
    fail "run $2: zigbee-herdsman on $TARGET did not start with '$expect', permit joining${3:+ and interview $3 devices} (exit $rc)"
  fi
}
