#!/usr/bin/env bash
# zigbee-herdsman's zstack adapter against `hubsim znp --pty`: the host opens the symlink as a
# serial port (the serialport package, 115200 baud). A fresh NV file forms a network ('reset');
# the host closing the port and opening it again finds it running ('resumed'); a sleepy
# catalogue device joins and is interviewed through the pseudo-terminal. The symlink goes at
# exit; one left by a killed process is replaced, anything else at the path is refused. Uses
# the zigbee-herdsman that test_znp_herdsman.sh installs (npm_pinned.sh, the same prefix), and
# its helpers (herdsman_lib.sh).
#   test_znp_pty.sh BUILD_DIR
set -euo pipefail

BUILD=${1:?usage: test_znp_pty.sh BUILD_DIR}
HUBSIM=${HUBSIM_BIN:-$BUILD/hubsim}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/hubsim-znp-pty.XXXXXX)
TTY=$WORK/ttyZNP
TEST=test_znp_pty
. "$HERE/herdsman_lib.sh" # fail, cleanup at exit, start_znp, stop_znp, host

# The radio flags are refused as hubsim run refuses them (one parser), naming flag and value.
for bad in "--radio-hops 0" "--radio-hops 17" "--radio-delay 20000" "--radio-loss 1" "--sleepy-hold 0"; do
  flag=${bad% *} value=${bad#* } rc=0
  # shellcheck disable=SC2086
  "$HUBSIM" znp --nv "$WORK/flags.nv" $bad 2>"$WORK/flag.err" || rc=$?
  "$HUBSIM" run $bad 2>"$WORK/run.err" >/dev/null || true
  [ "$rc" -eq 2 ] || fail "hubsim znp $bad: exit $rc, not 2"
  grep -q "^hubsim znp: $flag '$value': " "$WORK/flag.err" || fail "hubsim znp $bad: $(cat "$WORK/flag.err")"
  [ "$(sed 's/.*: //; s/ (see .*//' "$WORK/flag.err")" = "$(sed 's/.*: //; s/ (see .*//' "$WORK/run.err")" ] ||
    fail "hubsim znp $bad and hubsim run $bad say different things: $(cat "$WORK/flag.err" "$WORK/run.err")"
done
rc=0
"$HUBSIM" znp --nv "$WORK/flags.nv" --pty "$TTY" --listen 127.0.0.1:0 2>"$WORK/flag.err" || rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--pty '$TTY'" "$WORK/flag.err" || fail "--pty with --listen: exit $rc: $(cat "$WORK/flag.err")"

herdsman_install


# hubsim znp on the pseudo-terminal: its ready file names $TTY, a link to a character device.
start_pty() {
  start_znp --pty "$TTY" "$@"
  [ "$TARGET" = "$TTY" ] || fail "the ready file holds '$TARGET', not $TTY"
  [ -L "$TTY" ] && [ -c "$(readlink "$TTY")" ] || fail "$TTY is not a link to a character device"
}

# Stops it; the link must be gone.
stop_pty() {
  stop_znp
  [ ! -e "$TTY" ] && [ ! -L "$TTY" ] || fail "$TTY is still there after hubsim znp stopped"
}

mkdir -p "$WORK/host"
start_pty
host reset 1-fresh-nv
host resumed 2-reopened
grep -q "host closed $TTY" "$WORK/znp.err" || fail "hubsim znp did not see the host close $TTY"
grep -q "host opened $TTY" "$WORK/znp.err" || fail "hubsim znp did not see the host open $TTY again"
# A killed hubsim leaves its link behind; the next one replaces it. A file at the path is refused.
kill -KILL "$ZNP_PID"
wait "$ZNP_PID" 2>/dev/null || true
ZNP_PID=
[ -L "$TTY" ] || fail "no link left by the killed hubsim znp (the test cannot check its replacement)"
# Over a radio of up to 3 hops of 20 ms each: every frame to and from the device waits on the
# coordinator's loop, and the interview still ends.
start_pty --device lumi.weather --radio-hops 3 --radio-delay 20
host resumed 3-sleepy-device 1
grep -q 'RESULT device 0x00158d.* model=lumi.weather .*type=EndDevice' "$WORK/host-3-sleepy-device.log" ||
  fail "lumi.weather was not interviewed through the pseudo-terminal"
stop_pty
grep -q ' 0 device frames lost on the radio, 0 host frames lost on the radio, 0 radio retries, [0-9]* frames held for sleepy devices, 0 expired' "$WORK/znp.err" ||
  fail "the counters show frames lost or expired: $(tail -1 "$WORK/znp.err")"
touch "$TTY"
rc=0
"$HUBSIM" znp --nv "$WORK/nv.txt" --pty "$TTY" 2>"$WORK/refused.err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "$TTY" "$WORK/refused.err" ||
  fail "a file at the --pty path was not refused with exit 2 naming it (exit $rc: $(cat "$WORK/refused.err"))"
grep 'hubsim znp:' "$WORK/znp.err" || true
echo "test_znp_pty: zigbee-herdsman $HERDSMAN_VERSION on a pseudo-terminal: reset, resumed after reopening, a sleepy device interviewed; the link removed at exit, a stale one replaced, a file refused"
