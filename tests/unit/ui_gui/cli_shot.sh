#!/bin/sh
# `hubsim run --ui gui --screenshot` end to end: the smoke scenario on the virtual clock with the
# SDL2 window on the offscreen driver writes a PNG of the window at 9 s of engine time and ends
# the run there. Checks the PNG's signature and size (1280x800, the default window), and that
# the run passed: by 9 s every step of the scenario has run (its last is at 8 s), so the run cut
# there must exit 0 with every expectation held. Any other exit code, 1 included, fails.
#
# The duration is stretched to 10 minutes so that the run can only have ended through the
# screenshot (the dashboard paces the virtual clock at ten simulated seconds a second: the
# screenshot has almost a minute of wall time to happen before the end); the summary shows
# where it ended.
# usage: cli_shot.sh HUBSIM_BIN
set -u
BIN=${1:?usage: cli_shot.sh HUBSIM_BIN}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-gui.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SDL_VIDEODRIVER=offscreen timeout 120 "$BIN" run smoke --clock virtual --duration 10m --ui gui \
  --screenshot "$WORK/shot.png" --after 9s --exit-after-screenshot --summary "$WORK/s.json" \
  >"$WORK/out" 2>"$WORK/err"
rc=$?
fail() { echo "cli_shot: $*" >&2; tail -n 20 "$WORK/out" "$WORK/err" >&2; exit 1; }
[ "$rc" -eq 0 ] || fail "hubsim exited $rc, want 0"
[ -s "$WORK/shot.png" ] || fail "no screenshot written"
sig=$(od -An -tx1 -N8 "$WORK/shot.png" | tr -d ' \n')
[ "$sig" = "89504e470d0a1a0a" ] || fail "not a PNG ($sig)"
w=$(od -An -tu1 -j16 -N4 "$WORK/shot.png" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
h=$(od -An -tu1 -j20 -N4 "$WORK/shot.png" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
[ "$w" = 1280 ] && [ "$h" = 800 ] || fail "size ${w}x${h}, want 1280x800"
[ -s "$WORK/s.json" ] || fail "no summary after the screenshot"
# The verdict and where the run ended: after the 9 s mark, well before the 10 minutes.
got=$(/usr/bin/python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
e = s["scenario"]["expectations"]
print(s["verdict"]["exit_code"], s["elapsed_s"], len(e), sum(x["verdict"] == "pass" for x in e))
' "$WORK/s.json") || fail "the summary does not parse"
set -- $got
[ "$1" = 0 ] || fail "summary verdict.exit_code $1, want 0"
[ "$3" -gt 0 ] && [ "$3" = "$4" ] || fail "$4 of $3 expectations passed"
awk -v e="$2" 'BEGIN { exit !(e >= 9 && e < 600) }' ||
  fail "the run ended at $2 s of engine time, not between the screenshot (9 s) and 10 minutes"
echo "cli_shot: OK: ${w}x${h} PNG at 9 s of engine time, run ended at $2 s, $4 of $3 expectations passed, exit 0"
