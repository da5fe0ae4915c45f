#!/usr/bin/env bash
# bench/fleet/ratio.sh: the generator's CPU per report as a ratio to the loopback floor of this
# machine, measured in one invocation, for several fleet sizes and speedups. The floor is
# bench/syscall's bench_loopback_write on as many connections as the fleet has hubs (one write of
# a report plus one read of its ack); each cell's generator figure is one bench/fleet/run.sh run
# against the reference platform in its own process. Beside each ratio: the devices' wakeups per
# report sent (timer firings of the devices / reports sent), the lever the ratio depends on most.
set -u -o pipefail

usage() {
  cat <<'EOF'
usage: bench/fleet/ratio.sh [FLAGS]

Prints one table: for each hub count and speedup, the loopback floor (one 100-byte write plus
one 100-byte read, CPU per call, on as many connections as hubs), the generator's CPU per
report sent, their ratio, and the devices' wakeups per report. Every figure comes from this
invocation. The goal it is held against (docs/performance.md): a ratio of at most 1.5.

  --hubs LIST           hub counts, comma-separated (default 1000,10000)
  --speedups LIST       device speedups, comma-separated (default 1,30,60)
  --devices-per-hub N   devices per hub (default 10)
  --duration D          traffic duration of each run (default 30s)
  --json FILE           also write every cell's figures as JSON to FILE
  --hubsim PATH         hubsim binary (passed to bench/fleet/run.sh)
  -h, --help            this text

The floor's connections are capped at 8,000 (it holds both ends of each connection in one
process, and the open-file limit is per process); a larger hub count is measured against the
floor at 8,000 connections and the table says so. Each run is bounded by bench/fleet/run.sh
(duration + drain + 120 s). Exit status: 0 table printed, 2 usage, 3 a step failed.
EOF
}

die() { echo "bench/fleet/ratio: $*" >&2; exit 3; }
usage_err() { echo "bench/fleet/ratio: $*" >&2; echo "try --help" >&2; exit 2; }

HUBS=1000,10000
SPEEDUPS=1,30,60
DPH=10
DURATION=30s
JSON=""
HUBSIM_ARG=()
while [ $# -gt 0 ]; do
  case $1 in
  --hubs) [ $# -ge 2 ] || usage_err "--hubs needs a value"; HUBS=$2; shift 2 ;;
  --speedups) [ $# -ge 2 ] || usage_err "--speedups needs a value"; SPEEDUPS=$2; shift 2 ;;
  --devices-per-hub) [ $# -ge 2 ] || usage_err "--devices-per-hub needs a value"; DPH=$2; shift 2 ;;
  --duration) [ $# -ge 2 ] || usage_err "--duration needs a value"; DURATION=$2; shift 2 ;;
  --json) [ $# -ge 2 ] || usage_err "--json needs a value"; JSON=$2; shift 2 ;;
  --hubsim) [ $# -ge 2 ] || usage_err "--hubsim needs a value"; HUBSIM_ARG=(--hubsim "$2"); shift 2 ;;
  -h | --help) usage; exit 0 ;;
  *) usage_err "unknown flag '$1'" ;;
  esac
done
for v in ${HUBS//,/ } ${SPEEDUPS//,/ } $DPH; do
  [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] && [ "$v" != 0 ] || usage_err "not a positive number: '$v'"
done
for h in ${HUBS//,/ }; do
  [[ $h =~ ^[0-9]+$ ]] || usage_err "--hubs: not a whole number: '$h'"
done

SRC=$(cd "$(dirname "$0")/../.." && pwd)
FLOOR_BIN=""
for c in "$SRC/build-bench/bench/bench_loopback_write" "$SRC/build/bench/bench_loopback_write"; do
  if [ -x "$c" ]; then FLOOR_BIN=$c; break; fi
done
[ -n "$FLOOR_BIN" ] || die "bench_loopback_write not built (cmake --build build)"
WORK=$(mktemp -d /tmp/hubsim-ratio.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

echo "bench/fleet/ratio  $(date -u +%Y-%m-%dT%H:%M:%SZ)  $(nproc) cpus  load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for h in ${HUBS//,/ }; do
  n=$((h > 8000 ? 8000 : h))
  rounds=$((200000 / n))
  [ $rounds -ge 10 ] || rounds=10
  echo "floor: $n connections..." >&2
  timeout 300 "$FLOOR_BIN" "$n" "$rounds" 100 >"$WORK/floor.$h" || die "bench_loopback_write $n failed"
  for s in ${SPEEDUPS//,/ }; do
    echo "run: $h hubs x $DPH devices, speedup $s, $DURATION..." >&2
    "$SRC/bench/fleet/run.sh" --hubs "$h" --devices-per-hub "$DPH" --speedup "$s" \
      --duration "$DURATION" --no-baseline --allow-lag --json "$WORK/run.$h.$s.json" \
      "${HUBSIM_ARG[@]}" >"$WORK/run.$h.$s.out" 2>"$WORK/run.$h.$s.err" ||
      { tail -n 5 "$WORK/run.$h.$s.err" >&2; die "bench/fleet/run.sh --hubs $h --speedup $s failed"; }
  done
done

python3 - "$WORK" "$HUBS" "$SPEEDUPS" "$JSON" <<'EOF'
import json, re, sys
work, hubs, speedups, json_out = sys.argv[1], sys.argv[2].split(','), sys.argv[3].split(','), sys.argv[4]

def floor(h):
    t = open('%s/floor.%s' % (work, h)).read()
    w = re.search(r'write \d+ B, (\d+) connections: ([0-9.]+) us CPU', t)
    r = re.search(r'read  \d+ B, \d+ connections: ([0-9.]+) us CPU', t)
    if not w or not r:
        sys.exit('bench/fleet/ratio: cannot read the floor output: ' + t.strip())
    return int(w.group(1)), float(w.group(2)), float(r.group(1))

cells = []
print('generator CPU per report against the loopback floor (one write + one read per report)')
print('  %-7s %-8s %-18s %-13s %-7s %-16s %-10s %-6s %-13s %s' % (
    'hubs', 'speedup', 'floor', 'generator', 'ratio', 'wakeups/report', 'sent', 'lost',
    'tick lag p99', 'verdict'))
for h in hubs:
    conns, w, r = floor(h)
    fl = w + r
    for s in speedups:
        d = json.load(open('%s/run.%s.%s.json' % (work, h, s)))
        gen = d.get('gen_cpu_us_per_report')
        sent = d.get('reports_sent') or 0
        wk = d.get('device_wakeups')
        cell = {'hubs': int(h), 'speedup': float(s), 'floor_connections': conns,
                'floor_write_us': w, 'floor_read_us': r, 'floor_us': fl,
                'gen_cpu_us_per_report': gen, 'ratio': gen / fl if gen else None,
                'device_wakeups_per_report': wk / sent if wk is not None and sent else None,
                'run': d}
        cells.append(cell)
        print('  %-7s %-8s %-18s %-13s %-7s %-16s %-10s %-6s %-13s %s' % (
            h, s, '%.2f us (%s c.)' % (fl, conns),
            '%.2f us' % gen if gen else 'n/a',
            '%.2f' % cell['ratio'] if cell['ratio'] else 'n/a',
            '%.2f' % cell['device_wakeups_per_report']
            if cell['device_wakeups_per_report'] is not None else 'n/a',
            sent, d.get('lost'), '%.3f ms' % d['tick_lag_p99_ms']
            if d.get('tick_lag_p99_ms') is not None else 'n/a', d.get('verdict')))
print('goal: ratio at most 1.5 in every cell (docs/performance.md)')
if json_out:
    with open(json_out, 'w') as f:
        json.dump({'cells': cells}, f, indent=2, sort_keys=True)
EOF
