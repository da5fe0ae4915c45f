#!/usr/bin/env bash
# bench/tui/run.sh: cost of the terminal dashboard (`hubsim run --ui tui`, docs/tui.md) against
# a headless run (`--ui none`) of the same fleet. Acceptance point: "With the TUI on, throughput
# drops by at most 5% against a headless run of the same fleet" (figure in docs/performance.md).
#
# Both runs of a pair are the same command in the same wrapper (a detached session of a private
# tmux server of a fixed size, /usr/bin/time around hubsim); only --ui differs. Pairs alternate
# headless/TUI so that a slow drift of the machine does not land on one side only.
#
# The same seed offers the same load to both runs, so reports sent per second only drops if the
# generator cannot keep up. The TUI's cost shows first in the generator's CPU (the dashboard
# draws on the fleet's loop, in the fleet's thread) and in its tick lag: both are printed.
set -u -o pipefail

usage() {
  cat <<'EOF'
usage: bench/tui/run.sh [FLAGS]

Builds hubsim (RelWithDebInfo, in build-bench-tui under the source tree), then runs the same
fleet with --ui none and with --ui tui, alternating, PAIRS times. Each run is
  hubsim run --ui UI -q --hubs .. --summary FILE   (embedded reference platform, real clock)
inside a detached session of a private tmux server (tmux -L, its own socket) of a fixed size,
so that the dashboard has a terminal. Prints a table per run, the mean drop in throughput and
rise in generator CPU with the TUI, and a line for docs/performance.md.

The default fleet, 5000 hubs x 10 devices at --speedup 120, offers ~8,500 reports/s: the
generator thread is busy (~25-30% of a core, tick lag p99 2-4 ms on a 2-core VM) but not
saturated, and the whole process (platform thread included) stays under one core, which
leaves the other core to tmux and the rest of the machine. A run takes ~32 s.

  --hubs N              hubs (default 5000)
  --devices-per-hub N   devices per hub (default 10)
  --speedup X           device behaviour speedup (default 120)
  --duration D          traffic duration (default 30s)
  --ramp N              hubs started per second (default 2500)
  --warmup D            hubsim run --warmup (default 5s)
  --mix LIST            hubsim run --mix (default all)
  --command-rate N      embedded platform background commands per second (default 0)
  --drain D             hubsim run --drain (default 10s)
  --seed N              hubsim run --seed (default 1)
  --pairs N             headless/TUI pairs, run alternately (default 3)
  --size COLSxROWS      tmux window size (default 200x60)
  --limit PCT           acceptance limit of the throughput drop, percent (default 5)
  --max-load X          before each run, wait until the 1-minute load average is below X
                        (default 1.5) ...
  --load-wait S         ... for at most S seconds, then run anyway and say so (default 120)
  --json FILE           also write every figure as JSON to FILE
  --keep DIR            copy summaries, logs and mid-run screens to DIR before cleanup
  --hubsim PATH         use this binary, do not build
  --no-build            use build-bench-tui/hubsim as it is
  -h, --help            this text

Runtime is bounded: each run is given duration + drain + hubs/ramp + 120 s, then its tmux
server is killed. Temporary files and the tmux server are removed on exit, error or Ctrl-C.
Exit status: 0 figures printed (whatever the verdict), 2 usage, 3 a step failed.
EOF
}

die() { echo "bench/tui: $*" >&2; exit 3; }
usage_err() { echo "bench/tui: $*" >&2; echo "try --help" >&2; exit 2; }

# Debian's interpreter: `python3` on PATH may be another one (pyenv) without the same modules.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || { echo "bench/tui: python3 is required" >&2; exit 3; }

# Duration string (hubsim syntax: 30s, 5m, 2h, 500ms, plain seconds) -> seconds, or fail.
dur_s() {
  "$PY" - "$1" <<'EOF'
import re, sys
m = re.fullmatch(r'([0-9]+(?:\.[0-9]*)?)(ms|s|m|h|d)?', sys.argv[1])
if not m:
    sys.exit(1)
mul = {'ms': 0.001, None: 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}[m.group(2)]
print(float(m.group(1)) * mul)
EOF
}

HUBS=5000
DPH=10
SPEEDUP=120
DURATION=30s
RAMP=2500
WARMUP=5s
MIX=all
CMD_RATE=0
DRAIN=10s
SEED=1
PAIRS=3
SIZE=200x60
LIMIT=5
MAX_LOAD=1.5
LOAD_WAIT=120
JSON_OUT=""
KEEP=""
HUBSIM=""
BUILD=1
ARGV=("$@")

need() { [ $# -ge 2 ] || usage_err "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
  --hubs) need "$@"; HUBS=$2; shift 2 ;;
  --devices-per-hub) need "$@"; DPH=$2; shift 2 ;;
  --speedup) need "$@"; SPEEDUP=$2; shift 2 ;;
  --duration) need "$@"; DURATION=$2; shift 2 ;;
  --ramp) need "$@"; RAMP=$2; shift 2 ;;
  --warmup) need "$@"; WARMUP=$2; shift 2 ;;
  --mix) need "$@"; MIX=$2; shift 2 ;;
  --command-rate) need "$@"; CMD_RATE=$2; shift 2 ;;
  --drain) need "$@"; DRAIN=$2; shift 2 ;;
  --seed) need "$@"; SEED=$2; shift 2 ;;
  --pairs) need "$@"; PAIRS=$2; shift 2 ;;
  --size) need "$@"; SIZE=$2; shift 2 ;;
  --limit) need "$@"; LIMIT=$2; shift 2 ;;
  --max-load) need "$@"; MAX_LOAD=$2; shift 2 ;;
  --load-wait) need "$@"; LOAD_WAIT=$2; shift 2 ;;
  --json) need "$@"; JSON_OUT=$2; shift 2 ;;
  --keep) need "$@"; KEEP=$2; shift 2 ;;
  --hubsim) need "$@"; HUBSIM=$2; BUILD=0; shift 2 ;;
  --no-build) BUILD=0; shift ;;
  -h | --help) usage; exit 0 ;;
  *) usage_err "unknown flag '$1'" ;;
  esac
done

for v in HUBS DPH RAMP CMD_RATE SEED PAIRS LOAD_WAIT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || usage_err "$v must be a non-negative integer, got '${!v}'"
done
[ "$HUBS" -ge 1 ] || usage_err "--hubs must be >= 1"
[ "$DPH" -ge 1 ] || usage_err "--devices-per-hub must be >= 1"
[ "$PAIRS" -ge 1 ] && [ "$PAIRS" -le 20 ] || usage_err "--pairs must be 1..20"
for v in SPEEDUP LIMIT MAX_LOAD; do
  [[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_err "$v must be a number, got '${!v}'"
done
[[ $SIZE =~ ^([0-9]+)x([0-9]+)$ ]] || usage_err "--size must be COLSxROWS, got '$SIZE'"
COLS=${BASH_REMATCH[1]}
ROWS=${BASH_REMATCH[2]}
DUR_S=$(dur_s "$DURATION") || usage_err "bad --duration '$DURATION'"
DRAIN_S=$(dur_s "$DRAIN") || usage_err "bad --drain '$DRAIN'"
dur_s "$WARMUP" >/dev/null || usage_err "bad --warmup '$WARMUP'"
command -v tmux >/dev/null || die "tmux is not installed"
TIME_BIN=""
[ -x /usr/bin/time ] && TIME_BIN=/usr/bin/time

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD_DIR="$SRC/build-bench-tui"
if [ "$BUILD" = 1 ]; then
  echo "bench/tui: building hubsim (RelWithDebInfo) in $BUILD_DIR" >&2
  mkdir -p "$BUILD_DIR" || die "cannot create $BUILD_DIR"
  if ! cmake -S "$SRC" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"$BUILD_DIR/bench-tui-cmake.log" 2>&1; then
    tail -n 30 "$BUILD_DIR/bench-tui-cmake.log" >&2
    die "cmake failed (log: $BUILD_DIR/bench-tui-cmake.log)"
  fi
  if ! make -C "$BUILD_DIR" -j2 hubsim >"$BUILD_DIR/bench-tui-make.log" 2>&1; then
    grep -E 'error|Error' "$BUILD_DIR/bench-tui-make.log" | head -n 30 >&2
    die "build failed (log: $BUILD_DIR/bench-tui-make.log)"
  fi
fi
[ -n "$HUBSIM" ] || HUBSIM="$BUILD_DIR/hubsim"
[ -x "$HUBSIM" ] || die "no hubsim binary at $HUBSIM"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-bench-tui.XXXXXX") || die "mktemp failed"
SOCK="hubsim-bench-tui-$$"
T=(tmux -L "$SOCK" -f "$TMP/tmux.conf")
# status off: the whole window is the pane (COLSxROWS), and no status line redraws meanwhile.
cat >"$TMP/tmux.conf" <<'EOF'
set -g status off
set -g default-terminal tmux-256color
set -g remain-on-exit off
EOF
infocmp tmux-256color >/dev/null 2>&1 || sed -i 's/tmux-256color/screen-256color/' "$TMP/tmux.conf"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Only our private server: its socket is ours alone; killing it hangs up its panes (hubsim).
  "${T[@]}" kill-server 2>/dev/null
  # kill-server leaves its socket file behind.
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK"
  if [ -n "$KEEP" ] && [ -d "$TMP" ]; then
    mkdir -p "$KEEP" && cp -r "$TMP"/. "$KEEP"/ 2>/dev/null
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench/tui: interrupted" >&2; exit 130' INT TERM

# Machine-wide busy CPU seconds (all cores) from /proc/stat, to show what else ran meanwhile.
busy_s() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2+$3+$4+$7+$8+$9)/hz; exit}' /proc/stat
}
load1() { cut -d' ' -f1 /proc/loadavg; }
# CPU seconds (user + sys) of process PID so far.
proc_cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat" \
    2>/dev/null
}

# wait_load: bounded wait for a quiet machine; records the load the run started at.
wait_load() {
  local waited=0
  while [ "$waited" -lt "$LOAD_WAIT" ]; do
    "$PY" -c "import sys; sys.exit(0 if float('$(load1)') < $MAX_LOAD else 1)" && return 0
    [ "$waited" = 0 ] &&
      echo "bench/tui: load $(load1) >= $MAX_LOAD; waiting (at most ${LOAD_WAIT}s)" >&2
    sleep 5
    waited=$((waited + 5))
  done
  echo "bench/tui: warning: load still $(load1) after ${LOAD_WAIT}s; running anyway" >&2
}

LIMIT_S=$("$PY" -c "r=$RAMP; print(int($DUR_S + $DRAIN_S + ($HUBS / r if r else 0) + 120))")
RUN_ARGS=(-q --hubs "$HUBS" --devices-per-hub "$DPH" --speedup "$SPEEDUP" --duration "$DURATION"
  --ramp "$RAMP" --warmup "$WARMUP" --mix "$MIX" --command-rate "$CMD_RATE" --drain "$DRAIN"
  --seed "$SEED")

# run_one NAME UI: one hubsim run in a fresh private tmux server; files under $TMP/NAME.*
run_one() {
  local name=$1 ui=$2 f="$TMP/$1"
  local cmd=("$HUBSIM" run --ui "$ui" "${RUN_ARGS[@]}" --summary "$f.summary.json")
  [ -n "$TIME_BIN" ] && cmd=("$TIME_BIN" -f '{"elapsed_s": %e, "user_s": %U, "sys_s": %S}'
    -o "$f.time.json" "${cmd[@]}")
  echo "${cmd[*]}" >"$f.cmd"
  # The pane runs a script (bash, whatever tmux's default shell is). stdout is the pane: the
  # dashboard, then the human summary; stderr to a file. The pane stays after the run (sleep)
  # so that the server's CPU can be read; the server is killed right after.
  {
    echo 'export LANG=C.UTF-8 LC_ALL=C.UTF-8'
    echo 'unset NO_COLOR'
    printf '%q ' "${cmd[@]}"
    printf '2>%q\n' "$f.err"
    printf 'echo $? >%q\n' "$f.rc.tmp"
    printf 'mv %q %q\n' "$f.rc.tmp" "$f.rc"
    echo 'sleep 600'
  } >"$f.sh"
  wait_load
  load1 >"$f.load"
  busy_s >"$f.busy0"
  "${T[@]}" new-session -d -s bench -x "$COLS" -y "$ROWS" "bash $f.sh" ||
    die "tmux could not start a session"
  local spid size
  spid=$("${T[@]}" display -p -t bench '#{pid}')
  size=$("${T[@]}" display -p -t bench '#{pane_width}x#{pane_height}')
  echo "$size" >"$f.size"
  [ "$size" = "$SIZE" ] || echo "bench/tui: warning: $name: pane is $size, not $SIZE" >&2
  # Wait for the end, bounded; take the screen once, halfway through the traffic.
  local t0 now shot=0 half
  t0=$(date +%s)
  half=$("$PY" -c "print(int($DUR_S / 2 + ($HUBS / $RAMP if $RAMP else 0)))")
  while [ ! -s "$f.rc" ]; do
    now=$(date +%s)
    if [ "$shot" = 0 ] && [ $((now - t0)) -ge "$half" ]; then
      "${T[@]}" capture-pane -p -t bench >"$f.screen" 2>/dev/null
      shot=1
    fi
    if [ $((now - t0)) -ge "$LIMIT_S" ]; then
      "${T[@]}" kill-server 2>/dev/null
      die "$name: hubsim did not end within ${LIMIT_S}s (killed its tmux server)"
    fi
    sleep 0.2
  done
  proc_cpu_s "$spid" >"$f.tmux_cpu"
  "${T[@]}" kill-server 2>/dev/null
  for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  busy_s >"$f.busy1"
  if [ ! -s "$f.summary.json" ]; then
    echo "bench/tui: '$name' exited $(cat "$f.rc") without a summary; its stderr:" >&2
    tail -n 40 "$f.err" >&2
    die "run '$name' failed"
  fi
  # The dashboard falls back to headless when it cannot take the terminal: not a TUI run.
  if [ "$ui" = tui ]; then
    grep -q 'running headless' "$f.err" && die "$name: the dashboard did not start: $(cat "$f.err")"
    grep -q 'Generator' "$f.screen" 2>/dev/null ||
      die "$name: the mid-run screen shows no dashboard (no 'Generator' panel)"
  fi
}

echo "bench/tui: $HUBS hubs x $DPH devices, speedup $SPEEDUP, duration $DURATION, ramp $RAMP," \
  "warmup $WARMUP, mix $MIX, command rate $CMD_RATE; $PAIRS pairs, tmux $SIZE;" \
  "load at start $(load1)" >&2
ORDER=()
for i in $(seq "$PAIRS"); do
  for ui in none tui; do
    name="p$i-$ui"
    echo "bench/tui: pair $i/$PAIRS, --ui $ui (load $(load1))" >&2
    run_one "$name" "$ui"
    ORDER+=("$name")
  done
done

"$PY" - "$TMP" "$LIMIT" "$JSON_OUT" "bench/tui/run.sh ${ARGV[*]}" \
  "hubsim run --ui UI ${RUN_ARGS[*]}" \
  "${ORDER[@]}" <<'EOF'
import json, os, statistics, sys, time
tmp, limit, json_out, bench_cmd, run_cmd = sys.argv[1:6]
limit = float(limit)
names = sys.argv[6:]

def text(path):
    try:
        with open(os.path.join(tmp, path)) as f:
            return f.read().strip()
    except OSError:
        return ''

def load(path):
    # /usr/bin/time puts "Command exited with non-zero status N" before its format line.
    t = text(path)
    for cand in (t, t.splitlines()[-1] if t else ''):
        try:
            return json.loads(cand)
        except ValueError:
            pass
    return None

def num(path):
    try:
        return float(text(path))
    except ValueError:
        return None

runs = []
for n in names:
    s = load(n + '.summary.json')
    tm = load(n + '.time.json')
    g = s['generator']
    sent = s['counts']['reports']['sent']
    cpu = g['cpu_user_s'] + g['cpu_sys_s']
    msgs = sum(s['counts'][k]['sent'] + s['counts'][k]['resent']
               for k in ('reports', 'device_joined', 'device_left', 'command_results'))
    proc = tm['user_s'] + tm['sys_s'] if tm else None
    tmux = num(n + '.tmux_cpu')
    busy = None
    b0, b1 = num(n + '.busy0'), num(n + '.busy1')
    if b0 is not None and b1 is not None and proc is not None and tmux is not None:
        busy = b1 - b0 - proc - tmux
    tl = s['latency']['generator_tick_lag']
    sl = s['latency']['report_send_lag']
    runs.append({
        'name': n, 'ui': n.split('-')[1], 'pair': int(n.split('-')[0][1:]),
        'exit_code': int(text(n + '.rc') or -1), 'verdict': s['verdict']['text'],
        'elapsed_s': s['elapsed_s'], 'generated': s['counts']['reports']['generated'],
        'sent': sent, 'acked': s['counts']['reports']['acked'],
        'reports_per_s': sent / s['elapsed_s'],
        'gen_cpu_s': cpu, 'gen_cpu_share': cpu / s['elapsed_s'],
        'cpu_us_per_message': g['cpu_us_per_message'],
        'cpu_us_per_report': cpu * 1e6 / sent if sent else None,
        'messages': msgs,
        'tick_lag_p99_ms': tl.get('p99_ms'), 'tick_lag_max_ms': tl.get('max_ms'),
        'send_lag_p99_ms': sl.get('p99_ms'),
        'proc_cpu_s': proc, 'tmux_cpu_s': tmux, 'other_cpu_s': busy,
        'load1_at_start': num(n + '.load'), 'pane': text(n + '.size'),
        'generator_late': s['verdict']['generator_late'],
    })

def f(v, fmt):
    return '-' if v is None else fmt.format(v)

cols = [('run', 'name', '{}'), ('ui', 'ui', '{}'), ('exit', 'exit_code', '{}'),
        ('load', 'load1_at_start', '{:.2f}'), ('elapsed s', 'elapsed_s', '{:.2f}'),
        ('generated', 'generated', '{}'), ('reports sent', 'sent', '{}'),
        ('reports/s', 'reports_per_s', '{:.1f}'),
        ('gen CPU s', 'gen_cpu_s', '{:.3f}'), ('gen % core', 'gen_cpu_share', '{:.1%}'),
        ('us/msg', 'cpu_us_per_message', '{:.2f}'), ('tick p99 ms', 'tick_lag_p99_ms', '{:.3f}'),
        ('send p99 ms', 'send_lag_p99_ms', '{:.3f}'), ('proc CPU s', 'proc_cpu_s', '{:.2f}'),
        ('tmux CPU s', 'tmux_cpu_s', '{:.2f}'), ('other CPU s', 'other_cpu_s', '{:.1f}')]
rows = [[h for h, _, _ in cols]] + [[f(r[k], fmt) for _, k, fmt in cols] for r in runs]
w = [max(len(row[i]) for row in rows) for i in range(len(cols))]
print('bench/tui results (one row per run, in the order run)')
for i, row in enumerate(rows):
    print('  ' + '  '.join(c.rjust(w[j]) if j > 1 else c.ljust(w[j]) for j, c in enumerate(row)))
print('  generated = reports the devices produced (the offered load: same seed, same fleet; on '
      'the real clock the cut at the end of the duration moves it slightly);')
print('  gen = the fleet thread (summary generator.cpu_user_s + cpu_sys_s; the dashboard draws '
      'in it); proc = the whole hubsim process, embedded platform thread included '
      '(/usr/bin/time); tmux = the tmux server that renders the pane; other = /proc/stat busy '
      'minus proc and tmux')

pairs = []
for p in sorted({r['pair'] for r in runs}):
    a = next(r for r in runs if r['pair'] == p and r['ui'] == 'none')
    b = next(r for r in runs if r['pair'] == p and r['ui'] == 'tui')
    pairs.append({
        'pair': p,
        'throughput_drop_pct': (a['reports_per_s'] - b['reports_per_s']) / a['reports_per_s'] * 100,
        'gen_cpu_rise_pct': (b['gen_cpu_s'] - a['gen_cpu_s']) / a['gen_cpu_s'] * 100,
        'gen_cpu_rise_s': b['gen_cpu_s'] - a['gen_cpu_s'],
        'gen_cpu_rise_core_pct': (b['gen_cpu_share'] - a['gen_cpu_share']) * 100,
        'us_per_msg_none': a['cpu_us_per_message'], 'us_per_msg_tui': b['cpu_us_per_message'],
        'tick_p99_none': a['tick_lag_p99_ms'], 'tick_p99_tui': b['tick_lag_p99_ms'],
        'generated_diff_pct': (b['generated'] - a['generated']) / a['generated'] * 100,
    })
print()
print('per pair (TUI against the headless run just before it)')
for q in pairs:
    print('  pair %d: throughput %+.2f%% (drop), generator CPU %+.2f%% '
          '(%+.3f s, %+.2f%% of a core), us/msg %.2f -> %.2f, tick lag p99 %.3f -> %.3f ms, '
          'reports generated %+.2f%%' % (
              q['pair'], q['throughput_drop_pct'], q['gen_cpu_rise_pct'], q['gen_cpu_rise_s'],
              q['gen_cpu_rise_core_pct'], q['us_per_msg_none'], q['us_per_msg_tui'],
              q['tick_p99_none'], q['tick_p99_tui'], q['generated_diff_pct']))

mean = lambda xs: statistics.fmean(xs) if xs else None
side = lambda ui, k: [r[k] for r in runs if r['ui'] == ui and r[k] is not None]
m = {}
for ui in ('none', 'tui'):
    for k in ('reports_per_s', 'gen_cpu_s', 'gen_cpu_share', 'cpu_us_per_message',
              'tick_lag_p99_ms', 'proc_cpu_s', 'tmux_cpu_s', 'other_cpu_s', 'load1_at_start'):
        m[ui + '.' + k] = mean(side(ui, k))
drop = mean([q['throughput_drop_pct'] for q in pairs])
rise = mean([q['gen_cpu_rise_pct'] for q in pairs])
rise_core = mean([q['gen_cpu_rise_core_pct'] for q in pairs])
# Noise: the spread of the generator CPU among the headless runs alone.
hc = side('none', 'gen_cpu_s')
noise = (max(hc) - min(hc)) / mean(hc) * 100 if len(hc) > 1 else None
late = [r['name'] for r in runs if r['generator_late'] or r['exit_code'] not in (0,)]
# Another process busy for more than a tenth of a core during a run: its figures are noisier.
busy = [r['name'] for r in runs
        if r['other_cpu_s'] is not None and r['other_cpu_s'] > 0.1 * r['elapsed_s']]
ok = drop <= limit
print()
print('means over %d pairs' % len(pairs))
print('  reports sent/s      headless %.1f   TUI %.1f   mean drop %.2f%% (limit %g%%)' % (
    m['none.reports_per_s'], m['tui.reports_per_s'], drop, limit))
print('  generator CPU (s)   headless %.3f   TUI %.3f   mean rise %+.2f%% (%+.2f%% of a core);'
      ' spread among headless runs %s' % (
          m['none.gen_cpu_s'], m['tui.gen_cpu_s'], rise, rise_core,
          f(noise, '{:.1f}%')))
print('  CPU per message (us) headless %.2f   TUI %.2f' % (
    m['none.cpu_us_per_message'], m['tui.cpu_us_per_message']))
print('  tick lag p99 (ms)   headless %.3f   TUI %.3f' % (
    m['none.tick_lag_p99_ms'], m['tui.tick_lag_p99_ms']))
print('  tmux server CPU (s) headless %.2f   TUI %.2f  (rendering the pane, outside hubsim)' % (
    m['none.tmux_cpu_s'] or 0, m['tui.tmux_cpu_s'] or 0))
if late:
    print('  warning: runs that did not exit 0 or whose generator was late: ' + ', '.join(late))
if busy:
    print('  note: other processes used more than 10%% of a core during %s (column "other CPU '
          's"): their CPU and lag figures are the noisiest' % ', '.join(busy))
verdict = ('PASS' if ok else 'FAIL') + ': mean throughput drop %.2f%% %s %g%%' % (
    drop, '<=' if ok else '>', limit)
print('  verdict: ' + verdict)

tui_screen = text(next(r['name'] for r in runs if r['ui'] == 'tui') + '.screen').splitlines()
if tui_screen:
    print('  the dashboard was on: first line of a TUI run\'s screen halfway through: ' +
          tui_screen[0].strip())
r0 = runs[0]
line = ('- %s, `%s` (each run: `%s --summary FILE`, embedded platform, real clock, in a '
        'detached tmux %s; %d headless/TUI pairs alternated; 1-min load at run starts %.2f-%.2f): '
        'reports sent/s headless %.0f, TUI %.0f (mean drop %.2f%%); generator CPU %.2f s vs '
        '%.2f s (%+.1f%%, %+.2f%% of a core; headless runs spread %s); CPU per message %.2f vs '
        '%.2f us; tick lag p99 %.2f vs %.2f ms; %d of %d runs shared the machine with >10%% of a '
        'core of other work. **%s** (limit %g%%).') % (
    time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), bench_cmd.strip(), run_cmd,
    r0['pane'] or '?', len(pairs),
    min(side('none', 'load1_at_start') + side('tui', 'load1_at_start')),
    max(side('none', 'load1_at_start') + side('tui', 'load1_at_start')),
    m['none.reports_per_s'], m['tui.reports_per_s'], drop, m['none.gen_cpu_s'],
    m['tui.gen_cpu_s'], rise, rise_core, f(noise, '{:.1f}%'), m['none.cpu_us_per_message'],
    m['tui.cpu_us_per_message'], m['none.tick_lag_p99_ms'], m['tui.tick_lag_p99_ms'],
    len(busy), len(runs), 'PASS' if ok else 'FAIL', limit)
print()
print('for docs/performance.md:')
print(line)
if json_out:
    with open(json_out, 'w') as fo:
        json.dump({'runs': runs, 'pairs': pairs, 'means': m, 'throughput_drop_pct': drop,
                   'gen_cpu_rise_pct': rise, 'verdict': verdict, 'docs_line': line},
                  fo, indent=2, sort_keys=True)
EOF
[ $? -eq 0 ] || die "could not compute the figures"
exit 0
