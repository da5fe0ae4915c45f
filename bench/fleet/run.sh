#!/usr/bin/env bash
# bench/fleet/run.sh: fleet benchmark of `hubsim run` against the reference platform running
# in its own process (a 10k-hub run needs 10k sockets on each side and the open-file limit is
# per process). Prints one block of measured figures; see docs/performance.md.
#
# Every figure printed comes from this invocation: the run's JSON summary, /proc of the
# platform process, /usr/bin/time around the run (when installed), and a baseline run of the
# same command with 1 hub x 1 device for the RSS delta.
set -u -o pipefail

usage() {
  cat <<'EOF'
usage: bench/fleet/run.sh [FLAGS]

Starts `hubsim platform` on a free loopback port (own process, temporary SQLite store),
runs `hubsim run` against it, stops the platform with SIGTERM and prints one block of
measured figures. A baseline run (1 hub x 1 device, same other flags) gives the RSS delta.

  --hubs N              hubs (default 10000)
  --devices-per-hub N   devices per hub (default 10)
  --duration D          traffic duration passed to hubsim run (default 60s)
  --speedup X           device behaviour speedup (default 60)
  --ramp N              hubs started per second, 0 = all at once (default 0; the ramp
                        figure is hubs / ramp.all_online_s and only means "connection
                        ramp rate" with 0)
  --command-rate N      platform background commands per second (default 0)
  --drain D             hubsim run --drain (default 10s)
  --seed N              hubsim run --seed (default 1)
  --mix LIST            hubsim run --mix (default: hubsim's default)
  --bind LIST           hubsim run --bind (source addresses; needed above ~28k hubs)
  --baseline-duration D duration of the 1x1 baseline run (default: same as --duration,
                        capped at 10s; RSS of a 1x1 fleet does not grow with time)
  --no-baseline         skip the baseline run (no RSS delta figures)
  --allow-lag           pass --allow-lag to hubsim run (figures are printed either way;
                        the verdict line says whether the generator kept its schedule)
  --progress            show hubsim run's once-a-second progress lines on stderr (drops -q)
  --syscalls            count the run's system calls (perf stat on syscall tracepoints)
                        and print them per report sent
  --perf FILE           profile the run with `perf record -g -e cpu-clock`, keep the
                        data in FILE and print the top self-time symbols
  --json FILE           also write the figures as JSON to FILE
  --keep DIR            copy the summaries and logs to DIR before cleanup
  --hubsim PATH         hubsim binary (default: $HUBSIM, else build-bench/hubsim, else
                        build/hubsim under the source tree)
  -h, --help            this text

Runtime is bounded: each hubsim run is killed after duration + drain + ramp + 120 s.
Temporary files and child processes are removed on exit, error or Ctrl-C.
Exit status: 0 figures printed (whatever the verdict), 2 usage, 3 a step failed.
EOF
}

die() { echo "bench/fleet: $*" >&2; exit 3; }
usage_err() { echo "bench/fleet: $*" >&2; echo "try --help" >&2; exit 2; }

# Duration string (hubsim syntax: 30s, 5m, 2h, 500ms, plain seconds) -> seconds, or fail.
dur_s() {
  python3 - "$1" <<'EOF'
import re, sys
m = re.fullmatch(r'([0-9]+(?:\.[0-9]*)?)(ms|s|m|h|d)?', sys.argv[1])
if not m:
    sys.exit(1)
mul = {'ms': 0.001, None: 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}[m.group(2)]
print(float(m.group(1)) * mul)
EOF
}

HUBS=10000
DPH=10
DURATION=60s
SPEEDUP=60
RAMP=0
CMD_RATE=0
DRAIN=10s
SEED=1
MIX=""
BIND=""
BASE_DURATION=""
BASELINE=1
ALLOW_LAG=0
PROGRESS=0
SYSCALLS=0
PERF_OUT=""
JSON_OUT=""
KEEP=""
HUBSIM="${HUBSIM:-}"

need() { [ $# -ge 2 ] || usage_err "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
  --hubs) need "$@"; HUBS=$2; shift 2 ;;
  --devices-per-hub) need "$@"; DPH=$2; shift 2 ;;
  --duration) need "$@"; DURATION=$2; shift 2 ;;
  --speedup) need "$@"; SPEEDUP=$2; shift 2 ;;
  --ramp) need "$@"; RAMP=$2; shift 2 ;;
  --command-rate) need "$@"; CMD_RATE=$2; shift 2 ;;
  --drain) need "$@"; DRAIN=$2; shift 2 ;;
  --seed) need "$@"; SEED=$2; shift 2 ;;
  --mix) need "$@"; MIX=$2; shift 2 ;;
  --bind) need "$@"; BIND=$2; shift 2 ;;
  --baseline-duration) need "$@"; BASE_DURATION=$2; shift 2 ;;
  --no-baseline) BASELINE=0; shift ;;
  --allow-lag) ALLOW_LAG=1; shift ;;
  --progress) PROGRESS=1; shift ;;
  --syscalls) SYSCALLS=1; shift ;;
  --perf) need "$@"; PERF_OUT=$2; shift 2 ;;
  --json) need "$@"; JSON_OUT=$2; shift 2 ;;
  --keep) need "$@"; KEEP=$2; shift 2 ;;
  --hubsim) need "$@"; HUBSIM=$2; shift 2 ;;
  -h | --help) usage; exit 0 ;;
  *) usage_err "unknown flag '$1'" ;;
  esac
done

for v in HUBS DPH RAMP CMD_RATE SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] || usage_err "$v must be a non-negative integer, got '${!v}'"
done
[ "$HUBS" -ge 1 ] || usage_err "--hubs must be >= 1"
[ "$DPH" -ge 1 ] || usage_err "--devices-per-hub must be >= 1"
[[ $SPEEDUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_err "--speedup must be a number, got '$SPEEDUP'"
command -v python3 >/dev/null || die "python3 is required"
DUR_S=$(dur_s "$DURATION") || usage_err "bad --duration '$DURATION'"
DRAIN_S=$(dur_s "$DRAIN") || usage_err "bad --drain '$DRAIN'"
if [ -z "$BASE_DURATION" ]; then
  BASE_DURATION=$(python3 -c "print('%gs' % min(float('$DUR_S'), 10.0))")
fi
dur_s "$BASE_DURATION" >/dev/null || usage_err "bad --baseline-duration '$BASE_DURATION'"

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
if [ -z "$HUBSIM" ]; then
  for c in "$SRC/build-bench/hubsim" "$SRC/build/hubsim"; do
    [ -x "$c" ] && { HUBSIM=$c; break; }
  done
fi
{ [ -n "$HUBSIM" ] && [ -x "$HUBSIM" ]; } || die "no hubsim binary (build it, or pass --hubsim PATH)"
[ -n "$PERF_OUT" ] && [ "$SYSCALLS" = 1 ] && usage_err "--perf and --syscalls do not combine"
if [ -n "$PERF_OUT" ] || [ "$SYSCALLS" = 1 ]; then
  command -v perf >/dev/null || die "--perf/--syscalls: perf is not installed"
fi
TIME_BIN=""
[ -x /usr/bin/time ] && TIME_BIN=/usr/bin/time

NOFILE=$(ulimit -n)
if [ "$NOFILE" != unlimited ] && [ "$HUBS" -ge $((NOFILE - 64)) ]; then
  echo "bench/fleet: warning: $HUBS hubs against an open-file limit of $NOFILE per process" >&2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hubsim-bench-fleet.XXXXXX") || die "mktemp failed"
PLAT_PID=""
RUN_PID=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Only the processes this script started, by pid. timeout(1) forwards the signal to hubsim.
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -TERM "$RUN_PID" 2>/dev/null
    wait "$RUN_PID" 2>/dev/null
  fi
  if [ -n "$PLAT_PID" ] && kill -0 "$PLAT_PID" 2>/dev/null; then
    kill -TERM "$PLAT_PID" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$PLAT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PLAT_PID" 2>/dev/null
    wait "$PLAT_PID" 2>/dev/null
  fi
  if [ -n "$KEEP" ] && [ -d "$TMP" ]; then
    mkdir -p "$KEEP" && cp -r "$TMP"/. "$KEEP"/ 2>/dev/null
    rm -f "$KEEP"/*.db "$KEEP"/*.db-wal "$KEEP"/*.db-shm
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "bench/fleet: interrupted" >&2; exit 130' INT TERM

# start_platform NAME: starts the platform, sets PLAT_PID and PORT.
start_platform() {
  local name=$1
  rm -f "$TMP/$name.ready"
  "$HUBSIM" platform --listen hubrpc://127.0.0.1:0 --db "$TMP/$name.db" \
    --ready-file "$TMP/$name.ready" --command-rate "$CMD_RATE" 2>"$TMP/$name.platform.err" &
  PLAT_PID=$!
  for _ in $(seq 200); do
    [ -s "$TMP/$name.ready" ] && break
    kill -0 "$PLAT_PID" 2>/dev/null || { cat "$TMP/$name.platform.err" >&2; die "platform exited"; }
    sleep 0.05
  done
  PORT=$(tr -dc 0-9 <"$TMP/$name.ready")
  [ -n "$PORT" ] || die "platform wrote no port to its ready file within 10 s"
}

# stop_platform NAME: records /proc figures of the platform, then SIGTERM and wait.
stop_platform() {
  local name=$1
  python3 - "$PLAT_PID" "$(getconf CLK_TCK)" >"$TMP/$name.platform.proc" <<'EOF' || true
import json, sys
pid, hz = sys.argv[1], int(sys.argv[2])
stat = open(f'/proc/{pid}/stat').read()
f = stat[stat.rindex(')') + 2:].split()   # fields from 3 (state) on
status = {l.split(':')[0]: l.split(':')[1].strip() for l in open(f'/proc/{pid}/status')}
kib = lambda k: int(status[k].split()[0]) * 1024 if k in status else None
print(json.dumps({'utime_s': int(f[11]) / hz, 'stime_s': int(f[12]) / hz,
                  'hwm_bytes': kib('VmHWM'), 'threads': int(status.get('Threads', 0))}))
EOF
  kill -TERM "$PLAT_PID" 2>/dev/null
  local rc=0
  for _ in $(seq 300); do kill -0 "$PLAT_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$PLAT_PID" 2>/dev/null; then
    echo "bench/fleet: platform did not stop within 30 s of SIGTERM; killing it" >&2
    kill -KILL "$PLAT_PID" 2>/dev/null
  fi
  wait "$PLAT_PID" 2>/dev/null || rc=$?
  echo "$rc" >"$TMP/$name.platform.rc"
  PLAT_PID=""
}

# run_fleet NAME HUBS DPH DURATION: one platform + one hubsim run; files under $TMP/NAME.*
# Machine-wide busy CPU seconds (all cores) from /proc/stat, to show what else ran meanwhile.
busy_s() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2+$3+$4+$7+$8+$9)/hz; exit}' /proc/stat
}

# rss_sampler NAME PID: once a second, VmRSS of the hubsim process under PID (timeout -> time
# or perf -> hubsim), so the figures can show resident memory after the start-up burst too.
rss_sampler() {
  local name=$1 top=$2 pid="" t=0
  while kill -0 "$top" 2>/dev/null; do
    if [ -z "$pid" ]; then
      local p=$top
      for _ in 1 2 3; do
        [ "$(cat /proc/$p/comm 2>/dev/null)" = hubsim ] && { pid=$p; break; }
        p=$(cat /proc/$p/task/$p/children 2>/dev/null | awk '{print $1}')
        [ -n "$p" ] || break
      done
    fi
    [ -n "$pid" ] && awk -v t=$t '/^VmRSS/{print t, $2 * 1024}' /proc/$pid/status 2>/dev/null \
      >>"$TMP/$name.rss"
    sleep 1
    t=$((t + 1))
  done
}

run_fleet() {
  local name=$1 hubs=$2 dph=$3 dur=$4 perf=${5:-} sysc=${6:-0}
  busy_s >"$TMP/$name.busy0"
  start_platform "$name"
  local args=(run --platform "hubrpc://127.0.0.1:$PORT" --hubs "$hubs" --devices-per-hub "$dph"
    --duration "$dur" --speedup "$SPEEDUP" --ramp "$RAMP" --drain "$DRAIN" --seed "$SEED"
    --summary "$TMP/$name.summary.json")
  [ "$PROGRESS" = 1 ] || args+=(-q)
  [ -n "$MIX" ] && args+=(--mix "$MIX")
  [ -n "$BIND" ] && args+=(--bind "$BIND")
  [ "$ALLOW_LAG" = 1 ] && args+=(--allow-lag)
  local ds limit
  ds=$(dur_s "$dur")
  limit=$(python3 -c "r=$RAMP; print(int($ds + $DRAIN_S + ($HUBS / r if r else 0) + 120))")
  local wrap=(timeout -s TERM -k 10 "$limit")
  # /usr/bin/time reports the whole process (all threads); not combined with perf, whose
  # own RSS would be folded into the figure.
  if [ -n "$perf" ]; then
    wrap+=(perf record -q -g -e cpu-clock -o "$perf" --)
  elif [ "$sysc" = 1 ]; then
    local ev=""
    for sc in write writev sendmsg sendto read readv recvfrom epoll_wait epoll_pwait timerfd_settime \
      epoll_ctl connect close; do
      ev+="syscalls:sys_enter_$sc,"
    done
    wrap+=(perf stat -x ',' -e "${ev%,}" -o "$TMP/$name.syscalls" --)
  elif [ -n "$TIME_BIN" ]; then
    wrap+=("$TIME_BIN" -f '{"elapsed_s": %e, "user_s": %U, "sys_s": %S, "maxrss_kib": %M}'
      -o "$TMP/$name.time.json")
  fi
  echo "$HUBSIM ${args[*]}" >"$TMP/$name.cmd"
  if [ "$PROGRESS" = 1 ]; then
    "${wrap[@]}" "$HUBSIM" "${args[@]}" >"$TMP/$name.run.out" 2> >(tee "$TMP/$name.run.err" >&2) &
  else
    "${wrap[@]}" "$HUBSIM" "${args[@]}" >"$TMP/$name.run.out" 2>"$TMP/$name.run.err" &
  fi
  RUN_PID=$!
  rss_sampler "$name" "$RUN_PID" &
  local sampler=$!
  local rc=0
  wait "$RUN_PID" || rc=$?
  RUN_PID=""
  wait "$sampler" 2>/dev/null
  echo "$rc" >"$TMP/$name.run.rc"
  stop_platform "$name"
  busy_s >"$TMP/$name.busy1"
  if [ ! -s "$TMP/$name.summary.json" ]; then
    echo "bench/fleet: '$name' run exited $rc without a summary; its output:" >&2
    tail -n 40 "$TMP/$name.run.out" "$TMP/$name.run.err" "$TMP/$name.platform.err" >&2
    die "run '$name' failed"
  fi
}

echo "bench/fleet: $HUBS hubs x $DPH devices, duration $DURATION, speedup $SPEEDUP, ramp $RAMP;" \
  "platform in its own process" >&2
if [ "$BASELINE" = 1 ]; then
  echo "bench/fleet: baseline run 1 hub x 1 device, duration $BASE_DURATION" >&2
  SAVE_HUBS=$HUBS
  run_fleet base 1 1 "$BASE_DURATION"
  HUBS=$SAVE_HUBS
fi
echo "bench/fleet: main run" >&2
run_fleet main "$HUBS" "$DPH" "$DURATION" "$PERF_OUT" "$SYSCALLS"

python3 - "$TMP" "$BASELINE" "$HUBS" "$DPH" "$RAMP" "$SPEEDUP" "$JSON_OUT" <<'EOF'
import json, os, re, sys
tmp, baseline, hubs, dph, ramp, speedup, json_out = sys.argv[1:8]
baseline, hubs, dph, ramp = baseline == '1', int(hubs), int(dph), int(ramp)

def load(path, default=None):
    # /usr/bin/time puts "Command exited with non-zero status N" before its format line,
    # so the JSON is the last line.
    try:
        with open(os.path.join(tmp, path)) as f:
            t = f.read().strip()
    except OSError:
        return default
    for cand in (t, t.splitlines()[-1] if t else ''):
        try:
            return json.loads(cand)
        except ValueError:
            pass
    return default

def text(path):
    try:
        with open(os.path.join(tmp, path)) as f:
            return f.read().strip()
    except OSError:
        return ''

def plat_counters(name):
    m = re.search(r'counters (\{.*\})', text(name + '.platform.err'))
    return json.loads(m.group(1)) if m else None

s = load('main.summary.json')
b = load('base.summary.json') if baseline else None
tm = load('main.time.json')
tb = load('base.time.json') if baseline else None
pp = load('main.platform.proc')
pc = plat_counters('main')

def g(d, *keys):
    for k in keys:
        if d is None or k not in d:
            return None
        d = d[k]
    return d

out = {}
lines = []
def put(key, label, value, fmt='{}', note=''):
    out[key] = value
    v = 'n/a' if value is None else fmt.format(value)
    lines.append(f'  {label:<34} {v}' + (f'  ({note})' if note else ''))

rep = g(s, 'counts', 'reports')
gen = g(s, 'generator')
cpu = (gen['cpu_user_s'] + gen['cpu_sys_s']) if gen else None
sent = rep['sent'] if rep else 0
put('command', 'command', text('main.cmd'))
put('run_exit_code', 'hubsim run exit code', int(text('main.run.rc') or -1))
put('verdict', 'verdict', g(s, 'verdict', 'text'))
put('hubs', 'hubs', g(s, 'fleet', 'hubs'))
put('devices', 'devices', g(s, 'fleet', 'devices'))
put('speedup', 'speedup', float(speedup))
put('elapsed_s', 'elapsed (s)', g(s, 'elapsed_s'), '{:.2f}')
for k in ('generated', 'sent', 'acked', 'resent', 'dropped'):
    put('reports_' + k, 'reports ' + k, g(rep, k))
put('reports_per_s', 'reports sent per second', sent / s['elapsed_s'] if sent else None,
    '{:.0f}', 'sent / elapsed, elapsed includes drain')
put('lost', 'reports lost', g(s, 'counts', 'lost'))
put('heartbeats_sent', 'heartbeats sent', g(s, 'sessions', 'heartbeats_sent'))
put('sessions_opened', 'sessions opened', g(s, 'sessions', 'opened'))
put('sessions_dropped', 'sessions dropped', g(s, 'sessions', 'dropped'))
put('errors', 'errors (summary)', g(s, 'errors'), '{}')
put('gen_cpu_s', 'generator CPU (s, fleet thread)', cpu, '{:.3f}',
    'user %.3f + sys %.3f' % (gen['cpu_user_s'], gen['cpu_sys_s']) if gen else '')
put('gen_cpu_us_per_report', 'generator CPU per report (us)',
    cpu * 1e6 / sent if cpu is not None and sent else None, '{:.2f}',
    'fleet-thread CPU / reports sent; all CPU, incl. handshakes, heartbeats, joins')
put('gen_cpu_us_per_message', 'generator CPU per message (us)', g(gen, 'cpu_us_per_message'),
    '{:.2f}', "summary's cpu_us_per_message: / all sequenced messages sent+resent")
if tm:
    put('proc_cpu_s', 'hubsim run process CPU (s)', tm['user_s'] + tm['sys_s'], '{:.2f}',
        '/usr/bin/time, all threads, incl. start and exit')
rss = g(gen, 'max_rss_bytes')
put('rss_bytes', 'peak RSS hubsim run (bytes)', rss, '{}', 'getrusage RUSAGE_SELF ru_maxrss')
if tm:
    put('rss_time_bytes', 'peak RSS via /usr/bin/time (bytes)', tm['maxrss_kib'] * 1024)
devices = g(s, 'fleet', 'devices') or 0
put('rss_raw_per_device', 'RSS raw per device (B)', rss / devices if rss and devices else None,
    '{:.0f}', 'peak RSS / devices')
put('rss_raw_per_hub', 'RSS raw per hub (B)', rss / hubs if rss else None, '{:.0f}')
brss = g(b, 'generator', 'max_rss_bytes')
if brss:
    put('rss_baseline_bytes', 'baseline peak RSS 1x1 (bytes)', brss)
    put('rss_delta_per_device', 'RSS delta per device (B)', (rss - brss) / devices, '{:.0f}',
        '(peak - baseline) / devices')
    put('rss_delta_per_hub', 'RSS delta per hub (B)', (rss - brss) / hubs, '{:.0f}',
        '(peak - baseline) / hubs')
try:
    samples = [tuple(map(int, l.split())) for l in text('main.rss').splitlines()]
except ValueError:
    samples = []
if samples:
    put('rss_sampled_max_bytes', 'RSS sampled max (bytes)', max(v for _, v in samples), '{}',
        'VmRSS once a second, %d samples' % len(samples))
    # The last sample taken before the traffic ends: after the start-up burst has drained.
    dur = float(s['duration_s']) if s else 0
    before = [v for t, v in samples if t <= dur - 1]
    if before and devices:
        put('rss_end_bytes', 'RSS at end of traffic (bytes)', before[-1], '{}',
            'last VmRSS sample before the duration ends')
        if brss:
            put('rss_end_delta_per_device', 'RSS end delta per device (B)',
                (before[-1] - brss) / devices, '{:.0f}', '(end RSS - baseline peak) / devices')
            put('rss_end_delta_per_hub', 'RSS end delta per hub (B)',
                (before[-1] - brss) / hubs, '{:.0f}')
aos = g(s, 'ramp', 'all_online_s')
put('all_online_s', 'all hubs online after (s)', aos, '{:.3f}')
put('ramp_hubs_per_s', 'connection ramp (hubs/s)', hubs / aos if aos else None, '{:.0f}',
    'hubs / all_online_s, all at once' if ramp == 0 else 'limited by --ramp %d' % ramp)
lat = g(s, 'latency')
put('handshake_p99_ms', 'handshake p99 (ms)', g(lat, 'handshake', 'p99_ms'), '{:.3f}')
put('send_lag_p50_ms', 'send lag p50 (ms)', g(lat, 'report_send_lag', 'p50_ms'), '{:.3f}')
put('send_lag_p99_ms', 'send lag p99 (ms)', g(lat, 'report_send_lag', 'p99_ms'), '{:.3f}')
put('tick_lag_p99_ms', 'tick lag p99 (ms)', g(lat, 'generator_tick_lag', 'p99_ms'), '{:.3f}')
put('device_wakeups', 'device wakeups (timer firings)', g(lat, 'generator_tick_lag', 'count'), '{}',
    'after the warmup')
put('device_wakeups_per_report', 'device wakeups per report sent',
    g(lat, 'generator_tick_lag', 'count') / sent if sent and g(lat, 'generator_tick_lag', 'count')
    is not None else None, '{:.2f}')
put('ack_p50_ms', 'ack latency p50 (ms)', g(lat, 'report_ack', 'p50_ms'), '{:.3f}')
put('ack_p99_ms', 'ack latency p99 (ms)', g(lat, 'report_ack', 'p99_ms'), '{:.3f}')
if pp:
    pcpu = pp['utime_s'] + pp['stime_s']
    put('platform_cpu_s', 'platform CPU (s)', pcpu, '{:.2f}',
        '/proc/PID/stat before SIGTERM: user %.2f + sys %.2f, whole life' %
        (pp['utime_s'], pp['stime_s']))
    put('platform_cpu_us_per_report', 'platform CPU per report (us)',
        pcpu * 1e6 / sent if sent else None, '{:.2f}', 'platform CPU / reports sent')
    put('platform_rss_bytes', 'platform peak RSS (bytes)', pp['hwm_bytes'], '{}', 'VmHWM')
if pc:
    put('platform_reports_new', 'platform reports stored', pc.get('reports_new'))
    put('platform_reports_duplicate', 'platform duplicates', pc.get('reports_duplicate'))
    put('platform_sessions_accepted', 'platform sessions accepted', pc.get('sessions_accepted'))
try:
    busy = float(text('main.busy1')) - float(text('main.busy0'))
except ValueError:
    busy = None
if busy is not None and pp and tm:
    other = busy - (pp['utime_s'] + pp['stime_s']) - (tm['user_s'] + tm['sys_s'])
    put('other_cpu_s', 'CPU of other processes (s)', other, '{:.1f}',
        '/proc/stat busy during the run minus platform and hubsim run; %d cores, %.0f s wall'
        % (os.cpu_count(), tm['elapsed_s']))
sc = text('main.syscalls')
if sc:
    calls = {}
    for l in sc.splitlines():
        f = l.split(',')
        if len(f) > 2 and f[2].startswith('syscalls:sys_enter_') and f[0].isdigit():
            calls[f[2][len('syscalls:sys_enter_'):]] = int(f[0])
    out['syscalls'] = calls
    for k, v in sorted(calls.items(), key=lambda kv: -kv[1]):
        if v:
            lines.append('  %-34s %d  (%.3f per report sent)' % ('syscalls ' + k, v,
                         v / sent if sent else float('nan')))
put('platform_exit_code', 'platform exit code', int(text('main.platform.rc') or -1))

print('bench/fleet results')
print('\n'.join(lines))
if json_out:
    with open(json_out, 'w') as f:
        json.dump(out, f, indent=2, sort_keys=True)
EOF
[ $? -eq 0 ] || die "could not compute the figures"
if [ -n "$PERF_OUT" ] && [ -s "$PERF_OUT" ]; then
  echo "perf: top self-time symbols of the hubsim run process (cpu-clock samples)"
  perf report -i "$PERF_OUT" --no-children --stdio --sort symbol 2>/dev/null \
    | grep -E '^ +[0-9]+\.[0-9]+%' | head -n 30
fi
exit 0
