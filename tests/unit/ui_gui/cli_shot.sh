#!/bin/sh
# `hubsim run --ui gui --screenshot` end to end: the smoke scenario on the virtual clock with the
# SDL2 window on the offscreen driver writes a PNG of the window at 3 s of engine time and ends
# the run there. Checks the PNG's signature and size (1280x800, the default window).
# usage: cli_shot.sh HUBSIM_BIN
set -u
BIN=${1:?usage: cli_shot.sh HUBSIM_BIN}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-gui.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SDL_VIDEODRIVER=offscreen timeout 120 "$BIN" run smoke --clock virtual --ui gui \
  --screenshot "$WORK/shot.png" --after 3s --exit-after-screenshot --summary "$WORK/s.json" \
  >"$WORK/out" 2>"$WORK/err"
rc=$?
# The run is cut short, so the smoke scenario's expectations may fail (exit 1); anything else is
# a failure of the run itself.
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
  echo "cli_shot: hubsim exited $rc" >&2; cat "$WORK/err" >&2; exit 1
fi
[ -s "$WORK/shot.png" ] || { echo "cli_shot: no screenshot written" >&2; cat "$WORK/err" >&2; exit 1; }
sig=$(od -An -tx1 -N8 "$WORK/shot.png" | tr -d ' \n')
[ "$sig" = "89504e470d0a1a0a" ] || { echo "cli_shot: not a PNG ($sig)" >&2; exit 1; }
w=$(od -An -tu1 -j16 -N4 "$WORK/shot.png" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
h=$(od -An -tu1 -j20 -N4 "$WORK/shot.png" | awk '{print $1*16777216+$2*65536+$3*256+$4}')
[ "$w" = 1280 ] && [ "$h" = 800 ] || { echo "cli_shot: size ${w}x${h}, want 1280x800" >&2; exit 1; }
[ -s "$WORK/s.json" ] || { echo "cli_shot: no summary after the screenshot" >&2; exit 1; }
echo "cli_shot: OK: ${w}x${h} PNG at 3 s of engine time, summary written, exit $rc"
