#!/usr/bin/env bash
# `hubsim run --workers auto` and `--preflight`: with 300 open files per process, 600 hubs
# against a platform in its own process run in 3 worker processes (236 hubs at most in each) and
# every hub comes online with nothing lost; without --workers auto the same command is refused
# up front naming the remedy; --preflight prints the plan and its verdict (exit 0 when it fits,
# 3 when not), and counts the source addresses a fleet needs from this machine's port range.
#   test_workers_auto.sh HUBSIM
set -uo pipefail
HUBSIM=${1:?usage: test_workers_auto.sh HUBSIM}
WORK=$(mktemp -d /tmp/hubsim-workers-auto.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "test_workers_auto: FAIL: $*" >&2; exit 1; }
command -v prlimit >/dev/null || fail "prlimit not found (util-linux)"

"$HUBSIM" platform --listen hubrpc://127.0.0.1:0 --db "$WORK/p.db" --ready-file "$WORK/ready" \
  >"$WORK/platform.log" 2>&1 &
PID=$!
for _ in $(seq 100); do [ -s "$WORK/ready" ] && break; sleep 0.1; done
[ -s "$WORK/ready" ] || fail "the platform did not start: $(tail -3 "$WORK/platform.log")"
URL="hubrpc://127.0.0.1:$(head -1 "$WORK/ready")"
LIMITED=(prlimit --nofile=300:300 --)

# 600 hubs, 300 files a process: 64 kept, 236 hubs at most in each, so 3 workers.
rc=0
timeout 120 "${LIMITED[@]}" "$HUBSIM" run --workers auto --platform "$URL" --hubs 600 \
  --devices-per-hub 2 --duration 3s --speedup 30 --summary "$WORK/s.json" -q --allow-lag \
  >"$WORK/run.out" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "run --workers auto: exit $rc: $(tail -5 "$WORK/run.out")"
python3 - "$WORK/s.json" <<'PY' || fail "run --workers auto: the summary does not show it"
import json, sys
s = json.load(open(sys.argv[1]))
checks = [('generator.workers', s['generator']['workers'], 3),
          ('ramp.hubs_ever_online', s['ramp']['hubs_ever_online'], 600),
          ('counts.lost', s['counts']['lost'], 0)]
bad = [f'{k} = {v}, want {w}' for k, v, w in checks if v != w]
if s['counts']['reports']['acked'] != s['counts']['reports']['sent'] or not s['counts']['reports']['sent']:
    bad.append('reports %s' % s['counts']['reports'])
if bad:
    sys.exit('test_workers_auto: ' + '; '.join(bad))
PY

# The same without --workers auto: refused before any connect, naming the remedy.
rc=0
timeout 30 "${LIMITED[@]}" "$HUBSIM" run --platform "$URL" --hubs 600 --duration 3s -q \
  >"$WORK/run2.out" 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "run without --workers: exit $rc, want 3: $(cat "$WORK/run2.out")"
grep -qF -- "--workers auto" "$WORK/run2.out" || fail "the refusal does not name --workers auto: $(cat "$WORK/run2.out")"

# --preflight: the plan, and the verdict as the exit code.
rc=0
"${LIMITED[@]}" "$HUBSIM" run --preflight --workers auto --platform "$URL" --hubs 600 \
  >"$WORK/pf1" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "--preflight --workers auto: exit $rc: $(cat "$WORK/pf1")"
grep -q 'open files per process  300 ' "$WORK/pf1" || fail "--preflight: no open-file limit: $(cat "$WORK/pf1")"
grep -q 'worker processes        3 (--workers auto)' "$WORK/pf1" || fail "--preflight: not 3 workers: $(cat "$WORK/pf1")"
grep -q 'verdict: fits' "$WORK/pf1" || fail "--preflight: no verdict: $(cat "$WORK/pf1")"
rc=0
"${LIMITED[@]}" "$HUBSIM" run --preflight --platform "$URL" --hubs 600 >"$WORK/pf2" 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "--preflight without --workers auto: exit $rc, want 3: $(cat "$WORK/pf2")"
grep -q 'verdict: does not fit: 600 hubs need 3 processes' "$WORK/pf2" || fail "--preflight: $(cat "$WORK/pf2")"
rc=0
"$HUBSIM" run --preflight --hubs 600 --workers auto >"$WORK/pf3" 2>&1 || rc=$?
grep -q 'platform                embedded' "$WORK/pf3" || fail "--preflight: the embedded platform is not said: $(cat "$WORK/pf3")"

# Source addresses: counted from this machine's port range, a quarter of it each.
read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
per=$(((hi - lo + 1) / 4))
hubs=100000
want=$(((hubs + per - 1) / per))
"$HUBSIM" run --preflight --workers auto --platform "$URL" --hubs $hubs >"$WORK/pf4" 2>&1
if [ "$want" -gt 1 ]; then
  grep -qF "source addresses        127.0.0.1-127.0.0.$want (chosen" "$WORK/pf4" ||
    fail "--preflight: not $want source addresses for $hubs hubs ($lo-$hi): $(cat "$WORK/pf4")"
fi
rc=0
"$HUBSIM" run --preflight --workers auto --platform hubrpc://10.9.9.9:1 --hubs $hubs >"$WORK/pf5" 2>&1 || rc=$?
if [ "$want" -gt 1 ]; then
  [ "$rc" -eq 3 ] && grep -qF -- "give them with --bind" "$WORK/pf5" ||
    fail "--preflight to a non-loopback platform: exit $rc: $(cat "$WORK/pf5")"
fi
echo "test_workers_auto: ok"
