#!/bin/sh
# Drives the terminal dashboard in a detached tmux session, as an operator would, and checks
# what the screen shows: usage `tmux_drive.sh HUBSIM_BIN [RUN ARGS...]`.
#
# Starts `HUBSIM_BIN run --ui tui RUN ARGS` at 80x24 (RUN ARGS default to $HUBSIM_TUI_ARGS or a
# small virtual-clock fleet), waits for the panels, selects hub 2 and its first motion sensor,
# triggers an event and waits for it in the event log, pauses and resumes, resizes to 200x60
# and back to 80x24, quits (q, y) and checks the JSON summary against the last screen.
# Quitting drains the run: nothing may be left unacknowledged, every hub is online, so the run
# must exit WANT_EXIT (default 0) with a summary whose verdict says the same; any other exit
# code, 1 included, is a failure. Every wait is bounded (WAIT_TRIES polls of capture-pane,
# WAIT_SLEEP apart). Exits 0 when everything matched, 1 with a message and the screen on the
# first mismatch, 77 when tmux is missing (ctest: SKIP_RETURN_CODE 77).
#
# The tmux server is a private one (-L, its own socket): a user's sessions are never touched.
set -u

BIN=${1:-}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "usage: tmux_drive.sh HUBSIM_BIN [RUN ARGS...]  (HUBSIM_BIN: an executable)" >&2
  exit 2
fi
shift
if [ $# -gt 0 ]; then
  RUN_ARGS="$*"
else
  RUN_ARGS=${HUBSIM_TUI_ARGS:-"--clock virtual --hubs 20 --devices-per-hub 4 \
--mix lumi.sensor_motion.aq2:1,lumi.plug.maeu01:1 --duration 1h --seed 7"}
fi
command -v tmux >/dev/null 2>&1 || { echo "tmux_drive: SKIP: tmux is not installed" >&2; exit 77; }

WANT_EXIT=${WANT_EXIT:-0}
WAIT_TRIES=${WAIT_TRIES:-100}
WAIT_SLEEP=${WAIT_SLEEP:-0.1}
EXIT_TRIES=${EXIT_TRIES:-300} # the drain after quitting may take a while
SOCK="hubsim-tui-$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-tui.XXXXXX")
SUMMARY="$WORK/summary.json"
STATUS="$WORK/status"
T="tmux -L $SOCK"

cleanup() {
  $T kill-server 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

screen() { $T capture-pane -p -t drive:0.0 2>/dev/null; }

fail() {
  echo "tmux_drive: FAIL: $*" >&2
  echo "---- screen ($($T display -p -t drive '#{pane_width}x#{pane_height}' 2>/dev/null)) ----" >&2
  screen >&2
  echo "----" >&2
  if [ -s "$WORK/stderr" ]; then
    echo "---- stderr of the run ----" >&2
    tail -20 "$WORK/stderr" >&2
  fi
  exit 1
}

# wait_for TEXT WHAT: polls the screen until it contains TEXT (fixed string).
wait_for() {
  i=0
  while [ $i -lt "$WAIT_TRIES" ]; do
    if screen | grep -F -q -- "$1"; then
      return 0
    fi
    if [ -s "$STATUS" ]; then
      fail "$2: the run ended ($(cat "$STATUS")) before the screen showed '$1'"
    fi
    sleep "$WAIT_SLEEP"
    i=$((i + 1))
  done
  fail "$2: the screen did not show '$1' within $WAIT_TRIES polls"
}

# wait_gone TEXT WHAT: polls until the screen no longer contains TEXT.
wait_gone() {
  i=0
  while [ $i -lt "$WAIT_TRIES" ]; do
    screen | grep -F -q -- "$1" || return 0
    sleep "$WAIT_SLEEP"
    i=$((i + 1))
  done
  fail "$2: the screen still shows '$1' after $WAIT_TRIES polls"
}

# wait_size COLSxROWS: the pane has that size and the dashboard drew that many rows.
wait_size() {
  i=0
  while [ $i -lt "$WAIT_TRIES" ]; do
    size=$($T display -p -t drive '#{pane_width}x#{pane_height}')
    rows=$(screen | wc -l)
    if [ "$size" = "$1" ] && [ "$rows" -eq "${1#*x}" ]; then
      return 0
    fi
    sleep "$WAIT_SLEEP"
    i=$((i + 1))
  done
  fail "resize to $1: the pane is $size with $rows rows"
}

# number_after LABEL: the first whole number after LABEL on the screen.
number_after() {
  screen | sed -n "s/.*$1 *\([0-9][0-9]*\).*/\1/p" | head -1
}

# json KEY.PATH: a value from the summary.
json() {
  python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$SUMMARY" "$1" 2>/dev/null
}

# ---- start at 80x24 -------------------------------------------------------------------------
$T -f /dev/null new-session -d -s drive -x 80 -y 24 \
  "TERM=xterm-256color; export TERM; unset NO_COLOR; \"$BIN\" run --ui tui $RUN_ARGS \
--summary \"$SUMMARY\" 2>\"$WORK/stderr\"; echo \"exit \$?\" > \"$STATUS\"; sleep 600" ||
  fail "tmux could not start a session"
$T set-option -t drive status off >/dev/null

wait_for "hubsim" "start"
wait_for "Fleet" "fleet panel"
wait_for "Traffic" "traffic panel"
wait_for "Latency" "latency panel"
wait_for "Generator" "generator panel"
wait_for "Events" "event log"
wait_for "? help" "help bar"
case " $RUN_ARGS " in
*" --clock virtual "*) wait_for "clock virtual" "header (virtual clock)" ;;
esac
HUBS=$(number_after "hubs")
[ -n "$HUBS" ] && [ "$HUBS" -gt 1 ] || fail "fleet panel: no hub count ('hubs N')"
wait_for "online $HUBS " "every hub online"
wait_for "Hubs 1/$HUBS" "hub list"

# ---- select hub 2, open its devices, pick a motion sensor, trigger its event -----------------
$T send-keys -t drive j
wait_for "Hubs 2/$HUBS" "select hub 2"
$T send-keys -t drive Enter
wait_for "Devices of hub-000001" "open hub 2"
SLOT=$(screen | sed -n 's/.* \{1,\}\([0-9][0-9]*\) lumi\.sensor_motion.*/\1/p' | head -1)
[ -n "$SLOT" ] || fail "hub 2 shows no motion sensor (lumi.sensor_motion.*) to trigger"
n=0
while [ $n -lt "$SLOT" ]; do
  $T send-keys -t drive j
  n=$((n + 1))
done
wait_for ">  $SLOT lumi.sensor_motion" "select slot $SLOT"
$T send-keys -t drive t
wait_for "Trigger on slot $SLOT" "trigger picker"
$T send-keys -t drive Enter
wait_for "triggered '" "trigger acknowledged by the dashboard"
wait_for "trigger" "trigger in the event log"
screen | sed -n '/Events/,$p' | grep -q -i "trigger" || fail "the event log does not show the trigger"

# ---- device detail, back ---------------------------------------------------------------------
$T send-keys -t drive Enter
wait_for "Device detail" "device detail"
wait_for "triggers " "device detail: the model's triggers"
$T send-keys -t drive Escape
wait_for "[ Devices of hub-000001" "back to the device list"

# ---- pause and resume ------------------------------------------------------------------------
$T send-keys -t drive p
wait_for "PAUSED" "pause"
$T send-keys -t drive p
wait_gone "PAUSED" "resume"

# ---- resize: 200x60 uses the space, 80x24 again ----------------------------------------------
$T resize-window -t drive -x 200 -y 60
wait_size 200x60
wait_for "Device detail" "200x60: the three-column layout"
wait_for "Expect" "200x60: expectations"
$T resize-window -t drive -x 80 -y 24
wait_size 80x24
wait_for "Hubs 2/$HUBS" "80x24 again"

# ---- the last figures on screen, then quit ---------------------------------------------------
ACKS=$(screen | sed -n 's/.* acks *[0-9.kM]* *\([0-9][0-9]*\).*/\1/p' | head -1)
DEVICES=$(number_after "devices")
$T send-keys -t drive q
wait_for "Quit the run now?" "quit asks to confirm"
$T send-keys -t drive n
wait_gone "Quit the run now?" "quit cancelled"
[ -s "$STATUS" ] && fail "the run ended after n"
$T send-keys -t drive q
wait_for "Quit the run now?" "quit asks again"
$T send-keys -t drive y
i=0
while [ ! -s "$STATUS" ] && [ $i -lt "$EXIT_TRIES" ]; do
  sleep "$WAIT_SLEEP"
  i=$((i + 1))
done
[ -s "$STATUS" ] || fail "the run did not end within $EXIT_TRIES polls of quitting"
[ "$(cat "$STATUS")" = "exit $WANT_EXIT" ] ||
  fail "the run ended with $(cat "$STATUS"), want exit $WANT_EXIT (summary verdict: $(json verdict.text))"

# ---- the summary agrees with what the screen showed -----------------------------------------
[ -s "$SUMMARY" ] || fail "no summary at $SUMMARY"
[ "$(json verdict.exit_code)" = "$WANT_EXIT" ] ||
  fail "summary verdict.exit_code $(json verdict.exit_code), want $WANT_EXIT: $(json verdict.text)"
S_HUBS=$(json fleet.hubs)
S_DEVICES=$(json fleet.devices)
S_ACKED=$(json counts.reports.acked)
S_STORED=$(json platform_counts.reports_stored)
[ "$S_HUBS" = "$HUBS" ] || fail "summary fleet.hubs $S_HUBS, screen showed $HUBS"
[ "$S_DEVICES" = "$DEVICES" ] || fail "summary fleet.devices $S_DEVICES, screen showed $DEVICES"
if [ -n "$ACKS" ] && [ -n "$S_ACKED" ]; then
  [ "$S_ACKED" -ge "$ACKS" ] || fail "summary acked $S_ACKED < the $ACKS the screen showed"
else
  fail "could not compare acks (screen '$ACKS', summary '$S_ACKED')"
fi
if [ -n "$S_STORED" ]; then
  [ "$S_STORED" -ge "$ACKS" ] || fail "platform stored $S_STORED < the $ACKS acks on screen"
fi
echo "tmux_drive: OK: $HUBS hubs, $DEVICES devices; triggered slot $SLOT of hub-000001;" \
  "screen acks $ACKS <= summary $S_ACKED (platform stored $S_STORED); exit $WANT_EXIT"
exit 0
