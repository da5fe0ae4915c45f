#!/usr/bin/env bash
# bench/platform/run.sh: the reference platform's CPU per report. Starts `hubsim platform` in
# its own process(es) with a temporary SQLite store, drives it with `hubsim run`, and reads the
# platform's CPU (utime+stime of every platform process, /proc) and its admin `stats` at two
# moments: once every hub is online and every join is committed (steady state starts), and at
# the last sample before the hubs close their sessions (steady state ends). See
# docs/performance.md section O.
#
# Every figure printed comes from this invocation; a figure that could not be measured is
# printed as n/a, and the verdict never says "met" then.
set -u -o pipefail

usage() {
  cat <<'EOF'
usage: bench/platform/run.sh [FLAGS]

Runs `hubsim platform` (own process; --workers N processes) against `hubsim run` once per
speedup and prints, for each run:

  steady-state CPU per report  (platform CPU delta) / (reports committed delta) between the
                               moment every hub is online with every join committed and the
                               last moment before the hubs close their sessions: THE figure
                               the goal "at most 10 us per report" is about;
  whole-run CPU per report     all platform CPU from start to the end of the run (handshakes,
                               joins, heartbeats and closes included) / reports committed;
  reports generated / acked / committed, lost, and hubsim run's verdict.

  --hubs N              hubs (default 10000)
  --devices-per-hub N   devices per hub (default 10)
  --speedup LIST        comma list of device speedups, one run each (default 1,30)
  --duration D          traffic duration of each run (hubsim syntax, default 60s)
  --workers N           hubsim platform --workers (default 1)
  --gen-workers N       hubsim run --workers (default 1)
  --ramp N              hubsim run --ramp, hubs started per second (default 5000)
  --bind LIST           hubsim run --bind (default 127.0.0.2-127.0.0.5)
  --seed N              hubsim run --seed (default 1)
  --platform-arg ARG    one more argument for hubsim platform (repeatable), e.g.
                        --platform-arg --commit-ms --platform-arg 20
  --goal-us X           the steady-state goal in microseconds (default 10)
  --interval S          seconds between samples of the platform (default 0.5)
  --json FILE           also write every run's figures as JSON to FILE
  --keep DIR            copy logs, summaries and samples to DIR before cleanup
  --hubsim PATH         hubsim binary (default: $HUBSIM, else build/hubsim of this tree)
  -h, --help            this text

Runtime is bounded: each hubsim run is killed after duration + hubs/ramp + 120 s, the platform
is given 60 s to start and 30 s to stop. Processes started here (and only those, by pid) and
temporary files are removed on exit, error, SIGINT or SIGTERM.
Exit status: 0 figures printed (whatever the verdict), 2 usage, 3 a step failed.
EOF
}

die() { echo "bench/platform: $*" >&2; exit 3; }
usage_err() { echo "bench/platform: $*" >&2; echo "try --help" >&2; exit 2; }

HUBS=10000
DPH=10
SPEEDUPS=1,30
DURATION=60s
PWORKERS=1
GWORKERS=1
RAMP=5000
BIND=127.0.0.2-127.0.0.5
SEED=1
GOAL=10
INTERVAL=0.5
JSON_OUT=""
KEEP=""
HUBSIM="${HUBSIM:-}"
PARGS=()

# Each flag that takes a value, and the variable it sets.
declare -A FLAG_VAR=([--hubs]=HUBS [--devices-per-hub]=DPH [--speedup]=SPEEDUPS
  [--duration]=DURATION [--workers]=PWORKERS [--gen-workers]=GWORKERS [--ramp]=RAMP
  [--bind]=BIND [--seed]=SEED [--goal-us]=GOAL [--interval]=INTERVAL [--json]=JSON_OUT
  [--keep]=KEEP [--hubsim]=HUBSIM)
while [ $# -gt 0 ]; do
  flag=$1
  if [ "$flag" = -h ] || [ "$flag" = --help ]; then
    usage
    exit 0
  fi
  [ -n "${FLAG_VAR[$flag]+set}" ] || [ "$flag" = --platform-arg ] ||
    usage_err "unknown flag '$flag'"
  [ $# -ge 2 ] || usage_err "$flag needs a value"
  if [ "$flag" = --platform-arg ]; then
    PARGS+=("$2")
  else
    printf -v "${FLAG_VAR[$flag]}" '%s' "$2"
  fi
  shift 2
done

for f in --hubs --devices-per-hub --workers --gen-workers --ramp --seed; do
  v=${FLAG_VAR[$f]}
  [[ ${!v} =~ ^[0-9]+$ ]] || usage_err "$f must be a non-negative integer, got '${!v}'"
done
[ "$HUBS" -ge 1 ] || usage_err "--hubs must be >= 1"
[ "$DPH" -ge 1 ] || usage_err "--devices-per-hub must be >= 1"
[ "$PWORKERS" -ge 1 ] && [ "$PWORKERS" -le 64 ] || usage_err "--workers must be 1..64"
[ "$GWORKERS" -ge 1 ] || usage_err "--gen-workers must be >= 1"
[[ $SPEEDUPS =~ ^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$ ]] ||
  usage_err "--speedup must be a comma list of numbers, got '$SPEEDUPS'"
[[ $GOAL =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_err "--goal-us must be a number, got '$GOAL'"
[[ $INTERVAL =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_err "--interval must be a number, got '$INTERVAL'"
command -v python3 >/dev/null || die "python3 is required"
DUR_S=$(python3 - "$DURATION" <<'EOF'
import re, sys
m = re.fullmatch(r'([0-9]+(?:\.[0-9]*)?)(ms|s|m|h)?', sys.argv[1])
if not m:
    sys.exit(1)
print(int(float(m.group(1)) * {'ms': 0.001, None: 1, 's': 1, 'm': 60, 'h': 3600}[m.group(2)]))
EOF
) || usage_err "bad --duration '$DURATION'"

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
[ -n "$HUBSIM" ] || HUBSIM="$SRC/build/hubsim"
[ -x "$HUBSIM" ] || die "no hubsim binary at '$HUBSIM' (build it, or pass --hubsim PATH)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-bench-platform.XXXXXX") || die "mktemp failed"
PLAT_PID=""
RUN_PID=""
WATCH_PID=""

# Stops one process this script started: SIGTERM, up to 30 s, then SIGKILL.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$WATCH_PID"
  stop_pid "$RUN_PID"
  stop_pid "$PLAT_PID" # the front stops its own workers on SIGTERM
  if [ -n "$KEEP" ] && [ -d "$TMP" ]; then
    mkdir -p "$KEEP" && cp -r "$TMP"/. "$KEEP"/ 2>/dev/null
    rm -f "$KEEP"/*.db* 2>/dev/null
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench/platform: interrupted" >&2; exit 130' INT TERM

# One run at speedup $1 (name $2): platform, generator, watcher; leaves $TMP/$2.* behind.
one_run() {
  local sp=$1 name=$2 d="$TMP/$2"
  mkdir -p "$d"
  "$HUBSIM" platform --workers "$PWORKERS" --listen hubrpc://127.0.0.1:0 --admin 127.0.0.1:0 \
    --db "$d/p.db" --ready-file "$d/ready" ${PARGS[@]+"${PARGS[@]}"} 2>"$d/platform.err" &
  PLAT_PID=$!
  # The ready file appears once every worker listens: 60 s at most.
  local tenths=0
  until [ -s "$d/ready" ] || [ $tenths -ge 600 ]; do
    kill -0 "$PLAT_PID" 2>/dev/null || { cat "$d/platform.err" >&2; die "the platform exited"; }
    tenths=$((tenths + 1))
    sleep 0.1
  done
  local port admin
  port=$(head -n1 "$d/ready" | tr -dc 0-9)
  admin=$(sed -n 's/.*listening on port [0-9]*, admin on port \([0-9]*\).*/\1/p' \
    "$d/platform.err" | head -n1)
  [ -n "$port" ] || die "the platform wrote no port to its ready file within 60 s"
  [ -n "$admin" ] || die "the platform did not say its admin port (platform.err)"
  local limit=$((DUR_S + 120 + (RAMP > 0 ? HUBS / RAMP : 0)))
  local cmd=("$HUBSIM" run --platform "hubrpc://127.0.0.1:$port" --hubs "$HUBS"
    --devices-per-hub "$DPH" --duration "$DURATION" --workers "$GWORKERS" --bind "$BIND"
    --seed "$SEED" --allow-lag --ramp "$RAMP" --speedup "$sp" -q --ui none
    --summary "$d/summary.json")
  printf '%q ' "${cmd[@]}" >"$d/cmd"
  echo "platform: --workers $PWORKERS ${PARGS[*]+${PARGS[*]}}" >"$d/pcmd"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$d/started"
  cut -d' ' -f1-3 /proc/loadavg >"$d/load_start"
  timeout -s TERM -k 10 "$limit" "${cmd[@]}" >"$d/run.out" 2>"$d/run.err" &
  RUN_PID=$!
  python3 "$HERE/watch.py" "$admin" "$PLAT_PID" "$RUN_PID" "$HUBS" "$DPH" "$d/watch.json" \
    "$INTERVAL" 2>"$d/watch.err" &
  WATCH_PID=$!
  wait "$RUN_PID"
  echo $? >"$d/run.rc"
  RUN_PID=""
  wait "$WATCH_PID" || echo "bench/platform: the sampler failed (see $d/watch.err)" >&2
  WATCH_PID=""
  cut -d' ' -f1-3 /proc/loadavg >"$d/load_end"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$d/ended"
  stop_pid "$PLAT_PID"
  PLAT_PID=""
}

IFS=, read -r -a SPS <<<"$SPEEDUPS"
i=0
for sp in "${SPS[@]}"; do
  one_run "$sp" "r$i"
  i=$((i + 1))
done

python3 - "$TMP" "$GOAL" "$HUBS" "$DPH" "$PWORKERS" "$DURATION" "$JSON_OUT" "${SPS[@]}" <<'EOF'
import json, os, sys
tmp, goal, hubs, dph, pw, dur, json_out = sys.argv[1:8]
goal = float(goal)
speedups = sys.argv[8:]

def load(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

def text(p):
    try:
        with open(p) as f:
            return f.read().strip()
    except OSError:
        return ''

def g(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d

runs = []
for i, sp in enumerate(speedups):
    d = os.path.join(tmp, f'r{i}')
    s, w = load(os.path.join(d, 'summary.json')), load(os.path.join(d, 'watch.json'))
    r = {'speedup': float(sp), 'hubs': int(hubs), 'devices_per_hub': int(dph),
         'platform_workers': int(pw), 'duration': dur, 'command': text(os.path.join(d, 'cmd')),
         'started_utc': text(os.path.join(d, 'started')),
         'ended_utc': text(os.path.join(d, 'ended')),
         'loadavg_start': text(os.path.join(d, 'load_start')),
         'loadavg_end': text(os.path.join(d, 'load_end')),
         'run_exit_code': int(text(os.path.join(d, 'run.rc')) or -1),
         'verdict': g(s, 'verdict', 'text')}
    rep = g(s, 'counts', 'reports') or {}
    for k in ('generated', 'sent', 'acked'):
        r['reports_' + k] = rep.get(k)
    r['lost'] = g(s, 'counts', 'lost')
    st, la, en = g(w, 'start'), g(w, 'last'), g(w, 'end')
    r['samples'] = g(w, 'samples')
    if en:
        r['cpu_whole_s'] = en['cpu_s']
        r['reports_committed'] = en['stats'].get('reports_committed')
        r['joined'] = en['stats'].get('joined')
        r['commits'] = en['stats'].get('commits')
        rc = r['reports_committed']
        r['us_per_report_whole'] = en['cpu_s'] * 1e6 / rc if rc else None
    if st and la and la['t'] > st['t']:
        dc = la['cpu_s'] - st['cpu_s']
        dr = la['stats']['reports_committed'] - st['stats']['reports_committed']
        r['steady_s'] = la['t'] - st['t']
        r['steady_cpu_s'] = dc
        r['steady_reports'] = dr
        r['steady_commits'] = la['stats']['commits'] - st['stats']['commits']
        r['us_per_report_steady'] = dc * 1e6 / dr if dr > 0 else None
    runs.append(r)

def f(v, fmt):
    return 'n/a' if v is None else fmt.format(v)

for r in runs:
    print(f"platform CPU per report: {r['hubs']} hubs x {r['devices_per_hub']} devices, "
          f"--speedup {r['speedup']:g}, {r['duration']}, platform --workers {r['platform_workers']}")
    print(f"  run                           {r['started_utc']} .. {r['ended_utc']}, load average "
          f"{r['loadavg_start']} at the start, {r['loadavg_end']} at the end")
    print(f"  steady-state CPU per report   {f(r.get('us_per_report_steady'), '{:.2f}')} us   "
          f"<- the goal's figure: {f(r.get('steady_cpu_s'), '{:.3f}')} s CPU / "
          f"{f(r.get('steady_reports'), '{:,}')} reports committed in "
          f"{f(r.get('steady_s'), '{:.1f}')} s (every hub online, every join committed)")
    if r.get('steady_cpu_s') is not None and r['steady_cpu_s'] < 1.0:
        print("  (under 1 s of CPU in the window: /proc counts CPU in 10 ms ticks, so the figure "
              "above is coarse)")
    print(f"  whole-run CPU per report      {f(r.get('us_per_report_whole'), '{:.2f}')} us   "
          f"({f(r.get('cpu_whole_s'), '{:.3f}')} s CPU / {f(r.get('reports_committed'), '{:,}')} "
          f"reports committed; {f(r.get('joined'), '{:,}')} joins, handshakes, heartbeats, "
          f"closes included)")
    print(f"  reports generated/acked       {f(r['reports_generated'], '{:,}')} / "
          f"{f(r['reports_acked'], '{:,}')}, lost {f(r['lost'], '{}')}")
    print(f"  hubsim run                    exit {r['run_exit_code']}, verdict: {r['verdict']}")
    v = r.get('us_per_report_steady')
    ok = (v is not None and v <= goal and r['lost'] == 0 and r['run_exit_code'] == 0
          and r['reports_acked'] is not None and r['reports_acked'] == r['reports_generated'])
    r['goal_met'] = ok
    why = '' if ok else ('' if v is None or v <= goal else f' ({v:.2f} us > {goal:g} us)')
    if v is None:
        why = ' (no steady-state window was measured)'
    elif not ok and v <= goal:
        why = ' (a report was lost or not acked, or hubsim run failed)'
    print(f"  goal: steady state <= {goal:g} us per report: {'met' if ok else 'NOT met'}{why}")
if json_out:
    with open(json_out, 'w') as fo:
        json.dump(runs, fo, indent=1)
EOF
